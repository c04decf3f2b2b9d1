"""ESTABLISHED: sequence check, RST/SYN handling, ACK checks, retransmission,
events and errors (RFC 9293 3.10.7.4, RFC 5961, RFC 6298, 3.8.3).

``established()``: active open; SYN at T0, SYN,ACK at T0+10 ms (so SRTT is
10 ms and the RTO is min_rto = 200 ms).  Relative numbers: our next sequence
number is ISS+1 and RCV.NXT is IRS+1; the receive window is 65535 bytes.
"""

from __future__ import annotations

import errno
from dataclasses import replace

import pytest
from helpers import (
    ACK,
    CONFIG,
    FIN,
    LOCAL_ISS,
    PEER_SYN_OPTIONS,
    PSH,
    REMOTE_ISS,
    REMOTE_WINDOW,
    RST,
    SYN,
    T0,
    Harness,
    established,
    syn_sent,
)

from synack.tcp.config import SECOND
from synack.tcp.events import (
    Closed,
    Established,
    PeerFinished,
    Readable,
    Reset,
    Unresponsive,
    Writable,
)
from synack.tcp.state import State
from synack.trace.records import TimerFired

RTO = 200_000
WINDOW = 65535
NOW = T0 + 10_000  # established() leaves the clock here


def test_established_fields() -> None:
    """The state the other tests start from."""
    h = established()
    c = h.conn
    assert h.now == NOW
    assert c.snd_una == c.snd_nxt == LOCAL_ISS + 1
    assert c.rcv_nxt == REMOTE_ISS + 1
    assert c.snd_wnd == REMOTE_WINDOW
    assert c.rtt.rto == RTO
    assert h.deadline is None


# ---------------------------------------------------------------- Table 6: sequence check


def test_empty_segment_at_rcv_nxt_is_acceptable() -> None:
    """Table 6, SEG.LEN = 0, RCV.WND > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND."""
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, window=1000))
    h.expect_nothing()
    assert h.conn.snd_wnd == 1000  # processed: the window update took effect


def test_empty_segment_at_window_end_is_acceptable() -> None:
    """Table 6: SEG.SEQ = RCV.NXT+RCV.WND-1 is the last acceptable number."""
    h = established()
    h.recv_seg(h.peer(ACK, 1 + WINDOW - 1, 1))
    h.expect_nothing()


@pytest.mark.parametrize("rel_seq", [1 + WINDOW, 0, -1000, 1 + 2**30])
def test_empty_segment_outside_window_gets_ack(rel_seq: int) -> None:
    """Table 6: outside [RCV.NXT, RCV.NXT+RCV.WND): "If an incoming segment is
    not acceptable, an acknowledgment should be sent in reply ...
    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" and the segment is dropped."""
    h = established()
    h.recv_seg(h.peer(ACK, rel_seq, 1, window=1000))
    h.expect(h.mine(ACK, 1, 1))
    h.expect_nothing()
    assert h.conn.snd_wnd == REMOTE_WINDOW  # the window field was not used
    assert h.state is State.ESTABLISHED


def test_data_segment_starting_in_window_is_acceptable() -> None:
    """Table 6, SEG.LEN > 0, RCV.WND > 0: the first octet is in the window."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"abc"))
    assert h.conn.rcv_nxt == REMOTE_ISS + 4
    assert h.deadline == NOW + 40_000  # delayed ACK (MUST-40)


def test_data_segment_ending_in_window_is_acceptable_and_trimmed() -> None:
    """Table 6: "or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND" -- an old
    duplicate overlapping new data: "only the new parts are processed"."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"hello"))
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"hello world"))
    assert h.conn.rcv_nxt == REMOTE_ISS + 12
    assert h.conn.recv(100) == b"hello world"


def test_entirely_old_data_segment_gets_ack() -> None:
    """Table 6: a retransmission of data already received is unacceptable:
    ACK it (RCV.NXT tells the peer what we have) and drop it."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"hello"))
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, 6, window=WINDOW - 5))
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"hello"))
    h.expect(h.mine(ACK, 1, 6, window=WINDOW - 5))
    assert h.conn.recv(100) == b"hello"


def test_data_segment_beyond_window_gets_ack() -> None:
    """Table 6: neither end in the window: ACK and drop."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1 + WINDOW, 1, payload=b"late"))
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.rcv_nxt == REMOTE_ISS + 1
    assert len(h.conn.receive_buffer) == 0


