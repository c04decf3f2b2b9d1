"""Linux's segmentation: how the write queue is cut into socket buffers and
packets, and where PSH goes (``TcpConfig.tso_packets``).

The model (net/ipv4/tcp.c and tcp_output.c):

* ``queue_write`` is ``tcp_sendmsg_locked``: a write appends to the unsent
  tail socket buffer (skb) while it is below ``size_goal`` (half the largest
  window the peer offered, ``tcp_bound_to_half_wnd``, in whole MSS), else
  starts a new one.  The first skb a write touches loses its old PSH mark;
  at the end of the write ``tcp_push`` marks the tail (``tcp_mark_push``)
  unless MSG_MORE; an skb that fills up while more than half the largest
  window was written since the last mark is marked too (``forced_push``).
* ``write_xmit`` is ``tcp_write_xmit``: each packet is cut from the head skb
  with at most ``cwnd_quota`` = min(max(cwnd/2, 1), cwnd - in flight)
  segments (``tcp_cwnd_test``: at least two TSO packets in flight) and at
  most ``tso_segs`` (``tcp_tso_autosize``: the pacing rate's share of one
  millisecond, at least ``tcp_min_tso_segs``); ``tcp_mss_split_point`` keeps
  it within the send window and lets Nagle or cork hold a final partial
  segment of the tail skb; a one-segment skb passes ``tcp_nagle_test``.
* PSH on the wire: the packet ends at the end of a marked skb
  (``tso_fragment`` moves PSH to the second piece), or it has more than one
  segment (``__tcp_transmit_skb``, Linux commit 051ba67447de "tcp: force a
  PSH flag on TSO packets").  GSO gives the packet's PSH to its last wire
  segment, which is what goes out here: synack sends MSS-sized segments.

The skbs are only boundaries: a sorted list of absolute stream offsets
(their ends) with a PSH mark each, over the bytes the ``SendBuffer`` holds.
Sent pieces stay in the list until acknowledged, so a retransmission ending
at a marked end keeps its PSH, and every live skb is charged
``skb_overhead`` against SO_SNDBUF (``sk_wmem_queued``).  Linux's
``tcp_tso_should_defer`` is not modelled.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from synack.tcp.buffers import BytesLike, byte_view
from synack.wire.tcp import TcpFlags

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

# tp->nonagle bits, as include/net/tcp.h
NAGLE_OFF = 1  # TCP_NODELAY
NAGLE_CORK = 2  # TCP_CORK, or MSG_MORE for the push that ends that write
NAGLE_PUSH = 4  # send now whatever Nagle says
PACING_SHIFT = 10  # sk_pacing_shift: TSO packets of about 1 ms of the pacing rate
TSO_RTT_LOG = 9  # net.ipv4.tcp_tso_rtt_log
MIN_CUTOFF = 68  # tcp_bound_to_half_wnd: never below 68 bytes less the header

_ACK = TcpFlags.ACK
_ACK_PSH = TcpFlags.ACK | TcpFlags.PSH
_ACK_FIN = TcpFlags.ACK | TcpFlags.FIN
_ACK_PSH_FIN = TcpFlags.ACK | TcpFlags.PSH | TcpFlags.FIN


class WriteQueue:
    """Socket-buffer boundaries over the send buffer, in absolute stream
    offsets (bytes written since the connection opened; never wrap).

    ``ends[i]`` is where skb ``i`` ends and ``pushed[i]`` its PSH mark; entries
    before ``first`` are acknowledged (kept until compaction).  ``write_seq``
    is the offset after the last byte written, ``pushed_seq`` the one at the
    last push mark (``tp->pushed_seq``).
    """

    __slots__ = ("ends", "first", "pushed", "pushed_seq", "write_seq")

    def __init__(self) -> None:
        self.ends: list[int] = []
        self.pushed: list[bool] = []
        self.first = 0
        self.write_seq = 0
        self.pushed_seq = 0

    def prune(self, acked: int) -> None:
        """Forget the skbs wholly before offset ``acked`` (amortised O(1) per skb)."""
        ends = self.ends
        first = self.first
        count = len(ends)
        while first < count and ends[first] <= acked:
            first += 1
        if first > 64 and first > count >> 1:
            del ends[:first]
            del self.pushed[:first]
            first = 0
        self.first = first

    def __len__(self) -> int:
        """Live skbs: sent pieces not yet acknowledged plus unsent skbs."""
        return len(self.ends) - self.first

    def find(self, offset: int) -> int:
        """The index of the skb holding the byte at ``offset`` (``len(ends)`` if none)."""
        return bisect_right(self.ends, offset, self.first)

    def pushed_end(self, end: int) -> bool:
        """Whether an skb marked PSH ends exactly at ``end``."""
        index = bisect_left(self.ends, end, self.first)
        return index < len(self.ends) and self.ends[index] == end and self.pushed[index]

    def mark_push(self) -> None:
        """``tcp_mark_push`` on the tail skb."""
        if len(self):
            self.pushed[-1] = True
            self.pushed_seq = self.write_seq


# ---------------------------------------------------------------- sizes


def size_goal(conn: Connection) -> int:
    """``tcp_xmit_size_goal``: the gso maximum bounded to half the largest window
    the peer offered (``tcp_bound_to_half_wnd``), in whole MSS, at least one MSS."""
    mss = conn.send_mss
    goal = conn.config.gso_max_size
    max_window = conn.max_snd_wnd
    cutoff = max_window >> 1 if max_window > 536 else max_window  # TCP_MSS_DEFAULT
    if cutoff and goal > cutoff:
        goal = max(cutoff, MIN_CUTOFF - 20)
    return max(goal // mss * mss, mss)


def tso_segs(conn: Connection, in_flight: int) -> int:
    """``tcp_tso_segs`` / ``tcp_tso_autosize``: segments per TSO packet.

    The pacing rate (``tcp_update_pacing_rate``: mss * max(cwnd, in flight) /
    srtt, times 200 % in slow start (cwnd < ssthresh / 2), else 120 %),
    shifted right by ``sk_pacing_shift`` (about one millisecond of it), plus
    ``gso_max_size >> (min_rtt_us >> tcp_tso_rtt_log)`` on short paths,
    capped at ``gso_max_size``; at least ``tcp_min_tso_segs``.
    """
    cfg = conn.config
    cc = conn.cc
    mss = conn.send_mss
    ratio = cfg.pacing_ss_ratio if cc.cwnd < cc.ssthresh // 2 else cfg.pacing_ca_ratio
    rate = mss * max(cc.cwnd // mss, in_flight) * ratio * 10_000  # bytes/s * srtt_us
    srtt = conn.rtt.srtt
    if srtt:
        rate //= srtt
    size = rate >> PACING_SHIFT
    min_rtt = conn.rtt.min_rtt
    gso = cfg.gso_max_size
    if min_rtt is not None:
        shift = min_rtt >> TSO_RTT_LOG
        if shift < 32:
            size += gso >> shift
    size = min(size, gso)
    return max(size // mss, cfg.min_tso_segs, 1)


def wmem_queued(conn: Connection) -> int:
    """``sk_wmem_queued``: the send buffer's payload plus the overhead of each live skb."""
    buffer = conn.send_buffer
    queue = conn.write_queue
    queue.prune(buffer.consumed)
    return len(buffer) + len(queue) * conn.config.skb_overhead


