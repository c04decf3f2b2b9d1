"""What a scenario is made of, and the lab it runs in.

A ``Scenario`` runs the simulator one or more times (each run is a ``Part``:
``why-three`` runs twice, once with the broken two-way handshake).  A part
keeps its simulator (and so its trace), the application observations the
trace cannot hold (``connect()`` raised ``ConnectionRefusedError``), the
scenario's ``Remark``s on particular steps of the commentary, and the
``Fact``s the run is meant to show, each checked against the trace.

``Lab`` is the bench: two hosts in the simulator, each a ``Stack`` behind an
``AppHost`` whose events go to the scenario's handler, joined by one link
with the run's delay and loss and the scenario's scripted drops.  Everything
is seeded (``Params.seed``), so a scenario prints the same ladder every time.
"""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from synack.apps import AppHost
from synack.net.link import DropFilter, LinkConfig
from synack.net.sim import Simulator, TraceEntry
from synack.scenarios.text import T
from synack.tcp.config import MS, SECOND, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import ConnectionRequest, Established, Event, Reset
from synack.tcp.stack import Listener, Stack
from synack.tcp.state import State
from synack.trace.records import SegmentSent, StateChanged

LEFT_ADDRESS = IPv4Address("192.0.2.1")
RIGHT_ADDRESS = IPv4Address("192.0.2.2")
SERVER_PORT = 80

#: How long a scenario may run in virtual time (TIME-WAIT and FIN-WAIT-2 take 60 s).
HORIZON = 600 * SECOND


@dataclass(frozen=True, slots=True)
class Params:
    """The knobs every scenario takes (``synack demo NAME --seed --loss --delay``)."""

    seed: int = 1
    loss: float = 0.0  # random loss per packet, on top of the scenario's scripted drops
    delay: int = 10 * MS  # one-way delay of the link, microseconds


@dataclass(frozen=True, slots=True)
class Observation:
    """Something an application saw that the trace holds no record of (an error a
    call raised, a read that returned end of stream), at ``time`` on ``host``."""

    time: int
    host: str
    text: T
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fact:
    """A point the run is meant to show, and whether the trace shows it."""

    holds: bool
    text: T


@dataclass(frozen=True, slots=True)
class Remark:
    """The scenario's own commentary for one step of the generic narration.

    The step is the ``nth`` (1-based) whose ``kind`` matches (see
    ``synack.scenarios.narrate``), from ``host`` when given, for which ``where``
    (when given) is true.  ``text`` replaces the step's line, or follows it
    when ``after``; it is filled with the step's parameters (``who``, ``peer``,
    ``seq``, ``ack``, ...).
    """

    kind: str
    text: T
    host: str | None = None
    nth: int = 1
    after: bool = False
    where: Callable[[Mapping[str, object]], bool] | None = None


@dataclass(slots=True)
class Part:
    """One run of the simulator within a scenario, with what to say about it."""

    label: T
    intro: T
    sim: Simulator
    left: str
    right: str
    observations: list[Observation] = field(default_factory=list)
    remarks: list[Remark] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    quiet_after: int = 0  # commentary on ordinary data and ACKs stops after this many (0: never)

    @property
    def trace(self) -> list[TraceEntry]:
        return self.sim.trace


@dataclass(frozen=True, slots=True)
class Scenario:
    """A classic question answered by running it: ``run(params)`` gives its parts."""

    name: str
    title: T
    summary: T  # one line, for ``synack demo --list``
    intro: T
    run: Callable[[Params], list[Part]]


Handler = Callable[[Connection | Listener, Event], None]


