"""Run a packetdrill script against a synack stack in virtual time.

The script plays the remote host; synack's ``Stack`` is the "kernel under
test", reached through the POSIX-style ``SocketTable``.  No root, no
kernel, no real clock: the interpreter moves a virtual clock from event to
event, firing the stack's timers on the way, so a run is deterministic and
fast.  Timing is still checked, with packetdrill's tolerance rules
(LANGUAGE.md section 3).
"""

from __future__ import annotations

import errno as errno_module
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from synack.api.sockets import Call, SocketTable
from synack.packetdrill.ast import (
    Code,
    Direction,
    Event,
    Integer,
    Packet,
    Script,
    Shell,
    Symbol,
    Syscall,
    TimeKind,
    format_event,
)
from synack.packetdrill.environment import LINUX, Settings, Variant, run_shell
from synack.packetdrill.packets import (
    Mismatch,
    SequenceMap,
    aggregate,
    build_inbound,
    check_outbound,
    format_live,
    learn_outbound,
)
from synack.packetdrill.syscalls import (
    Outcome,
    ScriptError,
    SyscallRunner,
    ValueMismatch,
    expected_errno,
)
from synack.tcp.config import SECOND, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.stack import Stack
from synack.tcp.status import recovery_info
from synack.trace.records import Record, SegmentDropped, SegmentSent, StateChanged
from synack.wire.ip import Packet as IpPacket
from synack.wire.ip import encode_packet, parse_packet
from synack.wire.tcp import Segment, TcpFlags

LATE_LIMIT = 2 * SECOND  # how long past its time an outbound packet is waited for
MAX_STEPS = 1_000_000


class ScriptFailure(Exception):
    """The run differs from the script at ``event``."""

    def __init__(self, message: str, event: Event | None = None) -> None:
        super().__init__(message)
        self.event = event


@dataclass
class RunResult:
    """The outcome of one script in one variant."""

    path: str
    variant: str
    passed: bool
    message: str = ""
    line: int | None = None
    event_text: str = ""
    log: list[str] = field(default_factory=list)
    trace: list[Record] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Blocking:
    event: Event
    syscall: Syscall
    call: Call
    started: int
    end: int  # expected return time (live)


