"""Linux's receive window (TcpConfig.linux_receive_window), receive memory and D-SACK.

The numbers are worked out by hand from the 6.x kernel functions that
``synack.tcp.rcvwindow`` models (tcp_select_initial_window,
tcp_init_buffer_space, __tcp_select_window, tcp_grow_window,
tcp_measure_rcv_mss, tcp_sequence, tcp_data_queue) and RFC 2883.
"""

from __future__ import annotations

from dataclasses import replace

from helpers import REMOTE_ISS, Harness, listen

from synack.tcp import rcvwindow
from synack.tcp.buffers import ReceiveBuffer
from synack.tcp.config import TcpConfig
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.wire.tcp import (
    MaxSegmentSize,
    NoOperation,
    Sack,
    SackPermitted,
    Segment,
    TcpFlags,
    WindowScale,
)

ACK, SYN, FIN, PSH = TcpFlags.ACK, TcpFlags.SYN, TcpFlags.FIN, TcpFlags.PSH

# SO_RCVBUF 20000 as Linux stores it (doubled, and locked), no timestamps.
LOCKED = TcpConfig(timestamps=False, receive_buffer=40_000, receive_buffer_locked=True)


def opened(
    config: TcpConfig, *, sack: bool = False, wscale: int | None = 7
) -> tuple[Harness, Segment]:
    """A passive open from a peer with MSS 1000; returns the harness and our SYN,ACK."""
    h = listen(config)
    options: tuple[MaxSegmentSize | SackPermitted | NoOperation | WindowScale, ...] = (
        MaxSegmentSize(1000),
    )
    if sack:
        options += (SackPermitted(),)
    if wscale is not None:
        options += (NoOperation(), WindowScale(wscale))
    h.recv_seg(h.peer(SYN, 0, window=32792, options=options))
    (syn_ack,) = h.take()
    h.now += 100_000
    h.recv_seg(h.peer(ACK, 1, 1, window=257))
    assert h.take() == []
    assert h.conn.state is State.ESTABLISHED
    h.events()
    return h, syn_ack


def data(h: Harness, rel_seq: int, length: int, *, flags: TcpFlags = ACK, gso: int = 0) -> None:
    segment = h.peer(flags, rel_seq, 1, window=257, payload=bytes(length))
    h.conn.receive(segment, h.now, gso_size=gso)


def sack_of(segment: Segment) -> list[tuple[int, int]]:
    """The SACK blocks of ``segment`` relative to the peer's ISS."""
    for option in segment.options:
        if isinstance(option, Sack):
            return [((s - REMOTE_ISS) % 2**32, (e - REMOTE_ISS) % 2**32) for s, e in option.blocks]
    return []


# ---------------------------------------------------------------- the SYN


def test_initial_window_is_the_buffer_window_rounded_to_the_mss() -> None:
    """sk_rcvbuf 40000 -> tcp_full_space 20000 (scaling_ratio 128) -> rounded down
    to a multiple of our MSS 1460: 18980; the locked buffer sizes the scale: 0."""
    h, syn_ack = opened(LOCKED)
    assert syn_ack.window == 18_980
    assert h.conn.rcv_wscale == 0
    # tcp_init_buffer_space keeps one MSS of the 20000 in reserve (tcp_app_win).
    assert h.conn.rwin.window_clamp == 20_000 - 1460
    assert h.conn.rwin.rcv_ssthresh == 20_000 - 1460
    assert h.conn.rwin.rcv_mss == 536  # tcp_initialize_rcv_mss: TCP_MSS_DEFAULT at most


def test_window_scale_is_sized_for_tcp_rmem_max_unless_the_buffer_is_locked() -> None:
    assert rcvwindow.initial_wscale(131_072, 32 << 20, False, True) == 10
    assert rcvwindow.initial_wscale(540_000, 15 << 20, False, True) == 8
    assert rcvwindow.initial_wscale(40_000, 15 << 20, True, True) == 0
    assert rcvwindow.initial_wscale(280_000, 15 << 20, True, True) == 2  # 140000: 2**17
    assert rcvwindow.initial_wscale(540_000, 15 << 20, False, False) == 0


