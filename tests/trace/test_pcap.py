"""pcap output, read back with dpkt (an independent reader)."""

from __future__ import annotations

import io
import struct
from ipaddress import ip_address
from pathlib import Path

import dpkt

from synack.net import LinkConfig, Simulator
from synack.trace.pcap import LINKTYPE_RAW, MAGIC, PcapWriter, wire_packets, write_pcap
from synack.trace.records import PacketDelivered, PacketLost, SegmentSent
from synack.wire.ip import Packet, encode_packet
from synack.wire.tcp import Segment, TcpFlags

C4, S4 = ip_address("10.0.0.1"), ip_address("10.0.0.2")
C6, S6 = ip_address("2001:db8::1"), ip_address("2001:db8::2")


def read(data: bytes) -> tuple[dpkt.pcap.Reader, list[tuple[float, bytes]]]:
    reader = dpkt.pcap.Reader(io.BytesIO(data))
    return reader, list(reader)


def test_writer_header_and_packets() -> None:
    buffer = io.BytesIO()
    with PcapWriter(buffer) as writer:
        writer.write(1_500_000, b"\x45" + bytes(19))
        writer.write(2_000_001, memoryview(b"\x60" + bytes(39)))
        assert writer.count == 2
    data = buffer.getvalue()
    assert struct.unpack_from("<IHHiIII", data) == (MAGIC, 2, 4, 0, 0, 262_144, 101)
    reader, packets = read(data)
    assert reader.datalink() == LINKTYPE_RAW == 101
    assert [(round(ts, 6), bytes(p)) for ts, p in packets] == [
        (1.5, b"\x45" + bytes(19)),
        (2.000001, b"\x60" + bytes(39)),
    ]
    assert not buffer.closed  # a file we did not open stays open


def test_snaplen_truncates_but_keeps_the_original_length(tmp_path: Path) -> None:
    path = tmp_path / "short.pcap"
    with PcapWriter(path, snaplen=30) as writer:
        writer.write(0, bytes(100))
    data = path.read_bytes()
    caplen, length = struct.unpack_from("<II", data, 24 + 8)
    assert (caplen, length) == (30, 100)
    _, packets = read(data)
    assert len(packets[0][1]) == 30


def segments() -> list[SegmentSent]:
    flags = [TcpFlags.SYN, TcpFlags.SYN | TcpFlags.ACK, TcpFlags.ACK, TcpFlags.PSH | TcpFlags.ACK]
    out = []
    for i, flag in enumerate(flags):
        sender = i % 2 == 0
        ports = (40000, 80) if sender else (80, 40000)
        conn4 = (C4, 40000, S4, 80) if sender else (S4, 80, C4, 40000)
        conn6 = (C6, 40001, S6, 80) if sender else (S6, 80, C6, 40001)
        payload = b"hello" if flag & TcpFlags.PSH else b""
        segment = Segment(ports[0], ports[1], 4294967290 + i, i, flag, 1000 + i, payload=payload)
        out.append(SegmentSent(i * 10_000, conn4, segment))
        other = Segment(ports[0] + (not sender), ports[1] + sender, i, 0, flag, 7, payload=payload)
        out.append(SegmentSent(i * 10_000 + 1, conn6, other))
    return out


def test_segment_sent_records_are_re_encoded(tmp_path: Path) -> None:
    records = segments()
    path = tmp_path / "segments.pcap"
    assert write_pcap(path, [("client", r) for r in records]) == len(records)
    _, packets = read(path.read_bytes())
    assert len(packets) == len(records)
    for (ts, raw), record in zip(packets, records, strict=True):
        assert round(ts * 1_000_000) == record.time
        assert record.conn is not None
        if record.conn[0].version == 4:
            ip: dpkt.ip.IP | dpkt.ip6.IP6 = dpkt.ip.IP(raw)
            assert ip.src == record.conn[0].packed and ip.dst == record.conn[2].packed
        else:
            ip = dpkt.ip6.IP6(raw)
            assert ip.src == record.conn[0].packed and ip.dst == record.conn[2].packed
        tcp = ip.data
        assert isinstance(tcp, dpkt.tcp.TCP)
        segment = record.segment
        assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.win) == (
            segment.src_port,
            segment.dst_port,
            segment.seq,
            segment.ack,
            int(segment.flags),
            segment.window,
        )
        assert tcp.data == bytes(segment.payload)


class Sender:
    """A fake endpoint that sends pre-encoded datagrams when told to."""

    def __init__(self) -> None:
        self.outbox: list[bytes] = []
        self.received: list[bytes] = []

    def receive(self, packet: bytes, now: int) -> None:
        self.received.append(packet)

    def on_timer(self, now: int) -> None:
        pass

    def packets_to_send(self, now: int) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def next_deadline(self) -> int | None:
        return None


def simulated_trace() -> Simulator:
    sim = Simulator(5)
    a, b = Sender(), Sender()
    sim.add_host("a", a, [C4])
    sim.add_host("b", b, [S4])
    sim.link("a", "b", LinkConfig(delay=2_000, loss=0.3, duplicate=0.3, corrupt=0.2))
    for i in range(60):
        segment = Segment(40000, 80, i, 0, TcpFlags.ACK, 100, payload=bytes([i]) * i)
        packet = encode_packet(Packet(C4, S4, segment))
        sim.at(i * 1_000, lambda s, p=packet: a.outbox.append(p))
    sim.run()
    return sim


def test_simulator_capture_sent_and_delivered() -> None:
    sim = simulated_trace()
    lost = list(sim.records(kind=PacketLost))
    delivered = list(sim.records(kind=PacketDelivered))
    assert lost and len(delivered) > 60 - len(lost)  # some duplicates too

    buffer = io.BytesIO()
    assert write_pcap(buffer, sim.trace) == 60  # every datagram a host sent, lost ones too
    _, packets = read(buffer.getvalue())
    for i, (ts, raw) in enumerate(packets):
        assert round(ts * 1_000_000) == i * 1_000
        tcp = dpkt.ip.IP(raw).data
        assert tcp.seq == i and tcp.data == bytes([i]) * i

    buffer = io.BytesIO()
    assert write_pcap(buffer, sim.trace, capture="delivered") == len(delivered)
    _, packets = read(buffer.getvalue())
    assert [bytes(raw) for _, raw in packets] == [r.packet for r in delivered]
    assert [round(ts * 1_000_000) for ts, _ in packets] == [r.time for r in delivered]


def test_wire_packets_prefers_network_records() -> None:
    sim = simulated_trace()
    assert len(wire_packets(sim.trace)) == 60
    assert wire_packets([]) == []
