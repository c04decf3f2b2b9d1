"""The asyncio streams API against the kernel: synack's ``open_connection`` to
a kernel server and a kernel client to synack's ``start_server``, IPv4 and
IPv6, with half-close (``write_eof``) and a transfer paced by ``drain()``.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import socket
from collections.abc import Iterator

import pytest
from interop_helpers import DEVICE, FAMILIES, KERNEL4, KERNEL6, WAIT, create_namespace
from kernel_peer import pattern

from synack.api.streams import AsyncNetwork, open_connection, start_server
from synack.net.tun import NetworkNamespace, TunConfig, TunDevice
from synack.tcp.config import TcpConfig

SIZE = 5_000_000


@pytest.fixture
def tun() -> Iterator[tuple[NetworkNamespace, TunDevice]]:
    namespace = create_namespace()
    try:
        device = namespace.open_tun(DEVICE, TunConfig(addresses=[f"{KERNEL4}/24", f"{KERNEL6}/64"]))
        try:
            yield namespace, device
        finally:
            device.close()
    finally:
        namespace.delete()


def network(device: TunDevice) -> AsyncNetwork:
    _, _, synack4 = FAMILIES["ipv4"]
    _, _, synack6 = FAMILIES["ipv6"]
    return AsyncNetwork(device, [synack4, synack6], config=TcpConfig())


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_open_connection_to_a_kernel_server(
    tun: tuple[NetworkNamespace, TunDevice], family_name: str
) -> None:
    namespace, device = tun
    family, kernel_address, synack_address = FAMILIES[family_name]

    def listen() -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((str(kernel_address), 7400))
        sock.listen(1)
        sock.setblocking(False)
        return sock

    listener = namespace.run(listen)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        net = network(device)
        try:
            connecting = asyncio.create_task(
                open_connection(str(kernel_address), 7400, network=net)
            )
            kernel, _ = await asyncio.wait_for(loop.sock_accept(listener), WAIT)
            reader, writer = await asyncio.wait_for(connecting, WAIT)
            assert writer.get_extra_info("peername")[:2] == (str(kernel_address), 7400)
            assert writer.get_extra_info("sockname")[0] == str(synack_address)
            data = pattern(SIZE)
            writer.write(data)
            writer.write_eof()  # FIN after the data: the kernel reads to end of stream
            digest = hashlib.sha256()
            total = 0
            while chunk := await asyncio.wait_for(loop.sock_recv(kernel, 1 << 20), WAIT):
                digest.update(chunk)
                total += len(chunk)
            assert total == SIZE and digest.digest() == hashlib.sha256(data).digest()
            await loop.sock_sendall(kernel, b"thanks\n")
            kernel.close()
            assert await asyncio.wait_for(reader.readline(), WAIT) == b"thanks\n"
            assert await asyncio.wait_for(reader.read(), WAIT) == b""
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), WAIT)
            assert await net.wait_quiet(WAIT)
        finally:
            net.close()
            listener.close()

    asyncio.run(main())


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_kernel_client_to_start_server(
    tun: tuple[NetworkNamespace, TunDevice], family_name: str
) -> None:
    namespace, device = tun
    _family, _, synack_address = FAMILIES[family_name]
    data = pattern(SIZE)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        digest = hashlib.sha256()
        header = await reader.readexactly(8)
        assert header == b"SYNACK01"
        while chunk := await reader.read(1 << 18):
            digest.update(chunk)
        writer.write(digest.hexdigest().encode() + b"\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    def kernel_client() -> str:
        with socket.create_connection((str(synack_address), 7401), timeout=WAIT) as sock:
            sock.sendall(b"SYNACK01" + data)
            sock.shutdown(socket.SHUT_WR)
            answer = bytearray()
            while chunk := sock.recv(4096):
                answer += chunk
            return answer.decode()

    async def main() -> None:
        net = network(device)
        try:
            server = await start_server(handle, str(synack_address), 7401, network=net)
            async with server:
                answer = await asyncio.wait_for(asyncio.to_thread(namespace.run, kernel_client), 60)
                assert answer == hashlib.sha256(data).hexdigest() + "\n"
            assert await net.wait_quiet(WAIT)
        finally:
            net.close()

    asyncio.run(main())


def test_open_connection_refused(tun: tuple[NetworkNamespace, TunDevice]) -> None:
    _, device = tun

    async def main() -> None:
        net = network(device)
        try:
            with pytest.raises(ConnectionRefusedError) as info:
                await asyncio.wait_for(open_connection(str(KERNEL4), 7402, network=net), WAIT)
            assert info.value.errno == errno.ECONNREFUSED
        finally:
            net.close()

    asyncio.run(main())