def test_skb_truesize_model() -> None:
    """A small segment shares a page; a large one takes whole pages plus a head."""
    assert rcvwindow.skb_truesize(1000) == 1984
    assert rcvwindow.skb_truesize(4000) == 2 * 4096 + 640
    assert rcvwindow.skb_truesize(9000) == 3 * 4096 + 640
    assert rcvwindow.win_from_space(128, 40_000) == 20_000
    assert rcvwindow.space_from_win(128, 20_000) == 40_000


# ---------------------------------------------------------------- choosing the window


def test_ack_window_rounds_to_the_receiver_mss_without_scaling() -> None:
    """SO_RCVBUF 10000: after 4000 bytes (one 8832-byte skb, scaling_ratio 115)
    the free space backs 5016 bytes: 5000 in multiples of the 1000-byte rcv_mss."""
    config = replace(LOCKED, receive_buffer=20_000)
    h, syn_ack = opened(config)
    assert syn_ack.window == 8760
    data(h, 1, 4000, flags=ACK | PSH, gso=1000)
    (ack,) = h.take()  # a quick ACK
    assert (ack.ack - REMOTE_ISS) % 2**32 == 4001
    assert ack.window == 5000
    assert h.conn.rwin.scaling_ratio == 4000 * 256 // 8832
    assert h.conn.rwin.rcv_mss == 1000


def test_window_rounds_up_to_the_scale_and_never_shrinks() -> None:
    """Out-of-order data with SACK grows rcv_ssthresh (64076 + 2 * 9000) and the
    window is rounded up to 1 << 10; more data later would shrink it, but the
    right edge offered stays (81 << 10 both times)."""
    config = TcpConfig(timestamps=False, receive_buffer=131_072, window_scale_space=32 << 20)
    h, syn_ack = opened(config, sack=True)
    assert h.conn.rcv_wscale == 10
    assert syn_ack.window == 64_240  # 65536 rounded down to 1460s, unscaled on a SYN
    data(h, 2001, 9000, gso=1000)
    (ack,) = h.take()
    assert ack.window == 81
    assert sack_of(ack) == [(2001, 11001)]
    assert h.conn.rwin.rcv_ssthresh == 64_240 + 18_000
    data(h, 11001, 10000, gso=1000)
    (ack,) = h.take()
    assert ack.window == 81  # the free space alone would give 72
    assert rcvwindow.select_window(h.conn, effects=False) >> 10 == 72
    assert sack_of(ack) == [(2001, 21001)]


def test_rcv_ssthresh_grows_by_two_segments_per_full_segment() -> None:
    """tcp_grow_window: each well-filled in-order segment raises rcv_ssthresh by
    2 * advmss, and the window offered follows it."""
    config = TcpConfig(timestamps=False, receive_buffer=1 << 20, window_scale_space=6 << 20)
    h, _ = opened(config)
    start = h.conn.rwin.rcv_ssthresh
    data(h, 1, 1460)
    (ack,) = h.take()
    assert h.conn.rwin.rcv_ssthresh == start + 2 * 1460
    assert ack.window == (start + 2 * 1460 + 127) >> 7
    data(h, 1461, 1460)
    h.take()
    assert h.conn.rwin.rcv_ssthresh == start + 4 * 1460


def test_oversize_segment_into_an_empty_queue_is_taken_without_a_quick_ack() -> None:
    """tcp_sequence accepts a segment ending beyond the window when nothing is
    queued; with less than half the buffer left, quick ACKs stop (the ACK is
    delayed), and the usable window is zero, not negative: a RST at RCV.NXT is
    accepted."""
    h, _ = opened(LOCKED)
    data(h, 1, 20_000, flags=ACK | PSH, gso=1000)
    assert h.take() == []
    assert h.conn.rcv_nxt == REMOTE_ISS + 20_001
    assert h.deadline == h.now + h.conn.config.delayed_ack
    h.recv_seg(h.peer(TcpFlags.RST | ACK, 20_001, 1, window=257))
    assert h.conn.state is State.CLOSED


