"""asyncio streams over synack: ``open_connection`` and ``start_server``.

::

    net = AsyncNetwork(device, ["10.0.0.2"])      # inside a running event loop
    reader, writer = await open_connection("10.0.0.1", 80, network=net)
    writer.write(b"GET / HTTP/1.0\\r\\n\\r\\n")
    writer.write_eof()                             # half-close: FIN after the data
    page = await reader.read()
    writer.close()
    await writer.wait_closed()

The reader and writer *are* asyncio's ``StreamReader`` and ``StreamWriter``
(with ``read``, ``readexactly``, ``readline``, ``readuntil``, ``write``,
``drain``, ``write_eof``, ``close``, ``wait_closed``, ``get_extra_info``),
connected through ``asyncio.StreamReaderProtocol`` to a ``SynackTransport``:
an ``asyncio.Transport`` over one synack ``Connection``.

Driving.  ``AsyncNetwork`` runs the stack inside the event loop, in the
loop's thread: ``loop.add_reader`` on the device fd reads datagrams in
batches (``Driver.read_packets``), one ``loop.call_at`` handle is re-armed
only when ``stack.next_deadline()`` changes, and user calls (a write, a
close) schedule one flush with ``loop.call_soon``.  Nothing here is
thread-safe: use it from the loop's thread only (as asyncio itself).

Backpressure.  ``write`` hands data to the connection's send buffer at once
as far as it has room; the rest waits in the transport.  With the default
write-buffer limits (high = low = 0) the transport pauses the protocol as
soon as anything waits, so ``drain()`` returns only once the send buffer
(SO_SNDBUF) has taken every byte: the peer's window and congestion control
pace the writer.  Reading is paced the same way: when the ``StreamReader``
holds more than twice its ``limit`` it pauses the transport, which then
leaves data in the connection's receive buffer, so the advertised window
closes.

Errors are the standard library's: ``ConnectionRefusedError`` from
``open_connection`` when the peer answers with RST, ``ConnectionResetError``
from reads and ``drain`` after a reset, ``TimeoutError`` when the handshake
gives up.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from synack.net.driver import Driver
from synack.net.tun import PacketDevice
from synack.tcp.config import TcpConfig
from synack.tcp.connection import SHUT_WR, Address, Connection
from synack.tcp.errors import os_error
from synack.tcp.events import (
    Closed,
    ConnectionRequest,
    Established,
    Event,
    PeerFinished,
    Readable,
    Reset,
    Writable,
)
from synack.tcp.stack import Listener, Stack
from synack.tcp.state import State
from synack.trace.pcap import PcapWriter
from synack.trace.records import Record

DEFAULT_LIMIT = 2**16  # asyncio's StreamReader default
READ_CHUNK = 128 * 1024  # most bytes taken from the receive buffer per data_received

ClientConnected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None]


class AsyncNetwork:
    """One synack host on a packet device, driven by the running asyncio loop.

    ``addresses`` are synack's own; ``trace`` receives every record; ``pcap``
    records every datagram; ``own_device``: ``close()`` closes the device too.
    Create it in a coroutine (it attaches to the running loop).
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
    ) -> None:
        self.addresses = [ip_address(a) if isinstance(a, str) else a for a in addresses]
        if not self.addresses:
            raise ValueError("an AsyncNetwork needs at least one address")
        self.loop = asyncio.get_running_loop()
        self.stack = Stack(
            self.addresses,
            config=config,
            isn_secret=os.urandom(16),
            random=random.Random(),
            trace=trace,
        )
        self.device = device
        self.own_device = own_device
        self.driver = Driver(self.stack, device, on_event=self._on_event, pcap=pcap)
        self._transports: dict[Connection, SynackTransport] = {}
        self._connecting: dict[Connection, asyncio.Future[None]] = {}
        self._servers: dict[Listener, Server] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed: int | None = None
        self._flush_scheduled = False
        self._closed = False
        self.loop.add_reader(device.fileno(), self._on_readable)

    # ------------------------------------------------------------------ driving

    def _on_readable(self) -> None:
        self.driver.read_packets()
        self._after_input()

    def _on_timer(self) -> None:
        self._timer = None
        self._armed = None
        self._after_input()

    def _after_input(self) -> None:
        now = self.driver.clock()
        deadline = self.stack.next_deadline()
        if deadline is not None and deadline <= now:
            self.stack.on_timer(now)
        self.driver.flush(now)
        self._rearm()

    def schedule_flush(self) -> None:
        """Flush output soon (after a user call); coalesced per loop iteration."""
        if not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._closed:
            return
        self.driver.flush()
        self._rearm()

    def _rearm(self) -> None:
        deadline = self.stack.next_deadline()
        if deadline == self._armed:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = deadline
        if deadline is not None and not self._closed:
            delay = (deadline - self.driver.clock()) / 1e6
            self._timer = self.loop.call_at(self.loop.time() + max(delay, 0.0), self._on_timer)

    def _on_event(self, owner: Connection | Listener, event: Event) -> None:
        if isinstance(owner, Listener):
            server = self._servers.get(owner)
            if server is not None and isinstance(event, ConnectionRequest):
                server._accept_waiting()
            return
        transport = self._transports.get(owner)
        if transport is not None:
            transport._on_event(event)
            return
        future = self._connecting.get(owner)
        if future is None or future.done():
            return
        if isinstance(event, Established):
            future.set_result(None)
        elif isinstance(event, Reset):
            future.set_exception(event.error)
        elif isinstance(event, Closed):
            future.set_exception(owner.error or os_error(errno.ECONNREFUSED))

    # ------------------------------------------------------------------ connections

    def local_address(self, version: int) -> Address:
        for address in self.addresses:
            if address.version == version:
                return address
        raise os_error(errno.EADDRNOTAVAIL, f"no IPv{version} address on this network")

    async def open_connection(
        self,
        host: str | Address,
        port: int,
        *,
        limit: int = DEFAULT_LIMIT,
        local_addr: tuple[str, int] | None = None,
        config: TcpConfig | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect and return ``(reader, writer)`` once established."""
        self._check_open()
        remote = _address(host)
        if local_addr is not None:
            local = _address(local_addr[0]) if local_addr[0] else self.local_address(remote.version)
            local_port: int | None = local_addr[1] or None
        else:
            local, local_port = self.local_address(remote.version), None
        now = self.driver.clock()
        conn = self.stack.connect(local, remote, port, now, local_port, config=config)
        future: asyncio.Future[None] = self.loop.create_future()
        self._connecting[conn] = future
        self.schedule_flush()
        try:
            await future
        except asyncio.CancelledError:
            conn.abort(self.driver.clock())
            self.schedule_flush()
            raise
        finally:
            self._connecting.pop(conn, None)
        reader = asyncio.StreamReader(limit=limit, loop=self.loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=self.loop)
        transport = SynackTransport(self, conn, protocol)
        writer = asyncio.StreamWriter(transport, protocol, reader, self.loop)
        return reader, writer

    async def start_server(
        self,
        client_connected_cb: ClientConnected,
        host: str | Address | None,
        port: int,
        *,
        limit: int = DEFAULT_LIMIT,
        backlog: int = 100,
        start_serving: bool = True,
        config: TcpConfig | None = None,
    ) -> Server:
        """Listen on ``(host, port)`` (``None`` or ``""``: every address of the
        first address's family) and call ``client_connected_cb(reader, writer)``
        for every connection (a coroutine runs as a task)."""
        self._check_open()
        if host is None or host == "":
            address: Address = IPv6Address(0) if self.addresses[0].version == 6 else IPv4Address(0)
        else:
            address = _address(host)
        server = Server(self, address, port, client_connected_cb, limit, backlog, config)
        if start_serving:
            await server.start_serving()
        return server

    def _check_open(self) -> None:
        if self._closed:
            raise os_error(errno.EBADF, "the synack network is closed")

    def close(self) -> None:
        """Abort every live connection (RST), stop listening, detach from the loop."""
        if self._closed:
            return
        for server in list(self._servers.values()):
            server.close()
        now = self.driver.clock()
        for conn in self.stack.connections:
            if conn.state not in (State.CLOSED, State.TIME_WAIT):
                conn.abort(now)
        self.driver.flush(now)
        for transport in list(self._transports.values()):
            transport._lost(None)
        self._closed = True
        self.loop.remove_reader(self.device.fileno())
        if self._timer is not None:
            self._timer.cancel()
        self.driver.close()
        if self.own_device:
            self.device.close()

    async def wait_quiet(self, timeout: float | None = None) -> bool:
        """Wait until every connection is CLOSED or in TIME-WAIT (``timeout``
        seconds at most); returns whether that happened."""
        loop = self.loop
        end = None if timeout is None else loop.time() + timeout
        while any(c.state not in (State.CLOSED, State.TIME_WAIT) for c in self.stack.connections):
            if end is not None and loop.time() >= end:
                return False
            await asyncio.sleep(0.005)
        return True


class SynackTransport(asyncio.Transport):
    """An ``asyncio.Transport`` over one synack connection (see the module docstring)."""

    def __init__(
        self, network: AsyncNetwork, conn: Connection, protocol: asyncio.BaseProtocol
    ) -> None:
        super().__init__(
            {
                "peername": _name(conn.remote_address, conn.remote_port),
                "sockname": _name(conn.local_address, conn.local_port),
                "socket": None,
                "synack_connection": conn,
            }
        )
        self._network = network
        self._conn = conn
        self._protocol = protocol
        self._pending: deque[memoryview] = deque()
        self._pending_size = 0
        self._high = 0
        self._low = 0
        self._writing_paused = False
        self._reading = True
        self._closing = False
        self._eof_written = False
        self._eof_received = False
        self._connection_lost = False
        network._transports[conn] = self
        protocol.connection_made(self)
        self._pull()

    # ------------------------------------------------------------------ events

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Readable | PeerFinished):
            self._pull()
        elif isinstance(event, Writable):
            self._push()
        elif isinstance(event, Reset):
            self._lost(event.error)
        elif isinstance(event, Closed):
            self._lost(self._conn.error)

    def _now(self) -> int:
        return self._network.driver.clock()

    def _pull(self) -> None:
        """Hand in-order data (then end of stream) to the protocol while reading."""
        conn = self._conn
        protocol = self._protocol
        assert isinstance(protocol, asyncio.Protocol)
        while self._reading and not self._connection_lost and not self._eof_received:
            try:
                data = conn.recv(READ_CHUNK, self._now())
            except BlockingIOError:
                break
            except OSError as exc:
                self._lost(exc)
                break
            if data:
                protocol.data_received(data)
                continue
            self._eof_received = True
            keep_open = protocol.eof_received()
            if not keep_open:
                self.close()
            break
        self._network.schedule_flush()  # reading may have opened the window

    def _push(self) -> None:
        """Move waiting data into the send buffer; pause or resume the writer."""
        conn = self._conn
        pending = self._pending
        now = self._now()
        while pending:
            chunk = pending[0]
            try:
                taken = conn.send(chunk, now)
            except OSError as exc:
                pending.clear()
                self._pending_size = 0
                self._lost(exc)
                return
            if not taken:
                break
            self._pending_size -= taken
            if taken == len(chunk):
                pending.popleft()
            else:
                pending[0] = chunk[taken:]
        self._network.schedule_flush()
        if not pending and self._closing:
            self._finish_close()
            return
        if not pending and self._eof_written:
            self._shutdown_write()
        self._update_flow()

    def _update_flow(self) -> None:
        protocol = self._protocol
        if self._connection_lost:
            return
        size = self._pending_size
        if not self._writing_paused and size > self._high and self._pending:
            self._writing_paused = True
            protocol.pause_writing()
        elif self._writing_paused and size <= self._low:
            self._writing_paused = False
            protocol.resume_writing()

    def _shutdown_write(self) -> None:
        conn = self._conn
        if conn.fin_queued or conn.state in (State.CLOSED, State.TIME_WAIT):
            return
        try:
            conn.shutdown(SHUT_WR, self._now())
        except OSError as exc:
            self._lost(exc)
            return
        self._network.schedule_flush()

    def _finish_close(self) -> None:
        conn = self._conn
        conn.close(self._now())
        self._network.schedule_flush()
        self._network.loop.call_soon(self._lost, None)

    def _lost(self, exc: BaseException | None) -> None:
        if self._connection_lost:
            return
        self._connection_lost = True
        self._closing = True
        self._pending.clear()
        self._pending_size = 0
        self._network._transports.pop(self._conn, None)
        if self._writing_paused:
            self._writing_paused = False  # FlowControlMixin wakes drain() itself
        self._protocol.connection_lost(exc if isinstance(exc, Exception) else None)

    # ------------------------------------------------------------------ Transport API

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__}")
        if self._eof_written:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._closing or self._connection_lost or not data:
            return
        chunk = memoryview(data if isinstance(data, bytes) else bytes(data))
        if chunk.ndim != 1 or chunk.itemsize != 1:
            chunk = chunk.cast("B")
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if len(self._pending) == 1:
            self._push()
        else:
            self._update_flow()

    def write_eof(self) -> None:
        """Half-close: FIN after everything written so far."""
        if self._eof_written or self._closing:
            return
        self._eof_written = True
        if not self._pending:
            self._shutdown_write()

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        """Close after the waiting data went into the send buffer (FIN follows it);
        ``connection_lost(None)`` is called soon after."""
        if self._closing:
            return
        self._closing = True
        self._reading = False
        if not self._pending:
            self._finish_close()

    def abort(self) -> None:
        """Reset the connection at once (RST) and drop the waiting data."""
        if self._connection_lost:
            return
        self._conn.abort(self._now())
        self._network.schedule_flush()
        self._pending.clear()
        self._pending_size = 0
        self._network.loop.call_soon(self._lost, None)
        self._closing = True

    def is_closing(self) -> bool:
        return self._closing

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if self._reading or self._closing:
            return
        self._reading = True
        self._pull()

    def is_reading(self) -> bool:
        return self._reading and not self._closing

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def get_write_buffer_size(self) -> int:
        """Bytes waiting in the transport (not yet taken by the send buffer)."""
        return self._pending_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Pause the writer above ``high`` waiting bytes, resume at ``low`` (default 0, 0)."""
        if high is None:
            high = 0 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._update_flow()

    def __repr__(self) -> str:
        return f"<SynackTransport {self._conn!r}>"


class Server:
    """What ``start_server`` returns, shaped like ``asyncio.Server``."""

    def __init__(
        self,
        network: AsyncNetwork,
        address: Address,
        port: int,
        callback: ClientConnected,
        limit: int,
        backlog: int,
        config: TcpConfig | None,
    ) -> None:
        self._network = network
        self._callback = callback
        self._limit = limit
        self.address = address
        self.port = port
        self._backlog = backlog
        self._config = config
        self._listener: Listener | None = None
        self._closed = False
        self._serving_future: asyncio.Future[None] | None = None

    @property
    def sockets(self) -> tuple[Any, ...]:
        """Always empty: synack connections are not OS sockets (see ``address``/``port``)."""
        return ()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._network.loop

    def is_serving(self) -> bool:
        return self._listener is not None and not self._closed

    async def start_serving(self) -> None:
        if self._listener is not None or self._closed:
            return
        stack = self._network.stack
        self._listener = stack.listen(
            self.address, self.port, self._backlog, reuse_address=True, config=self._config
        )
        self._network._servers[self._listener] = self

    def _accept_waiting(self) -> None:
        listener = self._listener
        if listener is None:
            return
        network = self._network
        while True:
            try:
                conn = network.stack.accept(listener)
            except OSError:
                return
            reader = asyncio.StreamReader(limit=self._limit, loop=network.loop)
            protocol = asyncio.StreamReaderProtocol(reader, self._callback, loop=network.loop)
            SynackTransport(network, conn, protocol)

    def close(self) -> None:
        """Stop listening (connections already accepted stay open)."""
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._network._servers.pop(self._listener, None)
            self._network.stack.close_listener(self._listener, self._network.driver.clock())
            self._network.schedule_flush()
        if self._serving_future is not None and not self._serving_future.done():
            self._serving_future.cancel()

    async def wait_closed(self) -> None:
        return None

    async def serve_forever(self) -> None:
        await self.start_serving()
        self._serving_future = self._network.loop.create_future()
        try:
            await self._serving_future
        except asyncio.CancelledError:
            self.close()
            raise

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


# ---------------------------------------------------------------------- module functions


async def open_connection(
    host: str | Address,
    port: int,
    *,
    network: AsyncNetwork,
    limit: int = DEFAULT_LIMIT,
    local_addr: tuple[str, int] | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` over ``network``."""
    return await network.open_connection(host, port, limit=limit, local_addr=local_addr)


async def start_server(
    client_connected_cb: ClientConnected,
    host: str | Address | None,
    port: int,
    *,
    network: AsyncNetwork,
    limit: int = DEFAULT_LIMIT,
    backlog: int = 100,
    start_serving: bool = True,
) -> Server:
    """``asyncio.start_server`` over ``network``."""
    return await network.start_server(
        client_connected_cb,
        host,
        port,
        limit=limit,
        backlog=backlog,
        start_serving=start_serving,
    )


def _address(host: str | Address) -> Address:
    if isinstance(host, IPv4Address | IPv6Address):
        return host
    try:
        return ip_address(host.split("%")[0])
    except ValueError:
        raise OSError(errno.EINVAL, f"{host!r}: synack takes IP addresses only") from None


def _name(address: Address, port: int) -> tuple[Any, ...]:
    if address.version == 6:
        return (str(address), port, 0, 0)
    return (str(address), port)
