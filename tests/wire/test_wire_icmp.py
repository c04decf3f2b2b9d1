"""ICMP and ICMPv6 error messages about TCP segments: parse, build, reject."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from synack.wire import icmp
from synack.wire.errors import REASONS, MalformedPacket
from synack.wire.ip import Packet, encode_packet
from synack.wire.tcp import Segment, TcpFlags

A4, B4, R4 = IPv4Address("192.0.2.1"), IPv4Address("198.51.100.7"), IPv4Address("203.0.113.9")
A6, B6, R6 = IPv6Address("2001:db8::1"), IPv6Address("2001:db8:1::7"), IPv6Address("2001:db8:2::9")


def sent(src: IPv4Address | IPv6Address, dst: IPv4Address | IPv6Address) -> bytes:
    segment = Segment(40000, 80, 123456789, 1, TcpFlags.ACK, 1000, payload=b"x" * 100)
    return encode_packet(Packet(src, dst, segment))


def test_ipv4_fragmentation_needed_round_trip() -> None:
    data = icmp.encode_icmp(R4, sent(A4, B4), icmp.ICMP_DEST_UNREACHABLE, 4, mtu=1200)
    message = icmp.parse_icmp(data)
    assert message == icmp.IcmpError(4, 3, 4, R4, A4, B4, 40000, 80, 123456789, 1200)
    assert icmp.is_icmp(data)


def test_ipv6_packet_too_big_round_trip() -> None:
    data = icmp.encode_icmp(R6, sent(A6, B6), icmp.ICMPV6_PACKET_TOO_BIG, 0, mtu=1280)
    message = icmp.parse_icmp(data)
    assert message is not None
    assert (message.version, message.type, message.mtu) == (6, 2, 1280)
    assert (message.local, message.remote, message.seq) == (A6, B6, 123456789)


def test_time_exceeded_has_no_mtu() -> None:
    data = icmp.encode_icmp(R4, sent(A4, B4), icmp.ICMP_TIME_EXCEEDED, 0)
    message = icmp.parse_icmp(data)
    assert message is not None and message.mtu == 0 and message.type == 11


def test_informational_messages_parse_to_none() -> None:
    echo = bytearray(icmp.encode_icmp(R4, sent(A4, B4), 8, 0))  # echo request
    assert icmp.parse_icmp(echo) is None


def test_errors_about_udp_parse_to_none() -> None:
    quoted = bytearray(sent(A4, B4))
    quoted[9] = 17  # UDP
    data = icmp.encode_icmp(R4, bytes(quoted), icmp.ICMP_DEST_UNREACHABLE, 3)
    assert icmp.parse_icmp(data) is None


def test_bad_checksum_and_truncation_raise_malformed() -> None:
    data = bytearray(icmp.encode_icmp(R4, sent(A4, B4), icmp.ICMP_DEST_UNREACHABLE, 1))
    data[-1] ^= 0xFF
    with pytest.raises(MalformedPacket) as info:
        icmp.parse_icmp(data)
    assert info.value.reason == "bad-checksum"
    good = icmp.encode_icmp(R6, sent(A6, B6), icmp.ICMPV6_DEST_UNREACHABLE, 4)
    for cut in range(len(good)):
        try:
            icmp.parse_icmp(good[:cut])
        except MalformedPacket as exc:
            assert exc.reason in REASONS
    assert not icmp.is_icmp(sent(A4, B4))
