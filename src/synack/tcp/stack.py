"""One host's TCP: demultiplexing by 4-tuple, listeners, ports, strays, timers.

Sans-IO like ``Connection``: the driver feeds IP datagrams with
``receive(packet, now)``, calls ``on_timer(now)`` at ``next_deadline()``, and
after every input or user call sends what ``packets_to_send(now)`` returns.
Work per packet and per tick is O(log n): connections with pending output
sit in a dirty set, deadlines in a heap; nothing scans all connections.
"""

from __future__ import annotations

import errno
import functools
import heapq
from collections import deque
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Protocol

from synack.tcp.arrival import reset_reply
from synack.tcp.config import TcpConfig
from synack.tcp.connection import Address, Connection
from synack.tcp.errors import os_error
from synack.tcp.events import ConnectionRequest, Event
from synack.tcp.isn import IsnGenerator
from synack.tcp.options import timestamp_older
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.trace.records import (
    DropReason,
    FourTuple,
    Record,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    UserCall,
)
from synack.wire.errors import MalformedPacket
from synack.wire.icmp import is_icmp, parse_icmp
from synack.wire.ip import Packet, encode_packet, parse_packet
from synack.wire.tcp import Segment, TcpFlags

UNSPECIFIED_V4 = IPv4Address(0)
UNSPECIFIED_V6 = IPv6Address(0)
_MALFORMED_REASONS = {
    "bad-checksum": DropReason.BAD_CHECKSUM,
    "not-tcp": DropReason.NOT_TCP,
    "fragment": DropReason.NOT_TCP,
}


class RandomSource(Protocol):
    """What the stack needs from a random generator (a ``random.Random`` fits)."""

    def randrange(self, start: int, stop: int) -> int: ...


class Listener:
    """A passive OPEN on ``(address, port)``: a SYN queue of half-open
    connections and an accept queue of established ones (Linux's model)."""

    __slots__ = ("accept_queue", "address", "backlog", "closed", "config", "port", "syn_queue")

    def __init__(
        self, address: Address, port: int, backlog: int, config: TcpConfig | None = None
    ) -> None:
        self.config = config  # for the connections it creates (None: the stack's)
        self.address = address
        self.port = port
        self.backlog = backlog
        self.syn_queue: dict[Connection, None] = {}
        self.accept_queue: deque[Connection] = deque()
        self.closed = False

    @property
    def state(self) -> State:
        return State.CLOSED if self.closed else State.LISTEN

    def __repr__(self) -> str:
        return f"<Listener {self.address}:{self.port} {self.state}>"


