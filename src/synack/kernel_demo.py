"""``synack demo --kernel``: the TCP lifecycle against the Linux kernel (needs root).

A private network namespace (``synack-demo-PID-N``) gets a TUN device
``syndemo0``; the kernel's end has ``10.79.0.1/24`` and synack is
``10.79.0.2``.  synack runs in this process (``synack.api.blocking``), the
kernel's side is plain ``socket`` objects created inside the namespace.  Two
conversations, each a handshake, a request, a response and the four-way
close (RFC 9293 3.5, 3.6), with the client closing first so that the closer
ends in TIME-WAIT and the other side passes through CLOSE-WAIT:

(a) synack client -> kernel server: synack closes first; synack goes
    FIN-WAIT-2 while the kernel sits in CLOSE-WAIT until its application
    closes, then synack waits out TIME-WAIT (shortened to 2 s here; the
    default is 60 s, 2*MSL, RFC 9293 3.6.1) and reaches CLOSED.
(b) kernel client -> synack server: the kernel closes first; synack is in
    CLOSE-WAIT until its application closes, goes LAST-ACK and CLOSED, and
    the kernel is left in TIME-WAIT (60 s in Linux; deleting the namespace
    ends it).

Each step waits (at most ``STEP_WAIT`` seconds) until both sides show the
state the RFC predicts, then records synack's state and the kernel's own
view from ``ss -tan`` in the namespace.  The output is, per conversation,
the ladder (synack's trace on the left; the kernel's column is made from the
segments synack sent and received, plus the kernel application's calls and
the ``ss`` observations as notes) and a table ``step / synack / kernel``.
The namespace (and the device in it) is deleted in a ``finally``.

Exit status: 0 when every step showed the expected states, 1 when one did
not (the table marks it) or the set-up failed, 2 without root or
``/dev/net/tun``.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import TextIO

from synack.api.blocking import Network
from synack.demo import REQUEST, RESPONSE
from synack.net.driver import monotonic_us
from synack.net.tun import NetworkNamespace, TunConfig, TunDevice, TunError, require_root
from synack.tcp.config import SECOND, TcpConfig
from synack.trace.ladder import render_ladder
from synack.trace.model import Entry
from synack.trace.pcap import PcapWriter
from synack.trace.records import FourTuple, Record, SegmentReceived, SegmentSent, UserCall

DEVICE = "syndemo0"
NAMESPACE_PREFIX = "synack-demo"
KERNEL = IPv4Address("10.79.0.1")
SYNACK = IPv4Address("10.79.0.2")
PREFIX = 24
PORT = 80
#: synack's TIME-WAIT in the demo, shortened so that it ends while you watch (the
#: default is 60 s: 2*MSL, RFC 9293 3.6.1; this demo does not claim that requirement).
TIME_WAIT = 2 * SECOND
#: Seconds each step may take to reach its expected states.
STEP_WAIT = 10.0
#: What the table shows for "no socket / no connection".
NONE = "-"


@dataclass(slots=True)
class Step:
    """One row of a conversation's table: what was done and both views after it."""

    what: str
    synack: str
    kernel: str
    expected: tuple[str, str]

    @property
    def ok(self) -> bool:
        return (self.synack, self.kernel) == self.expected


@dataclass
class Conversation:
    """One role's run: its title, steps, ladder entries and what went wrong.

    ``start`` is where its records begin in the demo's lists (synack's
    records, the kernel's notes); ``key`` is synack's 4-tuple once known.
    """

    title: str
    start: tuple[int, int]
    key: FourTuple | None = None
    steps: list[Step] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and all(step.ok for step in self.steps)


