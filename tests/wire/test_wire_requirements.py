"""RFC 9293 requirements that live in the wire codec: the mandatory option set
(MUST-4), length octets on every option but EOL and NOP (MUST-68), the window
field as an unsigned number (MUST-1), and IP options TCP does not understand
(MUST-50).  Each test names the label it checks."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from wire_helpers import reference_checksum

from synack.wire import (
    EOL,
    IPV4_HEADER_LEN,
    IPV6_HEADER_LEN,
    NOP,
    MaxSegmentSize,
    Packet,
    Sack,
    SackPermitted,
    Segment,
    TcpFlags,
    TcpOption,
    Timestamps,
    UnknownOption,
    WindowScale,
    encode_options,
    encode_packet,
    encode_segment,
    parse_options,
    parse_packet,
    parse_segment,
)

SRC4, DST4 = IPv4Address("192.0.2.1"), IPv4Address("198.51.100.2")
SRC6, DST6 = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
SYN = Segment(40000, 80, 1000, 0, TcpFlags.SYN, 64240, 0, (MaxSegmentSize(1460),))


# ---------------------------------------------------------------- MUST-4: the mandatory option set


def test_mandatory_option_set_is_parsed() -> None:
    """MUST-4 (3.1, Table 1): End of Option List (kind 0), No-Operation (kind 1)
    and Maximum Segment Size (kind 2, length 4) are understood on input."""
    data = bytes.fromhex("0101" + "020405b4" + "00" + "000000")
    assert parse_options(data) == (NOP, NOP, MaxSegmentSize(1460), EOL)
    assert parse_options(bytes.fromhex("02040218")) == (MaxSegmentSize(536),)
    assert parse_options(b"\x00") == (EOL,)
    assert parse_options(b"\x01\x01\x01\x01") == (NOP, NOP, NOP, NOP)


def test_mandatory_option_set_is_emitted() -> None:
    """MUST-4: the same three options are written with their exact Table 1 layout."""
    assert encode_options((MaxSegmentSize(1460),)) == bytes.fromhex("020405b4")
    assert encode_options((NOP, MaxSegmentSize(1220), EOL)) == bytes.fromhex("01020404c4000000")
    assert encode_options((NOP,)) == b"\x01\x00\x00\x00"
    assert encode_options((EOL,)) == b"\x00\x00\x00\x00"


def test_mandatory_options_in_a_whole_segment() -> None:
    """MUST-4: a SYN whose options are NOP, NOP, MSS, EOL parses with all four."""
    segment = Segment(
        40000, 80, 1000, 0, TcpFlags.SYN, 64240, 0, (NOP, NOP, MaxSegmentSize(1400), EOL)
    )
    wire = encode_segment(segment, SRC4, DST4)
    assert len(wire) == 20 + 8
    parsed = parse_segment(wire, SRC4, DST4)
    assert parsed.options == (NOP, NOP, MaxSegmentSize(1400), EOL)
    assert parsed.mss == 1400


# ---------------------------------------------------------------- MUST-68: length octets


@pytest.mark.parametrize(
    ("option", "kind", "length"),
    [
        (MaxSegmentSize(1460), 2, 4),
        (WindowScale(7), 3, 3),
        (SackPermitted(), 4, 2),
        (Sack(((1, 2),)), 5, 10),
        (Sack(((1, 2), (3, 4), (5, 6))), 5, 26),
        (Timestamps(1, 2), 8, 10),
        (UnknownOption(254, b"\xab\xcd"), 254, 4),
        (UnknownOption(30, b""), 30, 2),
    ],
)
def test_every_option_but_eol_and_nop_is_written_with_its_length(
    option: TcpOption, kind: int, length: int
) -> None:
    """MUST-68: every option except EOL and NOP carries a length octet that
    counts the kind and length octets too; padding after it is zeros."""
    encoded = encode_options((option,))
    assert encoded[0] == kind
    assert encoded[1] == length
    assert encoded[length:] == bytes(len(encoded) - length)
    assert parse_options(encoded[:length]) == (option,)


def test_eol_and_nop_are_single_octets_and_cannot_carry_a_length() -> None:
    """MUST-68 names EOL and NOP as the only options without a length field:
    they encode as one octet each, and an "unknown" option of kind 0 or 1 (which
    would need a length octet) is refused as a caller bug."""
    assert encode_options((NOP, NOP, NOP, NOP)) == b"\x01\x01\x01\x01"
    assert encode_options((NOP, NOP, NOP, EOL)) == b"\x01\x01\x01\x00"
    for kind in (0, 1):
        with pytest.raises(ValueError):
            encode_options((UnknownOption(kind, b"x"),))


def test_options_are_walked_by_their_length_octets() -> None:
    """MUST-68 is what lets a receiver skip an option it does not know: the
    parser steps over unknown kinds by their length and reads what follows."""
    data = bytes.fromhex("fd05a1b2c3" + "01" + "0303" + "07" + "020405b4")
    assert parse_options(data) == (
        UnknownOption(253, bytes.fromhex("a1b2c3")),
        NOP,
        WindowScale(7),
        MaxSegmentSize(1460),
    )


# ---------------------------------------------------------------- MUST-1: unsigned window


def test_window_field_is_unsigned() -> None:
    """MUST-1: the 16-bit window field is an unsigned number: 0xFFFF is 65535
    (not -1), and 0x8000 is 32768, both ways through the codec."""
    for window in (0xFFFF, 0x8000, 0x7FFF, 0):
        segment = Segment(80, 40000, 1, 2, TcpFlags.ACK, window)
        wire = encode_segment(segment, SRC4, DST4)
        assert wire[14:16] == struct.pack("!H", window)
        parsed = parse_segment(wire, SRC4, DST4)
        assert parsed.window == window
        assert parsed.window >= 0
    # Raw bytes with the top bit set, as another stack sends them.
    wire = bytearray(encode_segment(Segment(80, 40000, 1, 2, TcpFlags.ACK, 0), SRC4, DST4))
    wire[14:16] = b"\xff\xff"
    assert parse_segment(wire, SRC4, DST4, verify_checksum=False).window == 65535


def test_sequence_and_ack_fields_are_unsigned_32_bit() -> None:
    """MUST-1's sibling fields: sequence and acknowledgment numbers near 2**32
    read back unchanged (no sign), as REC-1 wants 32-bit quantities."""
    segment = Segment(80, 40000, 0xFFFFFFFF, 0x80000000, TcpFlags.ACK, 0xFFFF)
    parsed = parse_segment(encode_segment(segment, SRC6, DST6), SRC6, DST6)
    assert (parsed.seq, parsed.ack, parsed.window) == (0xFFFFFFFF, 0x80000000, 0xFFFF)


# ---------------------------------------------------------------- MUST-50: IP options


def ipv4_with_options(packet: Packet, options: bytes) -> bytes:
    """``packet`` encoded with ``options`` (a multiple of 4 octets) in its IPv4 header."""
    wire = encode_packet(packet)
    header = bytearray(wire[:IPV4_HEADER_LEN] + options)
    header[0] = 0x40 | (len(header) // 4)
    header[2:4] = (len(wire) + len(options)).to_bytes(2, "big")
    header[10:12] = b"\x00\x00"
    header[10:12] = reference_checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header) + wire[IPV4_HEADER_LEN:]


@pytest.mark.parametrize(
    ("options", "what"),
    [
        (bytes.fromhex("94040000"), "router alert (RFC 2113)"),
        (bytes.fromhex("070b04") + bytes(8) + b"\x00", "record route, 2 slots"),
        (bytes.fromhex("440c0500") + bytes(8), "internet timestamp"),
        (bytes.fromhex("9e06abcdef01") + b"\x01\x00", "an unassigned option, NOP, EOL"),
        (bytes.fromhex("82") + bytes.fromhex("0b") + bytes(9) + b"\x00", "security (RFC 1108)"),
    ],
)
def test_ipv4_options_tcp_does_not_understand_are_ignored(options: bytes, what: str) -> None:
    """MUST-50 (3.9.2): IP options passed up with a segment that TCP does not
    understand are ignored: the segment parses exactly as without them."""
    assert len(options) % 4 == 0, what
    packet = Packet(SRC4, DST4, SYN, ident=7)
    wire = ipv4_with_options(packet, options)
    assert wire[0] & 0x0F == 5 + len(options) // 4
    parsed = parse_packet(wire)
    assert parsed == packet
    assert parsed.segment.mss == 1460


def test_ipv6_options_tcp_does_not_understand_are_ignored() -> None:
    """MUST-50 for IPv6: a hop-by-hop header holding a router alert and an
    unknown skippable option, and a destination options header, are passed over."""
    packet = Packet(SRC6, DST6, SYN)
    wire = encode_packet(packet)
    # Hop-by-hop (next: destination options): router alert (type 5) + PadN.
    hop_by_hop = bytes((60, 0)) + bytes.fromhex("05020000") + bytes.fromhex("0100")
    # Destination options (next: TCP): unknown type 0x1e (skip if unknown) + Pad1s.
    destination = bytes((6, 0)) + bytes.fromhex("1e02abcd") + b"\x00\x00"
    payload = hop_by_hop + destination + wire[IPV6_HEADER_LEN:]
    header = bytearray(wire[:IPV6_HEADER_LEN])
    header[6] = 0  # next header: hop-by-hop
    header[4:6] = len(payload).to_bytes(2, "big")
    assert parse_packet(bytes(header) + payload) == packet
