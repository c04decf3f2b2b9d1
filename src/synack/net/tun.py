"""Linux TUN devices and private network namespaces (needs root).

``TunDevice`` opens ``/dev/net/tun`` with ``IFF_TUN | IFF_NO_PI``: every
``read`` returns one whole IP datagram, every ``write`` injects one.  The fd
is non-blocking.  The device is not persistent, so it disappears when the fd
is closed (``close()`` or process exit): nothing is left behind on a crash.
``configure`` gives the kernel's end of the device its address(es), MTU and
routes with the ``ip`` command (IPv6 addresses with ``nodad``, so they are
usable at once).

``PacketPair`` is the same packet-device interface over an ``AF_UNIX``
datagram socketpair: two synack stacks joined back to back without root
(the API tests use it).

Namespaces (``NetworkNamespace``): ``ip netns add`` creates a named one; the
design for putting the TUN device in it while synack runs in the calling
process is:

* ``run(fn)`` calls ``fn`` in a short-lived thread that first joins the
  namespace with ``setns(2)`` (through ``ctypes``; ``os.setns`` arrives in
  Python 3.12).  ``setns(CLONE_NEWNET)`` changes only the calling thread,
  and a file descriptor keeps the namespace it was created in, so a TUN
  device (or a kernel socket) created by ``fn`` lives in the namespace while
  every thread of the process can use the fd afterwards.  No fork, no
  subprocess, no second Python.
* ``command(...)``/``check_output``/``popen`` run programs inside it with
  ``ip netns exec`` (``ss``, ``tc``, a kernel peer in its own process).

``open_tun(...)`` combines the two: the device is created and configured in
the namespace, the fd returned to the caller.  Namespace names must be
unique (``unique_name`` adds the pid and a counter); ``delete`` (or the
context manager) removes the namespace, which also destroys any device
still inside it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import itertools
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface, ip_interface
from pathlib import Path
from typing import Protocol, TypeVar

T = TypeVar("T")

TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
IFNAMSIZ = 16
MAX_PACKET = 65_536  # the largest IP datagram a read can return
NETNS_DIR = Path("/run/netns")

Interface = IPv4Interface | IPv6Interface


class PacketDevice(Protocol):
    """What a driver needs from a link: whole packets in and out of one fd."""

    def fileno(self) -> int: ...

    def read(self) -> bytes | None:
        """One packet, or None when nothing is waiting (never blocks)."""
        ...

    def write(self, packet: bytes | bytearray | memoryview) -> None: ...

    def close(self) -> None: ...


class TunError(OSError):
    """Setting up a TUN device or a namespace failed (message says how)."""


def require_root() -> str | None:
    """None if TUN devices and namespaces can be used here, else the reason why not."""
    if os.geteuid() != 0:
        return "needs root (TUN devices and network namespaces)"
    if not os.path.exists(TUN_PATH):
        return f"{TUN_PATH} is missing"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    return None


# ---------------------------------------------------------------------- the ip command


def run_ip(*args: str, namespace: str | None = None, check: bool = True) -> str:
    """Run ``ip [-n NS] ARGS`` and return its stdout; ``TunError`` with its
    stderr when it fails and ``check`` is set."""
    argv = ["ip"] + (["-n", namespace] if namespace else []) + list(args)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise TunError(errno.EINVAL, f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def device_exists(name: str, namespace: str | None = None) -> bool:
    """Whether a network device called ``name`` exists (in ``namespace``)."""
    if namespace is None:
        return Path("/sys/class/net", name).exists()
    done = subprocess.run(
        ["ip", "-n", namespace, "link", "show", "dev", name],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0


# ---------------------------------------------------------------------- TUN devices


@dataclass
class TunConfig:
    """How the kernel's end of a TUN device is set up.

    ``addresses`` are the kernel's own (``ADDR/PREFIX``): each installs the
    connected route of its prefix, through which the kernel reaches synack's
    addresses.  ``routes`` adds more destinations (``PREFIX``) via the device.
    """

    mtu: int = 1500
    addresses: Sequence[str] = ()
    routes: Sequence[str] = ()
    txqueuelen: int | None = None


class TunDevice:
    """An open TUN device: non-blocking reads and writes of whole IP datagrams."""

    def __init__(self, fd: int, name: str, namespace: str | None = None) -> None:
        self.fd = fd
        self.name = name
        self.namespace = namespace
        self.added: list[str] = []  # addresses ``configure`` added (removed on ``unconfigure``)
        self._closed = False

    @classmethod
    def open(cls, name: str, namespace: str | None = None) -> TunDevice:
        """Create (or attach to a persistent) TUN device called ``name``.

        The device belongs to the network namespace of the calling thread, so
        call this inside ``NetworkNamespace.run`` to create it in one;
        ``namespace`` only records that for ``configure``.
        """
        if len(name.encode()) >= IFNAMSIZ:
            raise TunError(errno.EINVAL, f"device name {name!r} is longer than 15 bytes")
        try:
            fd = os.open(TUN_PATH, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise TunError(exc.errno or errno.EIO, f"cannot open {TUN_PATH}: {exc}") from None
        request = struct.pack(f"{IFNAMSIZ}sH", name.encode(), IFF_TUN | IFF_NO_PI)
        try:
            answer = fcntl.ioctl(fd, TUNSETIFF, request.ljust(40, b"\0"))
        except OSError as exc:
            os.close(fd)
            raise TunError(exc.errno or errno.EIO, f"TUNSETIFF {name}: {exc}") from None
        actual = answer[:IFNAMSIZ].rstrip(b"\0").decode()
        return cls(fd, actual, namespace)

    def configure(self, config: TunConfig) -> None:
        """Bring the device up with ``config``'s MTU, kernel addresses and routes.

        IPv6 duplicate address detection is skipped (``nodad``) so the
        address is usable at once.  An address already present is left as it
        is (and not removed by ``unconfigure``).
        """
        ns, dev = self.namespace, self.name
        run_ip("link", "set", "dev", dev, "mtu", str(config.mtu), namespace=ns)
        if config.txqueuelen is not None:
            run_ip("link", "set", "dev", dev, "txqueuelen", str(config.txqueuelen), namespace=ns)
        run_ip("link", "set", "dev", dev, "up", namespace=ns)
        for text in config.addresses:
            interface = ip_interface(text)
            extra = ["nodad"] if interface.version == 6 else []
            argv = ["addr", "add", str(interface), "dev", dev, *extra]
            try:
                run_ip(*argv, namespace=ns)
                self.added.append(str(interface))
            except TunError as exc:
                if "File exists" not in str(exc):
                    raise
        for route in config.routes:
            run_ip("route", "replace", route, "dev", dev, namespace=ns)

    def unconfigure(self) -> None:
        """Remove the addresses ``configure`` added (for a device that outlives us)."""
        for address in self.added:
            run_ip("addr", "del", address, "dev", self.name, namespace=self.namespace, check=False)
        self.added.clear()

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bytes | None:
        """One datagram, or None when none is waiting."""
        try:
            return os.read(self.fd, MAX_PACKET)
        except BlockingIOError:
            return None
        except InterruptedError:
            return None

    def write(self, packet: bytes | bytearray | memoryview) -> None:
        """Inject one datagram into the kernel.

        A datagram the kernel refuses (device down: EIO; a full queue:
        EAGAIN/ENOBUFS; an invalid packet: EINVAL) is lost, as on a real link.
        """
        try:
            os.write(self.fd, packet)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.ENOBUFS, errno.EINVAL, errno.ENOMEM):
                raise

    def close(self) -> None:
        """Close the fd; a non-persistent device disappears with it."""
        if not self._closed:
            self._closed = True
            os.close(self.fd)

    def __enter__(self) -> TunDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"<TunDevice {self.name}{where} fd={self.fd}>"


class PacketPair:
    """One end of an ``AF_UNIX`` ``SOCK_DGRAM`` socketpair used as a link.

    ``PacketPair.create()`` returns both ends; what one writes the other
    reads as one whole packet.  A full socket buffer drops the packet (a
    congested link), it never blocks.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)
        self.fd = sock.fileno()

    @classmethod
    def create(cls, buffer: int = 4 * 1024 * 1024) -> tuple[PacketPair, PacketPair]:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        for s in (a, b):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
        return cls(a), cls(b)

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bytes | None:
        try:
            return self.sock.recv(MAX_PACKET)
        except (BlockingIOError, InterruptedError):
            return None

    def write(self, packet: bytes | bytearray | memoryview) -> None:
        try:
            self.sock.send(packet)
        except (BlockingIOError, InterruptedError):
            pass  # the peer's queue is full: the packet is lost
        except (ConnectionRefusedError, BrokenPipeError):
            pass  # the other end is closed

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------------- namespaces

