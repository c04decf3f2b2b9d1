"""Linux's segmentation (synack.tcp.segmentation): skbs, push marks, TSO packet
sizes, where PSH goes on the wire, and the send-buffer accounting."""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, PSH, Harness, established

from synack.tcp import segmentation
from synack.tcp.events import Writable

LINUX = replace(CONFIG, tso_packets=True, linux_send_buffer=True, slow_start_after_idle=True)
MSS = 1460


def linux(**changes: object) -> Harness:
    """An established connection (10 ms handshake RTT, peer window 64240) with
    Linux's segmentation on."""
    return established(replace(LINUX, **changes))  # type: ignore[arg-type]


def psh_marks(h: Harness) -> list[tuple[int, bool]]:
    """(payload length, PSH) of every segment that comes out now."""
    return [(len(s.payload), bool(s.flags & PSH)) for s in h.take()]


def ack(h: Harness, rel_ack: int) -> None:
    h.recv_seg(h.peer(ACK, 1, rel_ack))


def test_size_goal_is_half_the_largest_window_in_whole_mss() -> None:
    h = linux()
    assert h.conn.max_snd_wnd == 64240
    assert segmentation.size_goal(h.conn) == 32120 // MSS * MSS == 22 * MSS
    h.conn.max_snd_wnd = 500  # at most TCP_MSS_DEFAULT: the whole window, but one MSS at least
    assert segmentation.size_goal(h.conn) == MSS
    h.conn.max_snd_wnd = 1 << 20  # bounded by the gso maximum
    assert segmentation.size_goal(h.conn) == 65536 // MSS * MSS


def test_tso_autosize_from_the_pacing_rate() -> None:
    h = linux()
    conn = h.conn
    assert conn.rtt.srtt == 10_000 and conn.cc.cwnd == 10 * MSS
    # 200 % * 10 * 1460 B / 10 ms = 2.92 MB/s; >> 10 = 2851 B: one segment, floor 2.
    assert segmentation.tso_segs(conn, 0) == 2
    assert segmentation.tso_segs(linux(min_tso_segs=10).conn, 0) == 10
    # Congestion avoidance (cwnd >= ssthresh / 2) paces at 120 %.
    conn.cc.ssthresh = conn.cc.cwnd
    conn.cc.cwnd = 100 * MSS
    assert segmentation.tso_segs(conn, 0) == (MSS * 100 * 120 * 10_000 // 10_000 >> 10) // MSS
    # A path shorter than 512 us adds the whole gso size: capped at 65536 bytes.
    conn.rtt.sample(100)
    assert conn.rtt.min_rtt == 100
    assert segmentation.tso_segs(conn, 0) == 65536 // MSS


def test_push_marks_msg_more_and_the_first_touch_clears_psh() -> None:
    """MAY-15: the SEND call says whether to push -- a write pushes (its last
    skb is marked PSH) unless MSG_MORE (``more=True``) says more follows."""
    h = linux()
    conn = h.conn
    conn.cork = True  # keep everything queued to look at the skbs
    assert conn.send(b"a" * 1000, h.now, more=True) == 1000
    assert conn.write_queue.pushed == [False]
    assert conn.send(b"b" * 500, h.now) == 500
    assert (conn.write_queue.ends, conn.write_queue.pushed) == ([1500], [True])
    assert conn.write_queue.pushed_seq == 1500
    conn.send(b"c" * 10, h.now, more=True)  # appends to the same skb and clears its mark
    assert (conn.write_queue.ends, conn.write_queue.pushed) == ([1510], [False])


def test_forced_push_when_more_than_half_the_window_is_unmarked() -> None:
    h = linux(send_buffer=1 << 20)
    conn = h.conn
    conn.cork = True
    assert conn.send(b"x" * 70_000, h.now) == 70_000
    queue = conn.write_queue
    # skb 1 fills at 32120 (not beyond pushed_seq 0 + 32120); skb 2 fills at 64240.
    assert queue.ends == [32120, 64240, 70000]
    assert queue.pushed == [False, True, True]


def test_packets_of_two_segments_each_end_with_psh() -> None:
    h = linux()
    h.conn.send(b"x" * 5 * MSS, h.now)
    # cwnd_quota = min(cwnd/2 = 5, 10, tso_segs = 2): 2 + 2 + 1 segments.
    assert psh_marks(h) == [(MSS, False), (MSS, True), (MSS, False), (MSS, True), (MSS, True)]


def test_cwnd_quota_is_half_the_window_per_packet() -> None:
    h = linux(min_tso_segs=10)
    h.conn.send(b"x" * 26_000, h.now)
    marks = psh_marks(h)
    # Two packets of five segments (cwnd 10): PSH closes each.
    assert len(marks) == 10
    assert [i for i, (_, psh) in enumerate(marks) if psh] == [4, 9]


def test_one_segment_cut_from_a_marked_skb_has_no_psh() -> None:
    h = linux()
    h.conn.nagle = False
    h.conn.cc.cwnd = 3 * MSS  # cwnd_quota = min(1, 3) = 1: one-segment packets
    h.conn.send(b"x" * (3 * MSS), h.now)
    assert psh_marks(h) == [(MSS, False), (MSS, False), (MSS, True)]


def test_nagle_holds_the_partial_tail_of_a_multi_segment_skb() -> None:
    h = linux()
    h.conn.send(b"x" * 100, h.now)  # a small segment now in flight (Minshall)
    assert psh_marks(h) == [(100, True)]
    h.conn.send(b"y" * (2 * MSS + 200), h.now)
    # tcp_mss_split_point sends the full segments; the 200 bytes wait.
    assert psh_marks(h) == [(MSS, False), (MSS, True)]
    ack(h, 101)  # no small segment in flight any more (Minshall): it goes, marked
    assert psh_marks(h) == [(200, True)]


def test_idle_restart_returns_cwnd_to_the_initial_window() -> None:
    h = linux()
    conn = h.conn
    conn.cc.cwnd = 36 * MSS
    conn.send(b"x" * MSS, h.now)
    h.take()
    ack(h, 1 + MSS)
    h.now += 2_000_000  # idle for about seven RTOs
    conn.send(b"x" * 20 * MSS, h.now)
    h.take()
    assert conn.cc.cwnd == 10 * MSS
    assert conn.cc.ssthresh >= 27 * MSS  # max(ssthresh, 3/4 cwnd)


def test_send_buffer_charges_skbs_and_wakes_at_a_third_free() -> None:
    h = linux(send_buffer=42_000)
    conn = h.conn
    overhead = conn.config.skb_overhead
    # A new skb starts only while the charge is below SO_SNDBUF; it then fills
    # to size_goal: 32120 + 32120 bytes, the third skb waits.
    assert conn.send(b"x" * 100_000, h.now) == 64_240
    segments = h.take()
    sent = sum(len(s.payload) for s in segments)
    assert segmentation.wmem_queued(conn) == 64_240 + len(conn.write_queue) * overhead
    assert not conn.stream_writable()
    ack(h, 1 + sent)
    queued = segmentation.wmem_queued(conn)
    assert conn.stream_writable() == (42_000 - queued >= queued // 2)
    # Acknowledge everything sent until the writer may go on: the Writable
    # event comes exactly when the free space reaches half the charge.
    acked = sent
    while not conn.stream_writable():
        acked += sum(len(s.payload) for s in h.take())
        ack(h, 1 + acked)
    queued = segmentation.wmem_queued(conn)
    assert 42_000 - queued >= queued // 2
    assert Writable in h.event_types()