class Lab:
    """Two hosts (``left`` at 192.0.2.1, ``right`` at 192.0.2.2) in a seeded simulator.

    ``configs`` gives a host its own ``TcpConfig``.  Each host's stack events go
    to the handler set with ``on(host, handler)``; a listener's connection
    requests are accepted first when ``auto_accept`` (the accepted connection
    becomes ``conns[host]``), and every ``Reset`` event is noted as an
    observation (the error the application's next call raises).
    """

    def __init__(
        self,
        params: Params,
        left: str = "client",
        right: str = "server",
        *,
        configs: Mapping[str, TcpConfig] | None = None,
        auto_accept: bool = True,
    ) -> None:
        self.params = params
        self.sim = Simulator(params.seed)
        self.left = left
        self.right = right
        self.address = {left: LEFT_ADDRESS, right: RIGHT_ADDRESS}
        self.stacks: dict[str, Stack] = {}
        self.conns: dict[str, Connection] = {}
        self.listeners: dict[str, Listener] = {}
        self.observations: list[Observation] = []
        self.auto_accept = auto_accept
        self._handlers: dict[str, Handler] = {}
        configs = configs or {}
        for name in (left, right):
            stack = Stack(
                [self.address[name]],
                config=configs.get(name) or TcpConfig(),
                isn_secret=self.sim.random_for(f"{name}/isn").randbytes(16),
                random=self.sim.random_for(f"{name}/ports"),
                trace=self.sim.sink_for(name),
            )
            self.stacks[name] = stack
            self.sim.add_host(name, AppHost(stack, self._dispatcher(name)), [self.address[name]])

    @property
    def now(self) -> int:
        return self.sim.now

    def other(self, host: str) -> str:
        return self.right if host == self.left else self.left

    def link(
        self,
        *,
        forward_drop: DropFilter | None = None,
        reverse_drop: DropFilter | None = None,
    ) -> None:
        """Join the hosts: the run's delay and loss both ways; ``forward_drop`` drops
        scripted datagrams from left to right, ``reverse_drop`` from right to left."""
        delay, loss = self.params.delay, self.params.loss
        self.sim.link(
            self.left,
            self.right,
            LinkConfig(delay=delay, loss=loss, drop_filter=forward_drop),
            reverse=LinkConfig(delay=delay, loss=loss, drop_filter=reverse_drop),
        )

    def on(self, host: str, handler: Handler) -> None:
        """Send ``host``'s stack events to ``handler``."""
        self._handlers[host] = handler

    def listen(self, host: str, port: int = SERVER_PORT) -> Listener:
        """A passive OPEN on ``host`` (at time 0 when called before ``run``)."""
        listener = self.stacks[host].listen(self.address[host], port)
        self.listeners[host] = listener
        return listener

    def connect(
        self,
        host: str,
        at: int = 0,
        *,
        port: int = SERVER_PORT,
        local_port: int | None = None,
        then: Callable[[Connection], None] | None = None,
    ) -> None:
        """An active OPEN from ``host`` to the other host's ``port`` at time ``at``;
        the connection becomes ``conns[host]`` and is handed to ``then``."""
        peer = self.other(host)

        def start(sim: Simulator) -> None:
            conn = self.stacks[host].connect(
                self.address[host], self.address[peer], port, sim.now, local_port
            )
            self.conns[host] = conn
            if then is not None:
                then(conn)

        self.sim.at(at, start)

    def at(self, time: int, action: Callable[[], object]) -> None:
        """Run ``action`` at virtual ``time``."""
        self.sim.at(time, lambda _sim: action())

    def after(self, delay: int, action: Callable[[], object]) -> None:
        """Run ``action`` ``delay`` microseconds from now."""
        self.sim.after(delay, lambda _sim: action())

    def observe(self, host: str, text: T, **params: object) -> None:
        """Note what ``host``'s application saw now (it becomes a commentary line)."""
        self.observations.append(Observation(self.sim.now, host, text, params))

    def run(self, until: int = HORIZON) -> None:
        self.sim.run(until=until, max_events=1_000_000)

    def part(
        self,
        label: T,
        intro: T,
        remarks: list[Remark] | None = None,
        facts: list[Fact] | None = None,
        *,
        quiet_after: int = 0,
    ) -> Part:
        """This lab's run as a scenario part."""
        return Part(
            label,
            intro,
            self.sim,
            self.left,
            self.right,
            list(self.observations),
            remarks or [],
            facts or [],
            quiet_after,
        )

    def _dispatcher(self, name: str) -> Callable[[AppHost, Connection | Listener, Event], None]:
        def dispatch(host: AppHost, conn: Connection | Listener, event: Event) -> None:
            if isinstance(conn, Listener) and isinstance(event, ConnectionRequest):
                if self.auto_accept:
                    with contextlib.suppress(BlockingIOError):  # already gone (reset)
                        self.conns[name] = host.stack.accept(conn)
            elif isinstance(event, Established) and isinstance(conn, Connection):
                # A listener's ConnectionRequest reaches the application with the
                # stack's next input; the connection's own Established comes now.
                self.conns[name] = conn
            elif isinstance(event, Reset):
                self.observe(name, APP_ERROR, error=error_name(event.error))
            handler = self._handlers.get(name)
            if handler is not None:
                handler(conn, event)

        return dispatch

    # --- facts from the trace ---------------------------------------------------------

    def states(self, host: str) -> list[State]:
        """The states ``host``'s connections entered, in order."""
        return [record.new for record in self.sim.records(host, kind=StateChanged)]

    def sent(self, host: str) -> list[SegmentSent]:
        """The segments ``host`` sent, in order."""
        return list(self.sim.records(host, kind=SegmentSent))


APP_ERROR = T(
    "{who}'s application learns of it: its next call raises {error}.",
    "{who}的应用程序得知此事：它的下一次调用会抛出 {error}。",
)


def error_name(error: OSError) -> str:
    """``"ConnectionResetError (ECONNRESET)"``."""
    code = errno.errorcode.get(error.errno or 0, str(error.errno))
    return f"{type(error).__name__} ({code})"


@dataclass(slots=True)
class ScenarioRun:
    """A scenario run with ``params``: its parts, ready to be rendered."""

    scenario: Scenario
    params: Params
    parts: list[Part]

    @property
    def shows_its_point(self) -> bool:
        """Every fact of every part holds (random loss may hide a scenario's point)."""
        return all(fact.holds for part in self.parts for fact in part.facts)


def run_scenario(scenario: Scenario, params: Params | None = None) -> ScenarioRun:
    """Run ``scenario`` (deterministic for ``params``)."""
    params = params or Params()
    return ScenarioRun(scenario, params, scenario.run(params))
