"""Modular sequence arithmetic (RFC 9293 3.4): wrap-around and the 2**31 boundary.

Every comparison is checked against a reference model written straight from
the RFC: ``a < b`` iff ``(b - a) mod 2**32`` is in ``(0, 2**31)``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synack.tcp.seq import HALF, MASK, MOD, Seq, in_window, seq_max, seq_min

u32 = st.integers(min_value=0, max_value=MASK)
# Values that cluster around the interesting places: 0, 2**31 and 2**32.
edgy = st.one_of(
    u32,
    st.integers(min_value=0, max_value=16),
    st.integers(min_value=MASK - 16, max_value=MASK),
    st.integers(min_value=HALF - 16, max_value=HALF + 16),
)
distance = st.integers(min_value=-(2**33), max_value=2**33)


def ref_lt(a: int, b: int) -> bool:
    """Reference model: b is ahead of a by 1 .. 2**31 - 1."""
    return 0 < (b - a) % MOD < HALF


def ref_distance(a: int, b: int) -> int:
    """Reference model: the signed distance a - b in [-2**31, 2**31)."""
    d = (a - b) % MOD
    return d - MOD if d >= HALF else d


# ---------------------------------------------------------------- construction and wrap


def test_construction_reduces_modulo_2_32() -> None:
    assert Seq(2**32) == 0
    assert Seq(2**32 + 5) == 5
    assert Seq(-1) == MASK
    assert isinstance(Seq(7), int)


def test_addition_wraps_past_2_32() -> None:
    s = Seq(2**32 - 3) + 5
    assert s == 2
    assert type(s) is Seq
    assert type(5 + Seq(MASK)) is Seq
    assert 5 + Seq(MASK) == 4


def test_subtracting_an_int_gives_a_wrapped_seq() -> None:
    s = Seq(2) - 5
    assert s == MASK - 2
    assert type(s) is Seq


def test_subtracting_two_seqs_gives_signed_distance() -> None:
    assert Seq(2) - Seq(MASK - 2) == 5
    assert Seq(MASK - 2) - Seq(2) == -5
    d = Seq(10) - Seq(10)
    assert d == 0
    assert type(d) is int


def test_ordering_across_the_wrap() -> None:
    """3.4: 'sequence numbers ... are compared modulo 2**32'."""
    low, high = Seq(MASK - 1), Seq(3)
    assert low < high and low <= high
    assert high > low and high >= low
    assert not high < low
    assert not low > high


def test_exactly_half_the_circle_apart_is_neither_less_nor_greater() -> None:
    """At distance 2**31 the order is undefined: Seq treats neither as ahead."""
    a, b = Seq(0), Seq(HALF)
    assert not a < b and not b < a
    assert not a > b and not b > a
    assert not a <= b and not a >= b  # and they are not equal either
    assert Seq(1) < Seq(HALF)  # one less than half: ordered
    assert Seq(HALF) > Seq(1)  # one less than half the other way: ordered
    assert not Seq(HALF + 1) < Seq(1)
    assert not Seq(HALF + 2) > Seq(2)


def test_equal_values_compare_equal_and_hash_alike() -> None:
    assert Seq(5) == Seq(5) == 5
    assert Seq(5) <= Seq(5) and Seq(5) >= Seq(5)
    assert not Seq(5) < Seq(5)
    assert hash(Seq(5)) == hash(5)
    assert {Seq(2**32 + 1): "x"}[Seq(1)] == "x"
    assert Seq(1) in {1}


def test_str_and_repr() -> None:
    assert str(Seq(7)) == "7"
    assert repr(Seq(7)) == "Seq(7)"


# ---------------------------------------------------------------- property tests


@given(edgy, edgy)
def test_comparisons_match_the_reference_model(a: int, b: int) -> None:
    x, y = Seq(a), Seq(b)
    assert (x < y) == ref_lt(a, b)
    assert (x > y) == ref_lt(b, a)
    assert (x <= y) == (ref_lt(a, b) or a == b)
    assert (x >= y) == (ref_lt(b, a) or a == b)
    assert (x == y) == (a == b)


@given(edgy, edgy)
def test_subtraction_matches_the_reference_model(a: int, b: int) -> None:
    d = Seq(a) - Seq(b)
    assert d == ref_distance(a, b)
    assert -HALF <= d < HALF
    assert Seq(b) + d == a  # the distance takes b back to a


@given(edgy, distance)
def test_addition_and_subtraction_are_inverse(a: int, n: int) -> None:
    s = Seq(a)
    assert s + n == (a + n) % MOD
    assert (s + n) - n == s
    assert s - n == (a - n) % MOD


@given(edgy, st.integers(min_value=1, max_value=HALF - 1))
def test_adding_less_than_half_moves_ahead(a: int, n: int) -> None:
    s = Seq(a)
    assert s < s + n
    assert s + n > s
    assert (s + n) - s == n


@given(edgy, edgy)
def test_trichotomy_except_at_half(a: int, b: int) -> None:
    x, y = Seq(a), Seq(b)
    outcomes = [x < y, x == y, x > y]
    if (a - b) % MOD == HALF:
        assert outcomes == [False, False, False]
    else:
        assert outcomes.count(True) == 1


@given(edgy, edgy, st.integers(min_value=0, max_value=MOD))
def test_in_window_matches_the_reference_model(seq: int, start: int, length: int) -> None:
    """in_window(seq, start, length) is start <= seq < start + length, modulo 2**32."""
    expected = (seq - start) % MOD < length
    assert in_window(Seq(seq), Seq(start), length) == expected


@given(edgy, st.integers(min_value=1, max_value=HALF))
def test_in_window_edges(start: int, length: int) -> None:
    s = Seq(start)
    assert in_window(s, s, length)
    assert in_window(s + (length - 1), s, length)
    assert not in_window(s + length, s, length)
    assert not in_window(s - 1, s, length)


def test_in_window_with_zero_length_is_always_false() -> None:
    assert not in_window(Seq(5), Seq(5), 0)


def test_in_window_across_the_wrap() -> None:
    start = Seq(MASK - 9)
    assert in_window(Seq(MASK), start, 20)
    assert in_window(Seq(9), start, 20)
    assert not in_window(Seq(10), start, 20)


@given(edgy, edgy)
def test_seq_max_and_min_match_the_reference_model(a: int, b: int) -> None:
    x, y = Seq(a), Seq(b)
    later = b if ref_lt(a, b) else a
    earlier = a if ref_lt(a, b) else b
    assert seq_max(x, y) == later
    assert seq_min(x, y) == earlier
    assert {int(seq_max(x, y)), int(seq_min(x, y))} == {a, b}


@pytest.mark.parametrize(
    ("a", "b", "later"),
    [
        (MASK, 0, 0),  # 0 comes after 2**32 - 1
        (MASK - 100, 100, 100),
        (HALF - 1, 0, HALF - 1),
        (5, 5, 5),
    ],
)
def test_seq_max_examples(a: int, b: int, later: int) -> None:
    assert seq_max(Seq(a), Seq(b)) == later
    assert seq_max(Seq(b), Seq(a)) == later
