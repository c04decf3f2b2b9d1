"""What each scenario must show, checked on its trace (independently of the
scenario's own ``Fact``s, which must hold too)."""

from __future__ import annotations

import itertools
from functools import cache

import pytest

from synack.scenarios import SCENARIOS, Params, ScenarioRun, run_scenario
from synack.scenarios.lab import Part
from synack.tcp.config import TcpConfig
from synack.tcp.state import State
from synack.trace.records import (
    PacketLost,
    SegmentDropped,
    SegmentSent,
    StateChanged,
    TimerFired,
)
from synack.wire.tcp import TcpFlags

S = State
SYN, ACK, FIN, RST = TcpFlags.SYN, TcpFlags.ACK, TcpFlags.FIN, TcpFlags.RST


@cache
def run(name: str) -> ScenarioRun:
    return run_scenario(SCENARIOS[name])


def states(part: Part, host: str) -> list[State]:
    return [r.new for r in part.sim.records(host, kind=StateChanged)]


def sent(part: Part, host: str) -> list[SegmentSent]:
    return list(part.sim.records(host, kind=SegmentSent))


def flags(record: SegmentSent) -> int:
    return int(record.segment.flags)


def observed(part: Part, host: str, text: str) -> bool:
    return any(o.host == host and text in str(o.params.get("error")) for o in part.observations)


def test_the_issue_lists_every_scenario_in_order() -> None:
    assert list(SCENARIOS) == [
        "handshake",
        "close",
        "why-three",
        "why-four",
        "time-wait",
        "close-wait-leak",
        "simultaneous-open",
        "simultaneous-close",
        "half-close",
        "refused",
        "abort",
        "unread-close",
        "lossy-transfer",
    ]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_fact_holds_by_default(name: str) -> None:
    result = run(name)
    failing = [f.text("en") for part in result.parts for f in part.facts if not f.holds]
    assert not failing
    assert result.shows_its_point
    assert all(part.facts for part in result.parts)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_deterministic(name: str) -> None:
    first, second = run_scenario(SCENARIOS[name]), run_scenario(SCENARIOS[name])
    assert [p.trace for p in first.parts] == [p.trace for p in second.parts]
    other = run_scenario(SCENARIOS[name], Params(seed=2))
    assert [p.trace for p in other.parts] != [p.trace for p in first.parts]  # the seed matters


def test_handshake_three_segments_with_isn_plus_one() -> None:
    (part,) = run("handshake").parts
    client, server = sent(part, "client"), sent(part, "server")
    assert [flags(r) for r in client] == [SYN, ACK]
    assert [flags(r) for r in server] == [SYN | ACK]
    assert server[0].segment.ack == (client[0].segment.seq + 1) & 0xFFFFFFFF
    assert client[1].segment.ack == (server[0].segment.seq + 1) & 0xFFFFFFFF
    assert states(part, "client") == [S.SYN_SENT, S.ESTABLISHED]
    assert states(part, "server") == [S.LISTEN, S.SYN_RECEIVED, S.ESTABLISHED]


def test_close_is_four_segments_then_time_wait() -> None:
    (part,) = run("close").parts
    assert states(part, "client")[-4:] == [S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT, S.CLOSED]
    assert states(part, "server")[-3:] == [S.CLOSE_WAIT, S.LAST_ACK, S.CLOSED]
    timers = [r for r in part.sim.records("client", kind=TimerFired)]
    entered = next(
        r.time for r in part.sim.records("client", kind=StateChanged) if r.new is S.TIME_WAIT
    )
    assert timers[-1].timer == "TIME-WAIT 2MSL"
    assert timers[-1].time - entered == TcpConfig().time_wait  # 2*MSL (MUST-13)


