"""The syntax tree of a packetdrill script, and its printer.

Every node is a frozen ``__slots__`` dataclass.  Numbers are plain ints:
times in integer microseconds, sequence numbers exactly as written (relative
to the ISN, see LANGUAGE.md section 5; the runner does the mapping).  TCP
options reuse the value types of :mod:`synack.wire.tcp`.

The ``format_*`` functions print nodes back in packetdrill notation, so that
``parse(format(node)) == node`` (the tests check this for every event of the
corpus); the runner uses them in failure messages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from synack.wire.tcp import TcpFlags, TcpOption, UnknownOption, option_text

# --- times (LANGUAGE.md section 3) ----------------------------------------------


class TimeKind(enum.Enum):
    """The shape of an event time; whether it is relative is a separate flag."""

    EXACT = "exact"  # `1.5` or `+0.1`
    ANY = "any"  # `*`: any time (outbound packets only)
    RANGE = "range"  # `a~b` or `+a~+b`: a window (outbound packets only)
    BLOCKING = "blocking"  # `T...E`: a blocking call starts at T, returns at E (syscalls only)


@dataclass(frozen=True, slots=True)
class EventTime:
    """When an event happens, in integer microseconds.

    ``start`` is the time (0 for ANY).  ``end`` is the end of a RANGE or the
    return time of a BLOCKING call, else None.  ``relative`` says that the
    times count from the previous event (written ``+x``) instead of from the
    start of the script.  Both ends of a RANGE or BLOCKING time always share
    one base: ``+a~+b`` is relative at both ends, and in ``+.1...0.200`` the
    end ``0.200`` is relative too (packetdrill adds the same base to it), so
    ``relative`` applies to ``start`` and ``end`` alike.
    """

    kind: TimeKind
    start: int
    end: int | None = None
    relative: bool = False


ANY_TIME = EventTime(TimeKind.ANY, 0)

# --- packets (LANGUAGE.md section 4) --------------------------------------------


class Direction(enum.Enum):
    """``<`` is a packet the script injects; ``>`` one the stack must send."""

    INBOUND = "<"
    OUTBOUND = ">"


class Wildcard(enum.Enum):
    """The ``<...>`` option list: options are not checked (outbound only)."""

    WILDCARD = "<...>"


WILDCARD = Wildcard.WILDCARD

#: The AccECN AE bit (RFC 9768), flag letter ``A``.  It lies outside the
#: 8-bit :class:`~synack.wire.tcp.TcpFlags`: bit 8 of the 12 flag bits.
AE_FLAG = 0x100

#: Flag letters and the bits they stand for.  ``.`` is ACK, ``A`` is AE (not ACK).
FLAG_LETTERS: dict[str, int] = {
    "F": int(TcpFlags.FIN),
    "S": int(TcpFlags.SYN),
    "R": int(TcpFlags.RST),
    "P": int(TcpFlags.PSH),
    ".": int(TcpFlags.ACK),
    "U": int(TcpFlags.URG),
    "E": int(TcpFlags.ECE),
    "W": int(TcpFlags.CWR),
    "A": AE_FLAG,
}

#: Option kinds of TCP Fast Open (RFC 7413) and of its experimental form.
KIND_FAST_OPEN = 34
KIND_EXPERIMENTAL = 254
FAST_OPEN_EXPERIMENT_MAGIC = b"\xf9\x89"


@dataclass(frozen=True, slots=True)
class IpInfo:
    """The optional ``[...]`` IP fields of a packet line: ECN codepoint
    (``ect0``, ``ect1``, ``ce``, ``noecn``, ``ect01``), TOS byte, TTL, IPv6
    flow label.  None means "not written"."""

    ecn: str | None = None
    tos: int | None = None
    ttl: int | None = None
    flow_label: int | None = None


@dataclass(frozen=True, slots=True)
class Packet:
    """A TCP packet line: ``< S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>``.

    ``flags`` is the text as written (``"S."``, ``"-"`` for none) and
    ``flag_bits`` its decoding (TcpFlags bits, plus :data:`AE_FLAG`).
    ``start_seq``/``end_seq``/``length`` come from ``START:END(LEN)`` with
    ``END == START + LEN``.  ``ack``/``window``/``urg`` are None when not
    written (an absent ack means the field is 0; an absent outbound window
    is not checked).  ``options`` is a tuple of :mod:`synack.wire.tcp` option
    values in order, :data:`WILDCARD` for ``<...>``, or None when no option
    list is written (outbound: the packet must carry no options).  Fast Open
    options are ``UnknownOption(34, cookie)`` and ``UnknownOption(254,
    b"\\xf9\\x89" + cookie)``.  ``ports`` is ``(source, destination)`` when
    written as ``sport>dport``.
    """

    direction: Direction
    flags: str
    flag_bits: int
    start_seq: int
    end_seq: int
    length: int
    ack: int | None = None
    window: int | None = None
    urg: int | None = None
    options: tuple[TcpOption, ...] | Wildcard | None = None
    ip_info: IpInfo | None = None
    ports: tuple[int, int] | None = None

    @property
    def inbound(self) -> bool:
        """True for ``<`` (injected by the script)."""
        return self.direction is Direction.INBOUND


# --- system call expressions (LANGUAGE.md section 6) -----------------------------


@dataclass(frozen=True, slots=True)
class Integer:
    """An integer literal (decimal, negative or hex)."""

    value: int


@dataclass(frozen=True, slots=True)
class String:
    """A ``"..."`` literal; ``value`` is the text between the quotes, escapes
    kept as written (as packetdrill does)."""

    value: str


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name resolved by the runner's symbol table: ``SOL_SOCKET``, ``EPIPE``..."""

    name: str