class KernelDemo:
    """The two conversations over one namespace, TUN device and synack network.

    ``records`` is the list synack's trace sink appends to (in the driver thread).
    """

    def __init__(
        self, namespace: NetworkNamespace, network: Network, records: list[Record]
    ) -> None:
        self.namespace = namespace
        self.network = network
        self.records = records
        self.kernel_notes: list[Record] = []  # the kernel application's calls, ss views
        self.sockets: list[socket.socket] = []  # kernel sockets, closed by close()
        self.conversations: list[Conversation] = []

    # ------------------------------------------------------------------ observing

    def synack_state(self, key: FourTuple | None) -> str:
        """synack's state for the connection ``key`` (``NONE`` before it exists,
        CLOSED once its TCB is gone)."""
        if key is None:
            return NONE
        with self.network.lock:
            conn = self.network.stack.connection(key)
            return "CLOSED" if conn is None else str(conn.state)

    def kernel_state(self, local_port: int | None, peer_port: int | None) -> str:
        """The kernel's state (``ss -tan`` in the namespace) of its socket with
        these ports (``None``: any local port; a listener when ``peer_port`` is
        None); ``NONE`` when there is no such socket."""
        out = self.namespace.check_output("ss", "-tanH")
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 5:
                continue
            state, local, peer = parts[0], parts[3], parts[4]
            if local_port is not None and local.rsplit(":", 1)[-1] != str(local_port):
                continue
            if peer_port is None:
                if state == "LISTEN":
                    return state
            elif peer.rsplit(":", 1)[-1] == str(peer_port):
                return state
        return NONE

    def kernel_call(self, text: str) -> None:
        """Note a call of the kernel's application (or an ``ss`` view) in its column."""
        self.kernel_notes.append(UserCall(monotonic_us(), None, text))

    def step(
        self,
        what: str,
        synack: Callable[[], str],
        kernel_ports: tuple[int | None, int | None],
        expected: tuple[str, str],
    ) -> None:
        """Wait until synack and the kernel show ``expected`` (or ``STEP_WAIT``
        passes), then add the row to the current conversation and note the
        kernel's view in its column of the ladder."""
        end = time.monotonic() + STEP_WAIT
        while True:
            seen = (synack(), self.kernel_state(*kernel_ports))
            if seen == expected or time.monotonic() > end:
                break
            time.sleep(0.02)
        self.conversations[-1].steps.append(Step(what, seen[0], seen[1], expected))
        self.kernel_call(f"ss: {seen[1] if seen[1] != NONE else 'no socket'}")

    def kernel_socket(self, make: Callable[[], socket.socket]) -> socket.socket:
        """A kernel socket created inside the namespace (usable from any thread)."""
        sock = self.namespace.run(make)
        self.sockets.append(sock)
        sock.settimeout(STEP_WAIT)
        return sock

    def begin(self, title: str) -> Conversation:
        talk = Conversation(title, (len(self.records), len(self.kernel_notes)))
        self.conversations.append(talk)
        return talk

    # ------------------------------------------------------------------ the conversations

    def synack_client(self) -> None:
        """(a) synack connects to a kernel server; synack closes first."""
        talk = self.begin(f"(a) synack client {SYNACK} -> kernel server {KERNEL}:{PORT}")

        def make_listener() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((str(KERNEL), PORT))
            sock.listen(1)
            return sock

        def state() -> str:
            return self.synack_state(talk.key)

        self.kernel_call(f"listen({KERNEL}:{PORT})")
        listener = self.kernel_socket(make_listener)
        self.step("kernel listen()", state, (PORT, None), (NONE, "LISTEN"))

        client = self.network.create_connection((str(KERNEL), PORT), timeout=STEP_WAIT)
        client.settimeout(STEP_WAIT)
        local_port = client.getsockname()[1]
        talk.key = (SYNACK, local_port, KERNEL, PORT)
        ports = (PORT, local_port)
        self.kernel_call("accept()")
        server, _ = listener.accept()
        self.sockets.append(server)
        server.settimeout(STEP_WAIT)
        listener.close()
        self.step("synack connect(): handshake", state, ports, ("ESTABLISHED", "ESTAB"))

        client.sendall(REQUEST)
        request = _receive(server.recv, len(REQUEST))
        self.kernel_call(f"send({len(RESPONSE)} bytes)")
        server.sendall(RESPONSE)
        response = _receive(client.recv, len(RESPONSE))
        if request != REQUEST or response != RESPONSE:
            talk.error = f"request/response garbled: {request!r} / {response!r}"
        self.step("request and response", state, ports, ("ESTABLISHED", "ESTAB"))

        client.close()  # synack's FIN first; the kernel application has not closed
        self.step("synack close() first", state, ports, ("FIN-WAIT-2", "CLOSE-WAIT"))

        if server.recv(100) != b"":
            talk.error = "the kernel did not read end of stream"
        self.kernel_call("close()")
        server.close()  # the kernel's FIN: LAST-ACK, gone once synack ACKs it
        self.step("kernel close()", state, ports, ("TIME-WAIT", NONE))

        what = f"synack's TIME-WAIT ends ({TIME_WAIT // SECOND} s here)"
        self.step(what, state, ports, ("CLOSED", NONE))

    def kernel_client(self) -> None:
        """(b) the kernel connects to a synack server; the kernel closes first."""
        talk = self.begin(f"(b) kernel client {KERNEL} -> synack server {SYNACK}:{PORT}")

        def state() -> str:
            return "LISTEN" if talk.key is None else self.synack_state(talk.key)

        listener = self.network.socket(socket.AF_INET)
        listener.bind((str(SYNACK), PORT))
        listener.listen(1)
        listener.settimeout(STEP_WAIT)
        self.step("synack listen()", state, (None, PORT), ("LISTEN", NONE))

        def make_client() -> socket.socket:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

        client = self.kernel_socket(make_client)
        self.kernel_call(f"connect({SYNACK}:{PORT})")
        client.connect((str(SYNACK), PORT))
        kernel_port = client.getsockname()[1]
        talk.key = (SYNACK, PORT, KERNEL, kernel_port)
        ports = (kernel_port, PORT)
        server, _ = listener.accept()
        listener.close()
        server.settimeout(STEP_WAIT)
        self.step("kernel connect(): handshake", state, ports, ("ESTABLISHED", "ESTAB"))

        self.kernel_call(f"send({len(REQUEST)} bytes)")
        client.sendall(REQUEST)
        request = _receive(server.recv, len(REQUEST))
        server.sendall(RESPONSE)
        response = _receive(client.recv, len(RESPONSE))
        if request != REQUEST or response != RESPONSE:
            talk.error = f"request/response garbled: {request!r} / {response!r}"
        self.step("request and response", state, ports, ("ESTABLISHED", "ESTAB"))

        self.kernel_call("close()")
        client.close()  # the kernel's FIN first; synack's application has not closed
        self.step("kernel close() first", state, ports, ("CLOSE-WAIT", "FIN-WAIT-2"))

        if server.recv(100) != b"":
            talk.error = "synack did not read end of stream"
        server.close()  # synack's FIN: LAST-ACK, CLOSED when the kernel ACKs it
        self.step("synack close()", state, ports, ("CLOSED", "TIME-WAIT"))

    def run(self) -> None:
        """Both conversations; an error ends the demo (noted in the conversation)."""
        for role in (self.synack_client, self.kernel_client):
            try:
                role()
            except OSError as exc:
                if self.conversations:
                    self.conversations[-1].error = f"{exc!r}"
                break
            finally:
                if self.conversations:
                    talk = self.conversations[-1]
                    talk.entries = self.entries(talk)

    # ------------------------------------------------------------------ the ladder

    def entries(self, talk: Conversation) -> list[Entry]:
        """The conversation's ladder entries: synack's records of its connection
        (and the listen call), each segment mirrored on the kernel's side (a
        send before synack's receipt, a receipt after synack's send), and the
        kernel's notes; times from the first of them."""
        entries: list[Entry] = []
        key = talk.key
        for record in self.records[talk.start[0] :]:
            if record.conn != key and not (record.conn is None and isinstance(record, UserCall)):
                continue  # other connections, the kernel's IPv6 chatter
            if isinstance(record, SegmentReceived):
                entries.append(("kernel", SegmentSent(record.time, record.conn, record.segment)))
                entries.append(("synack", record))
            elif isinstance(record, SegmentSent):
                entries.append(("synack", record))
                entries.append(
                    ("kernel", SegmentReceived(record.time, record.conn, record.segment))
                )
            else:
                entries.append(("synack", record))
        entries += [("kernel", note) for note in self.kernel_notes[talk.start[1] :]]
        entries.sort(key=lambda entry: entry[1].time)  # stable: mirrored pairs stay in order
        if not entries:
            return entries
        origin = entries[0][1].time
        return [(host, dataclasses.replace(r, time=r.time - origin)) for host, r in entries]

    def close(self) -> None:
        """Close the kernel sockets still open."""
        for sock in self.sockets:
            sock.close()


