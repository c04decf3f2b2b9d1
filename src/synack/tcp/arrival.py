"""SEGMENT ARRIVES (RFC 9293 3.10.7), in the RFC's step order.

Special cases for CLOSED (3.10.7.1), LISTEN (3.10.7.2) and SYN-SENT
(3.10.7.3); every other state goes through the eight steps of 3.10.7.4:
sequence check, RST, (security), SYN, ACK, URG, text, FIN.  The RFC 5961
mitigations (challenge ACKs for in-window RST and for SYN, the ACK range
check) are applied as RFC 9293 describes them.

Functions here operate on a ``Connection``; they never raise for anything
the network sends: an unacceptable segment is dropped with a counted
``DropReason``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from synack.tcp import ecn, rcvwindow
from synack.tcp.options import PAWS_IDLE_LIMIT, TIMESTAMP_SPACE, timestamp_older
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.tcp.urgent import urgent_pointer_received
from synack.trace.records import DropReason, SegmentReceived
from synack.wire.tcp import Segment, TcpFlags, Timestamps

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

SYN = TcpFlags.SYN
ACK = TcpFlags.ACK
RST = TcpFlags.RST
FIN = TcpFlags.FIN
# The same bits as plain ints for the tests on every segment (enum arithmetic
# costs several microseconds per operation).
_SYN, _ACK, _RST, _FIN = int(SYN), int(ACK), int(RST), int(FIN)
_URG = int(TcpFlags.URG)
_ECE = int(TcpFlags.ECE)
MIN_SEND_MSS = 48  # hostile MSS options are clamped as Linux's TCP_MIN_SND_MSS
S = State


def reset_reply(segment: Segment) -> Segment | None:
    """The RST answering ``segment`` where no connection wants it (3.10.7.1,
    3.5.2 case 1), or None when the segment is itself a RST."""
    if int(segment.flags) & _RST:
        return None
    if int(segment.flags) & _ACK:
        # <SEQ=SEG.ACK><CTL=RST>
        return Segment(segment.dst_port, segment.src_port, segment.ack, 0, RST, 0)
    # <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    ack = (segment.seq + segment.seg_len) & 0xFFFFFFFF
    return Segment(segment.dst_port, segment.src_port, 0, ack, RST | ACK, 0)


def segment_arrives(conn: Connection, seg: Segment, now: int) -> None:
    """Dispatch one arriving segment by state (3.10.7)."""
    if conn._trace is not None:
        conn._trace(SegmentReceived(now, conn.four_tuple, seg))
    state = conn.state
    if state is S.CLOSED:
        _closed(conn, seg, now)
    elif state is S.LISTEN:
        _listen(conn, seg, now)
    elif state is S.SYN_SENT:
        _syn_sent(conn, seg, now)
    else:
        _other_states(conn, seg, now)


# ---------------------------------------------------------------- 3.10.7.1


def _closed(conn: Connection, seg: Segment, now: int) -> None:
    """CLOSED: all data is discarded; anything but a RST is answered with a RST."""
    reply = reset_reply(seg)
    if reply is not None:
        conn.send_control(reply)
    conn.drop(seg, DropReason.CLOSED, now)


# ---------------------------------------------------------------- 3.10.7.2


def _listen(conn: Connection, seg: Segment, now: int) -> None:
    flags = int(seg.flags)  # plain int: IntFlag arithmetic is slow
    if flags & _RST:  # first: an incoming RST is ignored
        conn.drop(seg, DropReason.LISTEN_RST, now)
        return
    if flags & _ACK:  # second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST>
        conn.send_control(Segment(conn.local_port, conn.remote_port, seg.ack, 0, RST, 0))
        conn.drop(seg, DropReason.LISTEN_ACK, now)
        return
    if not flags & _SYN:  # fourth: other text or control is dropped
        conn.drop(seg, DropReason.LISTEN_NO_SYN, now)
        return
    # third: SYN.  RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, choose ISS, send SYN,ACK.
    # Data on a SYN is not kept (Linux without TCP Fast Open does the same).
    conn.irs = Seq(seg.seq)
    conn.rcv_nxt = conn.irs + 1
    conn.rcv_adv = conn.rcv_wup = conn.rcv_nxt
    _apply_syn_options(conn, seg, now)
    ecn.negotiate(conn, seg, passive=True)  # RFC 3168 6.1.1
    conn._choose_iss(now)
    conn.snd_wnd = seg.window  # the window in a SYN is never scaled (RFC 7323 2.2)
    conn.max_snd_wnd = conn.snd_wnd
    conn.snd_wl1 = Seq(seg.seq)
    if conn.config.teaching_two_way_handshake:
        _two_way_handshake(conn, now)
        return
    conn._set_state(S.SYN_RECEIVED, "rcv SYN", now)


def _two_way_handshake(conn: Connection, now: int) -> None:
    """BROKEN TEACHING VARIANT (``TcpConfig.teaching_two_way_handshake``, off by
    default): answer the SYN with a SYN,ACK sent once and count the connection
    ESTABLISHED at once, as if two segments were a handshake.  Nothing will
    acknowledge the SYN,ACK, so it is taken as acknowledged and never
    retransmitted.  This is what RFC 9293 3.5 (Figure 9) shows to fail: an old
    duplicate SYN opens a connection nobody asked for."""
    conn.send_control(conn._segment(conn.iss, SYN | ACK, options=conn._syn_options()))
    conn.snd_una = conn.snd_nxt = conn.snd_max = conn.iss + 1
    conn.snd_wl2 = conn.snd_una
    conn._set_state(S.ESTABLISHED, "rcv SYN (two-way handshake: teaching variant)", now)


def _apply_syn_options(conn: Connection, seg: Segment, now: int) -> None:
    """Negotiate from the peer's SYN (or SYN,ACK): an option is in use when both
    SYNs carry it -- ours offers what the configuration allows.

    MSS (MUST-14, MUST-15, MUST-16: effective send MSS = min(peer MSS, our
    MTU-derived MSS), less the 12 octets every segment's timestamps take, as
    Linux's mss_cache), SACK-permitted (RFC 2018 2), timestamps (RFC 7323 3.2:
    TS.Recent starts as the SYN's TSval) and window scale (RFC 7323 2.2).
    """
    cfg = conn.config
    timestamps = seg.timestamps
    conn.sack_ok = cfg.sack and seg.sack_permitted
    conn.ts_ok = cfg.timestamps and timestamps is not None
    if timestamps is not None and conn.ts_ok:
        conn.ts_recent = timestamps.tsval
        conn.ts_recent_stamp = now
    conn.last_ack_sent = conn.rcv_nxt
    peer_mss = seg.mss
    if peer_mss is not None:
        conn.send_mss = max(min(peer_mss, conn.path_mss), MIN_SEND_MSS)
    if conn.ts_ok:
        conn.send_mss -= TIMESTAMP_SPACE
    peer_shift = seg.wscale
    if peer_shift is not None and conn.config.window_scaling:
        conn.snd_wscale = min(peer_shift, 14)  # RFC 7323 2.3: larger shifts are treated as 14
        conn._offered_wscale = True
    else:
        conn.snd_wscale = 0
        conn.rcv_wscale = 0
    conn.cc.set_mss(conn.send_mss, conn.config.initial_window)


# ---------------------------------------------------------------- 3.10.7.3


def _syn_sent(conn: Connection, seg: Segment, now: int) -> None:
    flags = int(seg.flags)  # plain int: IntFlag arithmetic is slow
    ack = Seq(seg.ack)
    ack_acceptable = False
    # first: the ACK bit
    if flags & _ACK:
        if ack <= conn.iss or ack > conn.snd_max:
            if not flags & _RST:  # <SEQ=SEG.ACK><CTL=RST>
                conn.send_control(Segment(conn.local_port, conn.remote_port, seg.ack, 0, RST, 0))
            conn.drop(seg, DropReason.SYN_SENT_BAD_ACK, now)
            return
        ack_acceptable = conn.snd_una < ack <= conn.snd_max
    # second: the RST bit
    if flags & _RST:
        if ack_acceptable:
            conn.on_reset(now, errno.ECONNREFUSED, "rcv RST")
        else:
            conn.drop(seg, DropReason.SYN_SENT_RST_BAD_ACK, now)
        return
    # fourth: the SYN bit
    if not flags & _SYN:
        conn.drop(seg, DropReason.SYN_SENT_NO_SYN_NO_RST, now)
        return
    conn.irs = Seq(seg.seq)
    conn.rcv_nxt = conn.irs + 1
    conn.rcv_adv = conn.rcv_wup = conn.rcv_nxt
    _apply_syn_options(conn, seg, now)
    if ack_acceptable:
        ecn.negotiate(conn, seg, passive=False)  # RFC 3168 6.1.1
        conn.snd_una = ack
        if conn.snd_nxt < ack:
            conn.snd_nxt = ack
        _rtt_sample(conn, ack, now)
        conn.rtx_deadline = None
        conn.retries = 0
        conn._rtx_started = None  # SYN retransmissions do not count against later data (MUST-21)
        conn.rtt.reset_backoff()
        conn.snd_wnd = seg.window  # unscaled in a SYN
        conn.max_snd_wnd = conn.snd_wnd
        conn.snd_wl1 = Seq(seg.seq)
        conn.snd_wl2 = ack
        conn._set_state(S.ESTABLISHED, "rcv SYN,ACK", now)
        # Data or FIN on the SYN,ACK continue at the sixth step (3.10.7.3).
        payload = seg.payload
        if payload or flags & _FIN:
            _text_and_fin(conn, seg, conn.rcv_nxt, payload, bool(flags & _FIN), now)
        # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> at once, as its own segment
        # (Linux tcp_rcv_synsent_state_process), before any queued data.  Built
        # after the text and FIN so that this one ACK acknowledges them too
        # (3.10.7.3: "Data or controls that were queued ... may be included").
        conn.send_control(conn._segment(conn.snd_max, ACK))
        conn.ack_now = False
        conn.delack_deadline = None
        conn.maybe_writable()
        return
    # Simultaneous open (MUST-10): SYN,ACK <SEQ=ISS><ACK=RCV.NXT>.
    conn.snd_wnd = seg.window
    conn.max_snd_wnd = conn.snd_wnd
    conn.snd_wl1 = Seq(seg.seq)
    conn._set_state(S.SYN_RECEIVED, "rcv SYN (simultaneous open)", now)
    conn.snd_nxt = conn.iss  # segments_to_send re-sends the SYN, now with ACK
    conn.rtx_deadline = None
    conn._rtt_seq = None  # Karn (MUST-18): ISS is sent again, so its ACK is ambiguous


# ---------------------------------------------------------------- 3.10.7.4


def _other_states(conn: Connection, seg: Segment, now: int) -> None:
    flags = int(seg.flags)  # plain int: IntFlag arithmetic is slow
    state = conn.state
    seg_seq = Seq(seg.seq)
    timestamps = seg.timestamps if conn.ts_ok else None

    # PAWS (RFC 7323 5.3 R1), before the sequence check: a non-RST segment whose
    # TSval is older than TS.Recent is a duplicate from the past; ACK and drop it.
    # TS.Recent idle for 24 days no longer counts (5.5).  A segment without
    # timestamps is accepted (Linux; RFC 7323 3.2 says it SHOULD be dropped).
    if (
        timestamps is not None
        and not flags & _RST
        and timestamp_older(timestamps.tsval, conn.ts_recent)
        and now - conn.ts_recent_stamp < PAWS_IDLE_LIMIT
    ):
        conn.ack_now = True
        conn.drop(seg, DropReason.PAWS, now, f"TSval {timestamps.tsval} < {conn.ts_recent}")
        return

    # A duplicate of the SYN that opened a passive connection: answer with the
    # SYN,ACK again (as Linux's request sockets do) rather than a bare ACK.
    if (
        state is S.SYN_RECEIVED
        and flags & _SYN
        and not flags & (_ACK | _RST)
        and seg_seq == conn.irs
    ):
        conn.snd_nxt = conn.iss
        conn._rtt_seq = None  # Karn (MUST-18): the SYN,ACK is sent again
        conn.drop(seg, DropReason.DUPLICATE_SYN, now)
        return
    # Simultaneous open: the peer's SYN,ACK acknowledging our SYN completes it
    # (RFC 9293 Figure 8 line 6; Linux tcp_rcv_state_process does the same),
    # although its SYN lies just before RCV.NXT.  The window of a SYN is not
    # scaled (RFC 7323 2.2).
    if (
        state is S.SYN_RECEIVED
        and not conn.passive
        and flags & (_SYN | _ACK | _RST) == _SYN | _ACK
        and seg_seq == conn.irs
        and conn.snd_una < Seq(seg.ack) <= conn.snd_max
    ):
        ack = Seq(seg.ack)
        _update_ts_recent(conn, seg_seq, timestamps, now)
        conn._set_state(S.ESTABLISHED, "rcv SYN,ACK (simultaneous open)", now)
        _process_ack(conn, seg, seg_seq, ack, now)
        conn.snd_wnd = seg.window
        conn.max_snd_wnd = max(conn.max_snd_wnd, seg.window)
        conn.snd_wl1 = seg_seq
        conn.snd_wl2 = ack
        return
    # TIME-WAIT: a retransmitted FIN is ACKed again and the 2*MSL timer
    # restarts (3.10.7.4 eighth step; Linux tcp_timewait_state_process).
    if (
        state is S.TIME_WAIT
        and flags & _FIN
        and not flags & _RST
        and seg_seq + seg.seg_len == conn.rcv_nxt
    ):
        _update_ts_recent(conn, seg_seq, timestamps, now)
        conn.ack_now = True
        conn.start_time_wait(now)
        conn.drop(seg, DropReason.TIME_WAIT, now, "retransmitted FIN: ACK again, restart 2MSL")
        return

    # ---- first: check the sequence number (Table 6)
    rcv_wnd = max(conn.rcv_adv - conn.rcv_nxt, 0)
    seg_len = seg.seg_len
    rcv_nxt = conn.rcv_nxt
    linux = conn.config.linux_receive_window
    if linux:
        acceptable = rcvwindow.sequence_acceptable(conn, seg_seq, seg_len, flags, rcv_wnd)
    elif seg_len == 0:
        if rcv_wnd == 0:
            acceptable = seg_seq == rcv_nxt
        else:
            acceptable = rcv_nxt <= seg_seq and seg_seq - rcv_nxt < rcv_wnd
    elif rcv_wnd == 0:
        # A bare FIN at RCV.NXT while the window is zero: Table 6 finds it
        # unacceptable (SEG.LEN = 1, RCV.WND = 0); Linux accepts it (see
        # TcpConfig.accept_fin_at_zero_window).
        acceptable = (
            conn.config.accept_fin_at_zero_window
            and seg_len == 1
            and bool(flags & _FIN)
            and seg_seq == rcv_nxt
        )
    else:
        end = seg_seq + (seg_len - 1)
        acceptable = (rcv_nxt <= seg_seq and seg_seq - rcv_nxt < rcv_wnd) or (
            rcv_nxt <= end and end - rcv_nxt < rcv_wnd
        )
    zero_window_allowance = False
    if not acceptable:
        if flags & _RST:
            # MUST-66: a RST at RCV.NXT is processed even when RCV.WND is zero,
            # also one carrying data (SHLD-2), as Linux's tcp_sequence().
            if not (rcv_wnd == 0 and seg_seq == rcv_nxt):
                conn.drop(seg, DropReason.RST_OUT_OF_WINDOW, now)
                return
        # "special allowance should be made to accept valid ACKs, URGs, and RSTs"
        # when RCV.WND is zero: process the ACK, drop the text.
        elif (
            not linux and rcv_wnd == 0 and seg_seq == rcv_nxt and flags & _ACK and not flags & _SYN
        ):
            zero_window_allowance = True
        else:
            conn.ack_now = True  # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
            if seg.payload and seg_seq < rcv_nxt:
                # An old duplicate: report it (RFC 2883; Linux tcp_send_dupack).
                end = seg_seq + len(seg.payload)
                rcvwindow.set_dsack(conn, seg_seq, end if end < rcv_nxt else rcv_nxt)
            conn.drop(seg, DropReason.SEQ_UNACCEPTABLE, now)
            return

    # ---- second: the RST bit (RFC 5961 section 3).  A RST at RCV.NXT is
    # acceptable even when RCV.WND is zero (MUST-66).  Data on a RST is
    # ignored (SHLD-2 lets a RST carry a diagnostic).
    if flags & _RST:
        if seg_seq != rcv_nxt:
            _challenge_ack(conn, now)
            conn.drop(seg, DropReason.RST_CHALLENGED, now)
            return
        if state is S.SYN_RECEIVED:
            if conn.passive:  # MUST-11: back to LISTEN (the listener lives on)
                conn._set_state(S.LISTEN, "rcv RST", now)
                conn._enter_closed("rcv RST", now, quiet=True)
            else:
                conn.on_reset(now, errno.ECONNREFUSED, "rcv RST")
        elif state in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT):
            conn.on_reset(now, errno.ECONNRESET, "rcv RST")
        else:  # CLOSING, LAST-ACK, TIME-WAIT
            conn.on_reset(now, 0, "rcv RST")
        return

    # ---- third: security (no compartments here) -- nothing to check.

    # ---- fourth: the SYN bit (RFC 5961 section 4)
    if flags & _SYN:
        if state is S.SYN_RECEIVED and conn.passive:
            conn._set_state(S.LISTEN, "rcv SYN", now)
            conn._enter_closed("rcv SYN", now, quiet=True)
            return
        _challenge_ack(conn, now)
        conn.drop(seg, DropReason.SYN_CHALLENGED, now)
        return

    # ---- fifth: the ACK field
    if not flags & _ACK:
        conn.drop(seg, DropReason.NO_ACK, now)
        return
    # RFC 7323 5.3 R3, once the segment is known to be in the window (as Linux's
    # tcp_ack with FLAG_UPDATE_TS_RECENT).
    _update_ts_recent(conn, seg_seq, timestamps, now)
    ack = Seq(seg.ack)
    if state is S.SYN_RECEIVED:
        if conn.snd_una < ack <= conn.snd_max:
            conn.snd_wnd = seg.window << conn.snd_wscale
            conn.max_snd_wnd = max(conn.max_snd_wnd, conn.snd_wnd)
            conn.snd_wl1 = seg_seq
            conn.snd_wl2 = ack
            conn._set_state(S.ESTABLISHED, "rcv ACK of SYN", now)
        else:  # <SEQ=SEG.ACK><CTL=RST>
            conn.send_control(Segment(conn.local_port, conn.remote_port, seg.ack, 0, RST, 0))
            conn.drop(seg, DropReason.SYN_RECEIVED_BAD_ACK, now)
            return
    if ack > conn.snd_max:
        conn.ack_now = True  # ACK of something not yet sent: send an ACK, drop
        conn.drop(seg, DropReason.ACK_UNSENT, now)
        return
    # RFC 5961 5.2 also protects against blind data injection (MAY-12).
    if ack < conn.snd_una - max(conn.max_snd_wnd, 1):
        _challenge_ack(conn, now)
        conn.drop(seg, DropReason.ACK_TOO_OLD, now)
        return
    _process_ack(conn, seg, seg_seq, ack, now)
    if conn.state is S.CLOSED:
        return
    state = conn.state
    if state is S.FIN_WAIT_1 and conn.fin_acked and not flags & _FIN:
        # With a FIN in the same segment the eighth step takes FIN-WAIT-1
        # straight to TIME-WAIT ("If our FIN has been ACKed (perhaps in this
        # segment)"); _fin_wait_1_acked settles the other cases at the end.
        conn._set_state(S.FIN_WAIT_2, "rcv ACK of FIN", now)
    elif state is S.CLOSING and conn.fin_acked:
        conn._set_state(S.TIME_WAIT, "rcv ACK of FIN", now)
    elif state is S.LAST_ACK and conn.fin_acked:
        conn._enter_closed("rcv ACK of FIN", now)
        return
    conn.arm_keepalive(now)
    if zero_window_allowance:
        if seg.payload or flags & _FIN:
            conn.ack_now = True
            conn.drop(seg, DropReason.RECEIVE_BUFFER_FULL, now, "zero window")
        _fin_wait_1_acked(conn, now)
        return

    # RFC 3168 6.1.3: CE on arriving data is echoed with ECE until CWR.
    if conn.ecn_ok:
        ecn.on_arrival(conn, seg, conn.received_tos & ecn.CE)

    # ---- sixth: URG (3.8.5).  The urgent data itself stays inline, in order.
    if flags & _URG and state in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
        urgent_pointer_received(conn, seg_seq + seg.urgent)

    # ---- seventh and eighth: segment text, then FIN
    payload = seg.payload
    fin = bool(flags & _FIN)
    if linux:
        if payload or fin:
            _linux_text(conn, seg, seg_seq, payload, fin, now)
        _fin_wait_1_acked(conn, now)
        return
    if payload or fin:
        # Trim what lies before RCV.NXT or beyond the window (3.10.7.4 first step).
        start = seg_seq
        if start < rcv_nxt:
            skip = rcv_nxt - start
            payload = payload[skip:]
            start = rcv_nxt
        room = conn.rcv_adv - start
        if len(payload) > room:
            payload = payload[: max(room, 0)]
            fin = False
        _text_and_fin(conn, seg, start, payload, fin, now)
    _fin_wait_1_acked(conn, now)


def _linux_text(
    conn: Connection, seg: Segment, seg_seq: Seq, payload: bytes | memoryview, fin: bool, now: int
) -> None:
    """The seventh step as Linux's tcp_data_queue: data at RCV.NXT is queued
    whole (no trimming to the window: tcp_sequence judged its end), except into
    a zero window -- where a bare FIN is still taken (accept_fin_at_zero_window;
    RFC 9293 3.10.7.4 would drop it); old data is ACKed at once with a D-SACK;
    data starting beyond the window is dropped; the rest is out of order."""
    rcv_nxt = conn.rcv_nxt
    window = max(conn.rcv_adv - rcv_nxt, 0)
    end = seg_seq + len(payload) + fin
    conn.dsack = None
    if seg_seq == rcv_nxt:
        if window == 0 and not (not payload and fin and conn.config.accept_fin_at_zero_window):
            conn.ack_now = True
            conn.drop(seg, DropReason.RECEIVE_BUFFER_FULL, now, "zero window")
            return
        if not payload and not rcvwindow.can_ingest(conn, 0):
            # A bare FIN while memory is over the limit is taken (it costs
            # nothing), with the immediate zero-window ACK of ICSK_ACK_NOMEM.
            conn.rwin.nomem = True
            conn.ack_now = True
    elif end <= rcv_nxt:
        rcvwindow.set_dsack(conn, seg_seq, end)
        conn.ack_now = True
        conn.drop(seg, DropReason.DUPLICATE_DATA, now)
        return
    elif seg_seq >= rcv_nxt + window:
        conn.ack_now = True
        conn.drop(seg, DropReason.SEQ_UNACCEPTABLE, now, "beyond the window")
        return
    elif seg_seq < rcv_nxt:
        rcvwindow.set_dsack(conn, seg_seq, rcv_nxt)
        if window == 0:
            conn.ack_now = True
            conn.drop(seg, DropReason.RECEIVE_BUFFER_FULL, now, "zero window")
            return
        payload = payload[rcv_nxt - seg_seq :]
        seg_seq = rcv_nxt
    _text_and_fin(conn, seg, seg_seq, payload, fin, now)


def _update_ts_recent(
    conn: Connection, seg_seq: Seq, timestamps: Timestamps | None, now: int
) -> None:
    """RFC 7323 4.3 (2): TS.Recent = SEG.TSval when SEG.TSval >= TS.Recent and
    SEG.SEQ <= Last.ACK.sent, i.e. the segment starts at or before the left
    window edge we last acknowledged, so that pure ACKs count too (as Linux's
    tcp_replace_ts_recent with rcv_wup).  An expired TS.Recent (5.5) is replaced."""
    if timestamps is None or seg_seq > conn.last_ack_sent:
        return
    tsval = timestamps.tsval
    if not timestamp_older(tsval, conn.ts_recent) or now - conn.ts_recent_stamp >= PAWS_IDLE_LIMIT:
        conn.ts_recent = tsval
        conn.ts_recent_stamp = now


def _fin_wait_1_acked(conn: Connection, now: int) -> None:
    """Fifth step, FIN-WAIT-1: "if the FIN segment is now acknowledged, then
    enter FIN-WAIT-2" -- unless this segment's FIN already led to TIME-WAIT."""
    if conn.state is S.FIN_WAIT_1 and conn.fin_acked:
        conn._set_state(S.FIN_WAIT_2, "rcv ACK of FIN", now)


def _process_ack(conn: Connection, seg: Segment, seg_seq: Seq, ack: Seq, now: int) -> None:
    """ESTABLISHED-state ACK processing: SND.UNA, the send window, RTT,
    congestion control and the retransmission timer (3.10.7.4, RFC 6298, RFC 5681)."""
    snd_una = conn.snd_una
    # The window field is unsigned (MUST-1) and, scaled, held as a full
    # integer, at least 32 bits (REC-1).
    window = seg.window << conn.snd_wscale
    cc = conn.cc
    new_sack = False
    linux = conn.config.linux_recovery
    # RFC 3168 6.1.2: the peer saw congestion; the window is cut, not grown.
    ece_cut = conn.ecn_ok and int(seg.flags) & _ECE and snd_una <= ack and ecn.on_ece(conn, ack)
    # A duplicate ACK (RFC 5681 2): nothing new acknowledged, no data, no
    # SYN/FIN, the same window, and data outstanding.
    dupack = (
        ack == snd_una
        and not seg.payload
        and not int(seg.flags) & (_SYN | _FIN)
        and window == conn.snd_wnd
        and conn.snd_max != snd_una
    )
    if conn.sack_ok and not linux:
        # RFC 2018: remember what the peer SACKed (and forget what SND.UNA passed)
        # so that retransmissions fill holes only.
        blocks = seg.sack_blocks
        if blocks or conn.scoreboard:
            sacked_before = conn.scoreboard.sacked_bytes
            conn.scoreboard.update(blocks, ack if snd_una < ack else snd_una, conn.snd_max)
            new_sack = conn.scoreboard.sacked_bytes > sacked_before
    if snd_una <= ack:
        conn.probes_out = 0  # the peer answers (Linux tcp_ack clears icsk_probes_out)
    if snd_una < ack:
        acked = ack - snd_una
        flight_before = conn.snd_max - snd_una
        data_acked = acked
        if snd_una == conn.iss:
            data_acked -= 1  # the SYN's sequence number carries no data
        if conn.fin_seq is not None and ack > conn.fin_seq:
            data_acked -= 1  # nor does the FIN's
        if data_acked > 0:
            conn.send_buffer.consume(min(data_acked, len(conn.send_buffer)))
        conn.snd_una = ack
        if conn.snd_nxt < ack:
            conn.snd_nxt = ack
        _rtt_sample(conn, ack, now)
        conn.retries = 0
        conn._rtx_started = None
        conn.rtt.reset_backoff()
        if linux:
            pass  # recovery.on_ack below
        elif cc.in_recovery:
            if ack >= Seq(cc.recover):
                cc.exit_recovery(conn.snd_max - ack)
            else:  # RFC 6582 partial ACK: retransmit the next hole at once
                cc.on_partial_ack(acked)
                _retransmit_first_hole(conn, now)
        elif not ece_cut:
            cc.on_ack(acked, flight_before)
        # RFC 6298 5.2 and 5.3: stop the timer when all is ACKed, else restart it.
        conn.rtx_deadline = None if conn.snd_una == conn.snd_max else now + conn.rtt.rto
        conn.maybe_writable()
    elif (
        # Three duplicate ACKs trigger fast retransmit.  With SACK, also one
        # that SACKs new data whatever its window says (RFC 6675 2).
        not linux
        and ack == snd_una
        and not seg.payload
        and not int(seg.flags) & (_SYN | _FIN)
        and (window == conn.snd_wnd or new_sack)
        and conn.snd_max != snd_una
        and cc.on_dupack(conn.snd_max - snd_una)
    ):
        cc.recover = int(conn.snd_max)
        conn.bump("fast_retransmits")
        _retransmit_first_hole(conn, now)
    if linux:
        # Linux's loss recovery (synack.tcp.recovery): SACK scoreboard, RACK,
        # the congestion states, PRR and retransmission of lost segments.
        blocks = seg.sack_blocks if conn.sack_ok else ()
        conn.recovery.on_ack(conn, blocks, snd_una, dupack, now)
    # Window update (3.10.7.4): only from a segment not older than the last one used.
    if snd_una <= ack and (
        conn.snd_wl1 < seg_seq or (conn.snd_wl1 == seg_seq and conn.snd_wl2 <= ack)
    ):
        conn.snd_wnd = window
        conn.snd_wl1 = seg_seq
        conn.snd_wl2 = ack
        if window > conn.max_snd_wnd:
            conn.max_snd_wnd = window
        if window > 0:
            conn.persist_deadline = None
            conn._persist_backoff = 0
            conn.probes_started = None  # the probing ended (Linux tcp_ack_probe)


def _retransmit_first_hole(conn: Connection, now: int) -> None:
    """Fast retransmit (RFC 5681 3.2) or NewReno's partial-ACK retransmission
    (RFC 6582): resend one segment from SND.UNA now.  With SACK it fills the
    first hole the scoreboard shows and resends nothing the peer SACKed
    (RFC 2018 5: "skip over" SACKed data)."""
    conn._rtt_seq = None  # Karn (MUST-18)
    unacked_data = min(len(conn.send_buffer), conn.snd_max - conn.snd_una)
    start, end = 0, unacked_data
    if conn.scoreboard:
        start, end = conn.scoreboard.first_hole(conn.snd_una, conn.snd_max)
        end = min(end, unacked_data)
    size = min(end - start, conn.send_mss)
    if size <= 0:
        return
    seq = conn.snd_una + start
    flags = ACK
    if conn.fin_seq is not None and seq + size == conn.fin_seq:
        flags |= FIN
    payload = conn.send_buffer.peek(start, size)
    conn._emit(conn._segment(seq, flags, payload), now, first=False)
    conn.rtx_deadline = now + conn.rtt.rto  # RFC 6298 5.3 for the retransmission


def _rtt_sample(conn: Connection, ack: Seq, now: int) -> None:
    """Take the RTT sample of the one timed segment once it is acknowledged
    (RFC 6298 3; the timed segment is never a retransmission: Karn, MUST-18)."""
    timed = conn._rtt_seq
    if timed is not None and ack >= timed:
        rtt = max(now - conn._rtt_time, 1)
        conn.rtt.sample(rtt)
        conn.recovery.on_rtt_sample(rtt)
        conn._rtt_seq = None


def _text_and_fin(
    conn: Connection, seg: Segment, start: Seq, payload: bytes | memoryview, fin: bool, now: int
) -> None:
    """Seventh step (segment text) and eighth step (FIN), with out-of-order
    segments held for later (SHLD-31) and the ACK policy of 3.8.6.3."""
    state = conn.state
    if payload:
        if conn.fin_received or state not in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
            conn.drop(seg, DropReason.DATA_AFTER_FIN, now)
            return
        if conn.user_closed and state in (S.FIN_WAIT_1, S.FIN_WAIT_2):
            # New data for an application that closed: RST (SHLD-3, as Linux's ABORTONDATA).
            conn.send_control(Segment(conn.local_port, conn.remote_port, seg.ack, 0, RST, 0))
            conn.on_reset(now, 0, "data after close (SHLD-3)")
            return
        offset = start - conn.rcv_nxt
        buffer = conn.receive_buffer
        # A held out-of-order FIN marks a gap too: data before it fills (part of) it.
        held_before = buffer.out_of_order_bytes or conn._peer_fin_seq is not None
        linux = conn.config.linux_receive_window
        if linux:
            added = rcvwindow.queue_data(conn, seg, offset, payload, now)
            if added is None:
                return
            grown = added
        else:
            grown = buffer.add(offset, payload)
            conn.rcv_nxt = conn.rcv_nxt + grown
        if grown:
            conn.deliver_events_for_data()
        if offset > 0 or held_before or (grown < len(payload) and offset == 0):
            # Out of order, filling a hole, or no room: ACK at once (RFC 5681 4.2,
            # MAY-13).
            conn.ack_now = True
        elif linux:
            # __tcp_ack_snd_check: more than one MSS since the last ACK with the
            # window not shrinking, or quick ACKs left; else a delayed ACK.
            if rcvwindow.ack_now_for_data(conn):
                conn.ack_now = True
            elif conn._quick_acks > 0 and not (fin and conn.config.delay_fin_ack):
                # Not for data carrying the FIN: tcp_fin() enters pingpong
                # mode, which turns quick ACKs off (see below).
                conn._quick_acks -= 1
                conn.ack_now = True
            elif conn.delack_deadline is None:
                conn.delack_deadline = now + conn.config.delayed_ack  # MUST-40
        else:
            conn._unacked_bytes += grown
            if conn._quick_acks > 0 and not (fin and conn.config.delay_fin_ack):
                # Quick-ACK mode (Linux), but not for data carrying the FIN:
                # tcp_fin() enters pingpong mode, which turns quick ACKs off,
                # so data+FIN waits for the delayed ACK like a bare FIN.
                conn._quick_acks -= 1
                conn.ack_now = True
            elif conn._unacked_bytes >= conn.config.ack_every * conn.send_mss:
                conn.ack_now = True  # SHLD-19: at least every second full segment
            elif conn.delack_deadline is None:  # delayed ACK (SHLD-18)
                conn.delack_deadline = now + conn.config.delayed_ack  # MUST-40
    if fin:
        fin_seq = start + len(payload)
        if fin_seq != conn.rcv_nxt:
            conn._peer_fin_seq = fin_seq  # the data before it is still missing
            conn.ack_now = True
            return
        _fin(conn, now)
    elif conn._peer_fin_seq is not None and conn._peer_fin_seq == conn.rcv_nxt:
        _fin(conn, now)


def _challenge_ack(conn: Connection, now: int) -> None:
    """RFC 5961 challenge ACK, rate-limited as section 7 asks: at most one per
    ``challenge_ack_interval`` per connection (Linux's tcp_invalid_ratelimit)."""
    interval = conn.config.challenge_ack_interval
    last = conn.last_challenge_ack
    if interval and last is not None and now - last < interval:
        conn.bump("challenge_acks_rate_limited")
        return
    conn.last_challenge_ack = now
    conn.ack_now = True


def _fin(conn: Connection, now: int) -> None:
    """Eighth step: the peer's FIN is in order."""
    state = conn.state
    conn._peer_fin_seq = None
    if conn.fin_received:
        conn.ack_now = True
        return
    conn.fin_received = True
    conn.rcv_nxt = conn.rcv_nxt + 1
    conn.dsack = None  # Linux tcp_fin: tcp_sack_reset forgets a pending D-SACK too
    conn.peer_finished()
    if state in (S.SYN_RECEIVED, S.ESTABLISHED):
        conn._set_state(S.CLOSE_WAIT, "rcv FIN", now)
        if conn.config.delay_fin_ack and not conn.ack_now:
            # "Send an acknowledgment for the FIN" -- after the delayed-ACK
            # time, as Linux does (tcp_fin enters pingpong mode): a close()
            # within it lets the FIN carry the ACK (a three-segment close).
            if conn.delack_deadline is None:
                conn.delack_deadline = now + conn.config.delayed_ack  # MUST-40
            return
        conn.ack_now = True
        return
    conn.ack_now = True
    if state is S.FIN_WAIT_1:
        if conn.fin_acked:
            conn._set_state(S.TIME_WAIT, "rcv FIN", now)
        else:
            conn._set_state(S.CLOSING, "rcv FIN", now)
    elif state is S.FIN_WAIT_2:
        conn._set_state(S.TIME_WAIT, "rcv FIN", now)
