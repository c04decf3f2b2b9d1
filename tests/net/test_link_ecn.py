"""ECN through the simulator: a link whose queue marks ECN-capable datagrams
CE (RFC 3168 5) instead of dropping them, and two synack stacks that
negotiated ECN reacting to the marks (RFC 3168 6.1; SHLD-8)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from test_property_transfer import Peer

from synack.apps import AppHost
from synack.net.link import mark_ce
from synack.net.sim import Simulator
from synack.tcp.config import MS, SECOND, TcpConfig
from synack.tcp.stack import Stack
from synack.wire.ip import Packet, encode_packet, parse_packet
from synack.wire.tcp import Segment, TcpFlags

A = IPv4Address("192.0.2.10")
B = IPv4Address("192.0.2.20")


def datagram(
    tos: int, src: IPv4Address | IPv6Address = A, dst: IPv4Address | IPv6Address = B
) -> bytes:
    segment = Segment(1, 2, 3, 4, TcpFlags.ACK, 100, payload=b"data")
    return encode_packet(Packet(src, dst, segment, tos=tos))


def test_mark_ce_sets_the_ecn_field_and_keeps_the_checksum_valid() -> None:
    for tos in (0b10, 0b01, 0xB8 | 0b10):
        marked = mark_ce(datagram(tos))
        assert marked is not None
        parsed = parse_packet(marked)  # the IPv4 header checksum still verifies
        assert parsed.tos == (tos & 0xFC) | 0b11
    assert mark_ce(datagram(0)) is None  # Not-ECT is never marked
    six = datagram(0b10, IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2"))
    marked6 = mark_ce(six)
    assert marked6 is not None and parse_packet(marked6).tos == 0b11


def run(ecn: int, threshold: int) -> tuple[Peer, Peer, Simulator, Stack]:
    config = TcpConfig(ecn=ecn, send_buffer=1 << 20, receive_buffer=1 << 20)
    client = Peer(bytes(range(256)) * 2000)  # 512 KB
    server = Peer(b"")
    sim = Simulator(3, trace_packets=False)
    stacks = {}
    for name, address, peer in (("a", A, client), ("b", B, server)):
        stack = Stack(
            [address], config=config, isn_secret=name.encode(), random=sim.random_for(name)
        )
        stacks[name] = stack
        sim.add_host(name, AppHost(stack, peer.handle), [address])
    sim.link(
        "a", "b", delay=10 * MS, bandwidth=10_000_000, queue_limit=40, ecn_mark_threshold=threshold
    )
    stacks["b"].listen(B, 7000)
    sim.at(0, lambda s: setattr(client, "conn", stacks["a"].connect(A, B, 7000, s.now)))
    sim.run(until=600 * SECOND, max_events=2_000_000)
    return client, server, sim, stacks["a"]


def test_ce_marks_replace_queue_drops_when_both_ends_use_ecn() -> None:
    """With ECN negotiated (the client asks, tcp_ecn=1) the queue marks
    instead of overflowing: the sender halves its window on the echoes, and
    the transfer completes without a single queue drop or retransmission."""
    client, server, sim, _sender = run(ecn=1, threshold=8)
    assert bytes(server.received) == client.outgoing
    forward = sim.links[("a", "b")]
    assert forward.stats.ce_marked > 0
    assert forward.stats.lost.get("queue full", 0) == 0
    assert client.conn is not None
    stats = client.conn.stats
    assert stats.get("ecn_reductions", 0) >= 1
    assert stats.get("retransmitted_segments", 0) == 0


def test_without_ecn_the_same_queue_drops() -> None:
    """The same link without ECN negotiated (tcp_ecn=2 on both ends: nobody
    asks): nothing is marked, the queue overflows and TCP recovers by
    retransmitting."""
    client, server, sim, _sender = run(ecn=2, threshold=8)
    assert bytes(server.received) == client.outgoing
    forward = sim.links[("a", "b")]
    assert forward.stats.ce_marked == 0
    assert forward.stats.lost.get("queue full", 0) > 0
