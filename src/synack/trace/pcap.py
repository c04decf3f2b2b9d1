"""Classic libpcap files: magic 0xa1b2c3d4, microsecond timestamps, and
``LINKTYPE_RAW`` (101) so that IPv4 and IPv6 datagrams share one file.

``write_pcap(path_or_file, trace)`` writes one packet per datagram on the
wire; ``PcapWriter`` writes packets one at a time for live drivers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal, Self

from synack.trace.records import (
    PacketDelivered,
    PacketTransmitted,
    Record,
    SegmentSent,
)
from synack.wire.ip import Packet, encode_packet

MAGIC = 0xA1B2C3D4
VERSION = (2, 4)
LINKTYPE_RAW = 101
DEFAULT_SNAPLEN = 262_144

_FILE_HEADER = struct.Struct("<IHHiIII")
_PACKET_HEADER = struct.Struct("<IIII")

Entry = tuple[str | None, Record]


class CaptureFile:
    """A capture file being written: to a path (opened and closed here) or to
    a binary file the caller owns.  Subclasses write the headers and records."""

    def __init__(self, path_or_file: str | Path | BinaryIO, snaplen: int) -> None:
        if isinstance(path_or_file, str | Path):
            self._file: BinaryIO = open(path_or_file, "wb")  # noqa: SIM115 (closed in close())
            self._owned = True
        else:
            self._file = path_or_file
            self._owned = False
        self.snaplen = snaplen
        self.count = 0

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        self._file.flush()
        if self._owned:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class PcapWriter(CaptureFile):
    """Writes a classic pcap stream (little-endian) to a path or binary file.

    Timestamps are integer microseconds (negative ones are clamped to 0);
    packets longer than ``snaplen`` are truncated, keeping their original
    length in the record header.  Closing closes the file only if the writer
    opened it.
    """

    def __init__(
        self,
        path_or_file: str | Path | BinaryIO,
        *,
        snaplen: int = DEFAULT_SNAPLEN,
        linktype: int = LINKTYPE_RAW,
    ) -> None:
        super().__init__(path_or_file, snaplen)
        major, minor = VERSION
        self._file.write(_FILE_HEADER.pack(MAGIC, major, minor, 0, 0, snaplen, linktype))

    def write(self, timestamp: int, packet: bytes | bytearray | memoryview) -> None:
        """Append one packet captured at ``timestamp`` microseconds."""
        seconds, micros = divmod(max(timestamp, 0), 1_000_000)
        length = len(packet)
        captured = min(length, self.snaplen)
        self._file.write(_PACKET_HEADER.pack(seconds, micros, captured, length))
        self._file.write(packet[:captured])
        self.count += 1


def _records(records: Iterable[Entry | Record]) -> Iterator[Record]:
    for item in records:
        yield item if isinstance(item, Record) else item[1]


def wire_packets(
    records: Iterable[Entry | Record],
    *,
    capture: Literal["sent", "delivered"] = "sent",
) -> list[tuple[int, bytes]]:
    """The ``(time, datagram)`` pairs a capture of the trace contains, in order.

    ``capture="sent"``: every datagram a host handed to the network, at its
    send time (``PacketTransmitted``); lost datagrams are included, the
    network's duplicates are not.  ``capture="delivered"``: every copy that
    reached a host, as it arrived (``PacketDelivered``: duplicates and
    corrupted bytes included, losses not).

    A trace with no network records (a driver other than the simulator) is
    captured from its ``SegmentSent`` records, re-encoded with
    ``synack.wire.ip.encode_packet``; records without a 4-tuple are skipped.
    """
    materialised = list(_records(records))
    kind = PacketTransmitted if capture == "sent" else PacketDelivered
    packets = [(r.time, r.packet) for r in materialised if isinstance(r, kind)]
    if packets or capture == "delivered":
        return packets
    if any(isinstance(r, PacketDelivered) for r in materialised):
        return packets  # a simulator trace that kept no PacketTransmitted records
    for record in materialised:
        if isinstance(record, SegmentSent) and record.conn is not None:
            local, _, remote, _ = record.conn
            packets.append((record.time, encode_packet(Packet(local, remote, record.segment))))
    return packets


def write_pcap(
    path_or_file: str | Path | BinaryIO,
    records: Iterable[Entry | Record],
    *,
    capture: Literal["sent", "delivered"] = "sent",
    snaplen: int = DEFAULT_SNAPLEN,
) -> int:
    """Write the trace's datagrams (see ``wire_packets``) as a pcap file;
    returns the number of packets written."""
    with PcapWriter(path_or_file, snaplen=snaplen) as writer:
        for time, packet in wire_packets(records, capture=capture):
            writer.write(time, packet)
        return writer.count
