"""Round-trip time estimation and the retransmission timeout (RFC 6298; RFC 9293 3.8.1).

Integer microseconds throughout.  Like Linux, the smoothed RTT is kept
scaled by 8 and the variation scaled by 4, so the RFC 6298 gains (alpha 1/8,
beta 1/4) are shifts and the result stays within a microsecond or two of the
exact rational computation.

Karn's algorithm (MUST-18, RFC 6298 section 3) is the caller's job: it must
not call ``sample`` with a measurement taken from a retransmitted segment.
"""

from __future__ import annotations

# RFC 6298 section 2: K = 4.  The scaled variation (4 * RTTVAR) is exactly K * RTTVAR.
_MAX_SHIFT = 62  # backoff shifts beyond this cannot matter (any RTO >= 1 passes max_rto)


class RttEstimator:
    """SRTT, RTTVAR and RTO per RFC 6298, with exponential backoff (5.5).

    ``rto`` is ``initial_rto`` before the first sample (2.1), then
    ``max(min_rto, SRTT + max(G, 4 * RTTVAR))`` (2.3, with Linux's
    ``min_rto`` in place of the RFC's 1 s floor, 2.4); each ``backoff`` doubles
    it; the result is always clamped to ``[min_rto, max_rto]`` (2.5).
    """

    __slots__ = (
        "_backoffs",
        "_granularity",
        "_initial_rto",
        "_linux",
        "_max_rto",
        "_min_rto",
        "_min_rtt",
        "_rttvar4",
        "_srtt8",
    )

    def __init__(
        self,
        initial_rto: int,
        min_rto: int,
        max_rto: int,
        clock_granularity: int = 1_000,
        *,
        linux: bool = False,
    ) -> None:
        """ValueError unless ``0 < min_rto <= max_rto``, ``initial_rto > 0`` and G >= 0."""
        if not 0 < min_rto <= max_rto:
            raise ValueError(f"need 0 < min_rto <= max_rto, got {min_rto}, {max_rto}")
        if initial_rto <= 0:
            raise ValueError(f"initial_rto must be > 0, not {initial_rto}")
        if clock_granularity < 0:
            raise ValueError(f"clock_granularity must be >= 0, not {clock_granularity}")
        self._initial_rto = initial_rto
        self._min_rto = min_rto
        self._max_rto = max_rto
        self._granularity = clock_granularity
        self._linux = linux
        self._srtt8: int | None = None  # 8 * SRTT
        self._rttvar4 = 0  # 4 * RTTVAR (= K * RTTVAR)
        self._backoffs = 0
        self._min_rtt: int | None = None

    @property
    def min_rtt(self) -> int | None:
        """The smallest RTT sample so far (microseconds), or None (Linux's tcp_min_rtt,
        without its 5-minute window)."""
        return self._min_rtt

    @property
    def srtt(self) -> int | None:
        """The smoothed RTT in microseconds, or None before the first sample."""
        return None if self._srtt8 is None else self._srtt8 >> 3

    @property
    def rttvar(self) -> int | None:
        """The RTT variation in microseconds, or None before the first sample."""
        return None if self._srtt8 is None else self._rttvar4 >> 2

    @property
    def base_rto(self) -> int:
        """The RTO without backoff, clamped to ``[min_rto, max_rto]``."""
        if self._srtt8 is None:
            rto = self._initial_rto  # RFC 6298 2.1
        else:
            # 2.2 / 2.3; Linux adds the floor to the variance term instead
            # (__tcp_set_rto: SRTT + max(4 * RTTVAR, rto_min)).
            floor = self._min_rto if self._linux else self._granularity
            rto = (self._srtt8 >> 3) + max(floor, self._rttvar4)
        return min(self._max_rto, max(self._min_rto, rto))  # 2.4 / 2.5

    @property
    def rto(self) -> int:
        """The current RTO including backoff, clamped to ``[min_rto, max_rto]``."""
        return min(self._max_rto, self.base_rto << min(self._backoffs, _MAX_SHIFT))

    @property
    def backoffs(self) -> int:
        """Times backed off since the last sample or ``reset_backoff``."""
        return self._backoffs

    def sample(self, rtt: int) -> None:
        """Take one RTT measurement R (microseconds, >= 0; ValueError otherwise).

        RFC 6298 2.2 for the first (SRTT = R, RTTVAR = R/2), 2.3 after that
        (RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT + 1/8 R).
        Clears the backoff: the new RTO replaces the backed-off one.  Never
        pass a sample from a retransmitted segment (Karn, MUST-18).
        """
        if rtt < 0:
            raise ValueError(f"negative RTT sample {rtt}")
        if self._min_rtt is None or rtt < self._min_rtt:
            self._min_rtt = rtt
        if self._srtt8 is None:
            self._srtt8 = rtt << 3
            self._rttvar4 = rtt << 1  # 4 * (R / 2)
        else:
            error = abs(self._srtt8 - (rtt << 3)) >> 3  # |SRTT - R|, uses the old SRTT
            self._rttvar4 += error - (self._rttvar4 >> 2)
            self._srtt8 += rtt - (self._srtt8 >> 3)
        self._backoffs = 0

    def backoff(self) -> None:
        """RFC 6298 5.5: the retransmission timer expired; double the RTO (up to max_rto)."""
        self._backoffs += 1

    def reset_backoff(self) -> None:
        """Forget the backoff (the RTO returns to ``base_rto``); samples are kept."""
        self._backoffs = 0
