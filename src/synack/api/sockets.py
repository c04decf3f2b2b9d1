"""A POSIX-style socket table over one ``Stack``, with Linux's semantics.

File descriptors, ``socket``/``bind``/``listen``/``accept``/``connect``/
``read``/``write``/``close``/``shutdown``/``setsockopt``/``getsockopt``/
``fcntl``/``ioctl``, and the errno values Linux gives.  Still sans-IO: the
table never waits.  A call that would block on a blocking socket returns a
``Call`` that is not done yet; the driver (the packetdrill runner in virtual
time, a real-time API later) polls it after every input until it completes.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address

from synack.api import linux as L
from synack.tcp.config import MS, SECOND, TcpConfig
from synack.tcp.connection import Address, Connection
from synack.tcp.errors import os_error
from synack.tcp.stack import Listener, Stack
from synack.tcp.state import State

Result = int | bytes


@dataclass
class SocketOptions:
    """Options set with setsockopt, applied to the connection they shape."""

    reuse_address: bool = False
    send_buffer: int | None = None  # as Linux stores it: twice what was asked
    receive_buffer: int | None = None
    nodelay: bool = False
    cork: bool = False
    user_mss: int = 0
    user_timeout_ms: int = 0
    linger: tuple[int, int] | None = None  # (onoff, seconds)
    keepalive: bool = False
    keepidle: int | None = None  # seconds
    keepintvl: int | None = None
    keepcnt: int | None = None
    linger2: int | None = None  # seconds; TCP_LINGER2 (FIN-WAIT-2 timeout)
    tos: int = 0


class Socket:
    """One file descriptor's socket."""

    def __init__(self, fd: int, family: int) -> None:
        self.fd = fd
        self.family = family
        self.nonblocking = False
        self.options = SocketOptions()
        self.bound: tuple[Address, int] | None = None
        self.listener: Listener | None = None
        self.conn: Connection | None = None
        self.error: OSError | None = None  # SO_ERROR
        self.error_consumed = False  # the connection's error was reported once already
        self.connect_started = False

    def take_error(self) -> OSError | None:
        """The pending socket error, cleared as Linux's sock_error() clears sk_err:
        SO_ERROR and a failing connect() each report it once."""
        error, self.error = self.error, None
        conn = self.conn
        if (
            error is None
            and conn is not None
            and conn.error is not None
            and not self.error_consumed
        ):
            error = conn.error
        if conn is not None and conn.error is not None:
            self.error_consumed = True
            conn.error_reported()
        return error

    def __repr__(self) -> str:
        return f"<Socket fd={self.fd} conn={self.conn} listener={self.listener}>"


class Call:
    """A system call in progress.  ``poll(now)`` tries again; when it returns
    True the call is done with ``result`` or ``error``."""

    def __init__(self, attempt: Callable[[int], Result], *, blocking: bool, name: str) -> None:
        self._attempt = attempt
        self.blocking = blocking
        self.name = name
        self.done = False
        self.result: Result | None = None
        self.error: OSError | None = None
        self.completed_at: int | None = None  # the time of the poll that finished it

    def poll(self, now: int) -> bool:
        if self.done:
            return True
        try:
            self.result = self._attempt(now)
        except BlockingIOError as exc:
            if self.blocking:
                return False
            self.error = exc
        except OSError as exc:
            self.error = exc
        self.done = True
        self.completed_at = now
        return True


