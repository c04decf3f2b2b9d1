"""RttEstimator against RFC 6298 (RFC 9293 3.8.1; MUST-18 is the caller's)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synack.tcp.rtt import RttEstimator

MS = 1_000
SECOND = 1_000_000


def linux_like() -> RttEstimator:
    return RttEstimator(initial_rto=1 * SECOND, min_rto=200 * MS, max_rto=120 * SECOND)


def test_initial_rto_before_any_sample() -> None:
    """RFC 6298 2.1: until a measurement is made, RTO = the initial value."""
    estimator = linux_like()
    assert estimator.srtt is None
    assert estimator.rttvar is None
    assert estimator.rto == 1 * SECOND
    assert estimator.base_rto == 1 * SECOND
    assert estimator.backoffs == 0


def test_first_sample() -> None:
    """RFC 6298 2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, K*RTTVAR)."""
    estimator = RttEstimator(1 * SECOND, 1, 120 * SECOND)
    estimator.sample(100 * MS)
    assert estimator.srtt == 100 * MS
    assert estimator.rttvar == 50 * MS
    assert estimator.rto == 100 * MS + 4 * 50 * MS


def test_hand_computed_sequence() -> None:
    """RFC 6298 2.3, alpha = 1/8, beta = 1/4, RTTVAR updated with the old SRTT."""
    estimator = RttEstimator(1 * SECOND, 1, 120 * SECOND)
    estimator.sample(100_000)
    assert (estimator.srtt, estimator.rttvar, estimator.rto) == (100_000, 50_000, 300_000)
    # RTTVAR = 3/4 * 50000 + 1/4 * |100000 - 200000| = 62500
    # SRTT   = 7/8 * 100000 + 1/8 * 200000          = 112500
    estimator.sample(200_000)
    assert (estimator.srtt, estimator.rttvar, estimator.rto) == (112_500, 62_500, 362_500)
    # RTTVAR = 3/4 * 62500 + 0 = 46875; SRTT unchanged
    estimator.sample(112_500)
    assert (estimator.srtt, estimator.rttvar, estimator.rto) == (112_500, 46_875, 300_000)
    # RTTVAR = 3/4 * 46875 + 1/4 * |112500 - 16500| = 35156.25 + 24000 = 59156.25
    # SRTT   = 7/8 * 112500 + 1/8 * 16500 = 98437.5 + 2062.5 = 100500
    estimator.sample(16_500)
    assert estimator.srtt == 100_500
    assert estimator.rttvar == 59_156
    assert estimator.rto == 100_500 + 236_625  # 4 * RTTVAR is exact in the scaled state


def test_min_rto_floor() -> None:
    """RTO = max(min_rto, ...) (RFC 6298 2.4 with Linux's 200 ms floor)."""
    estimator = linux_like()
    estimator.sample(10 * MS)  # 10 + 4 * 5 = 30 ms
    assert estimator.srtt == 10 * MS
    assert estimator.rto == 200 * MS


def test_clock_granularity_bounds_the_variance_term() -> None:
    """RTO = SRTT + max(G, K*RTTVAR): with steady samples RTTVAR decays to 0 and G remains."""
    estimator = RttEstimator(1 * SECOND, 1, 120 * SECOND, clock_granularity=10 * MS)
    estimator.sample(100 * MS)
    for _ in range(200):
        estimator.sample(100 * MS)
    assert estimator.srtt == 100 * MS
    assert estimator.rttvar == 0
    assert estimator.rto == 110 * MS


def test_zero_granularity_and_zero_rtt() -> None:
    estimator = RttEstimator(1 * SECOND, 5, 120 * SECOND, clock_granularity=0)
    estimator.sample(0)
    assert (estimator.srtt, estimator.rttvar) == (0, 0)
    assert estimator.rto == 5  # the floor keeps the timer from spinning


def test_max_rto_clamps_samples_and_initial() -> None:
    """RFC 6298 2.5: a maximum may be placed on RTO (Linux: 120 s)."""
    estimator = RttEstimator(initial_rto=200 * SECOND, min_rto=200 * MS, max_rto=60 * SECOND)
    assert estimator.rto == 60 * SECOND
    estimator.sample(50 * SECOND)  # 50 + 100 s
    assert estimator.rto == 60 * SECOND


def test_backoff_doubles_and_clamps() -> None:
    """RFC 6298 5.5: RTO <- RTO * 2 on each expiry, bounded by the maximum."""
    estimator = linux_like()
    expected = [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]
    seen = []
    for count in range(10):
        assert estimator.backoffs == count
        seen.append(estimator.rto // SECOND)
        estimator.backoff()
    assert seen == expected
    assert estimator.base_rto == 1 * SECOND


def test_many_backoffs_stay_clamped() -> None:
    estimator = linux_like()
    for _ in range(1000):
        estimator.backoff()
    assert estimator.backoffs == 1000
    assert estimator.rto == 120 * SECOND


def test_sample_resets_backoff() -> None:
    """A new measurement replaces the backed-off RTO (RFC 6298 5.7 note, Karn)."""
    estimator = linux_like()
    estimator.backoff()
    estimator.backoff()
    assert estimator.rto == 4 * SECOND
    estimator.sample(100 * MS)
    assert estimator.backoffs == 0
    assert estimator.rto == 300 * MS


def test_reset_backoff_keeps_estimates() -> None:
    estimator = linux_like()
    estimator.sample(100 * MS)
    estimator.backoff()
    assert estimator.rto == 600 * MS
    estimator.reset_backoff()
    assert estimator.backoffs == 0
    assert estimator.rto == 300 * MS
    assert estimator.srtt == 100 * MS


def test_backoff_applies_to_the_floored_rto() -> None:
    estimator = linux_like()
    estimator.sample(10 * MS)  # 30 ms computed, 200 ms floor
    estimator.backoff()
    assert estimator.rto == 400 * MS


def test_bad_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError):
        RttEstimator(1 * SECOND, 0, 10 * SECOND)
    with pytest.raises(ValueError):
        RttEstimator(1 * SECOND, 10 * SECOND, 1 * SECOND)
    with pytest.raises(ValueError):
        RttEstimator(0, 1, 10)
    with pytest.raises(ValueError):
        RttEstimator(1, 1, 10, clock_granularity=-1)
    estimator = linux_like()
    with pytest.raises(ValueError):
        estimator.sample(-1)
    assert estimator.srtt is None


@given(st.lists(st.integers(0, 10 * SECOND), min_size=1, max_size=200))
def test_close_to_exact_rational_rfc_6298(samples: list[int]) -> None:
    """The scaled integer state stays within 2 us of exact RFC 6298 arithmetic."""
    estimator = RttEstimator(1 * SECOND, 1, 10**12, clock_granularity=0)
    srtt = Fraction(samples[0])
    rttvar = srtt / 2
    estimator.sample(samples[0])
    for rtt in samples[1:]:
        rttvar = Fraction(3, 4) * rttvar + Fraction(1, 4) * abs(srtt - rtt)
        srtt = Fraction(7, 8) * srtt + Fraction(1, 8) * rtt
        estimator.sample(rtt)
    assert estimator.srtt is not None and estimator.rttvar is not None
    assert abs(estimator.srtt - srtt) <= 2
    assert abs(estimator.rttvar - rttvar) <= 2
    assert abs(estimator.rto - max(Fraction(1), srtt + 4 * rttvar)) <= 8


def test_linux_form_adds_the_floor_to_the_variance_term() -> None:
    """Linux's __tcp_set_rto: RTO = SRTT + max(4 * RTTVAR, rto_min), so a 10 ms
    path gets 10 + 200 = 210 ms where RFC 6298 with a 200 ms floor gives 200 ms."""
    rfc = RttEstimator(1_000_000, 200_000, 120_000_000)
    linux = RttEstimator(1_000_000, 200_000, 120_000_000, linux=True)
    for estimator in (rfc, linux):
        estimator.sample(10_000)
    assert rfc.rto == 200_000
    assert linux.rto == 210_000
    linux.sample(10_000)  # RTTVAR shrinks; the floor still holds
    assert linux.rto == 10_000 + 200_000
    linux.backoff()
    assert linux.rto == 420_000