def test_why_three_two_way_variant_establishes_a_stale_connection() -> None:
    broken, _ = run("why-three").parts
    assert "BROKEN" in broken.label("en") and "never the default" in broken.label("en")
    assert S.ESTABLISHED in states(broken, "server")
    assert S.SYN_RECEIVED not in states(broken, "server")  # LISTEN -> ESTABLISHED directly
    assert any(r.segment.payload for r in sent(broken, "server"))  # the app served it
    # The client gave up before the stale SYN arrived.
    client_closed = next(
        r.time for r in broken.sim.records("client", kind=StateChanged) if r.new is S.CLOSED
    )
    syn_arrived = next(
        r.time for r in broken.sim.records("server", kind=StateChanged) if r.new is S.LISTEN
    )
    assert client_closed < syn_arrived


def test_why_three_real_variant_rejects_the_stale_syn() -> None:
    _, real = run("why-three").parts
    assert S.ESTABLISHED not in states(real, "server")
    assert states(real, "server") == [S.LISTEN, S.SYN_RECEIVED, S.LISTEN]  # MUST-11
    client = sent(real, "client")
    assert [flags(r) for r in client] == [SYN, RST]
    synack = sent(real, "server")[0].segment
    assert client[1].segment.seq == synack.ack  # <SEQ=SEG.ACK><CTL=RST>
    assert not any(r.segment.payload for r in sent(real, "server"))


def test_the_two_way_flag_is_only_on_in_the_teaching_run() -> None:
    assert TcpConfig().teaching_two_way_handshake is False
    for name in SCENARIOS:
        for index, part in enumerate(run(name).parts):
            teaching = name == "why-three" and index == 0
            host = part.sim.hosts[part.right].endpoint
            assert host.stack.config.teaching_two_way_handshake is teaching  # type: ignore[attr-defined]


def test_why_four_ack_and_fin_apart_with_data_between() -> None:
    four, three = run("why-four").parts
    server = sent(four, "server")
    close_wait = next(
        r.time for r in four.sim.records("server", kind=StateChanged) if r.new is S.CLOSE_WAIT
    )
    after = [r for r in server if r.time >= close_wait]
    kinds = ["FIN" if flags(r) & FIN else "data" if r.segment.payload else "ACK" for r in after]
    assert kinds[0] == "ACK" and kinds[-1] == "FIN" and "data" in kinds[1:-1]
    server3 = sent(three, "server")
    fin = [r for r in server3 if flags(r) & FIN]
    assert len(fin) == 1 and not [r for r in server3 if r.time > 0 and flags(r) == ACK]
    client_fin = next(r.segment for r in sent(three, "client") if flags(r) & FIN)
    assert fin[0].segment.ack == (client_fin.seq + 1) & 0xFFFFFFFF  # FIN piggy-backs the ACK


def test_time_wait_answers_the_retransmitted_fin() -> None:
    normal, _ = run("time-wait").parts
    lost = [r for r in normal.sim.records(kind=PacketLost)]
    assert len(lost) == 1 and lost[0].src_host == "client"
    server = sent(normal, "server")
    assert any(r.retransmission and flags(r) & FIN for r in server)
    drops = [r.reason.name for r in normal.sim.records("client", kind=SegmentDropped)]
    assert "TIME_WAIT" in drops  # the repeated FIN met the TIME-WAIT connection ...
    client = sent(normal, "client")
    assert [flags(r) for r in client[-2:]] == [ACK, ACK]  # ... which ACKed it again
    assert not any(flags(r) & RST for r in [*client, *server])
    assert states(normal, "server")[-1] is S.CLOSED


def test_time_wait_zero_lets_the_retransmitted_fin_meet_a_rst() -> None:
    _, zero = run("time-wait").parts
    assert "zero" in zero.label("en")
    server = sent(zero, "server")
    fin_again = next(r for r in server if r.retransmission and flags(r) & FIN)
    rst = [r for r in sent(zero, "client") if flags(r) & RST]
    assert len(rst) == 1 and rst[0].time > fin_again.time
    assert rst[0].segment.seq == fin_again.segment.ack
    closed = [r for r in zero.sim.records("server", kind=StateChanged) if r.new is S.CLOSED]
    assert closed and "RST" in closed[-1].cause