_counter = itertools.count(1)
_libc: ctypes.CDLL | None = None


def unique_name(prefix: str = "synack") -> str:
    """A namespace (or device) name unique to this process and call: ``prefix-PID-N``."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


def _setns(fd: int, kind: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, kind) != 0:
        code = ctypes.get_errno()
        raise TunError(code, f"setns: {os.strerror(code)}")


@dataclass
class NetworkNamespace:
    """A named network namespace (``ip netns``); see the module docstring."""

    name: str
    owned: bool = True  # delete() removes it
    _deleted: bool = field(default=False, repr=False)

    @classmethod
    def create(cls, prefix: str = "synack") -> NetworkNamespace:
        """A new namespace with a unique name and its loopback up."""
        name = unique_name(prefix)
        run_ip("netns", "add", name)
        namespace = cls(name)
        try:
            run_ip("link", "set", "dev", "lo", "up", namespace=name)
        except BaseException:
            namespace.delete()
            raise
        return namespace

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def run(self, fn: Callable[..., T], *args: object, timeout: float = 60.0) -> T:
        """``fn(*args)`` in a thread inside the namespace; returns its result or
        raises its exception.  Sockets and devices it creates stay in the namespace."""
        result: list[T] = []
        error: list[BaseException] = []

        def target() -> None:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _setns(fd, CLONE_NEWNET)
                finally:
                    os.close(fd)
                result.append(fn(*args))
            except BaseException as exc:
                error.append(exc)

        thread = threading.Thread(target=target, name=f"netns {self.name}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"function in namespace {self.name} still running after {timeout}s")
        if error:
            raise error[0]
        return result[0]

    def command(self, *argv: str) -> list[str]:
        """The argv that runs ``argv`` inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def check_output(self, *argv: str, timeout: float = 30.0) -> str:
        """Run a command in the namespace and return its stdout (raises if it fails)."""
        done = subprocess.run(
            self.command(*argv), capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise TunError(errno.EINVAL, f"{' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    def popen(self, *argv: str, **kwargs: object) -> subprocess.Popen[bytes]:
        """Start a command in the namespace (``subprocess.Popen`` keyword arguments)."""
        return subprocess.Popen(self.command(*argv), **kwargs)  # type: ignore[call-overload, no-any-return]

    def open_tun(self, name: str, config: TunConfig) -> TunDevice:
        """Create the TUN device ``name`` inside the namespace and configure it."""
        device = self.run(TunDevice.open, name, self.name)
        try:
            device.configure(config)
        except BaseException:
            device.close()
            raise
        return device

    def delete(self) -> None:
        """Remove the namespace (idempotent); devices still inside go with it."""
        if self._deleted or not self.owned:
            return
        self._deleted = True
        run_ip("netns", "delete", self.name, check=False)

    def __enter__(self) -> NetworkNamespace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.delete()


def interface(text: str) -> Interface:
    """``ADDR/PREFIX`` as an interface (``ValueError`` if malformed)."""
    return ip_interface(text)


def kernel_address_for(synack: Interface) -> Interface:
    """The first host address of synack's prefix that synack does not use,
    with the same prefix length (``--kernel-address``'s default)."""
    network = synack.network
    for index, host in enumerate(network.hosts()):  # a /31 has two hosts (RFC 3021)
        if host != synack.ip:
            return ip_interface(f"{host}/{network.prefixlen}")
        if index > 0:
            break
    raise ValueError(f"no other host address in {network} besides {synack.ip}")