class ScriptRun:
    """One script, one variant."""

    def __init__(
        self,
        script: Script,
        variant: Variant,
        *,
        settings: Settings | None = None,
        base_config: TcpConfig = LINUX,
        verbose: Callable[[str], None] | None = None,
    ) -> None:
        self.script = script
        self.settings = settings or Settings()
        self.variant = self.settings.variant(variant)
        self.script_dir = Path(script.path).resolve().parent
        self.verbose = verbose
        self.log: list[str] = []
        self.trace: list[Record] = []
        self.notes: list[str] = []
        self.config = base_config
        self.now = 0
        self.seq_map = SequenceMap()
        self.pending: deque[tuple[int, Segment]] = deque()
        self.blocking: list[_Blocking] = []
        self.drop_output = False
        self.code_blocks: list[tuple[Event, dict[str, int]]] = []
        self.socket_under_test: int | None = None
        self.conn_under_test: Connection | None = None
        self.stack: Stack
        self.table: SocketTable
        self.calls: SyscallRunner

    # ------------------------------------------------------------------ set-up

    def _setup(self) -> None:
        self.config = replace(self.config, mtu=self.variant.mtu)
        if self.script.init_command is not None:
            self._shell(self.script.init_command, initial=True)
        self.stack = Stack(
            [self.variant.local],
            config=self.config,
            isn_secret=b"packetdrill " + self.script.path.encode(),
            trace=self.trace.append,
        )
        self.stack.set_output_refused(self.drop_output)
        self.table = SocketTable(self.stack, self.variant.local)
        self.calls = SyscallRunner(
            self.table,
            self.variant,
            self.settings.bind_port,
            self.settings.connect_port,
            self._set_socket_under_test,
        )

    def _set_socket_under_test(self, fd: int) -> None:
        """The script's packets now go to this socket's connection; it stays the
        target after close() (the TCB lives on through FIN-WAIT and TIME-WAIT)."""
        self.socket_under_test = fd
        sock = self.table.sockets.get(fd)
        self.conn_under_test = sock.conn if sock is not None else None
        if sock is not None and sock.conn is None and sock.listener is None:
            # A new socket: packetdrill sniffs only the socket under test, so
            # what earlier connections sent and the script did not match (a
            # RST from closing one with unread data, say) is no longer looked at.
            for _, segment in self.pending:
                self._say(f"   (not sniffed: earlier socket) {format_live(segment, self.seq_map)}")
            self.pending.clear()
            if self.seq_map.local_isn is not None:
                self.seq_map = SequenceMap()  # its ISN and timestamps are its own

    # ------------------------------------------------------------------ the loop

    def run(self) -> RunResult:
        result = RunResult(self.script.path, self.variant.name, passed=False)
        try:
            self._setup()
            self._run_events()
            self._run_code_blocks()
            result.passed = True
        except ScriptFailure as failure:
            result.message = str(failure)
            if failure.event is not None:
                result.line = failure.event.line
                result.event_text = format_event(failure.event)
        except ScriptError as error:
            result.message = f"unsupported: {error}"
        result.log = self.log
        result.trace = self.trace
        result.notes = self.notes
        return result

    def _run_events(self) -> None:
        previous: Event | None = None
        previous_live = 0  # when the previous event completed (live time)
        previous_script = 0  # the previous event's script time
        for event in self.script.events:
            time = event.time
            anchored = previous is not None and _is_inbound(previous) and _is_inbound(event)
            base = (previous_script if anchored else previous_live) if time.relative else 0
            start = base + time.start
            end = base + time.end if time.end is not None else None
            self._check_blocking(event, before=start)
            action = event.action
            self._say(f"{_fmt_us(start)} {format_event(event)}")
            if isinstance(action, Packet) and action.direction is Direction.INBOUND:
                self._advance(start, event)
                self._inbound(event, action)
                completed = start
            elif isinstance(action, Packet):
                completed = self._outbound(event, action, start, end, previous_script)
            elif isinstance(action, Syscall):
                self._advance(start, event)
                completed = self._syscall(event, action, start, end)
            elif isinstance(action, Shell):
                self._advance(start, event)
                self._shell(action)
                completed = start
            elif isinstance(action, Code):
                self._advance(start, event)
                self.code_blocks.append((event, self._tcp_info()))
                completed = start
            else:  # pragma: no cover - the parser produces no other actions
                raise ScriptError(f"unknown action {action!r}")
            previous, previous_live = event, completed
            previous_script = start if time.kind is not TimeKind.ANY else completed
        self._check_blocking(None, before=None)

    # ------------------------------------------------------------------ time

    def _advance(self, to: int, event: Event | None) -> None:
        """Move the virtual clock to ``to``, firing due timers on the way."""
        steps = 0
        while True:
            deadline = self.stack.next_deadline()
            if deadline is None or deadline > to:
                break
            self.now = max(self.now, deadline)
            self.stack.on_timer(self.now)
            self._flush()
            steps += 1
            if steps > MAX_STEPS:
                raise ScriptFailure("the stack's timers do not settle (livelock)", event)
        self.now = max(self.now, to)
        self._flush()

    def _flush(self) -> None:
        for raw in self.stack.packets_to_send(self.now):
            segment = parse_packet(raw).segment
            if self.drop_output:
                self._say(f"   (dropped by qdisc) {format_live(segment, self.seq_map)}")
                continue
            self.pending.append((self.now, segment))
        self._poll_blocking()

    def _poll_blocking(self) -> None:
        for item in self.blocking:
            if not item.call.done:
                item.call.poll(self.now)
                if item.call.done:
                    self._flush_only()

    def _flush_only(self) -> None:
        for raw in self.stack.packets_to_send(self.now):
            segment = parse_packet(raw).segment
            if not self.drop_output:
                self.pending.append((self.now, segment))

    # ------------------------------------------------------------------ packets

    def _inbound(self, event: Event, packet: Packet) -> None:
        if packet.window is None:
            raise ScriptFailure("window must be specified for inbound packets", event)
        local_port, remote_port = self._ports()
        segment = build_inbound(packet, self.seq_map, remote_port, local_port)
        gso_size = 0
        if self.settings.mss and packet.length > self.settings.mss:
            # One GSO packet: synack's receiver sees one large segment, as the
            # kernel's does, knowing its segment size (skb gso_size).
            gso_size = self.settings.mss
        raw = encode_packet(IpPacket(self.variant.remote, self.variant.local, segment))
        self.stack.receive(raw, self.now, gso_size=gso_size)
        self._flush()

    def _ports(self) -> tuple[int, int]:
        """(local port, remote port) of the connection the script talks to: the
        connection under test, else a listener's port and the script's port."""
        conn = self.conn_under_test
        if conn is not None:
            return conn.local_port, conn.remote_port
        return self.settings.bind_port, self.settings.remote_port

    def _outbound(
        self, event: Event, packet: Packet, start: int, end: int | None, previous_script: int
    ) -> int:
        kind = event.time.kind
        tolerance = self._tolerance(start, previous_script)
        latest = None if kind is TimeKind.ANY else (end if end is not None else start) + tolerance
        first_time, segment = self._take_outbound(event, packet, latest)
        if kind is not TimeKind.ANY:
            earliest = start - tolerance
            if not earliest <= first_time <= (latest or first_time):
                raise ScriptFailure(
                    f"timing error: expected outbound packet at {_fmt_us(start)}"
                    + (f"~{_fmt_us(end)}" if end is not None else "")
                    + f" sec but happened at {_fmt_us(first_time)} sec; tolerance "
                    f"{tolerance / 1e6:.6f} sec\n  packet: {format_live(segment, self.seq_map)}",
                    event,
                )
        return first_time

    def _take_outbound(
        self, event: Event, packet: Packet, latest: int | None
    ) -> tuple[int, Segment]:
        """The live packet (aggregated if the script's LEN spans several) for ``packet``."""
        wait_until = (latest if latest is not None else self.now + 3600 * SECOND) + LATE_LIMIT
        parts: list[Segment] = []
        time = self.now
        total = 0
        while True:
            item = self._next_pending(wait_until)
            if item is None:
                if parts:
                    break
                raise ScriptFailure(
                    "expected outbound packet was not sent by synack "
                    f"(waited until {_fmt_us(wait_until)} sec)",
                    event,
                )
            when, segment = item
            if not parts:
                learn_outbound(segment, packet, self.seq_map)
            candidate = [*parts, segment]
            payload = sum(len(s.payload) for s in candidate)
            if parts and (payload > packet.length or self.settings.strict_segments):
                break
            self.pending.popleft()
            parts.append(segment)
            time = when
            total = payload
            if total >= packet.length:
                break
            if not segment.payload or segment.flags & (TcpFlags.SYN | TcpFlags.FIN | TcpFlags.RST):
                break
        live = aggregate(parts) if len(parts) > 1 else parts[0]
        try:
            check_outbound(
                live,
                packet,
                self.seq_map,
                ts_tick_usecs=self.settings.tcp_ts_tick_usecs,
                ts_tolerance=self.settings.tolerance_usecs,
            )
        except Mismatch as mismatch:
            raise ScriptFailure(
                f"live packet field mismatch: {mismatch}\n"
                f"  script packet: {format_event(event)}\n"
                f"  actual packet: {format_live(live, self.seq_map)}"
                + (f" (aggregate of {len(parts)} segments)" if len(parts) > 1 else ""),
                event,
            ) from None
        self._say(f"   matched {format_live(live, self.seq_map)} at {_fmt_us(time)}")
        return time, live

    def _next_pending(self, wait_until: int) -> tuple[int, Segment] | None:
        while not self.pending:
            deadline = self.stack.next_deadline()
            if deadline is None or deadline > wait_until:
                return None
            self._advance(max(deadline, self.now), None)
        return self.pending[0]

    def _tolerance(self, start: int, previous_script: int) -> int:
        percent = self.settings.tolerance_percent / 100 * max(start - previous_script, 0)
        return max(self.settings.tolerance_usecs, int(percent))

    # ------------------------------------------------------------------ system calls

    def _syscall(self, event: Event, syscall: Syscall, start: int, end: int | None) -> int:
        try:
            started = self.calls.start(syscall, self.now)
        except ValueMismatch as mismatch:
            raise ScriptFailure(str(mismatch), event) from None
        self._flush()
        if isinstance(started, Outcome):
            self._check_outcome(event, syscall, started)
            if end is not None:
                self._check_return_time(event, end, self.now)
            return self.now
        if started.done:
            outcome = self.calls.finish(syscall, started)
            self._check_outcome(event, syscall, outcome)
            if end is not None:
                self._check_return_time(event, end, self.now)
            return self.now
        if end is None:
            raise ScriptFailure(
                f"{syscall.name}() would block, and the script does not mark it as a "
                "blocking call (T...E)",
                event,
            )
        self.blocking.append(_Blocking(event, syscall, started, self.now, end))
        return self.now

    def _check_outcome(self, event: Event, syscall: Syscall, outcome: Outcome) -> None:
        want_errno = expected_errno(syscall)
        result = syscall.result
        if isinstance(result, Integer):
            want = result.value
        elif isinstance(result, Symbol):
            from synack.api.linux import SYMBOLS

            want = SYMBOLS.get(result.name, -2)
        else:
            want = outcome.value  # `...` or an expression: not compared
        if syscall.name in ("socket", "accept") and want >= 0 and outcome.value >= 0:
            want = outcome.value  # fds are checked loosely (CHECK_FD)
        same_errno = outcome.errno == want_errno or {outcome.errno, want_errno} == {
            errno_module.EAGAIN,
            errno_module.EWOULDBLOCK,
        }
        if outcome.value != want or not same_errno:
            expected = Outcome(want, want_errno).text()
            raise ScriptFailure(
                f"{syscall.name}() returned {outcome.text()}, expected {expected}", event
            )
        self._say(f"   {syscall.name}() = {outcome.text()}")

    def _check_return_time(self, event: Event, end: int, actual: int) -> None:
        tolerance = self.settings.tolerance_usecs
        if abs(actual - end) > tolerance:
            raise ScriptFailure(
                f"timing error: expected system call to return at {_fmt_us(end)} sec "
                f"but happened at {_fmt_us(actual)} sec; tolerance {tolerance / 1e6:.6f} sec",
                event,
            )

    def _check_blocking(self, event: Event | None, before: int | None) -> None:
        """Finish blocking calls that completed; fail those overdue.  ``before`` is
        the next event's time (None at the end of the script): a call due to
        return before it gets the chance first -- the clock moves to its
        deadline, so timers (an RTO, a SYN timeout) can complete it."""
        tolerance = self.settings.tolerance_usecs
        for item in list(self.blocking):
            deadline = item.end + tolerance
            if not item.call.done and (before is None or before > deadline):
                self._advance(deadline, item.event)
            if item.call.done:
                outcome = self.calls.finish(item.syscall, item.call)
                self.blocking.remove(item)
                self._check_outcome(item.event, item.syscall, outcome)
                self._check_return_time(item.event, item.end, self._completion_time(item))
                continue
            if before is None or before > deadline:
                raise ScriptFailure(
                    f"blocking {item.syscall.name}() did not return by {_fmt_us(item.end)} sec",
                    item.event,
                )

    def _completion_time(self, item: _Blocking) -> int:
        completed = item.call.completed_at
        return completed if completed is not None else self.now

    # ------------------------------------------------------------------ shell and code

    def _shell(self, shell: Shell, *, initial: bool = False) -> None:
        outcome = run_shell(shell.command, self.config, self.script_dir)
        if initial or not hasattr(self, "stack"):
            self.config = outcome.config
        else:
            self.config = outcome.config
            self.stack.config = outcome.config
        if outcome.drop_all_output is not None:
            self.drop_output = outcome.drop_all_output
            if hasattr(self, "stack"):
                # The kernel's TCP sees the qdisc drop as a failed transmit.
                self.stack.set_output_refused(self.drop_output)
        for ignored in outcome.ignored:
            note = f"ignored shell command: {ignored}"
            if note not in self.notes:
                self.notes.append(note)

    def _tcp_info(self) -> dict[str, int]:
        return tcp_info(self.conn_under_test)

    def _run_code_blocks(self) -> None:
        for event, info in self.code_blocks:
            assert isinstance(event.action, Code)
            namespace: dict[str, object] = dict(CODE_PREAMBLE)
            namespace.update(info)
            try:
                exec(
                    compile(event.action.code, f"{self.script.path}:{event.line}", "exec"),
                    namespace,
                )
            except AssertionError as exc:
                raise ScriptFailure(
                    f"inline Python assertion failed: {exc or 'assert'}; tcp_info: "
                    + ", ".join(f"{k}={v}" for k, v in info.items() if k.startswith("tcpi_")),
                    event,
                ) from None
            except Exception as exc:  # a script error in its own Python
                raise ScriptFailure(
                    f"inline Python raised {type(exc).__name__}: {exc}", event
                ) from None

    def _say(self, line: str) -> None:
        self.log.append(line)
        if self.verbose is not None:
            self.verbose(line)


