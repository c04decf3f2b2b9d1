"""Syntax errors: the exact line:column, the message, and the caret display."""

from __future__ import annotations

from pathlib import Path

import pytest

from synack.packetdrill import PacketdrillSyntaxError, parse_file, parse_text
from synack.packetdrill.parser import MAX_NESTING

HANDSHAKE = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"


def error_of(text: str, defines: dict[str, str] | None = None) -> PacketdrillSyntaxError:
    with pytest.raises(PacketdrillSyntaxError) as info:
        parse_text(text, "t.pkt", defines)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        # --- script structure
        ("", 1, 1, "the script has no events"),
        ("// only a comment\n", 2, 1, "the script has no events"),
        ("--mss=1000\n`init`\n", 3, 1, "the script has no events"),
        ("`a`\n`b`\n0 close(3) = 0", 2, 1, "a `command` without a time is allowed only before"),
        ("0 close(3) = 0\n`x`\n+0 close(4) = 0", 2, 1, "a `command` without a time is allowed"),
        ("0 close(3) = 0\n--mss=1000", 2, 1, "option --mss must come before the init command"),
        ("`a`\n--mss=1", 2, 1, "option --mss must come before"),
        ("close(3) = 0", 1, 1, "expected an event time (e.g. 0, 1.5, +.1, *), got 'close'"),
        ("0 close(3) = 0 ;", 1, 16, "unexpected ';' after the event; expected the time"),
        ("0 > S. 0:0(0) win 5 ack 1", 1, 21, "'ack' is out of place"),
        ("0 > S. 0:0(0) <mss 1> win 1", 1, 23, "'win' is out of place"),
        ("0 ;", 1, 3, "expected a packet ('<' or '>'), a system call"),
        ("0 close", 1, 8, "expected '(' after the system call name 'close', got end of file"),
        # --- times
        ("-1 close(3) = 0", 1, 1, "a time cannot be negative"),
        ("0.0000001 close(3) = 0", 1, 1, "time 0.0000001 is finer than a microsecond"),
        ("1234567890123 close(3) = 0", 1, 1, "time 1234567890123 is too large"),
        ("+ close(3) = 0", 1, 3, "expected an event time"),
        ("+0~1 > . 1:1(0)", 1, 4, "both ends of a time range must be absolute (a~b) or relative"),
        ("0~+1 > . 1:1(0)", 1, 3, "both ends of a time range"),
        ("0.2~0.1 > . 1:1(0)", 1, 5, "the time range ends before it starts"),
        ("+0~+1 < . 1:1(0) win 1", 1, 1, "a time range (a~b) is allowed only on outbound packets"),
        ("0~1 close(3) = 0", 1, 1, "a time range (a~b) is allowed only on outbound"),
        ("* close(3) = 0", 1, 1, "'*' (any time) is allowed only on outbound packets"),
        ("* < . 1:1(0) win 1", 1, 1, "'*' (any time) is allowed only on outbound"),
        ("0...1 > . 1:1(0)", 1, 1, "a blocking time (T...E) is allowed only on system calls"),
        ("+0...+1 read(4, ..., 1) = 1", 1, 6, "the return time E of T...E is written without '+'"),
        ("0.2...0.1 read(4, ..., 1) = 1", 1, 7, "a blocking call cannot return before it starts"),
        ("0... read(4, ..., 1) = 1", 1, 6, "expected the return time of the blocking call"),
        # --- packets
        ("0 < S 0:0(0) <mss 1000>", 1, 3, "window must be specified for inbound packets (win N)"),
        (
            "0 < S 0:0(0) win 1 <...>",
            1,
            20,
            "the option wildcard <...> is allowed only on outbound",
        ),
        ("0 > . 1:1001(100) ack 1", 1, 7, "inconsistent sequence numbers 1:1001(100): END must be"),
        ("0 > . 1:1:1(0)", 1, 10, "expected '(' before LEN in START:END(LEN), got ':'"),
        ("0 > . 1:1(0", 1, 12, "expected ')' after LEN in START:END(LEN), got end of file"),
        ("0 > . 4294967296:4294967296(0)", 1, 7, "the start sequence number 4294967296 is out of"),
        ("0 > . 0:65536(65536)", 1, 15, "the payload length 65536 is out of range (at most 65535)"),
        ("0 > . -1:0(1)", 1, 7, "the start sequence number cannot be negative"),
        ("0 < . 1:1(0) win 65536", 1, 18, "the window 65536 is out of range (at most 65535)"),
        ("0 > . 1:1(0) ack x", 1, 18, "expected the ack number (an integer), got 'x'"),
        ("0 > 1:1(0)", 1, 5, "expected TCP flags"),
        ("0 > SX 0:0(0)", 1, 5, "unknown TCP flag 'X' in 'SX'"),
        ("0 > SS 0:0(0)", 1, 5, "TCP flag 'S' repeated in 'SS'"),
        ("0 > S1 0:0(0)", 1, 5, "AccECN ACE digits in TCP flags are not supported"),
        ("0 > udp (1000)", 1, 5, "UDP packets are not supported (TCP only)"),
        ("0 < icmp unreachable", 1, 5, "ICMP packets are not supported"),
        ("0 > S 0:0(0) <>", 1, 15, "empty option list '<>'"),
        ("0 > S 0:0(0) <mss 1460 nop>", 1, 24, "expected ',' or '>' in the option list, got 'nop'"),
        ("0 > S 0:0(0) <mss 1460,>", 1, 24, "expected a TCP option"),
        ("0 > S 0:0(0) <bogus>", 1, 15, "expected a TCP option (nop, eol, mss N"),
        ("0 > S 0:0(0) <mss 70000>", 1, 19, "the MSS 70000 is out of range"),
        ("0 > S 0:0(0) <wscale 256>", 1, 22, "the window scale 256 is out of range (at most 255)"),
        ("0 > S 0:0(0) <sack>", 1, 19, "sack needs at least one block L:R"),
        ("0 > S 0:0(0) <sack 1-2>", 1, 21, "expected ':' between the edges of a SACK block"),
        ("0 > S 0:0(0) <TS 1 ecr 2>", 1, 18, "expected 'val' after TS (TS val V ecr E), got '1'"),
        ("0 > S 0:0(0) <TS val 1 2>", 1, 24, "expected 'ecr' in TS val V ecr E, got '2'"),
        ("0 > S 0:0(0) <FO xyz>", 1, 18, "a Fast Open cookie is an even number of hex digits"),
        ("0 > S 0:0(0) <FO abc>", 1, 18, "a Fast Open cookie is an even number of hex digits"),
        ("0 > S 0:0(0) <md5 abcd>", 1, 15, "the md5 option (RFC 2385) is not supported"),
        ("0 > S 0:0(0) <ECN e1b 1>", 1, 15, "AccECN options (ECN ...) are not supported"),
        ("0 > S 0:0(0) <...", 1, 18, "expected '>' after '<...', got end of file"),
        ("0 > [ect0, ect1] S 0:0(0)", 1, 12, "the ECN codepoint is given twice"),
        ("0 > [tos 0x100] S 0:0(0)", 1, 10, "the TOS byte 0x100 is out of range"),
        ("0 > [ttl 1, ttl 2] S 0:0(0)", 1, 13, "'ttl' is given twice"),
        ("0 > [hop 1] S 0:0(0)", 1, 6, "expected IP info (ect0"),
        ("0 > [ttl 1 S 0:0(0)", 1, 12, "expected ']' to close the IP info, got 'S'"),
        ("0 > 70000>1 S 0:0(0)", 1, 5, "the source port 70000 is out of range"),
        # --- system calls
        ("0 close(3)", 1, 11, "expected '=' and the expected result after the system call"),
        ("0 close(3) 0", 1, 12, "expected '=' and the expected result"),
        ("0 close(3 = 0", 1, 11, "expected ',' or ')' to close the argument list, got '='"),
        ("0 write(4, ..., 1) = -1 EPIPE", 1, 30, "the errno EPIPE must be followed by a note"),
        ("0 write(4, ..., 1) = -1 EPIPE (Broken", 1, 31, "unterminated note: no ')'"),
        ("0 close(3) = ", 1, 14, "expected an expression"),
        ("0 f(1.5) = 0", 1, 5, "expected an expression (a number, NAME"),
        ("0 f(<) = 0", 1, 5, "expected an expression"),
        ("0 f([1, 2) = 0", 1, 10, "expected ',' or ']' in the list, got ')'"),
        ("0 f({a=1 b=2}) = 0", 1, 10, "expected ',' or '}' in the struct, got 'b'"),
        ("0 f({a(1, 2)=3}) = 0", 1, 6, "expected one index in a(index)=value"),
        ("0 f(htons(1) = 0", 1, 14, "expected ',' or ')' to close the argument list"),
        ("0 f(g(1 = 0", 1, 9, "expected ',' or ')' to close g(...), got '='"),
        ("0 f(A|) = 0", 1, 7, "expected an expression"),
        ("0 f(99999999999999999999) = 0", 1, 5, "integer 99999999999999999999 is out of the 64"),
        ("0 f(0x10000000000000000) = 0", 1, 5, "integer 0x10000000000000000 is out of the 64-bit"),
        ("0 f(" + "1" * 41 + ") = 0", 1, 5, "number too long (41 characters)"),
    ],
)
def test_error_positions(text: str, line: int, column: int, message: str) -> None:
    error = error_of(text)
    assert (error.line, error.column) == (line, column), error.message
    assert error.message.startswith(message), error.message


