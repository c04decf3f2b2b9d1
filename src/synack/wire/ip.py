"""IPv4 (RFC 791) and IPv6 (RFC 8200) datagrams carrying one TCP segment.

Only what a TCP endpoint needs: parse a datagram down to its ``Segment``
and emit one.  IPv4 options and IPv6 hop-by-hop, routing and destination
options headers are skipped on input (IP options TCP does not understand are
ignored: MUST-50) and never emitted; fragments are
rejected (reassembly is not done here).  IPv4 output sets DF.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from synack.wire.checksum import PROTOCOL_TCP, Address, internet_checksum
from synack.wire.errors import MalformedPacket
from synack.wire.tcp import Segment, encode_segment_header, parse_segment

IPV4_HEADER_LEN = 20
"""An IPv4 header without options."""
IPV6_HEADER_LEN = 40
"""The fixed IPv6 header."""

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_U16 = struct.Struct("!H")

_IPV4_DONT_FRAGMENT = 0x4000
_IPV4_MORE_FRAGMENTS = 0x2000
_IPV4_FRAGMENT_OFFSET = 0x1FFF

_IPV6_SKIPPABLE = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44


@dataclass(slots=True)
class Packet:
    """One IP datagram carrying one TCP segment.

    ``ttl`` is the hop limit and ``tos`` the traffic class for IPv6;
    ``ident`` is the IPv4 identification (unused for IPv6).
    """

    src: Address
    dst: Address
    segment: Segment
    ttl: int = 64
    tos: int = 0
    ident: int = 0


def parse_packet(data: bytes | bytearray | memoryview, *, verify_checksum: bool = True) -> Packet:
    """Parse an IPv4 or IPv6 datagram holding a TCP segment.

    The segment payload is a memoryview into ``data``.  Octets beyond the
    IP length (link-layer padding) are ignored.  ``verify_checksum=False``
    skips both the IPv4 header checksum and the TCP checksum.  Raises
    ``MalformedPacket`` with reason ``"truncated"``, ``"bad-version"``,
    ``"bad-header-length"``, ``"bad-total-length"``, ``"bad-ip-checksum"``,
    ``"not-tcp"``, ``"fragment"``, or any reason of ``parse_segment``.
    """
    view = datagram_view(data)
    version = view[0] >> 4
    if version == 4:
        return _parse_ipv4(view, verify_checksum)
    if version == 6:
        return _parse_ipv6(view, verify_checksum)
    raise MalformedPacket("bad-version", f"IP version {version}")


def datagram_view(data: bytes | bytearray | memoryview) -> memoryview:
    """A byte-per-item view of a datagram; MalformedPacket when it is empty."""
    view = memoryview(data)
    if view.itemsize != 1:
        view = view.cast("B")
    if not view:
        raise MalformedPacket("truncated", "empty packet")
    return view


def _parse_ipv4(view: memoryview, verify_checksum: bool) -> Packet:
    length = len(view)
    if length < IPV4_HEADER_LEN:
        raise MalformedPacket("truncated", f"IPv4 header needs 20 octets, got {length}")
    (version_ihl, tos, total_length, ident, fragment, ttl, protocol, _checksum, src, dst) = (
        _IPV4.unpack_from(view)
    )
    header_len = (version_ihl & 0x0F) * 4
    if header_len < IPV4_HEADER_LEN:
        raise MalformedPacket("bad-header-length", f"IPv4 IHL {header_len // 4} < 5")
    if total_length > length:
        raise MalformedPacket("truncated", f"IPv4 total length {total_length}, got {length}")
    if total_length < header_len:
        raise MalformedPacket(
            "bad-total-length", f"IPv4 total length {total_length} < header length {header_len}"
        )
    if verify_checksum and internet_checksum(view[:header_len]) != 0:
        raise MalformedPacket("bad-ip-checksum", f"IPv4 header checksum 0x{_checksum:04x}")
    if protocol != PROTOCOL_TCP:
        raise MalformedPacket("not-tcp", f"IPv4 protocol {protocol}")
    if fragment & (_IPV4_MORE_FRAGMENTS | _IPV4_FRAGMENT_OFFSET):
        raise MalformedPacket("fragment", f"IPv4 flags/offset 0x{fragment:04x}")
    src_address = IPv4Address(src)
    dst_address = IPv4Address(dst)
    segment = parse_segment(
        view[header_len:total_length], src_address, dst_address, verify_checksum=verify_checksum
    )
    return Packet(src_address, dst_address, segment, ttl, tos, ident)


def _parse_ipv6(view: memoryview, verify_checksum: bool) -> Packet:
    length = len(view)
    if length < IPV6_HEADER_LEN:
        raise MalformedPacket("truncated", f"IPv6 header needs 40 octets, got {length}")
    first_word, payload_length, next_header, hop_limit, src, dst = _IPV6.unpack_from(view)
    end = IPV6_HEADER_LEN + payload_length
    if end > length:
        raise MalformedPacket("truncated", f"IPv6 payload length {payload_length}, got {length}")
    offset = IPV6_HEADER_LEN
    while next_header != PROTOCOL_TCP:
        if next_header == _IPV6_FRAGMENT:
            raise MalformedPacket("fragment", "IPv6 fragment header")
        if next_header not in _IPV6_SKIPPABLE:
            raise MalformedPacket("not-tcp", f"IPv6 next header {next_header}")
        if offset + 8 > end:
            raise MalformedPacket("truncated", f"IPv6 extension header {next_header} cut short")
        next_header = view[offset]
        offset += (view[offset + 1] + 1) * 8  # Hdr Ext Len counts 8 octets beyond the first 8
        if offset > end:
            raise MalformedPacket("truncated", "IPv6 extension header runs past the payload")
    src_address = IPv6Address(src)
    dst_address = IPv6Address(dst)
    # RFC 8200 8.1: at the recipient the pseudo-header destination is the
    # header's destination even when a routing header was present.
    segment = parse_segment(
        view[offset:end], src_address, dst_address, verify_checksum=verify_checksum
    )
    return Packet(src_address, dst_address, segment, hop_limit, (first_word >> 20) & 0xFF, 0)


def encode_packet(packet: Packet) -> bytes:
    """The wire form of ``packet``: IP header (IPv4 with DF, no options), TCP header, payload.

    Raises ``ValueError`` for caller bugs: mixed address families, fields
    out of range, or a datagram too long for its length field.
    """
    src, dst, segment = packet.src, packet.dst, packet.segment
    tcp_header = encode_segment_header(segment, src, dst)
    tcp_length = len(tcp_header) + len(segment.payload)
    try:
        if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
            total_length = IPV4_HEADER_LEN + tcp_length
            if total_length > 0xFFFF:
                raise ValueError(f"IPv4 datagram of {total_length} octets is too long")
            ip_header = bytearray(
                _IPV4.pack(
                    0x45,  # version 4, IHL 5
                    packet.tos,
                    total_length,
                    packet.ident,
                    _IPV4_DONT_FRAGMENT,
                    packet.ttl,
                    PROTOCOL_TCP,
                    0,
                    src.packed,
                    dst.packed,
                )
            )
            _U16.pack_into(ip_header, 10, internet_checksum(ip_header))
        elif isinstance(src, IPv6Address) and isinstance(dst, IPv6Address):
            if tcp_length > 0xFFFF:
                raise ValueError(f"IPv6 payload of {tcp_length} octets needs a jumbogram")
            if not 0 <= packet.tos <= 0xFF:
                raise ValueError(f"IPv6 traffic class out of range: {packet.tos}")
            ip_header = bytearray(
                _IPV6.pack(
                    (6 << 28) | (packet.tos << 20),  # version, traffic class, flow label 0
                    tcp_length,
                    PROTOCOL_TCP,
                    packet.ttl,
                    src.packed,
                    dst.packed,
                )
            )
        else:
            raise ValueError(f"address families differ: {src} and {dst}")
    except struct.error as exc:
        raise ValueError(f"IP header field out of range: {exc}") from None
    return b"".join((ip_header, tcp_header, segment.payload))
