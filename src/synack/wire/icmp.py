"""ICMP (RFC 792) and ICMPv6 (RFC 4443) error messages about TCP segments.

A TCP endpoint needs only the error messages: their type and code, the MTU
of a "fragmentation needed" / "packet too big" message (RFC 1191, RFC 8201),
and the start of the datagram that caused them -- its addresses, the TCP
ports and the sequence number -- to find the connection (MUST-54).
``parse_icmp`` reads that from an IP datagram carrying ICMP; ``encode_icmp``
builds one (for tests and the simulator).  Anything else -- echo, other
informational messages, errors about non-TCP datagrams -- parses to ``None``
after the checksum is checked; malformed bytes raise ``MalformedPacket``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from synack.wire.checksum import (
    PROTOCOL_TCP,
    Address,
    internet_checksum,
    pseudo_header_sum_ipv6,
)
from synack.wire.errors import MalformedPacket
from synack.wire.ip import datagram_view

PROTOCOL_ICMP = 1
PROTOCOL_ICMPV6 = 58

# ICMPv4 types (RFC 792) that report an error about a datagram.
ICMP_DEST_UNREACHABLE = 3
ICMP_SOURCE_QUENCH = 4
ICMP_TIME_EXCEEDED = 11
ICMP_PARAMETER_PROBLEM = 12
ICMP_FRAGMENTATION_NEEDED = 4  # the Destination Unreachable code (RFC 1191)
# ICMPv6 error types (RFC 4443)
ICMPV6_DEST_UNREACHABLE = 1
ICMPV6_PACKET_TOO_BIG = 2
ICMPV6_TIME_EXCEEDED = 3
ICMPV6_PARAMETER_PROBLEM = 4

_V4_ERRORS = frozenset(
    {ICMP_DEST_UNREACHABLE, ICMP_SOURCE_QUENCH, ICMP_TIME_EXCEEDED, ICMP_PARAMETER_PROBLEM}
)
_V6_ERRORS = frozenset(
    {ICMPV6_DEST_UNREACHABLE, ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_PARAMETER_PROBLEM}
)
_HEADER = struct.Struct("!BBHI")  # type, code, checksum, rest of header
_PORTS_SEQ = struct.Struct("!HHI")


@dataclass(frozen=True, slots=True)
class IcmpError:
    """One ICMP or ICMPv6 error about a TCP segment we sent.

    ``reporter`` sent the message (a router or the destination); ``local``
    and ``remote`` are the quoted datagram's source and destination, so
    ``(local, local_port, remote, remote_port)`` is the connection's 4-tuple;
    ``seq`` is the quoted segment's sequence number.  ``mtu`` is the next-hop
    MTU of a fragmentation-needed or packet-too-big message, else 0.
    """

    version: int
    type: int
    code: int
    reporter: Address
    local: Address
    remote: Address
    local_port: int
    remote_port: int
    seq: int
    mtu: int = 0


def parse_icmp(data: bytes | bytearray | memoryview) -> IcmpError | None:
    """The TCP-related error an ICMP(v6) datagram carries, or None.

    ``MalformedPacket`` for bytes that are not a well-formed ICMP datagram
    (reasons ``"truncated"``, ``"bad-checksum"``, ``"not-icmp"``, ...).
    """
    view = datagram_view(data)
    version = view[0] >> 4
    if version == 4:
        if len(view) < 20:
            raise MalformedPacket("truncated", "IPv4 header")
        header_len = (view[0] & 0x0F) * 4
        total = int.from_bytes(view[2:4], "big")
        if header_len < 20 or total < header_len or total > len(view):
            raise MalformedPacket("bad-total-length", "IPv4 lengths")
        if view[9] != PROTOCOL_ICMP:
            raise MalformedPacket("not-icmp", f"IPv4 protocol {view[9]}")
        reporter: Address = IPv4Address(bytes(view[12:16]))
        message = view[header_len:total]
        if len(message) < 8:
            raise MalformedPacket("truncated", "ICMP header")
        if internet_checksum(message) != 0:
            raise MalformedPacket("bad-checksum", "ICMP checksum")
        kind, code, _checksum, rest = _HEADER.unpack_from(message)
        if kind not in _V4_ERRORS:
            return None
        mtu = rest & 0xFFFF if kind == ICMP_DEST_UNREACHABLE and code == 4 else 0
        return _quoted(4, kind, code, reporter, message[8:], mtu)
    if version == 6:
        if len(view) < 40:
            raise MalformedPacket("truncated", "IPv6 header")
        end = 40 + int.from_bytes(view[4:6], "big")
        if end > len(view):
            raise MalformedPacket("truncated", "IPv6 payload length")
        if view[6] != PROTOCOL_ICMPV6:
            raise MalformedPacket("not-icmp", f"IPv6 next header {view[6]}")
        source = IPv6Address(bytes(view[8:24]))
        destination = IPv6Address(bytes(view[24:40]))
        message = view[40:end]
        if len(message) < 8:
            raise MalformedPacket("truncated", "ICMPv6 header")
        pseudo = pseudo_header_sum_ipv6(source, destination, len(message), PROTOCOL_ICMPV6)
        if internet_checksum(message, pseudo) != 0:
            raise MalformedPacket("bad-checksum", "ICMPv6 checksum")
        kind, code, _checksum, rest = _HEADER.unpack_from(message)
        if kind not in _V6_ERRORS:
            return None
        mtu = rest if kind == ICMPV6_PACKET_TOO_BIG else 0
        return _quoted(6, kind, code, source, message[8:], mtu)
    raise MalformedPacket("bad-version", f"IP version {version}")


def _quoted(
    version: int, kind: int, code: int, reporter: Address, quote: memoryview, mtu: int
) -> IcmpError | None:
    """Read the quoted datagram: its addresses, and the first 8 octets of TCP."""
    if not quote or quote[0] >> 4 != version:
        raise MalformedPacket("truncated", "no quoted datagram")
    local: Address
    remote: Address
    if version == 4:
        if len(quote) < 20:
            raise MalformedPacket("truncated", "quoted IPv4 header")
        header_len = (quote[0] & 0x0F) * 4
        protocol = quote[9]
        local, remote = IPv4Address(bytes(quote[12:16])), IPv4Address(bytes(quote[16:20]))
    else:
        if len(quote) < 40:
            raise MalformedPacket("truncated", "quoted IPv6 header")
        header_len = 40
        protocol = quote[6]
        local, remote = IPv6Address(bytes(quote[8:24])), IPv6Address(bytes(quote[24:40]))
    if protocol != PROTOCOL_TCP:
        return None  # about a datagram that is not TCP (or has extension headers)
    if len(quote) < header_len + 8:
        raise MalformedPacket("truncated", "quoted TCP header needs 8 octets")
    local_port, remote_port, seq = _PORTS_SEQ.unpack_from(quote, header_len)
    return IcmpError(
        version, kind, code, reporter, local, remote, local_port, remote_port, seq, mtu
    )


def encode_icmp(
    reporter: Address, quoted: bytes, kind: int, code: int, *, mtu: int = 0, ttl: int = 64
) -> bytes:
    """An ICMP(v6) error datagram from ``reporter`` about ``quoted`` (the start
    of an IP datagram we sent), addressed to the quoted datagram's source."""
    version = quoted[0] >> 4
    if version == 4:
        destination: Address = IPv4Address(quoted[12:16])
        rest = mtu & 0xFFFF if mtu else 0
        body = bytearray(_HEADER.pack(kind, code, 0, rest)) + quoted[:548]
        body[2:4] = internet_checksum(body).to_bytes(2, "big")
        assert isinstance(reporter, IPv4Address)
        header = bytearray(
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0xC0,
                20 + len(body),
                0,
                0,
                ttl,
                PROTOCOL_ICMP,
                0,
                reporter.packed,
                destination.packed,
            )
        )
        header[10:12] = internet_checksum(header).to_bytes(2, "big")
        return bytes(header + body)
    destination = IPv6Address(quoted[8:24])
    assert isinstance(reporter, IPv6Address)
    body = bytearray(_HEADER.pack(kind, code, 0, mtu)) + quoted[:1232]
    pseudo = pseudo_header_sum_ipv6(reporter, destination, len(body), PROTOCOL_ICMPV6)
    body[2:4] = internet_checksum(body, pseudo).to_bytes(2, "big")
    fixed = struct.pack(
        "!IHBB16s16s", 6 << 28, len(body), PROTOCOL_ICMPV6, ttl, reporter.packed, destination.packed
    )
    return fixed + bytes(body)


def is_icmp(data: bytes | bytearray | memoryview) -> bool:
    """Whether an IP datagram carries ICMP (IPv4) or ICMPv6 (no extension headers)."""
    if len(data) < 20:
        return False
    version = data[0] >> 4
    if version == 4:
        return bool(data[9] == PROTOCOL_ICMP)
    return version == 6 and len(data) >= 40 and data[6] == PROTOCOL_ICMPV6
