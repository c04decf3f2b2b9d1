"""ICMP errors about our segments (RFC 9293 3.9.2.2, RFC 1122 4.2.3.9,
RFC 5927, RFC 1191/8201): MUST-54, MUST-55, MUST-56, SHLD-25, SHLD-26.

Two stacks wired back to back by hand; a router's ICMP message quoting one
of the client's datagrams is built with ``synack.wire.icmp.encode_icmp``.
"""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv6Address

from synack.tcp.config import TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import IcmpError, Reset
from synack.tcp.stack import Stack
from synack.tcp.state import State
from synack.trace.records import DropReason
from synack.wire import icmp
from synack.wire.ip import parse_packet

A, B, ROUTER = IPv4Address("192.0.2.1"), IPv4Address("198.51.100.7"), IPv4Address("203.0.113.9")
A6, B6, ROUTER6 = (
    IPv6Address("2001:db8::1"),
    IPv6Address("2001:db8:1::7"),
    IPv6Address("2001:db8:2::9"),
)
CONFIG = TcpConfig(timestamps=False)


def events(stack: Stack) -> list[object]:
    found = []
    while (item := stack.next_event()) is not None:
        found.append(item[1])
    return found


def syn_sent(config: TcpConfig = CONFIG) -> tuple[Stack, Connection, bytes]:
    client = Stack([A], config=config, random=random.Random(1))
    conn = client.connect(A, B, 80, 0)
    (syn,) = client.packets_to_send(0)
    return client, conn, syn


def established(
    local: IPv4Address | IPv6Address = A, remote: IPv4Address | IPv6Address = B
) -> tuple[Stack, Connection, Stack]:
    client = Stack([local], config=CONFIG, random=random.Random(1))
    server = Stack([remote], config=CONFIG, random=random.Random(2))
    server.listen(remote, 80)
    conn = client.connect(local, remote, 80, 0)
    moved = True
    while moved:
        moved = False
        for src, dst in ((client, server), (server, client)):
            for packet in src.packets_to_send(0):
                moved = True
                dst.receive(packet, 0)
    assert conn.state is State.ESTABLISHED
    events(client)
    return client, conn, server


def test_host_unreachable_is_a_soft_error_during_connect() -> None:
    """MUST-56: no abort; SHLD-25: the application hears of it; when the SYN
    retries run out the connect fails with that error, not ETIMEDOUT."""
    client, conn, syn = syn_sent()
    client.receive(icmp.encode_icmp(ROUTER, syn, icmp.ICMP_DEST_UNREACHABLE, 1), 1000)
    assert conn.state is State.SYN_SENT
    soft = [e for e in events(client) if isinstance(e, IcmpError)]
    assert len(soft) == 1 and isinstance(soft[0].error, OSError)
    assert soft[0].error.errno == 113  # EHOSTUNREACH
    now = 1000
    while conn.state is not State.CLOSED:
        now = client.next_deadline() or now
        client.on_timer(now)
        client.packets_to_send(now)
    resets = [e for e in events(client) if isinstance(e, Reset)]
    assert resets and resets[0].error.errno == 113


def test_port_unreachable_aborts_the_connection() -> None:
    """SHLD-26: Destination Unreachable codes 2-4 (here port unreachable)
    abort the connection; the next call raises ECONNREFUSED."""
    client, conn, _server = established()
    conn.send(b"hello", 0)
    (data,) = client.packets_to_send(0)
    client.receive(icmp.encode_icmp(B, data, icmp.ICMP_DEST_UNREACHABLE, 3), 10)
    assert conn.state is State.CLOSED
    resets = [e for e in events(client) if isinstance(e, Reset)]
    assert resets[0].error.errno == 111  # ECONNREFUSED


def test_source_quench_is_silently_discarded() -> None:
    """MUST-55."""
    client, conn, syn = syn_sent()
    before = dict(conn.stats)
    client.receive(icmp.encode_icmp(ROUTER, syn, icmp.ICMP_SOURCE_QUENCH, 0), 1000)
    assert conn.state is State.SYN_SENT and not events(client)
    assert conn.stats.get(DropReason.ICMP_SOURCE_QUENCH.name) == 1
    assert conn.cc.cwnd == 10 * conn.send_mss and before.get("icmp_errors") is None


