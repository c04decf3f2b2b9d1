"""One-line summaries of segments, packets and trace records, plus a fast,
lenient peek at raw IP/TCP headers.

The peek (``peek_headers``) is what the simulated network routes and filters
by and what the renderers use to describe raw datagrams.  It is *not* a
validating codec (that is ``synack.wire``): it never checks checksums, it
ignores what it does not understand and it returns ``None`` for bytes too
short or too odd to read, never raising.
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address, ip_address
from typing import NamedTuple

from synack.trace.records import (
    Address,
    FourTuple,
    NetworkRecord,
    PacketCorrupted,
    PacketDelivered,
    PacketDuplicated,
    PacketLost,
    Record,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.wire.tcp import (
    EndOfOptions,
    MaxSegmentSize,
    NoOperation,
    Sack,
    SackPermitted,
    Segment,
    TcpFlags,
    TcpOption,
    Timestamps,
    UnknownOption,
    WindowScale,
)

PROTO_TCP = 6
_IPV6_EXTENSION_HEADERS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_TCP_HEADER = struct.Struct("!HHIIBBHHH")
_IPV4_FIXED = struct.Struct("!BBHHHBBH4s4s")
_IPV6_FIXED = struct.Struct("!IHBB16s16s")


class TcpHeader(NamedTuple):
    """The TCP header fields of a datagram, as on the wire."""

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    urgent: int
    options: bytes
    payload_offset: int  # offset of the TCP payload in the datagram
    payload_length: int

    @property
    def key(self) -> tuple[int, int, int, int, int, int, int]:
        """The fields that identify one transmission of a segment (see ``segment_key``)."""
        return (
            self.src_port,
            self.dst_port,
            self.seq,
            self.ack,
            self.flags,
            self.window,
            self.payload_length,
        )


class PacketHeaders(NamedTuple):
    """What ``peek_headers`` found: IP version, packed addresses, protocol, TCP header."""

    version: int
    src: bytes
    dst: bytes
    protocol: int
    tcp: TcpHeader | None

    @property
    def src_address(self) -> Address:
        return _address(self.src)

    @property
    def dst_address(self) -> Address:
        return _address(self.dst)

    @property
    def conn(self) -> FourTuple | None:
        """The sender's view ``(src, src_port, dst, dst_port)``, or None when not TCP."""
        if self.tcp is None:
            return None
        return (self.src_address, self.tcp.src_port, self.dst_address, self.tcp.dst_port)


_ADDRESS_CACHE: dict[bytes, Address] = {}


def _address(packed: bytes) -> Address:
    address = _ADDRESS_CACHE.get(packed)
    if address is None:
        address = ip_address(packed)
        if len(_ADDRESS_CACHE) < 4096:
            _ADDRESS_CACHE[packed] = address
    return address


def peek_headers(packet: bytes | bytearray | memoryview) -> PacketHeaders | None:
    """Read the IP and TCP headers of ``packet`` without validating it.

    Returns None when the bytes are not an IPv4 or IPv6 datagram at all; the
    ``tcp`` field is None when the datagram carries no readable TCP header
    (another protocol, a later fragment, a truncated header).
    """
    size = len(packet)
    if size < 20:
        return None
    version = packet[0] >> 4
    if version == 4:
        (ver_ihl, _tos, total, _ident, frag, _ttl, protocol, _csum, src, dst) = (
            _IPV4_FIXED.unpack_from(packet)
        )
        header_length = (ver_ihl & 0x0F) * 4
        if header_length < 20 or header_length > size:
            return None
        end = min(total, size) if total >= header_length else size
        offset = header_length
        if frag & 0x1FFF:  # a later fragment: no TCP header here
            return PacketHeaders(4, src, dst, protocol, None)
    elif version == 6:
        if size < 40:
            return None
        (_first, payload_length, protocol, _hops, src, dst) = _IPV6_FIXED.unpack_from(packet)
        end = min(40 + payload_length, size)
        offset = 40
        while protocol in _IPV6_EXTENSION_HEADERS and offset + 8 <= end:
            protocol, ext_length = packet[offset], packet[offset + 1]
            offset += (ext_length + 1) * 8
    else:
        return None
    if protocol != PROTO_TCP or offset + 20 > end:
        return PacketHeaders(version, bytes(src), bytes(dst), protocol, None)
    (sport, dport, seq, ack, data_offset, flags, window, _csum, urgent) = _TCP_HEADER.unpack_from(
        packet, offset
    )
    tcp_header_length = (data_offset >> 4) * 4
    if tcp_header_length < 20 or offset + tcp_header_length > end:
        return PacketHeaders(version, bytes(src), bytes(dst), protocol, None)
    payload_offset = offset + tcp_header_length
    tcp = TcpHeader(
        sport,
        dport,
        seq,
        ack,
        flags,
        window,
        urgent,
        bytes(packet[offset + 20 : payload_offset]),
        payload_offset,
        end - payload_offset,
    )
    return PacketHeaders(version, bytes(src), bytes(dst), protocol, tcp)


