"""FIN-WAIT-1 and FIN-WAIT-2: the active close (RFC 9293 3.6, 3.10.4, 3.10.7.4).

``fin_wait_1()``: ESTABLISHED (clock at T0+10 ms, RTO 200 ms), then close()
sent <SEQ=ISS+1><ACK=IRS+1><CTL=FIN,ACK>.  ``fin_wait_2()`` adds the ACK of
the FIN.  ``half_close=True`` uses shutdown(SHUT_WR) instead of close(): the
application still reads.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import (
    ACK,
    CONFIG,
    FIN,
    LOCAL_ISS,
    PSH,
    REMOTE_ISS,
    RST,
    T0,
    established,
    fin_wait_1,
    fin_wait_2,
)

from synack.tcp.config import SECOND
from synack.tcp.connection import SHUT_WR
from synack.tcp.events import Closed, PeerFinished, Readable
from synack.tcp.state import State

NOW = T0 + 10_000
RTO = 200_000
MSL2 = 60 * SECOND  # TIME-WAIT, 2*MSL (MUST-13; Linux TCP_TIMEWAIT_LEN)
WINDOW = 65535


# ---------------------------------------------------------------- ESTABLISHED -> FIN-WAIT-1


def test_close_sends_fin_and_enters_fin_wait_1() -> None:
    """3.10.4 CLOSE in ESTABLISHED: "Queue this until all preceding SENDs have
    been segmentized, then form a FIN segment and send it. In any case, enter
    FIN-WAIT-1 state."  The FIN takes a sequence number and is timed."""
    h = fin_wait_1()
    c = h.conn
    assert c.snd_una == LOCAL_ISS + 1
    assert c.snd_nxt == LOCAL_ISS + 2
    assert c.fin_seq == LOCAL_ISS + 1
    assert h.deadline == NOW + RTO
    h.expect_nothing()
    assert h.transitions()[-1] == (State.ESTABLISHED, State.FIN_WAIT_1)


def test_fin_follows_queued_data_in_the_same_segment() -> None:
    """The FIN goes after all preceding SENDs; here on the last data segment."""
    h = established()
    h.conn.send(b"last words")
    h.conn.close(h.now)
    h.expect(h.mine(ACK | PSH | FIN, 1, 1, payload=b"last words"))
    assert h.conn.fin_seq == LOCAL_ISS + 11
    assert h.conn.snd_nxt == LOCAL_ISS + 12


def test_fin_waits_for_the_data_the_window_holds_back() -> None:
    """The FIN goes after all preceding SENDs: while sender SWS avoidance
    (MUST-38) holds the data back, the FIN waits too."""
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, window=4))
    h.conn.send(b"abcdefgh")
    h.conn.close(h.now)
    h.expect_nothing()
    assert h.state is State.FIN_WAIT_1
    assert h.conn.snd_nxt == LOCAL_ISS + 1
    h.recv_seg(h.peer(ACK, 1, 1, window=100))
    h.expect(h.mine(ACK | PSH | FIN, 1, 1, payload=b"abcdefgh"))
    assert h.deadline == h.now + RTO


def test_ack_of_fin_enters_fin_wait_2() -> None:
    """3.10.7.4 fifth, FIN-WAIT-1: "if the FIN segment is now acknowledged,
    then enter FIN-WAIT-2"; the application closed, so the orphan timer
    (tcp_fin_timeout, 60 s) starts."""
    h = fin_wait_1()
    h.now += 30_000
    h.recv_seg(h.peer(ACK, 1, 2))
    h.expect_nothing()
    assert h.state is State.FIN_WAIT_2
    assert h.conn.snd_una == LOCAL_ISS + 2
    assert h.deadline == h.now + 60 * SECOND
    assert h.transitions()[-1] == (State.FIN_WAIT_1, State.FIN_WAIT_2)


def test_ack_not_covering_the_fin_stays_in_fin_wait_1() -> None:
    h = established()
    h.conn.send(b"data")
    h.conn.close(h.now)
    h.take()
    h.recv_seg(h.peer(ACK, 1, 5))  # the data, not the FIN
    assert h.state is State.FIN_WAIT_1
    assert h.deadline == h.now + RTO


