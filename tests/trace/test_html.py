"""The HTML page: self-contained, well-formed, with the SVG, legend, details panel and records."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from render_helpers import demo_trace, lossy_trace
from test_ladder import network_trace

from synack.trace.html import render_html
from synack.trace.ladder import render_records
from synack.trace.model import format_duration
from synack.trace.records import UserCall

VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "wbr", "source"}


class _Checker(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.external: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for name, value in attrs:
            external = (value or "").startswith(("http:", "https:", "//"))
            if (name in ("src", "href") or external) and not (tag == "svg" and name == "xmlns"):
                self.external.append(f"{tag} {name}={value}")
            if name == "id" and value:
                self.ids.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert checker.external == []
    assert len(checker.ids) == len(set(checker.ids))
    return checker


def test_page_embeds_the_svg_with_legend_details_and_records() -> None:
    trace = demo_trace()
    page = render_html(trace, "client", "server")
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    checker = check(page)
    assert checker.counts["svg"] >= 1 and checker.counts["script"] == 1
    assert checker.counts["style"] == 2  # the page's and the ladder's
    # the embedded SVG is the ladder, and it is XML on its own
    start, end = page.index("<svg xmlns"), page.index("</svg>", page.index("synack-ladder"))
    svg = ET.fromstring(page[start : end + len("</svg>")])
    groups = svg.iter("{http://www.w3.org/2000/svg}g")
    arrows = [g for g in groups if "arrow" in g.get("class", "").split()]
    assert len(arrows) == 9
    assert '<div class="legend">' in page and "lost in the network" in page
    assert 'id="details"' in page and "full header" in page
    assert "mouseenter" in page and "querySelector(\"title\")" in page
    records = re.search(r'<pre class="records">(.*?)</pre>', page, re.S)
    assert records is not None
    assert len(records.group(1).splitlines()) == len(render_records(trace).splitlines())
    times = [entry.record.time for entry in trace]
    duration = format_duration(max(times) - min(times))
    assert f'<p class="summary">9 segments · {duration}</p>' in page


def test_lossy_summary_counts() -> None:
    page = render_html(lossy_trace(), "client", "server", title="lossy")
    check(page)
    assert "<title>lossy</title>" in page and " lost" in page


def test_hostile_names_are_escaped() -> None:
    trace = [*network_trace(), ("client", UserCall(0, None, "<script>alert(1)</script>"))]
    page = render_html(trace, "client", "server", title="</title><script>x</script>")
    checker = check(page)
    assert checker.counts["script"] == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