def _receive(recv: Callable[[int], bytes], size: int) -> bytes:
    """Read until ``size`` bytes or end of stream."""
    data = bytearray()
    while len(data) < size:
        chunk = recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def format_table(conversation: Conversation) -> str:
    """The table ``step / synack / kernel (ss -tan)``; a row that is not as
    expected ends with ``<- expected SYNACK / KERNEL``."""
    header = ("step", "synack", "kernel (ss -tan)")
    rows = [header] + [(s.what, s.synack, s.kernel) for s in conversation.steps]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for index, row in enumerate(rows):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        if index > 0 and not conversation.steps[index - 1].ok:
            expected = conversation.steps[index - 1].expected
            line += f"  <- expected {expected[0]} / {expected[1]}"
        lines.append("  " + line.rstrip())
        if index == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines) + "\n"


def run_kernel_demo(
    out: TextIO,
    *,
    width: int | None = None,
    color: bool = False,
    relative: bool = True,
    pcap: str | None = None,
    errors: TextIO | None = None,
) -> int:
    """Run both conversations, print ladders and tables to ``out``; the exit
    status (see the module docstring).  A missing requirement or a set-up
    failure is reported on ``errors`` (default ``sys.stderr``)."""
    err = errors if errors is not None else sys.stderr
    reason = require_root()
    if reason is None and shutil.which("ss") is None:
        reason = "the ss command (iproute2) is missing"
    if reason is not None:
        print(
            f"synack demo --kernel: {reason}. It creates a private network namespace with a "
            "TUN device, so run it as root (for example: sudo .venv/bin/synack demo --kernel).",
            file=err,
        )
        return 2
    try:
        namespace = NetworkNamespace.create(NAMESPACE_PREFIX)
    except TunError as exc:
        print(f"synack demo --kernel: cannot create a network namespace: {exc}", file=err)
        return 1
    conversations: list[Conversation] = []
    writer = PcapWriter(pcap) if pcap else None
    device: TunDevice | None = None
    network: Network | None = None
    demo: KernelDemo | None = None
    try:
        device = namespace.open_tun(DEVICE, TunConfig(mtu=1500, addresses=[f"{KERNEL}/{PREFIX}"]))
        print(
            f"synack demo --kernel: namespace {namespace.name}, TUN device {DEVICE}: "
            f"the kernel is {KERNEL}/{PREFIX}, synack is {SYNACK}",
            file=out,
        )
        records: list[Record] = []
        network = Network(
            device,
            [SYNACK],
            config=TcpConfig(mtu=1500, time_wait=TIME_WAIT),
            trace=records.append,
            pcap=writer,
            name="synack-demo",
        )
        demo = KernelDemo(namespace, network, records)
        demo.run()
        conversations = demo.conversations
    except TunError as exc:
        print(f"synack demo --kernel: {exc}", file=err)
        return 1
    finally:
        if demo is not None:
            demo.close()
        if network is not None:
            network.close()
        if device is not None:
            device.close()
        namespace.delete()
        if writer is not None:
            writer.close()
    for conversation in conversations:
        print(f"\n{conversation.title}\n", file=out)
        if conversation.entries:
            ladder = render_ladder(
                conversation.entries,
                "synack",
                "kernel",
                relative=relative,
                width=width,
                color=color,
            )
            print(ladder, file=out)
        print(format_table(conversation), file=out)
        if conversation.error:
            print(f"  error: {conversation.error}", file=out)
    print(
        f"cleaned up: namespace {namespace.name} and device {DEVICE} deleted"
        + (f"; packets written to {pcap}" if pcap else ""),
        file=out,
    )
    if len(conversations) == 2 and all(c.ok for c in conversations):
        print(
            "ok: both roles completed against the kernel; the closer ended in TIME-WAIT "
            "and the other side passed through CLOSE-WAIT, as RFC 9293 3.6 describes",
            file=out,
        )
        return 0
    print("the demo did not go as expected (see the tables)", file=out)
    return 1