def test_close_wait_leak() -> None:
    (part,) = run("close-wait-leak").parts
    server_stack = part.sim.hosts["server"].endpoint.stack  # type: ignore[attr-defined]
    assert [conn.state for conn in server_stack.connections] == [S.CLOSE_WAIT]
    assert not any(flags(r) & FIN for r in sent(part, "server"))
    changes = list(part.sim.records("client", kind=StateChanged))
    fin_wait_2 = next(r.time for r in changes if r.new is S.FIN_WAIT_2)
    assert changes[-1].new is S.CLOSED and changes[-1].cause == "FIN-WAIT-2 timeout"
    assert changes[-1].time - fin_wait_2 == TcpConfig().fin_wait_2_timeout


def test_simultaneous_open_and_close() -> None:
    (opening,) = run("simultaneous-open").parts
    for host in ("A", "B"):
        assert states(opening, host) == [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED]
        assert [flags(r) for r in sent(opening, host)] == [SYN, SYN | ACK]
    (closing,) = run("simultaneous-close").parts
    for host in ("A", "B"):
        assert states(closing, host)[-4:] == [S.FIN_WAIT_1, S.CLOSING, S.TIME_WAIT, S.CLOSED]


def test_half_close_data_flows_back_after_the_fin() -> None:
    (part,) = run("half-close").parts
    client_fin = next(r.time for r in sent(part, "client") if flags(r) & FIN)
    data_back = [r for r in sent(part, "server") if r.segment.payload]
    assert data_back and all(r.time > client_fin for r in data_back)
    assert states(part, "client")[:3] == [S.SYN_SENT, S.ESTABLISHED, S.FIN_WAIT_1]


def test_refused() -> None:
    (part,) = run("refused").parts
    (rst,) = sent(part, "server")
    syn = sent(part, "client")[0].segment
    assert flags(rst) == RST | ACK and rst.segment.seq == 0
    assert rst.segment.ack == (syn.seq + 1) & 0xFFFFFFFF
    assert observed(part, "client", "ConnectionRefusedError (ECONNREFUSED)")


def test_abort_and_unread_close_send_rst_not_fin() -> None:
    (abort,) = run("abort").parts
    client = sent(abort, "client")
    assert flags(client[-1]) == RST | ACK and not any(flags(r) & FIN for r in client)
    assert S.TIME_WAIT not in states(abort, "client")
    assert observed(abort, "server", "ECONNRESET")
    (unread,) = run("unread-close").parts
    server = sent(unread, "server")
    assert any(flags(r) == RST | ACK for r in server) and not any(flags(r) & FIN for r in server)
    closed = next(r for r in unread.sim.records("server", kind=StateChanged) if r.new is S.CLOSED)
    assert "unread" in closed.cause
    assert observed(unread, "client", "ECONNRESET")


def test_lossy_transfer_has_rto_backoff_and_fast_retransmit() -> None:
    (part,) = run("lossy-transfer").parts
    client = sent(part, "client")
    rto = [r.time for r in part.sim.records("client", kind=TimerFired) if r.timer == "RTO"]
    assert len(rto) >= 2
    data_rtx = [r for r in client if r.retransmission and r.segment.payload]
    on_timeout = [r for r in data_rtx if r.time in rto]
    fast = [r for r in data_rtx if r.time not in rto]
    assert fast, "no fast retransmit"
    # the same segment timed out twice, the second wait longer (backoff, RFC 6298 5.5)
    seq = on_timeout[-1].segment.seq
    times = [r.time for r in client if r.segment.seq == seq and r.segment.payload]
    waits = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(waits) >= 2 and waits[-1] > waits[-2]
    lost = list(part.sim.records(kind=PacketLost))
    assert len(lost) == 3
