"""A scenario run in every ladder format, with its commentary.

``render_run(run, format, lang)`` gives the scenario's title and
introduction, then for each part its heading, the ladder drawn by
``synack.trace`` with the commentary of ``synack.scenarios.narrate``, and the
facts the run shows (``✓``, or ``✗`` when loss or another seed hid one):

- ``text``: the terminal ladder, each commentary line (``»``) placed right
  after the ladder rows of its time;
- ``svg``: one SVG document stacking each part's ladder (``render_svg``) with
  its numbered commentary and facts below it;
- ``html``: the self-contained page of ``render_html`` (legend, hover
  details, record list) with a section per part: ladder, commentary, facts;
- ``mermaid``: one ``sequenceDiagram`` (``render_mermaid``) with the
  commentary as notes across both hosts and a note between parts.

``write_pcaps`` writes each part's packets (pcap, or pcapng by the suffix).
"""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path

from synack.scenarios.lab import Part, ScenarioRun
from synack.scenarios.narrate import Step, narrate
from synack.scenarios.text import LANGUAGES, T, display_width, wrap
from synack.trace.html import render_html
from synack.trace.ladder import TIME_WIDTH, render_ladder, render_records
from synack.trace.mermaid import mermaid_text, render_mermaid
from synack.trace.model import build_model
from synack.trace.pcap import write_pcap
from synack.trace.pcapng import write_pcapng
from synack.trace.summary import format_time
from synack.trace.svg import CHAR_WIDTH, FONT, FONT_SIZE, render_svg, xml_text

#: The wrapping width of text output when no ``width`` is given.
TEXT_WIDTH = 100
COMMENT_MARK = "» "
_ITALIC, _RESET = "\x1b[3m", "\x1b[0m"
_FACT_COLORS = {True: "\x1b[32m", False: "\x1b[31m"}
_STAMP = re.compile(r"-?\d+\.\d{3}")

WHAT_HAPPENED = T("What happened", "过程解说")
WHAT_IT_SHOWS = T("What this run shows", "这次运行说明了什么")
RECORDS = T("Records", "记录")
PART = T("run {index} of {count}", "第 {index} 次运行（共 {count} 次）")
COLON = T(": ", "：")
LANG_TAGS = {"en": "en", "zh": "zh-Hans"}


def render_run(
    run: ScenarioRun,
    format: str = "text",
    lang: str = "en",
    *,
    relative: bool = True,
    width: int | None = None,
    color: bool = False,
) -> str:
    """``run`` in ``format`` (text, svg, html or mermaid) with commentary in ``lang``.
    ``width`` and ``color`` apply to text; ``relative`` numbers as the ladder does."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    commentary = [
        narrate(part, lang, relative=relative, quiet_after=part.quiet_after) for part in run.parts
    ]
    if format == "text":
        return _text(run, commentary, lang, relative, width, color)
    if format == "svg":
        return _svg(run, commentary, lang, relative)
    if format == "html":
        return _html(run, commentary, lang, relative)
    if format == "mermaid":
        return _mermaid(run, commentary, lang, relative)
    raise ValueError(f"unknown format {format!r}: expected text, svg, html or mermaid")


def title_of(run: ScenarioRun, lang: str) -> str:
    """``"why-three: Why three segments ..."``."""
    return f"{run.scenario.name}: {run.scenario.title(lang)}"


def heading_of(run: ScenarioRun, index: int, lang: str) -> str:
    """A part's heading, numbered when the scenario runs more than once."""
    label = run.parts[index].label(lang)
    if len(run.parts) == 1:
        return label
    return f"{PART(lang, index=index + 1, count=len(run.parts))}{COLON(lang)}{label}"


def fact_lines(part: Part, lang: str) -> list[tuple[bool, str]]:
    return [(fact.holds, ("✓ " if fact.holds else "✗ ") + fact.text(lang)) for fact in part.facts]


# --- text ---------------------------------------------------------------------------------