def parse_options_leniently(raw: bytes) -> tuple[TcpOption, ...]:
    """Decode TCP options for display; stops quietly at anything malformed."""
    options: list[TcpOption] = []
    index = 0
    while index < len(raw):
        kind = raw[index]
        if kind == 0:
            options.append(EndOfOptions())
            break
        if kind == 1:
            options.append(NoOperation())
            index += 1
            continue
        if index + 1 >= len(raw):
            break
        length = raw[index + 1]
        if length < 2 or index + length > len(raw):
            break
        data = raw[index + 2 : index + length]
        if kind == 2 and length == 4:
            options.append(MaxSegmentSize(int.from_bytes(data, "big")))
        elif kind == 3 and length == 3:
            options.append(WindowScale(data[0]))
        elif kind == 4 and length == 2:
            options.append(SackPermitted())
        elif kind == 5 and (length - 2) % 8 == 0:
            blocks = tuple(
                (int.from_bytes(data[i : i + 4], "big"), int.from_bytes(data[i + 4 : i + 8], "big"))
                for i in range(0, len(data), 8)
            )
            options.append(Sack(blocks))
        elif kind == 8 and length == 10:
            options.append(Timestamps(*struct.unpack("!II", data)))
        else:
            options.append(UnknownOption(kind, bytes(data)))
        index += length
    return tuple(options)


def segment_from_packet(packet: bytes | bytearray | memoryview) -> Segment | None:
    """The TCP segment inside a raw datagram, decoded leniently for display."""
    headers = peek_headers(packet)
    if headers is None or headers.tcp is None:
        return None
    tcp = headers.tcp
    start = tcp.payload_offset
    return Segment(
        src_port=tcp.src_port,
        dst_port=tcp.dst_port,
        seq=tcp.seq,
        ack=tcp.ack,
        flags=TcpFlags(tcp.flags),
        window=tcp.window,
        urgent=tcp.urgent,
        options=parse_options_leniently(tcp.options),
        payload=bytes(packet[start : start + tcp.payload_length]),
    )


def segment_key(segment: Segment) -> tuple[int, int, int, int, int, int, int]:
    """Fields identifying one transmission; equal to ``TcpHeader.key`` of its datagram."""
    return (
        segment.src_port,
        segment.dst_port,
        segment.seq,
        segment.ack,
        int(segment.flags),
        segment.window,
        len(segment.payload),
    )


# --- formatting -----------------------------------------------------------------

_FLAG_ORDER = tuple(TcpFlags)  # FIN, SYN, RST, PSH, ACK, URG, ECE, CWR: bit order, like Wireshark


def format_flags(flags: int) -> str:
    """``"SYN,ACK"``; ``"none"`` for a segment with no control bits."""
    names = [flag.name or "" for flag in _FLAG_ORDER if flags & flag]
    return ",".join(names) if names else "none"


def format_option(option: TcpOption) -> str | None:
    """One option the way tcpdump shows it; None for padding (NOP, EOL)."""
    if isinstance(option, MaxSegmentSize):
        return f"mss {option.mss}"
    if isinstance(option, WindowScale):
        return f"ws {option.shift}"
    if isinstance(option, SackPermitted):
        return "sackOK"
    if isinstance(option, Timestamps):
        return f"ts {option.tsval} {option.tsecr}"
    if isinstance(option, Sack):
        return "sack " + " ".join(f"{left}:{right}" for left, right in option.blocks)
    if isinstance(option, UnknownOption):
        return f"opt{option.kind}"
    return None


def format_options(options: tuple[TcpOption, ...]) -> str:
    """``"<mss 1460,sackOK,ts 1 0,ws 7>"``, or ``""`` when there is nothing to show."""
    parts = [text for text in map(format_option, options) if text is not None]
    return "<" + ",".join(parts) + ">" if parts else ""


def format_number(value: int, base: int | None, *, absolute: bool = True) -> str:
    """``"1 (4294967001)"`` relative to ``base`` when given (``"1"`` without
    ``absolute``), else the absolute value."""
    if base is None:
        return str(value)
    relative = (value - base) & 0xFFFFFFFF
    return f"{relative} ({value})" if absolute else str(relative)