def stream_writable(conn: Connection) -> bool:
    """``__sk_stream_is_writeable``: free space at least half what is queued
    (``sk_stream_wspace >= sk_stream_min_wspace``), when a blocked writer wakes."""
    queued = wmem_queued(conn)
    return conn.send_buffer.capacity - queued >= queued >> 1


# ---------------------------------------------------------------- the write path


def _sent_offset(conn: Connection) -> int:
    """The stream offset of the first byte never sent (SND.MAX, without SYN and FIN)."""
    buffer = conn.send_buffer
    sent = conn.snd_max - conn.snd_una
    if conn.snd_una == conn.iss and not conn.state.synchronized:
        sent -= 1  # the SYN
    return buffer.consumed + min(max(sent, 0), len(buffer))


def queue_write(conn: Connection, data: BytesLike, *, more: bool) -> int:
    """``tcp_sendmsg_locked``: append ``data`` to the write queue's skbs; returns
    how much was taken (less than all when the send buffer is full)."""
    queue = conn.write_queue
    buffer = conn.send_buffer
    cfg = conn.config
    linux_accounting = cfg.linux_send_buffer
    view = byte_view(data)
    total = len(view)
    goal = size_goal(conn)
    sent_offset = _sent_offset(conn)
    queue.prune(buffer.consumed)
    ends = queue.ends
    half_window = conn.max_snd_wnd >> 1
    copied = 0
    while copied < total:
        tail = 0  # bytes in the unsent tail skb
        if len(queue) and ends[-1] > sent_offset:
            start = max(ends[-2] if len(ends) >= 2 else 0, sent_offset)
            tail = ends[-1] - start
        room = goal - tail if tail else 0
        if room <= 0:
            # A new skb (tcp_stream_alloc_skb) only while the send buffer is not
            # full (sk_stream_memory_free); it may then fill up to size_goal.
            if linux_accounting:
                if wmem_queued(conn) >= buffer.capacity:
                    break
            elif buffer.free <= 0:
                break
            ends.append(queue.write_seq)
            queue.pushed.append(False)
            tail = 0
            room = goal
        count = min(room, total - copied)
        if not linux_accounting:
            count = min(count, buffer.free)
            if count <= 0:
                break
        if not copied:
            queue.pushed[-1] = False  # "if (!copied) tcp_flags &= ~TCPHDR_PSH"
        buffer.append(view[copied : copied + count])
        copied += count
        queue.write_seq += count
        ends[-1] = queue.write_seq
        if copied == total or tail + count < goal:
            continue
        if queue.write_seq > queue.pushed_seq + half_window:  # forced_push()
            queue.mark_push()
    if copied:
        # tcp_push(): the tail is marked unless MSG_MORE; a write that has to
        # wait for room pushes without MSG_MORE (the wait_for_space path).
        if not more or copied < total or queue.write_seq > queue.pushed_seq + half_window:
            queue.mark_push()
        conn.push_nonagle = NAGLE_PUSH if copied < total else (NAGLE_CORK if more else None)
    return copied