# ---------------------------------------------------------------------- tcp_info

CODE_PREAMBLE: dict[str, object] = {
    "TCP_ESTABLISHED": 1,
    "TCP_SYN_SENT": 2,
    "TCP_SYN_RECV": 3,
    "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5,
    "TCP_TIME_WAIT": 6,
    "TCP_CLOSE": 7,
    "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9,
    "TCP_LISTEN": 10,
    "TCP_CLOSING": 11,
    "TCP_CA_Open": 0,
    "TCP_CA_Disorder": 1,
    "TCP_CA_CWR": 2,
    "TCP_CA_Recovery": 3,
    "TCP_CA_Loss": 4,
    "TCPI_OPT_TIMESTAMPS": 1,
    "TCPI_OPT_SACK": 2,
    "TCPI_OPT_WSCALE": 4,
    "TCPI_OPT_ECN": 8,
    "TCPI_OPT_ECN_SEEN": 16,
    "TCPI_OPT_SYN_DATA": 32,
    "TCPI_OPT_USEC_TS": 64,
    "TCPI_OPT_TFO_CHILD": 128,
}

_LINUX_STATES = {
    "ESTABLISHED": 1,
    "SYN-SENT": 2,
    "SYN-RECEIVED": 3,
    "FIN-WAIT-1": 4,
    "FIN-WAIT-2": 5,
    "TIME-WAIT": 6,
    "CLOSED": 7,
    "CLOSE-WAIT": 8,
    "LAST-ACK": 9,
    "LISTEN": 10,
    "CLOSING": 11,
}


