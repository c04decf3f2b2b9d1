#!/usr/bin/env python3
"""Benchmark synack against the Linux kernel over a TUN device (needs root).

    .venv/bin/python bench/tun.py [--megabytes 100] [--runs 3] [--cps-seconds 3]
                                  [--timeout 120] [--mtu 1500 --mtu 65000]

Cases, each measured ``--runs`` times (median reported):

* throughput kernel -> synack and synack -> kernel over a TUN device at each
  MTU: synack runs in this process (the driver thread, ``synack serve
  --app discard``'s session for the receiving side, a sending session on the
  other); the kernel's side is this script's ``peer`` program in the
  namespace, in its own process;
* connections per second: the kernel client ``peer rr-client`` opens a
  connection, sends a 64-byte request, reads the 64-byte reply and closes,
  in a loop for ``--cps-seconds``, against synack's echo server
  (``synack serve --app echo``'s session) at MTU 1500;
* the reference: the same ``peer`` programs on both ends of a veth pair
  between two namespaces (kernel to kernel), measured in the same run,
  interleaved with the synack runs.

How each figure is timed (the same way for synack and the reference):
kernel -> X by the kernel sender, from its first ``send`` to the receiver's
FIN (all data delivered and read); X -> kernel by the kernel receiver, from
its first byte to end of stream; connections per second by the client.

Every run gets fresh namespaces (deleted in a ``finally``) and a timeout;
a run that times out or fails counts as missing (``n/a`` when all do).
Prints one table with the ratio synack / kernel, and the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
CHUNK = 1 << 20
REQUEST_SIZE = 64
PORT = 5001
TUN_KERNEL, TUN_SYNACK = "10.81.0.1", "10.81.0.2"
VETH_CLIENT, VETH_SERVER = "10.82.0.1", "10.82.0.2"
MB = 1_000_000


# ---------------------------------------------------------------------- the kernel peer


def peer_main(argv: list[str]) -> int:
    """``peer MODE ADDRESS PORT [ARG]``: one kernel-side program, JSON result on stdout.

    sink-server: accept one connection, read to EOF ({"bytes", "seconds"}: first byte to EOF);
    source-client: send ARG bytes, shut down, wait for the peer's FIN ({"bytes", "seconds"});
    echo-server: accept connections one after another, echo a request, close after EOF;
    rr-client: for ARG seconds connect, send a request, read the reply, close
    ({"connections", "seconds"}).  Servers print ``listening`` first.
    """
    mode, address, port = argv[0], argv[1], int(argv[2])
    arg = float(argv[3]) if len(argv) > 3 else 0.0
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if mode.endswith("-server"):
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(128)
        print("listening", flush=True)
        if mode == "echo-server":
            echo_server(listener)
            return 0
        conn, _ = listener.accept()
        listener.close()
        result = sink(conn)
    elif mode == "source-client":
        conn = socket.create_connection((address, port), timeout=30)
        conn.settimeout(None)
        result = source(conn, int(arg))
    elif mode == "rr-client":
        result = request_response(family, address, port, arg)
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


def sink(conn: socket.socket) -> dict[str, float]:
    buffer = bytearray(CHUNK)
    total = 0
    start = None
    while count := conn.recv_into(buffer):
        if start is None:
            start = time.perf_counter()
        total += count
    seconds = time.perf_counter() - start if start is not None else 0.0
    conn.close()
    return {"bytes": total, "seconds": seconds}


def source(conn: socket.socket, size: int) -> dict[str, float]:
    block = bytes(range(256)) * (CHUNK // 256)
    view = memoryview(block)
    start = time.perf_counter()
    left = size
    while left > 0:
        left -= conn.send(view[: min(left, CHUNK)])
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(CHUNK):  # until the receiver has read everything and closed
        pass
    seconds = time.perf_counter() - start
    conn.close()
    return {"bytes": size, "seconds": seconds}


def echo_server(listener: socket.socket) -> None:
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            try:
                request = conn.recv(REQUEST_SIZE)
                conn.sendall(request)
                while conn.recv(CHUNK):
                    pass
            except OSError:
                pass


def request_response(family: int, address: str, port: int, duration: float) -> dict[str, float]:
    request = b"r" * REQUEST_SIZE
    count = 0
    start = time.perf_counter()
    end = start + duration
    while time.perf_counter() < end:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect((address, port))
            conn.sendall(request)
            received = 0
            while received < REQUEST_SIZE:
                data = conn.recv(REQUEST_SIZE)
                if not data:
                    raise ConnectionError("the server closed before replying")
                received += len(data)
        count += 1
    return {"connections": count, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------- running peers


class RunFailed(Exception):
    """A run timed out or a peer failed (the run is reported as missing)."""


class Peer:
    """A ``peer`` process in a namespace."""

    def __init__(self, namespace: Any, *argv: str) -> None:
        self.process = subprocess.Popen(
            namespace.command(sys.executable, str(SCRIPT), "peer", *argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def wait_listening(self, timeout: float = 10.0) -> None:
        assert self.process.stdout is not None
        ready = select.select([self.process.stdout], [], [], timeout)[0]
        line = self.process.stdout.readline().strip() if ready else b""
        if line != b"listening":
            self.kill()
            raise RunFailed(f"peer did not start: {line!r} {self.stderr()}")

    def result(self, timeout: float) -> dict[str, float]:
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RunFailed(f"peer still running after {timeout:.0f} s") from None
        if self.process.returncode != 0:
            raise RunFailed(f"peer failed: {err.decode(errors='replace').strip()[-300:]}")
        return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace").strip()[-300:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.communicate(timeout=10)


def widen_ports(namespace: Any) -> None:
    """More ephemeral ports for the connection loop (its TIME-WAITs hold theirs)."""
    namespace.check_output("sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000")


# ---------------------------------------------------------------------- synack over TUN


@dataclass
class SynackSide:
    """synack on a TUN device in a fresh namespace, its driver in a thread."""

    namespace: Any
    device: Any
    stack: Any
    driver: Any
    sessions: list[Any] = field(default_factory=list)


@contextlib.contextmanager
def synack_on_tun(mtu: int) -> Iterator[SynackSide]:
    from synack.net.driver import Driver
    from synack.net.tun import NetworkNamespace, TunConfig
    from synack.tcp.stack import Stack

    namespace = NetworkNamespace.create("synack-bench")
    try:
        device = namespace.open_tun("synbench0", TunConfig(mtu=mtu, addresses=[f"{TUN_KERNEL}/24"]))
        try:
            from synack.tcp.config import TcpConfig

            stack = Stack([ip_address(TUN_SYNACK)], config=TcpConfig(mtu=mtu))
            driver = Driver(stack, device)
            try:
                yield SynackSide(namespace, device, stack, driver)
            finally:
                driver.stop()
                if driver.thread is not None:
                    driver.thread.join(10)
                driver.close()
        finally:
            device.close()
    finally:
        namespace.delete()


def serve_on(side: SynackSide, app_name: str) -> None:
    """Listen on synack's address with one of ``synack serve``'s applications."""
    from synack.cli_net import APPS, ServerApp

    listener = side.stack.listen(ip_address(TUN_SYNACK), PORT)
    server = ServerApp(side.stack, listener, APPS[app_name], lambda: side.driver.now)
    side.driver.on_event = server.on_event
    side.driver.start_thread("synack-bench")


def kernel_to_synack(mtu: int, size: int, timeout: float) -> float:
    """MB/s, timed by the kernel sender (first send to synack's FIN)."""
    with synack_on_tun(mtu) as side:
        serve_on(side, "discard")
        peer = Peer(side.namespace, "source-client", TUN_SYNACK, str(PORT), str(size))
        result = peer.result(timeout)
    return result["bytes"] / result["seconds"] / MB


def synack_to_kernel(mtu: int, size: int, timeout: float) -> float:
    """MB/s, timed by the kernel receiver (first byte to end of stream)."""
    from synack.cli_net import Session
    from synack.tcp.connection import Connection
    from synack.tcp.events import Established

    block = bytes(range(256)) * (CHUNK // 256)

    class Source(Session):
        left = size

        def more(self) -> bytes | None:
            if self.left <= 0:
                return None
            chunk = block[: min(self.left, CHUNK)]
            self.left -= len(chunk)
            return chunk

    with synack_on_tun(mtu) as side:
        peer = Peer(side.namespace, "sink-server", TUN_KERNEL, str(PORT))
        peer.wait_listening()
        driver, stack = side.driver, side.stack

        def on_event(owner: object, event: object) -> None:
            if not isinstance(owner, Connection) or not side.sessions:
                return
            if isinstance(event, Established):
                side.sessions[0].finish()  # send everything, then close
            else:
                side.sessions[0].on_event(event)

        def start() -> None:
            local, remote = ip_address(TUN_SYNACK), ip_address(TUN_KERNEL)
            conn = stack.connect(local, remote, PORT, driver.now)
            side.sessions.append(Source(conn, lambda: driver.now))

        driver.on_event = on_event
        driver.start_thread("synack-bench")
        driver.call_soon(start)
        result = peer.result(timeout)
    if result["bytes"] != size:
        raise RunFailed(f"the kernel received {result['bytes']} of {size} bytes")
    return result["bytes"] / result["seconds"] / MB


def connections_to_synack(seconds: float, timeout: float) -> float:
    """Connections per second of a kernel client against synack's echo server."""
    with synack_on_tun(1500) as side:
        widen_ports(side.namespace)
        serve_on(side, "echo")
        peer = Peer(side.namespace, "rr-client", TUN_SYNACK, str(PORT), str(seconds))
        result = peer.result(timeout)
    return result["connections"] / result["seconds"]


# ---------------------------------------------------------------------- kernel over veth


@contextlib.contextmanager
def veth_pair(mtu: int) -> Iterator[tuple[Any, Any]]:
    """Two fresh namespaces joined by a veth pair: (client side, server side)."""
    from synack.net.tun import NetworkNamespace, run_ip

    client = NetworkNamespace.create("synack-bench-c")
    try:
        server = NetworkNamespace.create("synack-bench-s")
        try:
            veth = ["link", "add", "vbc0", "type", "veth", "peer", "name", "vbs0"]
            run_ip(*veth, "netns", server.name, namespace=client.name)
            for ns, dev, address in ((client, "vbc0", VETH_CLIENT), (server, "vbs0", VETH_SERVER)):
                run_ip("link", "set", "dev", dev, "mtu", str(mtu), namespace=ns.name)
                run_ip("addr", "add", f"{address}/24", "dev", dev, namespace=ns.name)
                run_ip("link", "set", "dev", dev, "up", namespace=ns.name)
            yield client, server
        finally:
            server.delete()
    finally:
        client.delete()


def kernel_reference(mtu: int, size: int, timeout: float) -> tuple[float, float]:
    """(MB/s timed by the sender, MB/s timed by the receiver) kernel to kernel over veth."""
    with veth_pair(mtu) as (client, server):
        sink = Peer(server, "sink-server", VETH_SERVER, str(PORT))
        sink.wait_listening()
        try:
            sent = Peer(client, "source-client", VETH_SERVER, str(PORT), str(size)).result(timeout)
            received = sink.result(timeout)
        finally:
            sink.kill()
    return sent["bytes"] / sent["seconds"] / MB, received["bytes"] / received["seconds"] / MB


def connections_reference(seconds: float, timeout: float) -> float:
    with veth_pair(1500) as (client, server):
        widen_ports(client)
        echo = Peer(server, "echo-server", VETH_SERVER, str(PORT))
        echo.wait_listening()
        try:
            result = Peer(client, "rr-client", VETH_SERVER, str(PORT), str(seconds)).result(timeout)
        finally:
            echo.kill()
    return result["connections"] / result["seconds"]


# ---------------------------------------------------------------------- the table


@dataclass
class Row:
    name: str
    mtu: int
    unit: str
    synack: list[float] = field(default_factory=list)
    kernel: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def attempt(row: Row, into: list[float], case: Callable[[], float]) -> None:
    try:
        into.append(case())
    except (RunFailed, OSError) as exc:
        row.failures.append(f"{exc}")


def median_text(values: list[float], unit: str) -> str:
    if not values:
        return "n/a"
    value = statistics.median(values)
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["peer"]:
        return peer_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100, help="per transfer (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument(
        "--cps-seconds", type=float, default=3.0, help="connection loop length (default 3 s)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="per run (default 120 s)")
    parser.add_argument(
        "--mtu", type=int, action="append", help="MTUs to measure (default 1500 and 65000)"
    )
    args = parser.parse_args(argv)
    from synack.net.tun import require_root

    reason = require_root()
    if reason is not None:
        print(f"bench/tun.py: {reason}; run it as root", file=sys.stderr)
        return 2
    size = args.megabytes * MB
    mtus = args.mtu or [1500, 65000]
    rows: list[Row] = []
    for mtu in mtus:
        rows.append(Row("throughput kernel -> synack", mtu, "MB/s"))
        rows.append(Row("throughput synack -> kernel", mtu, "MB/s"))
    cps = Row("connections/s, kernel client -> synack server", 1500, "conn/s")
    rows.append(cps)
    started = time.monotonic()
    for run in range(args.runs):
        for index, mtu in enumerate(mtus):
            to_synack, from_synack = rows[2 * index], rows[2 * index + 1]
            attempt(
                to_synack, to_synack.synack, lambda m=mtu: kernel_to_synack(m, size, args.timeout)
            )
            attempt(
                from_synack,
                from_synack.synack,
                lambda m=mtu: synack_to_kernel(m, size, args.timeout),
            )
            try:
                by_sender, by_receiver = kernel_reference(mtu, size, args.timeout)
                to_synack.kernel.append(by_sender)
                from_synack.kernel.append(by_receiver)
            except (RunFailed, OSError) as exc:
                to_synack.failures.append(f"reference: {exc}")
        attempt(cps, cps.synack, lambda: connections_to_synack(args.cps_seconds, args.timeout))
        attempt(cps, cps.kernel, lambda: connections_reference(args.cps_seconds, args.timeout))
        print(
            f"run {run + 1}/{args.runs} done ({time.monotonic() - started:.0f} s)", file=sys.stderr
        )
    print(
        f"synack over TUN vs the kernel over veth ({args.megabytes} MB transfers, "
        f"{args.cps_seconds:g} s connection loops; median of {args.runs} runs)"
    )
    print(f"machine: {machine()}")
    header = f"{'case':<46} {'MTU':>6}  {'synack':>13}  {'kernel (veth)':>13}  {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = "n/a"
        if row.synack and row.kernel:
            ratio = f"{statistics.median(row.synack) / statistics.median(row.kernel):.3f}"
        print(
            f"{row.name:<46} {row.mtu:>6}  {median_text(row.synack, row.unit):>13}  "
            f"{median_text(row.kernel, row.unit):>13}  {ratio:>7}"
        )
    for row in rows:
        for failure in row.failures:
            print(f"missing run: {row.name} MTU {row.mtu}: {failure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
