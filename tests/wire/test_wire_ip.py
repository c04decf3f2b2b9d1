"""IPv4 (RFC 791) and IPv6 (RFC 8200) datagrams carrying TCP; robustness against bad bytes."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_helpers import packets, reference_checksum

from synack.wire import (
    IPV4_HEADER_LEN,
    IPV6_HEADER_LEN,
    NOP,
    REASONS,
    MalformedPacket,
    MaxSegmentSize,
    Packet,
    SackPermitted,
    Segment,
    TcpFlags,
    Timestamps,
    WindowScale,
    encode_packet,
    parse_packet,
)

SRC4, DST4 = IPv4Address("192.0.2.1"), IPv4Address("198.51.100.2")
SRC6, DST6 = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
SYN_OPTIONS = (MaxSegmentSize(1460), SackPermitted(), Timestamps(1000, 0), NOP, WindowScale(7))
SYN = Segment(40000, 80, 4294967000, 0, TcpFlags.SYN, 65535, 0, SYN_OPTIONS)
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

# Built independently with dpkt (IPv4 with DF, TTL 64; checksums included).
SYN_V4 = bytes.fromhex(
    "4500003c1234400040063c51c0000201c6336402"
    "9c400050fffffed800000000a002ffffbc770000020405b40402080a000003e80000000001030307"
)
SYN_V6 = bytes.fromhex(
    "6000000000280640"
    "20010db8000000000000000000000001"
    "20010db8000000000000000000000002"
    "9c400050fffffed800000000a002ffff4d3a0000020405b40402080a000003e80000000001030307"
)
DATA_V4 = bytes.fromhex(
    "450000411235400040063c4bc0000201c6336402"
    "9c400050fffffed9b2d05e01801801f6863900000101080a000003e9000007d0"
    "68656c6c6f2c20776f726c640a"
)
DATA_V6 = bytes.fromhex(
    "60000000002d0640"
    "20010db8000000000000000000000001"
    "20010db8000000000000000000000002"
    "9c400050fffffed9b2d05e01801801f616fc00000101080a000003e9000007d0"
    "68656c6c6f2c20776f726c640a"
)
GOLDEN = [
    (Packet(SRC4, DST4, SYN, ident=0x1234), SYN_V4),
    (Packet(SRC6, DST6, SYN), SYN_V6),
    (Packet(SRC4, DST4, DATA, ident=0x1235), DATA_V4),
    (Packet(SRC6, DST6, DATA), DATA_V6),
]


def reason(data: bytes | bytearray, verify_checksum: bool = True) -> str:
    with pytest.raises(MalformedPacket) as info:
        parse_packet(data, verify_checksum=verify_checksum)
    assert info.value.reason in REASONS
    return info.value.reason


def with_ipv4_checksum(header: bytearray) -> bytearray:
    header[10:12] = b"\x00\x00"
    ihl = (header[0] & 0x0F) * 4
    header[10:12] = reference_checksum(bytes(header[:ihl])).to_bytes(2, "big")
    return header


@pytest.mark.parametrize(("packet", "wire"), GOLDEN)
def test_golden(packet: Packet, wire: bytes) -> None:
    assert encode_packet(packet) == wire
    assert parse_packet(wire) == packet


def test_ipv4_header_fields() -> None:
    assert SYN_V4[0] == 0x45
    assert struct.unpack_from("!H", SYN_V4, 6)[0] == 0x4000  # DF set, not a fragment
    assert reference_checksum(SYN_V4[:IPV4_HEADER_LEN]) == 0
    packet = Packet(SRC4, DST4, SYN, ttl=3, tos=0xB8, ident=7)
    assert parse_packet(encode_packet(packet)) == packet


def test_ipv6_header_fields() -> None:
    packet = Packet(SRC6, DST6, DATA, ttl=1, tos=0xB8)
    wire = encode_packet(packet)
    assert struct.unpack_from("!I", wire)[0] == (6 << 28) | (0xB8 << 20)
    assert parse_packet(wire) == packet


def test_trailing_link_padding_is_ignored() -> None:
    for wire in (SYN_V4, SYN_V6, DATA_V4, DATA_V6):
        packet = parse_packet(wire + b"\x00" * 6 + b"\xff")
        assert packet == parse_packet(wire)


def test_ipv4_options_are_skipped() -> None:
    # MUST-50: IP options TCP does not understand are ignored.
    options = b"\x01\x01\x01\x00"  # NOP NOP NOP EOL
    header = bytearray(SYN_V4[:IPV4_HEADER_LEN] + options)
    header[0] = 0x46
    header[2:4] = (len(SYN_V4) + 4).to_bytes(2, "big")
    wire = bytes(with_ipv4_checksum(header)) + SYN_V4[IPV4_HEADER_LEN:]
    assert parse_packet(wire) == Packet(SRC4, DST4, SYN, ident=0x1234)


def test_ipv4_rejections() -> None:
    assert reason(b"") == "truncated"
    assert reason(b"\x45") == "truncated"
    assert reason(b"\x55" + SYN_V4[1:]) == "bad-version"
    assert reason(b"\x05" + SYN_V4[1:]) == "bad-version"
    for ihl in range(5):
        header = bytearray(SYN_V4)
        header[0] = 0x40 | ihl
        assert reason(header, verify_checksum=False) == "bad-header-length"
    short = bytearray(SYN_V4)
    short[2:4] = (19).to_bytes(2, "big")
    assert reason(with_ipv4_checksum(short)) == "bad-total-length"
    long = bytearray(SYN_V4)
    long[2:4] = (len(SYN_V4) + 1).to_bytes(2, "big")
    assert reason(with_ipv4_checksum(long)) == "truncated"
    bad_sum = bytearray(SYN_V4)
    bad_sum[8] = 63  # TTL changed, checksum not updated
    assert reason(bad_sum) == "bad-ip-checksum"
    assert parse_packet(bad_sum, verify_checksum=False).ttl == 63
    udp = bytearray(SYN_V4)
    udp[9] = 17
    assert reason(with_ipv4_checksum(udp)) == "not-tcp"
    for flags_offset in (0x2000, 0x0001, 0x6000, 0x1FFF):
        fragment = bytearray(SYN_V4)
        fragment[6:8] = flags_offset.to_bytes(2, "big")
        assert reason(with_ipv4_checksum(fragment)) == "fragment"


def ipv6_with_extensions(headers: list[tuple[int, bytes]], wire: bytes = SYN_V6) -> bytearray:
    """Insert extension headers ``(type, body)`` before TCP; bodies are padded to 8n-2 octets."""
    chain = b""
    kinds = [kind for kind, _ in headers] + [6]
    for index, (_, body) in enumerate(headers):
        body += b"\x00" * ((-len(body) - 2) % 8)
        chain += bytes((kinds[index + 1], (len(body) + 2) // 8 - 1)) + body
    packet = bytearray(wire[:IPV6_HEADER_LEN] + chain + wire[IPV6_HEADER_LEN:])
    packet[6] = kinds[0]
    packet[4:6] = (len(packet) - IPV6_HEADER_LEN).to_bytes(2, "big")
    return packet


def test_ipv6_extension_headers_are_skipped() -> None:
    # MUST-50 for IPv6: hop-by-hop, routing and destination options are passed over.
    wire = ipv6_with_extensions([(0, b"\x01\x04" + bytes(4)), (60, bytes(14)), (43, bytes(6))])
    assert parse_packet(wire) == Packet(SRC6, DST6, SYN)
    assert reason(ipv6_with_extensions([(0, b""), (44, bytes(6))])) == "fragment"
    assert reason(ipv6_with_extensions([(44, bytes(6))])) == "fragment"
    assert reason(ipv6_with_extensions([(60, b""), (17, bytes(6))])) == "not-tcp"
    for cut in range(IPV6_HEADER_LEN + 1, IPV6_HEADER_LEN + 24):
        clipped = bytearray(wire[:cut])
        clipped[4:6] = (cut - IPV6_HEADER_LEN).to_bytes(2, "big")
        assert reason(clipped) in {"truncated", "bad-checksum", "bad-data-offset"}


def test_ipv6_rejections() -> None:
    assert reason(SYN_V6[:39]) == "truncated"
    no_next = bytearray(SYN_V6)
    no_next[6] = 59  # No Next Header
    assert reason(no_next) == "not-tcp"
    long = bytearray(SYN_V6)
    long[4:6] = (len(SYN_V6) - 39).to_bytes(2, "big")
    assert reason(long) == "truncated"
    # IPv6 has no header checksum, but the TCP pseudo-header covers the addresses.
    moved = bytearray(SYN_V6)
    moved[39] ^= 0x10
    assert reason(moved) == "bad-checksum"


@pytest.mark.parametrize(("packet", "wire"), GOLDEN)
def test_every_truncation_is_rejected_cleanly(packet: Packet, wire: bytes) -> None:
    for cut in range(len(wire)):
        for verify in (True, False):
            assert reason(wire[:cut], verify) == "truncated", cut
    assert parse_packet(wire) == packet


@pytest.mark.parametrize(("packet", "wire"), GOLDEN)
def test_every_bit_flip_parses_or_raises_malformed(packet: Packet, wire: bytes) -> None:
    for bit in range(len(wire) * 8):
        flipped = bytearray(wire)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        for verify in (True, False):
            try:
                parsed = parse_packet(flipped, verify_checksum=verify)
            except MalformedPacket as exc:
                assert exc.reason in REASONS
            else:
                assert isinstance(parsed, Packet)
                if verify and wire[0] == 0x45:
                    # Every IPv4 bit is covered by the header or TCP checksum.
                    raise AssertionError(f"bit {bit} flipped yet the packet parsed")


@given(st.binary(max_size=200), st.booleans())
def test_random_bytes_parse_or_raise_malformed(data: bytes, verify: bool) -> None:
    try:
        parse_packet(data, verify_checksum=verify)
    except MalformedPacket as exc:
        assert exc.reason in REASONS


@st.composite
def plausible_packets(draw: st.DrawFn) -> bytes:
    """A well-formed IP header around random TCP octets: reaches the TCP and option parsers."""
    tcp = bytearray(draw(st.binary(min_size=20, max_size=80)))
    if draw(st.booleans()):
        tcp[12] = (draw(st.integers(5, 15)) << 4) | (tcp[12] & 0x0F)
    if draw(st.booleans()):
        header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, bytes(4), bytes(4)
        )
        return bytes(with_ipv4_checksum(bytearray(header))) + bytes(tcp)
    header = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, bytes(16), bytes(16))
    return header + bytes(tcp)


@given(plausible_packets())
def test_random_tcp_parses_or_raises_malformed(data: bytes) -> None:
    try:
        packet = parse_packet(data, verify_checksum=False)
    except MalformedPacket as exc:
        assert exc.reason in {"bad-data-offset", "bad-option-length"}
    else:
        assert len(packet.segment.payload) <= len(data) - 40


@given(packets())
def test_round_trip(packet: Packet) -> None:
    wire = encode_packet(packet)
    assert parse_packet(wire) == packet
    assert encode_packet(parse_packet(wire)) == wire


def test_encode_rejects_caller_bugs() -> None:
    with pytest.raises(ValueError):
        encode_packet(Packet(SRC4, DST6, DATA))
    with pytest.raises(ValueError):
        encode_packet(Packet(SRC4, DST4, DATA, ttl=256))
    with pytest.raises(ValueError):
        encode_packet(Packet(SRC6, DST6, DATA, tos=256))
    with pytest.raises(ValueError):
        encode_packet(Packet(SRC4, DST4, DATA, ident=-1))
    big = Segment(1, 2, 3, 4, TcpFlags.ACK, 5, payload=bytes(65536 - 40))
    with pytest.raises(ValueError):
        encode_packet(Packet(SRC4, DST4, big))
    bigger = Segment(1, 2, 3, 4, TcpFlags.ACK, 5, payload=bytes(65536 - 20))
    with pytest.raises(ValueError):
        encode_packet(Packet(SRC6, DST6, bigger))
    assert len(encode_packet(Packet(SRC6, DST6, big))) == 40 + 20 + 65536 - 40
    fits = Segment(1, 2, 3, 4, TcpFlags.ACK, 5, payload=bytes(65535 - 40))
    assert len(encode_packet(Packet(SRC4, DST4, fits))) == 65535
    assert parse_packet(encode_packet(Packet(SRC6, DST6, fits))).segment == fits