def test_str_is_path_line_column_message_source_and_caret() -> None:
    error = error_of(HANDSHAKE + "  +0 < S 0:0(0) <mss 1000>\n")
    assert str(error) == (
        "t.pkt:2:6: window must be specified for inbound packets (win N)\n"
        "  +0 < S 0:0(0) <mss 1000>\n"
        "     ^"
    )
    assert error.path == "t.pkt"
    assert error.source_line == "  +0 < S 0:0(0) <mss 1000>"
    assert isinstance(error, ValueError)


def test_caret_keeps_tabs_aligned() -> None:
    error = error_of("0 close(3) = 0\n\t+0\t> SX 0:0(0)\r\n")
    assert (error.line, error.column) == (2, 7)
    assert str(error).splitlines()[1:] == ["\t+0\t> SX 0:0(0)", "\t  \t  ^"]


def test_error_at_end_of_file_has_no_source_line() -> None:
    error = error_of("0 close(3) = 0\n`cleanup`\n`second`\n")
    assert (error.line, error.column) == (2, 1)
    error = error_of("// nothing\n")
    assert str(error) == "t.pkt:2:1: the script has no events"


def test_errors_inside_multiline_syscall() -> None:
    text = (
        HANDSHAKE
        + "+0 sendmsg(4, {msg_name(...)=...,\n"
        + "      msg_iov(1)=[{..., 40}]\n"
        + " msg_flags=0}, 0) = 40\n"
    )
    error = error_of(text)
    assert (error.line, error.column) == (4, 2)
    assert error.message == "expected ',' or '}' in the struct, got 'msg_flags'"


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    error = error_of("0 f(" + "[" * 10_000 + ") = 0")
    assert error.message == f"expression nested more than {MAX_NESTING} deep"
    assert (error.line, error.column) == (1, 5 + MAX_NESTING)
    error = error_of("0 f(" + "{" * 200 + ") = 0")
    assert error.message.startswith("expression nested")
    error = error_of("0 f(" + "g(" * 200 + ") = 0")
    assert error.message.startswith("expression nested")
    # Exactly the limit is fine.
    depth = MAX_NESTING
    parse_text("0 f(" + "[" * depth + "1" + "]" * depth + ") = 0")


def test_long_bit_or_chains_do_not_recurse() -> None:
    script = parse_text("0 f(" + "|".join(["A"] * 20_000) + ") = 0")
    assert len(script.events) == 1


def test_invalid_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.pkt"
    path.write_bytes(b"0 close(3) = 0\n+0 \xff close(4) = 0\n")
    with pytest.raises(PacketdrillSyntaxError) as info:
        parse_file(path)
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 2, 4)
    assert info.value.message == "invalid UTF-8 byte 0xff"


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_file(tmp_path / "nope.pkt")
