"""Bilingual text: ``T(en, zh)`` templates, the host names, and wrapping by display width.

Every string a scenario prints is a ``T``: an English and a Chinese template
with the same ``{placeholders}``.  ``T("{who} sends SYN", "{who}发送 SYN")("zh",
who="客户端")`` gives ``"客户端发送 SYN"``.  Protocol words (SYN, ACK, FIN,
RST, state names, calls) stay in English in both languages, as Chinese
textbooks and tools print them.
"""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CALL = re.compile(r"[a-z_]+\(")  # "close(): ..." keeps its lower case

#: The languages commentary exists in; the first is the default.
LANGUAGES: tuple[str, ...] = ("en", "zh")


@dataclass(frozen=True, slots=True)
class T:
    """A text in English and Chinese; calling it picks ``lang`` and fills the placeholders."""

    en: str
    zh: str

    def __call__(self, lang: str, **params: object) -> str:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGUAGES)}")
        template = self.zh if lang == "zh" else self.en
        text = template.format(**params) if params else template
        if lang == "en" and text[:1].islower() and not _CALL.match(text):
            text = text[0].upper() + text[1:]  # "the client sends" starts a sentence
        return text

    def filled(self, **params: object) -> T:
        """This text with ``params`` filled in, in both languages; placeholders not
        given stay for the final call (``T("{who} on port {port}").filled(port=80)``)."""
        keep = _Keep(params)
        return T(self.en.format_map(keep), self.zh.format_map(keep))


class _Keep(dict[str, object]):
    """A mapping for ``str.format_map`` that leaves unknown placeholders as they are."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


#: How the commentary names the hosts of the scenarios.
HOST_NAMES: dict[str, T] = {
    "client": T("the client", "客户端"),
    "server": T("the server", "服务器"),
    "A": T("A", "A"),
    "B": T("B", "B"),
}


def host_name(host: str, lang: str) -> str:
    """``host`` as the commentary names it (not capitalised: it may be mid-sentence)."""
    names = HOST_NAMES.get(host)
    if names is None:
        return host
    return names.zh if lang == "zh" else names.en


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


# A word of narrow characters with the blanks after it, or one wide character
# with the closing punctuation and blanks after it (a line never starts with
# "，" or "）"): the units a line may break between.
_TOKEN = re.compile(
    r"[^\s\u1100-\uffdc]+[，。、；：）！？」』]*\s*|[\u1100-\uffdc][，。、；：）！？」』]*\s*|\s+"
)


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` columns (a longer word gets a line of
    its own); lines after the first start with ``indent``.  Chinese breaks between
    characters, English between words."""
    width = max(width, 20)
    lines: list[str] = []
    line = ""
    used = 0
    for token in _TOKEN.findall(text):
        stripped = token.rstrip()
        if line and used + display_width(stripped) > width:
            lines.append(line.rstrip())
            line = indent
            used = display_width(indent)
            if not stripped:
                continue
        line += token
        used += display_width(token)
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines
