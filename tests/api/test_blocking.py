"""The blocking socket API: two synack networks back to back over a datagram
socketpair (no root needed), each with its driver thread.

Checks the standard library's shapes: return values, addresses, and the
exceptions (ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
TimeoutError "timed out", BlockingIOError, OSError with errno).
"""

from __future__ import annotations

import errno
import gc
import hashlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from synack.api.blocking import Network, Socket, create_connection
from synack.api.blocking import socket as synack_socket
from synack.net.tun import PacketPair
from synack.tcp.config import MS, TcpConfig
from synack.tcp.state import State

A4, B4 = "10.0.0.1", "10.0.0.2"
A6, B6 = "fd00::1", "fd00::2"
WAIT = 10.0


class Pair:
    def __init__(self, config: TcpConfig | None = None) -> None:
        a, b = PacketPair.create()
        self.a = Network(a, [A4, A6], config=config, own_device=True)
        self.b = Network(b, [B4, B6], config=config, own_device=True)

    def listener(self, port: int, family: int = socket.AF_INET, backlog: int = 8) -> Socket:
        sock = self.b.socket(family)
        sock.bind((B6 if family == socket.AF_INET6 else B4, port))
        sock.listen(backlog)
        sock.settimeout(WAIT)
        return sock

    def connected(self, port: int = 80, family: int = socket.AF_INET) -> tuple[Socket, Socket]:
        listener = self.listener(port, family)
        host = B6 if family == socket.AF_INET6 else B4
        client = self.a.create_connection((host, port), timeout=WAIT)
        server, _ = listener.accept()
        listener.close()
        server.settimeout(WAIT)
        return client, server

    def close(self) -> None:
        self.a.close()
        self.b.close()


@pytest.fixture
def pair() -> Iterator[Pair]:
    opened = Pair()
    try:
        yield opened
    finally:
        opened.close()


def recv_exactly(sock: Socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "unexpected end of stream"
        data += chunk
    return bytes(data)


def test_connect_accept_and_exchange(pair: Pair) -> None:
    client, server = pair.connected()
    assert client.getpeername() == (B4, 80)
    assert server.getsockname() == (B4, 80)
    assert server.getpeername() == client.getsockname()
    assert client.send(b"hello") == 5
    assert recv_exactly(server, 5) == b"hello"
    server.sendall(b"world")
    assert recv_exactly(client, 5) == b"world"
    client.close()
    assert server.recv(10) == b""  # end of stream after the peer's FIN
    server.close()


def test_ipv6_addresses_are_four_tuples(pair: Pair) -> None:
    client, server = pair.connected(81, socket.AF_INET6)
    assert client.getpeername() == (B6, 81, 0, 0)
    host, port, flow, scope = server.getpeername()
    assert (host, flow, scope) == (A6, 0, 0) and port == client.getsockname()[1]
    client.close()
    server.close()


def test_module_functions(pair: Pair) -> None:
    listener = pair.listener(82)
    sock = synack_socket(socket.AF_INET, network=pair.a)
    sock.settimeout(WAIT)
    sock.connect((B4, 82))
    other = create_connection((B4, 82), timeout=WAIT, network=pair.a)
    for _ in range(2):
        conn, _ = listener.accept()
        conn.close()
    sock.close()
    other.close()


def test_connect_to_a_closed_port_is_refused(pair: Pair) -> None:
    with pytest.raises(ConnectionRefusedError) as info:
        pair.a.create_connection((B4, 9), timeout=WAIT)
    assert info.value.errno == errno.ECONNREFUSED
    sock = pair.a.socket()
    assert sock.connect_ex((B4, 9)) == errno.ECONNREFUSED
    sock.close()


def test_connect_timeout() -> None:
    pair = Pair(TcpConfig(initial_rto=50 * MS))
    try:
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="timed out"):
            pair.a.create_connection(("10.0.0.99", 80), timeout=0.3)  # nobody there
        assert 0.25 < time.monotonic() - start < 5
        with pytest.raises(socket.timeout):  # the same class
            pair.a.create_connection(("10.0.0.99", 80), timeout=0.1)
    finally:
        pair.close()


def test_recv_timeout_leaves_the_socket_usable(pair: Pair) -> None:
    client, server = pair.connected()
    client.settimeout(0.1)
    assert client.gettimeout() == 0.1
    with pytest.raises(TimeoutError, match="timed out"):
        client.recv(10)
    server.sendall(b"late")
    client.settimeout(WAIT)
    assert recv_exactly(client, 4) == b"late"


def test_accept_timeout(pair: Pair) -> None:
    listener = pair.listener(83)
    listener.settimeout(0.05)
    with pytest.raises(TimeoutError):
        listener.accept()


def test_non_blocking_calls_raise_blocking_io_error(pair: Pair) -> None:
    client, _server = pair.connected()
    client.setblocking(False)
    assert not client.getblocking() and client.gettimeout() == 0.0
    with pytest.raises(BlockingIOError):
        client.recv(10)
    listener = pair.listener(84)
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()
    sock = pair.a.socket()
    sock.setblocking(False)
    with pytest.raises(BlockingIOError) as info:
        sock.connect((B4, 84))
    assert info.value.errno == errno.EINPROGRESS


def test_non_blocking_send_takes_what_fits() -> None:
    pair = Pair(TcpConfig(send_buffer=8192, receive_buffer=8192))
    try:
        client, _server = pair.connected()
        client.setblocking(False)
        taken = client.send(b"x" * 100_000)
        assert 0 < taken <= 8192
        with pytest.raises(BlockingIOError):
            client.sendall(b"y" * 100_000)
    finally:
        pair.close()


