"""Explicit Congestion Notification (RFC 3168; SHLD-8), as Linux's tcp_ecn.

Negotiated on the SYNs (6.1.1): an ECN-setup SYN carries ECE and CWR, the
ECN-setup SYN,ACK answers with ECE alone.  ``TcpConfig.ecn`` follows
net.ipv4.tcp_ecn: 0 never, 1 ask on active opens and accept on passive ones,
2 (Linux's default) only accept.  A retransmitted SYN asks no more (Linux
falls back, tcp_ecn_clear_syn).

On a connection with ECN:

* new data segments leave with ECT(0) in the IP header; SYNs, pure ACKs,
  window probes and retransmissions do not (6.1.1, 6.1.5);
* a data segment that arrives with CE makes the receiver set ECE on every
  segment it sends (6.1.3) -- and ACK at once (Linux's quick ACK) -- until a
  segment with CWR arrives;
* an ACK with ECE makes the sender reduce its window as for a loss, at most
  once per window of data (6.1.2; Linux's CWR state with PRR, or RFC 5681's
  halving without ``linux_recovery``), and set CWR on the next new data
  segment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.wire.tcp import Segment, TcpFlags

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

ECT0 = 0b10  # the ECN field of the IP header (RFC 3168 5)
CE = 0b11
_ECE, _CWR, _SYN, _ACK = int(TcpFlags.ECE), int(TcpFlags.CWR), int(TcpFlags.SYN), int(TcpFlags.ACK)
SYN_ECN_FLAGS = TcpFlags.ECE | TcpFlags.CWR


def syn_flags(conn: Connection, *, first: bool) -> TcpFlags:
    """The ECN bits our SYN or SYN,ACK carries: an ECN-setup SYN asks with
    ECE and CWR (tcp_ecn=1), a SYN,ACK says yes with ECE."""
    if conn.state is State.SYN_SENT:
        if conn.config.ecn == 1 and first and not conn.passive:
            return SYN_ECN_FLAGS
        return TcpFlags(0)
    return TcpFlags.ECE if conn.ecn_ok else TcpFlags(0)


def negotiate(conn: Connection, seg: Segment, *, passive: bool) -> None:
    """6.1.1: ECN is on when a passive open got an ECN-setup SYN (ECE and CWR)
    and we accept (tcp_ecn 1 or 2), or an active open asked and the SYN,ACK
    carries ECE without CWR."""
    flags = int(seg.flags)
    if passive:
        conn.ecn_ok = conn.config.ecn in (1, 2) and flags & (_ECE | _CWR) == _ECE | _CWR
    else:
        conn.ecn_ok = (
            conn.config.ecn == 1
            and conn.retries == 0  # a retransmitted SYN no longer asked
            and flags & (_ECE | _CWR) == _ECE
        )


def on_arrival(conn: Connection, seg: Segment, ecn_field: int) -> None:
    """6.1.3 at the receiver, for an acceptable segment carrying data: CWR ends
    the echo, CE (re)starts it and asks for an immediate ACK."""
    if not seg.payload:
        return
    if int(seg.flags) & _CWR:
        conn.ece_pending = False
    if ecn_field == CE:
        conn.bump("ecn_ce_received")
        conn.ecn_seen = True
        if not conn.ece_pending:
            conn.ece_pending = True
            conn.ack_now = True  # the sender may have a small window: no delay


def on_ece(conn: Connection, ack: Seq) -> bool:
    """6.1.2 at the sender: an ACK echoing congestion.  Reduce once per window
    of data (the ACK must pass what was in flight at the last reduction), then
    mark the next new data segment with CWR.  True when the window was cut
    (the same ACK must not grow it again)."""
    if conn.config.linux_recovery:
        if not conn.recovery.enter_cwr(conn):
            return False
    else:
        high = conn.ecn_high_seq
        cc = conn.cc
        if cc.in_recovery or (high is not None and ack <= high):
            return False
        flight = conn.snd_max - conn.snd_una
        cc.ssthresh = max(flight // 2, 2 * cc.mss)
        cc.cwnd = cc.ssthresh
        conn.ecn_high_seq = conn.snd_max
    conn.send_cwr = True
    conn.bump("ecn_reductions")
    return True


def ip_ecn_field(conn: Connection, segment: Segment, retransmission: bool) -> int:
    """ECT(0) for new data of an ECN connection (6.1.1, 6.1.5), else Not-ECT."""
    if conn.ecn_ok and segment.payload and not retransmission:
        return ECT0
    return 0
