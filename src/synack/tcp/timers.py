"""Timeouts (RFC 9293 3.10.8): retransmission (RFC 6298), persist (zero-window
probing, 3.8.6.1), keep-alive (3.8.4), TIME-WAIT and the orphaned FIN-WAIT-2
timeout.  Functions here operate on a ``Connection``, as ``arrival`` does.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from synack.tcp.errors import os_error
from synack.tcp.events import Reset, Unresponsive
from synack.tcp.state import State
from synack.wire.tcp import TcpFlags

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

FLAG_ACK = TcpFlags.ACK
FLAG_PSH = TcpFlags.PSH
FLAG_RST = TcpFlags.RST
# Linux's TCP_RESOURCE_PROBE_INTERVAL: how soon to try again when the device
# refused a packet (local congestion), without backing off.
RESOURCE_PROBE_INTERVAL = 500_000


def fire_due(conn: Connection, now: int) -> None:
    """Run every timer of ``conn`` whose deadline is ``<= now``."""
    if conn.time_wait_deadline is not None and now >= conn.time_wait_deadline:
        conn.time_wait_deadline = None
        conn._timer_fired(now, "TIME-WAIT 2MSL")
        conn._enter_closed("2*MSL timeout", now)
        return
    if conn.fin_wait_2_deadline is not None and now >= conn.fin_wait_2_deadline:
        conn.fin_wait_2_deadline = None
        conn._timer_fired(now, "FIN-WAIT-2 timeout")
        conn._enter_closed("FIN-WAIT-2 timeout", now)
        return
    if conn.rtx_deadline is not None and now >= conn.rtx_deadline:
        conn.rtx_deadline = None
        retransmission_timeout(conn, now)
    recovery_deadline = conn.recovery.deadline
    if recovery_deadline is not None and now >= recovery_deadline:
        conn.recovery.on_timer(conn, now)  # RACK reordering timer, tail loss probe
    if conn.persist_deadline is not None and now >= conn.persist_deadline:
        conn.persist_deadline = None
        persist_timeout(conn, now)
    if conn.keepalive_deadline is not None and now >= conn.keepalive_deadline:
        conn.keepalive_deadline = None
        keepalive_timeout(conn, now)
    if conn.delack_deadline is not None and now >= conn.delack_deadline:
        conn.delack_deadline = None
        conn._timer_fired(now, "delayed ACK")
        conn.ack_now = True


def retransmission_timeout(conn: Connection, now: int) -> None:
    """RFC 6298 5.4-5.7 and RFC 9293 3.8.3 (R1/R2).  Exponential backoff and
    slow start after a timeout (MUST-19); SYNs use the same mechanism (MUST-22)."""
    conn._timer_fired(now, "RTO")
    state = conn.state
    if (
        conn.snd_wnd == 0
        and len(conn.send_buffer) > 0
        and state.synchronized
        and not conn.user_closed
    ):
        # The peer shrank its window to zero with data outstanding (3.8.6):
        # no data may be retransmitted, so probe the window instead (MUST-35)
        # and do not time the connection out while the probes are answered
        # (SHLD-17, MUST-37), as Linux's tcp_retransmit_timer does (which,
        # like this, still times out orphans).
        conn.snd_nxt = conn.snd_una  # resend from SND.UNA once the window opens
        conn._rtt_seq = None  # Karn (MUST-18)
        persist_timeout(conn, now)
        return
    if conn._rtx_started is None:
        # The timer ran for one (not yet backed-off) RTO since the oldest
        # unacknowledged segment left or the last ACK advanced SND.UNA.
        conn._rtx_started = now - conn.rtt.rto
    conn.retries += 1
    if state is State.SYN_SENT:
        limit = conn.config.syn_retries
    elif state is State.SYN_RECEIVED:
        limit = conn.config.synack_retries
    else:
        limit = conn.config.retries2
    timed_out = conn.retries > limit
    user_timeout = conn.config.user_timeout
    if user_timeout and now - conn._rtx_started >= user_timeout:
        timed_out = True  # MUST-21: the application's own R2
    if timed_out:
        if state is State.SYN_RECEIVED and conn.passive:
            conn._set_state(State.LISTEN, "SYN-ACK retries exhausted", now)
            conn._enter_closed("SYN-ACK retries exhausted", now, quiet=True)
            return
        _give_up(conn, now, "retransmission timeout (R2)")
        return
    if conn.retries == conn.config.retries1 and state.synchronized:
        # MUST-20: negative advice to IP (traced); SHLD-9: tell the application.
        conn._timer_fired(now, "R1 reached: negative advice to IP (MUST-20)")
        conn._events.append(Unresponsive(conn.retries))
    if conn.output_refused and state.synchronized:
        # The device refuses packets: try again soon, without backing off
        # (Linux's tcp_retransmit_timer after a failed tcp_retransmit_skb).
        conn.rtx_deadline = now + RESOURCE_PROBE_INTERVAL
        if user_timeout:
            conn.rtx_deadline = min(conn.rtx_deadline, conn._rtx_started + user_timeout)
        return
    conn.rtt.backoff()  # RFC 6298 5.5
    conn._rtt_seq = None  # Karn (MUST-18): no sample from a retransmitted segment
    if conn.config.linux_recovery:
        conn.recovery.on_timeout(conn)  # tcp_enter_loss: ssthresh from the module, cwnd 1
    else:
        conn.cc.on_timeout(conn.snd_max - conn.snd_una)
    conn.snd_nxt = conn.snd_una  # go back: resend from the oldest unacknowledged octet
    conn._transmit(now, timeout=True)  # within SND.UNA+SND.WND, even if it shrank (SHLD-16)
    if conn.rtx_deadline is None and conn.snd_max != conn.snd_una:
        conn.rtx_deadline = now + conn.rtt.rto
    if user_timeout and conn.rtx_deadline is not None:
        # Give up exactly when the user timeout ends (Linux tcp_clamp_rto_to_user_timeout).
        conn.rtx_deadline = min(conn.rtx_deadline, conn._rtx_started + user_timeout)


def persist_timeout(conn: Connection, now: int) -> None:
    """Probe a zero window (MUST-36) with an old sequence number so the peer
    answers with its current window, as Linux does; back off (SHLD-30).

    As Linux's tcp_probe_timer: the first probe of a run stamps its time, and
    with TCP_USER_TIMEOUT set the connection gives up once probing has lasted
    that long -- also while the peer answers with a zero window (RFC 9293's
    SHLD-17 keeps probing; the application asked for the limit, MUST-21).
    When the device refuses packets the probe is the attempt to send, retried
    every RESOURCE_PROBE_INTERVAL without backoff (tcp_send_probe0)."""
    conn._timer_fired(now, "persist")
    user_timeout = conn.config.user_timeout
    if conn.probes_started is None:
        conn.probes_started = now
    elif user_timeout and now - conn.probes_started >= user_timeout:
        _give_up(conn, now, "user timeout while probing (MUST-21)")
        return
    if conn.output_refused and conn.state.synchronized:
        conn.probes_out += 1
        conn.bump("resource_probes")
        delay = RESOURCE_PROBE_INTERVAL
        if user_timeout:  # tcp_clamp_probe0_to_user_timeout
            delay = min(delay, max(conn.probes_started + user_timeout - now, 1))
        conn.persist_deadline = now + delay
        return
    usable = min(conn.snd_wnd, conn.cc.cwnd) - (conn.snd_nxt - conn.snd_una)
    unsent = len(conn.send_buffer) - (conn.snd_nxt - conn.snd_una)
    if usable > 0 and unsent > 0:
        # The override timeout of sender SWS avoidance: send what fits.
        size = min(usable, unsent, conn.send_mss)
        payload = conn.send_buffer.peek(conn.snd_nxt - conn.snd_una, size)
        segment = conn._segment(conn.snd_nxt, FLAG_ACK | FLAG_PSH, payload)
        # Data sent before (after the window shrank) is a retransmission (Karn, MUST-18).
        conn._emit(segment, now, first=conn.snd_nxt == conn.snd_max)
        conn.snd_nxt = conn.snd_nxt + size
        if conn.snd_nxt > conn.snd_max:
            conn.snd_max = conn.snd_nxt
        return
    conn._out.append((conn._segment(conn.snd_una - 1, FLAG_ACK), False))
    conn.bump("window_probes")
    conn.probes_out += 1
    conn._persist_backoff = min(conn._persist_backoff + 1, 16)
    delay = min(conn.rtt.rto << conn._persist_backoff, conn.config.max_rto)
    if user_timeout:  # tcp_clamp_probe0_to_user_timeout
        delay = min(delay, max(conn.probes_started + user_timeout - now, 1))
    conn.persist_deadline = now + delay


def _give_up(conn: Connection, now: int, cause: str) -> None:
    """ETIMEDOUT for the application -- or the ICMP soft error that explains
    the silence (RFC 1122 4.2.3.9) -- and CLOSED (Linux's tcp_write_err)."""
    conn.error = conn.soft_error or os_error(errno.ETIMEDOUT)
    conn._events.append(Reset(conn.error))
    conn._enter_closed(cause, now)


def keepalive_timeout(conn: Connection, now: int) -> None:
    """Keep-alive probe (3.8.4, MAY-5): no data, SEG.SEQ = SND.NXT-1 (SHLD-12).

    None once the application turned keep-alive off (MUST-24), and none while
    sent data is outstanding or queued (MUST-26): the retransmission or persist
    timer watches the peer then; look again one idle interval later, as
    Linux's tcp_keepalive_timer does.
    """
    if not conn.config.keepalive:
        return
    if conn.snd_max != conn.snd_una or len(conn.send_buffer) > 0:
        conn.keepalive_deadline = now + conn.config.keepalive_idle
        return
    conn._timer_fired(now, "keep-alive")
    if conn._keepalive_probes >= conn.config.keepalive_probes:
        # Give up; tell the peer, should it be there after all, with a RST
        # (Linux's tcp_keepalive_timer sends an active reset before tcp_write_err).
        conn._out.append((conn._segment(conn.snd_max, FLAG_ACK | FLAG_RST), False))
        conn.error = conn.soft_error or os_error(errno.ETIMEDOUT)
        conn._events.append(Reset(conn.error))
        conn._enter_closed("keep-alive timeout", now)
        return
    conn._keepalive_probes += 1
    conn._out.append((conn._segment(conn.snd_una - 1, FLAG_ACK), False))
    conn.keepalive_deadline = now + conn.config.keepalive_interval