@dataclass(frozen=True, slots=True)
class EllipsisExpr:
    """``...``: "the obvious value" (an address, a zero-filled buffer...)."""


@dataclass(frozen=True, slots=True)
class Null:
    """``NULL``: a null pointer."""


@dataclass(frozen=True, slots=True)
class BitOr:
    """``A|B|C``: the bitwise or of two or more operands, left to right."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class List:
    """``[a, b]``: an array; ``[N]`` is a pointer to an int (sockopt values)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Field:
    """One member of a ``{...}`` struct: ``name=value``, ``name(index)=value``
    (msghdr's ``msg_iov(1)=[...]``) or a bare positional ``value`` (iovec's
    ``{..., 40}``), where ``name`` and ``index`` are None."""

    name: str | None
    value: Expr
    index: Expr | None = None


@dataclass(frozen=True, slots=True)
class Struct:
    """``{...}``: linger ``{onoff=1, linger=0}``, msghdr, iovec, sockaddr..."""

    fields: tuple[Field, ...]

    def get(self, name: str) -> Expr | None:
        """The value of the named field, or None."""
        for item in self.fields:
            if item.name == name:
                return item.value
        return None


@dataclass(frozen=True, slots=True)
class Call:
    """A function-like form: ``htons(8080)``, ``inet_addr("192.0.2.1")``."""

    name: str
    args: tuple[Expr, ...]


Expr = Integer | String | Symbol | EllipsisExpr | Null | BitOr | List | Struct | Call

ELLIPSIS = EllipsisExpr()
NULL = Null()


@dataclass(frozen=True, slots=True)
class Syscall:
    """``name(args) = result [ERRNO (note)]`` or ``= result (note)``.

    ``errno`` is the expected errno name (``"EPIPE"``) or None; ``note`` the
    text in the trailing parentheses, whitespace collapsed, or None.
    """

    name: str
    args: tuple[Expr, ...]
    result: Expr
    errno: str | None = None
    note: str | None = None


# --- other actions, events, script ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Shell:
    """A backtick shell command; ``command`` is the text between the backticks."""

    command: str


@dataclass(frozen=True, slots=True)
class Code:
    """A ``%{ ... }%`` inline Python block, with leading/trailing spaces and tabs stripped."""

    code: str


Action = Packet | Syscall | Shell | Code


