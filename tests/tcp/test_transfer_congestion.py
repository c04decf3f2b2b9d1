"""Congestion control seen from the wire (RFC 9293 3.8.2 MUST-19 -> RFC 5681):
the initial window of 10 segments (RFC 6928, Linux), slow start, congestion
avoidance, and the send window as the minimum of cwnd and the peer's window.
"""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, LOCAL_ISS, SYN, Harness, established, syn_sent

from synack.tcp.congestion import NewReno
from synack.wire.tcp import MaxSegmentSize, Segment

MSS = 1460
BIG = replace(CONFIG, send_buffer=1 << 20)


def rel_seq(segment: Segment) -> int:
    return (segment.seq - LOCAL_ISS) % 2**32


def sent(h: Harness) -> list[int]:
    """Relative sequence numbers of the full segments sent now."""
    out = h.take()
    assert all(len(s.payload) == MSS for s in out)
    return [rel_seq(s) for s in out]


def test_connection_uses_newreno_with_the_negotiated_mss() -> None:
    h = established()
    assert isinstance(h.conn.cc, NewReno)
    assert h.conn.cc.mss == MSS
    assert h.conn.cc.cwnd == 10 * MSS


def test_initial_window_is_ten_segments() -> None:
    """RFC 6928 / Linux TCP_INIT_CWND: 10 segments may be sent before any ACK."""
    h = established(BIG)
    h.conn.send(bytes(50 * MSS))
    assert sent(h) == [1 + i * MSS for i in range(10)]
    h.expect_nothing()


def test_initial_window_follows_a_small_peer_mss() -> None:
    """The window is counted in the peer's (smaller) MSS: 10 * 536 bytes."""
    h = syn_sent(BIG)
    h.now += 10_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=(MaxSegmentSize(536),)))
    h.take()
    assert h.conn.cc.cwnd == 5360
    h.conn.send(bytes(20_000))
    out = h.take()
    assert [len(s.payload) for s in out] == [536] * 10


def test_initial_window_is_configurable() -> None:
    h = established(replace(BIG, initial_window=4))
    h.conn.send(bytes(10 * MSS))
    assert len(sent(h)) == 4


def test_slow_start_sends_two_segments_per_ack() -> None:
    """RFC 5681 3.1: during slow start each ACK of a full segment grows cwnd by
    one SMSS, so it releases two segments: the window doubles every round trip."""
    h = established(BIG)
    h.conn.send(bytes(100 * MSS))
    first_round = sent(h)
    assert len(first_round) == 10
    h.now += 10_000
    second_round: list[int] = []
    for index in range(10):
        h.recv_seg(h.peer(ACK, 1, 1 + (index + 1) * MSS))
        new = sent(h)
        assert len(new) == 2
        second_round += new
    assert h.conn.cc.cwnd == 20 * MSS
    assert second_round == [1 + i * MSS for i in range(10, 30)]


def test_stretch_ack_grows_cwnd_by_all_it_acknowledged() -> None:
    """As Linux's tcp_slow_start (where RFC 5681 3.1 would add one SMSS): an ACK
    of ten segments adds ten, and twenty segments may then be in flight."""
    h = established(BIG)
    h.conn.send(bytes(100 * MSS))
    h.take()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 10 * MSS))
    assert h.conn.cc.cwnd == 20 * MSS
    assert len(sent(h)) == 20


def test_congestion_avoidance_after_ssthresh() -> None:
    """RFC 5681 3.1: once cwnd >= ssthresh it grows by about one SMSS per RTT."""
    h = established(BIG)
    h.conn.cc.ssthresh = 10 * MSS
    h.conn.send(bytes(100 * MSS))
    h.take()
    h.now += 10_000
    for index in range(10):
        h.recv_seg(h.peer(ACK, 1, 1 + (index + 1) * MSS))
        h.take()
    assert 10 * MSS + MSS - 200 <= h.conn.cc.cwnd <= 11 * MSS


def test_peer_window_limits_below_cwnd() -> None:
    """The sender uses min(cwnd, SND.WND): a 3-segment peer window wins over IW10."""
    h = syn_sent(BIG)
    h.now += 10_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=3 * MSS, options=(MaxSegmentSize(MSS),)))
    h.take()
    h.conn.send(bytes(10 * MSS))
    assert sent(h) == [1, 1 + MSS, 1 + 2 * MSS]
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + MSS, window=3 * MSS))
    assert sent(h) == [1 + 3 * MSS]


def test_cwnd_does_not_grow_on_duplicate_or_window_only_acks() -> None:
    h = established(BIG)
    h.conn.send(bytes(20 * MSS))
    h.take()
    h.recv_seg(h.peer(ACK, 1, 1, window=50_000))  # window update, no new data acked
    assert h.conn.cc.cwnd == 10 * MSS
