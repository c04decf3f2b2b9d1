"""The packetdrill parser: text -> :class:`~synack.packetdrill.ast.Script`.

A recursive-descent parser over the tokens of :mod:`.lexer`, following
packetdrill's parser.y as summarised in LANGUAGE.md::

    script  := option* [init_command] event+ [cleanup_command]
    event   := time (packet | syscall | `command` | %{ code }%)
    time    := [+]T | * | T~T | +T~+T | [+]T...E
    packet  := (<|>) [ip_info] [sport>dport] FLAGS START:END(LEN)
               [ack N] [win N] [urg N] [<option, ...> | <...>]
    syscall := NAME(expr, ...) = expr [ERRNO (note)] | ... = expr (note)

It checks what packetdrill's parser checks (END == START+LEN, field
ranges, ``win`` on inbound packets, ``<...>`` and time ranges and ``*`` on
outbound packets only, ``T...E`` on system calls only) and reports every
problem as a :class:`PacketdrillSyntaxError` with the line and column of the
offending token.  No other exception escapes, whatever the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from synack.packetdrill.ast import (
    ANY_TIME,
    ELLIPSIS,
    FAST_OPEN_EXPERIMENT_MAGIC,
    FLAG_LETTERS,
    KIND_EXPERIMENTAL,
    KIND_FAST_OPEN,
    NULL,
    WILDCARD,
    Action,
    BitOr,
    Call,
    Code,
    Direction,
    Event,
    EventTime,
    Expr,
    Field,
    Integer,
    IpInfo,
    List,
    Packet,
    Script,
    Shell,
    String,
    Struct,
    Symbol,
    Syscall,
    TimeKind,
    Wildcard,
)
from synack.packetdrill.lexer import (
    PacketdrillSyntaxError,
    Source,
    Token,
    TokenKind,
    tokenize_source,
)
from synack.wire.tcp import (
    EOL,
    NOP,
    SACK_PERMITTED,
    MaxSegmentSize,
    Sack,
    TcpOption,
    Timestamps,
    UnknownOption,
    WindowScale,
)

#: Deepest nesting of ``[ ]``, ``{ }`` and calls in one expression.
MAX_NESTING = 64
_MAX_NUMBER_CHARS = 40  # longer literals are rejected before int() sees them
_MAX_TIME_DIGITS = 12  # whole seconds (over 30,000 years)
_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1
_ECN_CODEPOINTS = frozenset({"noecn", "ect0", "ect1", "ect01", "ce"})
_IP_NUMBERS = {
    "tos": ("the TOS byte", 8),
    "ttl": ("the TTL", 8),
    "flowlabel": ("the flow label", 20),
}
_HEX_COOKIE = re.compile(r"(?:[0-9a-fA-F]{2}){0,16}\Z")
_PACKET_FIELDS = ("ack", "win", "urg")
_FLAGS_HELP = "F S R P E W A U, '.' for ACK, '-' for no flags"


def describe(token: Token) -> str:
    """A token for error messages: ``'ack'``, ``end of file``, ``a string``..."""
    kind = token.kind
    if kind is TokenKind.EOF:
        return "end of file"
    if kind is TokenKind.STRING:
        return "a string"
    if kind is TokenKind.BACK_QUOTED:
        return "a `command`"
    if kind is TokenKind.CODE:
        return "a %{ code }% block"
    if kind is TokenKind.OPTION:
        return f"option --{token.text}"
    return f"'{token.text}'" if token.text.isprintable() else repr(token.text)


class _Parser:
    __slots__ = ("depth", "index", "source", "tokens")

    def __init__(self, source: Source, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    # --- token helpers -----------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.EOF:
            self.index += 1
        return token

    def error(self, token: Token, message: str) -> PacketdrillSyntaxError:
        return self.source.error(token.start, message)

    @staticmethod
    def is_punct(token: Token, char: str) -> bool:
        return token.kind is TokenKind.PUNCT and token.text == char

    @staticmethod
    def is_word(token: Token, word: str) -> bool:
        return token.kind is TokenKind.WORD and token.text == word

    def accept(self, char: str) -> bool:
        if self.is_punct(self.token, char):
            self.index += 1
            return True
        return False

    def expect(self, char: str, context: str) -> Token:
        token = self.token
        if not self.is_punct(token, char):
            raise self.error(token, f"expected '{char}' {context}, got {describe(token)}")
        self.index += 1
        return token

    def integer(self, token: Token) -> int:
        """The value of an INTEGER or HEX token."""
        if len(token.text) > _MAX_NUMBER_CHARS:
            raise self.error(token, f"number too long ({len(token.text)} characters)")
        if token.kind is TokenKind.HEX:
            return int(token.text, 16)
        return int(token.text)

    def unsigned(self, what: str, bits: int) -> int:
        """An INTEGER token that fits in ``bits`` unsigned bits."""
        token = self.token
        if token.kind is not TokenKind.INTEGER:
            raise self.error(token, f"expected {what} (an integer), got {describe(token)}")
        value = self.integer(token)
        if value < 0:
            raise self.error(token, f"{what} cannot be negative")
        if value >> bits:
            raise self.error(token, f"{what} {value} is out of range (at most {(1 << bits) - 1})")
        self.index += 1
        return value

    # --- script and events (LANGUAGE.md section 1) ----------------------------------

    def script(self) -> Script:
        options: dict[str, str] = {}
        while self.token.kind is TokenKind.OPTION:
            token = self.advance()
            options[token.text] = token.value or ""
        init_command = None
        if self.token.kind is TokenKind.BACK_QUOTED:
            init_command = Shell(self.advance().text)
        events: list[Event] = []
        cleanup_command = None
        while (token := self.token).kind is not TokenKind.EOF:
            if token.kind is TokenKind.BACK_QUOTED:
                if events and self.peek().kind is TokenKind.EOF:
                    cleanup_command = Shell(self.advance().text)
                    break
                raise self.error(
                    token,
                    "a `command` without a time is allowed only before the first event "
                    "(init command) and after the last one (cleanup command)",
                )
            if token.kind is TokenKind.OPTION:
                raise self.error(
                    token, f"option --{token.text} must come before the init command and events"
                )
            events.append(self.event())
        if not events:
            raise self.error(self.token, "the script has no events")
        return Script(self.source.path, options, init_command, events, cleanup_command)

    def event(self) -> Event:
        first = self.token
        time = self.time()
        token = self.token
        action: Action
        if self.is_punct(token, "<") or self.is_punct(token, ">"):
            action = self.packet()
        elif token.kind is TokenKind.BACK_QUOTED:
            action = Shell(self.advance().text)
        elif token.kind is TokenKind.CODE:
            action = Code(self.advance().text)
        elif token.kind is TokenKind.WORD:
            action = self.syscall()
        else:
            raise self.error(
                token,
                "expected a packet ('<' or '>'), a system call, a `command` or a "
                f"%{{ code }}% block after the time, got {describe(token)}",
            )
        self.check_time(first, time, action)
        self.check_event_end(action)
        return Event(time, action, first.line, first.column)

    def check_time(self, first: Token, time: EventTime, action: Action) -> None:
        """Times that only some actions may have (packetdrill parser.y)."""
        outbound = isinstance(action, Packet) and action.direction is Direction.OUTBOUND
        if time.kind is TimeKind.ANY and not outbound:
            raise self.error(first, "'*' (any time) is allowed only on outbound packets ('>')")
        if time.kind is TimeKind.RANGE and not outbound:
            raise self.error(first, "a time range (a~b) is allowed only on outbound packets ('>')")
        if time.kind is TimeKind.BLOCKING and not isinstance(action, Syscall):
            raise self.error(first, "a blocking time (T...E) is allowed only on system calls")

    def check_event_end(self, action: Action) -> None:
        """The next token must start another event, the cleanup command, or end the file."""
        token = self.token
        if token.kind in (
            TokenKind.INTEGER,
            TokenKind.FLOAT,
            TokenKind.BACK_QUOTED,
            TokenKind.OPTION,
            TokenKind.EOF,
        ) or (token.kind is TokenKind.PUNCT and token.text in "+*"):
            return
        if (
            isinstance(action, Packet)
            and token.kind is TokenKind.WORD
            and token.text in _PACKET_FIELDS
        ):
            raise self.error(
                token,
                f"'{token.text}' is out of place: a packet's fields come in the order "
                "START:END(LEN) ack N win N urg N <options>",
            )
        what = "packet" if isinstance(action, Packet) else "event"
        raise self.error(
            token,
            f"unexpected {describe(token)} after the {what}; "
            "expected the time of the next event (e.g. 0, +.1, *)",
        )

    # --- times (LANGUAGE.md section 3) ----------------------------------------------

    def time(self) -> EventTime:
        if self.accept("*"):
            return ANY_TIME
        relative = self.accept("+")
        start = self.seconds("an event time (e.g. 0, 1.5, +.1, *)")
        if self.accept("~"):
            token = self.token
            if self.accept("+") != relative:
                raise self.error(
                    token, "both ends of a time range must be absolute (a~b) or relative (+a~+b)"
                )
            end_token = self.token
            end = self.seconds("the end of the time range")
            if end < start:
                raise self.error(end_token, "the time range ends before it starts")
            return EventTime(TimeKind.RANGE, start, end, relative)
        if self.token.kind is TokenKind.ELLIPSIS:
            self.advance()
            end_token = self.token
            if self.is_punct(end_token, "+"):
                raise self.error(
                    end_token,
                    "the return time E of T...E is written without '+': "
                    "it counts from the same base as the start T",
                )
            end = self.seconds("the return time of the blocking call (T...E)")
            if end < start:
                raise self.error(end_token, "a blocking call cannot return before it starts")
            return EventTime(TimeKind.BLOCKING, start, end, relative)
        return EventTime(TimeKind.EXACT, start, None, relative)

    def seconds(self, what: str) -> int:
        """An INTEGER or FLOAT token of seconds, as exact integer microseconds."""
        token = self.token
        if token.kind is not TokenKind.INTEGER and token.kind is not TokenKind.FLOAT:
            raise self.error(token, f"expected {what}, got {describe(token)}")
        text = token.text
        if text.startswith("-"):
            raise self.error(token, "a time cannot be negative")
        whole, _, fraction = text.partition(".")
        if len(whole) > _MAX_TIME_DIGITS:
            raise self.error(token, f"time {text} is too large")
        if fraction[6:].strip("0"):
            raise self.error(token, f"time {text} is finer than a microsecond")
        self.index += 1
        return int(whole or "0") * 1_000_000 + int(fraction[:6].ljust(6, "0"))

    # --- packets (LANGUAGE.md section 4) ---------------------------------------------

    def packet(self) -> Packet:
        direction_token = self.advance()
        direction = Direction(direction_token.text)
        ip_info = self.ip_info() if self.is_punct(self.token, "[") else None
        ports = None
        if self.token.kind is TokenKind.INTEGER and self.is_punct(self.peek(), ">"):
            source_port = self.unsigned("the source port", 16)
            self.advance()
            ports = (source_port, self.unsigned("the destination port", 16))
        flags, flag_bits = self.flags()
        start_token = self.token
        start = self.unsigned("the start sequence number", 32)
        self.expect(":", "between START and END in START:END(LEN)")
        end = self.unsigned("the end sequence number", 32)
        self.expect("(", "before LEN in START:END(LEN)")
        length = self.unsigned("the payload length", 16)
        self.expect(")", "after LEN in START:END(LEN)")
        if end != start + length:
            raise self.error(
                start_token,
                f"inconsistent sequence numbers {start}:{end}({length}): "
                f"END must be START+LEN = {start + length}",
            )
        ack = window = urg = None
        if self.is_word(self.token, "ack"):
            self.advance()
            ack = self.unsigned("the ack number", 32)
        if self.is_word(self.token, "win"):
            self.advance()
            window = self.unsigned("the window", 16)
        if self.is_word(self.token, "urg"):
            self.advance()
            urg = self.unsigned("the urgent pointer", 16)
        options: tuple[TcpOption, ...] | Wildcard | None = None
        if self.is_punct(self.token, "<"):
            options = self.options(direction)
        if direction is Direction.INBOUND and window is None:
            raise self.error(
                direction_token, "window must be specified for inbound packets (win N)"
            )
        return Packet(
            direction,
            flags,
            flag_bits,
            start,
            end,
            length,
            ack,
            window,
            urg,
            options,
            ip_info,
            ports,
        )

    def flags(self) -> tuple[str, int]:
        """``.``, ``-`` or a WORD of flag letters optionally followed by ``.``."""
        token = self.token
        if self.accept(".") or self.accept("-"):
            return token.text, FLAG_LETTERS.get(token.text, 0)
        if token.kind is not TokenKind.WORD:
            raise self.error(token, f"expected TCP flags ({_FLAGS_HELP}), got {describe(token)}")
        if token.text in ("udp", "icmp"):
            raise self.error(token, f"{token.text.upper()} packets are not supported (TCP only)")
        self.advance()
        flags = token.text + ("." if self.accept(".") else "")
        bits = 0
        for letter in flags:
            bit = FLAG_LETTERS.get(letter)
            if bit is None:
                if letter.isdigit():
                    raise self.error(token, "AccECN ACE digits in TCP flags are not supported")
                raise self.error(
                    token, f"unknown TCP flag {letter!r} in {flags!r} (flags: {_FLAGS_HELP})"
                )
            if bits & bit:
                raise self.error(token, f"TCP flag {letter!r} repeated in {flags!r}")
            bits |= bit
        return flags, bits

    def ip_info(self) -> IpInfo:
        """``[ect0]``, ``[tos 0x4, flowlabel 7]``, ``[ttl 64]``..."""
        self.advance()
        ecn: str | None = None
        numbers: dict[str, int] = {}
        while True:
            token = self.token
            if token.kind is TokenKind.WORD and token.text in _ECN_CODEPOINTS:
                if ecn is not None:
                    raise self.error(token, "the ECN codepoint is given twice")
                ecn = self.advance().text
            elif token.kind is TokenKind.WORD and token.text in _IP_NUMBERS:
                if token.text in numbers:
                    raise self.error(token, f"'{token.text}' is given twice")
                self.advance()
                what, bits = _IP_NUMBERS[token.text]
                numbers[token.text] = (
                    self.byte_value(what) if bits == 8 else self.unsigned(what, bits)
                )
            else:
                raise self.error(
                    token,
                    "expected IP info (ect0, ect1, ect01, ce, noecn, tos N, ttl N, "
                    f"flowlabel N), got {describe(token)}",
                )
            if not self.accept(","):
                break
        self.expect("]", "to close the IP info")
        return IpInfo(ecn, numbers.get("tos"), numbers.get("ttl"), numbers.get("flowlabel"))

    def byte_value(self, what: str) -> int:
        """An 8-bit value, decimal or hex (``tos 0x4``)."""
        token = self.token
        if token.kind is TokenKind.HEX:
            value = self.integer(token)
            if value > 0xFF:
                raise self.error(token, f"{what} {token.text} is out of range (at most 0xff)")
            self.advance()
            return value
        return self.unsigned(what, 8)

    def options(self, direction: Direction) -> tuple[TcpOption, ...] | Wildcard:
        opening = self.advance()
        if self.token.kind is TokenKind.ELLIPSIS:
            self.advance()
            self.expect(">", "after '<...'")
            if direction is Direction.INBOUND:
                raise self.error(
                    opening, "the option wildcard <...> is allowed only on outbound packets ('>')"
                )
            return WILDCARD
        if self.is_punct(self.token, ">"):
            raise self.error(self.token, "empty option list '<>': leave it out for no options")
        options = [self.option()]
        while self.accept(","):
            options.append(self.option())
        token = self.token
        if not self.is_punct(token, ">"):
            raise self.error(
                token, f"expected ',' or '>' in the option list, got {describe(token)}"
            )
        self.advance()
        return tuple(options)

    def option(self) -> TcpOption:
        token = self.token
        name = token.text if token.kind is TokenKind.WORD else ""
        self.advance()
        if name == "nop":
            return NOP
        if name == "eol":
            return EOL
        if name == "mss":
            return MaxSegmentSize(self.unsigned("the MSS", 16))
        if name == "wscale":
            return WindowScale(self.unsigned("the window scale", 8))
        if name == "sackOK":
            return SACK_PERMITTED
        if name == "sack":
            blocks = []
            while self.token.kind is TokenKind.INTEGER:
                left = self.unsigned("a SACK block's left edge", 32)
                self.expect(":", "between the edges of a SACK block L:R")
                blocks.append((left, self.unsigned("a SACK block's right edge", 32)))
            if not blocks:
                raise self.error(self.token, "sack needs at least one block L:R")
            return Sack(tuple(blocks))
        if name == "TS":
            self.keyword("val", "after TS (TS val V ecr E)")
            value = self.unsigned("the TS value", 32)
            self.keyword("ecr", "in TS val V ecr E")
            return Timestamps(value, self.unsigned("the TS echo reply", 32))
        if name == "FO":
            return UnknownOption(KIND_FAST_OPEN, self.cookie())
        if name == "FOEXP":
            return UnknownOption(KIND_EXPERIMENTAL, FAST_OPEN_EXPERIMENT_MAGIC + self.cookie())
        if name == "md5":
            raise self.error(token, "the md5 option (RFC 2385) is not supported")
        if name == "ECN":
            raise self.error(token, "AccECN options (ECN ...) are not supported")
        raise self.error(
            token,
            f"expected a TCP option (nop, eol, mss N, wscale N, sackOK, sack L:R..., "
            f"TS val V ecr E, FO, FOEXP), got {describe(token)}",
        )

    def keyword(self, word: str, context: str) -> None:
        token = self.token
        if not self.is_word(token, word):
            raise self.error(token, f"expected '{word}' {context}, got {describe(token)}")
        self.advance()

    def cookie(self) -> bytes:
        """An optional Fast Open cookie: up to 16 bytes in hex (``FO 3021b9d889017eeb``)."""
        token = self.token
        if token.kind is not TokenKind.WORD and token.kind is not TokenKind.INTEGER:
            return b""
        if not _HEX_COOKIE.match(token.text):
            raise self.error(
                token, "a Fast Open cookie is an even number of hex digits, at most 16 bytes"
            )
        self.advance()
        return bytes.fromhex(token.text)

    # --- system calls (LANGUAGE.md section 6) --------------------------------------

    def syscall(self) -> Syscall:
        name = self.advance()
        self.expect("(", f"after the system call name '{name.text}'")
        args = self.arguments(")", "to close the argument list")
        self.expect("=", "and the expected result after the system call")
        # A NAME followed by '(' here is a symbol and a note, not a call.
        result = self.expression(allow_call=False)
        errno = note = None
        token = self.token
        if token.kind is TokenKind.WORD:
            errno = self.advance().text
            if not self.is_punct(self.token, "("):
                raise self.error(
                    self.token,
                    f"the errno {errno} must be followed by a note in parentheses, "
                    "e.g. EPIPE (Broken pipe)",
                )
        if self.is_punct(self.token, "("):
            note = self.note()
        return Syscall(name.text, args, result, errno, note)

    def note(self) -> str:
        """``(any text)``, nested parentheses allowed; whitespace collapsed."""
        opening = self.advance()
        depth = 1
        while True:
            token = self.advance()
            if token.kind is TokenKind.EOF:
                raise self.error(opening, "unterminated note: no ')'")
            if self.is_punct(token, "("):
                depth += 1
            elif self.is_punct(token, ")"):
                depth -= 1
                if not depth:
                    return " ".join(self.source.text[opening.end : token.start].split())

    def arguments(self, closer: str, context: str) -> tuple[Expr, ...]:
        """Comma-separated expressions up to ``closer`` (which is consumed)."""
        if self.accept(closer):
            return ()
        items = [self.expression()]
        while self.accept(","):
            items.append(self.expression())
        token = self.token
        if not self.is_punct(token, closer):
            raise self.error(token, f"expected ',' or '{closer}' {context}, got {describe(token)}")
        self.advance()
        return tuple(items)

    def expression(self, allow_call: bool = True) -> Expr:
        return self.bit_or(self.primary(allow_call), allow_call)

    def bit_or(self, first: Expr, allow_call: bool) -> Expr:
        if not self.is_punct(self.token, "|"):
            return first
        operands = [first]
        while self.accept("|"):
            operands.append(self.primary(allow_call))
        return BitOr(tuple(operands))

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(token, f"expression nested more than {MAX_NESTING} deep")

    def primary(self, allow_call: bool = True) -> Expr:
        token = self.token
        kind = token.kind
        if kind is TokenKind.ELLIPSIS:
            self.advance()
            return ELLIPSIS
        if kind is TokenKind.INTEGER or kind is TokenKind.HEX:
            value = self.integer(token)
            if not _INT64_MIN <= value <= _UINT64_MAX:
                raise self.error(token, f"integer {token.text} is out of the 64-bit range")
            self.advance()
            return Integer(value)
        if kind is TokenKind.STRING:
            self.advance()
            return String(token.text)
        if kind is TokenKind.WORD:
            self.advance()
            if token.text == "NULL":
                return NULL
            if allow_call and self.is_punct(self.token, "("):
                return self.call(token)
            return Symbol(token.text)
        if self.is_punct(token, "["):
            self.enter(token)
            self.advance()
            items = self.arguments("]", "in the list")
            self.depth -= 1
            return List(items)
        if self.is_punct(token, "{"):
            return self.struct()
        raise self.error(
            token,
            'expected an expression (a number, NAME, ..., NULL, "string", [list], '
            f"{{struct}} or call(...)), got {describe(token)}",
        )

    def call(self, name: Token) -> Call:
        """``name(args)``; the name has been consumed, the '(' has not."""
        self.enter(name)
        self.advance()
        args = self.arguments(")", f"to close {name.text}(...)")
        self.depth -= 1
        return Call(name.text, args)

    def struct(self) -> Struct:
        opening = self.advance()
        self.enter(opening)
        fields: list[Field] = []
        if not self.accept("}"):
            fields.append(self.field())
            while self.accept(","):
                fields.append(self.field())
            token = self.token
            if not self.is_punct(token, "}"):
                raise self.error(
                    token, f"expected ',' or '}}' in the struct, got {describe(token)}"
                )
            self.advance()
        self.depth -= 1
        return Struct(tuple(fields))

    def field(self) -> Field:
        """``name=value``, ``name(index)=value`` or a positional expression."""
        token = self.token
        if token.kind is TokenKind.WORD and token.text != "NULL":
            after = self.peek()
            if self.is_punct(after, "="):
                self.index += 2
                return Field(token.text, self.expression())
            if self.is_punct(after, "("):
                self.advance()
                call = self.call(token)
                if not self.accept("="):
                    return Field(None, self.bit_or(call, True))
                if len(call.args) != 1:
                    raise self.error(token, f"expected one index in {token.text}(index)=value")
                return Field(token.text, self.expression(), call.args[0])
        return Field(None, self.expression())


def parse_text(
    text: str, path: str = "<string>", defines: Mapping[str, str] | None = None
) -> Script:
    """Parse a script.

    ``defines`` (packetdrill's ``-D NAME=value``) replace each WORD ``NAME``
    by the tokens of ``value``.  Raises :class:`PacketdrillSyntaxError`
    (located at ``path:line:column``) for any problem in the text, and
    ``ValueError`` for a define name that is not a word.
    """
    source = Source(text, path)
    return _Parser(source, tokenize_source(source, defines)).script()


def parse_file(path: str | Path, defines: Mapping[str, str] | None = None) -> Script:
    """Read and parse a ``.pkt`` file (UTF-8).

    A file that is not valid UTF-8 raises :class:`PacketdrillSyntaxError`;
    one that cannot be read raises ``OSError``.
    """
    name = str(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8")
        source = Source(good + data[error.start :].decode("utf-8", "replace"), name)
        raise source.error(len(good), f"invalid UTF-8 byte 0x{data[error.start]:02x}") from None
    return parse_text(text, name, defines)