def _text(
    run: ScenarioRun,
    commentary: list[list[Step]],
    lang: str,
    relative: bool,
    width: int | None,
    color: bool,
) -> str:
    room = width or TEXT_WIDTH
    title = title_of(run, lang)
    lines = [title, "═" * min(display_width(title), room)]
    lines += wrap(run.scenario.intro(lang), room)
    for index, (part, steps) in enumerate(zip(run.parts, commentary, strict=True)):
        heading = f"── {heading_of(run, index, lang)} "
        lines += ["", heading + "─" * max(room - display_width(heading), 3)]
        lines += wrap(part.intro(lang), room)
        lines.append("")
        ladder = render_ladder(
            part.trace, part.left, part.right, relative=relative, width=width, color=color
        )
        lines += interleave(ladder, steps, room, color)
        if part.facts:
            lines += ["", WHAT_IT_SHOWS(lang) + COLON(lang).rstrip()]
            for holds, text in fact_lines(part, lang):
                for line in wrap(text, room - 2, indent="  "):
                    lines.append(_paint(f"  {line}", _FACT_COLORS[holds], color))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and text.strip() else text


def _stamp_time(stamp: str) -> int:
    negative = stamp.startswith("-")
    whole, fraction = stamp.lstrip("-").split(".")
    value = int(whole) * 1000 + int(fraction)
    return -value if negative else value


def interleave(ladder: str, steps: list[Step], width: int, color: bool = False) -> list[str]:
    """The ladder's lines with each step's commentary after the rows of its time
    (a step at a time with no row of its own gets its own time stamp)."""
    groups: list[tuple[int | None, list[str]]] = [(None, [])]
    for line in ladder.rstrip("\n").split("\n"):
        stamp = line[:TIME_WIDTH].strip()
        if _STAMP.fullmatch(stamp):
            groups.append((_stamp_time(stamp), [line]))
        else:
            groups[-1][1].append(line)
    times = [time for time, _ in groups[1:] if time is not None]
    placed: list[list[Step]] = [[] for _ in groups]
    for step in sorted(steps, key=lambda step: (step.time, step.order)):
        placed[bisect_right(times, step.time)].append(step)
    prefix = " " * (TIME_WIDTH + 2) + COMMENT_MARK
    lines: list[str] = []
    for (group_time, group_lines), group_steps in zip(groups, placed, strict=True):
        lines += group_lines
        for step in group_steps:
            stamp = "" if step.time == group_time else format_time(step.time)
            first = stamp.rjust(TIME_WIDTH) + prefix[TIME_WIDTH:]
            wrapped = wrap(step.text, width - len(prefix), indent="")
            for number, line in enumerate(wrapped):
                lead = first if number == 0 else " " * len(prefix)
                lines.append(lead[:TIME_WIDTH] + _paint(lead[TIME_WIDTH:] + line, _ITALIC, color))
    return lines


# --- SVG ------------------------------------------------------------------------------------

PAD = 16
LINE = 18
TIME_COLUMN = 13 * CHAR_WIDTH + 12  # "  3010.000 ms" and a gap
#: Fonts for Chinese text after the ladder's monospace ones (browsers fall back anyway).
CJK_FONTS = (
    "'Noto Sans Mono CJK SC', 'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', "
    "'Microsoft YaHei'"
)
_SVG_STYLE = (
    ".sc-title{font-size:16px;font-weight:bold;fill:#1f2328}"
    ".sc-heading{font-size:14px;font-weight:bold;fill:#0a3069}"
    ".sc-text{fill:#1f2328}.sc-time{fill:#57606a}"
    ".sc-ok{fill:#1a7f37}.sc-no{fill:#cf222e}"
)


