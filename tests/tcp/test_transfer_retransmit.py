"""Retransmission (RFC 9293 3.8.1, RFC 6298) and fast retransmit / fast
recovery (RFC 5681 3.2, NewReno RFC 6582) seen from the wire.

RTO: 1 s before any RTT sample (RFC 6298 2.1); after the handshake's 10 ms
sample it is max(min_rto, SRTT + 4 RTTVAR) = 200 ms (Linux's min_rto); each
expiry doubles it (5.5) up to max_rto = 120 s; R2 = 15 retransmissions.
"""

from __future__ import annotations

import errno

from helpers import (
    ACK,
    LOCAL_ISS,
    PEER_SYN_OPTIONS,
    PSH,
    SYN,
    SYN_OPTIONS,
    T0,
    Harness,
    established,
    syn_sent,
)

from synack.tcp.config import SECOND
from synack.tcp.events import Closed, Reset, Unresponsive
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.wire.tcp import Segment

MSS = 1460
RTO = 200_000
MAX_RTO = 120 * SECOND


def rel_seq(segment: Segment) -> int:
    return (segment.seq - LOCAL_ISS) % 2**32


def sent(h: Harness) -> list[tuple[int, int]]:
    """(relative sequence number, payload length) of everything sent now."""
    return [(rel_seq(s), len(s.payload)) for s in h.take()]


# ---------------------------------------------------------------- RTO timing (RFC 6298)


def test_initial_rto_is_one_second() -> None:
    """RFC 6298 2.1: before any RTT measurement the RTO is 1 s."""
    h = syn_sent()
    assert h.deadline == T0 + SECOND
    h.advance(T0 + SECOND - 1)
    h.expect_nothing()
    h.advance(T0 + SECOND)
    h.expect(h.mine(SYN, 0, options=SYN_OPTIONS))  # the same SYN again
    assert h.deadline == T0 + 3 * SECOND  # backed off to 2 s (5.5)


def test_rto_after_a_10ms_sample_is_the_200ms_minimum() -> None:
    """RFC 6298 2.2/2.4: SRTT = 10 ms, RTTVAR = 5 ms: 10 + 4*5 = 30 ms < min_rto."""
    h = established()
    assert h.conn.rtt.srtt == 10_000
    assert h.conn.rtt.rto == RTO
    h.conn.send(b"x")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"x"))
    assert h.deadline == h.now + RTO


def test_rto_from_a_long_rtt() -> None:
    """With a 400 ms handshake RTT: RTO = 400 + 4 * 200 = 1200 ms."""
    h = syn_sent()
    h.now += 400_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.take()
    assert h.conn.rtt.rto == 1_200_000
    h.conn.send(b"x")
    h.take()
    assert h.deadline == h.now + 1_200_000


def test_timeout_retransmits_the_oldest_segment_and_backs_off() -> None:
    """RFC 6298 5.4-5.6: retransmit the earliest unacknowledged segment, double
    the RTO, restart the timer."""
    h = established()
    h.conn.send(b"hello")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"hello"))
    start = h.now
    h.advance(start + RTO)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"hello"))
    h.expect_nothing()
    assert h.deadline == start + RTO + 2 * RTO
    assert h.conn.rtt.rto == 2 * RTO
    assert h.conn.stats["retransmitted_segments"] == 1


def test_backoff_doubles_up_to_max_rto_then_r2_gives_up() -> None:
    """RFC 6298 5.5 (doubling) and 2.5 (a maximum, here Linux's 120 s); after
    R2 = retries2 = 15 retransmissions the connection is given up (MUST-20)
    with ETIMEDOUT."""
    h = established()
    h.conn.send(b"x")
    h.take()
    intervals = []
    last = h.now
    while h.state is State.ESTABLISHED:
        deadline = h.deadline
        assert deadline is not None
        intervals.append(deadline - last)
        last = deadline
        h.advance(deadline)
        out = sent(h)
        if h.state is State.ESTABLISHED:
            assert out == [(1, 1)]
    assert intervals == [RTO << i for i in range(10)] + [MAX_RTO] * 6
    assert h.conn.stats["retransmitted_segments"] == 15
    events = h.events()
    assert events[0] == Unresponsive(3)  # R1 on the way (SHLD-9)
    assert isinstance(events[1], Reset)
    assert events[1].error.errno == errno.ETIMEDOUT
    assert events[2:] == [Closed()]


