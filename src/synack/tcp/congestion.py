"""Congestion control (MUST-19): slow start, congestion avoidance, fast retransmit and
fast recovery (RFC 5681) with NewReno partial-ACK handling (RFC 6582).

The controller only does arithmetic on ``cwnd``/``ssthresh``; the connection
decides what to (re)transmit.  All sizes are bytes.
"""

from __future__ import annotations

import math

DUPACK_THRESHOLD = 3  # RFC 5681 3.2


class NewReno:
    """Congestion window state for one connection."""

    __slots__ = ("cwnd", "dupacks", "in_recovery", "max_flight", "mss", "recover", "ssthresh")

    def __init__(self, mss: int, initial_window: int) -> None:
        self.mss = mss
        self.cwnd = initial_window * mss  # RFC 6928 IW10, as Linux
        self.ssthresh = 1 << 30  # "arbitrarily high" (RFC 5681 3.1)
        self.dupacks = 0
        self.in_recovery = False
        self.recover = 0  # RFC 6582: the highest sequence sent when recovery began
        self.max_flight = 0  # the most data in flight since the pipe last drained

    def set_mss(self, mss: int, initial_window: int) -> None:
        """Re-base the window once the effective MSS is known (after the handshake)."""
        self.mss = mss
        self.cwnd = initial_window * mss

    def on_ack(self, acked: int, flight_before: int, now: int = 0, min_rtt: int = 0) -> None:
        """New data was acknowledged outside fast recovery (RFC 5681 3.1).

        As Linux: slow start adds every acknowledged octet (``tcp_slow_start``,
        RFC 3465's byte counting without the L limit), and the window grows
        only while the sender uses it (``tcp_is_cwnd_limited``, the idea of
        RFC 7661): in slow start while cwnd < 2 * the most data in flight, in
        congestion avoidance while that flight filled cwnd.
        """
        self.dupacks = 0
        if flight_before > self.max_flight:
            self.max_flight = flight_before
        if self.cwnd < self.ssthresh:
            if self.cwnd < 2 * self.max_flight:
                self.cwnd = min(self.cwnd + acked, max(self.ssthresh, self.cwnd))
        elif self.max_flight + self.mss > self.cwnd:  # no room left for another segment
            self.cwnd += max(1, self.mss * self.mss // self.cwnd)  # congestion avoidance
        if flight_before <= acked:
            self.max_flight = 0  # everything in flight is acknowledged: a new round

    def on_dupack(self, flight: int) -> bool:
        """A duplicate ACK arrived; True when it triggers fast retransmit."""
        self.dupacks += 1
        if self.in_recovery:
            self.cwnd += self.mss  # RFC 5681 3.2 step 4: inflate
            return False
        if self.dupacks == DUPACK_THRESHOLD:
            self.ssthresh = max(flight // 2, 2 * self.mss)  # RFC 5681 (4)
            self.cwnd = self.ssthresh + DUPACK_THRESHOLD * self.mss
            self.in_recovery = True
            return True
        return False

    def on_partial_ack(self, acked: int) -> None:
        """RFC 6582 3.2 step 3: deflate by the amount acked; add back one SMSS
        only when at least one SMSS of new data was acknowledged."""
        add_back = self.mss if acked >= self.mss else 0
        self.cwnd = max(self.cwnd - acked + add_back, self.mss)

    def exit_recovery(self, flight: int) -> None:
        """RFC 6582 3.2 step 3 (full acknowledgment): deflate the window."""
        self.cwnd = min(self.ssthresh, max(flight, self.mss) + self.mss)
        self.in_recovery = False
        self.dupacks = 0

    def on_timeout(self, flight: int) -> None:
        """RFC 5681 (4) and 3.1: after an RTO, ssthresh halves and cwnd is one segment."""
        self.ssthresh = max(flight // 2, 2 * self.mss)
        self.cwnd = self.mss
        self.in_recovery = False
        self.dupacks = 0

    # --- the hooks Linux's recovery (synack.tcp.recovery) calls -------------

    def loss_ssthresh(self, cwnd_packets: int) -> int:
        """ssthresh in packets when a loss is detected (tcp_reno_ssthresh)."""
        return max(cwnd_packets >> 1, 2)

    def on_loss_state(self) -> None:
        """The connection entered Loss (an RTO): forget per-epoch state."""


# CUBIC (RFC 9438) as Linux's tcp_cubic.c computes it, in packets and jiffies.
BETA = 717  # multiplicative decrease factor, /1024 (0.7)
BETA_SCALE_FACTOR = 1024
BIC_SCALE = 41
CUBE_RTT_SCALE = BIC_SCALE * 10  # 410
BETA_SCALE = 8 * (BETA_SCALE_FACTOR + BETA) // 3 // (BETA_SCALE_FACTOR - BETA)  # 15
BICTCP_HZ = 10  # the cubic function's time unit: 2**-10 s
CUBE_FACTOR = (1 << (10 + 3 * BICTCP_HZ)) // CUBE_RTT_SCALE
JIFFY = 1_000  # microseconds (HZ = 1000)
HZ = 1_000


def cubic_root(value: int) -> int:
    """The integer cube root (Linux's cubic_root; exact here, not its table)."""
    if value <= 0:
        return 0
    root = round(math.cbrt(value))
    while root**3 > value:
        root -= 1
    while (root + 1) ** 3 <= value:
        root += 1
    return root


class Cubic(NewReno):
    """Linux's default congestion control (net.ipv4.tcp_congestion_control =
    cubic), an alternative algorithm of the Standards Track (MAY-18): the same
    slow start, a window of 0.7 times the old one after a
    loss, and in congestion avoidance the cubic function of the time since the
    last reduction (RFC 9438 4), with fast convergence and the TCP-friendly
    region (tcp_cubic.c: bictcp_recalc_ssthresh, bictcp_update,
    tcp_cong_avoid_ai).  HyStart is not modelled.  Only the Linux loss
    recovery (``TcpConfig.linux_recovery``) uses its loss hooks."""

    __slots__ = (
        "ack_cnt",
        "bic_k",
        "cnt",
        "cwnd_cnt",
        "epoch_start",
        "last_cwnd",
        "last_max_cwnd",
        "last_time",
        "origin_point",
        "tcp_cwnd",
    )

    def __init__(self, mss: int, initial_window: int) -> None:
        super().__init__(mss, initial_window)
        self.cnt = 0  # ACKed packets per cwnd increment
        self.cwnd_cnt = 0  # tp->snd_cwnd_cnt
        self.last_max_cwnd = 0
        self.last_cwnd = 0
        self.last_time = 0
        self.epoch_start = 0  # jiffies + 1 (0: no epoch)
        self.origin_point = 0
        self.bic_k = 0
        self.ack_cnt = 0
        self.tcp_cwnd = 0  # the window Reno would have (TCP friendliness)

    def loss_ssthresh(self, cwnd_packets: int) -> int:
        """bictcp_recalc_ssthresh, with fast convergence (RFC 9438 4.7)."""
        self.epoch_start = 0
        if cwnd_packets < self.last_max_cwnd:
            scale = BETA_SCALE_FACTOR + BETA
            self.last_max_cwnd = cwnd_packets * scale // (2 * BETA_SCALE_FACTOR)
        else:
            self.last_max_cwnd = cwnd_packets
        return max(cwnd_packets * BETA // BETA_SCALE_FACTOR, 2)

    def on_loss_state(self) -> None:
        """bictcp_state(TCP_CA_Loss): bictcp_reset."""
        self.cnt = self.last_max_cwnd = self.last_cwnd = self.last_time = 0
        self.epoch_start = self.origin_point = self.bic_k = self.ack_cnt = self.tcp_cwnd = 0

    def on_ack(self, acked: int, flight_before: int, now: int = 0, min_rtt: int = 0) -> None:
        """Slow start as Reno; congestion avoidance by the cubic function
        (bictcp_cong_avoid), both only while cwnd-limited."""
        self.dupacks = 0
        if flight_before > self.max_flight:
            self.max_flight = flight_before
        mss = self.mss
        if self.cwnd < self.ssthresh:
            if self.cwnd < 2 * self.max_flight:
                self.cwnd = min(self.cwnd + acked, max(self.ssthresh, self.cwnd))
        elif self.max_flight + mss > self.cwnd:
            cwnd = self.cwnd // mss
            packets = max(acked // mss, 1)
            self._update(cwnd, packets, now // JIFFY, min_rtt)
            self._cong_avoid_ai(cwnd, packets)
        if flight_before <= acked:
            self.max_flight = 0

    def _update(self, cwnd: int, acked: int, jiffies: int, delay_min: int) -> None:
        """bictcp_update: the ACKed packets per increment (``cnt``)."""
        self.ack_cnt += acked
        if self.last_cwnd == cwnd and jiffies - self.last_time <= HZ // 32:
            return
        if not (self.epoch_start and jiffies == self.last_time):
            self.last_cwnd = cwnd
            self.last_time = jiffies
            if self.epoch_start == 0:
                self.epoch_start = jiffies + 1  # stored plus one: 0 means no epoch
                self.ack_cnt = acked
                self.tcp_cwnd = cwnd
                if self.last_max_cwnd <= cwnd:
                    self.bic_k = 0
                    self.origin_point = cwnd
                else:
                    self.bic_k = cubic_root(CUBE_FACTOR * (self.last_max_cwnd - cwnd))
                    self.origin_point = self.last_max_cwnd
            elapsed = jiffies - (self.epoch_start - 1) + (delay_min + JIFFY - 1) // JIFFY
            t = (elapsed << BICTCP_HZ) // HZ
            offs = self.bic_k - t if t < self.bic_k else t - self.bic_k
            delta = (CUBE_RTT_SCALE * offs * offs * offs) >> (10 + 3 * BICTCP_HZ)
            target = self.origin_point - delta if t < self.bic_k else self.origin_point + delta
            self.cnt = cwnd // (target - cwnd) if target > cwnd else 100 * cwnd
            if self.last_max_cwnd == 0 and self.cnt > 20:
                self.cnt = 20  # unknown bandwidth: grow at least 5% per RTT
        # TCP friendliness (RFC 9438 4.3)
        friendly = (cwnd * BETA_SCALE) >> 3
        if friendly:
            while self.ack_cnt > friendly:
                self.ack_cnt -= friendly
                self.tcp_cwnd += 1
        if self.tcp_cwnd > cwnd:
            max_cnt = cwnd // (self.tcp_cwnd - cwnd)
            self.cnt = min(self.cnt, max_cnt)
        self.cnt = max(self.cnt, 2)

    def _cong_avoid_ai(self, cwnd: int, acked: int) -> None:
        """tcp_cong_avoid_ai(tp, cnt, acked): one packet per ``cnt`` ACKed."""
        w = self.cnt
        if self.cwnd_cnt >= w:
            self.cwnd_cnt = 0
            cwnd += 1
        self.cwnd_cnt += acked
        if self.cwnd_cnt >= w:
            delta = self.cwnd_cnt // w
            self.cwnd_cnt -= delta * w
            cwnd += delta
        self.cwnd = max(cwnd * self.mss, self.cwnd)


def congestion_control(name: str, mss: int, initial_window: int) -> NewReno:
    """The congestion control module called ``name`` (sysctl
    net.ipv4.tcp_congestion_control): "cubic" or "reno"."""
    if name == "cubic":
        return Cubic(mss, initial_window)
    if name in ("reno", "newreno"):
        return NewReno(mss, initial_window)
    raise ValueError(f"unknown congestion control {name!r} (cubic or reno)")
