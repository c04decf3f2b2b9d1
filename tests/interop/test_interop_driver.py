"""The real-time driver on its own: event callbacks, timers, pcap, the line
trace, cross-thread calls and stopping.  Most run two stacks over a datagram
socketpair (no root); the last drives a transfer with the kernel over TUN.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dpkt
import pytest
from interop_helpers import DEVICE, KERNEL4, KERNEL_PEER, create_namespace
from kernel_peer import pattern

from synack.net.driver import Driver, LineTrace
from synack.net.tun import PacketPair, TunConfig
from synack.tcp.config import MS, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import Closed, ConnectionRequest, Established, Event, PeerFinished, Readable
from synack.tcp.stack import Listener, Stack
from synack.tcp.state import State
from synack.trace.pcap import PcapWriter

A, B = "10.0.0.1", "10.0.0.2"


class Pair:
    """Two drivers over a socketpair, turned alternately from one thread."""

    def __init__(self, config: TcpConfig | None = None, **options: object) -> None:
        end_a, end_b = PacketPair.create()
        self.a = Driver(Stack([A], config=config), end_a, **options)  # type: ignore[arg-type]
        self.b = Driver(Stack([B], config=config), end_b)
        self.devices = (end_a, end_b)

    def turn_until(self, condition: object, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            assert time.monotonic() < end, "condition not reached"
            self.a.poll(0.002)
            self.b.poll(0.002)

    def close(self) -> None:
        for driver in (self.a, self.b):
            driver.close()
        for device in self.devices:
            device.close()


@pytest.fixture
def pair() -> Iterator[Pair]:
    opened = Pair(TcpConfig(time_wait=50 * MS))
    try:
        yield opened
    finally:
        opened.close()


def test_events_reach_the_callback_and_timers_fire(pair: Pair) -> None:
    events: list[str] = []
    received = bytearray()

    def server(owner: Connection | Listener, event: Event) -> None:
        events.append(type(event).__name__)
        if isinstance(event, ConnectionRequest):
            assert isinstance(owner, Listener)
            pair.b.stack.accept(owner)
        elif isinstance(event, Readable | PeerFinished):
            assert isinstance(owner, Connection)
            try:
                while data := owner.recv(65536, pair.b.now):
                    received.extend(data)
            except BlockingIOError:
                return  # all read for now
            owner.close(pair.b.now)  # end of stream

    pair.b.on_event = server
    pair.b.stack.listen(B, 80)
    conn = pair.a.stack.connect(A, B, 80, pair.a.clock())
    pair.turn_until(lambda: conn.state is State.ESTABLISHED)
    conn.send(b"x" * 100_000, pair.a.clock())
    conn.close(pair.a.clock())
    pair.turn_until(lambda: len(received) == 100_000)
    pair.turn_until(lambda: conn.state is State.TIME_WAIT)
    pair.turn_until(lambda: not pair.a.stack.connections)  # the 50 ms TIME-WAIT timer fired
    assert "ConnectionRequest" in events and "PeerFinished" in events and "Closed" in events


def test_pcap_and_line_trace(tmp_path: Path) -> None:
    out = io.StringIO()
    path = tmp_path / "a.pcap"
    writer = PcapWriter(path)
    end_a, end_b = PacketPair.create()
    a = Driver(Stack([A], trace=LineTrace(out)), end_a, pcap=writer)
    b = Driver(Stack([B]), end_b)
    try:
        b.stack.listen(B, 80)
        conn = a.stack.connect(A, B, 80, a.clock())
        end = time.monotonic() + 5
        while conn.state is not State.ESTABLISHED and time.monotonic() < end:
            a.poll(0.002)
            b.poll(0.002)
        assert conn.state is State.ESTABLISHED
    finally:
        a.close()
        b.close()
        writer.close()
        end_a.close()
        end_b.close()
    with path.open("rb") as file:
        packets = [dpkt.ip.IP(data) for _, data in dpkt.pcap.Reader(file)]
    flags = [packet.data.flags for packet in packets]
    assert flags[:3] == [dpkt.tcp.TH_SYN, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, dpkt.tcp.TH_ACK]
    lines = out.getvalue().splitlines()
    assert any("SYN-SENT" in line for line in lines)
    assert any("SegmentReceived" in line and "SYN,ACK" in line for line in lines)


def test_call_soon_and_stop_from_another_thread() -> None:
    end_a, end_b = PacketPair.create()
    driver = Driver(Stack([A]), end_a)
    ran: list[int] = []
    thread = driver.start_thread()
    try:
        for index in range(5):
            driver.call_soon(lambda index=index: ran.append(index))  # type: ignore[misc]
        end = time.monotonic() + 5
        while len(ran) < 5 and time.monotonic() < end:
            time.sleep(0.01)
        assert ran == [0, 1, 2, 3, 4]  # in order, in the driver thread
        driver.stop()
        thread.join(5)
        assert not thread.is_alive()
    finally:
        driver.close()
        end_a.close()
        end_b.close()


def test_run_until_and_timeout() -> None:
    end_a, end_b = PacketPair.create()
    driver = Driver(Stack([A]), end_a)
    try:
        start = time.monotonic()
        assert driver.run(timeout=0.05) is False
        assert 0.04 < time.monotonic() - start < 2
        flag = threading.Event()
        driver.call_soon(flag.set)
        assert driver.run(until=flag.is_set, timeout=5) is True
        driver.stop()  # a stop before run() ends the next run at once
        assert driver.run(timeout=5) is False
    finally:
        driver.close()
        end_a.close()
        end_b.close()


def test_transfer_with_the_kernel_from_callbacks() -> None:
    """The driver alone (no API thread) sends 10 MB to a kernel sink."""
    namespace = create_namespace()
    try:
        device = namespace.open_tun(DEVICE, TunConfig(addresses=[f"{KERNEL4}/24"]))
        stack = Stack(["10.77.0.2"])
        data = memoryview(pattern(10_000_000))
        sent = 0
        closed = threading.Event()

        def on_event(owner: Connection | Listener, event: Event) -> None:
            nonlocal sent
            if not isinstance(owner, Connection):
                return
            if isinstance(event, Established) or type(event).__name__ == "Writable":
                while sent < len(data) and (taken := owner.send(data[sent:], driver.now)):
                    sent += taken
                if sent == len(data):
                    owner.close(driver.now)
            elif isinstance(event, Closed):
                closed.set()

        driver = Driver(stack, device, on_event=on_event)
        peer = subprocess.Popen(
            namespace.command(
                sys.executable, str(KERNEL_PEER), "sink-server", str(KERNEL4), "7500"
            ),
            stdout=subprocess.PIPE,
        )
        try:
            assert peer.stdout is not None
            assert peer.stdout.readline().strip() == b"listening"
            conn = stack.connect("10.77.0.2", KERNEL4, 7500, driver.clock())
            assert driver.run(
                until=lambda: conn.state in (State.TIME_WAIT, State.CLOSED), timeout=60
            )
            result = peer.stdout.readline()
            assert hashlib.sha256(data).hexdigest().encode() in result
        finally:
            peer.kill()
            peer.wait(10)
            driver.close()
            device.close()
    finally:
        namespace.delete()
