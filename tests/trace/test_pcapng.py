"""pcapng output: blocks parsed by hand, read back by dpkt, and the comment on
each packet naming the state changes it caused."""

from __future__ import annotations

import io
import struct
from ipaddress import ip_address
from pathlib import Path

import dpkt
import pytest
from render_helpers import demo_trace, lossy_trace, lost_count
from test_ladder import handshake_trace, network_trace, single_host_trace

from synack.cli import main
from synack.tcp.state import State
from synack.trace.model import Entry
from synack.trace.pcap import LINKTYPE_RAW, wire_packets
from synack.trace.pcapng import (
    BYTE_ORDER_MAGIC,
    ENHANCED_PACKET,
    INTERFACE_DESCRIPTION,
    SECTION_HEADER,
    PcapngWriter,
    captured_packets,
    packet_comments,
    read_pcapng,
    write_pcapng,
)
from synack.trace.records import SegmentSent, StateChanged
from synack.wire.tcp import Segment, TcpFlags


def blocks(data: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of every block, checking both length fields."""
    found, offset = [], 0
    while offset < len(data):
        block_type, total = struct.unpack_from("<II", data, offset)
        assert total % 4 == 0 and total >= 12
        assert struct.unpack_from("<I", data, offset + total - 4)[0] == total
        found.append((block_type, data[offset + 8 : offset + total - 4]))
        offset += total
    assert offset == len(data)
    return found


def test_block_layout() -> None:
    buffer = io.BytesIO()
    with PcapngWriter(buffer, snaplen=65535) as writer:
        writer.write(1_500_000, b"\x45" + bytes(20), ["one", "two ✓"])
        writer.write(2**33 + 7, memoryview(b"\x60" + bytes(39)))
    assert not buffer.closed
    (shb_type, shb), (idb_type, idb), (epb_type, epb), (_, epb2) = blocks(buffer.getvalue())
    assert shb_type == SECTION_HEADER and idb_type == INTERFACE_DESCRIPTION
    assert epb_type == ENHANCED_PACKET
    assert struct.unpack_from("<IHHq", shb) == (BYTE_ORDER_MAGIC, 1, 0, -1)
    assert struct.unpack_from("<HHI", idb) == (LINKTYPE_RAW, 0, 65535)
    assert b"\x09\x00\x01\x00\x06\x00\x00\x00" in idb  # if_tsresol = 10^-6
    interface, high, low, captured, length = struct.unpack_from("<IIIII", epb)
    assert (interface, (high << 32) | low, captured, length) == (0, 1_500_000, 21, 21)
    assert epb[20:41] == b"\x45" + bytes(20) and epb[41:44] == bytes(3)  # padded to 32 bits
    assert epb[44:] == (
        b"\x01\x00\x03\x00one\x00" + b"\x01\x00\x07\x00two \xe2\x9c\x93\x00" + b"\x00\x00\x00\x00"
    )
    assert len(epb2) == 20 + 40  # no options at all
    assert read_pcapng(buffer.getvalue()) == [
        (1_500_000, b"\x45" + bytes(20), ["one", "two ✓"]),
        (2**33 + 7, b"\x60" + bytes(39), []),
    ]


def test_snaplen_and_negative_time(tmp_path: Path) -> None:
    path = tmp_path / "short.pcapng"
    with PcapngWriter(path, snaplen=30) as writer:
        writer.write(-5, bytes(100), ["cut"])
    (_, _, (_, epb)) = blocks(path.read_bytes())
    assert struct.unpack_from("<IIIII", epb) == (0, 0, 0, 30, 100)
    assert read_pcapng(path.read_bytes()) == [(0, bytes(30), ["cut"])]


def test_demo_packets_and_comments() -> None:
    trace = demo_trace()
    data = io.BytesIO()
    assert write_pcapng(data, trace) == 9
    packets = read_pcapng(data.getvalue())
    assert [(t, p) for t, p, _ in packets] == wire_packets(trace)
    comments = [c for _, _, c in packets]
    assert comments == [
        [
            "client: CLOSED -> SYN-SENT (active OPEN)",
            "server: CLOSED -> LISTEN (passive OPEN)",  # the SYN creates the child TCB
            "server: LISTEN -> SYN-RECEIVED (rcv SYN)",
        ],
        ["client: SYN-SENT -> ESTABLISHED (rcv SYN,ACK)"],
        ["server: SYN-RECEIVED -> ESTABLISHED (rcv ACK of SYN)"],
        [],
        [],
        [
            "client: ESTABLISHED -> FIN-WAIT-1 (CLOSE)",
            "server: ESTABLISHED -> CLOSE-WAIT (rcv FIN)",
        ],
        ["client: FIN-WAIT-1 -> FIN-WAIT-2 (rcv ACK of FIN)"],
        ["server: CLOSE-WAIT -> LAST-ACK (CLOSE)", "client: FIN-WAIT-2 -> TIME-WAIT (rcv FIN)"],
        ["server: LAST-ACK -> CLOSED (rcv ACK of FIN)"],
    ]
    # an independent reader agrees on link type, times and bytes
    reader = dpkt.pcapng.Reader(io.BytesIO(data.getvalue()))
    assert reader.datalink() == LINKTYPE_RAW
    assert [(round(ts * 1_000_000), bytes(buf)) for ts, buf in reader] == wire_packets(trace)


def test_lossy_and_delivered_captures() -> None:
    trace = lossy_trace()
    sent = list(packet_comments(trace))
    lost = [c for _, _, c in sent if "lost in the network (loss)" in c]
    assert len(lost) == lost_count(trace) > 0
    delivered = list(packet_comments(trace, "delivered"))
    assert [(t, p) for t, p, _ in delivered] == wire_packets(trace, capture="delivered")
    assert len(delivered) == len(sent) - len(lost)
    assert not any("lost in the network" in " ".join(c) for _, _, c in delivered)


def test_network_trace_fates() -> None:
    comments = [c for _, _, c in packet_comments(network_trace())]
    assert comments == [
        ["client: CLOSED -> SYN-SENT (active OPEN)", "lost in the network (queue full)"],
        ["server: LISTEN -> SYN-RECEIVED (rcv SYN)", "retransmission"],
        ["client: SYN-SENT -> ESTABLISHED (rcv)"],
        ["dropped by server: bad checksum"],
    ]


def test_traces_without_network_records() -> None:
    trace = handshake_trace()
    captured = captured_packets(trace)
    assert [(c.time, c.packet) for c in captured] == wire_packets(trace)
    assert [(c.sender, c.receiver) for c in captured] == [
        ("client", "server"),
        ("server", "client"),
        ("client", "server"),
    ]
    assert [c for _, _, c in packet_comments(trace)] == [
        ["client: CLOSED -> SYN-SENT (active OPEN)", "server: LISTEN -> SYN-RECEIVED (rcv SYN)"],
        ["client: SYN-SENT -> ESTABLISHED (rcv SYN,ACK)"],
        ["server: SYN-RECEIVED -> ESTABLISHED (rcv ACK)"],
    ]
    # one traced host: its sends, with the state changes that came with them
    single = list(packet_comments(single_host_trace()))
    assert [c for _, _, c in single] == [["client: CLOSED -> SYN-SENT (active OPEN)"], []]


def test_three_hosts_and_bare_records() -> None:
    a, b, c = ip_address("10.0.0.1"), ip_address("10.0.0.2"), ip_address("10.0.0.3")
    syn = Segment(1000, 80, 7, 0, TcpFlags.SYN, 100)
    trace: list[Entry] = [
        ("a", StateChanged(0, (a, 1000, b, 80), State.CLOSED, State.SYN_SENT, "active OPEN")),
        ("a", SegmentSent(0, (a, 1000, b, 80), syn)),
        ("c", StateChanged(0, (c, 1000, b, 80), State.CLOSED, State.SYN_SENT, "active OPEN")),
        ("c", SegmentSent(0, (c, 1000, b, 80), syn)),
        ("b", StateChanged(0, (b, 80, a, 1000), State.CLOSED, State.LISTEN, "passive OPEN")),
    ]
    comments = [c for _, _, c in packet_comments(trace)]
    assert comments == [
        ["a: CLOSED -> SYN-SENT (active OPEN)", "never received by b"],
        ["c: CLOSED -> SYN-SENT (active OPEN)", "never received by b"],
    ]
    # bare records (no host names): one host's view, comments without a name
    bare = [record for host, record in trace if host == "a"]
    assert [c for _, _, c in packet_comments(bare)] == [["CLOSED -> SYN-SENT (active OPEN)"]]


def test_every_truncation_is_rejected_or_a_prefix() -> None:
    data = io.BytesIO()
    write_pcapng(data, demo_trace())
    whole = data.getvalue()
    packets = read_pcapng(whole)
    for cut in range(len(whole)):
        try:
            prefix = read_pcapng(whole[:cut])
        except ValueError:
            continue
        assert prefix == packets[: len(prefix)]
    with pytest.raises(ValueError, match="not a little-endian pcapng"):
        read_pcapng(struct.pack("<II", SECTION_HEADER, 28) + bytes(16) + struct.pack("<I", 28))


def test_cli_writes_pcapng_for_a_pcapng_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.pcapng"
    assert main(["demo", "--pcap", str(path)]) == 0
    assert f"wrote 9 packets to {path}" in capsys.readouterr().out
    assert struct.unpack_from("<I", path.read_bytes())[0] == SECTION_HEADER
    assert len(read_pcapng(path.read_bytes())) == 9
    classic = tmp_path / "demo.pcap"
    assert main(["demo", "--pcap", str(classic)]) == 0
    assert struct.unpack_from("<I", classic.read_bytes())[0] == 0xA1B2C3D4
