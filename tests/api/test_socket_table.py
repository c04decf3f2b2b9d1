"""The POSIX-style socket table: fds, blocking calls and Linux's errnos."""

from __future__ import annotations

import errno
from ipaddress import IPv4Address

import pytest

from synack.api import linux as L
from synack.api.sockets import Call, SocketTable
from synack.tcp.stack import Stack

A = IPv4Address("192.0.2.1")
B = IPv4Address("192.0.2.2")


class Pair:
    """Two socket tables whose stacks are wired back to back (no delay)."""

    def __init__(self) -> None:
        self.a = SocketTable(Stack([A]), A)
        self.b = SocketTable(Stack([B]), B)
        self.now = 0

    def pump(self, calls: tuple[Call, ...] = ()) -> None:
        moved = True
        while moved:
            moved = False
            for src, dst in ((self.a.stack, self.b.stack), (self.b.stack, self.a.stack)):
                for packet in src.packets_to_send(self.now):
                    moved = True
                    dst.receive(packet, self.now)
        for call in calls:
            call.poll(self.now)

    def server(self, port: int = 8080) -> int:
        fd = self.b.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
        self.b.setsockopt(fd, L.SOL_SOCKET, L.SO_REUSEADDR, [1])
        self.b.bind(fd, B, port)
        self.b.listen(fd, 1)
        return fd


def established(pair: Pair) -> tuple[int, int]:
    listen_fd = pair.server()
    client = pair.a.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    connect = pair.a.connect(client, B, 8080, pair.now)
    assert not connect.done  # a blocking connect waits for the handshake
    pair.pump((connect,))
    assert connect.done and connect.result == 0
    accept = pair.b.accept(listen_fd, pair.now)
    assert accept.done
    assert isinstance(accept.result, int)
    return client, accept.result


def test_fds_start_at_3_and_reuse_the_lowest() -> None:
    table = SocketTable(Stack([A]), A)
    assert table.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP) == 3
    assert table.socket(L.AF_INET, L.SOCK_STREAM, 0) == 4
    table.close(3, 0)
    assert table.socket(L.AF_INET, L.SOCK_STREAM, 0) == 3


def test_bad_fd_is_ebadf() -> None:
    table = SocketTable(Stack([A]), A)
    with pytest.raises(OSError) as info:
        table.close(9, 0)
    assert info.value.errno == errno.EBADF


def test_connect_accept_write_read_close() -> None:
    pair = Pair()
    client, server = established(pair)
    write = pair.a.write(client, b"x" * 1000, pair.now)
    assert write.done and write.result == 1000
    pair.pump()
    assert pair.b.ioctl(server, L.SIOCINQ) == 1000
    read = pair.b.read(server, 600, pair.now)
    assert read.result == b"x" * 600
    assert pair.b.read(server, 600, pair.now).result == b"x" * 400
    pair.a.close(client, pair.now)
    pair.pump()
    assert pair.b.read(server, 100, pair.now).result == b""  # end of stream


def test_blocking_read_waits_for_data() -> None:
    pair = Pair()
    client, server = established(pair)
    read = pair.b.read(server, 100, pair.now)
    assert not read.done
    pair.a.write(client, b"hello", pair.now)
    pair.pump((read,))
    assert read.done and read.result == b"hello"


def test_nonblocking_read_is_eagain_and_connect_einprogress() -> None:
    pair = Pair()
    pair.server()
    fd = pair.a.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    pair.a.fcntl(fd, L.F_SETFL, L.O_RDWR | L.O_NONBLOCK)
    assert pair.a.fcntl(fd, L.F_GETFL) == L.O_RDWR | L.O_NONBLOCK
    connect = pair.a.connect(fd, B, 8080, pair.now)
    assert connect.done and connect.error is not None
    assert connect.error.errno == errno.EINPROGRESS
    with pytest.raises(OSError) as info:
        pair.a.connect(fd, B, 8080, pair.now)
    assert info.value.errno == errno.EALREADY
    pair.pump()
    assert pair.a.getsockopt(fd, L.SOL_SOCKET, L.SO_ERROR) == 0
    read = pair.a.read(fd, 10, pair.now)
    assert read.done and read.error is not None and read.error.errno == errno.EAGAIN


def test_connect_to_closed_port_is_refused() -> None:
    pair = Pair()
    fd = pair.a.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    connect = pair.a.connect(fd, B, 9, pair.now)
    pair.pump((connect,))
    assert connect.done and isinstance(connect.error, ConnectionRefusedError)


