"""Rules shared by every synchronized state, checked in each of them:
RST processing (3.10.7.4 second step, RFC 5961 3), SYN handling (RFC 5961
4), the sequence check's ACK, and ABORT (3.10.5).

Each case names a builder, our SND.NXT and RCV.NXT relative to the ISSs,
and what a RST at RCV.NXT reports: ``ConnectionResetError`` when the
application still holds the connection (ESTABLISHED, FIN-WAIT-1/2 after
shutdown, CLOSE-WAIT), nothing but ``Closed`` in CLOSING, LAST-ACK and
TIME-WAIT or when the application already closed it.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pytest
from helpers import (
    ACK,
    RST,
    SYN,
    Harness,
    close_wait,
    closing,
    established,
    fin_wait_1,
    fin_wait_2,
    last_ack,
    time_wait,
)

from synack.tcp.connection import SHUT_WR
from synack.tcp.events import Closed, Reset
from synack.tcp.state import State


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Harness]
    state: State
    snd_nxt: int  # relative to LOCAL_ISS
    rcv_nxt: int  # relative to REMOTE_ISS
    reset_error: type[OSError] | None  # what a RST at RCV.NXT reports
    abort_sends_rst: bool  # 3.10.5


CASES = [
    Case("ESTABLISHED", established, State.ESTABLISHED, 1, 1, ConnectionResetError, True),
    Case(
        "FIN-WAIT-1 (shutdown)",
        partial(fin_wait_1, half_close=True),
        State.FIN_WAIT_1,
        2,
        1,
        ConnectionResetError,
        True,
    ),
    Case("FIN-WAIT-1 (closed)", fin_wait_1, State.FIN_WAIT_1, 2, 1, None, True),
    Case(
        "FIN-WAIT-2 (shutdown)",
        partial(fin_wait_2, half_close=True),
        State.FIN_WAIT_2,
        2,
        1,
        ConnectionResetError,
        True,
    ),
    Case("FIN-WAIT-2 (closed)", fin_wait_2, State.FIN_WAIT_2, 2, 1, None, True),
    Case("CLOSE-WAIT", close_wait, State.CLOSE_WAIT, 1, 2, ConnectionResetError, True),
    Case("CLOSING", closing, State.CLOSING, 2, 2, None, False),
    Case("LAST-ACK", last_ack, State.LAST_ACK, 2, 2, None, False),
    Case("TIME-WAIT", time_wait, State.TIME_WAIT, 2, 2, None, False),
]

cases = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


def _start(case: Case) -> Harness:
    h = case.build()
    assert h.state is case.state
    h.take()
    h.events()
    return h


@cases
def test_rst_at_rcv_nxt_resets(case: Case) -> None:
    """3.10.7.4 second (RFC 5961 3.2): a RST with SEG.SEQ = RCV.NXT resets the
    connection: CLOSED, no segment in reply; the user hears "connection
    reset" only where it can still receive or send (3.10.7.4 second step)."""
    h = _start(case)
    h.recv_seg(h.peer(RST, case.rcv_nxt))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.transitions()[-1] == (case.state, State.CLOSED)
    events = h.events()
    if case.reset_error is None:
        assert [type(e) for e in events] == [Closed]
    else:
        assert [type(e) for e in events] == [Reset, Closed]
        assert isinstance(events[0], Reset)
        assert type(events[0].error) is case.reset_error
        assert events[0].error.errno == errno.ECONNRESET


@cases
def test_rst_with_ack_at_rcv_nxt_resets(case: Case) -> None:
    h = _start(case)
    h.recv_seg(h.peer(RST | ACK, case.rcv_nxt, case.snd_nxt))
    h.expect_nothing()
    assert h.state is State.CLOSED


@cases
def test_in_window_rst_elsewhere_gets_challenge_ack(case: Case) -> None:
    """RFC 5961 3.2: RST in the window but not at RCV.NXT: challenge ACK
    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, no state change, no event."""
    h = _start(case)
    deadline = h.deadline
    h.recv_seg(h.peer(RST, case.rcv_nxt + 1))
    h.expect(h.mine(ACK, case.snd_nxt, case.rcv_nxt))
    h.expect_nothing()
    assert h.state is case.state
    assert h.deadline == deadline
    assert h.events() == []


@cases
@pytest.mark.parametrize("offset", [-1, 65535, 2**31 - 1])
def test_out_of_window_rst_is_dropped_silently(case: Case, offset: int) -> None:
    """3.10.7.4 first: an unacceptable RST is dropped, and never answered."""
    h = _start(case)
    h.recv_seg(h.peer(RST, case.rcv_nxt + offset))
    h.expect_nothing()
    assert h.state is case.state


@cases
def test_syn_gets_challenge_ack(case: Case) -> None:
    """RFC 5961 4.2 (3.10.7.4 fourth): a SYN in a synchronized state gets a
    challenge ACK whatever its sequence number; the connection is untouched."""
    h = _start(case)
    rcv_nxt = h.conn.rcv_nxt
    h.recv_seg(h.peer(SYN, case.rcv_nxt))
    h.expect(h.mine(ACK, case.snd_nxt, case.rcv_nxt))
    h.expect_nothing()
    assert h.state is case.state
    assert h.conn.rcv_nxt == rcv_nxt


@cases
def test_unacceptable_segment_gets_ack(case: Case) -> None:
    """3.10.7.4 first: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, segment dropped."""
    h = _start(case)
    h.recv_seg(h.peer(ACK, case.rcv_nxt + 100_000, case.snd_nxt))
    h.expect(h.mine(ACK, case.snd_nxt, case.rcv_nxt))
    assert h.state is case.state


@cases
def test_abort(case: Case) -> None:
    """3.10.5 ABORT: SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT send
    <SEQ=SND.NXT><CTL=RST> (as RST,ACK, like Linux); CLOSING, LAST-ACK and
    TIME-WAIT just delete the TCB.  Either way: CLOSED, Closed, no timer."""
    h = _start(case)
    h.conn.abort(h.now)
    if case.abort_sends_rst:
        h.expect(h.mine(RST | ACK, case.snd_nxt, case.rcv_nxt))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [Closed]
    assert h.transitions()[-1] == (case.state, State.CLOSED)


HELD = [c for c in CASES if c.reset_error is not None]


@pytest.mark.parametrize("case", HELD, ids=[c.name for c in HELD])
def test_calls_after_reset(case: Case) -> None:
    """Errors shaped like the socket module, where the application still holds
    the connection: the first call after a reset raises ECONNRESET, later
    sends EPIPE, recv gives end of stream, shutdown ENOTCONN."""
    h = _start(case)
    h.recv_seg(h.peer(RST, case.rcv_nxt))
    with pytest.raises(ConnectionResetError):
        h.conn.send(b"x")
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")
    assert h.conn.recv(10) == b""
    with pytest.raises(OSError) as info:
        h.conn.shutdown(SHUT_WR)
    assert info.value.errno == errno.ENOTCONN