def test_segments_ending_beyond_the_window_are_dropped_while_data_is_queued() -> None:
    config = replace(LOCKED, receive_buffer=20_000)
    h, _ = opened(config)
    data(h, 1, 4000, flags=ACK | PSH, gso=1000)
    h.take()
    data(h, 4001, 50_000, gso=1000)  # in order, but ends beyond the window
    data(h, 5001, 50_000, gso=1000)  # out of order, ends beyond it
    data(h, 70_001, 10_000, gso=1000)  # starts beyond it
    acks = h.take()
    assert [(a.ack - REMOTE_ISS) % 2**32 for a in acks] == [4001]  # one ACK per flush
    assert acks[0].window == 5000
    assert h.conn.stats["beyond_window"] == 3
    assert h.conn.recv(100_000) == bytes(4000)
    # Queue empty: the oversize segment is taken; memory is over the buffer, so
    # the ACK at once offers a zero window (ICSK_ACK_NOMEM).
    data(h, 4001, 50_000, gso=1000)
    (ack,) = h.take()
    assert (ack.ack - REMOTE_ISS) % 2**32 == 54_001
    assert ack.window == 0
    assert h.conn.rcv_adv == h.conn.rcv_nxt


def test_fin_at_zero_window_is_accepted() -> None:
    h, _ = opened(LOCKED)
    data(h, 1, 60_000, flags=ACK | PSH, gso=1000)
    (ack,) = h.take()
    assert ack.window == 0
    h.recv_seg(h.peer(FIN | ACK, 60_001, 1, window=257))
    (ack,) = h.take()
    assert (ack.ack - REMOTE_ISS) % 2**32 == 60_002
    assert ack.window == 0
    assert h.conn.state is State.CLOSE_WAIT


def test_fin_at_zero_window_is_unacceptable_under_rfc_9293() -> None:
    """3.10.7.4 Table 6: SEG.LEN 1 with RCV.WND 0 is not acceptable (switch off)."""
    config = replace(
        LOCKED, linux_receive_window=False, accept_fin_at_zero_window=False, receive_buffer=2000
    )
    h, _ = opened(config, wscale=None)
    data(h, 1, 2000)
    h.take()
    assert h.conn.rcv_adv == h.conn.rcv_nxt  # window zero
    h.recv_seg(h.peer(FIN | ACK, 2001, 1, window=257))
    (ack,) = h.take()
    assert (ack.ack - REMOTE_ISS) % 2**32 == 2001
    assert h.conn.state is State.ESTABLISHED


# ---------------------------------------------------------------- D-SACK (RFC 2883)


def dsack_harness() -> Harness:
    h, _ = opened(TcpConfig(timestamps=False), sack=True)
    return h


def test_dsack_for_data_below_rcv_nxt() -> None:
    h = dsack_harness()
    data(h, 1, 1000)
    h.take()
    data(h, 1, 1000)  # all of it again
    (ack,) = h.take()
    assert (ack.ack - REMOTE_ISS) % 2**32 == 1001
    assert sack_of(ack) == [(1, 1001)]
    data(h, 1001, 500)
    (ack,) = h.take()
    assert sack_of(ack) == []  # reported once


def test_dsack_first_then_the_sack_blocks() -> None:
    h = dsack_harness()
    data(h, 1001, 1000)
    data(h, 4001, 1000)
    h.take()
    data(h, 4001, 1000)  # an out-of-order duplicate
    (ack,) = h.take()
    assert sack_of(ack) == [(4001, 5001), (4001, 5001), (1001, 2001)]
    data(h, 1, 3000)  # fills the first hole and repeats 1001:2001
    (ack,) = h.take()
    assert (ack.ack - REMOTE_ISS) % 2**32 == 3001
    assert sack_of(ack) == [(1001, 2001), (4001, 5001)]


def test_partial_duplicate_reports_the_old_part() -> None:
    h = dsack_harness()
    data(h, 1, 1000)
    h.take()
    data(h, 501, 1000)
    (ack,) = h.take()
    assert (ack.ack - REMOTE_ISS) % 2**32 == 1501
    assert sack_of(ack) == [(501, 1001)]