# ---------------------------------------------------------------- the output path


def _nagle_check(conn: Connection, partial: bool, nonagle: int) -> bool:
    """``tcp_nagle_check``: True when a partial segment must wait (cork, or
    Nagle in Minshall's form: an earlier small segment is unacknowledged)."""
    if not partial:
        return False
    if nonagle & NAGLE_CORK:
        return True
    return not nonagle and conn.snd_max != conn.snd_una and conn._small_in_flight()


def _restart_after_idle(conn: Connection, now: int) -> None:
    """``tcp_cwnd_restart`` (RFC 5681 4.1, RFC 2861): nothing in flight and no
    data sent for longer than the RTO: cwnd halves once per idle RTO, down to
    the initial window at most; ssthresh keeps at least 3/4 of the old cwnd."""
    last = conn.last_data_sent
    rto = conn.rtt.rto
    if last is None or now - last <= rto:
        return
    cc = conn.cc
    restart = min(conn.config.initial_window * cc.mss, cc.cwnd)
    if not cc.in_recovery:
        cc.ssthresh = max(cc.ssthresh, (cc.cwnd >> 1) + (cc.cwnd >> 2))
    cwnd = cc.cwnd
    delta = now - last - rto
    while delta > 0 and cwnd > restart:
        cwnd >>= 1
        delta -= rto
    cc.cwnd = max(cwnd, restart)
    conn.last_data_sent = now