def test_ack_after_retransmission_resets_the_backoff_without_a_sample() -> None:
    """Karn (MUST-18): the ACK of a retransmitted segment gives no RTT sample,
    but the backed-off RTO is forgotten once new data is acknowledged."""
    h = established()
    h.conn.send(b"x")
    h.take()
    h.advance(h.now + RTO)
    h.advance(h.now + 2 * RTO)
    assert len(h.take()) == 2
    assert h.conn.rtt.rto == 4 * RTO
    srtt = h.conn.rtt.srtt
    h.now += 700_000  # a huge "sample" if it were (wrongly) taken
    h.recv_seg(h.peer(ACK, 1, 2))
    assert h.conn.rtt.srtt == srtt
    assert h.conn.rtt.rto == RTO
    assert h.conn.retries == 0
    assert h.deadline is None
    h.conn.send(b"y")
    h.take()
    assert h.deadline == h.now + RTO


def test_new_segment_after_retransmission_is_timed() -> None:
    """A segment sent for the first time after a retransmission gives a sample again."""
    h = established()
    h.conn.send(b"x")
    h.take()
    h.advance(h.now + RTO)
    h.take()
    h.now += 50_000
    h.recv_seg(h.peer(ACK, 1, 2))
    h.conn.send(b"y")
    h.take()
    h.now += 30_000
    h.recv_seg(h.peer(ACK, 1, 3))
    # Second sample R = 30 ms: RTTVAR = 3/4*5 + 1/4*20 = 8.75 ms, SRTT = 7/8*10 + 30/8.
    assert h.conn.rtt.srtt == 12_500
    assert h.deadline is None


def test_ack_of_part_of_the_data_restarts_the_timer() -> None:
    """RFC 6298 5.3: an ACK of new data restarts the timer for the rest."""
    h = established()
    h.conn.send(bytes(2 * MSS))
    assert len(h.take()) == 2
    h.now += 150_000
    h.recv_seg(h.peer(ACK, 1, 1 + MSS))
    assert h.deadline == h.now + h.conn.rtt.rto
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 2 * MSS))
    assert h.deadline is None  # 5.2: all data acknowledged, timer off


def test_timeout_goes_back_and_resends_in_slow_start() -> None:
    """After an RTO cwnd is one segment (RFC 5681 3.1): only the first segment is
    resent; each ACK then lets slow start resend the rest (go-back-N)."""
    h = established()
    h.conn.send(bytes(4 * MSS))
    assert len(h.take()) == 4
    h.advance(h.now + RTO)
    assert sent(h) == [(1, MSS)]
    assert h.conn.cc.cwnd == MSS
    assert h.conn.cc.ssthresh == 2 * MSS  # max(FlightSize / 2, 2 * SMSS)
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + MSS))
    assert sent(h) == [(1 + MSS, MSS), (1 + 2 * MSS, MSS)]
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 4 * MSS))  # the originals had arrived after all
    h.expect_nothing()
    assert h.conn.snd_una == h.conn.snd_max == LOCAL_ISS + 1 + 4 * MSS
    assert h.deadline is None


# ---------------------------------------------------------------- fast retransmit (RFC 5681 3.2)


def ten_segments_in_flight() -> Harness:
    """The initial window (10 segments) sent from 20 segments' worth of data."""
    h = established()
    h.conn.send(bytes(20 * MSS))
    assert sent(h) == [(1 + i * MSS, MSS) for i in range(10)]
    h.now += 10_000
    return h


def test_third_duplicate_ack_triggers_fast_retransmit() -> None:
    h = ten_segments_in_flight()
    for _ in range(2):
        h.recv_seg(h.peer(ACK, 1, 1))
        h.expect_nothing()  # RFC 5681 3.2 (1): nothing on the first two
    h.recv_seg(h.peer(ACK, 1, 1))
    h.expect(h.mine(ACK, 1, 1, payload=bytes(MSS)))  # only the lost segment, at once
    h.expect_nothing()
    cc = h.conn.cc
    assert cc.in_recovery
    assert cc.ssthresh == 5 * MSS  # FlightSize / 2
    assert cc.cwnd == 5 * MSS + 3 * MSS
    assert cc.recover == int(LOCAL_ISS + 1 + 10 * MSS)
    assert h.conn.stats["fast_retransmits"] == 1
    assert h.deadline == h.now + RTO  # the timer restarted for the retransmission


