#!/usr/bin/env python3
"""Benchmark the sans-IO core: bulk transfer between two stacks, codec rates.

    .venv/bin/python bench/core.py [--megabytes 20] [--runs 3]

Prints the median of several runs for each case, and ratios, in one table.
The machine is shared and noisy: compare numbers from one run of this
script, not across runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from ipaddress import IPv4Address

from synack.apps import AppHost
from synack.net.sim import Simulator
from synack.tcp.config import MS, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import ConnectionRequest, Established, Event, Readable, Writable
from synack.tcp.stack import Listener, Stack
from synack.wire.ip import Packet, encode_packet, parse_packet
from synack.wire.tcp import Segment, TcpFlags

A = IPv4Address("192.0.2.1")
B = IPv4Address("192.0.2.2")
CONFIG = TcpConfig(send_buffer=1 << 20, receive_buffer=1 << 20)


def direct_transfer(size: int) -> float:
    """Two stacks wired back to back, no simulator: seconds to move ``size`` bytes."""
    a = Stack([A], config=CONFIG, isn_secret=b"a", random=random.Random(1))
    b = Stack([B], config=CONFIG, isn_secret=b"b", random=random.Random(2))
    listener = b.listen(B, 80)
    now = 0
    conn = a.connect(A, B, 80, now)

    def pump() -> None:
        moved = True
        while moved:
            moved = False
            for src, dst in ((a, b), (b, a)):
                for packet in src.packets_to_send(now):
                    moved = True
                    dst.receive(packet, now)

    pump()
    server = b.accept(listener)
    data = bytes(size)
    sent = received = 0
    start = time.perf_counter()
    while received < size:
        now += 100
        if sent < size:
            sent += conn.send(memoryview(data)[sent : sent + (1 << 20)], now)
        pump()
        try:
            while chunk := server.recv(1 << 20, now):
                received += len(chunk)
        except BlockingIOError:
            pass
        for stack in (a, b):
            deadline = stack.next_deadline()
            if deadline is not None and deadline <= now:
                stack.on_timer(now)
    return time.perf_counter() - start


def simulated_transfer(size: int, loss: float = 0.0) -> float:
    """The same through the simulator (10 ms links, optional loss), no trace kept."""
    sim = Simulator(1, trace=False)
    received = 0
    payload = bytes(size)
    sent = 0

    def client(host: AppHost, conn: Connection | Listener, event: Event) -> None:
        nonlocal sent
        if isinstance(conn, Connection) and isinstance(event, (Established, Writable)):
            while sent < size:
                taken = conn.send(memoryview(payload)[sent : sent + (1 << 20)], host.now)
                if not taken:
                    break
                sent += taken

    def server(host: AppHost, conn: Connection | Listener, event: Event) -> None:
        nonlocal received
        if isinstance(conn, Listener) and isinstance(event, ConnectionRequest):
            host.stack.accept(conn)
        elif isinstance(conn, Connection) and isinstance(event, Readable):
            try:
                while chunk := conn.recv(1 << 20, host.now):
                    received += len(chunk)
            except BlockingIOError:
                pass

    a = Stack([A], config=CONFIG, isn_secret=b"a", random=sim.random_for("a"))
    b = Stack([B], config=CONFIG, isn_secret=b"b", random=sim.random_for("b"))
    sim.add_host("a", AppHost(a, client), [A])
    sim.add_host("b", AppHost(b, server), [B])
    sim.link("a", "b", delay=10 * MS, loss=loss)
    b.listen(B, 80)
    sim.at(0, lambda s: a.connect(A, B, 80, s.now) and None)
    start = time.perf_counter()
    sim.run_until(lambda _s: received >= size, timeout=3600 * 1_000_000)
    return time.perf_counter() - start


def codec(count: int) -> float:
    segment = Segment(1234, 80, 1, 2, TcpFlags.ACK | TcpFlags.PSH, 1000, payload=bytes(1448))
    packet = encode_packet(Packet(A, B, segment))
    start = time.perf_counter()
    for _ in range(count):
        parse_packet(encode_packet(Packet(A, B, parse_packet(packet).segment)))
    return time.perf_counter() - start


def median(runs: int, case: Callable[[], float]) -> float:
    return statistics.median(case() for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.megabytes * 1_000_000
    rows = []
    direct = median(args.runs, lambda: direct_transfer(size))
    rows.append(("direct: two stacks back to back", size / direct / 1e6, "MB/s"))
    simulated = median(args.runs, lambda: simulated_transfer(size))
    rows.append(("simulator: 10 ms links", size / simulated / 1e6, "MB/s"))
    lossy = median(args.runs, lambda: simulated_transfer(size // 4, loss=0.01))
    rows.append(("simulator: 10 ms links, 1% loss", size / 4 / lossy / 1e6, "MB/s"))
    count = 20_000
    rate = count / median(args.runs, lambda: codec(count))
    rows.append(("codec: parse+encode+parse a 1448-byte segment", rate / 1000, "k/s"))
    print(f"synack core benchmark ({args.megabytes} MB, median of {args.runs} runs, wall clock)")
    print(f"{'case':<50} {'value':>10}  unit   ratio to direct")
    for name, value, unit in rows:
        ratio = f"{value / rows[0][1]:.2f}" if unit == "MB/s" else ""
        print(f"{name:<50} {value:>10.1f}  {unit:<6} {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
