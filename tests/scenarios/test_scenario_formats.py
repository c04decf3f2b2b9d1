"""Every scenario renders in all four formats, in both languages, with its commentary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import cache
from html.parser import HTMLParser

import pytest

from synack.scenarios import SCENARIOS, ScenarioRun, run_scenario
from synack.scenarios.narrate import narrate
from synack.scenarios.output import render_run
from synack.scenarios.text import LANGUAGES, display_width

SVG = "{http://www.w3.org/2000/svg}"
CASES = [(name, lang) for name in SCENARIOS for lang in LANGUAGES]


@cache
def run(name: str) -> ScenarioRun:
    return run_scenario(SCENARIOS[name])


def steps(name: str, lang: str) -> list[str]:
    return [
        step.text
        for part in run(name).parts
        for step in narrate(part, lang, quiet_after=part.quiet_after)
    ]


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_text(name: str, lang: str) -> None:
    text = render_run(run(name), "text", lang)
    result = run(name)
    assert text.startswith(f"{name}: {result.scenario.title(lang)}\n")
    assert text.count("time(ms)") == len(result.parts)  # one ladder per part
    commentary = [line for line in text.splitlines() if line.lstrip().startswith("» ")]
    assert len(commentary) == len(steps(name, lang))
    assert text.count("✓ ") == sum(len(part.facts) for part in result.parts)
    if lang == "zh":
        assert re.search("[\u4e00-\u9fff]", text)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_text_fits_a_width(name: str) -> None:
    for lang in LANGUAGES:
        text = render_run(run(name), "text", lang, width=90)
        assert max(display_width(line) for line in text.splitlines()) <= 90


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_svg_is_xml(name: str, lang: str) -> None:
    svg = render_run(run(name), "svg", lang)
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    nested = root.findall(f"{SVG}svg")
    assert len(nested) == len(run(name).parts)  # one ladder per part
    texts = "".join(element.text or "" for element in root.iter(f"{SVG}text"))
    for text in steps(name, lang)[:3]:
        assert text.split()[0] in texts
    assert float(root.get("height", "0")) > sum(float(n.get("height", "0")) for n in nested)


class _Checker(HTMLParser):
    """Counts elements and checks that every opened element closes, in order."""

    VOID = frozenset(
        {"meta", "br", "img", "link", "input", "hr", "line", "polygon", "rect", "path"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_html_page(name: str, lang: str) -> None:
    page = render_run(run(name), "html", lang)
    checker = _Checker()
    checker.feed(page)
    assert not checker.errors and checker.stack == []
    parts = len(run(name).parts)
    assert checker.counts["section"] == parts
    assert page.count('class="synack-ladder"') == parts  # (the legend has small SVGs too)
    assert checker.counts["li"] >= len(steps(name, lang))
    assert checker.counts["script"] == 1 and 'id="details"' in page  # the hover panel
    assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in page
    assert "<script src" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", ""
    )


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_mermaid(name: str, lang: str) -> None:
    text = render_run(run(name), "mermaid", lang)
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert text.count("sequenceDiagram") == 1  # one diagram, parts separated by notes
    allowed = re.compile(
        r"    (%% .*|participant \S+( as .+)?|Note (over|left of|right of) [\w,]+: .+|"
        r"\w+(->>|-x|-->>)\w+: .+)"
    )
    assert all(allowed.fullmatch(line) for line in lines[1:]), [
        line for line in lines[1:] if not allowed.fullmatch(line)
    ]
    notes = [line for line in lines if ": » " in line]
    assert len(notes) == len(steps(name, lang))
    assert sum("══" in line for line in lines) == len(run(name).parts)
    assert "<" not in text and ";" not in re.sub(r"#\d+;", "", text)


def test_unknown_format_and_language() -> None:
    with pytest.raises(ValueError, match="format"):
        render_run(run("handshake"), "pdf")
    with pytest.raises(ValueError, match="language"):
        render_run(run("handshake"), "text", "fr")


def test_absolute_numbers_and_colour() -> None:
    text = render_run(run("handshake"), "text", "en", relative=False, color=True)
    isn = run("handshake").parts[0].sim.records("client")
    assert "\x1b[3m" in text  # commentary in italics
    first = next(r for r in isn if hasattr(r, "segment"))
    assert f"seq={first.segment.seq}" in text  # type: ignore[attr-defined]
