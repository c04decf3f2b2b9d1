"""The Internet checksum (RFC 1071) and the pseudo-headers (RFC 9293 3.1, RFC 8200 8.1)."""

from __future__ import annotations

import random
import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_helpers import reference_checksum

from synack.wire import (
    fold,
    internet_checksum,
    ones_complement_sum,
    pseudo_header_sum,
    pseudo_header_sum_ipv4,
    pseudo_header_sum_ipv6,
    tcp_checksum,
)


def test_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (after
    # the end-around carry), so the checksum is its complement 220d.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert ones_complement_sum(data) == 0xDDF2
    assert internet_checksum(data) == 0x220D
    assert reference_checksum(data) == 0x220D


def test_checksum_of_data_with_its_checksum_is_zero() -> None:
    data = bytearray(bytes.fromhex("0001f203f4f5f6f7") + b"\x00\x00")
    struct.pack_into("!H", data, 8, internet_checksum(data))
    assert internet_checksum(data) == 0


def test_zero_and_negative_zero() -> None:
    assert ones_complement_sum(b"") == 0
    assert ones_complement_sum(b"\x00" * 7) == 0
    assert internet_checksum(b"\x00\x00") == 0xFFFF
    # A non-zero sum is never 0 in ones' complement: it is 0xFFFF.
    assert ones_complement_sum(b"\xff\xff") == 0xFFFF
    assert ones_complement_sum(b"\x80\x00\x7f\xff") == 0xFFFF
    assert internet_checksum(b"\xff\xff") == 0
    assert fold(0) == 0
    assert fold(0xFFFF) == 0xFFFF
    assert fold(0x1FFFE) == 0xFFFF
    assert fold(0x10000) == 1
    with pytest.raises(ValueError):
        fold(-1)


def test_odd_length_pads_with_zero() -> None:
    assert internet_checksum(b"\x12\x34\x56") == internet_checksum(b"\x12\x34\x56\x00")
    assert internet_checksum(b"\xab") == 0xFFFF - 0xAB00


@given(st.binary(max_size=3000), st.integers(0, 0xFFFF))
def test_agrees_with_slow_reference(data: bytes, initial: int) -> None:
    assert internet_checksum(data) == reference_checksum(data)
    assert internet_checksum(memoryview(data)) == reference_checksum(data)
    assert internet_checksum(bytearray(data)) == reference_checksum(data)
    # An initial partial sum is the same as prefixing its word.
    assert internet_checksum(data, initial) == reference_checksum(struct.pack("!H", initial) + data)


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_partial_sums_compose_at_even_offsets(first: bytes, second: bytes) -> None:
    if len(first) % 2:
        first += b"\x00"
    expected = reference_checksum(first + second)
    assert 0xFFFF - fold(ones_complement_sum(first) + ones_complement_sum(second)) == expected


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF), st.binary())
def test_ipv4_pseudo_header(src: int, dst: int, length: int, data: bytes) -> None:
    source, destination = IPv4Address(src), IPv4Address(dst)
    pseudo = source.packed + destination.packed + struct.pack("!BBH", 0, 6, length)
    expected = reference_checksum(pseudo + data)
    assert internet_checksum(data, pseudo_header_sum_ipv4(source, destination, length)) == expected
    assert internet_checksum(data, pseudo_header_sum(source, destination, length)) == expected


@given(
    st.integers(0, 2**128 - 1),
    st.integers(0, 2**128 - 1),
    st.integers(0, 2**32 - 1),
    st.binary(),
)
def test_ipv6_pseudo_header(src: int, dst: int, length: int, data: bytes) -> None:
    source, destination = IPv6Address(src), IPv6Address(dst)
    pseudo = source.packed + destination.packed + struct.pack("!IxxxB", length, 6)
    expected = reference_checksum(pseudo + data)
    assert internet_checksum(data, pseudo_header_sum_ipv6(source, destination, length)) == expected
    assert internet_checksum(data, pseudo_header_sum(source, destination, length)) == expected


def test_pseudo_header_rejects_mixed_families_and_bad_lengths() -> None:
    with pytest.raises(ValueError):
        pseudo_header_sum(IPv4Address("192.0.2.1"), IPv6Address("2001:db8::1"), 20)
    with pytest.raises(ValueError):
        pseudo_header_sum_ipv4(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"), 0x10000)
    with pytest.raises(ValueError):
        pseudo_header_sum_ipv6(IPv6Address("::1"), IPv6Address("::2"), 2**32)


def test_tcp_checksum_of_golden_segment() -> None:
    # The TCP part of the golden IPv4 SYN in test_wire_tcp.py.
    segment = bytes.fromhex(
        "9c400050fffffed800000000a002ffffbc770000020405b40402080a000003e80000000001030307"
    )
    src, dst = IPv4Address("192.0.2.1"), IPv4Address("198.51.100.2")
    assert tcp_checksum(segment, src, dst) == 0
    zeroed = segment[:16] + b"\x00\x00" + segment[18:]
    assert tcp_checksum(zeroed, src, dst) == 0xBC77


def test_64_kib_matches_reference() -> None:
    """A full 64 KiB buffer (speed is measured in bench/, not here)."""
    data = bytes(random.Random(64).randbytes(65536))
    assert internet_checksum(data) == reference_checksum(data)
