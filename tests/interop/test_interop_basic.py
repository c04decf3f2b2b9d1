"""synack and the Linux kernel talk over a TUN device: both roles, IPv4 and IPv6,
and connection refusal both ways (RFC 9293 3.5, 3.10.7.1: a SYN to a port with
no listener is answered by RST and the opener reports "connection refused").

Needs root (each test runs in a private network namespace); skipped otherwise.
"""

from __future__ import annotations

import errno
import socket
import threading

import pytest
from interop_helpers import FAMILIES, WAIT, Link

from synack.tcp.state import State


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_synack_client_to_kernel_server(link: Link, family_name: str) -> None:
    family, kernel_address, synack_address = FAMILIES[family_name]
    listener = link.kernel_listener(family, kernel_address, 7001)
    client = link.network.create_connection((str(kernel_address), 7001), timeout=WAIT)
    server, peer = listener.accept()
    link.cleanups.append(server.close)
    assert peer[0] == str(synack_address)
    assert client.getpeername()[:2] == (str(kernel_address), 7001)
    assert client.getsockname()[:2] == (str(synack_address), peer[1])

    client.sendall(b"hello kernel")
    assert server.recv(100) == b"hello kernel"
    server.sendall(b"hello synack")
    assert client.recv(100) == b"hello synack"

    client.shutdown(socket.SHUT_WR)  # FIN from synack: the kernel reads end of stream
    assert server.recv(100) == b""
    server.sendall(b"after your FIN")  # half-closed: data still flows the other way
    assert client.recv(100) == b"after your FIN"
    server.close()
    assert client.recv(100) == b""
    client.close()
    four_tuple = (synack_address, peer[1], kernel_address, 7001)
    link.wait_synack_state(four_tuple, State.TIME_WAIT)  # synack closed first


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_kernel_client_to_synack_server(link: Link, family_name: str) -> None:
    family, _kernel_address, synack_address = FAMILIES[family_name]
    listener = link.network.socket(family)
    listener.bind((str(synack_address), 7002))
    listener.listen(4)
    listener.settimeout(WAIT)

    client = link.kernel_connect(family, synack_address, 7002)
    client_port = client.getsockname()[1]
    server, peer = listener.accept()
    assert peer[:2] == client.getsockname()[:2]
    assert server.getsockname()[:2] == (str(synack_address), 7002)

    client.sendall(b"ping" * 1000)
    received = bytearray()
    server.settimeout(WAIT)
    while len(received) < 4000:
        received += server.recv(65536)
    assert received == b"ping" * 1000
    server.sendall(b"pong" * 1000)
    echoed = bytearray()
    while len(echoed) < 4000:
        echoed += client.recv(65536)
    assert echoed == b"pong" * 1000

    client.close()  # the kernel closes first: synack reads end of stream
    assert server.recv(100) == b""
    server.close()
    link.wait_kernel_state(client_port, 7002, "TIME-WAIT")
    listener.close()


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_kernel_connect_to_closed_synack_port_is_refused(link: Link, family_name: str) -> None:
    family, _, synack_address = FAMILIES[family_name]
    with pytest.raises(ConnectionRefusedError) as info:
        link.kernel_connect(family, synack_address, 7003)
    assert info.value.errno == errno.ECONNREFUSED


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_synack_connect_to_closed_kernel_port_is_refused(link: Link, family_name: str) -> None:
    _, kernel_address, _ = FAMILIES[family_name]
    with pytest.raises(ConnectionRefusedError) as info:
        link.network.create_connection((str(kernel_address), 7004), timeout=WAIT)
    assert info.value.errno == errno.ECONNREFUSED
    sock = link.network.socket(FAMILIES[family_name][0])
    assert sock.connect_ex((str(kernel_address), 7004)) == errno.ECONNREFUSED
    sock.close()


def test_kernel_reset_reaches_synack_as_connection_reset(link: Link) -> None:
    family, kernel_address, _ = FAMILIES["ipv4"]
    listener = link.kernel_listener(family, kernel_address, 7005)
    client = link.network.create_connection((str(kernel_address), 7005), timeout=WAIT)
    server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    server.close()  # SO_LINGER 0: the kernel sends RST
    client.settimeout(WAIT)
    with pytest.raises(ConnectionResetError):
        client.recv(100)
    with pytest.raises(BrokenPipeError):
        client.sendall(b"x")  # after the reported reset, as Linux (EPIPE)
    client.close()


def test_many_concurrent_connections(link: Link) -> None:
    """Eight kernel clients at once against one synack listener, each echoed."""
    family, _kernel_address, synack_address = FAMILIES["ipv4"]
    listener = link.network.socket(family)
    listener.bind((str(synack_address), 7006))
    listener.listen(16)
    listener.settimeout(WAIT)
    errors: list[BaseException] = []

    def serve_one() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(WAIT)
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=serve_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    clients = [link.kernel_connect(family, synack_address, 7006) for _ in range(8)]
    for index, client in enumerate(clients):
        client.sendall(f"client {index}\n".encode() * 100)
        client.shutdown(socket.SHUT_WR)
    for index, client in enumerate(clients):
        echoed = bytearray()
        while data := client.recv(65536):
            echoed += data
        assert echoed == f"client {index}\n".encode() * 100
    for thread in threads:
        thread.join(WAIT)
    assert not errors
    listener.close()