def test_write_on_unconnected_socket_is_epipe_and_null_buffer_efault() -> None:
    table = SocketTable(Stack([A]), A)
    fd = table.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    write = table.write(fd, b"x", 0)
    assert write.error is not None and write.error.errno == errno.EPIPE
    with pytest.raises(OSError) as info:
        table.write(fd, None, 0)
    assert info.value.errno == errno.EFAULT


def test_buffer_options_are_doubled_as_linux() -> None:
    table = SocketTable(Stack([A]), A)
    fd = table.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    table.setsockopt(fd, L.SOL_SOCKET, L.SO_SNDBUF, [21000])
    assert table.getsockopt(fd, L.SOL_SOCKET, L.SO_SNDBUF) == 42000
    table.setsockopt(fd, L.SOL_SOCKET, L.SO_RCVBUF, [10**9])
    assert table.getsockopt(fd, L.SOL_SOCKET, L.SO_RCVBUF) == 2 * L.RMEM_MAX


def test_tcp_maxseg_before_and_after_connecting() -> None:
    pair = Pair()
    fd = pair.a.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    assert pair.a.getsockopt(fd, L.SOL_TCP, L.TCP_MAXSEG) == L.TCP_MSS_DEFAULT
    pair.a.setsockopt(fd, L.SOL_TCP, L.TCP_MAXSEG, [1100])
    assert pair.a.getsockopt(fd, L.SOL_TCP, L.TCP_MAXSEG) == 1100
    pair.server()
    connect = pair.a.connect(fd, B, 8080, pair.now)
    pair.pump((connect,))
    assert connect.result == 0
    # Once connected: the send MSS, less the 12 octets of timestamps (Linux's mss_cache).
    assert pair.a.getsockopt(fd, L.SOL_TCP, L.TCP_MAXSEG) == 1088
    with pytest.raises(OSError) as info:
        pair.a.setsockopt(fd, L.SOL_TCP, L.TCP_MAXSEG, [10])
    assert info.value.errno == errno.EINVAL


def test_unknown_option_is_enoprotoopt() -> None:
    table = SocketTable(Stack([A]), A)
    fd = table.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    with pytest.raises(OSError) as info:
        table.setsockopt(fd, L.SOL_SOCKET, 9999, [1])
    assert info.value.errno == errno.ENOPROTOOPT


def test_so_linger_zero_close_sends_rst() -> None:
    pair = Pair()
    client, server = established(pair)
    pair.a.setsockopt(client, L.SOL_SOCKET, L.SO_LINGER, {"onoff": 1, "linger": 0})
    pair.a.close(client, pair.now)
    pair.pump()
    read = pair.b.read(server, 10, pair.now)
    assert isinstance(read.error, ConnectionResetError)


def test_bind_conflict_is_eaddrinuse() -> None:
    table = SocketTable(Stack([A]), A)
    first = table.socket(L.AF_INET, L.SOCK_STREAM, 0)
    table.bind(first, A, 8080)
    table.listen(first, 5)
    second = table.socket(L.AF_INET, L.SOCK_STREAM, 0)
    with pytest.raises(OSError) as info:
        table.bind(second, A, 8080)
    assert info.value.errno == errno.EADDRINUSE


def test_ip_tos_sets_the_diffserv_field_and_can_change() -> None:
    """MUST-48: the application sets the DiffServ field of what it sends
    (IP_TOS); SHLD-22: IP gets it unchanged; SHLD-21: it may change during the
    connection; MAY-9: the field received is available to the application.
    The two ECN bits stay TCP's (as Linux's IP_TOS on a stream socket)."""
    from synack.wire.ip import parse_packet

    pair = Pair()
    client, server = established(pair)
    pair.a.setsockopt(client, L.SOL_IP, L.IP_TOS, [0xB8 | 0x3])  # EF, ECN bits ignored
    assert pair.a.getsockopt(client, L.SOL_IP, L.IP_TOS) == 0xB8
    assert pair.a.write(client, b"expedited", pair.now).result == 9
    (packet,) = pair.a.stack.packets_to_send(pair.now)
    assert parse_packet(packet).tos == 0xB8
    pair.b.stack.receive(packet, pair.now)
    conn = pair.b.get(server).conn
    assert conn is not None and conn.received_tos == 0xB8
    assert conn.status()["received_tos"] == 0xB8
    pair.pump()  # the ACK goes back (Nagle would hold the next small write)
    pair.a.setsockopt(client, L.SOL_IP, L.IP_TOS, [0x28])  # AF11, mid-connection
    pair.a.write(client, b"bulk", pair.now)
    assert [parse_packet(p).tos for p in pair.a.stack.packets_to_send(pair.now)] == [0x28]
