"""The terminal ladder and the one-line record listing, on synthetic traces."""

from __future__ import annotations

import re
from ipaddress import ip_address

from synack.tcp.state import State
from synack.trace.ladder import render_ladder, render_records
from synack.trace.records import (
    DropReason,
    PacketCorrupted,
    PacketDelivered,
    PacketDuplicated,
    PacketLost,
    PacketTransmitted,
    Record,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.trace.summary import format_flags, format_segment, peek_headers, segment_from_packet
from synack.wire.ip import Packet, encode_packet
from synack.wire.tcp import MaxSegmentSize, SackPermitted, Segment, TcpFlags, WindowScale

MS = 1_000
C, S = ip_address("10.0.0.1"), ip_address("10.0.0.2")
CLIENT = (C, 40000, S, 80)
SERVER = (S, 80, C, 40000)
CLIENT_ISN = 4294967000  # near 2**32: relative numbers must wrap correctly
SERVER_ISN = 1000
F = TcpFlags
Entry = tuple[str | None, Record]


def seg(
    sender: str, seq: int, ack: int, flags: TcpFlags, payload: bytes = b"", **kw: object
) -> Segment:
    ports = (40000, 80) if sender == "client" else (80, 40000)
    return Segment(
        ports[0], ports[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, 65535, payload=payload, **kw
    )  # type: ignore[arg-type]


SYN = seg(
    "client", CLIENT_ISN, 0, F.SYN, options=(MaxSegmentSize(1460), WindowScale(7), SackPermitted())
)
SYN_ACK = seg("server", SERVER_ISN, CLIENT_ISN + 1, F.SYN | F.ACK, options=(MaxSegmentSize(1460),))
ACK = seg("client", CLIENT_ISN + 1, SERVER_ISN + 1, F.ACK)
DATA = seg("client", CLIENT_ISN + 1, SERVER_ISN + 1, F.PSH | F.ACK, b"hello")


def handshake_trace() -> list[Entry]:
    """Two stacks joined directly (no network records), 10 ms each way."""
    return [
        ("server", UserCall(0, None, "listen(10.0.0.2:80)")),
        ("server", StateChanged(0, None, State.CLOSED, State.LISTEN, "passive OPEN")),
        ("client", UserCall(1 * MS, CLIENT, "connect()")),
        ("client", StateChanged(1 * MS, CLIENT, State.CLOSED, State.SYN_SENT, "active OPEN")),
        ("client", SegmentSent(1 * MS, CLIENT, SYN)),
        ("server", SegmentReceived(11 * MS, SERVER, SYN)),
        ("server", StateChanged(11 * MS, SERVER, State.LISTEN, State.SYN_RECEIVED, "rcv SYN")),
        ("server", SegmentSent(11 * MS, SERVER, SYN_ACK)),
        ("client", SegmentReceived(21 * MS, CLIENT, SYN_ACK)),
        ("client", StateChanged(21 * MS, CLIENT, State.SYN_SENT, State.ESTABLISHED, "rcv SYN,ACK")),
        ("client", SegmentSent(21 * MS, CLIENT, ACK)),
        ("server", SegmentReceived(31 * MS, SERVER, ACK)),
        ("server", StateChanged(31 * MS, SERVER, State.SYN_RECEIVED, State.ESTABLISHED, "rcv ACK")),
    ]


def line_with(text: str, needle: str) -> str:
    matches = [line for line in text.splitlines() if needle in line]
    assert matches, f"no line with {needle!r} in:\n{text}"
    return matches[0]


def test_handshake_reads_like_the_textbook() -> None:
    text = render_ladder(handshake_trace(), "client", "server")
    lines = text.splitlines()
    assert re.match(r"\s+time\(ms\)\s+client\s+server$", lines[0])
    assert re.match(r"\s+CLOSED\s+CLOSED$", lines[1])
    assert re.match(r"\s+0\.000\s+listen\(10\.0\.0\.2:80\)$", lines[2])
    assert lines[3].strip() == "LISTEN"
    assert re.match(r"\s+1\.000  connect\(\)$", lines[4])

    syn = lines[5]
    assert syn.startswith(" " * 12 + "SYN-SENT")  # same time as the line above: no stamp
    assert "── SYN seq=0 (4294967000) win=65535 <mss 1460,ws 7,sackOK> ─" in syn
    assert syn.endswith("── 11.000 ─▶")

    synack = lines[6]
    assert synack.startswith("    11.000 ")
    assert "◀─ 21.000 ──" in synack
    assert "SYN,ACK seq=0 (1000) ack=1 (4294967001) win=65535 <mss 1460> ──" in synack
    assert synack.endswith("──  SYN-RECEIVED") or synack.endswith("── SYN-RECEIVED")

    ack = lines[7]
    assert re.match(r"\s+21\.000  ESTABLISHED\s+── ACK seq=1 \(4294967001\) ack=1 \(1001\)", ack)
    assert ack.endswith("31.000 ─▶")
    assert re.match(r"\s+31\.000\s+ESTABLISHED$", lines[8])
    assert len(lines) == 9


def test_columns_are_aligned() -> None:
    text = render_ladder(handshake_trace(), "client", "server")
    lines = text.splitlines()
    arrow_starts = {lines[i].index("─") for i in (5, 7)}
    assert len(arrow_starts) == 1  # rightward arrows start in the same column
    right_column = lines[0].index("server")
    assert lines[6].index("SYN-RECEIVED") == right_column
    assert lines[8].index("ESTABLISHED") == right_column
    assert lines[3].index("LISTEN") == right_column
    assert lines[5].index("▶") == lines[7].index("▶")


def test_absolute_numbers_only() -> None:
    text = render_ladder(handshake_trace(), "client", "server", relative=False)
    assert "SYN,ACK seq=1000 ack=4294967001 win=65535" in text
    assert "(4294967001)" not in text


def test_width_is_respected_by_shortening_labels() -> None:
    wide = render_ladder(handshake_trace(), "client", "server")
    assert max(map(len, wide.splitlines())) > 100
    for width in (100, 80, 60):
        text = render_ladder(handshake_trace(), "client", "server", width=width)
        assert max(map(len, text.splitlines())) <= width, text
        assert "SYN-RECEIVED" in text
    narrow = render_ladder(handshake_trace(), "client", "server", width=80)
    assert "── SYN seq=0 win=65535" in narrow  # options and absolute values went first


def test_lost_retransmitted_and_dropped() -> None:
    trace = [
        *handshake_trace(),
        ("client", UserCall(40 * MS, CLIENT, "send(5)")),
        ("client", SegmentSent(40 * MS, CLIENT, DATA)),  # never received: lost
        ("client", TimerFired(240 * MS, CLIENT, "RTO")),
        ("client", SegmentSent(240 * MS, CLIENT, DATA, retransmission=True)),
        ("server", SegmentReceived(250 * MS, SERVER, DATA)),
        ("server", SegmentDropped(250 * MS, SERVER, DATA, DropReason.RECEIVE_BUFFER_FULL)),
    ]
    text = render_ladder(trace, "client", "server")
    first = line_with(text, "send(5)")
    assert "PSH,ACK seq=1 (4294967001) ack=1 (1001) len=5" in first
    assert "✕ not received" in first and "▶" not in first
    again = line_with(text, "timer: RTO")
    assert "(retransmission)" in again and again.endswith("250.000 ─▶")
    drop = line_with(text, "✕ no room in the receive buffer")
    assert drop.startswith("   250.000")


def single_host_trace() -> list[Entry]:
    """Only the client traced (a real peer on the other side)."""
    return [(host, record) for host, record in handshake_trace() if host == "client"]


def test_single_host_trace_draws_receipts_from_the_peer() -> None:
    text = render_ladder(single_host_trace(), "client", "peer")
    synack = line_with(text, "SYN,ACK")
    assert synack.startswith("    21.000") and "◀" in synack
    syn = line_with(text, "── SYN ")
    assert syn.rstrip().endswith("▶") and "not received" not in syn


def encode(record: SegmentSent) -> bytes:
    assert record.conn is not None
    return encode_packet(Packet(record.conn[0], record.conn[2], record.segment))


def network_trace() -> list[Entry]:
    """The simulator's view: host records plus the network's packet records."""
    syn = SegmentSent(1 * MS, CLIENT, SYN)
    syn_again = SegmentSent(1001 * MS, CLIENT, SYN, retransmission=True)
    synack = SegmentSent(1011 * MS, SERVER, SYN_ACK)
    ack = SegmentSent(1021 * MS, CLIENT, ACK)
    p1, p2, p3, p4 = encode(syn), encode(syn_again), encode(synack), encode(ack)
    corrupted = bytearray(p4)
    corrupted[-1] ^= 1
    return [
        ("client", StateChanged(1 * MS, CLIENT, State.CLOSED, State.SYN_SENT, "active OPEN")),
        ("client", syn),
        (None, PacketTransmitted(1 * MS, CLIENT, 1, "client", "server", p1)),
        (None, PacketLost(1 * MS, CLIENT, 1, "client", "server", p1, "queue full")),
        ("client", TimerFired(1001 * MS, CLIENT, "RTO")),
        ("client", syn_again),
        (None, PacketTransmitted(1001 * MS, CLIENT, 2, "client", "server", p2)),
        (None, PacketDelivered(1011 * MS, SERVER, 2, "client", "server", p2, 1001 * MS)),
        ("server", SegmentReceived(1011 * MS, SERVER, SYN)),
        ("server", StateChanged(1011 * MS, SERVER, State.LISTEN, State.SYN_RECEIVED, "rcv SYN")),
        ("server", synack),
        (None, PacketTransmitted(1011 * MS, SERVER, 3, "server", "client", p3)),
        (None, PacketDuplicated(1011 * MS, SERVER, 3, "server", "client", p3, 4)),
        (None, PacketDelivered(1021 * MS, SERVER, 3, "server", "client", p3, 1011 * MS)),
        ("client", StateChanged(1021 * MS, CLIENT, State.SYN_SENT, State.ESTABLISHED, "rcv")),
        ("client", ack),
        (None, PacketTransmitted(1021 * MS, CLIENT, 5, "client", "server", p4)),
        (None, PacketCorrupted(1021 * MS, CLIENT, 5, "client", "server", bytes(corrupted), 7)),
        (None, PacketDelivered(1022 * MS, SERVER, 4, "server", "client", p3, 1011 * MS)),
        (
            None,
            PacketDelivered(1031 * MS, CLIENT, 5, "client", "server", bytes(corrupted), 1021 * MS),
        ),
        ("server", SegmentDropped(1031 * MS, None, None, DropReason.BAD_CHECKSUM)),
        ("elsewhere", UserCall(1031 * MS, None, "ignored: not one of the two hosts")),
    ]


def test_network_records_give_each_arrow_its_fate() -> None:
    text = render_ladder(network_trace(), "client", "server")
    lost = line_with(text, "SYN-SENT")
    assert "── SYN seq=0 (4294967000)" in lost
    assert "✕ lost (queue full)" in lost and "▶" not in lost
    again = line_with(text, "timer: RTO")
    assert "(retransmission)" in again and again.endswith("1011.000 ─▶")
    synack = line_with(text, "SYN,ACK")
    assert "(duplicated)" in synack and "◀─ 1021.000" in synack
    ack = line_with(text, "ESTABLISHED")
    assert "(corrupted)" in ack and ack.endswith("1031.000 ─▶")
    assert line_with(text, "✕ bad checksum").startswith("  1031.000 ")
    assert "ignored" not in text


def test_network_only_trace_draws_arrows_from_bytes() -> None:
    trace = [entry for entry in network_trace() if entry[0] is None]
    text = render_ladder(trace, "client", "server")
    assert "✕ lost (queue full)" in line_with(text, "     1.000")
    assert "SYN,ACK seq=0 (1000) ack=1 (4294967001)" in text
    assert "(retransmission)" not in text  # the bytes cannot tell


def test_trace_without_packet_records_pairs_by_receipts() -> None:
    # Simulator(trace_packets=False): losses are recorded, transmissions not.
    trace = [
        e for e in network_trace() if not isinstance(e[1], PacketTransmitted | PacketDelivered)
    ]
    text = render_ladder(trace, "client", "server")
    assert "✕ not received" in line_with(text, "SYN-SENT")
    assert line_with(text, "timer: RTO").endswith("1011.000 ─▶")


def test_lost_leftward_arrow() -> None:
    synack = SegmentSent(11 * MS, SERVER, SYN_ACK)
    packet = encode(synack)
    trace: list[Entry] = [
        ("server", synack),
        (None, PacketTransmitted(11 * MS, SERVER, 1, "server", "client", packet)),
        (None, PacketLost(11 * MS, SERVER, 1, "server", "client", packet, "loss")),
    ]
    line = line_with(render_ladder(trace, "client", "server"), "SYN,ACK")
    assert re.search(r"lost ✕─+ SYN,ACK", line)


def test_color_only_when_asked() -> None:
    plain = render_ladder(network_trace(), "client", "server")
    assert "\x1b[" not in plain
    colored = render_ladder(network_trace(), "client", "server", color=True)
    assert "\x1b[" in colored
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


def test_empty_trace() -> None:
    assert render_ladder([], "a", "b").splitlines()[0].split() == ["time(ms)", "a", "b"]
    assert render_records([]) == ""


def test_render_records_one_line_each() -> None:
    trace = network_trace()
    text = render_records(trace)
    lines = text.splitlines()
    assert len(lines) == len(trace)
    assert lines[0] == (
        "     1.000  client     StateChanged 10.0.0.1:40000 > 10.0.0.2:80 "
        "CLOSED -> SYN-SENT (active OPEN)"
    )
    assert "network" in lines[2] and "PacketTransmitted #1 client->server" in lines[2]
    assert "PacketLost #1 client->server [queue full]" in lines[3]
    assert "10.0.0.1:40000 > 10.0.0.2:80 SYN seq=4294967000" in lines[3]
    assert lines[20].endswith("server     SegmentDropped -: bad checksum")
    plain_records = render_records([record for _, record in trace])
    assert plain_records.splitlines()[0].startswith("     1.000")


def test_summary_helpers() -> None:
    assert format_flags(F.SYN | F.ACK) == "SYN,ACK"
    assert format_flags(F.FIN | F.PSH | F.ACK) == "FIN,PSH,ACK"
    assert format_flags(TcpFlags(0)) == "none"
    # relative numbers wrap around 2**32
    wrapped = seg("client", CLIENT_ISN + 400, SERVER_ISN + 1, F.ACK, b"x" * 3)
    assert format_segment(wrapped, seq_base=CLIENT_ISN, ack_base=SERVER_ISN) == (
        "ACK seq=400 (104) ack=1 (1001) len=3 win=65535"
    )
    packet = encode(SegmentSent(0, CLIENT, DATA))
    headers = peek_headers(packet)
    assert headers is not None and headers.tcp is not None
    assert headers.conn == CLIENT
    assert headers.tcp.payload_length == 5
    decoded = segment_from_packet(packet)
    assert decoded is not None and bytes(decoded.payload) == b"hello"
    assert peek_headers(b"") is None and peek_headers(b"\x75" + bytes(40)) is None
    not_tcp = peek_headers(b"\x45" + bytes(30))
    assert not_tcp is not None and not_tcp.tcp is None and not_tcp.conn is None
    for cut in range(len(packet)):
        peek_headers(packet[:cut])  # never raises
