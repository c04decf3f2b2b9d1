"""SYN-RECEIVED on the passive side (RFC 9293 3.5, 3.10.7.4).

``syn_received()``: a passive OPEN got the peer's SYN at T0 and answered
with <SEQ=ISS><ACK=IRS+1><CTL=SYN,ACK>.  (SYN-RECEIVED after a simultaneous
open, the active case, is tested in test_state_syn_sent.py.)
"""

from __future__ import annotations

import pytest
from helpers import (
    ACK,
    FIN,
    LOCAL_ADDR,
    LOCAL_ISS,
    PEER_SYN_OPTIONS,
    PSH,
    REMOTE_ADDR,
    REMOTE_ISS,
    RST,
    SYN,
    T0,
    syn_received,
)

from synack.tcp.config import SECOND, TcpConfig
from synack.tcp.events import Closed, ConnectionRequest, Established, PeerFinished, Readable
from synack.tcp.stack import Stack
from synack.tcp.state import State
from synack.wire.ip import Packet, encode_packet, parse_packet
from synack.wire.tcp import MaxSegmentSize, Segment

SYN_ACK_OPTIONS = (MaxSegmentSize(1460),)


def test_ack_of_syn_enters_established() -> None:
    """3.10.7.4 fifth, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then
    enter ESTABLISHED state and continue processing with the variables
    SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK"."""
    h = syn_received()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1, window=7000))
    h.expect_nothing()
    c = h.conn
    assert h.state is State.ESTABLISHED
    assert c.snd_una == LOCAL_ISS + 1
    assert c.snd_nxt == LOCAL_ISS + 1
    assert c.snd_wnd == 7000
    assert c.snd_wl1 == REMOTE_ISS + 1
    assert c.snd_wl2 == LOCAL_ISS + 1
    assert c.rtt.srtt == 10_000  # the SYN,ACK was timed (RFC 6298 2.2)
    assert c.rtt.rto == 200_000
    assert h.deadline is None
    assert h.event_types() == [Established]
    assert h.transitions()[-1] == (State.SYN_RECEIVED, State.ESTABLISHED)


def test_ack_of_syn_with_data() -> None:
    """The text of the completing ACK is processed (3.10.7.4 seventh step) and
    its ACK delayed (3.8.6.3, MUST-40: 40 ms, Linux TCP_DELACK_MIN)."""
    h = syn_received()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"GET /"))
    h.expect_nothing()
    assert h.state is State.ESTABLISHED
    assert h.conn.rcv_nxt == REMOTE_ISS + 6
    assert h.deadline == h.now + 40_000
    assert h.event_types() == [Established, Readable]
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, 6, window=65535 - 5))
    assert h.conn.recv(100) == b"GET /"


def test_ack_of_syn_with_fin() -> None:
    """ACK of the SYN carrying a FIN: ESTABLISHED at the fifth step, then
    CLOSE-WAIT at the eighth (3.10.7.4), FIN ACKed at once."""
    h = syn_received()
    h.recv_seg(h.peer(ACK | FIN, 1, 1))
    h.expect(h.mine(ACK, 1, 2))
    h.expect_nothing()
    assert h.state is State.CLOSE_WAIT
    assert h.conn.rcv_nxt == REMOTE_ISS + 2
    assert h.event_types() == [Established, PeerFinished]
    assert h.transitions()[-2:] == [
        (State.SYN_RECEIVED, State.ESTABLISHED),
        (State.ESTABLISHED, State.CLOSE_WAIT),
    ]


@pytest.mark.parametrize("rel_ack", [0, -1, 2, 100])
def test_bad_ack_is_answered_with_reset(rel_ack: int) -> None:
    """3.10.7.4 fifth, SYN-RECEIVED: "If the segment acknowledgment is not
    acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it"
    (3.5.2 case 2); the connection stays in SYN-RECEIVED."""
    h = syn_received()
    h.recv_seg(h.peer(ACK, 1, rel_ack))
    h.expect(h.mine(RST, rel_ack, window=0))
    h.expect_nothing()
    assert h.state is State.SYN_RECEIVED
    assert h.deadline == T0 + SECOND
    assert h.events() == []


def test_segment_without_ack_is_dropped() -> None:
    """3.10.7.4 fifth: "if the ACK bit is off drop the segment and return"."""
    h = syn_received()
    h.recv_seg(h.peer(PSH, 1, payload=b"data"))
    h.expect_nothing()
    assert h.state is State.SYN_RECEIVED
    assert h.conn.rcv_nxt == REMOTE_ISS + 1