def write_xmit(conn: Connection, now: int, nonagle: int) -> None:
    """``tcp_write_xmit`` (and, below SND.MAX after a timeout, the go-back-N
    resend of ``tcp_xmit_retransmit_queue``): send what the windows, the
    congestion quota, Nagle and cork allow, as TSO packets of MSS segments."""
    mss = conn.send_mss
    queue = conn.write_queue
    buffer = conn.send_buffer
    base = buffer.consumed
    queue.prune(base)
    buffered = len(buffer)
    buffer_end = base + buffered
    ends = queue.ends
    pushed = queue.pushed
    idle_check = conn.config.slow_start_after_idle and conn.snd_max == conn.snd_una
    max_segs = 0
    while True:
        sent = conn.snd_nxt - conn.snd_una  # bytes (and perhaps the FIN) already sent
        unsent = buffered - sent
        if unsent <= 0:
            if unsent == 0 and conn.fin_queued:
                send_bare_fin(conn, now)
            return
        offset = base + sent
        if idle_check:
            # Checked when new data is about to leave with nothing in flight
            # (Linux checks when it queues an skb, tcp_slow_start_after_idle_check,
            # and when a window update lets data go).
            idle_check = False
            if min(unsent, conn.send_mss) <= conn.snd_wnd - sent:
                _restart_after_idle(conn, now)
        in_flight = conn.packets_in_flight()
        cwnd = max(conn.cc.cwnd // mss, 1)
        if in_flight >= cwnd:
            return  # cwnd-limited: the retransmission timer is running
        if not max_segs:
            max_segs = tso_segs(conn, in_flight)
        quota = min(max(cwnd >> 1, 1), cwnd - in_flight, max_segs)
        index = queue.find(offset)
        skb_end = ends[index] if index < len(ends) else buffer_end
        marked = index < len(ends) and pushed[index]
        window = conn.snd_wnd - sent  # tcp_wnd_end() - seq
        retransmit = conn.snd_nxt < conn.snd_max
        if retransmit:
            sent_end = _sent_offset(conn)
            if skb_end > sent_end:
                skb_end, marked = sent_end, False
            skb_len = skb_end - offset
            # __tcp_retransmit_skb: within the window, except the segment at
            # SND.UNA, which goes even when the window shrank (SHLD-16).
            if window <= 0:
                if sent:
                    conn._maybe_arm_persist(now)
                    return
                window = mss
            size = quota * mss
            if size > window:
                size = window // mss * mss or window
            size = min(size, skb_len)
        else:
            skb_len = skb_end - offset
            if min(skb_len, mss) > window:  # tcp_snd_wnd_test
                conn._maybe_arm_persist(now)
                return
            is_tail = index >= len(ends) - 1
            fin_here = is_tail and conn.fin_queued
            push = NAGLE_PUSH if fin_here else nonagle
            if skb_len <= mss:
                # tcp_nagle_test (the FIN's skb and non-tail skbs always pass)
                if is_tail and not push & NAGLE_PUSH and _nagle_check(conn, skb_len < mss, push):
                    conn._maybe_arm_persist(now)
                    return
                size = skb_len
            else:
                size = _split_point(conn, skb_len, window, quota, push, is_tail=is_tail)
        _send_packet(conn, now, offset, size, skb_end, marked, buffer_end)
        if not retransmit and offset + size < skb_end and index < len(ends):
            ends.insert(index, offset + size)  # tso_fragment: the sent piece is an skb
            pushed.insert(index, False)
        if conn.fin_seq is not None and conn.snd_nxt > conn.fin_seq:
            return


def _split_point(
    conn: Connection, skb_len: int, window: int, quota: int, nonagle: int, *, is_tail: bool
) -> int:
    """``tcp_mss_split_point``: how much of a multi-segment skb one packet takes."""
    mss = conn.send_mss
    max_len = mss * quota
    if max_len <= window and not is_tail:
        return max_len
    needed = min(skb_len, window)
    if max_len <= needed:
        return max_len
    partial = needed % mss
    if _nagle_check(conn, partial != 0, nonagle):
        return needed - partial
    return needed


def _send_packet(
    conn: Connection,
    now: int,
    offset: int,
    size: int,
    skb_end: int,
    marked: bool,
    buffer_end: int,
) -> None:
    """Emit one packet of ``size`` bytes at stream ``offset`` as MSS segments;
    PSH (and FIN) go on its last segment, as GSO does."""
    mss = conn.send_mss
    buffer = conn.send_buffer
    start_seq = conn.snd_nxt
    conn.tx_packet += 1  # the loss-recovery scoreboard groups its segments by packet
    end = offset + size
    segments = (size + mss - 1) // mss
    psh = segments > 1 or (marked and end == skb_end)
    fin = end == buffer_end and conn.fin_queued
    last_flags = (_ACK_PSH_FIN if psh else _ACK_FIN) if fin else (_ACK_PSH if psh else _ACK)
    position = offset - buffer.consumed
    while position < end - buffer.consumed:
        length = min(mss, end - buffer.consumed - position)
        last = position + length == end - buffer.consumed
        payload = buffer.peek(position, length)
        segment = conn._segment(conn.snd_nxt, last_flags if last else _ACK, payload)
        if last and fin:
            conn.fin_seq = conn.snd_nxt + length
        conn._emit(segment, now, first=conn.snd_nxt == conn.snd_max)
        conn.snd_nxt = conn.snd_nxt + segment.seg_len
        if conn.snd_nxt > conn.snd_max:
            conn.snd_max = conn.snd_nxt
        position += length
    if size < segments * mss:
        conn._small_end = start_seq + size  # tcp_minshall_update


def send_bare_fin(conn: Connection, now: int) -> None:
    """Send the FIN on its own at SND.NXT (all data sent) and move SND.NXT past it."""
    segment = conn._segment(conn.snd_nxt, _ACK_FIN)
    conn.fin_seq = conn.snd_nxt
    conn._emit(segment, now, first=conn.snd_nxt == conn.snd_max)
    conn.snd_nxt = conn.snd_nxt + 1
    if conn.snd_nxt > conn.snd_max:
        conn.snd_max = conn.snd_nxt
