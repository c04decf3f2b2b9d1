"""Zero-window probing (RFC 9293 3.8.6.1: MUST-35, MUST-36, MUST-37, SHLD-29,
SHLD-30) and the sender's behaviour when the peer's window closes.

After the handshake's 10 ms RTT sample the RTO is 200 ms (Linux's min_rto),
so the first probe is due 200 ms after the window closed and later probes
back off exponentially up to max_rto (120 s).
"""

from __future__ import annotations

from helpers import ACK, LOCAL_ISS, PSH, Harness, established

from synack.tcp.state import State
from synack.wire.tcp import Segment

RTO = 200_000
MAX_RTO = 120_000_000
MSS = 1460


def rel_seq(segment: Segment) -> int:
    return (segment.seq - LOCAL_ISS) % 2**32


def zero_window_with_data_queued() -> Harness:
    """ESTABLISHED; the peer announced a zero window, then the application wrote."""
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, window=0))
    h.expect_nothing()
    assert h.conn.snd_wnd == 0
    h.conn.send(b"hello")
    h.expect_nothing()  # nothing may be sent into a zero window
    return h


def test_no_probe_without_queued_data() -> None:
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, window=0))
    h.expect_nothing()
    assert h.deadline is None


def test_first_probe_after_exactly_one_rto() -> None:
    """SHLD-29: the first probe when the zero window has lasted one RTO."""
    h = zero_window_with_data_queued()
    start = h.now
    assert h.deadline == start + RTO
    h.advance(start + RTO - 1)
    h.expect_nothing()
    h.advance(start + RTO)
    # The probe (as Linux's): no data, an already acknowledged sequence number,
    # so that the peer must answer with an ACK carrying its current window.
    h.expect(h.mine(ACK, 0, 1))
    h.expect_nothing()
    assert h.conn.snd_nxt == h.conn.snd_una  # the probe consumed nothing
    assert h.conn.stats["window_probes"] == 1


def test_probes_back_off_exponentially_up_to_max_rto() -> None:
    """SHLD-30: the interval doubles after each probe (200 ms, 400 ms, ... 102.4 s)
    and is then capped at max_rto (120 s)."""
    h = zero_window_with_data_queued()
    intervals = []
    last = h.now
    for _ in range(14):
        deadline = h.deadline
        assert deadline is not None
        intervals.append(deadline - last)
        h.advance(deadline)
        last = h.now
        h.expect(h.mine(ACK, 0, 1))
        h.recv_seg(h.peer(ACK, 1, 1, window=0))  # answered: still closed
        h.expect_nothing()
    assert intervals == [RTO << i for i in range(10)] + [MAX_RTO] * 4


def test_connection_stays_open_while_probes_are_answered() -> None:
    """MUST-37: as long as the receiver keeps ACKing the probes the connection
    stays open, however long the window stays closed (here a whole day)."""
    h = zero_window_with_data_queued()
    start = h.now
    probes = 0
    while h.now < start + 24 * 3600 * 1_000_000:
        deadline = h.deadline
        assert deadline is not None
        assert deadline - h.now <= MAX_RTO
        h.advance(deadline)
        h.expect(h.mine(ACK, 0, 1))
        probes += 1
        h.recv_seg(h.peer(ACK, 1, 1, window=0))
        h.expect_nothing()
    assert h.state is State.ESTABLISHED
    assert probes > 700
    assert h.events() == []  # no Reset, no Closed
    assert h.conn.retries == 0  # probes are not retransmissions (never R2)


def test_unanswered_probes_do_not_stop_probing() -> None:
    """Lost probe answers: the sender keeps probing on its backed-off schedule."""
    h = zero_window_with_data_queued()
    for _ in range(20):
        deadline = h.deadline
        assert deadline is not None
        h.advance(deadline)
        h.expect(h.mine(ACK, 0, 1))
    assert h.state is State.ESTABLISHED


def test_sending_resumes_when_a_window_update_arrives() -> None:
    """The window update stops the persist timer and the queued data goes out at once,
    with the retransmission timer armed in its place."""
    h = zero_window_with_data_queued()
    h.advance(h.now + RTO)
    h.expect(h.mine(ACK, 0, 1))
    h.now += 50_000
    h.recv_seg(h.peer(ACK, 1, 1, window=1000))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"hello"))
    h.expect_nothing()
    assert h.conn.persist_deadline is None
    assert h.deadline == h.now + RTO  # the retransmission timer (RFC 6298 5.1)


def test_window_update_without_probe_resumes_sending() -> None:
    """The peer may reopen the window on its own (its window update after a read)."""
    h = zero_window_with_data_queued()
    h.now += 30_000
    h.recv_seg(h.peer(ACK, 1, 1, window=65535))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"hello"))
    assert h.conn.persist_deadline is None