def test_full_active_close_with_exact_deadlines() -> None:
    """ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED; the
    2*MSL timer is 60 s (MUST-13) from the ACK of the peer's FIN."""
    h = established()
    h.now = t1 = NOW + 1000
    h.conn.close(h.now)
    h.expect(h.mine(FIN | ACK, 1, 1))
    assert h.deadline == t1 + RTO
    h.now = t1 + 10_000
    h.recv_seg(h.peer(ACK, 1, 2))
    assert h.deadline == t1 + 10_000 + 60 * SECOND  # orphaned FIN-WAIT-2
    h.now = t1 + 20_000
    h.recv_seg(h.peer(FIN | ACK, 1, 2))
    h.expect(h.mine(ACK, 2, 2))
    assert h.state is State.TIME_WAIT
    assert h.conn.rcv_nxt == REMOTE_ISS + 2
    assert h.deadline == t1 + 20_000 + MSL2
    h.advance(t1 + 20_000 + MSL2 - 1)
    assert h.state is State.TIME_WAIT
    h.advance(t1 + 20_000 + MSL2)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [PeerFinished, Closed]
    assert h.transitions() == [
        (State.CLOSED, State.SYN_SENT),
        (State.SYN_SENT, State.ESTABLISHED),
        (State.ESTABLISHED, State.FIN_WAIT_1),
        (State.FIN_WAIT_1, State.FIN_WAIT_2),
        (State.FIN_WAIT_2, State.TIME_WAIT),
        (State.TIME_WAIT, State.CLOSED),
    ]


def test_fin_and_ack_of_fin_together_enter_time_wait() -> None:
    """3.10.7.4 eighth, FIN-WAIT-1: "If our FIN has been ACKed (perhaps in this
    segment), then enter TIME-WAIT, start the time-wait timer, turn off the
    other timers"."""
    h = fin_wait_1()
    h.now += 10_000
    h.recv_seg(h.peer(FIN | ACK, 1, 2))
    h.expect(h.mine(ACK, 2, 2))
    h.expect_nothing()
    assert h.state is State.TIME_WAIT
    assert h.deadline == h.now + MSL2
    assert h.conn.rtx_deadline is None
    assert h.transitions()[-1] == (State.FIN_WAIT_1, State.TIME_WAIT)


def test_simultaneous_close_goes_through_closing() -> None:
    """3.10.7.4 eighth, FIN-WAIT-1: a FIN that does not ACK ours: "otherwise,
    enter the CLOSING state"; our FIN's timer keeps running.  The ACK of our
    FIN then gives TIME-WAIT (3.10.7.4 fifth, CLOSING)."""
    h = fin_wait_1()
    h.now += 5_000
    h.recv_seg(h.peer(FIN | ACK, 1, 1))  # crossed in flight
    h.expect(h.mine(ACK, 2, 2))
    assert h.state is State.CLOSING
    assert h.deadline == NOW + RTO
    h.now += 5_000
    h.recv_seg(h.peer(ACK, 2, 2))
    h.expect_nothing()
    assert h.state is State.TIME_WAIT
    assert h.deadline == h.now + MSL2
    assert h.transitions()[-2:] == [
        (State.FIN_WAIT_1, State.CLOSING),
        (State.CLOSING, State.TIME_WAIT),
    ]


def test_fin_retransmitted_from_fin_wait_1_until_acked() -> None:
    """RFC 6298 5.4-5.6: the unacknowledged FIN is resent at 200 ms, then 400 ms
    later (backoff), until the ACK comes."""
    h = fin_wait_1()
    fin = h.mine(FIN | ACK, 1, 1)
    h.advance(NOW + RTO - 1)
    h.expect_nothing()
    h.advance(NOW + RTO)
    h.expect(fin)
    assert h.deadline == NOW + 3 * RTO
    h.advance(NOW + 3 * RTO)
    h.expect(fin)
    assert h.deadline == NOW + 7 * RTO
    assert h.state is State.FIN_WAIT_1
    h.now = NOW + 3 * RTO + 1000
    h.recv_seg(h.peer(ACK, 1, 2))
    assert h.state is State.FIN_WAIT_2
    assert h.conn.rtx_deadline is None


def test_fin_retransmission_with_data_resends_both() -> None:
    """Go-back-N: the retransmission covers the data and the FIN after it."""
    h = established()
    h.conn.send(b"tail")
    h.conn.close(h.now)
    h.expect(h.mine(ACK | PSH | FIN, 1, 1, payload=b"tail"))
    h.advance(NOW + RTO)
    h.expect(h.mine(ACK | PSH | FIN, 1, 1, payload=b"tail"))


# ---------------------------------------------------------------- FIN-WAIT-2 timers


def test_orphaned_fin_wait_2_times_out_after_60_seconds() -> None:
    """An orphaned FIN-WAIT-2 (the application closed) gives up after
    tcp_fin_timeout (60 s) rather than waiting forever for the peer's FIN
    (Linux; RFC 9293 leaves FIN-WAIT-2 untimed).  No segment is sent."""
    h = fin_wait_2()
    assert h.deadline == NOW + 60 * SECOND
    h.advance(NOW + 60 * SECOND - 1)
    assert h.state is State.FIN_WAIT_2
    h.advance(NOW + 60 * SECOND)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.event_types() == [Closed]
    assert h.transitions()[-1] == (State.FIN_WAIT_2, State.CLOSED)