def test_data_overlapping_right_edge_is_trimmed_to_window() -> None:
    """3.10.7.4 first: segments straddling the right edge are trimmed to the
    window ("tailored"); the excess is not kept."""
    h = established()
    h.recv_seg(h.peer(ACK, 1 + WINDOW - 3, 1, payload=b"abcdef"))
    assert h.conn.receive_buffer.out_of_order_bytes == 3
    h.expect(h.mine(ACK, 1, 1))  # out of order: ACK at once (RFC 5681 4.2)


def _fill_receive_window(h: Harness, snd_nxt: int = 1) -> None:
    """Make RCV.WND zero: the peer fills the whole buffer, we read nothing."""
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"x" * WINDOW))
    h.expect(h.mine(ACK, snd_nxt, 1 + WINDOW, window=0))
    assert h.conn.rcv_adv == h.conn.rcv_nxt


def test_zero_window_empty_segment_at_rcv_nxt_is_acceptable() -> None:
    """Table 6, SEG.LEN = 0, RCV.WND = 0: acceptable iff SEG.SEQ = RCV.NXT."""
    h = established()
    h.conn.send(b"data")
    h.take()
    _fill_receive_window(h, snd_nxt=5)
    h.recv_seg(h.peer(ACK, 1 + WINDOW, 5))
    h.expect_nothing()
    assert h.conn.snd_una == LOCAL_ISS + 5


def test_zero_window_empty_segment_elsewhere_gets_ack() -> None:
    h = established()
    _fill_receive_window(h)
    h.recv_seg(h.peer(ACK, 2 + WINDOW, 1))
    h.expect(h.mine(ACK, 1, 1 + WINDOW, window=0))


def test_zero_window_data_is_unacceptable_but_its_ack_is_used() -> None:
    """Table 6, SEG.LEN > 0, RCV.WND = 0: not acceptable -- but "special
    allowance should be made to accept valid ACKs": the ACK field is
    processed, the text dropped, and an ACK sent."""
    h = established()
    h.conn.send(b"data")
    h.take()
    _fill_receive_window(h, snd_nxt=5)
    h.recv_seg(h.peer(ACK | PSH, 1 + WINDOW, 5, payload=b"more"))
    h.expect(h.mine(ACK, 5, 1 + WINDOW, window=0))
    assert h.conn.snd_una == LOCAL_ISS + 5  # the ACK was processed
    assert h.conn.rcv_nxt == REMOTE_ISS + 1 + WINDOW  # the text was not


# ---------------------------------------------------------------- ACK field checks


def test_ack_of_unsent_data_gets_ack_and_is_dropped() -> None:
    """3.10.7.4 fifth: "If the ACK acks something not yet sent (SEG.ACK >
    SND.NXT), then send an ACK, drop the segment, and return" -- the text
    is not processed."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 50, payload=b"text"))
    h.expect(h.mine(ACK, 1, 1))
    h.expect_nothing()
    assert h.conn.rcv_nxt == REMOTE_ISS + 1
    assert h.conn.snd_una == LOCAL_ISS + 1


def test_old_duplicate_ack_is_ignored_but_text_is_processed() -> None:
    """3.10.7.4 fifth: "If the ACK is a duplicate (SEG.ACK < SND.UNA), it can
    be ignored" -- the segment's text still counts; SND.WND is not updated."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 0, window=10, payload=b"text"))
    assert h.conn.rcv_nxt == REMOTE_ISS + 5
    assert h.conn.snd_wnd == REMOTE_WINDOW


def test_ack_far_below_snd_una_gets_challenge_ack() -> None:
    """RFC 5961 5.2: SEG.ACK < SND.UNA - MAX.SND.WND is an old or forged ACK:
    send an ACK and drop the segment (its text is not taken): the blind data
    injection mitigation of MAY-12."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1 - REMOTE_WINDOW - 1, payload=b"text"))
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.rcv_nxt == REMOTE_ISS + 1


def test_segment_without_ack_bit_is_dropped() -> None:
    """3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return"."""
    h = established()
    h.recv_seg(h.peer(PSH, 1, payload=b"text"))
    h.expect_nothing()
    assert h.conn.rcv_nxt == REMOTE_ISS + 1