class _Stack:
    """A vertical stack of text lines and nested SVG documents."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.y = float(PAD)
        self.parts: list[str] = []

    @property
    def columns(self) -> int:
        return int((self.width - 2 * PAD) / CHAR_WIDTH)

    def text(self, text: str, cls: str, *, x: float = PAD, step: float = LINE) -> None:
        self.y += step
        self.parts.append(
            f'<text x="{x:.1f}" y="{self.y:.1f}" class="{cls}" xml:space="preserve">'
            f"{xml_text(text)}</text>"
        )

    def paragraph(self, text: str, cls: str = "sc-text") -> None:
        for line in wrap(text, self.columns):
            self.text(line, cls)

    def gap(self, height: float = LINE / 2) -> None:
        self.y += height

    def nested(self, svg: str, height: int) -> None:
        self.parts.append(svg.replace("<svg ", f'<svg x="0" y="{self.y + 6:.1f}" ', 1))
        self.y += height + 6


def _svg_size(svg: str) -> tuple[int, int]:
    match = re.search(r'<svg [^>]*?width="(\d+)" height="(\d+)"', svg)
    if match is None:
        raise ValueError("the ladder SVG has no width and height")
    return int(match.group(1)), int(match.group(2))


def _svg(run: ScenarioRun, commentary: list[list[Step]], lang: str, relative: bool) -> str:
    ladders = [
        render_svg(part.trace, part.left, part.right, relative=relative, standalone=False)
        for part in run.parts
    ]
    sizes = [_svg_size(ladder) for ladder in ladders]
    doc = _Stack(max([760, *(width for width, _ in sizes)]))
    doc.text(title_of(run, lang), "sc-title", step=LINE + 4)
    doc.gap()
    doc.paragraph(run.scenario.intro(lang))
    for index, (part, steps, ladder, (_, height)) in enumerate(
        zip(run.parts, commentary, ladders, sizes, strict=True)
    ):
        doc.gap(LINE)
        doc.text(heading_of(run, index, lang), "sc-heading", step=LINE + 2)
        doc.paragraph(part.intro(lang))
        doc.nested(ladder, height)
        doc.text(WHAT_HAPPENED(lang), "sc-heading")
        room = int((doc.width - PAD - TIME_COLUMN - PAD) / CHAR_WIDTH)
        for step in steps:
            for number, line in enumerate(wrap(step.text, room)):
                if number == 0:
                    doc.text(f"{format_time(step.time):>10} ms", "sc-time")
                    doc.y -= LINE
                doc.text(line, "sc-text", x=PAD + TIME_COLUMN)
        if part.facts:
            doc.gap()
            doc.text(WHAT_IT_SHOWS(lang), "sc-heading")
            for holds, text in fact_lines(part, lang):
                for line in wrap(text, doc.columns):
                    doc.text(line, "sc-ok" if holds else "sc-no")
    width, height = int(doc.width), int(doc.y + 2 * PAD)
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{xml_text(FONT + ", " + CJK_FONTS)}" '
            f'font-size="{FONT_SIZE}" role="img" class="synack-scenario" '
            f'xml:lang="{LANG_TAGS[lang]}">',
            f"<title>{xml_text(title_of(run, lang))}</title>",
            f"<style>{_SVG_STYLE}</style>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            *doc.parts,
            "</svg>",
            "",
        ]
    )


# --- HTML -----------------------------------------------------------------------------------

_HTML_STYLE = """
body{font-family:'DejaVu Sans',Helvetica,Arial,'Noto Sans CJK SC','Source Han Sans SC',
'PingFang SC','Microsoft YaHei',sans-serif}
section.part{margin:1.5em 0 2.5em}
p.intro{max-width:60em;line-height:1.45}
ol.commentary{max-width:72em;line-height:1.5;padding-left:2.5em}
ol.commentary .time{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;color:#57606a;
font-size:.85em;margin-right:.6em}
ul.facts{list-style:none;padding-left:1em}
ul.facts .ok{color:#1a7f37}ul.facts .no{color:#cf222e}
details.records summary{cursor:pointer;color:#57606a}
"""


def _between(page: str, start: str, end: str) -> tuple[int, int]:
    first = page.find(start)
    last = page.find(end, first)
    if first < 0 or last < 0:
        raise ValueError(f"the HTML page has no {start!r} ... {end!r}")
    return first, last


def _html(run: ScenarioRun, commentary: list[list[Step]], lang: str, relative: bool) -> str:
    first = run.parts[0]
    title = title_of(run, lang)
    page = render_html(first.trace, first.left, first.right, relative=relative, title=title)
    # Keep render_html's head, title, legend, details panel and script; put the
    # scenario's sections where its single ladder and record list were.
    summary, legend = _between(page, '<p class="summary">', '<div class="legend">')
    ladder, script = _between(page, '<div class="ladder">', "<script>")
    sections = [f'<p class="intro">{xml_text(run.scenario.intro(lang))}</p>']
    records = [f'<details class="records"><summary>{xml_text(RECORDS(lang))}</summary>']
    for index, (part, steps) in enumerate(zip(run.parts, commentary, strict=True)):
        svg = render_svg(part.trace, part.left, part.right, relative=relative, standalone=False)
        heading = xml_text(heading_of(run, index, lang))
        items = "".join(
            f'<li><span class="time">{format_time(step.time)} ms</span>{xml_text(step.text)}</li>'
            for step in steps
        )
        facts = "".join(
            f'<li class="{"ok" if holds else "no"}">{xml_text(text)}</li>'
            for holds, text in fact_lines(part, lang)
        )
        sections.append(
            f'<section class="part"><h2>{heading}</h2>'
            f'<p class="intro">{xml_text(part.intro(lang))}</p>'
            f'<div class="ladder">{svg}</div>'
            f"<h3>{xml_text(WHAT_HAPPENED(lang))}</h3>"
            f'<ol class="commentary">{items}</ol>'
            + (
                f'<h3>{xml_text(WHAT_IT_SHOWS(lang))}</h3><ul class="facts">{facts}</ul>'
                if facts
                else ""
            )
            + "</section>"
        )
        records.append(
            f'<h3>{heading}</h3><pre class="records">{xml_text(render_records(part.trace))}</pre>'
        )
    records.append("</details>")
    page = (
        page[:summary]
        + "\n".join(sections[:1])
        + "\n"
        + page[legend:ladder]
        + "\n".join(sections[1:])
        + "\n"
        + "\n".join(records)
        + "\n"
        + page[script:]
    )
    page = page.replace('<html lang="en">', f'<html lang="{LANG_TAGS[lang]}">', 1)
    return page.replace("</head>", f"<style>{_HTML_STYLE}</style>\n</head>", 1)


# --- Mermaid --------------------------------------------------------------------------------


def _mermaid_body(part: Part, steps: list[Step], relative: bool) -> tuple[list[str], list[str]]:
    """The header lines and the body lines (with commentary notes) of one part."""
    text = render_mermaid(part.trace, part.left, part.right, relative=relative)
    lines = text.rstrip("\n").split("\n")
    model = build_model(part.trace, part.left, part.right, relative=relative)
    header_size = 3 + sum(1 for host in (part.left, part.right) if model.first_state.get(host))
    header, body = lines[:header_size], lines[header_size:]
    ids = [line.split()[1] for line in header[1:3]]
    across = f"    Note over {ids[0]},{ids[1]}: "
    ordered = sorted(model.items, key=lambda item: (item.time, item.order))
    times: list[int | None] = []
    items = iter(ordered)
    for line in body:
        if line.startswith(across) and "⋯" in line:
            times.append(None)  # a gap note goes with what follows it
        else:
            item = next(items, None)
            times.append(item.time if item is not None else None)
    following: int | None = None
    for index in range(len(times) - 1, -1, -1):  # fill the gaps from the next item
        if times[index] is None:
            times[index] = following
        following = times[index]
    known = [time if time is not None else 0 for time in times]
    for index in range(1, len(known)):
        known[index] = max(known[index], known[index - 1])
    placed: list[list[str]] = [[] for _ in range(len(body) + 1)]
    for step in sorted(steps, key=lambda step: (step.time, step.order)):
        placed[bisect_right(known, step.time)].append(
            across + mermaid_text(COMMENT_MARK + step.text)
        )
    merged = placed[0]
    for line, notes in zip(body, placed[1:], strict=True):
        merged.append(line)
        merged += notes
    return header, merged


def _mermaid(run: ScenarioRun, commentary: list[list[Step]], lang: str, relative: bool) -> str:
    lines: list[str] = []
    for index, (part, steps) in enumerate(zip(run.parts, commentary, strict=True)):
        header, body = _mermaid_body(part, steps, relative)
        if index == 0:
            lines += [header[0], f"    %% {mermaid_text(title_of(run, lang))}", *header[1:3]]
        ids = [line.split()[1] for line in header[1:3]]
        across = f"    Note over {ids[0]},{ids[1]}: "
        lines.append(across + mermaid_text(f"══ {heading_of(run, index, lang)} ══"))
        lines += header[3:]
        lines += body
        lines += [across + mermaid_text(text) for _, text in fact_lines(part, lang)]
    return "\n".join(lines) + "\n"


# --- pcap -----------------------------------------------------------------------------------


def write_pcaps(run: ScenarioRun, path: str | Path) -> list[tuple[Path, int]]:
    """Write each part's packets to ``path`` (pcapng when it ends in ``.pcapng``);
    a scenario of several parts writes ``NAME-1.pcap``, ``NAME-2.pcap``, ...
    Returns the files written with their packet counts."""
    path = Path(path)
    writer = write_pcapng if path.suffix == ".pcapng" else write_pcap
    written = []
    for index, part in enumerate(run.parts, 1):
        target = path
        if len(run.parts) > 1:
            target = path.with_name(f"{path.stem}-{index}{path.suffix}")
        written.append((target, writer(target, part.trace)))
    return written
