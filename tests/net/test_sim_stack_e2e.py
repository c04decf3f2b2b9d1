"""End to end: two real ``Stack``s over the simulator, drawn as a ladder and
captured as pcap.  The client connects, sends b"hello", the server echoes
it, the client closes first, then the server (RFC 9293 figure 5, the whole
lifecycle: 3.5 handshake, 3.6 close, MUST-13 TIME-WAIT of 2*MSL)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from ipaddress import ip_address

import dpkt

from synack.net import LinkConfig, Simulator, drop_flags
from synack.tcp.config import MS, SECOND
from synack.tcp.connection import Connection
from synack.tcp.stack import Listener, Stack
from synack.tcp.state import State
from synack.trace.ladder import render_ladder, render_records
from synack.trace.pcap import write_pcap
from synack.trace.records import PacketLost, SegmentSent, StateChanged
from synack.wire.ip import parse_packet
from synack.wire.tcp import TcpFlags

C, S = ip_address("10.0.0.1"), ip_address("10.0.0.2")
PORT = 80


@dataclass
class Echo:
    sim: Simulator
    client: Stack
    server: Stack
    listener: Listener
    client_conn: Connection | None = None
    server_conn: Connection | None = None


def setup(seed: int = 2024, config: LinkConfig | None = None) -> Echo:
    sim = Simulator(seed)
    stacks = {}
    for name, address in (("client", C), ("server", S)):
        stacks[name] = Stack(
            [address],
            isn_secret=sim.random_for(f"{name}/isn").randbytes(16),
            random=sim.random_for(f"{name}/ports"),
            trace=sim.sink_for(name),
        )
        sim.add_host(name, stacks[name], [address])
    sim.link("client", "server", config or LinkConfig(delay=10 * MS))
    listener = stacks["server"].listen(S, PORT)
    sim.flush("server")
    return Echo(sim, stacks["client"], stacks["server"], listener)


def run_echo(echo: Echo, *, full_time_wait: bool = True) -> bytes:
    """Drive the whole exchange; returns what the client read back.

    ``full_time_wait``: check the client stayed 2*MSL in TIME-WAIT (a
    duplicated last ACK can draw a RST from the server's listener, and a RST
    ends TIME-WAIT early, 3.10.7.4, as Linux without tcp_rfc1337)."""
    sim = echo.sim

    def connect(s: Simulator) -> None:
        echo.client_conn = echo.client.connect(C, S, PORT, s.now)

    sim.at(1 * MS, connect)

    def accepted(s: Simulator) -> bool:
        try:
            echo.server_conn = echo.server.accept(echo.listener)
        except BlockingIOError:
            return False
        return True

    sim.run_until(accepted, timeout=10 * SECOND)
    client, server = echo.client_conn, echo.server_conn
    assert client is not None and server is not None
    assert client.state is State.ESTABLISHED and server.state is State.ESTABLISHED

    sim.call_soon(lambda s: client.send(b"hello", s.now))
    sim.run_until(lambda s: len(server.receive_buffer) == 5, timeout=10 * SECOND)
    sim.call_soon(lambda s: server.send(server.recv(100, s.now), s.now))  # echo
    sim.run_until(lambda s: len(client.receive_buffer) == 5, timeout=10 * SECOND)
    echoed = client.recv(100, sim.now)

    sim.call_soon(lambda s: client.close(s.now))  # active close
    sim.run_until(lambda s: server.state is State.CLOSE_WAIT, timeout=10 * SECOND)
    assert client.state in (State.FIN_WAIT_1, State.FIN_WAIT_2)
    sim.run_until(lambda s: client.state is State.FIN_WAIT_2, timeout=10 * SECOND)
    assert server.recv(100, sim.now) == b""  # the FIN reads as end of stream

    sim.call_soon(lambda s: server.close(s.now))  # passive close
    sim.run_until(lambda s: client.state is State.TIME_WAIT, timeout=10 * SECOND)
    entered_time_wait = sim.now
    sim.run_until(lambda s: server.state is State.CLOSED, timeout=10 * SECOND)
    sim.run()  # to the end: TIME-WAIT expires, nothing is left to do
    assert client.state is State.CLOSED
    if full_time_wait:
        assert sim.now - entered_time_wait >= echo.client.config.time_wait  # MUST-13
    assert echo.client.connections == [] and echo.server.connections == []
    return echoed


def states(echo: Echo, host: str) -> list[State]:
    return [r.new for r in echo.sim.records(host, kind=StateChanged)]


def test_echo_lifecycle_states() -> None:
    echo = setup()
    assert run_echo(echo) == b"hello"
    assert states(echo, "client") == [
        State.SYN_SENT,
        State.ESTABLISHED,
        State.FIN_WAIT_1,
        State.FIN_WAIT_2,
        State.TIME_WAIT,
        State.CLOSED,
    ]
    assert states(echo, "server")[-5:] == [
        State.SYN_RECEIVED,
        State.ESTABLISHED,
        State.CLOSE_WAIT,
        State.LAST_ACK,
        State.CLOSED,
    ]


def side_of(line: str, word: str, header: str) -> str:
    """Which column a state name is printed in."""
    return "server" if line.index(word) >= header.index("server") else "client"


def test_ladder_shows_the_whole_lifecycle() -> None:
    echo = setup()
    run_echo(echo)
    text = render_ladder(echo.sim.trace, "client", "server")
    lines = text.splitlines()
    header = lines[0]
    expected = [
        ("SYN-SENT", "client"),
        ("SYN-RECEIVED", "server"),
        ("ESTABLISHED", "client"),
        ("ESTABLISHED", "server"),
        ("FIN-WAIT-1", "client"),
        ("CLOSE-WAIT", "server"),
        ("FIN-WAIT-2", "client"),
        ("LAST-ACK", "server"),
        ("TIME-WAIT", "client"),
        ("CLOSED", "server"),
        ("CLOSED", "client"),
    ]
    found = []
    for line in lines[2:]:
        for word in (
            "SYN-SENT",
            "SYN-RECEIVED",
            "ESTABLISHED",
            "FIN-WAIT-1",
            "CLOSE-WAIT",
            "FIN-WAIT-2",
            "LAST-ACK",
            "TIME-WAIT",
            "CLOSED",
        ):
            # a state name stands alone in its column (not inside "timer: TIME-WAIT 2MSL")
            for side_text in (line[12:24], line[header.index("server") :]):
                if side_text.split()[:1] == [word]:
                    found.append((word, side_of(line, word, header)))
    # the handshake's two ESTABLISHED lines can come in either order
    assert sorted(found) == sorted(expected), text
    assert found.index(("SYN-SENT", "client")) < found.index(("FIN-WAIT-1", "client"))
    assert found.index(("FIN-WAIT-1", "client")) < found.index(("TIME-WAIT", "client"))
    assert found[-1] == ("CLOSED", "client"), text
    assert "connect()" in text and "close()" in text
    assert "len=5" in text
    syn = next(line for line in lines if "── SYN seq=0 (" in line)
    assert syn.rstrip().endswith("─▶") and "SYN-SENT" in syn
    assert any("SYN,ACK seq=0 (" in line and "ack=1 (" in line for line in lines)
    assert "timer: TIME-WAIT" in text
    assert (
        max(map(len, render_ladder(echo.sim.trace, "client", "server", width=100).splitlines()))
        <= 100
    )
    assert len(render_records(echo.sim.trace).splitlines()) == len(echo.sim.trace)


def test_pcap_of_the_exchange_is_valid() -> None:
    echo = setup()
    run_echo(echo)
    buffer = io.BytesIO()
    count = write_pcap(buffer, echo.sim.trace)
    sent = list(echo.sim.records(kind=SegmentSent))
    assert count == len(sent) >= 9  # handshake 3, data + ACKs, 4 for the close
    reader = dpkt.pcap.Reader(io.BytesIO(buffer.getvalue()))
    assert reader.datalink() == 101
    payloads = []
    for (timestamp, raw), record in zip(reader, sent, strict=True):
        assert round(timestamp * 1_000_000) == record.time
        ip = dpkt.ip.IP(raw)
        tcp = ip.data
        assert (tcp.seq, tcp.ack, tcp.flags) == (
            record.segment.seq,
            record.segment.ack,
            int(record.segment.flags),
        )
        parse_packet(raw)  # our own codec verifies both checksums
        if tcp.data:
            payloads.append(bytes(tcp.data))
    assert payloads == [b"hello", b"hello"]


def test_lost_fin_is_retransmitted_and_drawn_as_lost() -> None:
    config = LinkConfig(delay=10 * MS, drop_filter=drop_flags(TcpFlags.FIN))
    echo = setup(config=config)
    assert run_echo(echo) == b"hello"
    lost = list(echo.sim.records(kind=PacketLost))
    assert [r.reason for r in lost] == ["filter"]
    text = render_ladder(echo.sim.trace, "client", "server")
    fin_lines = [line for line in text.splitlines() if "FIN," in line and "──" in line]
    assert "✕ lost (filter)" in fin_lines[0]
    assert "(retransmission)" in fin_lines[1] and fin_lines[1].rstrip().endswith("─▶")
    assert "timer: RTO" in text


def test_lossy_link_still_echoes_and_is_deterministic() -> None:
    config = LinkConfig(delay=5 * MS, jitter=2 * MS, loss=0.2, duplicate=0.1, reorder=0.1)
    first = setup(seed=9, config=config)
    assert run_echo(first, full_time_wait=False) == b"hello"
    second = setup(seed=9, config=config)
    run_echo(second, full_time_wait=False)
    # (a repr of the whole trace would show the addresses of payload memoryviews)
    assert render_records(first.sim.trace) == render_records(second.sim.trace)
    network = [repr(e.record) for e in first.sim.trace if e.host is None]
    assert network == [repr(e.record) for e in second.sim.trace if e.host is None]
    assert first.sim.now == second.sim.now
    assert render_ladder(first.sim.trace, "client", "server") == render_ladder(
        second.sim.trace, "client", "server"
    )