def test_time_exceeded_and_parameter_problem_never_abort() -> None:
    """MUST-56 for Time Exceeded and Parameter Problem."""
    client, conn, _server = established()
    conn.send(b"hello", 0)
    (data,) = client.packets_to_send(0)
    for kind in (icmp.ICMP_TIME_EXCEEDED, icmp.ICMP_PARAMETER_PROBLEM):
        client.receive(icmp.encode_icmp(ROUTER, data, kind, 0), 10)
    assert conn.state is State.ESTABLISHED
    assert [type(e) for e in events(client)] == [IcmpError, IcmpError]


def test_icmp_quoting_a_sequence_number_not_in_flight_is_ignored() -> None:
    """RFC 5927 4.1: only SND.UNA <= SEG.SEQ < SND.NXT is believed, so a blind
    forger cannot abort the connection."""
    client, conn, _server = established()
    conn.send(b"hello", 0)
    (data,) = client.packets_to_send(0)
    forged = bytearray(data)
    forged[24:28] = ((int.from_bytes(forged[24:28], "big") + 100_000) % 2**32).to_bytes(4, "big")
    client.receive(icmp.encode_icmp(B, bytes(forged), icmp.ICMP_DEST_UNREACHABLE, 3), 10)
    assert conn.state is State.ESTABLISHED
    assert conn.stats[DropReason.ICMP_OUT_OF_WINDOW.name] == 1


def test_icmp_for_no_connection_is_counted() -> None:
    client, conn, syn = syn_sent()
    other = bytearray(syn)
    other[20:22] = (1).to_bytes(2, "big")  # another source port
    client.receive(icmp.encode_icmp(ROUTER, bytes(other), icmp.ICMP_DEST_UNREACHABLE, 1), 10)
    assert client.drops[DropReason.ICMP_NO_CONNECTION] == 1
    client.receive(b"\x45" + bytes(30), 10)  # garbage is not mistaken for ICMP
    assert conn.state is State.SYN_SENT


def test_fragmentation_needed_shrinks_the_mss_and_resends_at_once() -> None:
    """RFC 1191: "fragmentation needed" with the next-hop MTU: the data in
    flight goes again at once in segments that fit (Linux's
    tcp_simple_retransmit), with no congestion response."""
    client, conn, _server = established()
    assert conn.send_mss == 1460
    cwnd = conn.cc.cwnd
    conn.send(bytes(4000), 0)
    big = client.packets_to_send(0)
    assert [len(parse_packet(p).segment.payload) for p in big] == [1460, 1460, 1080]
    client.receive(icmp.encode_icmp(ROUTER, big[0], icmp.ICMP_DEST_UNREACHABLE, 4, mtu=1000), 5)
    assert conn.send_mss == 960 and conn.path_mss == 960
    again = [parse_packet(p).segment for p in client.packets_to_send(5)]
    assert [len(s.payload) for s in again] == [960, 960, 960, 960, 160]
    assert again[0].seq == parse_packet(big[0]).segment.seq
    assert conn.cc.cwnd == cwnd  # not a congestion signal
    # A report of a larger MTU, or of none, changes nothing.
    client.receive(icmp.encode_icmp(ROUTER, big[0], icmp.ICMP_DEST_UNREACHABLE, 4, mtu=1400), 6)
    assert conn.send_mss == 960


def test_ipv6_packet_too_big() -> None:
    """RFC 8201 with ICMPv6 Packet Too Big; never below IPv6's 1280."""
    client, conn, _server = established(A6, B6)
    conn.send(bytes(3000), 0)
    big = client.packets_to_send(0)
    message = icmp.encode_icmp(ROUTER6, big[0], icmp.ICMPV6_PACKET_TOO_BIG, 0, mtu=1000)
    client.receive(message, 5)
    assert conn.send_mss == 1280 - 60
    assert all(len(parse_packet(p).segment.payload) <= 1220 for p in client.packets_to_send(5))