def test_ack_of_our_data_advances_snd_una() -> None:
    """3.10.7.4 fifth: SND.UNA < SEG.ACK =< SND.NXT: SND.UNA = SEG.ACK, the
    acknowledged data leaves the send buffer, the timer stops (RFC 6298 5.2)."""
    h = established()
    h.conn.send(b"0123456789")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"0123456789"))
    assert h.deadline == NOW + RTO
    h.now += 20_000
    h.recv_seg(h.peer(ACK, 1, 11, window=5000))
    h.expect_nothing()
    c = h.conn
    assert c.snd_una == c.snd_nxt == LOCAL_ISS + 11
    assert len(c.send_buffer) == 0
    assert c.snd_wnd == 5000
    assert c.snd_wl1 == REMOTE_ISS + 1
    assert c.snd_wl2 == LOCAL_ISS + 11
    assert h.deadline is None
    # RFC 6298 2.3: RTTVAR = 3/4*5 + 1/4*|10-20| = 6.25 ms, SRTT = 11.25 ms.
    assert c.rtt.srtt == 11_250
    assert c.rtt.rttvar == 6_250


# ---------------------------------------------------------------- RST (RFC 5961 3)


def test_rst_at_rcv_nxt_resets_the_connection() -> None:
    """3.10.7.4 second, ESTABLISHED: "any outstanding RECEIVEs and SEND should
    receive 'reset' responses ... Enter the CLOSED state, delete the TCB".  The
    application hears of it asynchronously, a Reset event (MUST-47)."""
    h = established()
    h.conn.send(b"queued")  # never sent: discarded with the TCB
    h.recv_seg(h.peer(RST, 1))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    events = h.events()
    assert [type(e) for e in events] == [Reset, Closed]
    assert isinstance(events[0], Reset)
    assert isinstance(events[0].error, ConnectionResetError)
    assert events[0].error.errno == errno.ECONNRESET
    assert len(h.conn.send_buffer) == 0
    with pytest.raises(ConnectionResetError):
        h.conn.send(b"x")
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")
    assert h.conn.recv(10) == b""
    assert h.transitions()[-1] == (State.ESTABLISHED, State.CLOSED)


