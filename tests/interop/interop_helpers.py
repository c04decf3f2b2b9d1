"""Fixtures and helpers for the interop tests: synack against the Linux kernel.

Every test gets its own network namespace (``synack-it-PID-N``), deleted in
the fixture's teardown whatever happens.  Inside it a TUN device ``syn0``
joins the two TCPs: the kernel's end has ``10.77.0.1/24`` and ``fd77::1/64``,
synack is ``10.77.0.2`` and ``fd77::2``.  All traffic stays in the namespace.

The tests need root and ``/dev/net/tun``; without them they are skipped with
the reason.  Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest

from synack.api.blocking import Network
from synack.net.tun import NetworkNamespace, TunConfig, TunDevice, TunError, require_root
from synack.tcp.state import State

HERE = Path(__file__).parent
KERNEL_PEER = HERE / "kernel_peer.py"
KERNEL4, SYNACK4 = IPv4Address("10.77.0.1"), IPv4Address("10.77.0.2")
KERNEL6, SYNACK6 = IPv6Address("fd77::1"), IPv6Address("fd77::2")
DEVICE = "syn0"
WAIT = 10.0  # seconds: the bound on every wait for a state or an event

FAMILIES = {
    "ipv4": (socket.AF_INET, KERNEL4, SYNACK4),
    "ipv6": (socket.AF_INET6, KERNEL6, SYNACK6),
}


def skip_without_root() -> None:
    reason = require_root()
    if reason is not None:
        pytest.skip(f"interop tests: {reason}")


def create_namespace(prefix: str = "synack-it") -> NetworkNamespace:
    """A new namespace; the test is skipped (with the reason) without root, or
    when this root may not create namespaces (a container without CAP_SYS_ADMIN)."""
    skip_without_root()
    try:
        return NetworkNamespace.create(prefix)
    except TunError as exc:
        pytest.skip(f"interop tests: cannot create a network namespace: {exc}")


@dataclass
class Link:
    """A namespace, the TUN device in it and a synack ``Network`` on the device."""

    namespace: NetworkNamespace
    device: TunDevice
    network: Network
    mtu: int
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def kernel_socket(self, factory: Callable[[], socket.socket]) -> socket.socket:
        """A kernel socket made inside the namespace (usable from any thread after)."""
        sock = self.namespace.run(factory)
        self.cleanups.append(sock.close)
        return sock

    def kernel_listener(self, family: int, address: object, port: int) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((str(address), port))
            sock.listen(8)
            sock.settimeout(WAIT)
            return sock

        return self.kernel_socket(make)

    def kernel_connect(self, family: int, address: object, port: int) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(WAIT)
            try:
                sock.connect((str(address), port))
            except BaseException:
                sock.close()
                raise
            return sock

        return self.kernel_socket(make)

    def ss(self) -> list[tuple[str, str, str]]:
        """The kernel's TCP sockets in the namespace: (state, local, peer) from ``ss -tan``."""
        out = self.namespace.check_output("ss", "-tanH")
        rows = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 5:
                rows.append((parts[0], parts[3], parts[4]))
        return rows

    def kernel_state(self, local_port: int, peer_port: int) -> str | None:
        """The ``ss`` state of the kernel socket with these ports (None: no socket)."""
        for state, local, peer in self.ss():
            if local.rsplit(":", 1)[1] == str(local_port) and peer.rsplit(":", 1)[1] == str(
                peer_port
            ):
                return state
        return None

    def wait_kernel_state(self, local_port: int, peer_port: int, expected: str | None) -> None:
        wait_for(
            lambda: self.kernel_state(local_port, peer_port) == expected,
            f"kernel socket :{local_port} > :{peer_port} in {expected}",
            lambda: f"ss shows {self.ss()}",
        )

    def synack_state(self, four_tuple: tuple[object, int, object, int]) -> State:
        """synack's state for a 4-tuple (CLOSED once its TCB is gone)."""
        local, local_port, remote, remote_port = four_tuple
        key = (ip_address(str(local)), local_port, ip_address(str(remote)), remote_port)
        with self.network.lock:
            conn = self.network.stack.connection(key)  # type: ignore[arg-type]
            return State.CLOSED if conn is None else conn.state

    def wait_synack_state(
        self, four_tuple: tuple[object, int, object, int], expected: State
    ) -> None:
        wait_for(
            lambda: self.synack_state(four_tuple) is expected,
            f"synack {four_tuple} in {expected}",
            lambda: f"synack is in {self.synack_state(four_tuple)}",
        )

    def kernel_peer(self, mode: str, address: object, port: int, size: int = 0) -> KernelPeer:
        """Start ``kernel_peer.py`` in the namespace (a server waits until it listens)."""
        process = self.namespace.popen(
            sys.executable,
            str(KERNEL_PEER),
            mode,
            str(address),
            str(port),
            str(size),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        peer = KernelPeer(process)
        self.cleanups.append(peer.kill)
        if mode.endswith("-server"):
            peer.wait_listening()
        return peer

    def netem(self, *spec: str) -> None:
        """``tc qdisc add dev syn0 root netem SPEC`` in the namespace (skip if unsupported)."""
        done = subprocess.run(
            self.namespace.command("tc", "qdisc", "add", "dev", DEVICE, "root", "netem", *spec),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"tc netem is not available here: {done.stderr.strip()}")


class KernelPeer:
    """A running ``kernel_peer.py``."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def wait_listening(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != b"listening":
            self.kill()
            _, err = self.process.communicate(timeout=WAIT)
            raise AssertionError(f"kernel peer did not start: {line!r} {err.decode()}")

    def result(self, timeout: float = 60.0) -> dict[str, object]:
        """The peer's JSON result line (fails if it exits with an error)."""
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"kernel peer still running after {timeout}s") from None
        assert self.process.returncode == 0, err.decode()
        return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)