def test_half_closed_fin_wait_2_has_no_timeout() -> None:
    """After shutdown(SHUT_WR) the application still reads: FIN-WAIT-2 waits
    for the peer's FIN as long as it takes (no deadline at all)."""
    h = fin_wait_2(half_close=True)
    assert h.deadline is None
    h.advance(h.now + 3600 * SECOND)
    assert h.state is State.FIN_WAIT_2


def test_close_in_half_closed_fin_wait_2_starts_the_orphan_timer() -> None:
    h = fin_wait_2(half_close=True)
    h.now += 5 * SECOND
    h.conn.close(h.now)
    h.expect_nothing()
    assert h.state is State.FIN_WAIT_2
    assert h.deadline == h.now + 60 * SECOND


# ---------------------------------------------------------------- half-close


def test_half_close_data_flows_to_fin_wait_2_side() -> None:
    """3.10.7.4 seventh, FIN-WAIT-1/2: segment text is delivered as in
    ESTABLISHED: the peer (in CLOSE-WAIT) keeps sending and we read it."""
    h = fin_wait_2(half_close=True)
    h.recv_seg(h.peer(ACK | PSH, 1, 2, payload=b"response"))
    assert h.event_types() == [Readable]
    assert h.deadline == h.now + 40_000  # delayed ACK
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 2, 9, window=WINDOW - 8))
    assert h.conn.recv(100) == b"response"
    h.recv_seg(h.peer(FIN | ACK, 9, 2))
    h.expect(h.mine(ACK, 2, 10))
    assert h.state is State.TIME_WAIT
    assert h.conn.recv(100) == b""
    assert h.event_types() == [PeerFinished]


def test_half_close_data_accepted_in_fin_wait_1() -> None:
    h = fin_wait_1(half_close=True)
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"abc"))
    assert h.conn.rcv_nxt == REMOTE_ISS + 4
    assert h.conn.recv(10) == b"abc"
    assert h.state is State.FIN_WAIT_1


def test_send_after_shutdown_raises_broken_pipe() -> None:
    """3.10.2 SEND in FIN-WAIT-1/2: "error: connection closing" -> EPIPE."""
    h = fin_wait_1(half_close=True)
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")
    h.recv_seg(h.peer(ACK, 1, 2))
    assert h.state is State.FIN_WAIT_2
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")


def test_send_after_close_raises_broken_pipe() -> None:
    h = fin_wait_1()
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")


def test_shutdown_twice_sends_one_fin() -> None:
    h = fin_wait_1(half_close=True)
    h.conn.shutdown(SHUT_WR, h.now)
    h.expect_nothing()
    assert h.conn.snd_nxt == LOCAL_ISS + 2


# ---------------------------------------------------------------- data after close()


@pytest.mark.parametrize("builder", [fin_wait_1, fin_wait_2])
def test_data_after_close_is_answered_with_rst(builder: object) -> None:
    """Data for an application that has closed cannot be delivered: RFC 1122
    4.2.2.13 / SHLD-3, as Linux (LINUX_MIB_TCPABORTONDATA): send
    <SEQ=SEG.ACK><CTL=RST> and enter CLOSED (the half-duplex close, MAY-1)."""
    assert callable(builder)
    h = builder()
    state = h.state
    ack = 1 if state is State.FIN_WAIT_1 else 2
    h.recv_seg(h.peer(ACK | PSH, 1, ack, payload=b"unwanted"))
    h.expect(h.mine(RST, ack, window=0))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.event_types() == [Closed]
    assert h.transitions()[-1] == (state, State.CLOSED)


def test_bare_ack_after_close_is_fine() -> None:
    """Only new data triggers the RST: a pure ACK or a FIN does not."""
    h = fin_wait_2()
    h.recv_seg(h.peer(ACK, 1, 2))
    h.expect_nothing()
    assert h.state is State.FIN_WAIT_2


# ---------------------------------------------------------------- ABORT


@pytest.mark.parametrize(("half_close", "builder"), [(False, fin_wait_1), (True, fin_wait_2)])
def test_abort_sends_rst(half_close: bool, builder: object) -> None:
    """3.10.5 ABORT, FIN-WAIT-1/2: <SEQ=SND.NXT><CTL=RST> (RST,ACK), CLOSED."""
    assert callable(builder)
    h = builder(half_close=half_close)
    state = h.state
    h.conn.abort(h.now)
    h.expect(h.mine(RST | ACK, 2, 1))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.transitions()[-1] == (state, State.CLOSED)


def test_fin_wait_1_r2_timeout() -> None:
    """R2 also bounds the FIN's retransmission (3.8.3): CLOSED after retries2."""
    h = fin_wait_1(replace(CONFIG, retries2=2))
    for deadline in (NOW + RTO, NOW + 3 * RTO):
        h.advance(deadline)
        h.expect(h.mine(FIN | ACK, 1, 1))
    h.advance(NOW + 7 * RTO)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.transitions()[-1] == (State.FIN_WAIT_1, State.CLOSED)