def test_recv_reports_the_reset_first_after_buffered_data() -> None:
    """As Linux, data received before the RST stays readable; then recv
    reports the reset once, then end of stream."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"abc"))
    h.recv_seg(h.peer(RST, 4))
    assert h.state is State.CLOSED
    assert h.conn.recv(10) == b"abc"
    with pytest.raises(ConnectionResetError):
        h.conn.recv(10)
    assert h.conn.recv(10) == b""


@pytest.mark.parametrize("rel_seq", [2, 1000, WINDOW])
def test_in_window_rst_not_at_rcv_nxt_gets_challenge_ack(rel_seq: int) -> None:
    """RFC 5961 3.2 (3.10.7.4 second): RST in the window but not at RCV.NXT:
    send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, drop it, change nothing."""
    h = established()
    h.recv_seg(h.peer(RST, rel_seq))
    h.expect(h.mine(ACK, 1, 1))
    h.expect_nothing()
    assert h.state is State.ESTABLISHED
    assert h.events() == []


@pytest.mark.parametrize("rel_seq", [0, 1 + WINDOW, -5000])
def test_out_of_window_rst_is_dropped_silently(rel_seq: int) -> None:
    """3.10.7.4 first: an unacceptable RST is dropped with no ACK."""
    h = established()
    h.recv_seg(h.peer(RST | ACK, rel_seq, 1))
    h.expect_nothing()
    assert h.state is State.ESTABLISHED


# ---------------------------------------------------------------- SYN (RFC 5961 4)


@pytest.mark.parametrize("rel_seq", [1, 500, 1 + WINDOW + 10, -10])
def test_syn_in_established_gets_challenge_ack(rel_seq: int) -> None:
    """RFC 5961 4.2 (3.10.7.4 fourth): a SYN in a synchronized state, in the
    window or not, is answered with a challenge ACK; nothing else happens."""
    h = established()
    h.recv_seg(h.peer(SYN, rel_seq))
    h.expect(h.mine(ACK, 1, 1))
    h.expect_nothing()
    assert h.state is State.ESTABLISHED
    assert h.conn.rcv_nxt == REMOTE_ISS + 1


# ---------------------------------------------------------------- retransmission (RFC 6298)


def test_data_retransmitted_with_backoff_and_karn() -> None:
    """RFC 6298 5.4-5.6: on expiry retransmit the earliest unacknowledged
    segment and double the RTO (200, 400, 800 ms); Karn (MUST-18): the ACK of
    retransmitted data gives no RTT sample, so SRTT stays 10 ms; the backoff
    ends with the ACK (5.7)."""
    h = established()
    h.conn.send(b"payload")
    data = h.mine(ACK | PSH, 1, 1, payload=b"payload")
    h.expect(data)
    t = NOW
    assert h.deadline == t + 200_000
    h.advance(t + 200_000)
    h.expect(data)
    assert h.deadline == t + 600_000
    h.advance(t + 600_000)
    h.expect(data)
    assert h.deadline == t + 1_400_000
    assert h.conn.rtt.rto == 800_000
    h.now = t + 1_450_000
    h.recv_seg(h.peer(ACK, 1, 8))
    h.expect_nothing()
    assert h.conn.rtt.srtt == 10_000  # unchanged: no sample (Karn)
    assert h.conn.rtt.rto == RTO
    assert h.conn.retries == 0
    assert h.deadline is None
    assert h.conn.stats["retransmitted_segments"] == 2


def test_rto_resends_one_segment_and_restarts_slow_start() -> None:
    """RFC 5681 3.1: after an RTO cwnd is one segment: only the first of
    three outstanding segments is resent; the ACK of it lets two more go."""
    h = established()
    h.conn.send(b"a" * 1460 + b"b" * 1460 + b"c" * 1460)
    assert len(h.take()) == 3
    h.advance(NOW + RTO)
    h.expect(h.mine(ACK, 1, 1, payload=b"a" * 1460))
    assert h.conn.cc.cwnd == 1460
    h.recv_seg(h.peer(ACK, 1, 1461))
    h.expect(
        h.mine(ACK, 1461, 1, payload=b"b" * 1460),
        h.mine(ACK | PSH, 2921, 1, payload=b"c" * 1460),
    )


def test_give_up_after_retries2_with_timeout_error() -> None:
    """MUST-20 (c), MUST-21 (R2 set per connection), 3.8.3: after R2
    retransmissions the connection is closed and the user told ETIMEDOUT;
    no RST is sent (the peer is unreachable)."""
    h = established(replace(CONFIG, retries2=3))
    h.conn.send(b"payload")
    data = h.mine(ACK | PSH, 1, 1, payload=b"payload")
    h.expect(data)
    for deadline in (NOW + 200_000, NOW + 600_000, NOW + 1_400_000):
        assert h.deadline == deadline
        h.advance(deadline)
        h.expect(data)
    assert h.deadline == NOW + 3_000_000
    h.advance(NOW + 3_000_000)
    h.expect_nothing()
    assert h.state is State.CLOSED
    events = h.events()
    # R1 (3 retransmissions) was reached on the way (SHLD-9), then R2 ended it.
    assert [type(e) for e in events] == [Unresponsive, Reset, Closed]
    assert isinstance(events[1], Reset)
    assert isinstance(events[1].error, TimeoutError)
    assert events[1].error.errno == errno.ETIMEDOUT
    with pytest.raises(TimeoutError):
        h.conn.recv(10)
    assert h.transitions()[-1] == (State.ESTABLISHED, State.CLOSED)


def test_default_r2_gives_up_after_924_6_seconds() -> None:
    """MUST-20 with SHLD-11 (R2 at least 100 s) and SHLD-10 (R1 at least 3
    retransmissions): Linux's tcp_retries2 = 15 with a 200 ms RTO doubling up
    to 120 s gives up 924.6 s after sending; reaching R1 advises the IP layer
    (a traced event) and tells the application, once (SHLD-9)."""
    h = established()
    h.conn.send(b"payload")
    h.take()
    resent = 0
    while h.state is State.ESTABLISHED:
        deadline = h.deadline
        assert deadline is not None
        h.advance(deadline)
        resent += len(h.take())
    assert resent == 15
    assert h.now == NOW + 924_600_000
    assert any(isinstance(r, TimerFired) and r.timer.startswith("R1") for r in h.records)
    warnings = [e for e in h.events() if isinstance(e, Unresponsive)]
    assert warnings == [Unresponsive(h.conn.config.retries1)]


def test_user_timeout_gives_up_exactly() -> None:
    """MUST-21: the application sets R2 as a time (TCP_USER_TIMEOUT): data
    unacknowledged for 1 s ends the connection 1 s after it was sent, the
    last RTO being shortened to that moment (as Linux)."""
    h = established(replace(CONFIG, user_timeout=SECOND))
    h.conn.send(b"payload")
    h.take()
    h.advance(NOW + 200_000)
    assert len(h.take()) == 1
    assert h.deadline == NOW + 600_000
    h.advance(NOW + 600_000)
    assert len(h.take()) == 1
    assert h.deadline == NOW + SECOND  # not NOW + 1.4 s
    h.advance(NOW + SECOND)
    h.expect_nothing()
    assert h.state is State.CLOSED
    events = h.events()
    assert isinstance(events[0], Reset)
    assert isinstance(events[0].error, TimeoutError)


def test_ack_progress_restarts_the_user_timeout() -> None:
    """MUST-21: the timeout measures time without progress; an ACK of new data
    starts it again."""
    h = established(replace(CONFIG, user_timeout=SECOND, nagle=False))
    h.conn.send(b"one")
    h.take()
    h.advance(NOW + 200_000)
    h.take()
    h.now = NOW + 900_000
    h.recv_seg(h.peer(ACK, 1, 4))
    h.conn.send(b"two")
    h.take()
    restart = h.now
    assert h.deadline == restart + RTO
    h.advance(restart + RTO)
    h.take()
    h.advance(restart + 3 * RTO)
    h.take()
    assert h.deadline == restart + SECOND
    assert h.state is State.ESTABLISHED


# ---------------------------------------------------------------- events and errors


def test_readable_event_once_until_read() -> None:
    """Readable announces new in-order data; more data before the read does
    not repeat it; after a read the next data announces again."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"one"))
    h.recv_seg(h.peer(ACK | PSH, 4, 1, payload=b"two"))
    assert h.event_types() == [Readable]
    assert h.conn.recv(100) == b"onetwo"
    h.recv_seg(h.peer(ACK | PSH, 7, 1, payload=b"three"))
    assert h.event_types() == [Readable]


