"""Wireshark's tshark reads synack's pcap and pcapng files: no malformed
packets, good checksums, and the flags and numbers of the trace.

`make test` installs tshark (tools/install-deps.sh); elsewhere these tests
skip when it is missing."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from ipaddress import ip_address
from pathlib import Path

import pytest
from render_helpers import demo_trace, lossy_trace

from synack.net.sim import TraceEntry
from synack.trace.model import Entry
from synack.trace.pcap import wire_packets, write_pcap
from synack.trace.pcapng import packet_comments, write_pcapng
from synack.trace.records import SegmentSent
from synack.trace.summary import peek_headers
from synack.wire.tcp import (
    MaxSegmentSize,
    NoOperation,
    Sack,
    SackPermitted,
    Segment,
    TcpFlags,
    Timestamps,
    WindowScale,
)

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(
    TSHARK is None,
    reason="tshark is not installed (tools/install-deps.sh installs it as root; make test runs it)",
)


def tshark(path: Path, *args: str) -> list[str]:
    assert TSHARK is not None
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def expected(trace: Sequence[Entry] | Sequence[TraceEntry]) -> list[tuple[int, int, int]]:
    """(flags, seq, ack or None) of each captured packet, read from its bytes."""
    rows = []
    for _, packet in wire_packets(trace):
        headers = peek_headers(packet)
        assert headers is not None and headers.tcp is not None
        tcp = headers.tcp
        rows.append((tcp.flags, tcp.seq, tcp.ack if tcp.flags & TcpFlags.ACK else -1))
    return rows


def check_file(path: Path, trace: Sequence[Entry] | Sequence[TraceEntry]) -> None:
    assert tshark(path, "-Y", "_ws.malformed") == []
    assert tshark(path, "-o", "tcp.check_checksum:TRUE", "-Y", "tcp.checksum.status == 0") == []
    assert tshark(path, "-o", "ip.check_checksum:TRUE", "-Y", "ip.checksum.status == 0") == []
    fields = ["-T", "fields", "-e", "tcp.flags", "-e", "tcp.seq_raw", "-e", "tcp.ack_raw"]
    seen = []
    for line in tshark(path, *fields):
        flags, seq, ack = line.split("\t")
        flag_bits = int(flags, 0)
        seen.append((flag_bits, int(seq), int(ack) if flag_bits & TcpFlags.ACK else -1))
    assert seen == expected(trace)


def write_both(tmp_path: Path, trace: Sequence[Entry] | Sequence[TraceEntry]) -> tuple[Path, Path]:
    pcap, pcapng = tmp_path / "trace.pcap", tmp_path / "trace.pcapng"
    write_pcap(pcap, trace)
    write_pcapng(pcapng, trace)
    return pcap, pcapng


def test_demo(tmp_path: Path) -> None:
    trace = demo_trace()
    for path in write_both(tmp_path, trace):
        check_file(path, trace)


def test_lossy_demo(tmp_path: Path) -> None:
    trace = lossy_trace()
    for path in write_both(tmp_path, trace):
        check_file(path, trace)


def test_pcapng_comments_reach_wireshark(tmp_path: Path) -> None:
    for trace in (demo_trace(), lossy_trace()):
        _, pcapng = write_both(tmp_path, trace)
        lines = tshark(pcapng, "-T", "fields", "-e", "frame.comment", "-E", "aggregator=|")
        assert lines == ["|".join(comments) for _, _, comments in packet_comments(trace)]
        assert lines[0].startswith("client: CLOSED -> SYN-SENT (active OPEN)|")
    assert any("lost in the network (loss)" in line for line in lines)


def test_ipv4_and_ipv6_with_options(tmp_path: Path) -> None:
    c4, s4 = ip_address("10.0.0.1"), ip_address("10.0.0.2")
    c6, s6 = ip_address("2001:db8::1"), ip_address("2001:db8::2")
    options = (
        MaxSegmentSize(1460),
        SackPermitted(),
        Timestamps(4294967295, 0),
        NoOperation(),
        WindowScale(14),
    )
    sack = (NoOperation(), NoOperation(), Sack(((4294967000, 4294967290), (10, 20))))
    segments = [
        Segment(40000, 80, 4294967295, 0, TcpFlags.SYN, 65535, options=options),
        Segment(80, 40000, 7, 0, TcpFlags.SYN | TcpFlags.ACK, 1, options=options),
        Segment(40000, 80, 0, 8, TcpFlags.PSH | TcpFlags.ACK, 512, payload=b"x" * 1400),
        Segment(80, 40000, 8, 1400, TcpFlags.ACK, 0, options=sack),
        Segment(40000, 80, 1400, 8, TcpFlags.FIN | TcpFlags.ACK | TcpFlags.URG, 9, urgent=1),
        Segment(80, 40000, 8, 0, TcpFlags.RST, 0),
    ]
    trace: list[Entry] = []
    for index, segment in enumerate(segments):
        for client, server in ((c4, s4), (c6, s6)):
            outbound = segment.src_port == 40000
            conn = (client, 40000, server, 80) if outbound else (server, 80, client, 40000)
            host = "client" if outbound else "server"
            trace.append((host, SegmentSent(index * 1000, conn, segment)))
    for path in write_both(tmp_path, trace):
        check_file(path, trace)
        assert tshark(path, "-Y", "ipv6") != [] and tshark(path, "-Y", "ip") != []
