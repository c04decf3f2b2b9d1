"""TIME-WAIT: 2*MSL before the TCB is deleted (RFC 9293 3.6.1, MUST-13).

``time_wait()``: FIN-WAIT-2 (after close()), then the peer's FIN <SEQ=IRS+1>
arrived at T0+10 ms and was ACKed with <SEQ=ISS+2><ACK=IRS+2>.
"""

from __future__ import annotations

import pytest
from helpers import ACK, FIN, PSH, REMOTE_ISS, RST, SYN, T0, fin_wait_2, time_wait

from synack.tcp.config import SECOND
from synack.tcp.events import Closed, PeerFinished
from synack.tcp.state import State

NOW = T0 + 10_000
MSL2 = 60 * SECOND


def test_time_wait_lasts_exactly_2msl() -> None:
    """MUST-13: "When a connection is closed actively, it MUST linger in the
    TIME-WAIT state for a time 2xMSL" -- 60 s here (Linux TCP_TIMEWAIT_LEN);
    then the TCB is deleted quietly."""
    h = time_wait()
    assert h.deadline == NOW + MSL2
    assert h.conn.rtx_deadline is None
    assert h.conn.fin_wait_2_deadline is None  # the orphan timer is off
    h.advance(NOW + MSL2 - 1)
    h.expect_nothing()
    assert h.state is State.TIME_WAIT
    h.advance(NOW + MSL2)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [PeerFinished, Closed]
    assert h.transitions()[-1] == (State.TIME_WAIT, State.CLOSED)


def test_retransmitted_fin_is_acked_and_restarts_2msl() -> None:
    """3.10.7.4 eighth, TIME-WAIT: "Remain in the TIME-WAIT state. Restart the
    2 MSL time-wait timeout." -- and the FIN is ACKed again."""
    h = time_wait()
    h.now = NOW + 25 * SECOND
    h.recv_seg(h.peer(FIN | ACK, 1, 2))
    h.expect(h.mine(ACK, 2, 2))
    h.expect_nothing()
    assert h.state is State.TIME_WAIT
    assert h.deadline == NOW + 25 * SECOND + MSL2
    h.advance(NOW + MSL2)
    assert h.state is State.TIME_WAIT  # the old deadline no longer counts
    h.advance(NOW + 25 * SECOND + MSL2)
    assert h.state is State.CLOSED


def test_duplicate_ack_in_time_wait_is_ignored() -> None:
    h = time_wait()
    h.recv_seg(h.peer(ACK, 2, 2))
    h.expect_nothing()
    assert h.state is State.TIME_WAIT
    assert h.deadline == NOW + MSL2


def test_unacceptable_segment_in_time_wait_gets_ack() -> None:
    """3.10.7.4 first applies in TIME-WAIT: ACK <SEQ=SND.NXT><ACK=RCV.NXT>."""
    h = time_wait()
    h.recv_seg(h.peer(ACK, 100_000, 2))
    h.expect(h.mine(ACK, 2, 2))
    assert h.deadline == NOW + MSL2  # not restarted by other segments


def test_data_in_time_wait_is_ignored() -> None:
    """3.10.7.4 seventh, TIME-WAIT: ignore the segment text."""
    h = time_wait()
    h.recv_seg(h.peer(ACK | PSH, 2, 2, payload=b"late"))
    assert h.conn.rcv_nxt == REMOTE_ISS + 2
    assert h.state is State.TIME_WAIT


def test_rst_at_rcv_nxt_closes_quietly() -> None:
    """3.10.7.4 second, TIME-WAIT: "If the RST bit is set, then enter the
    CLOSED state, delete the TCB, and return" -- no error for anybody (Linux
    does the same with tcp_rfc1337 = 0)."""
    h = time_wait()
    h.events()
    h.recv_seg(h.peer(RST, 2))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [Closed]
    assert h.conn.error is None


def test_in_window_rst_gets_challenge_ack() -> None:
    """RFC 5961 3.2 in TIME-WAIT too."""
    h = time_wait()
    h.recv_seg(h.peer(RST, 50))
    h.expect(h.mine(ACK, 2, 2))
    assert h.state is State.TIME_WAIT


def test_out_of_window_rst_is_dropped() -> None:
    h = time_wait()
    h.recv_seg(h.peer(RST, 1))
    h.expect_nothing()
    assert h.state is State.TIME_WAIT


@pytest.mark.parametrize("rel_seq", [2, 1000])
def test_syn_in_time_wait_gets_challenge_ack(rel_seq: int) -> None:
    """RFC 5961 4.2 / 3.10.7.4 fourth: a SYN in TIME-WAIT gets a challenge ACK
    from the TCB itself (reopening the 4-tuple, MAY-2, is the stack's job)."""
    h = time_wait()
    h.recv_seg(h.peer(SYN, rel_seq))
    h.expect(h.mine(ACK, 2, 2))
    assert h.state is State.TIME_WAIT


def test_abort_in_time_wait_sends_nothing() -> None:
    """3.10.5 ABORT, TIME-WAIT: delete the TCB, no RST."""
    h = time_wait()
    h.conn.abort(h.now)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.transitions()[-1] == (State.TIME_WAIT, State.CLOSED)


def test_calls_in_time_wait() -> None:
    """recv gives end of stream; send is a broken pipe."""
    h = fin_wait_2(half_close=True)
    h.recv_seg(h.peer(FIN | ACK, 1, 2))
    h.take()
    assert h.state is State.TIME_WAIT
    assert h.conn.recv(10) == b""
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")