def test_recv_without_data_raises_blocking_io_error() -> None:
    h = established()
    with pytest.raises(BlockingIOError) as info:
        h.conn.recv(10)
    assert info.value.errno == errno.EAGAIN


def test_writable_after_the_send_buffer_drains() -> None:
    """send() takes what fits in the send buffer; Writable is announced once
    acknowledged data makes room."""
    h = established()
    taken = h.conn.send(b"z" * 70_000)
    assert taken == 65535
    assert h.conn.send(b"more") == 0
    segments = h.take()
    assert len(segments) == 10  # IW10 (RFC 6928)
    assert h.events() == []
    h.recv_seg(h.peer(ACK, 1, 1 + 1460))
    assert h.event_types() == [Writable]
    assert h.conn.send(b"more") == 4


def test_close_with_unread_data_sends_rst() -> None:
    """SHLD-3 (3.10.4; RFC 2525 2.17, Linux): closing with unread received data
    aborts: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, CLOSED, no FIN (the
    half-duplex close of MAY-1)."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"unread"))
    h.conn.close(h.now)
    h.expect(h.mine(RST | ACK, 1, 7, window=WINDOW - 6))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [Readable, Closed]
    assert h.transitions()[-1] == (State.ESTABLISHED, State.CLOSED)


def test_abort_in_established_sends_rst() -> None:
    """3.10.5 ABORT, ESTABLISHED: <SEQ=SND.NXT><CTL=RST> (RST,ACK as Linux);
    queued data is discarded; CLOSED."""
    h = established()
    h.conn.send(b"in flight")
    h.take()
    h.conn.send(b"queued")
    h.conn.abort(h.now)
    h.expect(h.mine(RST | ACK, 10, 1))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [Closed]


def test_fin_in_established_enters_close_wait() -> None:
    """3.10.7.4 eighth: FIN in ESTABLISHED: RCV.NXT advances over it, it is
    ACKed at once, PeerFinished, CLOSE-WAIT."""
    h = established()
    h.recv_seg(h.peer(ACK | FIN, 1, 1))
    h.expect(h.mine(ACK, 1, 2))
    assert h.state is State.CLOSE_WAIT
    assert h.conn.rcv_nxt == REMOTE_ISS + 2


def test_fin_with_data_is_read_then_end_of_stream() -> None:
    h = established()
    h.recv_seg(h.peer(ACK | PSH | FIN, 1, 1, payload=b"bye"))
    # Receiver SWS avoidance (MUST-39): the right edge stays where it was,
    # and the FIN took one sequence number of the window.
    h.expect(h.mine(ACK, 1, 5, window=WINDOW - 4))
    assert h.conn.recv(10) == b"bye"
    assert h.conn.recv(10) == b""
    assert h.conn.recv(10) == b""


def test_snd_nxt_wraps_through_zero() -> None:
    """With ISS = 2**32-100 the 100th octet wraps SND.NXT through zero."""
    h = established(replace(CONFIG, nagle=False))
    h.conn.send(b"w" * 150)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"w" * 150))
    assert int(h.conn.snd_nxt) == 51
    h.recv_seg(h.peer(ACK, 1, 151))
    assert int(h.conn.snd_una) == 51
    assert h.deadline is None


def test_syn_fin_is_challenged_like_a_syn() -> None:
    """Bad input never raises: SYN,FIN is handled at the fourth step like any
    SYN in a synchronized state (RFC 5961 4.2): challenge ACK, FIN ignored."""
    h = established()
    h.recv_seg(h.peer(SYN | FIN | ACK, 1, 1))
    h.expect(h.mine(ACK, 1, 1))
    assert h.state is State.ESTABLISHED


def test_syn_rst_at_rcv_nxt_is_a_reset() -> None:
    """The RST bit is checked (second step) before the SYN bit (fourth)."""
    h = established()
    h.recv_seg(h.peer(SYN | RST, 1))
    h.expect_nothing()
    assert h.state is State.CLOSED


def test_events_over_a_whole_connection_in_order() -> None:
    """MUST-12: the application learns whether the peer closed (PeerFinished)
    or aborted (Reset).  Events come in protocol order (3.9.1.8: the TCP's signals to the
    application): Established; then, for one segment carrying an ACK and
    text, Writable (fifth step, the ACK) before Readable (seventh, the text);
    PeerFinished (eighth, FIN); Closed last."""
    h = syn_sent()
    h.now += 10_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.take()
    assert h.conn.send(b"q" * 70_000) == WINDOW  # full: Writable is wanted
    h.take()
    h.recv_seg(h.peer(ACK | PSH, 1, 1 + 1460, payload=b"reply"))
    h.recv_seg(h.peer(ACK | FIN, 6, 1 + 1460))
    assert h.state is State.CLOSE_WAIT
    h.conn.abort(h.now)
    assert h.event_types() == [Established, Writable, Readable, PeerFinished, Closed]


def test_challenge_acks_are_rate_limited() -> None:
    """RFC 5961 7 (as Linux's tcp_invalid_ratelimit): at most one challenge ACK
    per 500 ms; an in-window RST within that time is dropped without one."""
    h = established()
    h.recv_seg(h.peer(RST, 100))  # in the window, not at RCV.NXT
    h.expect(h.mine(ACK, 1, 1))
    h.now += 100_000
    h.recv_seg(h.peer(RST, 200))
    h.expect_nothing()
    assert h.conn.stats["challenge_acks_rate_limited"] == 1
    h.now += 400_000  # 500 ms after the first challenge
    h.recv_seg(h.peer(SYN, 300))
    h.expect(h.mine(ACK, 1, 1))
    assert h.state is State.ESTABLISHED
