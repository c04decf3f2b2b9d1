"""Linux's receive window and receive memory (``TcpConfig.linux_receive_window``).

RFC 9293 lets the receiver choose its window (3.8.6.2.2 asks only for SWS
avoidance, MUST-39, and not to shrink it, SHLD-14).  Linux's choice is
worked out in bytes of kernel memory, not bytes of data, and this module
models it after the 6.x kernel:

* memory is counted in skb ``truesize`` (``skb_truesize`` below) against
  ``sk_rcvbuf`` (the receive buffer's capacity, twice SO_RCVBUF);
* ``scaling_ratio`` (``tp->scaling_ratio``, 128 = half) turns memory into
  window: ``tcp_win_from_space``; it is measured from the length and truesize
  of arriving segments (``tcp_measure_rcv_mss``);
* ``tcp_select_initial_window``: the SYN's window is the window of the whole
  buffer rounded down to a multiple of the MSS, and the window scale is
  sized for tcp_rmem[2] (or the locked buffer);
* ``tcp_init_buffer_space``: the window clamp at ESTABLISHED;
* ``rcv_ssthresh`` grows with ``tcp_grow_window`` as well-filled segments
  arrive, and ``__tcp_select_window`` advertises ``min(free space,
  rcv_ssthresh)``, rounded to the window scale (or to the receiver MSS
  estimate without one), zero once free space falls below 1/16 of the
  buffer or one MSS, never shrinking what was offered (``tcp_select_window``);
* ``tcp_cleanup_rbuf``: after a read, a window update once the window can
  at least double.

The segment-level rules (``tcp_sequence``'s end-of-segment check, the
queueing of ``tcp_data_queue``) are in ``arrival.py`` and call in here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synack.tcp.config import TcpConfig
from synack.tcp.options import window_shift
from synack.tcp.seq import Seq
from synack.trace.records import DropReason
from synack.wire.tcp import Segment, TcpFlags

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

FIN, RST, PSH = int(TcpFlags.FIN), int(TcpFlags.RST), int(TcpFlags.PSH)

RMEM_TO_WIN_SCALE = 8  # TCP_RMEM_TO_WIN_SCALE
DEFAULT_SCALING_RATIO = 1 << (RMEM_TO_WIN_SCALE - 1)  # TCP_DEFAULT_SCALING_RATIO: half
MAX_WSCALE = 14  # TCP_MAX_WSCALE
TCP_MSS_DEFAULT = 536
TCP_MIN_MSS = 88
MIN_WINDOW_CLAMP = 2304 // 2  # SOCK_MIN_RCVBUF / 2 (tcp_set_window_clamp)
APP_WIN = 31  # net.ipv4.tcp_app_win
MAX_QUICKACKS = 16  # TCP_MAX_QUICKACKS
TIMESTAMP_OPTION = 12

# The skb truesize model.  Linux charges a received segment by the memory its
# skb holds: an skb head (struct sk_buff plus skb_shared_info: 576 bytes) and
# the data.  A segment that fits in one page with its headroom is built in a
# page fragment (tun_build_skb and most NIC drivers); a larger (GSO/GRO)
# segment takes whole pages for its data plus a small head.  The numbers are
# those of the kernel the public selftests ran on (x86-64, 4 KiB pages).
PAGE_SIZE = 4096
SKB_STRUCT_OVERHEAD = 576  # SKB_DATA_ALIGN(sizeof(sk_buff)) + SKB_DATA_ALIGN(shared_info)
SKB_HEADROOM = 104  # IP and TCP headers (40) + NET_SKB_PAD (64)
XDP_HEADROOM = 256
SMALL_HEAD_TRUESIZE = 640  # truesize of the small head of a paged skb


def skb_truesize(length: int) -> int:
    """What Linux would charge to sk_rmem_alloc for a segment of ``length`` bytes."""
    if length + SKB_HEADROOM + XDP_HEADROOM + 320 <= PAGE_SIZE:
        return ((length + SKB_HEADROOM + XDP_HEADROOM + 63) & ~63) + SKB_STRUCT_OVERHEAD
    pages = (length + SKB_HEADROOM + PAGE_SIZE - 1) // PAGE_SIZE
    return pages * PAGE_SIZE + SMALL_HEAD_TRUESIZE


def win_from_space(ratio: int, space: int) -> int:
    """``__tcp_win_from_space``: the window ``space`` bytes of memory back."""
    return (space * ratio) >> RMEM_TO_WIN_SCALE


def space_from_win(ratio: int, window: int) -> int:
    """``__tcp_space_from_win``: the memory a window of ``window`` bytes needs."""
    return (window << RMEM_TO_WIN_SCALE) // ratio


class ReceiveWindow:
    """The receive-side variables Linux keeps in tcp_sock / icsk_ack."""

    __slots__ = (
        "last_seg_size",
        "nomem",
        "rcv_mss",
        "rcv_ssthresh",
        "rcvq_space",
        "scaling_ratio",
        "seen_data",
        "window_clamp",
    )

    def __init__(self) -> None:
        self.scaling_ratio = DEFAULT_SCALING_RATIO
        self.window_clamp = 0  # tp->window_clamp: the largest window we will offer
        self.rcv_ssthresh = 0  # tp->rcv_ssthresh: the window grows up to this
        self.rcv_mss = TCP_MSS_DEFAULT  # icsk_ack.rcv_mss: the peer's segment size, estimated
        self.last_seg_size = 0  # icsk_ack.last_seg_size
        self.rcvq_space = 0  # tp->rcvq_space.space
        self.nomem = False  # ICSK_ACK_NOMEM: memory ran out; the next ACK offers 0
        self.seen_data = False  # icsk_ack.ato != 0: the first data segment has arrived


# ---------------------------------------------------------------- the SYN


def offered_wscale(cfg: TcpConfig) -> int:
    """The window scale our SYN offers: Linux's (``initial_wscale``), or with
    the RFC window ``options.window_shift`` of tcp_rmem[2] and the buffer."""
    if cfg.linux_receive_window:
        locked = cfg.receive_buffer_locked
        scaling = cfg.window_scaling
        return initial_wscale(cfg.receive_buffer, cfg.window_scale_space, locked, scaling)
    space = 0 if cfg.receive_buffer_locked else cfg.window_scale_space
    return window_shift(space, cfg.receive_buffer) if cfg.window_scaling else 0


def rfc_window(conn: Connection) -> int:
    """RCV.WND with receiver SWS avoidance (MUST-39, 3.8.6.2.2) when the Linux
    window is off: the free buffer space, whose right edge only moves on by at
    least min(RCV.BUFF/2, MSS) and never moves left (SHLD-14)."""
    shift = conn.rcv_wscale
    buffer = conn.receive_buffer
    current = max(conn.rcv_adv - conn.rcv_nxt, 0)
    # What the 16-bit field can express: multiples of 2**shift, at most 0xFFFF << shift.
    free = min(buffer.free, 0xFFFF << shift) >> shift << shift
    threshold = min(buffer.capacity // 2, conn.mss_advertised)
    if free - current >= threshold or (free > current and free >= buffer.capacity):
        return free
    # Keep the right edge where it is, rounded up so scaling never shrinks it.
    return (current + (1 << shift) - 1) >> shift << shift


def initial_wscale(
    receive_buffer: int, rmem_max: int, locked: bool, window_scaling: bool
) -> int:
    """The window scale ``tcp_select_initial_window`` offers: room for the
    largest window this buffer may grow to -- tcp_rmem[2] (``rmem_max``), or
    with SO_RCVBUF set (``locked``) the window of that buffer alone."""
    if not window_scaling:
        return 0
    full = win_from_space(DEFAULT_SCALING_RATIO, receive_buffer)
    space = full if locked else max(full, rmem_max)
    return min(max(space.bit_length() - 1 - 15, 0), MAX_WSCALE)


def initial_window(conn: Connection) -> int:
    """The window of our SYN or SYN,ACK (``tcp_select_initial_window`` as
    ``tcp_connect_init`` and ``tcp_openreq_init_rwin`` call it): the window of
    the whole buffer, clamped, rounded down to a multiple of the MSS.  Also
    sets the window clamp and rcv_ssthresh, as the kernel does there."""
    rwin = conn.rwin
    full = win_from_space(rwin.scaling_ratio, conn.receive_buffer.capacity)
    clamp = full if conn.config.receive_buffer_locked else 0xFFFF << MAX_WSCALE
    mss = conn.mss_advertised
    if conn.passive and conn.ts_ok:
        mss -= TIMESTAMP_OPTION
    space = min(clamp, full)
    if space > mss > 0:
        space = space // mss * mss
    rwin.window_clamp = min(0xFFFF << conn.rcv_wscale, clamp)
    rwin.rcv_ssthresh = space
    return space


def init_buffer_space(conn: Connection) -> None:
    """``tcp_init_buffer_space`` (at ESTABLISHED) and ``tcp_initialize_rcv_mss``:
    clamp the window to the buffer, keeping one MSS in reserve (tcp_app_win)."""
    rwin = conn.rwin
    advmss = conn.mss_advertised
    maxwin = win_from_space(rwin.scaling_ratio, conn.receive_buffer.capacity)
    clamp = min(rwin.window_clamp or 0xFFFF << MAX_WSCALE, 0xFFFF << conn.rcv_wscale)
    if clamp >= maxwin:
        clamp = maxwin
        if maxwin > 4 * advmss:
            clamp = max(maxwin - (maxwin >> APP_WIN), 4 * advmss)
    if clamp > 2 * advmss and clamp + advmss > maxwin:
        clamp = max(2 * advmss, maxwin - advmss)
    rwin.window_clamp = clamp
    rwin.rcv_ssthresh = min(rwin.rcv_ssthresh, clamp)
    rcv_wnd = max(conn.rcv_adv - conn.rcv_wup, 0)
    rwin.rcvq_space = min(rwin.rcv_ssthresh, rcv_wnd, 10 * advmss)
    hint = min(advmss, conn.send_mss, rcv_wnd // 2, TCP_MSS_DEFAULT)
    rwin.rcv_mss = max(hint, TCP_MIN_MSS)


# ---------------------------------------------------------------- choosing the window


def free_space(conn: Connection) -> int:
    """``tcp_space``: the window the memory not yet used backs."""
    buffer = conn.receive_buffer
    return win_from_space(conn.rwin.scaling_ratio, buffer.capacity - buffer.memory)


def select_window(conn: Connection, *, effects: bool = True) -> int:
    """``__tcp_select_window``: the window we would like to offer now.

    Below half the buffer free, quick ACKs stop (``effects``), and below 1/16
    of it or one receiver MSS the window closes; otherwise it is the free space
    up to rcv_ssthresh, rounded up to the window scale or, without one, down
    to a multiple of the receiver MSS (kept as it is within one MSS)."""
    rwin = conn.rwin
    mss = rwin.rcv_mss
    free = free_space(conn)
    allowed = win_from_space(rwin.scaling_ratio, conn.receive_buffer.capacity)
    full = min(rwin.window_clamp, allowed)
    shift = conn.rcv_wscale
    if mss > full:
        mss = full
        if mss <= 0:
            return 0
    if free < full >> 1:
        if effects:
            conn._quick_acks = 0
        free = max(free, 0) >> shift << shift
        if free < allowed >> 4 or free < mss:
            return 0
    if free > rwin.rcv_ssthresh:
        free = rwin.rcv_ssthresh
    if shift:
        return (free + (1 << shift) - 1) >> shift << shift
    window = max(conn.rcv_adv - conn.rcv_wup, 0)
    if window <= free - mss or window > free:
        window = free // mss * mss
    elif mss == full and free > window + (full >> 1):
        window = free
    return window


def window_for_segment(conn: Connection, *, effects: bool = True) -> int:
    """``tcp_select_window``: the window an outgoing segment carries, in bytes
    (a multiple of the scale).  Zero after memory ran out; otherwise never
    less than what is left of the window already offered (SHLD-14: Linux
    does not shrink it, net.ipv4.tcp_shrink_window = 0)."""
    if conn.rwin.nomem:
        return 0
    shift = conn.rcv_wscale
    current = max(conn.rcv_adv - conn.rcv_nxt, 0)
    window = select_window(conn, effects=effects)
    if window < current:
        window = (current + (1 << shift) - 1) >> shift << shift
    return min(window, 0xFFFF << shift)


def set_window_clamp(conn: Connection, value: int) -> None:
    """``tcp_set_window_clamp``: a new clamp; rcv_ssthresh follows it."""
    rwin = conn.rwin
    new = max(MIN_WINDOW_CLAMP, value)
    old = rwin.window_clamp
    if new == old:
        return
    rwin.window_clamp = new
    if new < old:
        rwin.rcv_ssthresh = min(rwin.rcv_ssthresh, new)
    else:
        rcv_wnd = max(conn.rcv_adv - conn.rcv_wup, 0)
        rwin.rcv_ssthresh = max(min(rcv_wnd, new), rwin.rcv_ssthresh)


# ---------------------------------------------------------------- arriving data


def measure_rcv_mss(
    conn: Connection, segment_size: int, length: int, truesize: int, push: bool
) -> None:
    """``tcp_measure_rcv_mss``: learn the peer's segment size (``segment_size``
    is the GSO size of an aggregate, else its length) and, when it changes,
    the scaling ratio (``length``/``truesize``), which moves the window clamp."""
    rwin = conn.rwin
    last = rwin.last_seg_size
    rwin.last_seg_size = 0
    if segment_size >= rwin.rcv_mss:
        if segment_size != rwin.rcv_mss and truesize:
            ratio = min(max((length << RMEM_TO_WIN_SCALE) // truesize, 1), 255)
            if ratio != rwin.scaling_ratio:
                rwin.scaling_ratio = ratio
                set_window_clamp(conn, win_from_space(ratio, conn.receive_buffer.capacity))
                rwin.rcvq_space = min(rwin.rcvq_space, rwin.window_clamp)
        rwin.rcv_mss = min(segment_size, conn.mss_advertised)
        return
    header = 20 + (TIMESTAMP_OPTION if conn.ts_ok else 0)
    if segment_size + header >= TCP_MSS_DEFAULT + 20 or (
        segment_size + header >= TCP_MIN_MSS + 20 and not push
    ):
        rwin.last_seg_size = segment_size
        if segment_size == last:
            rwin.rcv_mss = segment_size


def grow_window(conn: Connection, length: int, truesize: int) -> None:
    """``tcp_grow_window``: raise rcv_ssthresh while segments use their memory
    well (by at least two segments); a growth also asks for a quick ACK."""
    rwin = conn.rwin
    room = min(rwin.window_clamp, free_space(conn)) - rwin.rcv_ssthresh
    if room <= 0:
        return
    ratio = rwin.scaling_ratio
    if win_from_space(ratio, truesize) <= length:
        increment = 2 * conn.mss_advertised
    else:  # __tcp_grow_window
        increment = 0
        scaled = win_from_space(ratio, truesize) >> 1
        window = win_from_space(ratio, conn.config.window_scale_space) >> 1
        while rwin.rcv_ssthresh <= window:
            if scaled <= length:
                increment = 2 * rwin.rcv_mss
                break
            scaled >>= 1
            window >>= 1
    if increment:
        rwin.rcv_ssthresh += min(room, max(increment, 2 * length))
        conn._quick_acks |= 1


def first_data(conn: Connection) -> None:
    """``tcp_event_data_recv`` on the first data segment: quick ACKs for as
    many segments as half the window holds, at most ``quick_acks``."""
    rwin = conn.rwin
    if rwin.seen_data:
        return
    rwin.seen_data = True
    rcv_wnd = max(conn.rcv_adv - conn.rcv_wup, 0)
    quick = min(rcv_wnd // (2 * max(rwin.rcv_mss, 1)) or 2, conn.config.quick_acks)
    conn._quick_acks = max(conn._quick_acks, quick)


def can_ingest(conn: Connection, length: int) -> bool:
    """``tcp_can_ingest`` as ``tcp_try_rmem_schedule`` uses it: the memory
    held plus this segment's length fits in sk_rcvbuf.  (Linux then collapses
    and prunes its queues to make room; synack holds data compactly already
    and prunes nothing: the segment is refused.)"""
    buffer = conn.receive_buffer
    return buffer.memory + length <= buffer.capacity


def rcvbuf_grow(conn: Connection) -> None:
    """``tcp_rcvbuf_grow`` after out-of-order data: make sk_rcvbuf big enough
    for twice rcvq_space plus everything up to the highest data held, up to
    tcp_rmem[2] -- only once the application accepted the connection and
    never with SO_RCVBUF set."""
    if conn.config.receive_buffer_locked or not conn.accepted:
        return
    rwin = conn.rwin
    window = 2 * rwin.rcvq_space + conn.receive_buffer.highest_end
    rcvbuf = min(space_from_win(rwin.scaling_ratio, window), conn.config.window_scale_space)
    if rcvbuf > conn.receive_buffer.capacity:
        conn.receive_buffer.capacity = rcvbuf
        rwin.window_clamp = win_from_space(rwin.scaling_ratio, rcvbuf)


def ack_now_for_data(conn: Connection) -> bool:
    """``__tcp_ack_snd_check``'s first test: more than one receiver MSS arrived
    since the last ACK and the window does not shrink (else the ACK waits)."""
    rwin = conn.rwin
    if conn.rcv_nxt - conn.rcv_wup <= rwin.rcv_mss:
        return False
    return select_window(conn) >= max(conn.rcv_adv - conn.rcv_wup, 0)


def window_update_after_read(conn: Connection) -> bool:
    """``tcp_cleanup_rbuf``: after the application read, ACK at once when a
    delayed ACK covers more than one MSS, or when the window can be raised to
    at least twice what is left of the one offered.  With the RFC window: once
    it at least doubles plus one MSS (3.8.6.2.2)."""
    if not conn.config.linux_receive_window:
        advertised = max(conn.rcv_adv - conn.rcv_nxt, 0)
        return rfc_window(conn) >= 2 * advertised + conn.mss_advertised
    rwin = conn.rwin
    if conn.delack_deadline is not None and conn.rcv_nxt - conn.rcv_wup > rwin.rcv_mss:
        return True
    left = max(conn.rcv_adv - conn.rcv_nxt, 0)
    if 2 * left > rwin.window_clamp:
        return False
    window = select_window(conn)
    return bool(window) and window >= 2 * left


# ---------------------------------------------------------------- segments (tcp_input.c)


def sequence_acceptable(
    conn: Connection, seg_seq: Seq, seg_len: int, flags: int, rcv_wnd: int
) -> bool:
    """The first step as Linux's tcp_sequence: a segment is unacceptable when it
    ends before the left edge last advertised (rcv_wup), starts beyond the
    window, or ends beyond it -- unless nothing waits in the receive queue, when
    an oversize segment is taken whole (its FIN may also lie one beyond the
    window: accept_fin_at_zero_window).  Beyond-window drops are counted
    (TcpExtBeyondWindow)."""
    end = seg_seq + seg_len
    if end < conn.rcv_wup:
        return False
    limit = conn.rcv_nxt + rcv_wnd
    if end > limit:
        if flags & FIN and conn.config.accept_fin_at_zero_window and end - 1 <= limit:
            return True
        if seg_seq > limit or len(conn.receive_buffer) > 0:
            if not flags & RST:
                conn.bump("beyond_window")
            return False
    return True


def set_dsack(conn: Connection, start: Seq, end: Seq) -> None:
    """Report ``[start, end)`` as received twice in the next ACK's first SACK
    block (RFC 2883; Linux tcp_dsack_set)."""
    if conn.sack_ok and conn.config.dsack and start < end:
        conn.dsack = (start, end)


def extend_dsack(conn: Connection, start: Seq, end: Seq) -> None:
    """Linux tcp_dsack_extend: a block touching the one already set joins it."""
    current = conn.dsack
    if current is None:
        set_dsack(conn, start, end)
    elif start <= current[1] and current[0] <= end:
        conn.dsack = (min(start, current[0]), max(end, current[1]))


def queue_data(
    conn: Connection, seg: Segment, offset: int, payload: bytes | memoryview, now: int
) -> int | None:
    """Queue data the Linux way (tcp_data_queue / tcp_data_queue_ofo): memory
    counted in truesize against the buffer (tcp_try_rmem_schedule: an in-order
    segment is still taken when nothing else is queued, and the next ACK offers
    a zero window), the receiver MSS and scaling ratio measured, rcv_ssthresh
    grown.  Returns how much the in-order part grew, None when dropped."""
    buffer = conn.receive_buffer
    length = len(seg.payload)
    truesize = skb_truesize(length)
    if not can_ingest(conn, length):
        if offset:
            conn.drop(seg, DropReason.RECEIVE_BUFFER_FULL, now, "out-of-order queue full")
            return None
        conn.rwin.nomem = True
        conn.ack_now = True
        if len(buffer):
            conn.drop(seg, DropReason.RECEIVE_BUFFER_FULL, now)
            return None
    push = bool(int(seg.flags) & PSH)
    segment_size = conn.gso_size or length
    if offset:
        measure_rcv_mss(conn, segment_size, length, truesize, push)
        if conn.sack_ok:  # without SACK the window stays, to force duplicate ACKs
            grow_window(conn, length, truesize)
    grown = buffer.add(offset, payload, clip=False, truesize=truesize)
    conn.rcv_nxt = conn.rcv_nxt + grown
    duplicate = buffer.take_duplicate()
    if duplicate is not None:
        extend_dsack(conn, conn.rcv_nxt + duplicate[0], conn.rcv_nxt + duplicate[1])
    if offset:
        rcvbuf_grow(conn)
    else:
        measure_rcv_mss(conn, segment_size, length, truesize, push)
        first_data(conn)
        if length >= 128:
            grow_window(conn, length, truesize)
    return grown
