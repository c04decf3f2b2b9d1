"""The packetdrill lexer (LANGUAGE.md section 2, after packetdrill's lexer.l).

Tokens: INTEGER ``-?[0-9]+``, FLOAT ``-?[0-9]*\\.[0-9]+``, HEX
``0x[0-9a-fA-F]+``, STRING ``"..."``, BACK_QUOTED `` `...` `` and CODE
``%{ ... }%`` (both may span lines), ELLIPSIS ``...``, OPTION
``--name[=value]``, WORD ``[a-zA-Z0-9_]+``, and any other character as a
PUNCT token of its own.  As in flex, the longest match wins and ties go to
the earlier kind in that list (so ``1460`` is an INTEGER, ``0x1f`` a HEX,
``12ab`` a WORD).  ``//`` and ``/* */`` comments and whitespace separate
tokens.  Lines and columns are 1-based; a column counts characters (a tab
is one).
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass


class PacketdrillSyntaxError(ValueError):
    """A script that does not lex or parse.

    ``str()`` gives ``path:line:column: message``, then the offending source
    line and a caret under the column.
    """

    def __init__(
        self, path: str, line: int, column: int, message: str, source_line: str = ""
    ) -> None:
        super().__init__(path, line, column, message)
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        self.source_line = source_line

    def __str__(self) -> str:
        head = f"{self.path}:{self.line}:{self.column}: {self.message}"
        if not self.source_line:
            return head
        # Keep tabs in the padding so the caret lines up under any tab width.
        pad = "".join("\t" if char == "\t" else " " for char in self.source_line[: self.column - 1])
        return f"{head}\n{self.source_line}\n{pad}^"


class TokenKind(enum.Enum):
    """The kinds of token."""

    INTEGER = "integer"
    FLOAT = "float"
    HEX = "hex"
    STRING = "string"
    BACK_QUOTED = "backquoted"
    CODE = "code"
    ELLIPSIS = "ellipsis"
    OPTION = "option"
    WORD = "word"
    PUNCT = "punct"
    EOF = "eof"


@dataclass(frozen=True, slots=True)
class Token:
    """One token.

    ``text`` is the token as written for numbers, words and PUNCT; the
    content between the delimiters for STRING and BACK_QUOTED (escapes kept
    as written); the stripped code for CODE; the name without ``--`` for
    OPTION, whose ``value`` is the text after ``=`` (quotes removed) or None.
    ``start``/``end`` are offsets into the source.  Tokens substituted from a
    ``-D`` define carry the position of the word they replace.
    """

    kind: TokenKind
    text: str
    line: int
    column: int
    start: int
    end: int
    value: str | None = None


class Source:
    """A script's text and path: maps offsets to positions and builds errors."""

    __slots__ = ("_line_starts", "path", "text")

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self._line_starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of an offset."""
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line ending."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : len(self.text) if end < 0 else end].rstrip("\r")

    def error(self, offset: int, message: str) -> PacketdrillSyntaxError:
        """A syntax error located at an offset (to be raised by the caller)."""
        line, column = self.position(offset)
        return PacketdrillSyntaxError(self.path, line, column, message, self.line_text(line))


_WHITESPACE = re.compile(r"[ \t\r\n\f\v]*")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_INTEGER = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]*\.[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BACK_QUOTED = re.compile(r"`(?:[^`\\]|\\.)*`", re.DOTALL)
_OPTION = re.compile(r"--([A-Za-z0-9_]+)")
# An unquoted option value runs to whitespace or a comment.
_OPTION_VALUE = re.compile(r"(?:[^\s/]|/(?![/*]))*")
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")
_NUMBER_LIKE = (
    (TokenKind.FLOAT, _FLOAT),
    (TokenKind.HEX, _HEX),
    (TokenKind.INTEGER, _INTEGER),
    (TokenKind.WORD, _WORD),
)
_VALID_DEFINE_NAME = re.compile(r"[A-Za-z0-9_]+\Z")


class _Lexer:
    __slots__ = ("_define_tokens", "_defines", "source", "text", "tokens")

    def __init__(self, source: Source, defines: Mapping[str, str] | None) -> None:
        self.source = source
        self.text = source.text
        self.tokens: list[Token] = []
        self._defines = defines or {}
        self._define_tokens: dict[str, list[Token]] = {}

    def _add(
        self, kind: TokenKind, text: str, start: int, end: int, value: str | None = None
    ) -> None:
        line, column = self.source.position(start)
        self.tokens.append(Token(kind, text, line, column, start, end, value))

    def _skip(self, pos: int) -> int:
        """Skip whitespace and comments."""
        text = self.text
        while True:
            match = _WHITESPACE.match(text, pos)
            assert match is not None  # the pattern matches the empty string
            pos = match.end()
            if text.startswith("//", pos):
                newline = text.find("\n", pos)
                pos = len(text) if newline < 0 else newline
            elif text.startswith("/*", pos):
                close = text.find("*/", pos + 2)
                if close < 0:
                    raise self.source.error(pos, "unterminated /* comment")
                pos = close + 2
            else:
                return pos

    def run(self) -> list[Token]:
        text = self.text
        length = len(text)
        pos = self._skip(0)
        while pos < length:
            char = text[pos]
            if char in _WORD_START:
                pos = self._word(pos)
            elif char in _DIGITS or char == "." or char == "-":
                pos = self._number_like(pos)
            elif char == '"':
                pos = self._delimited(pos, _STRING, TokenKind.STRING, "string")
            elif char == "`":
                pos = self._delimited(
                    pos, _BACK_QUOTED, TokenKind.BACK_QUOTED, "`command` (no closing backtick)"
                )
            elif char == "%" and text.startswith("%{", pos):
                close = text.find("}%", pos + 2)
                if close < 0:
                    raise self.source.error(pos, "unterminated %{ code block (no closing }%)")
                self._add(TokenKind.CODE, text[pos + 2 : close].strip(" \t"), pos, close + 2)
                pos = close + 2
            else:
                self._add(TokenKind.PUNCT, char, pos, pos + 1)
                pos += 1
            pos = self._skip(pos)
        self._add(TokenKind.EOF, "", length, length)
        return self.tokens

    def _delimited(self, pos: int, pattern: re.Pattern[str], kind: TokenKind, what: str) -> int:
        match = pattern.match(self.text, pos)
        if match is None:
            raise self.source.error(pos, f"unterminated {what}")
        end = match.end()
        self._add(kind, self.text[pos + 1 : end - 1], pos, end)
        return end

    def _word(self, pos: int) -> int:
        match = _WORD.match(self.text, pos)
        assert match is not None
        word = match.group()
        if word in self._defines:
            self._substitute(word, pos, match.end())
        else:
            self._add(TokenKind.WORD, word, pos, match.end())
        return match.end()

    def _substitute(self, word: str, start: int, end: int) -> None:
        """Replace a defined word by the tokens of its value (``-D NAME=value``)."""
        tokens = self._define_tokens.get(word)
        if tokens is None:
            value = self._defines[word]
            try:
                tokens = _Lexer(Source(value, self.source.path), None).run()[:-1]
            except PacketdrillSyntaxError as error:
                raise self.source.error(
                    start, f"in the value of define {word}={value!r}: {error.message}"
                ) from None
            self._define_tokens[word] = tokens
        line, column = self.source.position(start)
        for token in tokens:
            self.tokens.append(Token(token.kind, token.text, line, column, start, end, token.value))

    def _number_like(self, pos: int) -> int:
        """Longest match among ELLIPSIS, OPTION, FLOAT, HEX, INTEGER and WORD."""
        text = self.text
        if text.startswith("...", pos):
            self._add(TokenKind.ELLIPSIS, "...", pos, pos + 3)
            return pos + 3
        option = _OPTION.match(text, pos)
        if option is not None:
            return self._option(pos, option)
        best_kind = TokenKind.PUNCT  # a lone "." or "-"
        best_end = pos
        for kind, pattern in _NUMBER_LIKE:
            match = pattern.match(text, pos)
            if match is not None and match.end() > best_end:  # ties: the earlier kind
                best_kind, best_end = kind, match.end()
        if best_kind is TokenKind.PUNCT:
            best_end = pos + 1
        elif best_kind is TokenKind.WORD:
            return self._word(pos)
        self._add(best_kind, text[pos:best_end], pos, best_end)
        return best_end

    def _option(self, pos: int, option: re.Match[str]) -> int:
        text = self.text
        end = option.end()
        value: str | None = None
        if text.startswith("=", end):
            if text.startswith('"', end + 1):
                match = _STRING.match(text, end + 1)
                if match is None:
                    raise self.source.error(end + 1, "unterminated string")
                value = match.group()[1:-1]
            else:
                match = _OPTION_VALUE.match(text, end + 1)
                assert match is not None  # the pattern matches the empty string
                value = match.group()
            end = match.end()
        self._add(TokenKind.OPTION, option.group(1), pos, end, value)
        return end


def tokenize(
    text: str, path: str = "<string>", defines: Mapping[str, str] | None = None
) -> list[Token]:
    """The tokens of ``text``, ending with one EOF token.

    ``defines`` (``-D NAME=value``) replace every WORD token ``NAME`` by the
    tokens of ``value``.  Raises :class:`PacketdrillSyntaxError` on an
    unterminated string, command, code block or comment, and ``ValueError``
    for a define name that is not a WORD.
    """
    return tokenize_source(Source(text, path), defines)


def tokenize_source(source: Source, defines: Mapping[str, str] | None = None) -> list[Token]:
    """:func:`tokenize` for a :class:`Source`."""
    for name in defines or ():
        if not _VALID_DEFINE_NAME.match(name):
            raise ValueError(f"define name {name!r} is not a word ([A-Za-z0-9_]+)")
    return _Lexer(source, defines).run()
