"""A deterministic simulated network with a virtual clock.

Hosts are sans-IO endpoints (a ``synack.tcp.stack.Stack`` or anything with
the four ``Endpoint`` methods).  The simulator owns the clock (integer
microseconds from 0) and one event heap holding three kinds of event, run in
time order (ties in the order they were scheduled):

- **delivery**: ``endpoint.receive(packet, now)``, then the host's output is
  flushed onto the links;
- **timer**: ``endpoint.on_timer(now)`` at ``endpoint.next_deadline()``.  Each
  host has at most one live timer entry: after every interaction with a host
  its deadline is read again and the entry re-armed only when it changed
  (older entries become stale and are skipped);
- **action**: a callback scheduled with ``at``/``after``/``call_soon``; it gets
  the simulator and may make user calls on the stacks; afterwards every
  host's output is flushed.

Routing: a datagram goes to the host owning its destination address over
the link between the two hosts (no multi-hop); with no such host or link
(a datagram to its own sender included) it is lost with reason ``"no route"``.

Determinism: everything random comes from generators derived from ``seed``
and a name (each link direction has its own, so adding a link does not
perturb the others); the same seed and the same calls give the same trace.

The trace is a list of ``TraceEntry(host, record)``: records a host's stack
emits through ``sim.sink_for(host)`` carry the host's name, records of the
network itself (``PacketTransmitted``, ``PacketLost``, ...) carry ``None``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, NamedTuple, Protocol, TypeVar, overload

from synack.net.link import Direction, Link, LinkConfig
from synack.trace.records import (
    Address,
    FourTuple,
    PacketCorrupted,
    PacketDelivered,
    PacketDuplicated,
    PacketLost,
    PacketTransmitted,
    Record,
)
from synack.trace.summary import peek_headers

R = TypeVar("R", bound=Record)

#: ``run`` raises ``EventLimitExceeded`` after this many events by default.
DEFAULT_MAX_EVENTS = 10_000_000

_DELIVER = 0
_TIMER = 1
_ACTION = 2


class Endpoint(Protocol):
    """What the simulator drives: the sans-IO surface of ``Stack``."""

    def receive(self, packet: bytes, now: int) -> None: ...

    def on_timer(self, now: int) -> None: ...

    def packets_to_send(self, now: int) -> Sequence[bytes]: ...

    def next_deadline(self) -> int | None: ...


class TraceEntry(NamedTuple):
    """One trace record and the host it came from (``None``: the network)."""

    host: str | None
    record: Record


class SimulationError(RuntimeError):
    """Base class of the simulator's errors."""


class EventLimitExceeded(SimulationError):
    """``run`` processed ``max_events`` events and there was still more to do."""


class SimulationTimeout(SimulationError, TimeoutError):
    """``run_until``'s predicate did not become true within the timeout."""


Callback = Callable[["Simulator"], object]


class Host:
    """A registered endpoint with its addresses and timer bookkeeping."""

    __slots__ = (
        "addresses",
        "endpoint",
        "name",
        "received",
        "sent",
        "timer_at",
        "timer_generation",
    )

    def __init__(self, name: str, endpoint: Endpoint, addresses: tuple[Address, ...]) -> None:
        self.name = name
        self.endpoint = endpoint
        self.addresses = addresses
        self.timer_at: int | None = None  # the deadline the live timer entry is for
        self.timer_generation = 0
        self.sent = 0
        self.received = 0

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {list(map(str, self.addresses))})"