class SocketTable:
    """File descriptors (from 3, lowest free first, as Linux) over ``stack``."""

    def __init__(self, stack: Stack, local_address: Address) -> None:
        self.stack = stack
        self.local_address = local_address
        self.sockets: dict[int, Socket] = {}

    # ------------------------------------------------------------------ helpers

    def get(self, fd: int) -> Socket:
        sock = self.sockets.get(fd)
        if sock is None:
            raise os_error(errno.EBADF)
        return sock

    def config_for(self, sock: Socket) -> TcpConfig:
        """The stack's configuration with this socket's options applied."""
        o = sock.options
        config = self.stack.config
        changes: dict[str, object] = {"nagle": not o.nodelay}
        if o.send_buffer is not None:
            changes["send_buffer"] = o.send_buffer
        if o.receive_buffer is not None:
            changes["receive_buffer"] = o.receive_buffer
            # With SO_RCVBUF set, Linux sizes the window scale from that buffer
            # alone (the user lock keeps tcp_rmem[2] out of it) and the buffer
            # no longer grows by itself (SOCK_RCVBUF_LOCK).
            changes["receive_buffer_locked"] = True
        if o.user_timeout_ms:
            changes["user_timeout"] = o.user_timeout_ms * MS
        if o.keepalive:
            changes["keepalive"] = True
        if o.keepidle is not None:
            changes["keepalive_idle"] = o.keepidle * SECOND
        if o.keepintvl is not None:
            changes["keepalive_interval"] = o.keepintvl * SECOND
        if o.keepcnt is not None:
            changes["keepalive_probes"] = o.keepcnt
        if o.linger2 is not None and o.linger2 > 0:
            changes["fin_wait_2_timeout"] = o.linger2 * SECOND
        if o.user_mss:
            changes["user_mss"] = o.user_mss
        if o.tos:
            # MUST-48; set again on a connected socket it applies from the next
            # segment on (SHLD-21: the application may change it).  The stack
            # passes it to IP unchanged (SHLD-22).
            changes["tos"] = o.tos
        return replace(config, **changes)  # type: ignore[arg-type]

    def _apply(self, sock: Socket) -> None:
        """Push changed options into a live connection, or into a listener for
        the connections it will create."""
        if sock.listener is not None:
            sock.listener.config = self.config_for(sock)
        conn = sock.conn
        if conn is None:
            return
        conn.config = self.config_for(sock)
        conn.nagle = not sock.options.nodelay
        conn.set_cork(sock.options.cork)
        if sock.options.send_buffer is not None:
            conn.send_buffer.capacity = sock.options.send_buffer
        if sock.options.receive_buffer is not None:
            conn.receive_buffer.capacity = sock.options.receive_buffer
        conn.wake()

    # ------------------------------------------------------------------ calls

    def socket(self, family: int, type_: int, protocol: int) -> int:
        if family not in (L.AF_INET, L.AF_INET6):
            raise os_error(errno.EAFNOSUPPORT)
        if type_ & ~L.SOCK_NONBLOCK != L.SOCK_STREAM:
            raise os_error(errno.EPROTONOSUPPORT if protocol else errno.EINVAL)
        if protocol not in (0, L.IPPROTO_TCP):
            raise os_error(errno.EPROTONOSUPPORT)
        fd = 3
        while fd in self.sockets:
            fd += 1
        sock = Socket(fd, family)
        sock.nonblocking = bool(type_ & L.SOCK_NONBLOCK)
        self.sockets[fd] = sock
        return fd

    def bind(self, fd: int, address: Address, port: int) -> int:
        sock = self.get(fd)
        if sock.bound is not None or sock.conn is not None:
            raise os_error(errno.EINVAL)
        if not 0 <= port <= 0xFFFF:
            raise os_error(errno.EINVAL)
        if not address.is_unspecified and address not in self.stack.addresses:
            raise os_error(errno.EADDRNOTAVAIL)
        for other in self.sockets.values():
            if other is not sock and other.bound and other.bound[1] == port and port:
                same = other.bound[0] == address or other.bound[0].is_unspecified
                if same and not (sock.options.reuse_address and other.listener is None):
                    raise os_error(errno.EADDRINUSE)
        sock.bound = (address, port)
        return 0

    def listen(self, fd: int, backlog: int) -> int:
        sock = self.get(fd)
        if sock.conn is not None:
            raise os_error(errno.EINVAL)
        if sock.listener is not None:
            sock.listener.backlog = max(backlog, 1)
            return 0
        if sock.bound is None:
            raise os_error(errno.EDESTADDRREQ)  # (Linux picks a port; synack asks for bind)
        address, port = sock.bound
        sock.listener = self.stack.listen(
            address,
            port,
            max(backlog, 1),
            reuse_address=sock.options.reuse_address,
            config=self.config_for(sock),
        )
        return 0

    def accept(self, fd: int, now: int) -> Call:
        sock = self.get(fd)

        def attempt(_now: int) -> Result:
            if sock.listener is None:
                raise os_error(errno.EINVAL)
            conn = self.stack.accept(sock.listener)
            child_fd = self.socket(sock.family, L.SOCK_STREAM, L.IPPROTO_TCP)
            child = self.sockets[child_fd]
            child.options = replace(sock.options)
            child.conn = conn
            child.bound = (conn.local_address, conn.local_port)
            self._apply(child)
            return child_fd

        return self._call(sock, attempt, now, "accept")

    def connect(self, fd: int, address: Address, port: int, now: int) -> Call:
        sock = self.get(fd)
        if sock.listener is not None:
            raise os_error(errno.EISCONN if sock.conn else errno.EINVAL)
        if sock.conn is not None:
            conn = sock.conn
            if conn.state is State.SYN_SENT or conn.state is State.SYN_RECEIVED:
                raise os_error(errno.EALREADY)
            error = sock.take_error()
            if error is not None:
                raise error  # a refused non-blocking connect reports it here, as Linux
            if conn.state is not State.CLOSED:
                raise os_error(errno.EISCONN)
            sock.conn = None  # a failed attempt is over: connect() tries again
            sock.error_consumed = False
        local_address = self.local_address
        local_port = None
        if sock.bound is not None:
            if not sock.bound[0].is_unspecified:
                local_address = sock.bound[0]
            local_port = sock.bound[1] or None
        sock.conn = self.stack.connect(
            local_address,
            address,
            port,
            now,
            local_port,
            reuse_address=sock.options.reuse_address,
            config=self.config_for(sock),
        )
        sock.bound = (sock.conn.local_address, sock.conn.local_port)
        self._apply(sock)
        conn = sock.conn

        def attempt(_now: int) -> Result:
            if conn.error is not None:
                error = sock.take_error() or conn.error
                raise error
            if conn.state in (State.SYN_SENT, State.SYN_RECEIVED):
                raise BlockingIOError(errno.EINPROGRESS, "Operation now in progress")
            if conn.state is State.CLOSED:
                raise os_error(errno.ECONNREFUSED)
            return 0

        call = self._call(sock, attempt, now, "connect")
        if call.done and call.error is not None and call.error.errno == errno.EINPROGRESS:
            # A non-blocking connect reports EINPROGRESS; the outcome goes to SO_ERROR.
            sock.connect_started = True
        return call

    def write(
        self, fd: int, data: bytes | bytearray | memoryview | None, now: int, flags: int = 0
    ) -> Call:
        sock = self.get(fd)
        if data is None:
            raise os_error(errno.EFAULT)
        total = len(data)
        written = 0
        more = bool(flags & L.MSG_MORE)
        urgent = bool(flags & L.MSG_OOB)  # urgent data (3.8.5)
        blocking = not sock.nonblocking and not flags & L.MSG_DONTWAIT

        waiting = False  # blocked on a full send buffer

        def attempt(_now: int) -> Result:
            nonlocal written, waiting
            conn = sock.conn
            if conn is None:
                raise os_error(errno.EPIPE)
            if conn.state in (State.SYN_SENT, State.SYN_RECEIVED) and conn.error is None:
                raise BlockingIOError(errno.EAGAIN, "connecting")  # Linux waits to connect
            if total == 0:
                return 0
            # A blocked writer wakes only when the stack says there is room
            # (Linux's sk_stream_write_space), not at every freed byte.
            blocked = waiting and conn.error is None and not conn.fin_queued
            if blocked and not conn.stream_writable():
                raise BlockingIOError(errno.EAGAIN, "send buffer full")
            waiting = False
            try:
                taken = conn.send(data[written:], _now, more=more, urgent=urgent)
            except OSError:
                if written:
                    return written
                raise
            written += taken
            if written == total or (written and not blocking):
                return written
            waiting = True
            raise BlockingIOError(errno.EAGAIN, "send buffer full")

        return self._call(sock, attempt, now, "write", blocking=blocking)

    def read(self, fd: int, size: int | None, now: int, flags: int = 0) -> Call:
        sock = self.get(fd)
        if size is None:
            raise os_error(errno.EFAULT)
        blocking = not sock.nonblocking and not flags & L.MSG_DONTWAIT

        def attempt(_now: int) -> Result:
            conn = sock.conn
            if conn is None:
                raise os_error(errno.ENOTCONN)
            if conn.state in (State.SYN_SENT, State.SYN_RECEIVED) and conn.error is None:
                raise BlockingIOError(errno.EAGAIN, "connecting")
            if flags & L.MSG_OOB:
                # Urgent data stays inline (as with SO_OOBINLINE): there is no
                # out-of-band byte to take, so Linux's tcp_recv_urg says EINVAL.
                raise os_error(errno.EINVAL, "urgent data is delivered inline")
            if flags & L.MSG_PEEK:
                return conn.receive_buffer.peek(size)
            return conn.recv(size, _now)

        return self._call(sock, attempt, now, "read", blocking=blocking)

    def close(self, fd: int, now: int) -> int:
        sock = self.get(fd)
        del self.sockets[fd]
        if sock.listener is not None:
            self.stack.close_listener(sock.listener, now)
        if sock.conn is not None:
            linger = sock.options.linger
            if linger is not None and linger[0] and linger[1] == 0:
                sock.conn.abort(now)  # SO_LINGER {1, 0}: RST (3.10.5)
            else:
                sock.conn.close(now)
        return 0

    def shutdown(self, fd: int, how: int, now: int) -> int:
        sock = self.get(fd)
        if how not in (L.SHUT_RD, L.SHUT_WR, L.SHUT_RDWR):
            raise os_error(errno.EINVAL)
        if sock.conn is None:
            if sock.listener is not None:
                return 0
            raise os_error(errno.ENOTCONN)
        sock.conn.shutdown(how, now)
        return 0

    def fcntl(self, fd: int, cmd: int, arg: int = 0) -> int:
        sock = self.get(fd)
        if cmd == L.F_GETFL:
            return L.O_RDWR | (L.O_NONBLOCK if sock.nonblocking else 0)
        if cmd == L.F_SETFL:
            sock.nonblocking = bool(arg & L.O_NONBLOCK)
            return 0
        raise os_error(errno.EINVAL)

    def ioctl(self, fd: int, request: int) -> int:
        sock = self.get(fd)
        if request == L.SIOCINQ:
            if sock.listener is not None:
                raise os_error(errno.EINVAL)
            return len(sock.conn.receive_buffer) if sock.conn is not None else 0
        if request == L.SIOCOUTQ:
            return len(sock.conn.send_buffer) if sock.conn is not None else 0
        if request == L.SIOCATMARK:
            # At the urgent mark: the next octet to read is the last urgent one
            # (Linux's urg_seq == copied_seq, RFC 6093 2).
            return int(sock.conn is not None and sock.conn.urgent_pending == 1)
        raise os_error(errno.ENOTTY)

    # ------------------------------------------------------------------ options

    def setsockopt(self, fd: int, level: int, name: int, value: object) -> int:
        sock = self.get(fd)
        o = sock.options
        number = _int_value(value)
        if level == L.SOL_SOCKET:
            if name == L.SO_REUSEADDR:
                o.reuse_address = bool(number)
            elif name == L.SO_SNDBUF:
                o.send_buffer = max(min(number, L.WMEM_MAX) * 2, L.SOCK_MIN_SNDBUF)
            elif name == L.SO_RCVBUF:
                o.receive_buffer = max(min(number, L.RMEM_MAX) * 2, L.SOCK_MIN_RCVBUF)
            elif name == L.SO_KEEPALIVE:
                o.keepalive = bool(number)
            elif name == L.SO_LINGER:
                if not isinstance(value, dict):
                    raise os_error(errno.EINVAL)
                o.linger = (int(value.get("onoff", 0)), int(value.get("linger", 0)))
            elif name == L.SO_REUSEPORT:
                pass
            elif name == L.SO_OOBINLINE:
                if not number:  # only inline delivery of urgent data exists
                    raise os_error(errno.EOPNOTSUPP, "urgent data is always inline")
            else:
                raise os_error(errno.ENOPROTOOPT)
        elif level == L.SOL_TCP:
            if name == L.TCP_NODELAY:
                o.nodelay = bool(number)
            elif name == L.TCP_CORK:
                o.cork = bool(number)
            elif name == L.TCP_MAXSEG:
                if number and not L.TCP_MIN_MSS <= number <= L.MAX_TCP_WINDOW:
                    raise os_error(errno.EINVAL)
                o.user_mss = number
            elif name == L.TCP_USER_TIMEOUT:
                if number < 0:
                    raise os_error(errno.EINVAL)
                o.user_timeout_ms = number
            elif name == L.TCP_KEEPIDLE:
                o.keepidle = _positive(number)
            elif name == L.TCP_KEEPINTVL:
                o.keepintvl = _positive(number)
            elif name == L.TCP_KEEPCNT:
                o.keepcnt = _positive(number)
            elif name == L.TCP_LINGER2:
                o.linger2 = number
            elif name == L.TCP_QUICKACK:
                pass
            else:
                raise os_error(errno.ENOPROTOOPT)
        elif level in (L.SOL_IP, L.SOL_IPV6):
            if name in (L.IP_TOS, L.IPV6_TCLASS):
                # The DiffServ field (MUST-48); the two ECN bits belong to TCP,
                # as Linux's do_ip_setsockopt keeps them for stream sockets.
                o.tos = number & 0xFC
            elif name != L.IP_MTU_DISCOVER:
                raise os_error(errno.ENOPROTOOPT)
        else:
            raise os_error(errno.ENOPROTOOPT)
        self._apply(sock)
        return 0

    def getsockopt(self, fd: int, level: int, name: int) -> int:
        sock = self.get(fd)
        o = sock.options
        conn = sock.conn
        if level == L.SOL_SOCKET:
            if name == L.SO_ERROR:
                error = sock.take_error()
                return error.errno if error is not None and error.errno else 0
            if name == L.SO_REUSEADDR:
                return int(o.reuse_address)
            if name == L.SO_SNDBUF:
                return o.send_buffer or self.stack.config.send_buffer
            if name == L.SO_RCVBUF:
                return o.receive_buffer or self.stack.config.receive_buffer
            if name == L.SO_KEEPALIVE:
                return int(o.keepalive)
            if name == L.SO_OOBINLINE:
                return 1
        elif level == L.SOL_TCP:
            if name == L.TCP_NODELAY:
                return int(o.nodelay)
            if name == L.TCP_CORK:
                return int(o.cork)
            if name == L.TCP_MAXSEG:
                # Linux: the current send MSS (mss_cache); before a connection
                # exists, the user's value or TCP_MSS_DEFAULT.
                if conn is None or conn.state in (State.CLOSED, State.LISTEN):
                    return o.user_mss or L.TCP_MSS_DEFAULT
                return conn.send_mss
            if name == L.TCP_USER_TIMEOUT:
                return o.user_timeout_ms
        elif level in (L.SOL_IP, L.SOL_IPV6) and name in (L.IP_TOS, L.IPV6_TCLASS):
            return o.tos
        raise os_error(errno.ENOPROTOOPT)

    # ------------------------------------------------------------------ internals

    def _call(
        self,
        sock: Socket,
        attempt: Callable[[int], Result],
        now: int,
        name: str,
        *,
        blocking: bool | None = None,
    ) -> Call:
        call = Call(
            attempt, blocking=not sock.nonblocking if blocking is None else blocking, name=name
        )
        call.poll(now)
        return call


def _int_value(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple) and value and isinstance(value[0], int):
        return int(value[0])
    if isinstance(value, dict):
        return 0
    raise os_error(errno.EINVAL)


def _positive(number: int) -> int:
    if number < 1:
        raise os_error(errno.EINVAL)
    return number


def address_for(family: int, text: str) -> Address:
    """An address of the socket's family (IPv4-mapped IPv6 kept as IPv6)."""
    address = IPv6Address(text) if family == L.AF_INET6 and ":" in text else IPv4Address(text)
    return address