def test_duplicate_acks_inflate_the_window_and_release_new_data() -> None:
    """RFC 5681 3.2 (4)-(5): each further duplicate ACK adds one SMSS to cwnd; new
    data goes out once cwnd exceeds the data in flight."""
    h = ten_segments_in_flight()
    for _ in range(3):
        h.recv_seg(h.peer(ACK, 1, 1))
    h.take()
    h.recv_seg(h.peer(ACK, 1, 1))  # cwnd 9 * MSS < 10 * MSS in flight
    h.expect_nothing()
    h.recv_seg(h.peer(ACK, 1, 1))  # cwnd 10 * MSS
    h.expect_nothing()
    h.recv_seg(h.peer(ACK, 1, 1))  # cwnd 11 * MSS: one new segment
    assert sent(h) == [(1 + 10 * MSS, MSS)]
    h.recv_seg(h.peer(ACK, 1, 1))
    assert sent(h) == [(1 + 11 * MSS, MSS)]


def test_duplicate_ack_needs_the_same_window_and_no_data() -> None:
    """RFC 5681 2: an ACK that changes the window or carries data is not a duplicate."""
    h = ten_segments_in_flight()
    h.recv_seg(h.peer(ACK, 1, 1, window=60_000))
    h.recv_seg(h.peer(ACK, 1, 1, window=50_000))
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"data"))
    h.take()
    assert h.conn.cc.dupacks == 0
    assert not h.conn.cc.in_recovery


def test_partial_ack_retransmits_the_next_hole_at_once() -> None:
    """RFC 6582 3.2 step 3 (partial acknowledgments): an ACK that covers some but
    not all of the data sent before recovery retransmits the first unacknowledged
    segment at once, and deflates cwnd by the amount acknowledged (plus one SMSS
    back)."""
    h = ten_segments_in_flight()
    for _ in range(3):
        h.recv_seg(h.peer(ACK, 1, 1))
    h.take()
    cwnd = h.conn.cc.cwnd
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 2 * MSS))  # segments 1 and 2 in; 3 lost too
    out = sent(h)
    assert out[0] == (1 + 2 * MSS, MSS)
    assert h.conn.cc.in_recovery
    assert h.conn.cc.cwnd == cwnd - 2 * MSS + MSS
    assert h.deadline == h.now + RTO


def test_full_ack_ends_recovery_with_a_deflated_window() -> None:
    """RFC 6582 3.2 step 3 (full acknowledgments): an ACK covering ``recover`` ends fast recovery;
    cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)."""
    h = ten_segments_in_flight()
    for _ in range(3):
        h.recv_seg(h.peer(ACK, 1, 1))
    h.take()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 10 * MSS))
    cc = h.conn.cc
    assert not cc.in_recovery
    assert cc.cwnd == 2 * MSS  # nothing left in flight: 0 -> max(0, SMSS) + SMSS
    assert sent(h) == [(1 + 10 * MSS, MSS), (1 + 11 * MSS, MSS)]


def test_no_second_fast_retransmit_during_recovery() -> None:
    h = ten_segments_in_flight()
    for _ in range(10):
        h.recv_seg(h.peer(ACK, 1, 1))
    retransmitted = [s for s in h.take() if rel_seq(s) == 1]
    assert len(retransmitted) == 1
    assert h.conn.stats["fast_retransmits"] == 1


def test_retransmission_timeout_during_recovery_falls_back_to_slow_start() -> None:
    h = ten_segments_in_flight()
    for _ in range(3):
        h.recv_seg(h.peer(ACK, 1, 1))
    h.take()
    h.advance(h.now + RTO)
    assert sent(h) == [(1, MSS)]
    assert not h.conn.cc.in_recovery
    assert h.conn.cc.cwnd == MSS


def test_sequence_numbers_wrap_during_transfer() -> None:
    """LOCAL_ISS is 2**32 - 100: the second segment's sequence number wraps to a
    small integer and everything still works (Seq arithmetic, 3.4)."""
    h = established()
    h.conn.send(bytes(2 * MSS))
    first, second = h.take()
    assert first.seq == LOCAL_ISS + 1
    assert second.seq == (LOCAL_ISS + 1 + MSS) % 2**32 < first.seq
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 2 * MSS))
    assert h.conn.snd_una == Seq(LOCAL_ISS + 1 + 2 * MSS)
    assert len(h.conn.send_buffer) == 0
    assert h.deadline is None
