"""Ladder diagrams as a self-contained HTML page: ``render_html(trace, "client", "server")``.

The page holds the SVG ladder (``synack.trace.svg``) inline, a legend, a
details panel that shows the full header of the segment under the pointer
(or focused with the keyboard, or tapped), and the one-line record list
(``render_records``) below.  Everything is inline: a small stylesheet and a
small script, no external fonts, scripts or images, so the file can be
mailed or attached to a bug report and opened anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from synack.trace.ladder import render_records
from synack.trace.model import Entry, build_model, format_duration, normalise
from synack.trace.records import Record
from synack.trace.svg import COLORS, STATE_COLORS, render_svg, xml_text

_PAGE_STYLE = """
body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:1em;color:#1f2328;
background:#ffffff}
h1{font-size:1.4em;margin:0 0 .3em}
h2{font-size:1.1em;margin:1.5em 0 .5em}
p.summary{margin:.2em 0 .8em;color:#57606a}
.legend{display:flex;flex-wrap:wrap;gap:.4em 1.4em;font-size:.85em;margin:.5em 0 .8em;
align-items:center}
.legend span{display:inline-flex;align-items:center;gap:.4em}
.legend svg{vertical-align:middle}
.swatch{display:inline-block;width:10px;height:14px;border:1px solid #d0d7de}
#details{position:sticky;top:0;z-index:1;background:#f6f8fa;border:1px solid #d0d7de;
border-radius:6px;padding:.5em .8em;margin:0 0 .8em;min-height:7.5em;white-space:pre-wrap;
font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.8em}
.ladder svg{max-width:100%;height:auto}
.ladder .arrow{cursor:pointer}
.ladder .arrow:focus{outline:none}
pre.records{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.75em;
background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.8em;overflow-x:auto}
"""

_IDLE = "Point at an arrow (or tab to it) to see the segment's full header and what became of it."

_SCRIPT = """
(function () {
  var panel = document.getElementById("details");
  var idle = panel.textContent;
  var current = null;
  function show(arrow) {
    if (current !== null) { current.classList.remove("active"); }
    current = arrow;
    if (arrow === null) { panel.textContent = idle; return; }
    arrow.classList.add("active");
    var title = arrow.querySelector("title");
    panel.textContent = title === null ? "" : title.textContent;
  }
  var arrows = document.querySelectorAll(".synack-ladder g.arrow");
  Array.prototype.forEach.call(arrows, function (arrow) {
    arrow.setAttribute("tabindex", "0");
    arrow.addEventListener("mouseenter", function () { show(arrow); });
    arrow.addEventListener("focus", function () { show(arrow); });
    arrow.addEventListener("click", function () { show(arrow); });
  });
})();
"""


def _line_swatch(color: str, *, dashed: bool = False, cross: bool = False) -> str:
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    end = (
        f'<path d="M28 1 l8 8 M28 9 l8 -8" stroke="{COLORS["lost"]}" stroke-width="2"/>'
        if cross
        else f'<polygon points="38,5 30,1.5 30,8.5" fill="{color}"/>'
    )
    return (
        f'<svg width="40" height="10" aria-hidden="true">'
        f'<line x1="0" y1="5" x2="{30 if cross else 32}" y2="5" stroke="{color}" '
        f'stroke-width="1.6"{dash}/>{end}</svg>'
    )


def _legend() -> str:
    items = [
        (_line_swatch(COLORS["SYN"]), "SYN"),
        (_line_swatch(COLORS["FIN"]), "FIN"),
        (_line_swatch(COLORS["RST"]), "RST"),
        (_line_swatch(COLORS["data"]), "data / ACK"),
        (_line_swatch(COLORS["data"], dashed=True, cross=True), "lost in the network"),
        (_line_swatch(COLORS["data"], cross=True), "dropped by the receiving stack"),
        (_line_swatch(COLORS["data"], dashed=True), "sender not traced / corrupted"),
    ]
    states: dict[str, list[str]] = {}
    for state, color in STATE_COLORS.items():
        states.setdefault(color, []).append(state)
    for color, names in states.items():
        items.append((f'<span class="swatch" style="background:{color}"></span>', ", ".join(names)))
    items += [
        (f'<b style="color:{COLORS["state"]}">STATE</b>', "state change"),
        (f'<span style="color:{COLORS["call"]}">call()</span>', "user call"),
        (f'<i style="color:{COLORS["timer"]}">timer:</i>', "timer firing"),
        (f'<span style="color:{COLORS["drop"]}">✕ reason</span>', "drop"),
    ]
    spans = "".join(f"<span>{swatch} {xml_text(text)}</span>" for swatch, text in items)
    return f'<div class="legend">{spans}</div>'


def render_html(
    records: Iterable[Entry | Record],
    left: str,
    right: str,
    *,
    relative: bool = True,
    title: str | None = None,
    px_per_ms: float = 4.0,
) -> str:
    """A self-contained HTML page with the SVG ladder of ``left`` and ``right``,
    a legend, a details panel for the segment under the pointer and the
    one-line record list.  Options as for ``render_svg``."""
    entries = normalise(records)
    model = build_model(entries, left, right, relative=relative)
    arrows = model.arrows
    heading = title or f"TCP ladder: {left} and {right}"
    facts = [f"{len(arrows)} segments"]
    retransmitted = sum(arrow.retransmission for arrow in arrows)
    lost = sum(arrow.lost is not None for arrow in arrows)
    dropped = sum(arrow.dropped is not None for arrow in arrows)
    if retransmitted:
        facts.append(f"{retransmitted} retransmitted")
    if lost:
        facts.append(f"{lost} lost")
    if dropped:
        facts.append(f"{dropped} dropped by the receiver")
    times = [record.time for _, record in entries]
    if times:
        facts.append(format_duration(max(times) - min(times)))
    svg = render_svg(entries, left, right, relative=relative, px_per_ms=px_per_ms, standalone=False)
    records_text = render_records(entries)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8"/>',
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
            f"<title>{xml_text(heading)}</title>",
            f"<style>{_PAGE_STYLE}</style>",
            "</head>",
            "<body>",
            f"<h1>{xml_text(heading)}</h1>",
            f'<p class="summary">{xml_text(" · ".join(facts))}</p>',
            _legend(),
            f'<div id="details" aria-live="polite">{xml_text(_IDLE)}</div>',
            f'<div class="ladder">{svg}</div>',
            "<h2>Records</h2>",
            f'<pre class="records">{xml_text(records_text)}</pre>',
            f"<script>{_SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
