"""Congestion control (MUST-19): slow start, congestion avoidance, fast retransmit and
fast recovery (RFC 5681) with NewReno partial-ACK handling (RFC 6582).

The controller only does arithmetic on ``cwnd``/``ssthresh``; the connection
decides what to (re)transmit.  All sizes are bytes.
"""

from __future__ import annotations

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

    def on_ack(self, acked: int, flight_before: int) -> None:
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
