"""Sending new data (RFC 9293 3.7, 3.8.6.2.1, 3.10.2): one transmission burst
of a ``Connection``, as ``arrival`` handles arriving segments.

With ``TcpConfig.tso_packets`` the Linux segmentation model
(``segmentation.write_xmit``) cuts and marks the packets; otherwise the RFC
loop here sends MSS-sized segments under the windows, Nagle and sender SWS
avoidance, and PSH marks the last new segment of the burst.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synack.tcp import ecn, segmentation
from synack.tcp.state import State
from synack.wire.tcp import TcpFlags

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

FLAG_ACK = TcpFlags.ACK
FLAG_SYN = TcpFlags.SYN
FLAG_FIN = TcpFlags.FIN
FLAG_PSH = TcpFlags.PSH
FLAG_ACK_PSH = FLAG_ACK | FLAG_PSH
FLAG_ACK_PSH_FIN = FLAG_ACK | FLAG_PSH | FLAG_FIN
_PSH = int(TcpFlags.PSH)
_SENDING_STATES = (
    State.ESTABLISHED,
    State.CLOSE_WAIT,
    State.FIN_WAIT_1,
    State.LAST_ACK,
    State.CLOSING,
)


def transmit(conn: Connection, now: int, *, timeout: bool = False) -> None:
    """One transmission burst.  With ``tso_packets`` Linux's segmentation
    (``segmentation.write_xmit``) places PSH; otherwise the last new data
    segment of the burst carries it (MUST-60, MUST-61, SHLD-27)."""
    if conn.output_refused and _refused(conn, now):
        return
    start = len(conn._out)
    _burst(conn, now, timeout=timeout)
    if conn.config.tso_packets:
        return
    for index in range(len(conn._out) - 1, start - 1, -1):
        segment, retransmission = conn._out[index]
        if segment.payload:
            # New data only: a retransmission keeps its flags (Linux resends the skb).
            if not retransmission and not int(segment.flags) & _PSH:
                segment.flags = segment.flags | FLAG_PSH
            break

def _burst(conn: Connection, now: int, *, timeout: bool = False) -> None:
    """Send what the windows, Nagle and SWS avoidance allow (3.7, 3.8.6.2.1).

    Full-sized segments whenever possible (SHLD-28); small writes are
    queued, not sent one by one (MAY-16), but never indefinitely: every
    write is pushed, and PSH marks the segment that empties the buffer
    (MUST-60, MUST-61), once per run of segments (SHLD-27).  A window that
    the peer shrank (usable < 0) stops new data without error (MUST-34,
    SHLD-15).  ``timeout``: going back after a retransmission timeout.
    """
    if timeout and conn.scoreboard:
        # RFC 2018 5.1: after a timeout the receiver may have reneged, so the
        # SACKed bits are turned off (Linux keeps them unless it sees reneging).
        conn.scoreboard.clear()
    state = conn.state
    if state is State.SYN_SENT or state is State.SYN_RECEIVED:
        if conn.snd_nxt == conn.iss:
            flags = FLAG_SYN if state is State.SYN_SENT else FLAG_SYN | FLAG_ACK
            if conn.config.ecn:  # RFC 3168 6.1.1: an ECN-setup SYN or SYN,ACK
                flags |= ecn.syn_flags(conn, first=conn.snd_max == conn.iss)
            segment = conn._segment(conn.iss, flags, options=conn._syn_options())
            conn._emit(segment, now, first=conn.snd_max == conn.iss)
            conn.snd_nxt = conn.iss + 1
            if conn.snd_max == conn.iss:
                conn.snd_max = conn.snd_nxt
        return
    if state not in _SENDING_STATES:
        return
    if conn.config.tso_packets:
        nonagle = conn.push_nonagle
        conn.push_nonagle = None
        if nonagle is None or timeout:
            nonagle = segmentation.NAGLE_PUSH if timeout else conn._nonagle()
        segmentation.write_xmit(conn, now, nonagle)
        return
    mss = conn.send_mss
    buffered = len(conn.send_buffer)
    while True:
        sent = conn.snd_nxt - conn.snd_una  # bytes (and perhaps the FIN) already sent
        unsent = buffered - sent
        usable = conn.send_room()
        if unsent > 0:
            size = min(unsent, mss, usable)
            if size <= 0:
                conn._maybe_arm_persist(now)
                return
            if size < mss:
                if size < unsent:
                    # Sender SWS avoidance (MUST-38): a partial segment only
                    # when it is at least half the largest window offered.
                    # A retransmission timeout resends old data normally
                    # within a window that shrank, as Linux does (SHLD-16).
                    if size < conn.max_snd_wnd // 2 and not timeout:
                        conn._maybe_arm_persist(now)
                        return
                elif (conn.cork or conn._more) and not conn.fin_queued:
                    # TCP_CORK / MSG_MORE: only full segments go out; with
                    # nothing in flight, the persist timer sends the held
                    # data after an RTO (Linux's probe timer does the same).
                    conn._maybe_arm_persist(now)
                    return
                elif (
                    conn.nagle
                    and not conn.fin_queued
                    and not timeout
                    and conn._small_in_flight()
                ):
                    # Nagle (SHLD-7) in Minshall's form, as Linux (RFC 9293
                    # A.3): hold a small segment while an earlier small one
                    # is unacknowledged.
                    return
                conn._small_end = conn.snd_nxt + size
            payload = conn.send_buffer.peek(sent, size)
            last = size == unsent
            with_fin = last and conn.fin_queued
            flags = (FLAG_ACK_PSH_FIN if with_fin else FLAG_ACK_PSH) if last else FLAG_ACK
            segment = conn._segment(conn.snd_nxt, flags, payload)
            if with_fin:
                conn.fin_seq = conn.snd_nxt + size
            conn._emit(segment, now, first=conn.snd_nxt == conn.snd_max)
            conn.snd_nxt = conn.snd_nxt + segment.seg_len
            if conn.snd_nxt > conn.snd_max:
                conn.snd_max = conn.snd_nxt
            if with_fin:
                return
            continue
        if conn.fin_queued and unsent == 0:
            segmentation.send_bare_fin(conn, now)
        return

def _refused(conn: Connection, now: int) -> bool:
    """The device refuses packets: send no new data or FIN; with nothing in
    flight, the probe timer tries again (Linux's tcp_write_xmit failing,
    then tcp_check_probe_timer arming ICSK_TIME_PROBE0 at
    tcp_probe0_base(): the RTO, at least TCP_RTO_MIN)."""
    if not conn.state.synchronized or conn.snd_max != conn.snd_una:
        return conn.state.synchronized  # in flight: the RTO timer retries
    unsent = len(conn.send_buffer) - (conn.snd_nxt - conn.snd_una)
    if (unsent > 0 or (conn.fin_queued and conn.fin_seq is None)) and (
        conn.persist_deadline is None
    ):
        conn.persist_deadline = now + max(conn.rtt.rto, conn.config.min_rto)
    return True
