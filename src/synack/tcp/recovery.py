"""Linux's sender-side loss recovery: the per-segment scoreboard, RACK-TLP,
PRR and the congestion states (``TcpConfig.linux_recovery``).

RFC 6675 describes the scoreboard in bytes (``pipe``, ``NextSeg``); Linux
keeps it per socket buffer and counts in packets, and so does this module:
every data segment (or FIN) that leaves is one ``SentSegment`` that may be
SACKed, marked lost and retransmitted.  From them:

    packets_out - (sacked_out + lost_out) + retrans_out

is ``tcp_packets_in_flight()``, and the congestion window is compared with
it, not with SND.NXT - SND.UNA (``Connection.send_room``).  That alone gives
RFC 3042 limited transmit: a SACK (or, without SACK, a duplicate ACK counted
as a "SACKed" packet by ``tcp_add_reno_sack``) lowers what is in flight, so
one new segment may leave per duplicate ACK while cwnd stays the same.

Loss is detected by RACK (RFC 8985; ``tcp_rack_detect_loss``): a segment is
lost once one sent after it was (S)ACKed and its RTT plus a reordering
window has passed; the reordering timer fires when that time comes.  The
reordering window is min_rtt/4 (``tcp_rack_reo_wnd``), or zero while no
reordering has been seen and ``sacked_out >= reordering`` (the RFC 6675
DupThresh rule folded into RACK, as Linux does).  Without SACK, three
duplicate ACKs mark the first segment lost (``tcp_newreno_mark_lost``).

Recovery follows ``tcp_fastretrans_alert``: Open, Disorder (something SACKed
or retransmitted), Recovery (a loss was found: ssthresh is set once, then
PRR -- RFC 6937, ``tcp_cwnd_reduction`` -- decides per ACK how much may be
sent) and Loss (after a retransmission timeout; synack then goes back to
SND.UNA).  A tail loss probe (RFC 8985 7, ``tcp_send_loss_probe``) goes out
2*SRTT after the last transmission while in Open.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from synack.tcp.seq import Seq
from synack.wire.tcp import Segment, TcpFlags

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

CA_OPEN, CA_DISORDER, CA_CWR, CA_RECOVERY, CA_LOSS = 0, 1, 2, 3, 4
TIMEOUT_MIN = 2_000  # Linux TCP_TIMEOUT_MIN(_US): 2 ms added to the RACK and TLP timers
TIMEOUT_INIT = 1_000_000  # TCP_TIMEOUT_INIT: the probe timeout without an RTT sample
JIFFY = 1_000  # Linux rounds these timers up to jiffies (HZ=1000)
_FIN = int(TcpFlags.FIN)
_SYN = int(TcpFlags.SYN)
_PSH = int(TcpFlags.PSH)
FLAG_ACK = TcpFlags.ACK
FLAG_ACK_PSH = TcpFlags.ACK | TcpFlags.PSH
FLAG_ACK_PSH_FIN = TcpFlags.ACK | TcpFlags.PSH | TcpFlags.FIN
FLAG_ACK_FIN = TcpFlags.ACK | TcpFlags.FIN


class SentSegment:
    """One transmitted segment (Linux: an skb in the retransmission queue)."""

    __slots__ = (
        "end",
        "ever_retrans",
        "flags",
        "lost",
        "order",
        "packet",
        "retrans",
        "sacked",
        "sent",
        "start",
    )

    def __init__(
        self, start: Seq, end: Seq, flags: TcpFlags, sent: int, order: int, packet: int = 0
    ) -> None:
        self.start = start
        self.end = end
        self.flags = flags  # a retransmission keeps them (Linux resends the skb)
        # The TSO packet it first left in: Linux's retransmission queue holds
        # one skb per packet sent (tso_fragment splits them as they leave).
        self.packet = packet
        self.sent = sent  # time of the latest (re)transmission
        # Transmission order: breaks ties between segments sent at the same
        # (virtual) instant, where Linux compares microsecond timestamps and
        # then end_seq (tcp_skb_sent_after).
        self.order = order
        self.sacked = False
        self.lost = False
        self.retrans = False  # a retransmission is in flight (TCPCB_SACKED_RETRANS)
        self.ever_retrans = False  # TCPCB_EVER_RETRANS

    @property
    def length(self) -> int:
        return self.end - self.start


class Recovery:
    """The scoreboard, RACK, TLP and PRR state of one connection."""

    def __init__(self, reordering: int) -> None:
        self._queue: list[SentSegment] = []
        self._head = 0  # index of the oldest segment not yet cumulatively ACKed
        self.sacked_out = 0  # packets
        self.lost_out = 0
        self.retrans_out = 0
        self.sacked_bytes = 0
        self.lost_bytes = 0
        self.retrans_bytes = 0
        self.reno_sacked = 0  # duplicate ACKs counted as SACKed packets (no SACK)
        self._reno_delivered = 0  # what this ACK's tcp_add_reno_sack counted delivered
        self.fack: Seq | None = None  # end of the highest SACKed segment (tcp_highest_sack_seq)
        self.ca_state = CA_OPEN
        self.high_seq = Seq(0)  # SND.NXT when Recovery or Loss began
        self.reordering = reordering  # tp->reordering, in packets
        self.reord_seen = 0
        self.min_rtt: int | None = None
        self.rack_sent: int | None = None  # rack.mstamp: send time of the latest (S)ACKed segment
        self.rack_order = 0
        self._sent_count = 0
        self.rack_rtt = 0
        self.rack_advanced = False
        self.reo_deadline: int | None = None  # the RACK reordering timer
        self.tlp_deadline: int | None = None  # the tail loss probe timer
        self.tlp_high_seq: Seq | None = None
        self.tlp_retrans = False
        self._probing = False
        self.prior_cwnd = 0
        self.prr_delivered = 0
        self.prr_out = 0

    # ------------------------------------------------------------ queries

    @property
    def packets_out(self) -> int:
        return len(self._queue) - self._head

    def segments(self) -> list[SentSegment]:
        """The segments not yet cumulatively acknowledged, lowest first."""
        return self._queue[self._head :]

    def in_flight(self) -> int:
        """tcp_packets_in_flight(): packets_out - (sacked_out + lost_out) + retrans_out."""
        sacked = self.sacked_out + self.reno_sacked
        return self.packets_out - (sacked + self.lost_out) + self.retrans_out

    def flight_bytes(self, conn: Connection) -> int:
        """What counts against the congestion window, in octets.  After a go-back
        (SND.NXT rewound by a timeout or a window probe) only what was sent again."""
        if conn.snd_nxt != conn.snd_max:
            return conn.snd_nxt - conn.snd_una
        outstanding = conn.snd_max - conn.snd_una
        sacked = self.sacked_bytes + self.reno_sacked * conn.send_mss
        return max(outstanding - sacked - self.lost_bytes + self.retrans_bytes, 0)

    @property
    def deadline(self) -> int | None:
        reo, tlp = self.reo_deadline, self.tlp_deadline
        if reo is None:
            return tlp
        return reo if tlp is None else min(reo, tlp)

    def info(self, mss: int) -> dict[str, int]:
        """The tcp_info fields kept here (tcpi_ca_state, tcpi_sacked, ...)."""
        return {
            "tcpi_ca_state": self.ca_state,
            "tcpi_sacked": self.sacked_out + self.reno_sacked,
            "tcpi_lost": self.lost_out,
            "tcpi_retrans": self.retrans_out,
            "tcpi_reordering": self.reordering,
        }

    def stop_timers(self) -> None:
        self.reo_deadline = self.tlp_deadline = None

    # ------------------------------------------------------------ marking

    def _mark_lost(self, entry: SentSegment) -> None:
        """tcp_mark_skb_lost: a lost retransmission counts as lost again."""
        if entry.sacked:
            return
        if entry.retrans:
            entry.retrans = False
            self.retrans_out -= 1
            self.retrans_bytes -= entry.length
        if not entry.lost:
            entry.lost = True
            self.lost_out += 1
            self.lost_bytes += entry.length

    def _mark_sacked(self, entry: SentSegment) -> None:
        if entry.lost:
            entry.lost = False
            self.lost_out -= 1
            self.lost_bytes -= entry.length
        if entry.retrans:
            entry.retrans = False
            self.retrans_out -= 1
            self.retrans_bytes -= entry.length
        entry.sacked = True
        self.sacked_out += 1
        self.sacked_bytes += entry.length
        if self.fack is None or entry.end > self.fack:
            self.fack = entry.end

    def _forget(self, entry: SentSegment) -> None:
        """A cumulatively ACKed segment leaves every count."""
        if entry.sacked:
            self.sacked_out -= 1
            self.sacked_bytes -= entry.length
            if not self.sacked_out:
                self.fack = None
        if entry.lost:
            self.lost_out -= 1
            self.lost_bytes -= entry.length
        if entry.retrans:
            self.retrans_out -= 1
            self.retrans_bytes -= entry.length

    def _index(self, conn: Connection, seq: Seq) -> int:
        """Index of the segment holding ``seq`` (or the next one)."""
        una = conn.snd_una
        queue = self._queue
        index = bisect_right(queue, seq - una, self._head, len(queue), key=lambda e: e.start - una)
        return max(index - 1, self._head)

    # ------------------------------------------------------------ transmission

    def on_emit(self, conn: Connection, segment: Segment, now: int, first: bool) -> None:
        """Record a sequence-consuming segment that leaves (tcp_event_new_data_sent,
        or a retransmission of segments already on the scoreboard)."""
        flags = int(segment.flags)
        length = segment.seg_len
        if flags & _SYN or length == 0:
            return
        seq = Seq(segment.seq)
        if self.ca_state == CA_RECOVERY or self.ca_state == CA_CWR:
            self.prr_out += 1
        self._sent_count += 1
        if first or seq >= conn.snd_max:
            packet = conn.tx_packet if conn.config.tso_packets else self._sent_count
            self._queue.append(
                SentSegment(seq, seq + length, segment.flags, now, self._sent_count, packet)
            )
            if not self._probing:
                self.schedule_probe(conn, now, advancing_rto=False)
            return
        end = seq + length
        queue = self._queue
        index = self._index(conn, seq)
        while index < len(queue) and queue[index].start < end:
            entry = queue[index]
            index += 1
            if entry.end <= seq or entry.sacked:
                continue
            entry.sent = now
            entry.order = self._sent_count
            entry.ever_retrans = True
            if not entry.retrans:
                entry.retrans = True
                self.retrans_out += 1
                self.retrans_bytes += entry.length

    def schedule_probe(self, conn: Connection, now: int, *, advancing_rto: bool) -> bool:
        """tcp_schedule_loss_probe: arm the TLP timer (PTO) in Open with data out."""
        cfg = conn.config
        if (
            cfg.early_retrans not in (3, 4)
            or not self.packets_out
            or not conn.sack_ok
            or self.ca_state not in (CA_OPEN, CA_CWR)
        ):
            return False
        srtt = conn.rtt.srtt
        if srtt is None:
            timeout = TIMEOUT_INIT
        else:
            # 2*SRTT, plus room for a delayed ACK when only one segment is out.
            timeout = 2 * srtt + (cfg.min_rto if self.packets_out == 1 else TIMEOUT_MIN)
            timeout = -(-timeout // JIFFY) * JIFFY
        if advancing_rto or conn.rtx_deadline is None:
            rto_left = conn.rtt.rto
        else:
            rto_left = conn.rtx_deadline - now
        if rto_left > 0:
            timeout = min(timeout, rto_left)  # never later than the RTO
        self.tlp_deadline = now + timeout
        return True

    # ------------------------------------------------------------ ACK processing

    def on_ack(
        self,
        conn: Connection,
        blocks: tuple[tuple[int, int], ...],
        prior_una: Seq,
        dupack: bool,
        now: int,
    ) -> None:
        """tcp_ack's loss-recovery part, after SND.UNA moved to ``conn.snd_una``:
        SACK tagging, removing what was cumulatively ACKed, RACK, the state
        machine of tcp_fastretrans_alert, then cwnd (PRR or growth) and the
        retransmission of lost segments."""
        if not self.packets_out and conn.snd_una == prior_una:
            return
        mss = conn.send_mss
        ack = conn.snd_una
        advanced = ack > prior_una
        prior_fack = self.fack
        prior_lost = self.lost_out
        delivered = 0
        sack = conn.sack_ok
        data_sacked = False
        reord: Seq | None = None  # lowest original transmission cumulatively ACKed
        if sack and blocks:
            delivered = self._sacktag(conn, blocks, now)
            data_sacked = delivered > 0
        # Remove what the cumulative ACK covers (tcp_clean_rtx_queue).
        acked_packets = 0
        if advanced:
            queue = self._queue
            head = self._head
            while head < len(queue) and queue[head].end <= ack:
                entry = queue[head]
                head += 1
                acked_packets += 1
                if not entry.sacked:
                    delivered += 1
                    if sack and not entry.ever_retrans:
                        self._rack_advance(entry, now)
                        if reord is None or entry.start < reord:
                            reord = entry.start
                self._forget(entry)
            if head < len(queue) and queue[head].start < ack:
                entry = queue[head]  # partly ACKed: trim it (tcp_trim_head)
                trimmed = ack - entry.start
                for flag, attr in ((entry.sacked, "sacked_bytes"), (entry.lost, "lost_bytes")):
                    if flag:
                        setattr(self, attr, getattr(self, attr) - trimmed)
                if entry.retrans:
                    self.retrans_bytes -= trimmed
                entry.start = ack
            self._head = head
            if head > 64 and head * 2 > len(queue):
                del queue[:head]
                self._head = 0
            if not sack:
                # tcp_remove_reno_sacks: one ACK filled the hole, the rest ate dupacks.
                delivered = max(acked_packets - self.reno_sacked, 1) if acked_packets else 0
                self.reno_sacked = max(self.reno_sacked - max(acked_packets - 1, 0), 0)
            elif reord is not None and prior_fack is not None and reord < prior_fack:
                self._check_reordering(conn, reord, prior_fack)
        if self.tlp_high_seq is not None:
            self._tlp_ack(conn, ack, advanced, data_sacked, dupack)
        dubious = dupack or data_sacked or self.ca_state != CA_OPEN
        retransmit = False
        if dubious:
            self._reno_delivered = 0
            retransmit = self._fastretrans_alert(conn, advanced, dupack, now)
            delivered += self._reno_delivered
        # tcp_cong_control: PRR in Recovery, growth otherwise.
        if self.ca_state in (CA_RECOVERY, CA_CWR):
            self._cwnd_reduction(conn, delivered, self.lost_out > prior_lost, advanced)
        elif advanced or (self.reordering > conn.config.reordering and delivered):
            flight = conn.snd_max - prior_una
            conn.cc.on_ack(delivered * mss, flight, now, conn.rtt.min_rtt or 0)
        if retransmit:
            self.retransmit_lost(conn, now)
        if not self.packets_out:
            self.stop_timers()
            self.tlp_high_seq = None
        elif (
            advanced
            and self.reo_deadline is None
            and not self.schedule_probe(conn, now, advancing_rto=True)
        ):
            # FLAG_SET_XMIT_TIMER: the probe timer, else the RTO (already restarted).
            self.tlp_deadline = None

    def _sacktag(self, conn: Connection, blocks: tuple[tuple[int, int], ...], now: int) -> int:
        """tcp_sacktag_write_queue: mark what the blocks cover (whole segments
        only, as tcp_match_skb_to_sack for one-MSS skbs).  A D-SACK block (RFC
        2883: below the ACK, or inside the second block) reports a duplicate and
        is not used for scoring (tcp_check_dsack).  Returns how many packets
        were newly SACKed; an original transmission SACKed below the highest
        SACK shows reordering."""
        ack = conn.snd_una
        snd_max = conn.snd_max
        valid: list[tuple[Seq, Seq]] = []
        for number, (left, right) in enumerate(blocks):
            start, end = Seq(left), Seq(right)
            if number == 0 and (
                start < ack
                or (len(blocks) > 1 and Seq(blocks[1][0]) <= start and end <= Seq(blocks[1][1]))
            ):
                conn.bump("dsack_received")
                continue
            if end <= start or end > snd_max or end <= ack:
                continue
            valid.append((max(start, ack), end))
        valid.sort(key=lambda block: block[0] - ack)
        newly = 0
        reord: Seq | None = None
        queue = self._queue
        for start, end in valid:
            index = self._index(conn, start)
            while index < len(queue) and queue[index].start < end:
                entry = queue[index]
                index += 1
                if entry.sacked or entry.start < start or entry.end > end:
                    continue
                fack = self.fack
                if (
                    not entry.ever_retrans
                    and fack is not None
                    and entry.start < fack
                    and (reord is None or entry.start < reord)
                ):
                    reord = entry.start
                self._rack_advance(entry, now)
                self._mark_sacked(entry)
                newly += 1
        if reord is not None:
            fack = self.fack
            if fack is not None:
                self._check_reordering(conn, reord, fack)
        return newly

    def _check_reordering(self, conn: Connection, low: Seq, fack: Seq) -> None:
        """tcp_check_sack_reordering: a hole below the highest SACK was filled by
        the original transmission, so the path reorders by that distance."""
        if low >= fack:
            return
        mss = max(conn.send_mss, 1)
        metric = fack - low
        if metric > self.reordering * mss:
            self.reordering = min(-(-metric // mss), conn.config.max_reordering)
        self.reord_seen += 1

    def _rack_advance(self, entry: SentSegment, now: int) -> None:
        """tcp_rack_advance: remember the latest-sent segment that was delivered."""
        rtt = now - entry.sent
        if entry.ever_retrans and (self.min_rtt is None or rtt < self.min_rtt):
            return  # too fast to be the retransmission's ACK: ambiguous
        self.rack_advanced = True
        self.rack_rtt = rtt
        if self.rack_sent is None or entry.order > self.rack_order:
            self.rack_sent = entry.sent
            self.rack_order = entry.order

    def on_rtt_sample(self, rtt: int) -> None:
        if self.min_rtt is None or rtt < self.min_rtt:
            self.min_rtt = rtt

    # ------------------------------------------------------------ loss detection

    def _reo_wnd(self, conn: Connection) -> int:
        """tcp_rack_reo_wnd: min_rtt/4, or 0 while no reordering was seen and we
        are recovering or DupThresh segments are SACKed."""
        if not self.reord_seen:
            if self.ca_state >= CA_RECOVERY:
                return 0
            if self.sacked_out >= self.reordering and not conn.config.recovery & 4:
                return 0
        srtt = conn.rtt.srtt or 0
        return min((self.min_rtt or 0) // 4, srtt)

    def _rack_detect_loss(self, conn: Connection, now: int) -> int:
        """tcp_rack_detect_loss: mark lost what was sent before the latest
        delivered segment and has waited RTT + reo_wnd; returns the longest
        remaining wait (0 if none)."""
        rack_sent = self.rack_sent
        if rack_sent is None:
            return 0
        reo_wnd = self._reo_wnd(conn)
        wait = 0
        queue = self._queue
        for index in range(self._head, len(queue)):
            entry = queue[index]
            if entry.sacked or (entry.lost and not entry.retrans):
                continue
            sent = entry.sent
            if entry.order >= self.rack_order:  # not sent before the delivered one
                if not entry.ever_retrans:
                    break  # everything after it was sent later still
                continue
            remaining = self.rack_rtt + reo_wnd - (now - sent)
            if remaining <= 0:
                self._mark_lost(entry)
            else:
                wait = max(wait, remaining)
        return wait

    def _rack_mark_lost(self, conn: Connection, now: int) -> None:
        """tcp_rack_mark_lost: run RACK if it advanced; arm the reordering timer."""
        if not self.rack_advanced:
            return
        self.rack_advanced = False
        wait = self._rack_detect_loss(conn, now)
        if wait:
            self.reo_deadline = now + -(-wait // JIFFY) * JIFFY + TIMEOUT_MIN
            self.tlp_deadline = None  # one timer in Linux: REO replaces TLP
        else:
            self.reo_deadline = None

    def _identify_loss(self, conn: Connection, advanced: bool, now: int) -> None:
        """tcp_identify_packet_loss: RACK with SACK, else NewReno's rule."""
        if not self.packets_out:
            return
        if not conn.sack_ok:
            # tcp_newreno_mark_lost: DupThresh duplicate ACKs, or a partial ACK in
            # Recovery, mark the first unacknowledged segment lost.
            if (self.ca_state < CA_RECOVERY and self.reno_sacked >= self.reordering) or (
                self.ca_state == CA_RECOVERY and advanced
            ):
                head = self._queue[self._head]
                if not head.lost:
                    self._mark_lost(head)
        elif conn.config.recovery & 1:
            self._rack_mark_lost(conn, now)
        elif self.sacked_out >= self.reordering:
            self._mark_head_lost(conn)

    def _mark_head_lost(self, conn: Connection) -> None:
        """RFC 6675 IsLost without RACK (tcp_mark_head_lost): the holes below the
        point above which DupThresh segments are SACKed."""
        count = 0
        queue = self._queue
        for index in range(len(queue) - 1, self._head - 1, -1):
            entry = queue[index]
            if entry.sacked:
                count += 1
            elif count >= self.reordering and not entry.retrans:
                self._mark_lost(entry)

    def _fastretrans_alert(self, conn: Connection, advanced: bool, dupack: bool, now: int) -> bool:
        """tcp_fastretrans_alert; True when lost segments should be retransmitted."""
        state = self.ca_state
        ack = conn.snd_una
        sack = conn.sack_ok
        # D. State exit once everything outstanding at the start was ACKed.
        if state in (CA_RECOVERY, CA_CWR) and ack >= self.high_seq:
            if state == CA_CWR and ack == self.high_seq:
                pass  # CWR waits for something above high_seq
            else:
                self._end_cwnd_reduction(conn)
                self.reno_sacked = 0
                self.ca_state = state = CA_OPEN
        if state == CA_LOSS:
            if ack >= self.high_seq:
                self.ca_state = CA_OPEN  # tcp_try_undo_recovery without undo
                return False
            return False
        if state == CA_RECOVERY:
            if not advanced and not sack and dupack:
                self._add_reno_sack(conn)
            self._identify_loss(conn, advanced, now)
            return True
        if not sack:
            if advanced:
                self.reno_sacked = 0
            if dupack:
                self._add_reno_sack(conn)
        self._identify_loss(conn, advanced, now)
        if not self.lost_out:
            if state == CA_CWR:
                return False  # tcp_try_to_open: CWR lasts until high_seq is ACKed
            # tcp_try_to_open / tcp_try_keep_open
            left_out = self.sacked_out + self.reno_sacked + self.lost_out
            self.ca_state = CA_DISORDER if left_out or self.retrans_out else CA_OPEN
            if self.ca_state != state:
                self.high_seq = conn.snd_max
            return False
        self._enter_recovery(conn)
        return True

    def _add_reno_sack(self, conn: Connection) -> None:
        """tcp_add_reno_sack: without SACK a duplicate ACK stands for one
        segment that left the network (at most packets_out - 1 of them)."""
        before = self.reno_sacked
        self.reno_sacked = min(self.reno_sacked + 1, max(self.packets_out - 1, 0))
        self._reno_delivered += self.reno_sacked - before
        if self.reno_sacked + self.lost_out > self.packets_out:  # tcp_check_reno_reordering
            self.reordering = max(self.reordering, self.packets_out + self.lost_out)

    def _enter_recovery(self, conn: Connection) -> None:
        """tcp_enter_recovery / tcp_init_cwnd_reduction."""
        mss = conn.send_mss
        cc = conn.cc
        self.ca_state = CA_RECOVERY
        self.high_seq = conn.snd_max
        self.tlp_high_seq = None
        self.tlp_deadline = None
        self.prior_cwnd = max(cc.cwnd // mss, 1)
        self.prr_delivered = 0
        self.prr_out = 0
        cc.ssthresh = cc.loss_ssthresh(self.prior_cwnd) * mss  # icsk_ca_ops->ssthresh()
        conn.bump("fast_recoveries")

    def enter_cwr(self, conn: Connection) -> bool:
        """tcp_enter_cwr after an ECN echo (RFC 3168 6.1.2): in Open or Disorder,
        reduce cwnd towards ssthresh with PRR until SND.NXT of now is ACKed; in
        CWR, Recovery or Loss the window is already being reduced.  True when
        a reduction started."""
        if self.ca_state >= CA_CWR:
            return False
        mss = conn.send_mss
        cc = conn.cc
        self.ca_state = CA_CWR
        self.high_seq = conn.snd_max
        self.prior_cwnd = max(cc.cwnd // mss, 1)
        self.prr_delivered = 0
        self.prr_out = 0
        cc.ssthresh = cc.loss_ssthresh(self.prior_cwnd) * mss
        return True

    def _end_cwnd_reduction(self, conn: Connection) -> None:
        cc = conn.cc
        if cc.ssthresh < 1 << 30:
            cc.cwnd = cc.ssthresh

    def _cwnd_reduction(
        self, conn: Connection, delivered: int, newly_lost: bool, advanced: bool
    ) -> None:
        """PRR (RFC 6937) as tcp_cwnd_reduction: cwnd = in_flight + sndcnt."""
        if delivered <= 0 or not self.prior_cwnd:
            return
        mss = conn.send_mss
        ssthresh = conn.cc.ssthresh // mss
        in_flight = self.in_flight()
        delta = ssthresh - in_flight
        self.prr_delivered += delivered
        if delta < 0:
            sndcnt = -(-ssthresh * self.prr_delivered // self.prior_cwnd) - self.prr_out
        else:
            sndcnt = max(self.prr_delivered - self.prr_out, delivered)
            if advanced and not newly_lost:
                sndcnt += 1
            sndcnt = min(delta, sndcnt)
        sndcnt = max(sndcnt, 0 if self.prr_out else 1)
        conn.cc.cwnd = max(in_flight + sndcnt, 0) * mss

    # ------------------------------------------------------------ retransmission

    def retransmit_lost(self, conn: Connection, now: int) -> None:
        """tcp_xmit_retransmit_queue: resend lost segments, lowest first, while
        the congestion window has room (in packets)."""
        mss = conn.send_mss
        queue = self._queue
        index = self._head
        while index < len(queue) and self.retrans_out < self.lost_out:
            room = conn.cc.cwnd // mss - self.in_flight()
            if room <= 0:
                break
            entry = queue[index]
            if not entry.lost or entry.sacked or entry.retrans:
                index += 1
                continue
            # One retransmission packet: the lost segments of one original
            # packet (skb) that follow each other, as far as cwnd allows
            # (__tcp_retransmit_skb with the cwnd quota as its segment limit).
            run = [entry]
            following = index + 1
            while following < len(queue) and len(run) < room:
                candidate = queue[following]
                if (
                    candidate.packet != entry.packet
                    or not candidate.lost
                    or candidate.sacked
                    or candidate.retrans
                    or candidate.start != run[-1].end
                ):
                    break
                run.append(candidate)
                following += 1
            head = index == self._head
            for position, segment in enumerate(run):
                last = position == len(run) - 1
                if not self._resend(conn, segment, now, last=last, packet_len=len(run)):
                    return
            index = following
            if head:
                conn.rtx_deadline = now + conn.rtt.rto

    def _resend(
        self,
        conn: Connection,
        entry: SentSegment,
        now: int,
        *,
        last: bool = True,
        packet_len: int = 1,
    ) -> bool:
        """Send ``entry`` again.  Without ``tso_packets`` it keeps its original
        flags; with it PSH is recomputed as Linux sets it on the packet that
        leaves: on its last segment when the packet has several segments or
        ends a socket buffer marked for push (tcp_mark_push, tcp_fragment
        giving PSH to the second piece)."""
        offset = entry.start - conn.snd_una
        size = entry.length
        flags = entry.flags
        if int(flags) & _FIN:
            size -= 1
        if conn.config.tso_packets:
            end = conn.send_buffer.consumed + offset + size
            psh = last and (packet_len > 1 or conn.write_queue.pushed_end(end))
            fin = int(flags) & _FIN
            flags = (
                (FLAG_ACK_PSH_FIN if psh else FLAG_ACK_FIN)
                if fin
                else (FLAG_ACK_PSH if psh else FLAG_ACK)
            )
        if offset < 0 or size < 0 or offset + size > len(conn.send_buffer):
            return False
        conn._rtt_seq = None  # Karn (MUST-18)
        payload = conn.send_buffer.peek(offset, size) if size else b""
        conn._emit(conn._segment(entry.start, flags, payload), now, first=False)
        conn.bump("fast_retransmits")
        return True

    # ------------------------------------------------------------ timers

    def on_timer(self, conn: Connection, now: int) -> None:
        """The reordering timer (tcp_rack_reo_timeout) or the probe timer
        (tcp_send_loss_probe), whichever is due."""
        if self.reo_deadline is not None and now >= self.reo_deadline:
            self.reo_deadline = None
            conn._timer_fired(now, "RACK reordering")
            self._reo_timeout(conn, now)
        if self.tlp_deadline is not None and now >= self.tlp_deadline:
            self.tlp_deadline = None
            conn._timer_fired(now, "tail loss probe")
            self._send_probe(conn, now)

    def _reo_timeout(self, conn: Connection, now: int) -> None:
        prior = self.in_flight()
        lost_before = self.lost_out
        self._rack_detect_loss(conn, now)  # a later wait is left to the RTO
        if self.in_flight() != prior:
            if self.ca_state != CA_RECOVERY:
                self._enter_recovery(conn)
                self._cwnd_reduction(conn, 1, self.lost_out > lost_before, False)
            self.retransmit_lost(conn, now)

    def _send_probe(self, conn: Connection, now: int) -> None:
        """One probe: new data if the peer's window takes a segment, else the
        last segment again (RFC 8985 7.3).  At most one probe is outstanding."""
        if self.tlp_high_seq is not None or not self.packets_out:
            return
        mss = conn.send_mss
        unsent = len(conn.send_buffer) - (conn.snd_nxt - conn.snd_una)
        size = min(unsent, mss)
        sent = False
        self._probing = True
        try:
            if (
                size > 0
                and conn.snd_nxt == conn.snd_max
                and (conn.snd_nxt + size) - conn.snd_una <= conn.snd_wnd
            ):
                payload = conn.send_buffer.peek(conn.snd_nxt - conn.snd_una, size)
                flags = FLAG_ACK_PSH if size == unsent else FLAG_ACK
                if size == unsent and conn.fin_queued:
                    flags = FLAG_ACK_PSH_FIN
                    conn.fin_seq = conn.snd_nxt + size
                segment = conn._segment(conn.snd_nxt, flags, payload)
                conn._emit(segment, now, first=True)
                conn.snd_nxt = conn.snd_max = conn.snd_nxt + segment.seg_len
                self.tlp_retrans = False
                sent = True
            else:
                last = self._queue[-1]
                if not last.sacked:
                    sent = self._resend(conn, last, now)
                    self.tlp_retrans = sent
        finally:
            self._probing = False
        if sent:
            self.tlp_high_seq = conn.snd_max
            conn.bump("loss_probes")
        conn.rtx_deadline = now + conn.rtt.rto  # restart the RTO from now

    def _tlp_ack(
        self, conn: Connection, ack: Seq, advanced: bool, data_sacked: bool, dupack: bool
    ) -> None:
        """tcp_process_tlp_ack: an ACK beyond the probe ends the episode; if the
        probe was a retransmission that repaired a loss, reduce cwnd once."""
        high = self.tlp_high_seq
        if high is None or ack < high:
            return
        if not self.tlp_retrans:
            self.tlp_high_seq = None
        elif ack > high:
            self.tlp_high_seq = None
            cc = conn.cc
            mss = conn.send_mss
            cc.ssthresh = cc.loss_ssthresh(max(cc.cwnd // mss, 1)) * mss
            cc.cwnd = cc.ssthresh  # CWR entered and ended at once
        elif dupack and not data_sacked:
            self.tlp_high_seq = None

    def on_timeout(self, conn: Connection) -> None:
        """tcp_enter_loss after an RTO: everything not SACKed is lost.  synack
        then goes back to SND.UNA and forgets SACK information (RFC 2018 5.1),
        so the SACK marks go too."""
        cc = conn.cc
        mss = conn.send_mss
        if self.ca_state <= CA_DISORDER or self.high_seq <= conn.snd_una:
            # A new loss episode: ssthresh from the congestion module, once.
            cc.ssthresh = cc.loss_ssthresh(max(cc.cwnd // mss, 1)) * mss
        cc.on_loss_state()
        cc.cwnd = mss  # tcp_enter_loss: in flight (nothing, going back) + 1
        cc.in_recovery = False
        cc.dupacks = 0
        self.stop_timers()
        self.tlp_high_seq = None
        self.reno_sacked = 0
        self.ca_state = CA_LOSS
        self.high_seq = conn.snd_max
        self._mark_everything_lost()

    def mark_all_lost(self, conn: Connection) -> None:
        """tcp_simple_retransmit after a path MTU reduction: what is in flight
        was too big and is sent again, cut to the new MSS, by going back to
        SND.UNA; the Loss state, but not a congestion signal (ssthresh and
        cwnd stay)."""
        self.stop_timers()
        self.tlp_high_seq = None
        if self.ca_state != CA_LOSS:
            self.ca_state = CA_LOSS
            self.high_seq = conn.snd_max
        self._mark_everything_lost()

    def _mark_everything_lost(self) -> None:
        """Going back to SND.UNA resends all: SACK marks go (RFC 2018 5.1) and
        every segment in flight counts as lost."""
        for entry in self.segments():
            if entry.sacked:
                entry.sacked = False
                self.sacked_out -= 1
                self.sacked_bytes -= entry.length
            self._mark_lost(entry)
        self.fack = None