def test_probe_answer_that_opens_the_window_resets_the_backoff() -> None:
    h = zero_window_with_data_queued()
    for _ in range(3):
        h.advance(h.deadline or 0)
        h.expect(h.mine(ACK, 0, 1))
    h.recv_seg(h.peer(ACK, 1, 1, window=5))
    # 5 bytes usable and exactly 5 queued: all of it fits, so it is sent.
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"hello"))
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 6, window=0))
    h.conn.send(b"more")
    h.expect_nothing()
    assert h.deadline == h.now + RTO  # backoff forgotten: one RTO again


def test_window_closes_with_all_data_acknowledged() -> None:
    """The usual way into persist: the peer ACKs everything with a zero window."""
    h = established()
    h.conn.send(bytes(100))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=bytes(100)))
    h.conn.send(b"tail")
    h.expect_nothing()  # Nagle (Minshall's form): a small segment is unacknowledged
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 101, window=0))
    h.expect_nothing()
    assert h.conn.rtx_deadline is None
    assert h.deadline == h.now + RTO
    h.advance(h.now + RTO)
    h.expect(h.mine(ACK, 100, 1))  # SND.UNA - 1
    h.recv_seg(h.peer(ACK, 1, 101, window=100))
    h.expect(h.mine(ACK | PSH, 101, 1, payload=b"tail"))


def test_window_shrunk_to_zero_with_data_outstanding_is_probed_not_timed_out() -> None:
    """MUST-34/35, SHLD-17: the peer ACKs part of our data and closes its window
    (shrinking it).  The retransmission timer must turn into window probing -- it
    may not send data into the zero window nor count towards R2 -- and the rest
    of the data is resent from SND.UNA when the window opens."""
    h = established()
    h.conn.send(bytes(MSS))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=bytes(MSS)))
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1001, window=0))
    h.expect_nothing()
    assert h.deadline == h.now + RTO
    h.advance(h.now + RTO)
    h.expect(h.mine(ACK, 1000, 1))  # a window probe, not a retransmission
    h.expect_nothing()
    start = h.now
    while h.now < start + 3600 * 1_000_000:  # an hour of answered probes
        deadline = h.deadline
        assert deadline is not None
        assert deadline - h.now <= MAX_RTO
        h.advance(deadline)
        for segment in h.take():
            # Only the head of the unacknowledged data may go out (as a probe).
            assert rel_seq(segment) in (1000, 1001)
        h.recv_seg(h.peer(ACK, 1, 1001, window=0))
        h.take()
    assert h.state is State.ESTABLISHED
    assert h.events() == []
    h.recv_seg(h.peer(ACK, 1, 1001, window=5000))
    h.expect(h.mine(ACK | PSH, 1001, 1, payload=bytes(MSS - 1000)))
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + MSS, window=5000))
    h.expect_nothing()
    assert h.deadline is None


def test_shrunk_window_reopened_to_a_silly_size_is_not_a_stall() -> None:
    """After the window shrank to zero under outstanding data, a reopening too small
    for sender SWS avoidance (MUST-38) must still leave a timer running: the SWS
    override (the persist timer, one RTO) sends what fits -- as a retransmission,
    so it is not timed (Karn, MUST-18)."""
    h = established()
    h.conn.send(bytes(3 * MSS))
    assert len(h.take()) == 3
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1001, window=0))
    h.advance(h.now + RTO)
    h.expect(h.mine(ACK, 1000, 1))  # the probe
    h.recv_seg(h.peer(ACK, 1, 1001, window=100))  # 100 < 64240 / 2 and < MSS: silly
    h.expect_nothing()
    assert h.deadline == h.now + RTO  # the override timer runs
    h.advance(h.now + RTO)
    h.expect(h.mine(ACK | PSH, 1001, 1, payload=bytes(100)))
    assert h.conn.stats["retransmitted_segments"] >= 1
    assert h.conn._rtt_seq is None  # no RTT sample from resent data
    assert h.conn.rtx_deadline == h.now + RTO  # data in flight: retransmission timer
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1101, window=20_000))
    out = h.take()
    # Two full segments and the 360-byte tail: Nagle in Minshall's form (as Linux)
    # holds a small segment only while an earlier small one is unacknowledged,
    # and the 100-byte override segment has just been acknowledged.
    assert [(rel_seq(s), len(s.payload)) for s in out] == [
        (1101, MSS),
        (1101 + MSS, MSS),
        (1101 + 2 * MSS, 360),
    ]
