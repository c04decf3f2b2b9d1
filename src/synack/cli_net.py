"""``synack serve`` and ``synack connect``: synack on a TUN device, the kernel as peer.

::

    synack serve --tun DEV --address ADDR/PREFIX --port PORT --app echo|discard|http
                 [--root DIR] [--kernel-address ADDR/PREFIX] [--mtu N] [--pcap FILE]
    synack connect --tun DEV --address ADDR/PREFIX HOST PORT
                 [--send FILE] [--half-close] [--kernel-address ...] [--pcap FILE]

``--address`` is synack's own address; the kernel's end of the device gets
``--kernel-address`` (default: the first host address of the prefix that
synack does not use).  The device is created if it does not exist and
removed on exit if it was created (a non-persistent TUN device vanishes with
its fd).  Both print a live ladder of their connections on stderr (data
segments beyond the first few are counted, not drawn, unless ``--verbose``);
``connect`` prints what it receives on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import mimetypes
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from urllib.parse import unquote, urlsplit

from synack.net.tun import (
    Interface,
    TunConfig,
    TunDevice,
    TunError,
    device_exists,
    interface,
    kernel_address_for,
    require_root,
)
from synack.tcp.config import TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import (
    Closed,
    ConnectionRequest,
    Event,
    PeerFinished,
    Readable,
    Reset,
    Writable,
)
from synack.tcp.stack import Listener, Stack
from synack.trace.ladder import render_ladder
from synack.trace.pcap import PcapWriter
from synack.trace.records import (
    DropReason,
    FourTuple,
    Record,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.trace.summary import format_conn, format_segment, format_time
from synack.wire.tcp import Segment, TcpFlags

CHUNK = 64 * 1024
ARROW_WIDTH = 78
NOTE_WIDTH = 14
CONTROL = TcpFlags.SYN | TcpFlags.FIN | TcpFlags.RST


# ---------------------------------------------------------------------- the live ladder


@dataclass
class _ConnView:
    number: int
    iss: int | None = None
    irs: int | None = None
    hidden_sent: int = 0
    hidden_received: int = 0
    hidden_bytes: int = 0
    shown_data: int = 0


class LiveLadder:
    """A trace sink printing one ladder row per record as it happens.

    synack is the left column, the kernel the right; sequence numbers are
    relative to each side's ISN.  After ``show_data`` data or pure-ACK
    segments per connection the rest are counted and summarised at the next
    control segment or state change (every one with ``show_data=None``).
    ``keep`` also stores the records for a full ladder at the end; ``live=False``
    prints nothing as it goes (only keeps).
    """

    def __init__(
        self,
        out: TextIO,
        *,
        show_data: int | None = 6,
        keep: bool = False,
        live: bool = True,
        clock_start: int | None = None,
    ) -> None:
        self.out = out
        self.live = live
        self.show_data = show_data
        self.verbose = show_data is None
        self.records: list[tuple[str, Record]] | None = [] if keep else None
        self._start = clock_start
        self._last = clock_start or 0
        self._conns: dict[FourTuple, _ConnView] = {}
        self._lock = threading.Lock()

    def __call__(self, record: Record) -> None:
        if self.records is not None:  # kept with times from the start, as the live rows
            start = self._start if self._start is not None else record.time
            shifted = dataclasses.replace(record, time=max(record.time - start, 0))
            self.records.append(("synack", shifted))
        if self.live:
            with self._lock:
                self._handle(record)

    def _view(self, record: Record) -> _ConnView | None:
        conn = record.conn
        if conn is None:
            return None
        view = self._conns.get(conn)
        if view is None:
            view = self._conns[conn] = _ConnView(len(self._conns) + 1)
            self._emit(record.time, f"── #{view.number} {format_conn(conn)} (synack > kernel) ──")
        return view

    def _handle(self, record: Record) -> None:
        view = self._view(record)
        tag = f"#{view.number} " if view is not None else ""
        if isinstance(record, SegmentSent | SegmentReceived):
            assert view is not None
            self._segment(record, view, tag)
            return
        if view is not None:
            self._flush_hidden(record.time, view, tag)
        if isinstance(record, StateChanged):
            self._emit(record.time, f"{tag}{record.new}", note=True)
        elif isinstance(record, UserCall):
            self._emit(record.time, f"{tag}{record.call}", note=True)
        elif isinstance(record, TimerFired):
            self._emit(record.time, f"{tag}timer: {record.timer}", note=True)
        elif isinstance(record, SegmentDropped):
            if record.conn is None and record.reason is DropReason.NOT_TCP and not self.verbose:
                return  # the kernel's IPv6 router solicitations and the like
            what = "" if record.segment is None else " " + format_segment(record.segment)
            self._emit(record.time, f"{tag}drop{what}: {record.reason.value}", note=True)

    def _segment(self, record: SegmentSent | SegmentReceived, view: _ConnView, tag: str) -> None:
        segment: Segment = record.segment
        sent = isinstance(record, SegmentSent)
        if segment.flags & TcpFlags.SYN:
            if sent:
                view.iss = segment.seq
            else:
                view.irs = segment.seq
        retransmission = isinstance(record, SegmentSent) and record.retransmission
        control = bool(segment.flags & CONTROL) or retransmission
        if not control and self.show_data is not None and view.shown_data >= self.show_data:
            if sent:
                view.hidden_sent += 1
            else:
                view.hidden_received += 1
            view.hidden_bytes += len(segment.payload)
            return
        if not control:
            view.shown_data += 1
        self._flush_hidden(record.time, view, tag)
        seq_base, ack_base = (view.iss, view.irs) if sent else (view.irs, view.iss)
        label = format_segment(segment, seq_base=seq_base, ack_base=ack_base, absolute=False)
        if retransmission:
            label += " (retransmission)"
        room = ARROW_WIDTH - 8
        if len(label) > room:
            label = label[: room - 1] + "…"
        if sent:
            body = f"── {label} "
            arrow = body + "─" * max(ARROW_WIDTH - len(body) - 1, 2) + "▶"
        else:
            body = f" {label} ──"
            arrow = "◀" + "─" * max(ARROW_WIDTH - len(body) - 1, 2) + body
        self._emit(record.time, f"{tag:<4}{' ' * NOTE_WIDTH}{arrow}")

    def _flush_hidden(self, time_us: int, view: _ConnView, tag: str) -> None:
        if view.hidden_sent or view.hidden_received:
            self._emit(
                time_us,
                f"{tag:<4}{' ' * NOTE_WIDTH}   … {view.hidden_sent} segments sent and "
                f"{view.hidden_received} received not shown ({view.hidden_bytes} data bytes)",
            )
            view.hidden_sent = view.hidden_received = view.hidden_bytes = 0

    def _emit(self, time_us: int, text: str, *, note: bool = False) -> None:
        # Some records carry the last time their connection saw (a listen() before
        # any packet says 0): rows never go back in time.
        time_us = max(time_us, self._last)
        self._last = time_us
        if self._start is None:
            self._start = time_us
        if note:
            tag, _, rest = text.partition(" ") if text.startswith("#") else ("", "", text)
            text = f"{tag:<4}{rest}"
        self.out.write(f"{format_time(time_us - self._start):>10}  {text}\n")
        self.out.flush()

    def finish(self) -> None:
        """Print the counts still hidden."""
        if not self.live:
            return
        with self._lock:
            for view in self._conns.values():
                self._flush_hidden(self._last, view, f"#{view.number} ")


# ---------------------------------------------------------------------- applications


class Session:
    """One accepted connection of a server application (driver thread only)."""

    def __init__(self, conn: Connection, clock: Callable[[], int]) -> None:
        self.conn = conn
        self.clock = clock
        self.out: deque[memoryview] = deque()
        self.out_bytes = 0
        self.close_when_sent = False
        self.peer_done = False

    def on_event(self, event: Event) -> None:
        if isinstance(event, Readable | PeerFinished):
            self.readable()
        elif isinstance(event, Writable):
            self.push()

    def readable(self) -> None:
        while self.out_bytes < 4 * CHUNK:
            try:
                data = self.conn.recv(CHUNK, self.clock())
            except BlockingIOError:
                return
            except OSError:
                return  # reset: the Closed event ends the session
            if not data:
                if not self.peer_done:
                    self.peer_done = True
                    self.end_of_stream()
                return
            self.received(data)

    def received(self, data: bytes) -> None:
        """Application data from the peer."""

    def end_of_stream(self) -> None:
        """The peer finished sending: by default, close once everything is sent."""
        self.finish()

    def more(self) -> bytes | None:
        """More of a response to send when the queue runs low (None: nothing)."""
        return None

    def send(self, data: bytes) -> None:
        if data:
            self.out.append(memoryview(data))
            self.out_bytes += len(data)
            self._drain_out()

    def finish(self) -> None:
        """Close once everything queued (and everything ``more`` gives) is sent."""
        self.close_when_sent = True
        self.push()

    def push(self) -> None:
        """Send what is queued; then close (``finish``) or resume reading."""
        if not self._drain_out():
            return
        if self.close_when_sent:
            self._discard_unread()  # unread data would turn close into a reset (SHLD-3)
            self.conn.close(self.clock())
        elif not self.peer_done:
            self.readable()  # reading held back by a full queue

    def _drain_out(self) -> bool:
        """Move the queue into the send buffer; True when nothing is left to send."""
        conn, out = self.conn, self.out
        now = self.clock()
        while True:
            while out:
                try:
                    taken = conn.send(out[0], now)
                except OSError:
                    out.clear()
                    self.out_bytes = 0
                    return True
                if not taken:
                    return False
                self.out_bytes -= taken
                if taken == len(out[0]):
                    out.popleft()
                else:
                    out[0] = out[0][taken:]
            chunk = self.more()
            if chunk is None:
                return True
            out.append(memoryview(chunk))
            self.out_bytes += len(chunk)

    def _discard_unread(self) -> None:
        while True:
            try:
                if not self.conn.recv(CHUNK, self.clock()):
                    return
            except OSError:
                return


class EchoSession(Session):
    def received(self, data: bytes) -> None:
        self.send(data)


class DiscardSession(Session):
    pass


class HttpSession(Session):
    """HTTP/1.0-style: one request, a response, then close (a page or files from ``root``)."""

    root: Path | None = None

    def __init__(self, conn: Connection, clock: Callable[[], int]) -> None:
        super().__init__(conn, clock)
        self.request = bytearray()
        self.answered = False
        self.body: BinaryIO | None = None

    def received(self, data: bytes) -> None:
        if self.answered:
            return
        self.request += data
        if b"\r\n\r\n" in self.request or b"\n\n" in self.request:
            self.answer(bytes(self.request))
        elif len(self.request) > 16384:
            self.respond(431, "Request Header Fields Too Large", b"request too large\n")

    def end_of_stream(self) -> None:
        if not self.answered:
            self.respond(400, "Bad Request", b"incomplete request\n")

    def answer(self, request: bytes) -> None:
        line = request.split(b"\n", 1)[0].decode("latin-1").strip()
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self.respond(400, "Bad Request", b"bad request line\n")
            return
        method, target = parts[0], unquote(urlsplit(parts[1]).path)
        if method not in ("GET", "HEAD"):
            self.respond(405, "Method Not Allowed", b"GET or HEAD only\n")
            return
        head = method == "HEAD"
        if target == "/":
            self.respond(200, "OK", self.index_page(), "text/html; charset=utf-8", head=head)
            return
        path = self.resolve(target)
        if path is None:
            self.respond(404, "Not Found", f"{target} not found\n".encode(), head=head)
            return
        size = path.stat().st_size
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if not head:
            self.body = path.open("rb")  # before respond(): finish() sends it all first
        self.respond(200, "OK", b"", kind, length=size, head=head)

    def resolve(self, target: str) -> Path | None:
        if self.root is None:
            return None
        root = self.root.resolve()
        path = (root / target.lstrip("/")).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def index_page(self) -> bytes:
        items = ""
        if self.root is not None and self.root.is_dir():
            names = sorted(p.name for p in self.root.iterdir() if p.is_file())
            items = "".join(f'<li><a href="/{escape(n)}">{escape(n)}</a></li>' for n in names)
            items = f"<ul>{items}</ul>" if items else ""
        conn = self.conn
        return (
            "<!doctype html><title>synack</title><h1>Hello from synack</h1>"
            f"<p>This page came over a userspace TCP written in Python: "
            f"{conn.local_address} port {conn.local_port} talking to your kernel at "
            f"{conn.remote_address} port {conn.remote_port}.</p>{items}\n"
        ).encode()

    def respond(
        self,
        status: int,
        reason: str,
        body: bytes,
        kind: str = "text/plain; charset=utf-8",
        *,
        length: int | None = None,
        head: bool = False,
    ) -> None:
        self.answered = True
        size = len(body) if length is None else length
        header = (
            f"HTTP/1.1 {status} {reason}\r\nServer: synack\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
        ).encode()
        self.send(header if head else header + body)
        self.finish()

    def more(self) -> bytes | None:
        if self.body is None:
            return None
        chunk = self.body.read(4 * CHUNK)
        if not chunk:
            self.body.close()
            self.body = None
            return None
        return chunk


APPS: dict[str, type[Session]] = {
    "echo": EchoSession,
    "discard": DiscardSession,
    "http": HttpSession,
}


class ServerApp:
    """Accepts every connection of ``listener`` and runs a session for it."""

    def __init__(
        self, stack: Stack, listener: Listener, app: type[Session], clock: Callable[[], int]
    ) -> None:
        self.stack = stack
        self.listener = listener
        self.app = app
        self.clock = clock
        self.sessions: dict[Connection, Session] = {}
        self.served = 0

    def on_event(self, owner: Connection | Listener, event: Event) -> None:
        if owner is self.listener:
            if isinstance(event, ConnectionRequest):
                while True:
                    try:
                        conn = self.stack.accept(self.listener)
                    except OSError:
                        break
                    session = self.sessions[conn] = self.app(conn, self.clock)
                    self.served += 1
                    session.readable()
            return
        if not isinstance(owner, Connection):
            return
        current = self.sessions.get(owner)
        if current is None:
            return
        current.on_event(event)
        if isinstance(event, Closed | Reset):
            self.sessions.pop(owner, None)


# ---------------------------------------------------------------------- the device


@contextlib.contextmanager
def tun_for(
    name: str, synack: Interface, kernel: Interface, mtu: int | None
) -> Iterator[tuple[TunDevice, int]]:
    """Open (creating if missing) the TUN device with the kernel's address;
    yields the device and its MTU; removes what it created on exit."""
    existed = device_exists(name)
    device = TunDevice.open(name)
    try:
        if existed and mtu is None:
            mtu = int(Path("/sys/class/net", device.name, "mtu").read_text())
        routes = [] if synack.ip in kernel.network else [f"{synack.ip}/{synack.max_prefixlen}"]
        device.configure(TunConfig(mtu=mtu or 1500, addresses=[str(kernel)], routes=routes))
        yield device, mtu or 1500
    finally:
        if existed:
            device.unconfigure()
        device.close()


def _setup(args: argparse.Namespace) -> tuple[Interface, Interface] | int:
    reason = require_root()
    if reason is not None:
        print(f"synack {args.command}: {reason}; run it as root", file=sys.stderr)
        return 2
    try:
        synack = interface(args.address)
        kernel = (
            interface(args.kernel_address) if args.kernel_address else kernel_address_for(synack)
        )
    except ValueError as exc:
        print(f"synack {args.command}: {exc}", file=sys.stderr)
        return 2
    if kernel.version != synack.version or kernel.ip == synack.ip:
        print(
            f"synack {args.command}: the kernel address {kernel} must be another address "
            f"of the same family as {synack}",
            file=sys.stderr,
        )
        return 2
    return synack, kernel


def _terminate_on_sigterm() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# ---------------------------------------------------------------------- serve


def run_serve(args: argparse.Namespace) -> int:
    from synack.net.driver import Driver, monotonic_us

    setup = _setup(args)
    if isinstance(setup, int):
        return setup
    synack, kernel = setup
    app = APPS[args.app]
    if args.app == "http":
        root = Path(args.root) if args.root else None
        if root is not None and not root.is_dir():
            print(f"synack serve: --root {root} is not a folder", file=sys.stderr)
            return 2
        app = type("HttpRootSession", (HttpSession,), {"root": root})
    _terminate_on_sigterm()
    ladder = LiveLadder(
        sys.stderr,
        show_data=None if args.verbose else 6,
        keep=args.ladder,
        live=not args.quiet,
        clock_start=monotonic_us(),
    )
    trace = ladder if args.ladder or not args.quiet else None
    pcap = PcapWriter(args.pcap) if args.pcap else None
    try:
        with tun_for(args.tun, synack, kernel, args.mtu) as (device, mtu):
            stack = Stack([synack.ip], config=TcpConfig(mtu=mtu), trace=trace)
            driver = Driver(stack, device, pcap=pcap)
            listener = stack.listen(synack.ip, args.port, reuse_address=True)
            server = ServerApp(stack, listener, app, lambda: driver.now)
            driver.on_event = server.on_event
            where = f"[{synack.ip}]" if synack.version == 6 else str(synack.ip)
            print(
                f"synack serve: {args.app} on {where}:{args.port} via {device.name} "
                f"(kernel end {kernel}, MTU {mtu}); Ctrl-C stops",
                file=sys.stderr,
            )
            if args.app == "http":
                print(f"  try: curl http://{where}:{args.port}/", file=sys.stderr)
            try:
                driver.run()
            except KeyboardInterrupt:
                pass
            finally:
                driver.close()
                ladder.finish()
            print(
                f"synack serve: {server.served} connections served, "
                f"{driver.packets_in} packets in, {driver.packets_out} out",
                file=sys.stderr,
            )
    except TunError as exc:
        print(f"synack serve: {exc}", file=sys.stderr)
        return 1
    finally:
        if pcap is not None:
            pcap.close()
    if args.ladder and ladder.records:
        print(render_ladder(ladder.records, "synack", "kernel", width=args.width), file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- connect


def run_connect(args: argparse.Namespace) -> int:
    from synack.api.blocking import Network
    from synack.net.driver import monotonic_us

    setup = _setup(args)
    if isinstance(setup, int):
        return setup
    synack, kernel = setup
    _terminate_on_sigterm()
    ladder = LiveLadder(
        sys.stderr,
        show_data=None if args.verbose else 6,
        keep=args.ladder,
        live=not args.quiet,
        clock_start=monotonic_us(),
    )
    pcap = PcapWriter(args.pcap) if args.pcap else None
    status = 0
    try:
        with tun_for(args.tun, synack, kernel, args.mtu) as (device, mtu):
            network = Network(
                device,
                [synack.ip],
                config=TcpConfig(mtu=mtu),
                trace=ladder if args.ladder or not args.quiet else None,
                pcap=pcap,
            )
            try:
                status = _converse(network, args)
            finally:
                network.close()
                ladder.finish()
    except TunError as exc:
        print(f"synack connect: {exc}", file=sys.stderr)
        return 1
    finally:
        if pcap is not None:
            pcap.close()
    if args.ladder and ladder.records:
        print(render_ladder(ladder.records, "synack", "kernel", width=args.width), file=sys.stderr)
    return status


def _converse(network: Any, args: argparse.Namespace) -> int:
    """Connect, send the input, print what comes back, close; the exit status."""
    import socket

    try:
        sock = network.create_connection((args.host, args.port), timeout=args.timeout)
    except (OSError, ValueError) as exc:
        print(f"synack connect: {args.host} port {args.port}: {exc}", file=sys.stderr)
        return 1
    sock.settimeout(None)
    failure: list[BaseException] = []

    def receive() -> None:
        try:
            while data := sock.recv(CHUNK):
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
        except OSError as exc:
            failure.append(exc)

    def send() -> None:
        source = open(args.send, "rb") if args.send else sys.stdin.buffer  # noqa: SIM115
        try:
            # os.read returns what is there (a line typed on a terminal) without waiting
            # for a whole chunk.
            while chunk := os.read(source.fileno(), CHUNK):
                sock.sendall(chunk)
            if args.half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            failure.append(exc)
        finally:
            if args.send:
                source.close()

    receiver = threading.Thread(target=receive, name="receive", daemon=True)
    sender = threading.Thread(target=send, name="send", daemon=True)
    receiver.start()
    sender.start()
    try:
        while receiver.is_alive():
            receiver.join(0.2)
        if args.send:
            sender.join(30)
        sock.close()
        _wait_closed(network, 5.0)
    except KeyboardInterrupt:
        sock.close()
        _wait_closed(network, 1.0)
        return 130
    if failure:
        print(f"synack connect: {failure[0]}", file=sys.stderr)
        return 1
    return 0


def _wait_closed(network: Any, timeout: float) -> None:
    """Let the close handshake run (at most ``timeout`` s) so the ladder shows it."""
    from synack.tcp.state import State

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with network.lock:
            busy = any(
                c.state not in (State.CLOSED, State.TIME_WAIT) for c in network.stack.connections
            )
        if not busy:
            return
        time.sleep(0.02)


# ---------------------------------------------------------------------- parser


def add_commands(commands: Any) -> None:
    """Add ``serve`` and ``connect`` to the ``synack`` command's subparsers."""
    serve = commands.add_parser(
        "serve",
        help="serve echo, discard or http with synack on a TUN device (root)",
        description=(
            "Run a synack server on a TUN device; the kernel reaches it through the "
            "device (for example with curl or nc). Prints the live ladder on stderr."
        ),
    )
    _common(serve)
    serve.add_argument("--port", type=int, required=True, help="the port to listen on")
    serve.add_argument("--app", choices=sorted(APPS), default="echo", help="default: echo")
    serve.add_argument("--root", metavar="DIR", help="files for --app http")
    serve.set_defaults(run=run_serve)
    connect = commands.add_parser(
        "connect",
        help="connect with synack through a TUN device to a kernel server (root)",
        description=(
            "Connect from synack's address to HOST PORT through a TUN device, send stdin "
            "(or --send FILE), print what comes back on stdout and the ladder on stderr."
        ),
    )
    _common(connect)
    connect.add_argument("host", metavar="HOST")
    connect.add_argument("port", metavar="PORT", type=int)
    connect.add_argument("--send", metavar="FILE", help="send this file instead of stdin")
    connect.add_argument(
        "--half-close", action="store_true", help="shutdown the write side after sending"
    )
    connect.add_argument(
        "--timeout", type=float, default=10.0, help="connect timeout in seconds (default 10)"
    )
    connect.set_defaults(run=run_connect)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tun", required=True, metavar="DEV", help="TUN device name")
    parser.add_argument(
        "--address", required=True, metavar="ADDR/PREFIX", help="synack's own address"
    )
    parser.add_argument(
        "--kernel-address",
        metavar="ADDR/PREFIX",
        help="the kernel's address on the device (default: first other host of the prefix)",
    )
    parser.add_argument("--mtu", type=int, help="device MTU (default 1500 for a new device)")
    parser.add_argument("--pcap", metavar="FILE", help="write every packet to a pcap file")
    parser.add_argument("--verbose", action="store_true", help="draw every segment")
    parser.add_argument("--quiet", action="store_true", help="no live ladder")
    parser.add_argument("--width", type=int, help="line width of the --ladder diagram")
    parser.add_argument(
        "--ladder", action="store_true", help="also print the full ladder at the end"
    )
