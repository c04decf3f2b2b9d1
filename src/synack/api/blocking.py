"""A blocking socket API over synack, shaped like the standard ``socket`` module.

::

    net = Network(device, ["10.0.0.2"])          # starts the driver thread
    with net.create_connection(("10.0.0.1", 80), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        reply = sock.recv(65536)
    net.close()

``Socket`` has ``connect``/``connect_ex``, ``bind``, ``listen``, ``accept``,
``send``, ``sendall``, ``recv``/``recv_into``, ``shutdown``, ``close``,
``setsockopt``/``getsockopt``, ``settimeout``/``gettimeout``/``setblocking``,
``getpeername``/``getsockname``, and raises what the standard library raises:
``ConnectionRefusedError``, ``ConnectionResetError``, ``BrokenPipeError``,
``TimeoutError`` (``socket.timeout``) with the message ``"timed out"``,
``BlockingIOError`` on a non-blocking socket, ``OSError`` with Linux's errno
otherwise (``synack.api.sockets.SocketTable`` decides which).  Addresses are
IP literals (no name resolution); IPv6 addresses come back as 4-tuples.

Threading model.  The core is single-threaded: only the driver thread
(``Network.driver``, a ``synack.net.driver.Driver`` running in a daemon
thread) ever touches the ``Stack`` and the ``SocketTable``.  An API call
made in another thread is marshalled to it: ``Network.submit(fn)`` queues
``fn`` with ``Driver.call_soon`` (which wakes the driver's ``select``
through a pipe) and waits on a condition variable (a ``threading.Event``)
for its result.  A call that must block (connect, accept, recv, a send with
a full buffer) becomes a ``synack.api.sockets.Call`` that the driver polls
after every batch of input, timer or flush; when it completes the driver
sets the waiter's event.  A timeout cancels the call in the driver thread
(if it completed in the meantime, its result wins).  ``Network.lock`` is held
by the driver while it works on the stack, so another thread may *read* the
stack consistently (``with net.lock: ...``) but never change it.  Calls made
from the driver thread itself (from a trace sink, say) run directly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import socket as _socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from types import TracebackType
from typing import Any, TypeVar

from synack.api import linux as L
from synack.api.sockets import Call, Result, SocketTable
from synack.net.driver import Driver
from synack.net.tun import PacketDevice
from synack.tcp.config import TcpConfig
from synack.tcp.connection import Address
from synack.tcp.errors import os_error
from synack.tcp.stack import Stack
from synack.trace.pcap import PcapWriter
from synack.trace.records import Record

T = TypeVar("T")
AddressTuple = tuple[Any, ...]

_POLL_SLICE = 0.5  # seconds between checks that the driver thread is alive
_DEFAULT = object()  # create_connection's "use the default timeout"


class _Waiter:
    """A blocking call the driver polls until it completes (or is cancelled)."""

    __slots__ = ("call", "event", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.call: Call | None = None
        self.event = threading.Event()


class _Box:
    __slots__ = ("error", "event", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Network:
    """One synack host on a packet device, driven by a background thread.

    ``addresses`` are synack's own (the first of each family is the source
    address of connections from unbound sockets).  ``trace`` receives every
    record in the driver thread; ``pcap`` records every datagram.  The device
    is closed by ``close()`` when ``own_device`` is true.
    """

    def __init__(
        self,
        device: PacketDevice,
        addresses: Sequence[Address | str],
        *,
        config: TcpConfig | None = None,
        trace: Callable[[Record], None] | None = None,
        pcap: PcapWriter | None = None,
        own_device: bool = False,
        name: str = "synack-driver",
    ) -> None:
        self.addresses = [a if not isinstance(a, str) else ip_address(a) for a in addresses]
        if not self.addresses:
            raise ValueError("a Network needs at least one address")
        self.stack = Stack(
            self.addresses,
            config=config,
            isn_secret=os.urandom(16),
            random=random.Random(),
            trace=trace,
        )
        self.table = SocketTable(self.stack, self.addresses[0])
        self.device = device
        self.own_device = own_device
        self.driver = Driver(self.stack, device, pcap=pcap)
        self.driver.hooks.append(self._poll_waiters)
        self.lock = self.driver.lock
        self._waiters: dict[_Waiter, None] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.driver.thread = self._thread
        self._thread.start()

    # ------------------------------------------------------------------ the driver thread

    def _run(self) -> None:
        try:
            self.driver.run()
        except BaseException as exc:  # a bug in synack: fail every waiting call with it
            self.driver.error = exc
        finally:
            for waiter in list(self._waiters):
                waiter.event.set()

    def _poll_waiters(self, now: int) -> bool:
        if not self._waiters:
            return False
        finished = [waiter for waiter in self._waiters if waiter.call and waiter.call.poll(now)]
        for waiter in finished:
            del self._waiters[waiter]
            waiter.event.set()
        return bool(finished)

    def _check_alive(self) -> None:
        if self._closed:
            raise os_error(errno.EBADF, "the synack network is closed")
        if not self._thread.is_alive():
            detail = f": {self.driver.error!r}" if self.driver.error is not None else ""
            raise os_error(errno.EIO, f"the synack driver stopped{detail}")

    # ------------------------------------------------------------------ marshalling

    def submit(self, fn: Callable[[int], T]) -> T:
        """Run ``fn(now)`` in the driver thread and return its result (or raise its error)."""
        if threading.current_thread() is self._thread:
            return fn(self.driver.now)
        self._check_alive()
        box = _Box()

        def task() -> None:
            try:
                box.value = fn(self.driver.now)  # the time of this turn, as its flush
            except BaseException as exc:
                box.error = exc
            box.event.set()

        self.driver.call_soon(task)
        while not box.event.wait(_POLL_SLICE):
            self._check_alive()
        if box.error is not None:
            raise box.error
        return box.value  # type: ignore[no-any-return]

    def wait_call(self, fd: int, start: Callable[[int], Call], timeout: float | None) -> Result:
        """Start a call in the driver thread and wait (at most ``timeout`` seconds)
        for it to complete; ``TimeoutError("timed out")`` if it does not."""
        waiter = _Waiter(fd)

        def begin(now: int) -> None:
            call = start(now)
            waiter.call = call
            if call.done:
                waiter.event.set()
            else:
                self._waiters[waiter] = None

        self.submit(begin)
        end = None if timeout is None else time.monotonic() + timeout
        while not waiter.event.is_set():
            remaining = _POLL_SLICE if end is None else min(end - time.monotonic(), _POLL_SLICE)
            if remaining <= 0:
                if self.submit(lambda _now: self._cancel(waiter)):
                    raise TimeoutError("timed out")
                break
            if not waiter.event.wait(remaining):
                self._check_alive()
        call = waiter.call
        if call is None or not call.done:
            self._check_alive()
            raise os_error(errno.EBADF, "socket closed while a call was waiting")
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    def _cancel(self, waiter: _Waiter) -> bool:
        """In the driver thread: forget a waiting call unless it has completed."""
        if waiter.call is not None and waiter.call.done:
            return False
        self._waiters.pop(waiter, None)
        return True

    def _close_fd(self, fd: int) -> None:
        """In the driver thread: close a descriptor dropped without ``close()``."""
        with contextlib.suppress(OSError):
            self.table.close(fd, self.driver.now)
        self._fail_waiters(fd)

    def _fail_waiters(self, fd: int) -> None:
        """In the driver thread: wake the calls waiting on a closed fd (they raise EBADF)."""
        for waiter in [w for w in self._waiters if w.fd == fd]:
            del self._waiters[waiter]
            waiter.event.set()

    # ------------------------------------------------------------------ sockets

    def local_address(self, family: int) -> Address:
        """synack's first address of ``family``."""
        version = 6 if family == _socket.AF_INET6 else 4
        for address in self.addresses:
            if address.version == version:
                return address
        raise os_error(errno.EADDRNOTAVAIL, f"no IPv{version} address on this network")

    def socket(
        self, family: int = _socket.AF_INET, type: int = _socket.SOCK_STREAM, proto: int = 0
    ) -> Socket:
        """A new socket (only ``SOCK_STREAM`` over IPv4 or IPv6)."""
        return Socket(self, family, type, proto)

    def create_connection(
        self,
        address: AddressTuple,
        timeout: float | object | None = _DEFAULT,
        source_address: AddressTuple | None = None,
    ) -> Socket:
        """Connect to ``(host, port)`` as ``socket.create_connection`` does."""
        host = _parse_host(address[0])
        family = _socket.AF_INET6 if host.version == 6 else _socket.AF_INET
        sock = self.socket(family)
        try:
            if timeout is not _DEFAULT:
                sock.settimeout(timeout)  # type: ignore[arg-type]
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        """Stop the driver thread, wake every waiting call, close the device if owned."""
        if self._closed:
            return
        self.driver.stop()
        self._thread.join(10)
        self._closed = True
        for waiter in list(self._waiters):
            waiter.event.set()
        self._waiters.clear()
        self.driver.close()
        if self.own_device:
            self.device.close()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Socket:
    """A synack TCP socket; see the module docstring for the API and its errors."""

    def __init__(
        self,
        network: Network,
        family: int = _socket.AF_INET,
        type: int = _socket.SOCK_STREAM,
        proto: int = 0,
        *,
        fd: int | None = None,
    ) -> None:
        self.network = network
        self.family = family
        self.type = type
        self.proto = proto
        self._timeout: float | None = _socket.getdefaulttimeout()
        table = network.table
        if fd is None:
            linux_family = L.AF_INET6 if family == _socket.AF_INET6 else L.AF_INET
            if family not in (_socket.AF_INET, _socket.AF_INET6):
                linux_family = family
            fd = network.submit(lambda _now: table.socket(linux_family, type, proto))
        self._fd = fd
        self._closed = False
        if self._timeout is not None:
            self._apply_blocking()

    # ------------------------------------------------------------------ helpers

    @property
    def fd(self) -> int:
        """The descriptor in synack's socket table (not an OS file descriptor)."""
        return self._fd

    def _table(self) -> SocketTable:
        if self._closed:
            raise os_error(errno.EBADF)
        return self.network.table

    def _wait(self, start: Callable[[int], Call]) -> Result:
        self._table()
        return self.network.wait_call(self._fd, start, self._timeout)

    def _apply_blocking(self) -> None:
        table, fd = self._table(), self._fd
        flags = L.O_NONBLOCK if self._timeout == 0 else 0
        self.network.submit(lambda _now: table.fcntl(fd, L.F_SETFL, flags))

    def _address(self, address: Address, port: int) -> AddressTuple:
        if address.version == 6:
            return (str(address), port, 0, 0)
        return (str(address), port)

    def _target(self, address: AddressTuple) -> tuple[Address, int]:
        if not isinstance(address, tuple) or len(address) < 2:
            raise TypeError("address must be a (host, port) tuple")
        host = _parse_host(address[0], self.family)
        port = address[1]
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise OverflowError("port must be 0-65535.")
        if (host.version == 6) != (self.family == _socket.AF_INET6):
            raise os_error(errno.EAFNOSUPPORT, "address family does not match the socket")
        return host, port

    # ------------------------------------------------------------------ connecting

    def connect(self, address: AddressTuple) -> None:
        """Active open; blocks until established (ConnectionRefusedError, TimeoutError...)."""
        host, port = self._target(address)
        table, fd, network, family = self._table(), self._fd, self.network, self.family

        def start(now: int) -> Call:
            if table.get(fd).bound is None and table.get(fd).conn is None:
                table.bind(fd, network.local_address(family), 0)
            return table.connect(fd, host, port, now)

        self._wait(start)

    def connect_ex(self, address: AddressTuple) -> int:
        """``connect`` returning an errno (0 on success) instead of raising."""
        try:
            self.connect(address)
        except OSError as exc:
            if exc.errno is None:
                raise
            return exc.errno
        return 0

    def bind(self, address: AddressTuple) -> None:
        """Bind to ``(host, port)``; ``""`` is the unspecified address of the family."""
        host, port = self._target(address)
        table, fd = self._table(), self._fd
        self.network.submit(lambda _now: table.bind(fd, host, port))

    def listen(self, backlog: int = 128) -> None:
        """Passive open on the bound address (a free port if bound to port 0)."""
        table, fd = self._table(), self._fd
        stack = self.network.stack

        def start(_now: int) -> int:
            sock = table.get(fd)
            if sock.bound is None or sock.bound[1] != 0 or sock.listener is not None:
                return table.listen(fd, backlog)
            low, high = stack.config.ephemeral_ports
            first = random.randrange(low, high + 1)
            for offset in range(high - low + 1):
                port = low + (first - low + offset) % (high - low + 1)
                sock.bound = (sock.bound[0], port)
                try:
                    return table.listen(fd, backlog)
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        sock.bound = (sock.bound[0], 0)
                        raise
            sock.bound = (sock.bound[0], 0)
            raise os_error(errno.EADDRINUSE, "no free port")

        self.network.submit(start)

    def accept(self) -> tuple[Socket, AddressTuple]:
        """The next established connection and its peer's address."""
        table, fd = self._table(), self._fd
        child = self._wait(lambda now: table.accept(fd, now))
        assert isinstance(child, int)
        sock = Socket(self.network, self.family, self.type, self.proto, fd=child)
        return sock, sock.getpeername()

    # ------------------------------------------------------------------ data

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:
        """Queue as much of ``data`` as the send buffer takes (blocking until it takes some)."""
        view = _flat(data)
        table, fd = self._table(), self._fd
        if self._timeout == 0 or flags & L.MSG_DONTWAIT:
            result = self.network.submit(
                lambda now: _outcome(table.write(fd, view, now, flags | L.MSG_DONTWAIT))
            )
            assert isinstance(result, int)
            return result

        def start(now: int) -> Call:
            call = Call(
                lambda n: _outcome(table.write(fd, view, n, flags | L.MSG_DONTWAIT)),
                blocking=True,
                name="send",
            )
            call.poll(now)
            return call

        result = self._wait(start)
        assert isinstance(result, int)
        return result

    def sendall(self, data: bytes | bytearray | memoryview, flags: int = 0) -> None:
        """Queue all of ``data``, blocking while the send buffer is full."""
        view = _flat(data)
        table, fd = self._table(), self._fd
        if self._timeout == 0 or flags & L.MSG_DONTWAIT:
            sent = self.send(view, flags)
            if sent < len(view):
                raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
            return
        self._wait(lambda now: table.write(fd, view, now, flags))

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes; ``b""`` at end of stream."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        table, fd = self._table(), self._fd
        data = self._wait(lambda now: table.read(fd, bufsize, now, flags))
        assert isinstance(data, bytes)
        return data

    def recv_into(self, buffer: bytearray | memoryview, nbytes: int = 0, flags: int = 0) -> int:
        """``recv`` into ``buffer``; returns the number of bytes stored."""
        view = _flat(buffer)
        data = self.recv(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data)

    # ------------------------------------------------------------------ closing

    def shutdown(self, how: int) -> None:
        """``SHUT_RD``, ``SHUT_WR`` (send FIN after the queued data) or ``SHUT_RDWR``."""
        table, fd = self._table(), self._fd
        self.network.submit(lambda now: table.shutdown(fd, how, now))

    def close(self) -> None:
        """Release the descriptor; the connection closes gracefully in the background
        (an abort with RST if unread data remains, or with SO_LINGER 0)."""
        if self._closed:
            return
        self._closed = True
        network, fd = self.network, self._fd
        if network._closed:
            return

        def close(now: int) -> None:
            network.table.close(fd, now)
            network._fail_waiters(fd)

        try:
            network.submit(close)
        except OSError as exc:
            if exc.errno not in (errno.EBADF, errno.EIO):
                raise

    def __enter__(self) -> Socket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Never touch the stack from a finaliser (it may run in the middle of the
        # driver's own work): queue the close for the driver's next turn.
        if getattr(self, "_closed", True):
            return
        self._closed = True
        network = self.network
        if not network._closed:
            fd = self._fd
            network.driver.call_soon(lambda: network._close_fd(fd))

    # ------------------------------------------------------------------ options and names

    def setsockopt(self, level: int, optname: int, value: int | bytes) -> None:
        """Set an option the socket table understands (Linux numbering, as ``socket``)."""
        table, fd = self._table(), self._fd
        converted: object = value
        if isinstance(value, bytes | bytearray):
            if level == L.SOL_SOCKET and optname == L.SO_LINGER and len(value) >= 8:
                onoff, linger = struct.unpack("ii", bytes(value[:8]))
                converted = {"onoff": onoff, "linger": linger}
            elif len(value) >= 4:
                converted = struct.unpack("i", bytes(value[:4]))[0]
            else:
                raise os_error(errno.EINVAL)
        self.network.submit(lambda _now: table.setsockopt(fd, level, optname, converted))

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> int | bytes:
        """An integer option (packed as 4 bytes when ``buflen`` is given)."""
        table, fd = self._table(), self._fd
        value = self.network.submit(lambda _now: table.getsockopt(fd, level, optname))
        if buflen:
            return struct.pack("i", value)[:buflen]
        return value

    def settimeout(self, value: float | None) -> None:
        """None: block; 0: non-blocking; > 0: raise ``TimeoutError`` after that long."""
        if value is not None:
            value = float(value)
            if value < 0:
                raise ValueError("Timeout value out of range")
        self._timeout = value
        self._apply_blocking()

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        return self._timeout != 0

    def getsockname(self) -> AddressTuple:
        table, fd = self._table(), self._fd

        def name(_now: int) -> tuple[Address, int]:
            sock = table.get(fd)
            if sock.conn is not None:
                return sock.conn.local_address, sock.conn.local_port
            if sock.bound is not None:
                return sock.bound
            unspecified = IPv6Address(0) if self.family == _socket.AF_INET6 else IPv4Address(0)
            return unspecified, 0

        return self._address(*self.network.submit(name))

    def getpeername(self) -> AddressTuple:
        table, fd = self._table(), self._fd

        def name(_now: int) -> tuple[Address, int]:
            conn = table.get(fd).conn
            if conn is None or (conn.error is not None and conn.state.name == "CLOSED"):
                raise os_error(errno.ENOTCONN)
            return conn.remote_address, conn.remote_port

        return self._address(*self.network.submit(name))

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        return f"<synack Socket {state} family={self.family}>"


# ---------------------------------------------------------------------- module functions


def create_connection(
    address: AddressTuple,
    timeout: float | object | None = _DEFAULT,
    source_address: AddressTuple | None = None,
    *,
    network: Network,
) -> Socket:
    """``socket.create_connection`` over ``network``."""
    return network.create_connection(address, timeout, source_address)


def socket(
    family: int = _socket.AF_INET,
    type: int = _socket.SOCK_STREAM,
    proto: int = 0,
    *,
    network: Network,
) -> Socket:
    """``socket.socket`` over ``network``."""
    return network.socket(family, type, proto)


def _parse_host(host: object, family: int | None = None) -> Address:
    if host == "":
        return IPv6Address(0) if family == _socket.AF_INET6 else IPv4Address(0)
    if isinstance(host, IPv4Address | IPv6Address):
        return host
    if not isinstance(host, str):
        raise TypeError(f"host must be a string, not {type(host).__name__}")
    try:
        return ip_address(host.split("%")[0])
    except ValueError:
        raise _socket.gaierror(
            _socket.EAI_NONAME, f"{host!r}: synack takes IP addresses only"
        ) from None


def _flat(data: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def _outcome(call: Call) -> Result:
    """The result of a call that completed at once, or its error raised."""
    if call.error is not None:
        raise call.error
    if not call.done:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
    assert call.result is not None
    return call.result
