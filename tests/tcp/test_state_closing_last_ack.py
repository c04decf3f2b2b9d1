"""CLOSING and LAST-ACK: waiting for the ACK of our FIN after the peer's FIN
(RFC 9293 3.6, 3.10.7.4).

``closing()``: FIN-WAIT-1 and the peer's FIN crossed ours (simultaneous
close); ``last_ack()``: CLOSE-WAIT, then close() sent our FIN.  In both the
clock is T0+10 ms, the FIN <SEQ=ISS+1> went out then, RTO 200 ms.
"""

from __future__ import annotations

from dataclasses import replace

from helpers import (
    ACK,
    CONFIG,
    FIN,
    LOCAL_ISS,
    PSH,
    REMOTE_ISS,
    T0,
    closing,
    last_ack,
)

from synack.tcp.config import SECOND
from synack.tcp.events import Closed, PeerFinished
from synack.tcp.state import State

NOW = T0 + 10_000
RTO = 200_000
MSL2 = 60 * SECOND


# ---------------------------------------------------------------- LAST-ACK


def test_last_ack_fields() -> None:
    h = last_ack()
    c = h.conn
    assert c.snd_una == LOCAL_ISS + 1
    assert c.snd_nxt == LOCAL_ISS + 2
    assert c.rcv_nxt == REMOTE_ISS + 2
    assert h.deadline == NOW + RTO


def test_ack_of_fin_in_last_ack_closes() -> None:
    """3.10.7.4 fifth, LAST-ACK: "The only thing that can arrive in this state
    is an acknowledgment of our FIN. If our FIN is now acknowledged, delete
    the TCB, enter the CLOSED state, and return."  No TIME-WAIT."""
    h = last_ack()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 2, 2))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [Closed]
    assert h.transitions()[-1] == (State.LAST_ACK, State.CLOSED)


def test_ack_not_covering_fin_keeps_last_ack() -> None:
    h = last_ack()
    h.recv_seg(h.peer(ACK, 2, 1))
    h.expect_nothing()
    assert h.state is State.LAST_ACK
    assert h.deadline == NOW + RTO


def test_fin_retransmitted_from_last_ack_until_acked() -> None:
    """RFC 6298 5.4-5.6: the FIN is resent at 200 ms and 600 ms (backoff)."""
    h = last_ack()
    fin = h.mine(FIN | ACK, 1, 2)
    h.advance(NOW + RTO - 1)
    h.expect_nothing()
    h.advance(NOW + RTO)
    h.expect(fin)
    assert h.deadline == NOW + 3 * RTO
    h.advance(NOW + 3 * RTO)
    h.expect(fin)
    assert h.deadline == NOW + 7 * RTO
    h.recv_seg(h.peer(ACK, 2, 2))
    assert h.state is State.CLOSED
    assert h.deadline is None


def test_peer_fin_retransmitted_in_last_ack_is_acked() -> None:
    """The peer resends its FIN (our ACK was lost): unacceptable (before
    RCV.NXT), so ACK <SEQ=SND.NXT><ACK=RCV.NXT>; SND.NXT now counts our FIN."""
    h = last_ack()
    h.recv_seg(h.peer(FIN | ACK, 1, 1))
    h.expect(h.mine(ACK, 2, 2))
    assert h.state is State.LAST_ACK


def test_last_ack_gives_up_after_r2() -> None:
    """R2 bounds the FIN's retransmission in LAST-ACK too (3.8.3, MUST-20)."""
    h = last_ack(replace(CONFIG, retries2=1))
    h.advance(NOW + RTO)
    h.expect(h.mine(FIN | ACK, 1, 2))
    h.advance(NOW + 3 * RTO)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.transitions()[-1] == (State.LAST_ACK, State.CLOSED)


def test_abort_in_last_ack_sends_nothing() -> None:
    """3.10.5 ABORT, CLOSING/LAST-ACK/TIME-WAIT: "Respond with 'ok' and delete
    the TCB, enter CLOSED state, and return" -- no RST."""
    h = last_ack()
    h.conn.abort(h.now)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.event_types() == [Closed]


# ---------------------------------------------------------------- CLOSING


def test_closing_fields() -> None:
    """FIN-WAIT-1 + FIN (not ACKing ours): CLOSING; our FIN is still timed."""
    h = closing()
    c = h.conn
    assert c.snd_una == LOCAL_ISS + 1
    assert c.snd_nxt == LOCAL_ISS + 2
    assert c.rcv_nxt == REMOTE_ISS + 2
    assert h.deadline == NOW + RTO
    assert h.event_types() == [PeerFinished]
    assert h.transitions()[-1] == (State.FIN_WAIT_1, State.CLOSING)


def test_ack_of_fin_in_closing_enters_time_wait() -> None:
    """3.10.7.4 fifth, CLOSING: "if the ACK acknowledges our FIN, then enter
    the TIME-WAIT state; otherwise, ignore the segment" -- with the 2*MSL
    timer (MUST-13) and nothing else armed."""
    h = closing()
    h.now += 20_000
    h.recv_seg(h.peer(ACK, 2, 2))
    h.expect_nothing()
    assert h.state is State.TIME_WAIT
    assert h.deadline == h.now + MSL2
    assert h.conn.rtx_deadline is None
    assert h.transitions()[-1] == (State.CLOSING, State.TIME_WAIT)


def test_ack_not_covering_fin_is_ignored_in_closing() -> None:
    h = closing()
    h.recv_seg(h.peer(ACK, 2, 1))
    h.expect_nothing()
    assert h.state is State.CLOSING


def test_fin_retransmitted_from_closing() -> None:
    h = closing()
    h.advance(NOW + RTO)
    h.expect(h.mine(FIN | ACK, 1, 2))
    assert h.deadline == NOW + 3 * RTO
    h.recv_seg(h.peer(ACK, 2, 2))
    assert h.state is State.TIME_WAIT


def test_peer_fin_retransmitted_in_closing_is_acked() -> None:
    h = closing()
    h.recv_seg(h.peer(FIN | ACK, 1, 1))
    h.expect(h.mine(ACK, 2, 2))
    assert h.state is State.CLOSING


def test_data_in_closing_is_ignored() -> None:
    """3.10.7.4 seventh, CLOSING: the peer has sent its FIN; new text is ignored."""
    h = closing()
    h.recv_seg(h.peer(ACK | PSH, 2, 2, payload=b"??"))
    assert h.conn.rcv_nxt == REMOTE_ISS + 2
    assert h.state is State.TIME_WAIT  # the ACK field was still processed


def test_abort_in_closing_sends_nothing() -> None:
    h = closing()
    h.conn.abort(h.now)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.transitions()[-1] == (State.CLOSING, State.CLOSED)