def test_unacceptable_sequence_number_is_acked_and_dropped() -> None:
    """3.10.7.4 first: an unacceptable segment gets <SEQ=SND.NXT><ACK=RCV.NXT>
    <CTL=ACK> (SND.NXT = ISS+1 here) and is dropped."""
    h = syn_received()
    h.recv_seg(h.peer(ACK, 100_000, 1, payload=b"far"))
    h.expect(h.mine(ACK, 1, 1))
    assert h.state is State.SYN_RECEIVED


def test_duplicate_syn_gets_the_syn_ack_again() -> None:
    """A retransmitted SYN (SEG.SEQ = IRS) means our SYN,ACK was lost: answer
    with the SYN,ACK again (Linux tcp_check_req); the timer keeps running."""
    h = syn_received()
    h.now += 300_000
    h.recv_seg(h.peer(SYN, 0, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(SYN | ACK, 0, 1, window=65535, options=SYN_ACK_OPTIONS))
    h.expect_nothing()
    assert h.state is State.SYN_RECEIVED
    assert h.conn.snd_nxt == LOCAL_ISS + 1
    assert h.deadline == T0 + SECOND


def test_ack_after_resent_syn_ack_takes_no_rtt_sample() -> None:
    """Karn (MUST-18): once the SYN,ACK was sent again, its ACK is ambiguous."""
    h = syn_received()
    h.now += 300_000
    h.recv_seg(h.peer(SYN, 0, options=PEER_SYN_OPTIONS))
    h.take()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1))
    assert h.state is State.ESTABLISHED
    assert h.conn.rtt.srtt is None


def test_new_syn_returns_passive_connection_to_listen() -> None:
    """3.10.7.4 fourth, SYN-RECEIVED: "If the connection was initiated with a
    passive OPEN, then return this connection to the LISTEN state and return."
    The TCB goes back to its listener quietly (no segment, no event)."""
    h = syn_received()
    h.recv_seg(h.peer(SYN, 5))  # in the window, not the SYN we know
    h.expect_nothing()
    assert h.events() == []
    assert h.transitions()[-1] == (State.SYN_RECEIVED, State.LISTEN)
    assert h.deadline is None


# ---------------------------------------------------------------- RST (MUST-11)


def test_rst_returns_passive_connection_to_listen() -> None:
    """MUST-11, 3.10.7.4 second: RST in SYN-RECEIVED after a passive OPEN:
    "return this connection to LISTEN state"; the user is not informed.  The
    child TCB is handed back to its listener (the stack keeps listening)."""
    h = syn_received()
    h.recv_seg(h.peer(RST, 1))
    h.expect_nothing()
    assert h.events() == []
    assert h.deadline is None
    assert h.transitions()[-1] == (State.SYN_RECEIVED, State.LISTEN)


def test_rst_with_ack_returns_to_listen_too() -> None:
    h = syn_received()
    h.recv_seg(h.peer(RST | ACK, 1, 1))
    h.expect_nothing()
    assert h.transitions()[-1] == (State.SYN_RECEIVED, State.LISTEN)


def test_in_window_rst_not_at_rcv_nxt_gets_challenge_ack() -> None:
    """RFC 5961 3.2: an in-window RST whose SEQ is not exactly RCV.NXT gets a
    challenge ACK and changes nothing."""
    h = syn_received()
    h.recv_seg(h.peer(RST, 10))
    h.expect(h.mine(ACK, 1, 1))
    assert h.state is State.SYN_RECEIVED


def test_out_of_window_rst_is_dropped() -> None:
    h = syn_received()
    h.recv_seg(h.peer(RST, 70_000))
    h.expect_nothing()
    assert h.state is State.SYN_RECEIVED


# ---------------------------------------------------------------- retransmission


def test_syn_ack_retransmitted_until_synack_retries_then_given_up() -> None:
    """RFC 6298 5.5: the SYN,ACK is resent at 1, 3, 7, 15, 31 s; after
    synack_retries (5, Linux's tcp_synack_retries) the half-open connection
    is dropped at 63 s without a RST and without telling anybody."""
    h = syn_received()
    syn_ack = h.mine(SYN | ACK, 0, 1, window=65535, options=SYN_ACK_OPTIONS)
    for seconds in (1, 3, 7, 15, 31):
        assert h.deadline == T0 + seconds * SECOND
        h.advance(T0 + seconds * SECOND - 1)
        h.expect_nothing()
        h.advance(T0 + seconds * SECOND)
        h.expect(syn_ack)
        assert h.state is State.SYN_RECEIVED
    assert h.deadline == T0 + 63 * SECOND
    h.advance(T0 + 63 * SECOND)
    h.expect_nothing()
    assert h.events() == []
    assert h.deadline is None
    assert h.transitions()[-1] == (State.SYN_RECEIVED, State.LISTEN)


