"""The lifecycle demo: two synack hosts in the simulator.

A client opens a connection (three-way handshake), sends a request, reads
the response and closes; the server answers, sees the client's FIN (CLOSE-
WAIT), closes a moment later (LAST-ACK); the client waits out TIME-WAIT.
Everything is seeded, so the same arguments give the same ladder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from synack.apps import AppHost
from synack.net.sim import Simulator
from synack.tcp.config import MS, SECOND, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import ConnectionRequest, Established, Event, PeerFinished, Readable
from synack.tcp.stack import Listener, Stack

CLIENT_ADDRESS = IPv4Address("192.0.2.1")
SERVER_ADDRESS = IPv4Address("192.0.2.2")
SERVER_PORT = 80
REQUEST = b"GET / HTTP/1.0\r\n\r\n"
RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"


@dataclass
class LifecycleResult:
    """What happened: the simulator (with its trace) and what each side read."""

    sim: Simulator
    client_received: bytearray = field(default_factory=bytearray)
    server_received: bytearray = field(default_factory=bytearray)
    client: Connection | None = None
    server: Connection | None = None

    @property
    def complete(self) -> bool:
        """The response arrived whole and both stacks hold no connection."""
        return (
            bytes(self.client_received) == RESPONSE
            and bytes(self.server_received) == REQUEST
            and not self.sim.hosts["client"].endpoint.stack.connections  # type: ignore[attr-defined]
            and not self.sim.hosts["server"].endpoint.stack.connections  # type: ignore[attr-defined]
        )


def run_lifecycle(
    seed: int = 1,
    loss: float = 0.0,
    delay: int = 10 * MS,
    close_delay: int = 100 * MS,
    config: TcpConfig | None = None,
    timeout: int = 600 * SECOND,
) -> LifecycleResult:
    """Run the whole lifecycle once and return the result with its trace."""
    config = config or TcpConfig()
    sim = Simulator(seed)
    result = LifecycleResult(sim)

    def client_events(host: AppHost, conn: Connection | Listener, event: Event) -> None:
        if not isinstance(conn, Connection):
            return
        if isinstance(event, Readable):
            _drain(conn, result.client_received)
            if bytes(result.client_received) == RESPONSE:
                conn.close(host.now)  # active close: FIN-WAIT-1
        elif isinstance(event, Established):
            conn.send(REQUEST, host.now)

    def server_events(host: AppHost, conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Listener) and isinstance(event, ConnectionRequest):
            result.server = host.stack.accept(conn)
            return
        if not isinstance(conn, Connection):
            return
        if isinstance(event, Readable):
            _drain(conn, result.server_received)
            if bytes(result.server_received) == REQUEST:
                conn.send(RESPONSE, host.now)
        elif isinstance(event, PeerFinished):
            # The application notices end of stream and closes a moment later:
            # until then the server sits in CLOSE-WAIT.
            sim.after(close_delay, lambda _sim: conn.close(_sim.now))

    client_stack = Stack(
        [CLIENT_ADDRESS],
        config=config,
        isn_secret=sim.random_for("client/isn").randbytes(16),
        random=sim.random_for("client/ports"),
        trace=sim.sink_for("client"),
    )
    server_stack = Stack(
        [SERVER_ADDRESS],
        config=config,
        isn_secret=sim.random_for("server/isn").randbytes(16),
        random=sim.random_for("server/ports"),
        trace=sim.sink_for("server"),
    )
    sim.add_host("client", AppHost(client_stack, client_events), [CLIENT_ADDRESS])
    sim.add_host("server", AppHost(server_stack, server_events), [SERVER_ADDRESS])
    sim.link("client", "server", delay=delay, loss=loss)
    server_stack.listen(SERVER_ADDRESS, SERVER_PORT)

    def start(_sim: Simulator) -> None:
        result.client = client_stack.connect(CLIENT_ADDRESS, SERVER_ADDRESS, SERVER_PORT, _sim.now)

    sim.at(0, start)
    sim.run(until=timeout, max_events=1_000_000)
    return result


def _drain(conn: Connection, into: bytearray) -> None:
    try:
        while chunk := conn.recv(65536):
            into += chunk
    except BlockingIOError:
        pass
