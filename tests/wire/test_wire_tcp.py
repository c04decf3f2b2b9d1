"""TCP segment codec (RFC 9293 section 3.1) and the one-line summary."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given
from wire_helpers import address_pairs, segments

from synack.wire import (
    EOL,
    NOP,
    Address,
    MalformedPacket,
    MaxSegmentSize,
    Sack,
    SackPermitted,
    Segment,
    TcpFlags,
    Timestamps,
    UnknownOption,
    WindowScale,
    encode_segment,
    encode_segment_header,
    flags_text,
    parse_segment,
    summary,
    tcp_checksum,
)

SRC4, DST4 = IPv4Address("192.0.2.1"), IPv4Address("198.51.100.2")
SRC6, DST6 = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")

# Built independently with dpkt (checksums included) and checked against ours.
SYN_OPTIONS = (MaxSegmentSize(1460), SackPermitted(), Timestamps(1000, 0), NOP, WindowScale(7))
SYN = Segment(40000, 80, 4294967000, 0, TcpFlags.SYN, 65535, 0, SYN_OPTIONS)
SYN_BYTES_V4 = bytes.fromhex(
    "9c400050fffffed800000000a002ffffbc770000020405b40402080a000003e80000000001030307"
)
SYN_BYTES_V6 = bytes.fromhex(
    "9c400050fffffed800000000a002ffff4d3a0000020405b40402080a000003e80000000001030307"
)
DATA = Segment(
    40000,
    80,
    4294967001,
    3000000001,
    TcpFlags.PSH | TcpFlags.ACK,
    502,
    0,
    (NOP, NOP, Timestamps(1001, 2000)),
    b"hello, world\n",
)
DATA_BYTES_V4 = bytes.fromhex(
    "9c400050fffffed9b2d05e01801801f6863900000101080a000003e9000007d068656c6c6f2c20776f726c640a"
)
DATA_BYTES_V6 = bytes.fromhex(
    "9c400050fffffed9b2d05e01801801f616fc00000101080a000003e9000007d068656c6c6f2c20776f726c640a"
)

GOLDEN = [
    (SYN, SRC4, DST4, SYN_BYTES_V4),
    (SYN, SRC6, DST6, SYN_BYTES_V6),
    (DATA, SRC4, DST4, DATA_BYTES_V4),
    (DATA, SRC6, DST6, DATA_BYTES_V6),
]


@pytest.mark.parametrize(("segment", "src", "dst", "wire"), GOLDEN)
def test_golden_encode(segment: Segment, src: Address, dst: Address, wire: bytes) -> None:
    assert encode_segment(segment, src, dst) == wire
    header = encode_segment_header(segment, src, dst)
    assert header + bytes(segment.payload) == wire
    assert tcp_checksum(wire, src, dst) == 0  # MUST-2: generated


@pytest.mark.parametrize(("segment", "src", "dst", "wire"), GOLDEN)
def test_golden_parse(segment: Segment, src: Address, dst: Address, wire: bytes) -> None:
    assert parse_segment(wire, src, dst) == segment


def test_payload_is_a_view_not_a_copy() -> None:
    buffer = bytearray(DATA_BYTES_V4)
    segment = parse_segment(buffer, SRC4, DST4)
    assert isinstance(segment.payload, memoryview)
    assert segment.payload.obj is buffer
    buffer[-1] = ord("!")
    assert bytes(segment.payload) == b"hello, world!"


def test_checksum_is_verified() -> None:
    # MUST-3: the receiver checks the checksum.
    corrupted = bytearray(DATA_BYTES_V4)
    corrupted[-1] ^= 0x01
    with pytest.raises(MalformedPacket) as info:
        parse_segment(corrupted, SRC4, DST4)
    assert info.value.reason == "bad-checksum"
    # The wrong pseudo-header (another address or family) fails too.
    with pytest.raises(MalformedPacket):
        parse_segment(DATA_BYTES_V4, SRC4, IPv4Address("198.51.100.3"))
    with pytest.raises(MalformedPacket):
        parse_segment(DATA_BYTES_V4, SRC6, DST6)
    segment = parse_segment(corrupted, SRC4, DST4, verify_checksum=False)
    assert bytes(segment.payload) == b"hello, world\x0b"


def test_truncated_and_bad_data_offset() -> None:
    for cut in range(20):
        with pytest.raises(MalformedPacket) as info:
            parse_segment(SYN_BYTES_V4[:cut], SRC4, DST4)
        assert info.value.reason == "truncated"
    for cut in range(20, len(SYN_BYTES_V4)):
        with pytest.raises(MalformedPacket) as info:
            parse_segment(SYN_BYTES_V4[:cut], SRC4, DST4)
        assert info.value.reason == "bad-data-offset"  # header says 40 octets
    for offset in range(5):
        bad = bytearray(DATA_BYTES_V4)
        bad[12] = offset << 4
        with pytest.raises(MalformedPacket) as info:
            parse_segment(bad, SRC4, DST4, verify_checksum=False)
        assert info.value.reason == "bad-data-offset"


def test_bad_option_length_in_a_segment() -> None:
    # MUST-7: the segment is rejected with a typed error, to be dropped.
    bad = bytearray(SYN_BYTES_V4)
    bad[21] = 0  # MSS length 0
    with pytest.raises(MalformedPacket) as info:
        parse_segment(bad, SRC4, DST4, verify_checksum=False)
    assert info.value.reason == "bad-option-length"


def test_reserved_bits_are_ignored() -> None:
    wire = bytearray(DATA_BYTES_V4)
    wire[12] |= 0x0F  # the four reserved bits
    wire[16:18] = b"\x00\x00"
    wire[16:18] = tcp_checksum(wire, SRC4, DST4).to_bytes(2, "big")
    assert parse_segment(wire, SRC4, DST4) == DATA


def test_options_in_a_data_segment() -> None:
    # MUST-5: options may appear in any segment, not only SYNs.
    segment = Segment(1, 2, 3, 4, TcpFlags.ACK, 5, 0, (NOP, NOP, Sack(((10, 20),))), b"x")
    wire = encode_segment(segment, SRC6, DST6)
    assert parse_segment(wire, SRC6, DST6) == segment


@given(segments(), address_pairs())
def test_round_trip(segment: Segment, addresses: tuple[Address, Address]) -> None:
    src, dst = addresses
    wire = encode_segment(segment, src, dst)
    assert (wire[12] >> 4) * 4 == len(wire) - len(segment.payload)  # data offset
    assert tcp_checksum(wire, src, dst) == 0
    assert parse_segment(wire, src, dst) == segment
    assert encode_segment(parse_segment(wire, src, dst), src, dst) == wire


def test_encode_rejects_caller_bugs() -> None:
    base = DATA
    changes: list[tuple[str, Any]] = [
        ("src_port", 65536),
        ("dst_port", -1),
        ("seq", 2**32),
        ("ack", -1),
        ("window", 65536),
        ("urgent", 70000),
    ]
    for field, value in changes:
        bad = dataclasses.replace(base, **{field: value})
        with pytest.raises(ValueError):
            encode_segment(bad, SRC4, DST4)
    too_many = Segment(1, 2, 3, 4, TcpFlags.ACK, 5, 0, (Timestamps(0, 0),) * 4 + (NOP,))
    with pytest.raises(ValueError):
        encode_segment(too_many, SRC4, DST4)
    with pytest.raises(ValueError):
        encode_segment(DATA, SRC4, DST6)


def test_large_payload_over_ipv6() -> None:
    segment = Segment(1, 2, 3, 4, TcpFlags.ACK, 5, payload=bytes(range(256)) * 256)
    wire = encode_segment(segment, SRC6, DST6)
    assert parse_segment(wire, SRC6, DST6) == segment
    with pytest.raises(MalformedPacket) as info:
        parse_segment(encode_segment(segment, SRC6, DST6), SRC4, DST4)
    assert info.value.reason == "too-long"


# --- summary -------------------------------------------------------------------


def test_summary_of_syn_ack() -> None:
    segment = Segment(
        80,
        40000,
        4294967000,
        12,
        TcpFlags.SYN | TcpFlags.ACK,
        65535,
        0,
        (MaxSegmentSize(1460), NOP, WindowScale(7)),
    )
    assert summary(segment) == "[S.] seq 4294967000 ack 12 win 65535 <mss 1460,nop,wscale 7> len 0"
    assert summary(segment, ports=True).startswith("80 > 40000 [S.] seq")


def test_summary_of_all_options() -> None:
    segment = Segment(
        1,
        2,
        3,
        4,
        TcpFlags.ACK | TcpFlags.URG | TcpFlags.PSH,
        5,
        6,
        (
            SackPermitted(),
            Sack(((1, 100), (200, 300))),
            Timestamps(1, 2),
            UnknownOption(99, b"ab"),
            EOL,
        ),
        b"xyz",
    )
    assert summary(segment) == (
        "[P.U] seq 3 ack 4 win 5 urg 6 <sackOK,sack 1:100 200:300,TS val 1 ecr 2,opt-99,eol> len 3"
    )


def test_summary_without_ack_flag_hides_ack() -> None:
    segment = Segment(1, 2, 3, 99, TcpFlags.RST, 0)
    assert summary(segment) == "[R] seq 3 win 0 len 0"


def test_flags_text_uses_tcpdump_letters_and_order() -> None:
    assert flags_text(TcpFlags(0)) == "none"
    assert flags_text(TcpFlags.FIN | TcpFlags.ACK) == "F."
    assert flags_text(TcpFlags.FIN | TcpFlags.PSH | TcpFlags.ACK) == "FP."
    assert flags_text(TcpFlags(0xFF)) == "FSRP.UEW"
    assert flags_text(TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR) == "SEW"