class Stack:
    """The TCP of one host with the given local addresses."""

    def __init__(
        self,
        addresses: Iterable[Address | str],
        *,
        config: TcpConfig | None = None,
        isn_secret: bytes = b"synack default secret",
        random: RandomSource | None = None,
        trace: Callable[[Record], None] | None = None,
    ) -> None:
        self.config = config or TcpConfig()
        self.addresses: set[Address] = {
            ip_address(a) if isinstance(a, str) else a for a in addresses
        }
        self._isn = IsnGenerator(isn_secret, self.config.isn_tick)
        self._random = random
        self._trace = trace
        self._connections: dict[FourTuple, Connection] = {}
        self._by_local: dict[tuple[Address, int], set[Connection]] = {}
        self._listeners: dict[tuple[Address, int], Listener] = {}
        self._parent: dict[Connection, Listener] = {}
        self._dirty: dict[Connection, None] = {}
        self._timers: list[tuple[int, int, Connection]] = []
        self._scheduled: dict[Connection, int] = {}
        self._timer_counter = 0
        self._events: deque[tuple[Connection | Listener, Event]] = deque()
        self._out: list[bytes] = []
        self._next_port = self.config.ephemeral_ports[0]
        self.drops: dict[DropReason, int] = {}
        self._now = 0
        self._output_refused = False

    # ------------------------------------------------------------------ inspection

    @property
    def connections(self) -> list[Connection]:
        """Every TCB the stack holds (TIME-WAIT included)."""
        return list(self._connections.values())

    def connection(self, four_tuple: FourTuple) -> Connection | None:
        return self._connections.get(four_tuple)

    # ------------------------------------------------------------------ the device

    @property
    def output_refused(self) -> bool:
        """The driver's device refuses packets (e.g. a qdisc that drops all)."""
        return self._output_refused

    def set_output_refused(self, refused: bool) -> None:
        """Tell the stack whether the device takes packets, as Linux's TCP learns
        from a failing transmit (NET_XMIT_DROP): while refused, connections keep
        new data unsent and retry from their probe and retransmission timers
        instead of counting it as sent.  Segments that still come out (ACKs,
        RSTs) are the driver's to discard."""
        self._output_refused = refused
        for conn in self._connections.values():
            conn.output_refused = refused
            self._dirty[conn] = None

    # ------------------------------------------------------------------ user calls

    def listen(
        self,
        address: Address | str,
        port: int,
        backlog: int | None = None,
        *,
        reuse_address: bool = False,
        config: TcpConfig | None = None,
    ) -> Listener:
        """Passive OPEN (3.10.1).  ``address`` may be unspecified (0.0.0.0 or ::).

        Listeners on one port for different local addresses coexist (MUST-42),
        and a passive OPEN never disturbs the connections already there (MUST-41).
        """
        addr = ip_address(address) if isinstance(address, str) else address
        _check_port(port, allow_zero=False)
        if not addr.is_unspecified and addr not in self.addresses:
            raise os_error(errno.EADDRNOTAVAIL)
        if (addr, port) in self._listeners:
            raise os_error(errno.EADDRINUSE)
        users = self._by_local.get((addr, port))
        if users and not reuse_address:
            raise os_error(errno.EADDRINUSE, "connections still use this port (TIME-WAIT?)")
        listener = Listener(
            addr, port, self.config.backlog if backlog is None else max(backlog, 1), config
        )
        self._listeners[(addr, port)] = listener
        self._record(UserCall(self._now, None, f"listen({addr}:{port})"))
        return listener

    def accept(self, listener: Listener) -> Connection:
        """The oldest established connection of ``listener``; ``BlockingIOError`` if none."""
        if listener.closed:
            raise os_error(errno.EINVAL, "listener is closed")
        while listener.accept_queue:
            conn = listener.accept_queue.popleft()
            self._parent.pop(conn, None)
            if conn.four_tuple in self._connections or conn.state is not State.CLOSED:
                conn.accepted = True
                return conn
        raise os_error(errno.EAGAIN)

    def close_listener(self, listener: Listener, now: int | None = None) -> None:
        """Stop listening; connections not yet accepted are reset (as Linux)."""
        if listener.closed:
            return
        if now is not None:
            self._now = now
        listener.closed = True
        self._listeners.pop((listener.address, listener.port), None)
        for conn in [*listener.syn_queue, *listener.accept_queue]:
            self._parent.pop(conn, None)
            conn.abort()
            self._dirty[conn] = None
        listener.syn_queue.clear()
        listener.accept_queue.clear()

    def connect(
        self,
        local_address: Address | str,
        remote_address: Address | str,
        remote_port: int,
        now: int,
        local_port: int | None = None,
        *,
        reuse_address: bool = False,
        config: TcpConfig | None = None,
    ) -> Connection:
        """Active OPEN (3.10.1) from ``local_address`` (an ephemeral port unless given).

        The local address is the OPEN call's parameter (MUST-43); its SYN and
        every later segment carry that address (MUST-44, MUST-45).
        """
        self._now = now
        local = ip_address(local_address) if isinstance(local_address, str) else local_address
        remote = ip_address(remote_address) if isinstance(remote_address, str) else remote_address
        if local not in self.addresses:
            raise os_error(errno.EADDRNOTAVAIL)
        if _not_unicast(remote):
            raise os_error(errno.ENETUNREACH, "not a unicast address (MUST-46)")
        if local.version != remote.version:
            raise os_error(errno.EAFNOSUPPORT, "address families differ")
        _check_port(remote_port, allow_zero=False)
        if local_port is None:
            port = self._ephemeral_port(local, remote, remote_port)
        else:
            _check_port(local_port, allow_zero=False)
            port = local_port
            old = self._connections.get((local, port, remote, remote_port))
            if old is not None:
                if old.state is State.TIME_WAIT and (reuse_address or self.config.reuse_time_wait):
                    self._forget(old, now, "4-tuple reused by a new connection")
                else:
                    raise os_error(errno.EADDRINUSE)
        conn = self._new_connection((local, port), (remote, remote_port), config)
        conn.connect(now)
        return conn

    # ------------------------------------------------------------------ inputs

    def receive(
        self, packet: bytes | bytearray | memoryview, now: int, *, gso_size: int = 0
    ) -> None:
        """One IP datagram from the network.  Never raises for its contents.
        ``gso_size``: the datagram is a GRO/GSO aggregate of segments this long."""
        self._now = now
        if is_icmp(packet):
            self._icmp_input(packet, now)
            return
        try:
            parsed = parse_packet(packet)
        except MalformedPacket as exc:
            reason = _MALFORMED_REASONS.get(exc.reason, DropReason.MALFORMED)
            self._drop(None, None, reason, now, str(exc))
            return
        seg = parsed.segment
        if _not_unicast(parsed.dst) or _not_unicast(parsed.src):
            # MUST-57: silently discard segments to a broadcast or multicast
            # address; MUST-63: and SYNs (indeed anything) from one.
            self._drop(None, seg, DropReason.BAD_ADDRESS, now, f"{parsed.src} -> {parsed.dst}")
            return
        if parsed.dst not in self.addresses:
            self._drop(None, seg, DropReason.NOT_FOR_US, now, str(parsed.dst))
            return
        key = (parsed.dst, seg.dst_port, parsed.src, seg.src_port)
        conn = self._connections.get(key)
        if conn is not None:
            if conn.state is State.TIME_WAIT and self._reopens_time_wait(conn, seg):
                self._forget(conn, now, "new SYN reopens the 4-tuple (MAY-2)")
            else:
                conn.received_tos = parsed.tos  # MAY-9: the DiffServ field, for the application
                conn.receive(seg, now, gso_size=gso_size)
                self._dirty[conn] = None
                return
        listener = self._find_listener(parsed.dst, seg.dst_port)
        if listener is not None:
            self._listener_input(listener, key, seg, now)
            return
        # No TCB (3.10.7.1, 3.5.2 case 1): answer with a RST unless it is one.
        self._record(SegmentReceived(now, key, seg))
        self._drop(key, seg, DropReason.NO_SOCKET, now)
        reply = reset_reply(seg)
        if reply is not None:
            self._send_stray(key, reply, now)

    def on_timer(self, now: int) -> None:
        """Fire the timers that are due."""
        self._now = now
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, _, conn = heapq.heappop(timers)
            if self._scheduled.get(conn) != deadline:
                continue  # stale entry: the connection was rescheduled
            del self._scheduled[conn]
            actual = conn.next_deadline()
            if actual is not None and actual <= now:
                conn.on_timer(now)
            self._dirty[conn] = None

    # ------------------------------------------------------------------ outputs

    def packets_to_send(self, now: int) -> list[bytes]:
        """Encoded IP datagrams to transmit now, in order."""
        self._now = now
        out = self._out
        self._out = []
        dirty = self._dirty
        while dirty:
            conn = next(iter(dirty))
            del dirty[conn]
            # The connection's own DiffServ field (MUST-48), passed to IP
            # unchanged (SHLD-22), with the ECN field of each segment (RFC 3168).
            diffserv = conn.config.tos & 0xFC
            for seg, ecn_field in conn.datagrams_to_send(now):
                packet = Packet(
                    conn.local_address,
                    conn.remote_address,
                    seg,
                    ttl=self.config.ttl,
                    tos=diffserv | ecn_field,
                )
                out.append(encode_packet(packet))
            self._service(conn)
        return out

    def next_event(self) -> tuple[Connection | Listener, Event] | None:
        """The oldest event of any connection or listener, or None."""
        if not self._events:
            for conn in list(self._dirty):
                self._collect_events(conn)
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> int | None:
        """When ``on_timer`` should next be called (may be early, never late)."""
        for conn in list(self._dirty):
            self._schedule(conn)
        return self._timers[0][0] if self._timers else None

    # ------------------------------------------------------------------ internals

    def _new_connection(
        self, local: tuple[Address, int], remote: tuple[Address, int], config: TcpConfig | None
    ) -> Connection:
        conn = Connection(
            local,
            remote,
            config=config or self.config,
            isn=self._isn.isn,
            trace=self._trace,
            notify=self._touch,
        )
        conn.output_refused = self._output_refused
        self._connections[conn.four_tuple] = conn
        self._by_local.setdefault(local, set()).add(conn)
        self._dirty[conn] = None
        return conn

    def _touch(self, conn: Connection) -> None:
        self._dirty[conn] = None

    def _service(self, conn: Connection) -> None:
        """After a connection ran: collect its events, follow its lifecycle, re-arm its timer."""
        self._collect_events(conn)
        state = conn.state
        parent = self._parent.get(conn)
        if parent is not None and conn in parent.syn_queue and state.synchronized:
            del parent.syn_queue[conn]
            parent.accept_queue.append(conn)
            self._events.append((parent, ConnectionRequest()))
        if state is State.CLOSED or (state is State.LISTEN and conn.passive):
            self._remove(conn)
            return
        self._schedule(conn)

    def _collect_events(self, conn: Connection) -> None:
        while (event := conn.next_event()) is not None:
            self._events.append((conn, event))

    def _schedule(self, conn: Connection) -> None:
        deadline = conn.next_deadline()
        if deadline is None:
            return
        current = self._scheduled.get(conn)
        if current is None or deadline < current:
            self._scheduled[conn] = deadline
            self._timer_counter += 1
            heapq.heappush(self._timers, (deadline, self._timer_counter, conn))

    def _remove(self, conn: Connection) -> None:
        if self._connections.get(conn.four_tuple) is conn:
            del self._connections[conn.four_tuple]
        local = (conn.local_address, conn.local_port)
        users = self._by_local.get(local)
        if users is not None:
            users.discard(conn)
            if not users:
                del self._by_local[local]
        self._scheduled.pop(conn, None)
        parent = self._parent.pop(conn, None)
        if parent is not None:
            parent.syn_queue.pop(conn, None)
            if conn in parent.accept_queue:
                parent.accept_queue.remove(conn)

    def _forget(self, conn: Connection, now: int, cause: str) -> None:
        """Drop a TIME-WAIT TCB early (MAY-2 reopen or address reuse)."""
        if conn.state is not State.CLOSED:
            old = conn.state
            conn.state = State.CLOSED
            conn.time_wait_deadline = None
            self._record(StateChanged(now, conn.four_tuple, old, State.CLOSED, cause))
        self._remove(conn)

    def _reopens_time_wait(self, conn: Connection, seg: Segment) -> bool:
        """A new SYN for a 4-tuple in TIME-WAIT may reopen it (MAY-2): when its
        sequence number is beyond the old connection's RCV.NXT (RFC 9293
        3.10.7.4), or -- when both incarnations use timestamps -- when its
        TSval is newer than the old connection's TS.Recent, whatever its
        sequence number (RFC 6191 2: timestamps shorten TIME-WAIT, SHLD-4;
        Linux's tcp_timewait_state_process does both)."""
        flags = seg.flags
        if not flags & TcpFlags.SYN or flags & (TcpFlags.ACK | TcpFlags.RST):
            return False
        if not conn.config.reuse_time_wait:
            return False
        if self._find_listener(conn.local_address, conn.local_port) is None:
            return False
        if Seq(seg.seq) > conn.rcv_nxt:
            return True
        timestamps = seg.timestamps
        return (
            conn.ts_ok
            and conn.config.timestamps
            and timestamps is not None
            and timestamp_older(conn.ts_recent, timestamps.tsval)
        )

    def _find_listener(self, address: Address, port: int) -> Listener | None:
        listener = self._listeners.get((address, port))
        if listener is None:
            wildcard = UNSPECIFIED_V4 if address.version == 4 else UNSPECIFIED_V6
            listener = self._listeners.get((wildcard, port))
        return listener

    def _listener_input(self, listener: Listener, key: FourTuple, seg: Segment, now: int) -> None:
        """A segment for a listening port with no connection yet (3.10.7.2)."""
        flags = seg.flags
        if flags & TcpFlags.SYN and not flags & (TcpFlags.ACK | TcpFlags.RST):
            if (
                len(listener.accept_queue) >= listener.backlog
                or len(listener.syn_queue) >= self.config.syn_backlog
            ):
                self._record(SegmentReceived(now, key, seg))
                self._drop(key, seg, DropReason.LISTEN_OVERFLOW, now)
                return
            child = self._new_connection((key[0], key[1]), (key[2], key[3]), listener.config)
            child.listen(now)
            self._parent[child] = listener
            listener.syn_queue[child] = None
            child.receive(seg, now)
            return
        # RST, ACK or anything else: the LISTEN rules, answered without a TCB.
        self._record(SegmentReceived(now, key, seg))
        if flags & TcpFlags.RST:
            self._drop(key, seg, DropReason.LISTEN_RST, now)
        elif flags & TcpFlags.ACK:
            self._drop(key, seg, DropReason.LISTEN_ACK, now)
            self._send_stray(key, Segment(key[1], key[3], seg.ack, 0, TcpFlags.RST, 0), now)
        else:
            self._drop(key, seg, DropReason.LISTEN_NO_SYN, now)

    def _icmp_input(self, packet: bytes | bytearray | memoryview, now: int) -> None:
        """An ICMP(v6) datagram: errors go to the connection whose segment they
        quote (MUST-54, synack.tcp.icmp); the rest is counted and dropped."""
        try:
            message = parse_icmp(packet)
        except MalformedPacket as exc:
            self._drop(None, None, DropReason.ICMP_MALFORMED, now, str(exc))
            return
        if message is None:
            self._drop(None, None, DropReason.ICMP_IGNORED, now, "not an error about TCP")
            return
        key = (message.local, message.local_port, message.remote, message.remote_port)
        conn = self._connections.get(key)
        if conn is None:
            self._drop(None, None, DropReason.ICMP_NO_CONNECTION, now, str(message.remote))
            return
        conn.icmp_error(message, now)
        self._service(conn)

    def _send_stray(self, key: FourTuple, segment: Segment, now: int) -> None:
        self._record(SegmentSent(now, key, segment))
        self._out.append(encode_packet(Packet(key[0], key[2], segment, ttl=self.config.ttl)))

    def _ephemeral_port(self, local: Address, remote: Address, remote_port: int) -> int:
        """A free local port for this destination (RFC 6056 style, bounded search)."""
        low, high = self.config.ephemeral_ports
        count = high - low + 1
        start = self._random.randrange(0, count) if self._random is not None else 0
        if self._random is None:
            start = self._next_port - low
        for i in range(count):
            port = low + (start + i) % count
            if (local, port, remote, remote_port) in self._connections:
                continue
            if self._find_listener(local, port) is not None:
                continue
            self._next_port = low + (start + i + 1) % count
            return port
        raise os_error(errno.EADDRNOTAVAIL, "no free ephemeral port")

    def _drop(
        self,
        key: FourTuple | None,
        seg: Segment | None,
        reason: DropReason,
        now: int,
        detail: str = "",
    ) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1
        self._record(SegmentDropped(now, key, seg, reason, detail))

    def _record(self, record: Record) -> None:
        if self._trace is not None:
            self._trace(record)


LIMITED_BROADCAST = IPv4Address("255.255.255.255")


@functools.lru_cache(maxsize=4096)
def _not_unicast(address: Address) -> bool:
    """Broadcast (IPv4 limited broadcast), multicast or unspecified (cached:
    the ipaddress properties cost microseconds and peers repeat)."""
    return address.is_multicast or address.is_unspecified or address == LIMITED_BROADCAST


def _check_port(port: int, *, allow_zero: bool) -> None:
    if not isinstance(port, int) or not (0 if allow_zero else 1) <= port <= 0xFFFF:
        raise os_error(errno.EINVAL, f"bad port {port!r}")