def test_sendall_blocks_until_the_peer_reads() -> None:
    """Backpressure: a 2 MB sendall through 16 KB buffers completes only as the peer reads."""
    pair = Pair(TcpConfig(send_buffer=16384, receive_buffer=16384))
    try:
        client, server = pair.connected()
        data = bytes(range(256)) * 8192  # 2 MiB
        done = threading.Event()

        def send() -> None:
            client.sendall(data)
            client.shutdown(socket.SHUT_WR)
            done.set()

        thread = threading.Thread(target=send)
        thread.start()
        time.sleep(0.2)
        assert not done.is_set()  # stuck: the peer has not read
        digest = hashlib.sha256()
        total = 0
        while chunk := server.recv(65536):
            digest.update(chunk)
            total += len(chunk)
        thread.join(WAIT)
        assert done.is_set()
        assert total == len(data) and digest.digest() == hashlib.sha256(data).digest()
    finally:
        pair.close()


def test_send_after_shutdown_is_a_broken_pipe(pair: Pair) -> None:
    client, server = pair.connected()
    client.shutdown(socket.SHUT_WR)
    with pytest.raises(BrokenPipeError):
        client.send(b"x")
    assert server.recv(1) == b""
    server.sendall(b"still open this way")
    assert recv_exactly(client, 19) == b"still open this way"


def test_peer_abort_is_a_connection_reset(pair: Pair) -> None:
    client, server = pair.connected()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    server.close()  # RST
    client.settimeout(WAIT)
    with pytest.raises(ConnectionResetError):
        client.recv(10)


def test_listen_on_port_zero_picks_a_port(pair: Pair) -> None:
    listener = pair.b.socket()
    listener.bind((B4, 0))
    listener.listen()
    host, port = listener.getsockname()
    assert host == B4 and 32768 <= port <= 60999
    client = pair.a.create_connection((B4, port), timeout=WAIT)
    listener.settimeout(WAIT)
    conn, _ = listener.accept()
    conn.close()
    client.close()


def test_bind_errors(pair: Pair) -> None:
    first = pair.listener(85)
    second = pair.b.socket()
    with pytest.raises(OSError) as info:
        second.bind((B4, 85))
    assert info.value.errno == errno.EADDRINUSE
    third = pair.b.socket()
    with pytest.raises(OSError) as info:
        third.bind(("10.9.9.9", 85))
    assert info.value.errno == errno.EADDRNOTAVAIL
    with pytest.raises(socket.gaierror):
        third.connect(("example.invalid", 80))
    first.close()


def test_options(pair: Pair) -> None:
    client, _ = pair.connected()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 131072  # doubled, as Linux
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR, 4) == b"\0\0\0\0"
    with pytest.raises(OSError) as info:
        client.setsockopt(socket.SOL_SOCKET, 9999, 1)
    assert info.value.errno == errno.ENOPROTOOPT


def test_recv_into_and_peek(pair: Pair) -> None:
    client, server = pair.connected()
    server.sendall(b"abcdef")
    time.sleep(0.05)
    assert client.recv(3, socket.MSG_PEEK) == b"abc"
    buffer = bytearray(10)
    count = client.recv_into(buffer)
    assert buffer[:count] == b"abcdef"[:count]


def test_close_wakes_a_blocked_reader(pair: Pair) -> None:
    client, _ = pair.connected()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            client.recv(10)
        except OSError as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.1)
    client.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert errors and errors[0].errno == errno.EBADF
    with pytest.raises(OSError):
        client.recv(1)


def test_closed_network_refuses_calls() -> None:
    pair = Pair()
    client, _ = pair.connected()
    pair.close()
    with pytest.raises(OSError) as info:
        client.send(b"x")
    assert info.value.errno == errno.EBADF


def test_states_follow_the_close(pair: Pair) -> None:
    client, server = pair.connected()
    local = client.getsockname()
    client.close()
    assert server.recv(1) == b""
    server.close()
    from ipaddress import ip_address

    key = (ip_address(A4), local[1], ip_address(B4), 80)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with pair.a.lock:
            conn = pair.a.stack.connection(key)
            if conn is not None and conn.state is State.TIME_WAIT:
                break
        time.sleep(0.01)
    else:
        pytest.fail("the client did not reach TIME-WAIT")


def test_many_threads_many_connections(pair: Pair) -> None:
    listener = pair.listener(86, backlog=32)

    def serve() -> None:
        for _ in range(10):
            conn, _ = listener.accept()
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)

    server_thread = threading.Thread(target=serve)
    server_thread.start()
    results: dict[int, bytes] = {}

    def client(index: int) -> None:
        with pair.a.create_connection((B4, 86), timeout=WAIT) as sock:
            sock.settimeout(WAIT)
            message = f"client {index} ".encode() * 500
            sock.sendall(message)
            sock.shutdown(socket.SHUT_WR)
            received = bytearray()
            while data := sock.recv(4096):
                received += data
            results[index] = bytes(received)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    server_thread.join(WAIT)
    assert results == {i: f"client {i} ".encode() * 500 for i in range(10)}


def test_a_dropped_socket_is_closed_by_the_driver(pair: Pair) -> None:
    client, server = pair.connected()
    port = client.getsockname()[1]
    del client  # no close(): the finaliser queues it for the driver thread
    gc.collect()
    assert server.recv(1) == b""  # the FIN arrived
    with pair.a.lock:
        assert all(
            fd_sock.conn is None or fd_sock.conn.local_port != port
            for fd_sock in pair.a.table.sockets.values()
        )
