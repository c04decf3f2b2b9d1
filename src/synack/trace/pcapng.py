"""pcapng files with a comment on each packet naming the state changes it caused.

``write_pcapng(path_or_file, trace)`` writes the same packets as
``synack.trace.pcap.write_pcap`` (one per datagram on the wire, see
``wire_packets``) in the pcapng format: a Section Header Block, one
Interface Description Block (``LINKTYPE_RAW``, microsecond timestamps) and
an Enhanced Packet Block per packet.  A packet's ``opt_comment`` options
name what it did, as the ladder model (``synack.trace.model``) decided:

    client: CLOSED -> SYN-SENT (active OPEN)
    server: LISTEN -> SYN-RECEIVED (rcv SYN)

that is, the state changes at its sender that came with sending it and at
its receiver that its receipt caused, plus ``retransmission``, a loss in the
network or a drop by the receiving stack.  Wireshark shows them as packet
comments (``frame.comment`` in tshark).  ``PcapngWriter`` writes packets one
at a time for live drivers.

All blocks are little-endian; see draft-ietf-opsawg-pcapng for the layout.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import BinaryIO, Literal

from synack.trace.model import Arrow, Entry, LadderModel, build_model, hosts_of, normalise
from synack.trace.pcap import DEFAULT_SNAPLEN, LINKTYPE_RAW, CaptureFile
from synack.trace.records import (
    NetworkRecord,
    PacketDelivered,
    PacketTransmitted,
    Record,
    SegmentSent,
)
from synack.wire.ip import Packet, encode_packet

SECTION_HEADER = 0x0A0D0D0A
INTERFACE_DESCRIPTION = 0x00000001
ENHANCED_PACKET = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
VERSION = (1, 0)

OPT_END = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9

_BLOCK_HEAD = struct.Struct("<II")
_SHB_BODY = struct.Struct("<IHHq")
_IDB_BODY = struct.Struct("<HHI")
_EPB_BODY = struct.Struct("<IIIII")
_OPTION_HEAD = struct.Struct("<HH")
_UNKNOWN = "?"  # the receiving host's name when the trace does not say


def _option(code: int, value: bytes) -> bytes:
    padding = -len(value) % 4
    return _OPTION_HEAD.pack(code, len(value)) + value + b"\0" * padding


def _options(options: Sequence[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    return b"".join(_option(code, value) for code, value in options) + _option(OPT_END, b"")


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return _BLOCK_HEAD.pack(block_type, total) + body + struct.pack("<I", total)


class PcapngWriter(CaptureFile):
    """Writes a pcapng stream (one section, one raw-IP interface) to a path or
    binary file.

    Timestamps are integer microseconds (negative ones are clamped to 0);
    packets longer than ``snaplen`` are truncated, keeping their original
    length.  Comments are UTF-8 strings, each one ``opt_comment``.  Closing
    closes the file only if the writer opened it.
    """

    def __init__(
        self,
        path_or_file: str | Path | BinaryIO,
        *,
        snaplen: int = DEFAULT_SNAPLEN,
        linktype: int = LINKTYPE_RAW,
        interface: str = "synack",
        application: str = "synack",
    ) -> None:
        super().__init__(path_or_file, snaplen)
        major, minor = VERSION
        shb = _SHB_BODY.pack(BYTE_ORDER_MAGIC, major, minor, -1)
        shb += _options([(SHB_USERAPPL, application.encode())])
        idb = _IDB_BODY.pack(linktype, 0, snaplen)
        idb += _options([(IF_NAME, interface.encode()), (IF_TSRESOL, b"\x06")])
        self._file.write(_block(SECTION_HEADER, shb) + _block(INTERFACE_DESCRIPTION, idb))

    def write(
        self,
        timestamp: int,
        packet: bytes | bytearray | memoryview,
        comments: Sequence[str] = (),
    ) -> None:
        """Append one packet captured at ``timestamp`` microseconds, with comments."""
        micros = max(timestamp, 0)
        length = len(packet)
        captured = min(length, self.snaplen)
        body = _EPB_BODY.pack(0, micros >> 32, micros & 0xFFFFFFFF, captured, length)
        data = bytes(packet[:captured])
        body += data + b"\0" * (-captured % 4)
        body += _options([(OPT_COMMENT, comment.encode()) for comment in comments])
        self._file.write(_block(ENHANCED_PACKET, body))
        self.count += 1


# --- which packets, and what each one did -----------------------------------------


class _Captured:
    """One packet of the capture: where it came from and how to find its arrow."""

    __slots__ = ("key", "packet", "receiver", "sender", "time")

    def __init__(
        self, time: int, packet: bytes, sender: str, receiver: str, key: tuple[str, int]
    ) -> None:
        self.time = time
        self.packet = packet
        self.sender = sender
        self.receiver = receiver
        self.key = key  # ("packet", packet_id) or ("record", id(SegmentSent record))


def captured_packets(
    records: Iterable[Entry | Record], capture: Literal["sent", "delivered"] = "sent"
) -> list[_Captured]:
    """The packets ``synack.trace.pcap.wire_packets`` captures, in the same
    order, with their sending and receiving hosts."""
    entries = normalise(records)
    kind = PacketTransmitted if capture == "sent" else PacketDelivered
    packets = [
        _Captured(
            record.time,
            record.packet,
            record.src_host,
            record.dst_host or _UNKNOWN,
            ("packet", record.packet_id),
        )
        for _, record in entries
        if isinstance(record, kind)
    ]
    if packets or capture == "delivered":
        return packets
    if any(isinstance(record, PacketDelivered) for _, record in entries):
        return packets  # a simulator trace that kept no PacketTransmitted records
    owners = _address_owners(entries)
    for host, record in entries:
        if isinstance(record, SegmentSent) and record.conn is not None:
            local, _, remote, _ = record.conn
            packet = encode_packet(Packet(local, remote, record.segment))
            receiver = owners.get(remote, _UNKNOWN)
            key = ("record", id(record))
            packets.append(_Captured(record.time, packet, host or "", receiver, key))
    return packets


def _address_owners(entries: list[Entry]) -> dict[IPv4Address | IPv6Address, str]:
    """Which traced host owns which address (the local end of its records' 4-tuples)."""
    owners: dict[IPv4Address | IPv6Address, str] = {}
    for host, record in entries:
        if host and record.conn is not None and not isinstance(record, NetworkRecord):
            owners.setdefault(record.conn[0], host)
    return owners


def arrow_comments(arrow: Arrow) -> list[str]:
    """The comments for the packet an arrow stands for (see the module docstring)."""
    causes = ((arrow.sender, arrow.sender_states), (arrow.receiver, arrow.receiver_states))
    comments = [
        f"{host}: {state.old} -> {state.new} ({state.cause})".removeprefix(": ")
        for host, states in causes
        for state in states
    ]
    if arrow.retransmission:
        comments.append("retransmission")
    if arrow.lost == "not received":
        comments.append(f"never received by {arrow.receiver}")
    elif arrow.lost is not None:
        comments.append(f"lost in the network ({arrow.lost})")
    if arrow.dropped is not None:
        detail = f" ({arrow.dropped.detail})" if arrow.dropped.detail else ""
        comments.append(f"dropped by {arrow.receiver}: {arrow.dropped.reason.value}{detail}")
    return comments


def packet_comments(
    records: Iterable[Entry | Record], capture: Literal["sent", "delivered"] = "sent"
) -> Iterator[tuple[int, bytes, list[str]]]:
    """``(time, packet, comments)`` for every packet of the capture.

    One ladder model is built per pair of hosts that exchanged packets; a
    packet whose receiving host the trace does not name (a single-host trace)
    is looked up in a model of its sender and an untraced peer.
    """
    entries = normalise(records)
    packets = captured_packets(entries, capture)
    order = {host: index for index, host in enumerate(hosts_of(entries))}
    models: dict[frozenset[str], tuple[LadderModel, dict[tuple[str, int], Arrow]]] = {}
    for packet in packets:
        pair = frozenset((packet.sender, packet.receiver))
        if len(pair) == 2 and pair not in models:
            left, right = sorted(pair, key=lambda host: (order.get(host, len(order)), host))
            model = build_model(entries, left, right)
            index: dict[tuple[str, int], Arrow] = {
                ("packet", packet_id): arrow for packet_id, arrow in model.by_packet.items()
            }
            for arrow in model.arrows:
                if arrow.sent is not None:
                    index[("record", id(arrow.sent))] = arrow
            models[pair] = (model, index)
    for packet in packets:
        found = models.get(frozenset((packet.sender, packet.receiver)))
        match = found[1].get(packet.key) if found is not None else None
        comments = arrow_comments(match) if match is not None else []
        yield packet.time, packet.packet, comments


def write_pcapng(
    path_or_file: str | Path | BinaryIO,
    records: Iterable[Entry | Record],
    *,
    capture: Literal["sent", "delivered"] = "sent",
    snaplen: int = DEFAULT_SNAPLEN,
) -> int:
    """Write the trace's datagrams with their comments as a pcapng file;
    returns the number of packets written."""
    entries = normalise(records)
    with PcapngWriter(path_or_file, snaplen=snaplen) as writer:
        for time, packet, comments in packet_comments(entries, capture):
            writer.write(time, packet, comments)
        return writer.count


# --- reading back (tests and tools) ------------------------------------------------


def read_pcapng(data: bytes) -> list[tuple[int, bytes, list[str]]]:
    """``(timestamp in microseconds, packet, comments)`` of every Enhanced Packet
    Block in a little-endian pcapng with microsecond interfaces (what this
    module writes).  Raises ``ValueError`` on anything else or on damage."""
    packets: list[tuple[int, bytes, list[str]]] = []
    offset = 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise ValueError(f"truncated block header at offset {offset}")
        block_type, total = _BLOCK_HEAD.unpack_from(data, offset)
        if total < 12 or total % 4 or offset + total > len(data):
            raise ValueError(f"bad block length {total} at offset {offset}")
        (trailer,) = struct.unpack_from("<I", data, offset + total - 4)
        if trailer != total:
            raise ValueError(f"block lengths differ ({total} and {trailer}) at offset {offset}")
        body = data[offset + 8 : offset + total - 4]
        if block_type == SECTION_HEADER:
            if len(body) < 16 or _SHB_BODY.unpack_from(body)[0] != BYTE_ORDER_MAGIC:
                raise ValueError("not a little-endian pcapng section")
        elif block_type == ENHANCED_PACKET:
            if len(body) < 20:
                raise ValueError(f"short enhanced packet block at offset {offset}")
            _, high, low, captured, _ = _EPB_BODY.unpack_from(body)
            end = 20 + captured + (-captured % 4)
            if end > len(body):
                raise ValueError(f"packet data overruns its block at offset {offset}")
            packet = bytes(body[20 : 20 + captured])
            comments = [
                value.decode("utf-8", "replace")
                for code, value in _read_options(body[end:])
                if code == OPT_COMMENT
            ]
            packets.append(((high << 32) | low, packet, comments))
        offset += total
    return packets


def _read_options(raw: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + 4 <= len(raw):
        code, length = _OPTION_HEAD.unpack_from(raw, offset)
        if code == OPT_END:
            return
        value = raw[offset + 4 : offset + 4 + length]
        if len(value) != length:
            raise ValueError("option overruns its block")
        yield code, value
        offset += 4 + length + (-length % 4)
