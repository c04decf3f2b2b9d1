"""IsnGenerator: RFC 9293 3.4.1 / RFC 6528 (MUST-8, MUST-9, SHLD-1)."""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synack.tcp.isn import IsnGenerator
from synack.tcp.seq import Seq

SECRET = bytes(range(16))
A = IPv4Address("10.0.0.1")
B = IPv4Address("10.0.0.2")
A6 = IPv6Address("fd00::1")
B6 = IPv6Address("fd00::2")


def test_returns_a_seq() -> None:
    isn = IsnGenerator(SECRET).isn(A, 40000, B, 80, 0)
    assert isinstance(isn, Seq)
    assert 0 <= int(isn) < 2**32


def test_deterministic_for_the_same_inputs() -> None:
    first = IsnGenerator(SECRET).isn(A, 40000, B, 80, 123_456)
    second = IsnGenerator(bytes(SECRET)).isn(A, 40000, B, 80, 123_456)
    assert first == second


def test_known_value() -> None:
    """F is BLAKE2s-32 keyed with the secret over versions, addresses and ports."""
    message = bytes((4, 4)) + A.packed + B.packed + (40000).to_bytes(2, "big") + b"\x00\x50"
    f = int.from_bytes(hashlib.blake2s(message, key=SECRET, digest_size=4).digest(), "big")
    generator = IsnGenerator(SECRET)
    assert generator.offset(A, 40000, B, 80) == f
    assert generator.isn(A, 40000, B, 80, 4_000) == Seq(f + 1_000)


def test_clock_advances_once_per_four_microseconds() -> None:
    """RFC 9293 3.4.1: the ISN clock's low bit increments about every 4 us (MUST-8)."""
    generator = IsnGenerator(SECRET)
    base = generator.isn(A, 1, B, 2, 0)
    assert generator.isn(A, 1, B, 2, 3) == base
    assert generator.isn(A, 1, B, 2, 4) == base + 1
    assert generator.isn(A, 1, B, 2, 7) == base + 1
    assert generator.isn(A, 1, B, 2, 4_000_000) == base + 1_000_000
    assert generator.tick == 4


def test_clock_wraps_in_about_4_55_hours() -> None:
    generator = IsnGenerator(SECRET)
    base = generator.isn(A, 1, B, 2, 0)
    cycle = 4 * 2**32  # microseconds: ~4.77 hours
    assert generator.isn(A, 1, B, 2, cycle) == base
    assert generator.isn(A, 1, B, 2, cycle + 4) == base + 1
    assert generator.isn(A, 1, B, 2, cycle - 4) == base - 1


def test_custom_tick() -> None:
    generator = IsnGenerator(SECRET, tick=1)
    base = generator.isn(A, 1, B, 2, 0)
    assert generator.isn(A, 1, B, 2, 1) == base + 1
    assert generator.isn(A, 1, B, 2, 1_000) == base + 1_000


def test_each_part_of_the_four_tuple_matters() -> None:
    """RFC 6528: F differs per connection-id, so ISNs of other connections tell nothing."""
    generator = IsnGenerator(SECRET)
    base = generator.isn(A, 40000, B, 80, 0)
    variants = [
        generator.isn(B, 40000, B, 80, 0),
        generator.isn(A, 40001, B, 80, 0),
        generator.isn(A, 40000, A, 80, 0),
        generator.isn(A, 40000, B, 81, 0),
        generator.isn(B, 80, A, 40000, 0),  # the peer's view of the same connection
    ]
    assert all(variant != base for variant in variants)


def test_secret_matters() -> None:
    first = IsnGenerator(SECRET).isn(A, 1, B, 2, 0)
    second = IsnGenerator(SECRET[::-1]).isn(A, 1, B, 2, 0)
    assert first != second


def test_ipv6_and_mixed_families() -> None:
    generator = IsnGenerator(SECRET)
    v6 = generator.isn(A6, 1, B6, 2, 0)
    assert generator.isn(A6, 1, B6, 2, 0) == v6
    assert generator.isn(B6, 1, A6, 2, 0) != v6
    # IPv4-mapped and plain IPv4 are different keys (the family is hashed too).
    mapped = ip_address("::ffff:10.0.0.1")
    assert isinstance(mapped, IPv6Address)
    assert generator.isn(mapped, 1, B, 2, 0) != generator.isn(A, 1, B, 2, 0)


def test_long_secret_is_accepted() -> None:
    long_secret = bytes(range(64))
    generator = IsnGenerator(long_secret)
    assert generator.isn(A, 1, B, 2, 0) == IsnGenerator(long_secret).isn(A, 1, B, 2, 0)
    assert generator.isn(A, 1, B, 2, 0) != IsnGenerator(long_secret[:32]).isn(A, 1, B, 2, 0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        IsnGenerator(b"")
    with pytest.raises(ValueError):
        IsnGenerator(SECRET, tick=0)
    generator = IsnGenerator(SECRET)
    with pytest.raises(ValueError):
        generator.isn(A, 65536, B, 2, 0)
    with pytest.raises(ValueError):
        generator.isn(A, 1, B, -1, 0)
    with pytest.raises(TypeError):
        generator.isn("10.0.0.1", 1, B, 2, 0)  # type: ignore[arg-type]


@given(
    st.ip_addresses(v=4),
    st.integers(0, 65535),
    st.ip_addresses(v=4),
    st.integers(0, 65535),
    st.integers(0, 2**40),
)
def test_isn_is_clock_plus_offset(
    local: IPv4Address, local_port: int, remote: IPv4Address, remote_port: int, now: int
) -> None:
    generator = IsnGenerator(SECRET)
    isn = generator.isn(local, local_port, remote, remote_port, now)
    offset = generator.offset(local, local_port, remote, remote_port)
    assert int(isn) == (now // 4 + offset) % 2**32
    assert generator.isn(local, local_port, remote, remote_port, now + 4) == isn + 1


def test_different_tuples_spread_over_the_space() -> None:
    """A sanity check on F: 2000 client ports give (nearly) 2000 distinct ISNs at once."""
    generator = IsnGenerator(SECRET)
    values = {int(generator.isn(A, port, B, 80, 0)) for port in range(30000, 32000)}
    assert len(values) >= 1995
    assert max(values) - min(values) > 2**31