def test_no_dsack_when_switched_off() -> None:
    h, _ = opened(TcpConfig(timestamps=False, dsack=False), sack=True)
    data(h, 1, 1000)
    h.take()
    data(h, 1, 1000)
    (ack,) = h.take()
    assert sack_of(ack) == []


# ---------------------------------------------------------------- memory accounting


def test_receive_buffer_charges_truesize_until_read() -> None:
    buffer = ReceiveBuffer(100_000)
    assert buffer.add(0, bytes(1000), clip=False, truesize=1984) == 1000
    assert buffer.add(0, bytes(1000), clip=False, truesize=1984) == 1000
    assert buffer.memory == 2 * 1984
    buffer.read(1500)  # the first chunk is read through, the second only partly
    assert buffer.memory == 1984
    buffer.read(500)
    assert buffer.memory == 0


def test_out_of_order_memory_moves_with_its_data() -> None:
    buffer = ReceiveBuffer(100_000)
    buffer.add(1000, bytes(1000), clip=False, truesize=4000)
    assert buffer.memory == 4000
    assert buffer.highest_end == 2000
    assert buffer.add(0, bytes(1000), clip=False, truesize=2000) == 2000
    assert buffer.memory == 6000
    buffer.read(1000)
    assert buffer.memory == 4000
    buffer.read(1000)
    assert buffer.memory == 0


def test_duplicate_stretch_is_reported_once() -> None:
    buffer = ReceiveBuffer(100_000)
    buffer.add(1000, bytes(1000))
    assert buffer.take_duplicate() is None
    buffer.add(500, bytes(1000))  # 1000:1500 was held
    assert buffer.take_duplicate() == (1000, 1500)
    assert buffer.take_duplicate() is None
    buffer.add(0, bytes(2500))  # fills 0:500 and repeats 500:2000
    assert buffer.take_duplicate() == (-2000, -500)


def test_unclipped_add_keeps_data_beyond_the_capacity() -> None:
    buffer = ReceiveBuffer(1000)
    assert buffer.add(0, bytes(5000), clip=False) == 5000
    assert buffer.add(0, bytes(5000)) == 0  # clipped: no room


def test_out_of_order_segment_refused_when_memory_is_full() -> None:
    config = replace(LOCKED, receive_buffer=20_000)
    h, _ = opened(config)
    data(h, 1, 4000, gso=1000)
    h.take()
    before = h.conn.receive_buffer.out_of_order_bytes
    data(h, 5001, 1000)  # fits the window; 8832 + 1000 <= 20000: held
    assert h.conn.receive_buffer.out_of_order_bytes == before + 1000
    h.take()
    h.conn.receive_buffer.memory = 19_600  # as if other skbs held the memory
    data(h, 7001, 500)
    assert h.conn.receive_buffer.out_of_order_bytes == before + 1000
    assert h.conn.stats["RECEIVE_BUFFER_FULL"] == 1


def test_accepted_connection_grows_its_buffer_for_out_of_order_data() -> None:
    """tcp_rcvbuf_grow: only once the application accepted the connection."""
    config = TcpConfig(timestamps=False, receive_buffer=131_072, window_scale_space=32 << 20)
    h, _ = opened(config, sack=True)
    assert not h.conn.accepted
    data(h, 2001, 39_000, gso=1000)
    data(h, 41_001, 60_000, gso=1000)
    assert h.conn.receive_buffer.capacity == 131_072
    h2, _ = opened(config, sack=True)
    h2.conn.accepted = True
    data(h2, 2001, 39_000, gso=1000)
    data(h2, 41_001, 60_000, gso=1000)
    assert h2.conn.receive_buffer.capacity > 131_072
    assert sack_of(h2.take()[-1]) == [(2001, 101_001)]


def test_rfc_harness_window_is_unchanged() -> None:
    """The RFC-pure configuration keeps the free-space window (MUST-39)."""
    config = replace(LOCKED, linux_receive_window=False, receive_buffer=65_535)
    h, syn_ack = opened(config, wscale=None)
    assert syn_ack.window == 65_535
    data(h, 1, 1000)
    (ack,) = h.take()
    assert ack.window == 65_535 - 1000
    assert isinstance(h.conn.rcv_adv, Seq)
