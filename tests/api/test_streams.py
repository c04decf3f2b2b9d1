"""The asyncio streams API: two synack networks in one event loop, joined by a
datagram socketpair (no root needed).

The reader and writer are asyncio's own classes, so these tests check the
transport under them: data both ways, half-close, real backpressure from the
send buffer in ``drain()``, read pausing that closes the window, resets,
refusal, and the server object.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
from collections.abc import Awaitable, Callable

import pytest

from synack.api.streams import AsyncNetwork, SynackTransport, open_connection, start_server
from synack.net.tun import PacketPair
from synack.tcp import rcvwindow
from synack.tcp.config import MS, TcpConfig
from synack.tcp.state import State

A4, B4 = "10.0.0.1", "10.0.0.2"
A6, B6 = "fd00::1", "fd00::2"
WAIT = 10.0

Body = Callable[[AsyncNetwork, AsyncNetwork], Awaitable[None]]


def run(body: Body, config: TcpConfig | None = None) -> None:
    async def main() -> None:
        a, b = PacketPair.create()
        net_a = AsyncNetwork(a, [A4, A6], config=config, own_device=True)
        net_b = AsyncNetwork(b, [B4, B6], config=config, own_device=True)
        try:
            await asyncio.wait_for(body(net_a, net_b), 30)
        finally:
            net_a.close()
            net_b.close()

    asyncio.run(main())


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def test_echo_with_half_close() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        server = await start_server(echo, B4, 80, network=b)
        reader, writer = await open_connection(B4, 80, network=a)
        assert writer.get_extra_info("peername") == (B4, 80)
        assert writer.get_extra_info("sockname")[0] == A4
        assert writer.can_write_eof()
        writer.write(b"line one\nline two\n")
        assert await reader.readline() == b"line one\n"
        assert await reader.readexactly(9) == b"line two\n"
        writer.write(b"last words")
        writer.write_eof()  # FIN after the data; the echo server then closes
        assert await reader.read() == b"last words"
        assert reader.at_eof()
        writer.close()
        await writer.wait_closed()
        assert await a.wait_quiet(WAIT) and await b.wait_quiet(WAIT)
        states = {c.state for c in a.stack.connections}
        assert states <= {State.TIME_WAIT}  # the client's FIN went first
        server.close()
        await server.wait_closed()

    run(body)


def test_ipv6_names() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        names: list[object] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            names.append(writer.get_extra_info("peername"))
            writer.close()

        await start_server(handle, B6, 81, network=b)
        reader, writer = await open_connection(B6, 81, network=a)
        assert writer.get_extra_info("peername") == (B6, 81, 0, 0)
        assert await reader.read() == b""
        assert names == [writer.get_extra_info("sockname")]
        writer.close()

    run(body)


def test_big_transfer_both_ways() -> None:
    data = bytes(range(256)) * 8192  # 2 MiB

    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        await start_server(echo, B4, 82, network=b)
        reader, writer = await open_connection(B4, 82, network=a)

        async def send() -> None:
            writer.write(data)
            await writer.drain()
            writer.write_eof()

        sending = asyncio.create_task(send())
        echoed = await reader.read(-1)  # everything until EOF
        await sending
        assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
        writer.close()

    run(body)


def test_drain_waits_for_room_in_the_send_buffer() -> None:
    """Real backpressure: with a peer that does not read, drain() stays pending
    once the send buffer and the peer's window are full; reading releases it."""
    config = TcpConfig(send_buffer=16384, receive_buffer=16384)

    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await accepted.put((reader, writer))

        await start_server(hold, B4, 83, network=b, limit=1024)
        _reader, writer = await open_connection(B4, 83, network=a)
        peer_reader, _ = await accepted.get()
        writer.write(b"z" * 1_000_000)
        transport = writer.transport
        assert isinstance(transport, SynackTransport)
        assert transport.get_write_buffer_size() > 900_000  # the send buffer took 16 KB
        drain = asyncio.create_task(writer.drain())
        await asyncio.sleep(0.3)
        assert not drain.done()
        # The peer's reader (limit 1 KiB) paused its transport: synack's receive
        # buffer fills (Linux counts its memory, skb truesize, not only bytes)
        # and the advertised window closes: no new window is offered, and what
        # is left of the last one (never shrunk) is less than a segment.
        peer_conn = next(iter(b.stack.connections))
        assert rcvwindow.select_window(peer_conn, effects=False) == 0
        assert peer_conn.rcv_adv - peer_conn.rcv_nxt < peer_conn.mss_advertised
        received = 0
        while received < 1_000_000:
            received += len(await peer_reader.read(65536))
        await asyncio.wait_for(drain, WAIT)
        assert transport.get_write_buffer_size() == 0

    run(body, config)


def test_refused() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        with pytest.raises(ConnectionRefusedError) as info:
            await open_connection(B4, 9, network=a)
        assert info.value.errno == errno.ECONNREFUSED

    run(body)


def test_handshake_timeout() -> None:
    config = TcpConfig(initial_rto=20 * MS, min_rto=10 * MS, syn_retries=2)

    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        with pytest.raises(TimeoutError):
            await open_connection("10.0.0.99", 80, network=a)  # nobody answers

    run(body, config)


def test_cancelled_open_aborts_the_attempt() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(open_connection("10.0.0.99", 80, network=a), 0.05)
        await asyncio.sleep(0)
        assert all(c.state is State.CLOSED for c in a.stack.connections)

    run(body)


def test_reset_reaches_the_reader_and_drain() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        async def abort(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(4)
            writer.transport.abort()  # RST

        await start_server(abort, B4, 84, network=b)
        reader, writer = await open_connection(B4, 84, network=a)
        writer.write(b"ping")
        with pytest.raises(ConnectionResetError):
            await reader.read(10)
        with pytest.raises(ConnectionResetError):
            writer.write(b"more")
            await writer.drain()

    run(body)


def test_server_close_and_serve_forever() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        server = await start_server(echo, None, 85, network=b)  # every IPv4 address
        assert server.is_serving() and server.sockets == ()
        forever = asyncio.create_task(server.serve_forever())
        reader, writer = await open_connection(B4, 85, network=a)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        forever.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forever
        assert not server.is_serving()
        with pytest.raises(ConnectionRefusedError):
            await open_connection(B4, 85, network=a)
        writer.close()

    run(body)


def test_close_discards_nothing_already_written() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            got.set_result(await reader.read())
            writer.close()

        await start_server(collect, B4, 86, network=b)
        _, writer = await open_connection(B4, 86, network=a)
        writer.write(b"q" * 500_000)
        writer.close()  # no drain: the data still goes, then the FIN
        await writer.wait_closed()
        assert await asyncio.wait_for(got, WAIT) == b"q" * 500_000

    run(body)


def test_write_after_write_eof_is_an_error() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        await start_server(echo, B4, 87, network=b)
        _, writer = await open_connection(B4, 87, network=a)
        writer.write_eof()
        with pytest.raises(RuntimeError):
            writer.write(b"x")
        writer.close()

    run(body)


def test_only_ip_literals() -> None:
    async def body(a: AsyncNetwork, b: AsyncNetwork) -> None:
        with pytest.raises(OSError):
            await open_connection("localhost", 80, network=a)

    run(body)
