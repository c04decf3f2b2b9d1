"""CLOSE-WAIT: the peer has finished sending; we may still send
(RFC 9293 3.6, 3.10.4, 3.10.7.4).

``close_wait()``: ESTABLISHED (clock T0+10 ms, RTO 200 ms), the peer's FIN
<SEQ=IRS+1> arrived and was ACKed with <SEQ=ISS+1><ACK=IRS+2>.
"""

from __future__ import annotations

import pytest
from helpers import (
    ACK,
    FIN,
    LOCAL_ISS,
    PSH,
    REMOTE_ISS,
    RST,
    T0,
    close_wait,
    established,
)

from synack.tcp.connection import SHUT_RD, SHUT_WR
from synack.tcp.events import Closed, PeerFinished, Readable
from synack.tcp.state import State

NOW = T0 + 10_000
RTO = 200_000
WINDOW = 65535


def test_fin_enters_close_wait() -> None:
    """3.10.7.4 eighth, ESTABLISHED: "Enter the CLOSE-WAIT state"; the FIN is
    ACKed at once and the user is told "connection closing" (PeerFinished)."""
    h = established()
    h.recv_seg(h.peer(FIN | ACK, 1, 1))
    h.expect(h.mine(ACK, 1, 2))
    h.expect_nothing()
    assert h.state is State.CLOSE_WAIT
    assert h.conn.rcv_nxt == REMOTE_ISS + 2
    assert h.deadline is None
    assert h.event_types() == [PeerFinished]
    assert h.transitions()[-1] == (State.ESTABLISHED, State.CLOSE_WAIT)


def test_recv_returns_end_of_stream_after_the_fin() -> None:
    """3.10.3 RECEIVE in CLOSE-WAIT: once the buffered text is read, "error:
    connection closing" -- the socket API's end of stream, b""."""
    h = close_wait()
    assert h.conn.recv(100) == b""
    assert h.conn.recv(100) == b""


def test_data_before_fin_is_read_before_end_of_stream() -> None:
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"all"))
    h.recv_seg(h.peer(ACK | FIN, 4, 1))
    assert h.state is State.CLOSE_WAIT
    assert h.event_types() == [Readable, PeerFinished]
    assert h.conn.recv(2) == b"al"
    assert h.conn.recv(100) == b"l"
    assert h.conn.recv(100) == b""


def test_send_in_close_wait_still_works() -> None:
    """3.10.2 SEND in CLOSE-WAIT: "Queue the data for transmission" -- the
    half-close: our side keeps sending to a peer in FIN-WAIT-2."""
    h = close_wait()
    assert h.conn.send(b"still talking") == 13
    h.expect(h.mine(ACK | PSH, 1, 2, payload=b"still talking"))
    assert h.deadline == NOW + RTO
    h.recv_seg(h.peer(ACK, 2, 14))
    assert h.conn.snd_una == LOCAL_ISS + 14
    assert h.deadline is None
    assert h.state is State.CLOSE_WAIT


def test_close_sends_fin_and_enters_last_ack() -> None:
    """3.10.4 CLOSE in CLOSE-WAIT: "Queue this request until all preceding
    SENDs have been segmentized; then send a FIN segment, enter LAST-ACK"."""
    h = close_wait()
    h.conn.close(h.now)
    assert h.state is State.LAST_ACK
    h.expect(h.mine(FIN | ACK, 1, 2))
    h.expect_nothing()
    assert h.conn.snd_nxt == LOCAL_ISS + 2
    assert h.deadline == NOW + RTO
    assert h.transitions()[-1] == (State.CLOSE_WAIT, State.LAST_ACK)


def test_shutdown_write_enters_last_ack() -> None:
    h = close_wait()
    h.conn.send(b"final")
    h.conn.shutdown(SHUT_WR, h.now)
    assert h.state is State.LAST_ACK
    h.expect(h.mine(ACK | PSH | FIN, 1, 2, payload=b"final"))
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")


def test_shutdown_read_leaves_the_state_alone() -> None:
    h = close_wait()
    h.conn.shutdown(SHUT_RD, h.now)
    assert h.state is State.CLOSE_WAIT
    h.expect_nothing()
    assert h.conn.recv(10) == b""


def test_retransmitted_fin_is_acked_again() -> None:
    """The peer did not get our ACK: its FIN comes again, lies before RCV.NXT
    and is unacceptable: ACK <SEQ=SND.NXT><ACK=RCV.NXT>, no state change."""
    h = close_wait()
    h.now += RTO
    h.recv_seg(h.peer(FIN | ACK, 1, 1))
    h.expect(h.mine(ACK, 1, 2))
    h.expect_nothing()
    assert h.state is State.CLOSE_WAIT
    assert h.events() == []


def test_data_after_the_fin_is_ignored() -> None:
    """3.10.7.4 seventh, CLOSE-WAIT: "This should not occur since a FIN has
    been received from the remote side. Ignore the segment text." (Linux
    discards it silently too.)"""
    h = close_wait()
    h.recv_seg(h.peer(ACK | PSH, 2, 1, payload=b"impossible"))
    h.expect_nothing()
    assert h.conn.rcv_nxt == REMOTE_ISS + 2
    assert h.conn.recv(100) == b""


def test_close_with_unread_data_in_close_wait_sends_rst() -> None:
    """SHLD-3: unread data at close() makes it an abort, also in CLOSE-WAIT."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH | FIN, 1, 1, payload=b"unread"))
    h.take()
    assert h.state is State.CLOSE_WAIT
    h.conn.close(h.now)
    h.expect(h.mine(RST | ACK, 1, 8, window=WINDOW - 7))
    assert h.state is State.CLOSED
    assert h.transitions()[-1] == (State.CLOSE_WAIT, State.CLOSED)


def test_abort_in_close_wait_sends_rst() -> None:
    """3.10.5 ABORT, CLOSE-WAIT: <SEQ=SND.NXT><CTL=RST>."""
    h = close_wait()
    h.conn.abort(h.now)
    h.expect(h.mine(RST | ACK, 1, 2))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.event_types() == [Closed]


def test_full_passive_close() -> None:
    """ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED: the passive close
    needs no TIME-WAIT (3.6); events are PeerFinished then Closed."""
    h = established()
    h.recv_seg(h.peer(FIN | ACK, 1, 1))
    h.expect(h.mine(ACK, 1, 2))
    h.conn.close(h.now)
    h.expect(h.mine(FIN | ACK, 1, 2))
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 2, 2))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [PeerFinished, Closed]
    assert h.transitions()[-3:] == [
        (State.ESTABLISHED, State.CLOSE_WAIT),
        (State.CLOSE_WAIT, State.LAST_ACK),
        (State.LAST_ACK, State.CLOSED),
    ]