@dataclass(frozen=True, slots=True)
class Event:
    """One timed event; ``line``/``column`` (1-based) locate its time."""

    time: EventTime
    action: Action
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed script.

    ``options`` maps option names without the leading ``--`` to their values
    (``{"tolerance_usecs": "100000"}``; quotes removed; ``""`` for a bare
    ``--flag``; a repeated option keeps its last value).  ``init_command``
    and ``cleanup_command`` are the untimed backtick commands before the
    first and after the last event.
    """

    path: str
    options: dict[str, str]
    init_command: Shell | None
    events: list[Event]
    cleanup_command: Shell | None


# --- printing ------------------------------------------------------------------


def format_seconds(usecs: int) -> str:
    """Microseconds as packetdrill seconds: 0 -> ``"0"``, 100000 -> ``"0.1"``."""
    whole, fraction = divmod(usecs, 1_000_000)
    if not fraction:
        return str(whole)
    return f"{whole}.{fraction:06d}".rstrip("0")


def format_time(time: EventTime) -> str:
    """An event time as written: ``"0.1"``, ``"+0.1"``, ``"*"``, ``"+0.1~+0.2"``, ``"+0...0.2"``."""
    if time.kind is TimeKind.ANY:
        return "*"
    plus = "+" if time.relative else ""
    start = plus + format_seconds(time.start)
    end = format_seconds(time.end if time.end is not None else time.start)
    if time.kind is TimeKind.RANGE:
        return f"{start}~{plus}{end}"
    if time.kind is TimeKind.BLOCKING:
        return f"{start}...{end}"
    return start


def format_option(option: TcpOption) -> str:
    """One TCP option in packetdrill notation (``"mss 1460"``, ``"FO abcd1234"``)."""
    if isinstance(option, UnknownOption):
        if option.kind == KIND_FAST_OPEN:
            return ("FO " + option.data.hex()).rstrip()
        if option.kind == KIND_EXPERIMENTAL and option.data[:2] == FAST_OPEN_EXPERIMENT_MAGIC:
            return ("FOEXP " + option.data[2:].hex()).rstrip()
    return option_text(option)


def format_options(options: tuple[TcpOption, ...] | Wildcard | None) -> str:
    """An option list with its angle brackets (``""`` for None or an empty tuple)."""
    if options is None or options == ():
        return ""
    if isinstance(options, Wildcard):
        return "<...>"
    return "<" + ",".join(format_option(option) for option in options) + ">"


def format_ip_info(info: IpInfo) -> str:
    """The ``[...]`` IP fields of a packet line."""
    parts = []
    if info.ecn is not None:
        parts.append(info.ecn)
    if info.tos is not None:
        parts.append(f"tos {info.tos:#x}")
    if info.ttl is not None:
        parts.append(f"ttl {info.ttl}")
    if info.flow_label is not None:
        parts.append(f"flowlabel {info.flow_label}")
    return "[" + ", ".join(parts) + "]"


def format_packet(packet: Packet) -> str:
    """A packet in packetdrill notation, e.g. ``"> S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>"``.

    An empty option tuple prints like None (no list), which means the same.
    """
    parts = [packet.direction.value]
    if packet.ip_info is not None:
        parts.append(format_ip_info(packet.ip_info))
    if packet.ports is not None:
        parts.append(f"{packet.ports[0]}>{packet.ports[1]}")
    parts.append(packet.flags)
    parts.append(f"{packet.start_seq}:{packet.end_seq}({packet.length})")
    if packet.ack is not None:
        parts.append(f"ack {packet.ack}")
    if packet.window is not None:
        parts.append(f"win {packet.window}")
    if packet.urg is not None:
        parts.append(f"urg {packet.urg}")
    options = format_options(packet.options)
    if options:
        parts.append(options)
    return " ".join(parts)


def format_expr(expr: Expr) -> str:
    """An expression in packetdrill notation."""
    if isinstance(expr, Integer):
        return str(expr.value)
    if isinstance(expr, Symbol):
        return expr.name
    if isinstance(expr, String):
        return f'"{expr.value}"'
    if isinstance(expr, EllipsisExpr):
        return "..."
    if isinstance(expr, Null):
        return "NULL"
    if isinstance(expr, BitOr):
        return "|".join(format_expr(operand) for operand in expr.operands)
    if isinstance(expr, List):
        return "[" + ", ".join(format_expr(item) for item in expr.items) + "]"
    if isinstance(expr, Struct):
        return "{" + ", ".join(_format_field(item) for item in expr.fields) + "}"
    return f"{expr.name}(" + ", ".join(format_expr(arg) for arg in expr.args) + ")"


def _format_field(item: Field) -> str:
    if item.name is None:
        return format_expr(item.value)
    index = "" if item.index is None else f"({format_expr(item.index)})"
    return f"{item.name}{index}={format_expr(item.value)}"


def format_syscall(call: Syscall) -> str:
    """A system call line, e.g. ``"write(4, ..., 1000) = -1 EPIPE (Broken pipe)"``."""
    text = f"{call.name}(" + ", ".join(format_expr(arg) for arg in call.args) + ")"
    text += " = " + format_expr(call.result)
    if call.errno is not None:
        text += " " + call.errno
    if call.note is not None:
        text += f" ({call.note})"
    return text


def format_action(action: Action) -> str:
    """Any action in packetdrill notation."""
    if isinstance(action, Packet):
        return format_packet(action)
    if isinstance(action, Syscall):
        return format_syscall(action)
    if isinstance(action, Shell):
        return f"`{action.command}`"
    return f"%{{ {action.code} }}%"


def format_event(event: Event) -> str:
    """An event line: its time and its action."""
    return f"{format_time(event.time)} {format_action(event.action)}"


__all__ = [
    "AE_FLAG",
    "ANY_TIME",
    "ELLIPSIS",
    "FAST_OPEN_EXPERIMENT_MAGIC",
    "FLAG_LETTERS",
    "KIND_EXPERIMENTAL",
    "KIND_FAST_OPEN",
    "NULL",
    "WILDCARD",
    "Action",
    "BitOr",
    "Call",
    "Code",
    "Direction",
    "EllipsisExpr",
    "Event",
    "EventTime",
    "Expr",
    "Field",
    "Integer",
    "IpInfo",
    "List",
    "Null",
    "Packet",
    "Script",
    "Shell",
    "String",
    "Struct",
    "Symbol",
    "Syscall",
    "TimeKind",
    "Wildcard",
    "format_action",
    "format_event",
    "format_expr",
    "format_ip_info",
    "format_option",
    "format_options",
    "format_packet",
    "format_seconds",
    "format_syscall",
    "format_time",
]