def test_ack_after_syn_ack_retransmission_completes() -> None:
    h = syn_received()
    h.advance(T0 + SECOND)
    h.take()
    h.recv_seg(h.peer(ACK, 1, 1))
    assert h.state is State.ESTABLISHED
    assert h.conn.retries == 0
    assert h.conn.rtt.srtt is None  # Karn (MUST-18)
    assert h.conn.rtt.rto == SECOND
    assert h.deadline is None


# ---------------------------------------------------------------- user calls


def test_abort_in_syn_received_sends_rst() -> None:
    """3.10.5 ABORT in SYN-RECEIVED: <SEQ=SND.NXT><CTL=RST> (with an ACK, as
    Linux), enter CLOSED."""
    h = syn_received()
    h.conn.abort(h.now)
    h.expect(h.mine(RST | ACK, 1, 1, window=65535))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.event_types() == [Closed]
    assert h.deadline is None
    assert h.transitions()[-1] == (State.SYN_RECEIVED, State.CLOSED)


def test_close_in_syn_received_sends_fin_after_the_handshake() -> None:
    """3.10.4 CLOSE in SYN-RECEIVED: the FIN is queued "for processing after
    entering ESTABLISHED state"; the ACK of the SYN then releases it."""
    h = syn_received()
    h.conn.close(h.now)
    h.expect_nothing()
    assert h.state is State.SYN_RECEIVED
    h.recv_seg(h.peer(ACK, 1, 1))
    h.expect(h.mine(FIN | ACK, 1, 1))
    assert h.state is State.FIN_WAIT_1
    assert h.transitions()[-2:] == [
        (State.SYN_RECEIVED, State.ESTABLISHED),
        (State.ESTABLISHED, State.FIN_WAIT_1),
    ]


def test_send_in_syn_received_is_queued_until_established() -> None:
    """3.10.2 SEND in SYN-RECEIVED: queue the data until ESTABLISHED."""
    h = syn_received()
    assert h.conn.send(b"banner") == 6
    h.expect_nothing()
    h.recv_seg(h.peer(ACK, 1, 1))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"banner"))


# ---------------------------------------------------------------- the listener (stack)


def _packet(segment: Segment) -> bytes:
    return encode_packet(Packet(REMOTE_ADDR, LOCAL_ADDR, segment))


def test_stack_listener_survives_rst_of_half_open_child() -> None:
    """MUST-11 at the stack: after the RST the 4-tuple is free again, the
    listener still listens, and a new SYN gets a new SYN,ACK."""
    stack = Stack([LOCAL_ADDR], config=TcpConfig())
    listener = stack.listen(LOCAL_ADDR, 80)
    stack.receive(_packet(Segment(5000, 80, 1000, 0, SYN, 65535)), T0)
    (syn_ack,) = [parse_packet(p).segment for p in stack.packets_to_send(T0)]
    assert syn_ack.flags == SYN | ACK
    assert syn_ack.ack == 1001
    assert len(stack.connections) == 1
    stack.receive(_packet(Segment(5000, 80, 1001, 0, RST, 0)), T0 + 1000)
    assert stack.packets_to_send(T0 + 1000) == []
    assert stack.connections == []
    assert stack.next_event() is None
    assert listener.state is State.LISTEN
    stack.receive(_packet(Segment(5000, 80, 9000, 0, SYN, 65535)), T0 + 2000)
    (again,) = [parse_packet(p).segment for p in stack.packets_to_send(T0 + 2000)]
    assert again.flags == SYN | ACK
    assert again.ack == 9001
    stack.receive(_packet(Segment(5000, 80, 9001, again.seq + 1, ACK, 65535)), T0 + 3000)
    stack.packets_to_send(T0 + 3000)
    events = []
    while (event := stack.next_event()) is not None:
        events.append(event)
    assert [(owner, type(e)) for owner, e in events if owner is listener] == [
        (listener, ConnectionRequest)
    ]
    assert stack.accept(listener).state is State.ESTABLISHED