class Simulator:
    """Virtual clock, hosts, links and the event loop.  See the module docstring.

    ``trace=False`` keeps no trace (for long transfers); ``trace_packets=False``
    keeps the trace but leaves out ``PacketTransmitted``/``PacketDelivered``
    (losses, duplicates and corruptions are still recorded).  ``on_record``
    is called with every entry as it happens (live output).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        trace: bool = True,
        trace_packets: bool = True,
        on_record: Callable[[TraceEntry], None] | None = None,
    ) -> None:
        self.seed = seed
        self.now = 0
        #: The drivers' generator (the protocol core never draws from it).
        self.random = random.Random(seed)
        self.trace: list[TraceEntry] = []
        self.hosts: dict[str, Host] = {}
        self.links: dict[tuple[str, str], Direction] = {}
        self.events_processed = 0
        self._keep_trace = trace
        self._on_record = on_record
        self._recording = trace or on_record is not None
        self._trace_packets = trace_packets and self._recording
        self._owners: dict[bytes, Host] = {}
        self._heap: list[tuple[int, int, int, Any]] = []
        self._order = 0
        self._next_packet_id = 1
        self._running = False

    # --- set-up -----------------------------------------------------------------

    def random_for(self, name: str) -> random.Random:
        """A generator derived from the seed and ``name`` (e.g. a host's ISN secret
        and ephemeral ports), independent of every other name."""
        return random.Random(f"synack-sim/{self.seed}/{name}")

    def sink_for(self, host: str) -> Callable[[Record], None]:
        """A trace sink for ``host``'s stack: records go to the trace tagged ``host``."""
        if not self._recording:
            return _discard
        emit = self._emit

        def sink(record: Record) -> None:
            emit(TraceEntry(host, record))

        return sink

    def add_host(self, name: str, endpoint: Endpoint, addresses: Iterable[Address]) -> Host:
        """Register ``endpoint`` as host ``name`` owning ``addresses``."""
        if name in self.hosts:
            raise ValueError(f"host {name!r} already exists")
        owned = tuple(addresses)
        for address in owned:
            if address.packed in self._owners:
                raise ValueError(f"address {address} already belongs to another host")
        host = Host(name, endpoint, owned)
        self.hosts[name] = host
        for address in owned:
            self._owners[address.packed] = host
        self._rearm(host)
        return host

    def link(
        self,
        a: str,
        b: str,
        config: LinkConfig | None = None,
        *,
        reverse: LinkConfig | None = None,
        **impairments: Any,
    ) -> Link:
        """Join hosts ``a`` and ``b``.

        ``config`` (or ``LinkConfig(**impairments)``; keyword impairments also
        override fields of a given ``config``) applies to both directions,
        except that a ``drop_filter`` is directional: it applies from ``a`` to
        ``b`` only.  ``reverse`` gives the ``b`` to ``a`` direction its own config.
        """
        for name in (a, b):
            if name not in self.hosts:
                raise KeyError(f"no host {name!r}")
        if a == b:
            raise ValueError("a host cannot be linked to itself")
        if (a, b) in self.links:
            raise ValueError(f"{a!r} and {b!r} are already linked")
        forward_config = replace(config, **impairments) if config else LinkConfig(**impairments)
        if reverse is None:
            reverse = replace(forward_config, drop_filter=None)
        forward = Direction(a, b, forward_config, self.random_for(f"link/{a}->{b}"))
        backward = Direction(b, a, reverse, self.random_for(f"link/{b}->{a}"))
        self.links[(a, b)] = forward
        self.links[(b, a)] = backward
        return Link(forward, backward)

    def direction(self, src: str, dst: str) -> Direction:
        """The link direction from host ``src`` to host ``dst``."""
        try:
            return self.links[(src, dst)]
        except KeyError:
            raise KeyError(f"no link from {src!r} to {dst!r}") from None

    def configure(self, src: str, dst: str, **changes: Any) -> None:
        """Change impairments of one direction from now on (e.g. ``loss=1.0``)."""
        direction = self.direction(src, dst)
        direction.config = replace(direction.config, **changes)

    # --- scheduling ---------------------------------------------------------------

    def _push(self, time: int, kind: int, payload: Any) -> None:
        self._order += 1
        heapq.heappush(self._heap, (time, self._order, kind, payload))

    def at(self, time: int, callback: Callback) -> None:
        """Run ``callback(sim)`` at virtual ``time`` (now if it is in the past)."""
        self._push(max(time, self.now), _ACTION, callback)

    def after(self, delay: int, callback: Callback) -> None:
        """Run ``callback(sim)`` ``delay`` microseconds from now."""
        self.at(self.now + delay, callback)

    def call_soon(self, callback: Callback) -> None:
        """Run ``callback(sim)`` now, after the events already due now."""
        self.at(self.now, callback)

    def pending(self) -> int:
        """Events in the heap (stale timer entries included)."""
        return len(self._heap)

    # --- output -------------------------------------------------------------------

    def flush(self, host: str | None = None) -> None:
        """Push ``host``'s pending packets onto the network and re-arm its timer
        (every host when ``host`` is None).  Call it after user calls made
        outside scheduled callbacks."""
        if host is None:
            for each in self.hosts.values():
                self._flush(each)
        else:
            self._flush(self.hosts[host])

    def _flush(self, host: Host) -> None:
        for packet in host.endpoint.packets_to_send(self.now):
            self._transmit(host, packet if type(packet) is bytes else bytes(packet))
        self._rearm(host)

    def _rearm(self, host: Host) -> None:
        deadline = host.endpoint.next_deadline()
        if deadline == host.timer_at:
            return
        host.timer_at = deadline
        host.timer_generation += 1
        if deadline is not None:
            self._push(max(deadline, self.now), _TIMER, (host, host.timer_generation))

    def _emit(self, entry: TraceEntry) -> None:
        if self._keep_trace:
            self.trace.append(entry)
        if self._on_record is not None:
            self._on_record(entry)

    def _transmit(self, host: Host, packet: bytes) -> None:
        now = self.now
        host.sent += 1
        packet_id = self._next_packet_id
        self._next_packet_id += 1
        owner = self._owners.get(_destination(packet))
        dst_name = owner.name if owner is not None else None
        recording = self._recording
        conn: FourTuple | None = None
        if recording:
            headers = peek_headers(packet)
            conn = headers.conn if headers is not None else None
        if self._trace_packets:
            sent = PacketTransmitted(now, conn, packet_id, host.name, dst_name, packet)
            self._emit(TraceEntry(None, sent))
        direction = self.links.get((host.name, dst_name)) if dst_name is not None else None
        if direction is None:
            if recording:
                record = PacketLost(now, conn, packet_id, host.name, dst_name, packet, "no route")
                self._emit(TraceEntry(None, record))
            return
        outcome = direction.carry(packet, now)
        if outcome.lost is not None:
            if recording:
                record = PacketLost(now, conn, packet_id, host.name, dst_name, packet, outcome.lost)
                self._emit(TraceEntry(None, record))
            return
        for copy in outcome.copies:
            copy_id = packet_id
            if copy.duplicate:
                copy_id = self._next_packet_id
                self._next_packet_id += 1
                if recording:
                    self._emit(
                        TraceEntry(
                            None,
                            PacketDuplicated(
                                now, conn, packet_id, host.name, dst_name, packet, copy_id
                            ),
                        )
                    )
            if copy.corrupted_bit is not None and recording:
                self._emit(
                    TraceEntry(
                        None,
                        PacketCorrupted(
                            now, conn, copy_id, host.name, dst_name, copy.packet, copy.corrupted_bit
                        ),
                    )
                )
            self._push(copy.arrival, _DELIVER, (owner, copy_id, copy.packet, now, host.name, conn))

    # --- the loop -----------------------------------------------------------------

    def _next_live(self) -> tuple[int, int, int, Any] | None:
        """Pop stale timer entries; return the next live event without removing it."""
        heap = self._heap
        while heap:
            event = heap[0]
            if event[2] == _TIMER:
                host, generation = event[3]
                if generation != host.timer_generation:
                    heapq.heappop(heap)
                    continue
            return event
        return None

    def _dispatch(self, event: tuple[int, int, int, Any]) -> None:
        time, _order, kind, payload = event
        self.now = time
        self.events_processed += 1
        if kind == _DELIVER:
            host, packet_id, packet, sent_time, src_name, conn = payload
            if self._trace_packets:
                record = PacketDelivered(
                    time, conn, packet_id, src_name, host.name, packet, sent_time
                )
                self._emit(TraceEntry(None, record))
            host.received += 1
            host.endpoint.receive(packet, time)
            self._flush(host)
        elif kind == _TIMER:
            host = payload[0]
            host.timer_at = None  # consumed; _flush re-arms from next_deadline()
            host.endpoint.on_timer(time)
            self._flush(host)
        else:
            payload(self)
            for host in self.hosts.values():
                self._flush(host)

    def _enter(self, name: str) -> None:
        if self._running:
            raise SimulationError(f"{name}() called from inside a simulator callback")
        self._running = True

    def step(self) -> bool:
        """Process the next event; False when there is nothing left to do."""
        self._enter("step")
        try:
            event = self._next_live()
            if event is None:
                return False
            heapq.heappop(self._heap)
            self._dispatch(event)
            return True
        finally:
            self._running = False

    def run(self, until: int | None = None, max_events: int = DEFAULT_MAX_EVENTS) -> int:
        """Process events in time order until none is left or the next is after
        ``until`` (the clock then moves to ``until``).  Returns the number of
        events processed; raises ``EventLimitExceeded`` rather than process
        more than ``max_events``."""
        self._enter("run")
        try:
            processed = 0
            while True:
                event = self._next_live()
                if event is None or (until is not None and event[0] > until):
                    break
                if processed >= max_events:
                    raise EventLimitExceeded(
                        f"run() stopped after {max_events} events at t={self.now} us with "
                        f"{len(self._heap)} still pending (a livelock, or raise max_events)"
                    )
                heapq.heappop(self._heap)
                self._dispatch(event)
                processed += 1
            if until is not None and until > self.now:
                self.now = until
            return processed
        finally:
            self._running = False

    def run_until(
        self,
        predicate: Callable[[Simulator], bool],
        timeout: int,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> int:
        """Process events until ``predicate(sim)`` is true (checked before the
        first event and after each one); return the time it became true.
        Raises ``SimulationTimeout`` (a ``TimeoutError``) if it is still false
        ``timeout`` microseconds from now (the clock is then at the deadline)."""
        self._enter("run_until")
        try:
            deadline = self.now + timeout
            processed = 0
            while not predicate(self):
                event = self._next_live()
                if event is None or event[0] > deadline:
                    self.now = max(self.now, deadline)
                    state = "nothing left to do" if event is None else "events still pending"
                    raise SimulationTimeout(
                        f"condition not met within {timeout} us (at t={self.now} us, {state})"
                    )
                if processed >= max_events:
                    raise EventLimitExceeded(
                        f"run_until() stopped after {max_events} events at t={self.now} us"
                    )
                heapq.heappop(self._heap)
                self._dispatch(event)
                processed += 1
            return self.now
        finally:
            self._running = False

    # --- reading the trace --------------------------------------------------------------

    @overload
    def records(self, host: str | None = None) -> Iterator[Record]: ...

    @overload
    def records(self, host: str | None = None, *, kind: type[R]) -> Iterator[R]: ...

    def records(self, host: str | None = None, *, kind: type[Record] = Record) -> Iterator[Record]:
        """The trace's records (of type ``kind``), from ``host`` when given."""
        for entry in self.trace:
            if (host is None or entry.host == host) and isinstance(entry.record, kind):
                yield entry.record


def _destination(packet: bytes) -> bytes:
    """The packed destination address of an IPv4 or IPv6 datagram (b"" if none)."""
    if len(packet) >= 20:
        version = packet[0] >> 4
        if version == 4:
            return packet[16:20]
        if version == 6 and len(packet) >= 40:
            return packet[24:40]
    return b""


def _discard(record: Record) -> None:
    """The sink used when nothing is recorded."""