def format_segment(
    segment: Segment,
    *,
    seq_base: int | None = None,
    ack_base: int | None = None,
    absolute: bool = True,
    window: bool = True,
    options: bool = True,
) -> str:
    """``"SYN,ACK seq=0 (4294967001) ack=1 (7) win=65535 <mss 1460>"``.

    ``seq_base``/``ack_base`` are the ISNs to show sequence numbers relative
    to (absolute in parentheses unless ``absolute`` is false); the ack is
    shown only when ACK is set, the length only when there is payload.
    """
    flags = segment.flags
    parts = [format_flags(flags), "seq=" + format_number(segment.seq, seq_base, absolute=absolute)]
    if flags & TcpFlags.ACK:
        parts.append("ack=" + format_number(segment.ack, ack_base, absolute=absolute))
    if segment.payload:
        parts.append(f"len={len(segment.payload)}")
    if window:
        parts.append(f"win={segment.window}")
    if flags & TcpFlags.URG:
        parts.append(f"urg={segment.urgent}")
    if options:
        text = format_options(segment.options)
        if text:
            parts.append(text)
    return " ".join(parts)


def format_endpoint(address: Address, port: int) -> str:
    """``"10.0.0.1:80"`` or ``"[2001:db8::1]:80"``."""
    if isinstance(address, IPv6Address):
        return f"[{address}]:{port}"
    return f"{address}:{port}"


def format_conn(conn: FourTuple | None) -> str:
    """``"10.0.0.1:40000 > 10.0.0.2:80"`` (local first), or ``"-"``."""
    if conn is None:
        return "-"
    local, local_port, remote, remote_port = conn
    return f"{format_endpoint(local, local_port)} > {format_endpoint(remote, remote_port)}"


def format_time(time: int) -> str:
    """Microseconds as milliseconds with three decimals: ``"10.000"``."""
    sign = "-" if time < 0 else ""
    time = abs(time)
    return f"{sign}{time // 1000}.{time % 1000:03d}"


def _describe_packet(record: NetworkRecord) -> str:
    headers = peek_headers(record.packet)
    segment = segment_from_packet(record.packet)
    if segment is not None and headers is not None:
        where = format_conn(headers.conn)
        return f"{where} {format_segment(segment)}"
    return f"{len(record.packet)} octets (not TCP)"


def describe(record: Record) -> str:
    """A one-line description of any record, without the time and host."""
    name = type(record).__name__
    if isinstance(record, SegmentSent):
        text = format_segment(record.segment)
        if record.retransmission:
            text += " (retransmission)"
        return f"{name} {format_conn(record.conn)} {text}"
    if isinstance(record, SegmentReceived):
        return f"{name} {format_conn(record.conn)} {format_segment(record.segment)}"
    if isinstance(record, SegmentDropped):
        segment = "" if record.segment is None else " " + format_segment(record.segment)
        detail = f" ({record.detail})" if record.detail else ""
        return f"{name} {format_conn(record.conn)}{segment}: {record.reason.value}{detail}"
    if isinstance(record, StateChanged):
        return f"{name} {format_conn(record.conn)} {record.old} -> {record.new} ({record.cause})"
    if isinstance(record, TimerFired):
        return f"{name} {format_conn(record.conn)} {record.timer}"
    if isinstance(record, UserCall):
        return f"{name} {format_conn(record.conn)} {record.call}"
    if isinstance(record, NetworkRecord):
        hosts = f"#{record.packet_id} {record.src_host}->{record.dst_host or '?'}"
        extra = ""
        if isinstance(record, PacketLost):
            extra = f" [{record.reason}]"
        elif isinstance(record, PacketDuplicated):
            extra = f" [copy #{record.copy_id}]"
        elif isinstance(record, PacketCorrupted):
            extra = f" [bit {record.bit}]"
        elif isinstance(record, PacketDelivered):
            extra = f" [sent {format_time(record.sent_time)}]"
        return f"{name} {hosts}{extra} {_describe_packet(record)}"
    return repr(record)


__all__ = [
    "PROTO_TCP",
    "PacketHeaders",
    "TcpHeader",
    "describe",
    "format_conn",
    "format_endpoint",
    "format_flags",
    "format_number",
    "format_option",
    "format_options",
    "format_segment",
    "format_time",
    "parse_options_leniently",
    "peek_headers",
    "segment_from_packet",
    "segment_key",
]
