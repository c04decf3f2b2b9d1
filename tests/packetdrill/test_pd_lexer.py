"""The packetdrill lexer (LANGUAGE.md section 2): kinds, longest match, positions, errors."""

from __future__ import annotations

import pytest

from synack.packetdrill import PacketdrillSyntaxError, TokenKind, tokenize

K = TokenKind


def kinds_and_texts(text: str) -> list[tuple[TokenKind, str]]:
    return [(token.kind, token.text) for token in tokenize(text)[:-1]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1460", [(K.INTEGER, "1460")]),
        ("-1", [(K.INTEGER, "-1")]),
        ("0x1f", [(K.HEX, "0x1f")]),
        ("0xABCdef", [(K.HEX, "0xABCdef")]),
        ("1.5", [(K.FLOAT, "1.5")]),
        (".1", [(K.FLOAT, ".1")]),
        ("-0.5", [(K.FLOAT, "-0.5")]),
        ("+.04", [(K.PUNCT, "+"), (K.FLOAT, ".04")]),
        ("0.100...0.200", [(K.FLOAT, "0.100"), (K.ELLIPSIS, "..."), (K.FLOAT, "0.200")]),
        ("+0...0.000", [(K.PUNCT, "+"), (K.INTEGER, "0"), (K.ELLIPSIS, "..."), (K.FLOAT, "0.000")]),
        ("+.1~+.105", [(K.PUNCT, "+"), (K.FLOAT, ".1"), (K.PUNCT, "~"),
                       (K.PUNCT, "+"), (K.FLOAT, ".105")]),
        # Longest match wins; ties go to the earlier kind (INTEGER, HEX before WORD).
        ("12ab", [(K.WORD, "12ab")]),
        ("0x1fz", [(K.WORD, "0x1fz")]),
        ("1.5abc", [(K.FLOAT, "1.5"), (K.WORD, "abc")]),
        ("-12ab", [(K.INTEGER, "-12"), (K.WORD, "ab")]),
        ("sackOK", [(K.WORD, "sackOK")]),
        ("SO_REUSEADDR", [(K.WORD, "SO_REUSEADDR")]),
        ("3021b9d889017eeb", [(K.WORD, "3021b9d889017eeb")]),
        ("P.", [(K.WORD, "P"), (K.PUNCT, ".")]),
        ("- 0", [(K.PUNCT, "-"), (K.INTEGER, "0")]),
        ("<...>", [(K.PUNCT, "<"), (K.ELLIPSIS, "..."), (K.PUNCT, ">")]),
        ("1:1001(1000)", [(K.INTEGER, "1"), (K.PUNCT, ":"), (K.INTEGER, "1001"),
                          (K.PUNCT, "("), (K.INTEGER, "1000"), (K.PUNCT, ")")]),
        ("O_RDWR|O_NONBLOCK", [(K.WORD, "O_RDWR"), (K.PUNCT, "|"), (K.WORD, "O_NONBLOCK")]),
        ('"a b\\" c"', [(K.STRING, 'a b\\" c')]),
        ("é", [(K.PUNCT, "é")]),
    ],
)  # fmt: skip
def test_token_kinds(text: str, expected: list[tuple[TokenKind, str]]) -> None:
    assert kinds_and_texts(text) == expected


def test_options() -> None:
    tokens = tokenize('--mss=1000 --remote_ip="192.0.2.2" --verbose --path=/a/b // c\n')
    assert [(t.kind, t.text, t.value) for t in tokens[:-1]] == [
        (K.OPTION, "mss", "1000"),
        (K.OPTION, "remote_ip", "192.0.2.2"),
        (K.OPTION, "verbose", None),
        (K.OPTION, "path", "/a/b"),
    ]


def test_comments_are_skipped() -> None:
    text = "// line\n0 /* block\n spanning */ close(3) = 0 // tail\n/**/"
    assert kinds_and_texts(text) == [
        (K.INTEGER, "0"),
        (K.WORD, "close"),
        (K.PUNCT, "("),
        (K.INTEGER, "3"),
        (K.PUNCT, ")"),
        (K.PUNCT, "="),
        (K.INTEGER, "0"),
    ]


def test_code_is_stripped_of_spaces_and_tabs_only() -> None:
    (code,) = tokenize("%{ \t assert x == 1 \t}%")[:-1]
    assert (code.kind, code.text) == (K.CODE, "assert x == 1")
    (code,) = tokenize("%{\nassert a\nassert b\n}%")[:-1]
    assert code.text == "\nassert a\nassert b\n"


def test_multiline_tokens_and_positions() -> None:
    text = "`./defaults.sh\nsysctl -q x=1`\n\n   +0 %{\nassert 1\n}% \t< S"
    tokens = tokenize(text)
    assert [(t.kind, t.line, t.column) for t in tokens] == [
        (K.BACK_QUOTED, 1, 1),
        (K.PUNCT, 4, 4),
        (K.INTEGER, 4, 5),
        (K.CODE, 4, 7),
        (K.PUNCT, 6, 5),  # a tab counts as one column
        (K.WORD, 6, 7),
        (K.EOF, 6, 8),
    ]
    assert tokens[0].text == "./defaults.sh\nsysctl -q x=1"
    assert (tokens[0].start, tokens[0].end) == (0, 29)


def test_escaped_backtick_stays_in_the_command() -> None:
    (token,) = tokenize(r"`echo \` x`")[:-1]
    assert token.text == r"echo \` x"


def test_defines_substitute_words() -> None:
    tokens = tokenize("FO TFO_COOKIE, LEVEL X", defines={"TFO_COOKIE": "3021b9d8", "LEVEL": "1|2"})
    assert [(t.kind, t.text, t.column) for t in tokens[:-1]] == [
        (K.WORD, "FO", 1),
        (K.WORD, "3021b9d8", 4),
        (K.PUNCT, ",", 14),
        (K.INTEGER, "1", 16),  # every substituted token sits at the replaced word
        (K.PUNCT, "|", 16),
        (K.INTEGER, "2", 16),
        (K.WORD, "X", 22),
    ]


def test_define_with_empty_value_removes_the_word() -> None:
    assert kinds_and_texts(
        "a B c",
    ) == [(K.WORD, "a"), (K.WORD, "B"), (K.WORD, "c")]
    assert [t.text for t in tokenize("a B c", defines={"B": ""})[:-1]] == ["a", "c"]


def test_bad_define_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a word"):
        tokenize("x", defines={"A-B": "1"})


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('0 write(3, "abc', 1, 12, "unterminated string"),
        ("0 `echo\nhi", 1, 3, "unterminated `command` (no closing backtick)"),
        ("0 %{ assert 1\n", 1, 3, "unterminated %{ code block"),
        ("0\n  /* never closed", 2, 3, "unterminated /* comment"),
        ('--remote_ip="1.2', 1, 13, "unterminated string"),
    ],
)
def test_lexical_errors(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(PacketdrillSyntaxError) as info:
        tokenize(text, "t.pkt")
    assert (info.value.path, info.value.line, info.value.column) == ("t.pkt", line, column)
    assert info.value.message.startswith(message)


def test_error_in_a_define_value_points_at_the_word() -> None:
    with pytest.raises(PacketdrillSyntaxError) as info:
        tokenize("0 close(X) = 0", defines={"X": '"oops'})
    assert (info.value.line, info.value.column) == (1, 9)
    assert info.value.message == "in the value of define X='\"oops': unterminated string"