def tcp_info(conn: Connection | None) -> dict[str, int]:
    """A Linux ``struct tcp_info``-like snapshot (the ``tcpi_*`` names)."""
    if conn is None:
        return {"tcpi_state": 7}
    mss = max(conn.send_mss, 1)
    cc = conn.cc
    recovery = recovery_info(conn)
    return {
        "tcpi_state": _LINUX_STATES[str(conn.state)],
        "tcpi_ca_state": recovery["tcpi_ca_state"],
        "tcpi_retransmits": conn.retries,
        "tcpi_probes": conn.probes_out,
        # Linux's icsk_backoff counts retransmission and zero-window probe backoff alike.
        "tcpi_backoff": max(conn.rtt.backoffs, conn.persist_backoff),
        # TCPI_OPT_TIMESTAMPS 1, SACK 2, WSCALE 4, ECN 8 (negotiated on the SYNs), ECN_SEEN 16
        "tcpi_options": (1 if conn.ts_ok else 0)
        | (2 if conn.sack_ok else 0)
        | (4 if conn.wscale_ok else 0)
        | (8 if conn.ecn_ok else 0)
        | (16 if conn.ecn_seen else 0),
        "tcpi_snd_wscale": conn.snd_wscale,
        "tcpi_rcv_wscale": conn.rcv_wscale,
        "tcpi_rto": conn.rtt.rto,
        "tcpi_snd_mss": conn.send_mss,
        "tcpi_rcv_mss": conn.rwin.rcv_mss
        if conn.config.linux_receive_window
        else conn.mss_advertised,
        "tcpi_advmss": conn.mss_advertised,
        "tcpi_unacked": conn.packets_out(),
        "tcpi_sacked": recovery["tcpi_sacked"],
        "tcpi_lost": recovery["tcpi_lost"],
        "tcpi_retrans": recovery["tcpi_retrans"],
        "tcpi_rtt": conn.rtt.srtt or 0,
        "tcpi_rttvar": conn.rtt.rttvar or 0,
        "tcpi_snd_ssthresh": min(cc.ssthresh // mss, 0x7FFFFFFF),
        "tcpi_snd_cwnd": cc.cwnd // mss,
        "tcpi_reordering": recovery["tcpi_reordering"],
        "tcpi_total_retrans": conn.stats.get("retransmitted_segments", 0),
        "tcpi_bytes_received": int(conn.rcv_nxt - conn.irs) - 1 if conn.state.synchronized else 0,
        "tcpi_bytes_acked": max(int(conn.snd_una - conn.iss) - 1, 0),
        "SK_MEMINFO_RCVBUF": conn.receive_buffer.capacity,
    }


# ---------------------------------------------------------------------- helpers


def _is_inbound(event: Event) -> bool:
    action = event.action
    return isinstance(action, Packet) and action.direction is Direction.INBOUND


def _fmt_us(usecs: int) -> str:
    return f"{usecs / 1e6:.6f}"


def describe_trace(records: list[Record]) -> list[str]:
    """A compact one-line-per-record log of what synack did (for failures)."""
    lines = []
    for record in records:
        if isinstance(record, StateChanged):
            lines.append(f"{_fmt_us(record.time)}  {record.old} -> {record.new} ({record.cause})")
        elif isinstance(record, SegmentDropped):
            lines.append(f"{_fmt_us(record.time)}  dropped: {record.reason.value} {record.detail}")
        elif isinstance(record, SegmentSent):
            flags = record.segment.flags
            lines.append(f"{_fmt_us(record.time)}  sent {TcpFlags(flags)!s}")
    return lines