def wait_for(
    condition: Callable[[], bool],
    what: str,
    detail: Callable[[], str] = lambda: "",
    timeout: float = WAIT,
) -> None:
    """Poll ``condition`` every 10 ms until true; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}; {detail()}")
        time.sleep(0.01)


def open_link(mtu: int = 1500, wrap: Callable[[TunDevice], object] | None = None) -> Link:
    """A namespace with the TUN device and a synack ``Network`` (see the module docstring)."""
    namespace = create_namespace()
    try:
        device = namespace.open_tun(
            DEVICE, TunConfig(mtu=mtu, addresses=[f"{KERNEL4}/24", f"{KERNEL6}/64"])
        )
        from synack.tcp.config import TcpConfig

        link_device = wrap(device) if wrap is not None else device
        network = Network(
            link_device,  # type: ignore[arg-type]
            [SYNACK4, SYNACK6],
            config=TcpConfig(mtu=mtu),
        )
    except BaseException:
        namespace.delete()
        raise
    return Link(namespace, device, network, mtu)


def close_link(link: Link) -> None:
    try:
        for cleanup in reversed(link.cleanups):
            with contextlib.suppress(OSError):
                cleanup()
        link.network.close()
        link.device.close()
    finally:
        link.namespace.delete()


class ImpairedDevice:
    """A TUN device whose datagrams are lost, duplicated and reordered in both
    directions by a seeded generator (userspace impairment; no netem needed)."""

    def __init__(
        self,
        device: TunDevice,
        *,
        seed: int,
        loss: float = 0.02,
        duplicate: float = 0.02,
        reorder: float = 0.03,
    ) -> None:
        self.device = device
        self.random = random.Random(seed)
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self._held_in: bytes | None = None
        self._held_out: bytes | None = None
        self._queue_in: deque[bytes] = deque()
        self.stats = {"lost": 0, "duplicated": 0, "reordered": 0}

    def fileno(self) -> int:
        return self.device.fileno()

    def _impair(self, packet: bytes, held: bytes | None) -> tuple[list[bytes], bytes | None]:
        """What goes through now, and what is held back to be reordered."""
        r = self.random.random()
        if r < self.loss:
            self.stats["lost"] += 1
            out: list[bytes] = []
        elif r < self.loss + self.duplicate:
            self.stats["duplicated"] += 1
            out = [packet, packet]
        elif r < self.loss + self.duplicate + self.reorder and held is None:
            self.stats["reordered"] += 1
            return [], packet  # goes out after the next one
        else:
            out = [packet]
        if held is not None and out:
            out.insert(1, held)
            held = None
        return out, held

    def read(self) -> bytes | None:
        queue = self._queue_in
        while not queue:
            packet = self.device.read()
            if packet is None:
                if self._held_in is not None:  # never strand a held packet
                    held, self._held_in = self._held_in, None
                    return held
                return None
            out, self._held_in = self._impair(packet, self._held_in)
            queue.extend(out)
        return queue.popleft()

    def write(self, packet: bytes | bytearray | memoryview) -> None:
        out, self._held_out = self._impair(bytes(packet), self._held_out)
        for item in out:
            self.device.write(item)

    def close(self) -> None:
        self.device.close()
