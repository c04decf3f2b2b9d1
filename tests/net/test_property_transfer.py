"""Pairs of stacks over an impaired simulated network, many seeds.

Property: whatever the (seeded) loss, burst loss, duplication, reordering,
corruption, delay and jitter, each byte stream arrives exactly once and in
order, and both ends reach CLOSED (no TCB left on either stack).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from ipaddress import IPv4Address

import pytest

from synack.apps import AppHost
from synack.net.sim import Simulator
from synack.tcp.config import MS, SECOND, TcpConfig
from synack.tcp.connection import SHUT_WR, Connection
from synack.tcp.events import (
    ConnectionRequest,
    Established,
    Event,
    PeerFinished,
    Readable,
    Writable,
)
from synack.tcp.stack import Listener, Stack

A = IPv4Address("192.0.2.10")
B = IPv4Address("192.0.2.20")
PORT = 7000
CASES = 200


@dataclass
class Peer:
    """Sends ``outgoing`` then half-closes; reads to end of stream; then closes."""

    outgoing: bytes
    received: bytearray = field(default_factory=bytearray)
    sent: int = 0
    eof: bool = False
    conn: Connection | None = None
    errors: list[BaseException] = field(default_factory=list)

    def pump(self, conn: Connection, now: int) -> None:
        self.conn = conn
        while self.sent < len(self.outgoing):
            taken = conn.send(self.outgoing[self.sent : self.sent + 65536], now)
            if taken == 0:
                break
            self.sent += taken
        if self.sent == len(self.outgoing) and not conn.fin_queued:
            conn.shutdown(SHUT_WR, now)
        self.drain(conn, now)

    def drain(self, conn: Connection, now: int) -> None:
        try:
            while chunk := conn.recv(65536, now):
                self.received += chunk
            self.eof = True
        except BlockingIOError:
            pass
        if self.eof and conn.fin_queued and not conn.user_closed:
            conn.close(now)

    def handle(self, host: AppHost, conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Listener):
            if isinstance(event, ConnectionRequest):
                self.pump(host.stack.accept(conn), host.now)
            return
        try:
            if isinstance(event, (Established, Writable)):
                self.pump(conn, host.now)
            elif isinstance(event, (Readable, PeerFinished)):
                self.drain(conn, host.now)
                if not conn.fin_queued:
                    self.pump(conn, host.now)
        except OSError as exc:  # recorded: the property fails if any occur
            self.errors.append(exc)


def impairments(rng: random.Random) -> dict[str, object]:
    return {
        "delay": rng.randrange(1, 40) * MS,
        "jitter": rng.choice([0, 0, rng.randrange(1, 10) * MS]),
        "loss": rng.choice([0.0, rng.uniform(0, 0.15)]),
        # Bursts end with probability 1/2 per packet: the Gilbert-Elliott model
        # switches per packet, so long bursts would eat a whole series of
        # backed-off retransmissions and (correctly) time the connection out.
        "burst_loss_enter": rng.choice([0.0, 0.0, rng.uniform(0, 0.02)]),
        "burst_loss_exit": 0.5,
        "bandwidth": rng.choice([0, 0, rng.choice([1_000_000, 10_000_000])]),
        "duplicate": rng.choice([0.0, rng.uniform(0, 0.05)]),
        "reorder": rng.choice([0.0, rng.uniform(0, 0.1)]),
        "corrupt": rng.choice([0.0, rng.uniform(0, 0.02)]),
    }


def run_case(seed: int) -> tuple[Peer, Peer, Simulator, dict[str, object]]:
    rng = random.Random(seed)
    link = impairments(rng)
    config = TcpConfig(
        send_buffer=rng.choice([4096, 16384, 65536]),
        receive_buffer=rng.choice([4096, 16384, 65536]),
        syn_retries=10,
        synack_retries=10,
        nagle=rng.random() < 0.5,
    )
    client = Peer(rng.randbytes(rng.choice([0, 1, 1000, rng.randrange(0, 200_000)])))
    server = Peer(rng.randbytes(rng.choice([0, 1, 1000, rng.randrange(0, 200_000)])))
    sim = Simulator(seed, trace_packets=False)
    stacks = {}
    for name, address, peer in (("a", A, client), ("b", B, server)):
        stack = Stack(
            [address],
            config=config,
            isn_secret=sim.random_for(f"{name}/isn").randbytes(16),
            random=sim.random_for(f"{name}/ports"),
            trace=sim.sink_for(name),
        )
        stacks[name] = stack
        sim.add_host(name, AppHost(stack, peer.handle), [address])
    sim.link("a", "b", **link)  # type: ignore[arg-type]
    stacks["b"].listen(B, PORT)
    sim.at(0, lambda s: setattr(client, "conn", stacks["a"].connect(A, B, PORT, s.now)))
    sim.run(until=3600 * SECOND, max_events=2_000_000)
    return client, server, sim, link


@pytest.mark.parametrize("seed", range(CASES))
def test_stream_arrives_once_in_order_and_both_close(seed: int) -> None:
    client, server, sim, link = run_case(seed)
    context = f"seed={seed} link={link}"
    assert not client.errors and not server.errors, context
    assert bytes(server.received) == client.outgoing, context
    assert bytes(client.received) == server.outgoing, context
    for host in sim.hosts.values():
        stack = host.endpoint.stack  # type: ignore[attr-defined]
        assert stack.connections == [], f"{context}: {stack.connections}"


def test_impairments_were_exercised() -> None:
    """Guard against a vacuous property: across a sample of seeds the network
    really lost, duplicated, reordered and corrupted packets."""
    totals = {"lost": 0, "duplicated": 0, "corrupted": 0}
    for seed in range(CASES):
        *_, sim, _link = run_case(seed)
        for direction in sim.links.values():
            totals["lost"] += sum(direction.stats.lost.values())
            totals["duplicated"] += direction.stats.duplicated
            totals["corrupted"] += direction.stats.corrupted
    assert all(count > 10 for count in totals.values()), totals


def test_same_seed_same_outcome() -> None:
    first = run_case(7)
    second = run_case(7)
    assert first[2].now == second[2].now
    assert first[2].events_processed == second[2].events_processed
