"""Fuzzing: any text gives a Script or a PacketdrillSyntaxError, never another exception.

Three sources of input: random text over the language's characters, random
token soups (which get further into the parser), and random mutations of the
real corpus scripts.  Every Script that does come out must also survive the
printer: each event formats and parses back to itself.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pd_corpus import SCRIPTS

from synack.packetdrill import PacketdrillSyntaxError, Script, format_event, parse_text

FUZZ = settings(
    max_examples=400,
    deadline=timedelta(seconds=2),  # "no hang": any one parse must finish quickly
    suppress_health_check=[HealthCheck.too_slow],
)

CORPUS_TEXTS = [path.read_text() for path in SCRIPTS] or [
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) win 1 <mss 1000>\n"
    "+0 > S. 0:0(0) ack 1 <...>\n+.1...0.2 read(4, ..., 10) = 10\n* > . 1:1(0) ack 1\n"
]

ALPHABET = '0123456789.+-*~<>:()[]{},=|`"%/\\ \n\t_xSFPRAWEU' + "ackwinurgmsopeTvlrNUL"
TOKENS = [
    "0", "+0", "+.1", ".1", "1.5", "-1", "4294967296", "0x1F", "...", "*", "~", "<", ">",
    ":", "(", ")", "[", "]", "{", "}", ",", "=", "|", "+", "-", ".", "S", "S.", "P.", "F",
    "R", "A", "ack", "win", "urg", "mss", "wscale", "sackOK", "sack", "TS", "val", "ecr",
    "nop", "eol", "FO", "FOEXP", "md5", "ECN", "NULL", "SOL_SOCKET", "EPIPE", "close",
    "socket", "msg_iov", "htons", "1:1(0)", "0:0(0)", "1:1001(1000)", '"s"', "`cmd`",
    "%{ x }%", "--mss=1", "//c\n", "/*c*/", "\n", "[ect0]", "tos", "ttl", "udp",
]  # fmt: skip


def check(text: str) -> None:
    """Parse; a Script must round-trip through the printer, an error must be well-formed."""
    try:
        script = parse_text(text, "fuzz.pkt")
    except PacketdrillSyntaxError as error:
        assert error.path == "fuzz.pkt"
        assert 1 <= error.line <= text.count("\n") + 1
        assert error.column >= 1
        assert str(error).startswith(f"fuzz.pkt:{error.line}:{error.column}: ")
        return
    assert isinstance(script, Script) and script.events
    for event in script.events:
        again = parse_text(format_event(event)).events[0]
        assert (again.time, again.action) == (event.time, event.action)


@FUZZ
@given(st.text(alphabet=ALPHABET, max_size=200))
def test_random_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.text(max_size=100))
def test_random_unicode(text: str) -> None:
    check(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from([" ", "", "\n"]))
def test_token_soup(tokens: list[str], separator: str) -> None:
    check(separator.join(tokens))


@FUZZ
@given(
    st.lists(st.sampled_from(TOKENS), max_size=12),
    st.sampled_from(["0 f(", "0 > S ", "0 < . 1:1(0) win 1 <", "+0 f() = ", "0 > S 0:0(0) <"]),
)
def test_token_soup_after_a_prefix(tokens: list[str], prefix: str) -> None:
    check(prefix + " ".join(tokens))


@st.composite
def mutated_script(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(CORPUS_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        size = len(text)
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, min(size, start + 20)))
        operation = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if operation == "delete":
            text = text[:start] + text[end:]
        elif operation == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        else:
            piece = draw(st.one_of(st.text(alphabet=ALPHABET, max_size=5), st.sampled_from(TOKENS)))
            text = text[:start] + piece + (text[start:] if operation == "insert" else text[end:])
    return text


@FUZZ
@given(mutated_script())
def test_mutated_corpus_scripts(text: str) -> None:
    check(text)
