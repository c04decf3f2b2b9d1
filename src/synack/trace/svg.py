"""Ladder diagrams as SVG: ``render_svg(trace, "client", "server")``.

Two vertical lifelines with time running down.  Each segment is an arrow
from its send to its receipt, so it slopes by the time it spent in flight;
its label (flags, ``seq``/``ack`` relative with the absolute value in
parentheses, ``len``, ``win``) runs along its middle, and a ``<title>``
child holds the full header and what happened to the segment (browsers show
it as a tooltip).  A segment the network lost stops three quarters of the
way in a cross; one the receiving stack dropped ends in a cross at the receiver,
with the ``DropReason`` written on that side.  State names are written on
each side where they change, and a coloured band along each lifeline shows
the state in force; user calls and timer firings are side notes.

Time is scaled (``px_per_ms``) but never so tightly that two events share a
line: events at the same instant are stacked in trace order.  Idle gaps
longer than ``COMPRESS_AFTER_PX`` (TIME-WAIT's 60 s, retransmission
back-off) are compressed (logarithmically, to at most ``COMPRESSED_MAX_PX``)
and marked with a break across both lifelines and the real duration.  A
segment with no known arrival (lost, or sent to an untraced peer) is drawn
as if it took the median one-way delay of its direction.

The output is self-contained (no external fonts, scripts or images) and
valid XML; characters XML cannot carry are replaced.  Arrows are
``<g class="arrow ...">`` elements with ``data-index`` (their position among
the model's arrows), which ``synack.trace.html`` uses for its hover panel.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from synack.trace.model import (
    Arrow,
    Entry,
    LadderModel,
    Note,
    arrow_details,
    build_model,
    format_duration,
)
from synack.trace.records import Record
from synack.trace.summary import format_time

FONT = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
FONT_SIZE = 12
CHAR_WIDTH = 7.3  # advance of one monospace character at FONT_SIZE (0.6 em, rounded up)
ROW = 20  # vertical step between events at the same instant
TIME_COLUMN = 84
SIDE_MIN, SIDE_MAX_CHARS = 110, 40
MIDDLE_MIN, MIDDLE_MAX = 560, 1100
TOP = 96
COMPRESS_AFTER_PX = 160  # longer gaps are compressed and marked
COMPRESSED_MAX_PX = 240  # the tallest a compressed gap gets
LOST_AT = 0.75  # how far a lost segment's arrow goes
PADDING = 12

COLORS = {
    "SYN": "#1a7f37",
    "FIN": "#9a4d00",
    "RST": "#cf222e",
    "data": "#0550ae",
    "state": "#0a3069",
    "call": "#8250df",
    "timer": "#57606a",
    "drop": "#cf222e",
    "lost": "#cf222e",
}

#: Background of the state band along a lifeline (CLOSED has none).
STATE_COLORS = {
    "LISTEN": "#d0d7de",
    "SYN-SENT": "#aceebb",
    "SYN-RECEIVED": "#aceebb",
    "ESTABLISHED": "#a5d6ff",
    "FIN-WAIT-1": "#ffd8b5",
    "FIN-WAIT-2": "#ffd8b5",
    "CLOSING": "#ffd8b5",
    "TIME-WAIT": "#d8b9ff",
    "CLOSE-WAIT": "#fff1a8",
    "LAST-ACK": "#fff1a8",
}

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` escaped for XML content or a double-quoted attribute; characters
    XML 1.0 cannot carry (most control characters) become U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", text), quote=True)


@dataclass(slots=True)
class _Instant:
    time: int
    order: int
    kind: str  # "send", "arrive" or "note"
    left: bool  # the side it happens on
    item: Arrow | Note
    y: float = 0.0


@dataclass(slots=True)
class _Row:
    time: int
    y: float
    middle: bool = False  # an arrow leaves in this row
    lifeline: dict[bool, set[str]] = field(default_factory=lambda: {True: set(), False: set()})
    notes: set[bool] = field(default_factory=set)

    def fits(self, instant: _Instant) -> bool:
        side = self.lifeline[instant.left]
        if instant.kind == "note":
            return instant.left not in self.notes
        if instant.kind == "send":
            return not self.middle and "send" not in side
        return not side  # an arrival needs the point to itself


@dataclass(slots=True)
class _Break:
    top: float
    bottom: float
    duration: int


@dataclass(slots=True)
class _Layout:
    instants: list[_Instant]
    rows: list[_Row]
    breaks: list[_Break]
    bottom: float


def _gap(duration: int, px_per_ms: float) -> tuple[float, bool]:
    """Vertical space for ``duration`` microseconds, and whether it was compressed."""
    natural = duration / 1000 * px_per_ms
    if natural <= COMPRESS_AFTER_PX:
        return max(natural, ROW), False
    # continuous and monotonic: logarithmic beyond the limit, up to a cap
    squeezed = COMPRESS_AFTER_PX + 16 * math.log2(natural / COMPRESS_AFTER_PX)
    return min(squeezed, COMPRESSED_MAX_PX), True


def _layout(model: LadderModel, px_per_ms: float) -> _Layout:
    instants: list[_Instant] = []
    for item in model.items:
        if isinstance(item, Note):
            instants.append(_Instant(item.time, item.order, "note", item.left, item))
            continue
        if not item.from_receipt:
            instants.append(_Instant(item.time, item.order, "send", item.rightward, item))
        if item.arrival is not None and item.arrival_order is not None:
            instants.append(
                _Instant(item.arrival, item.arrival_order, "arrive", not item.rightward, item)
            )
    instants.sort(key=lambda instant: (instant.time, instant.order))
    rows: list[_Row] = []
    breaks: list[_Break] = []
    for instant in instants:
        row = rows[-1] if rows else None
        if row is None:
            row = _Row(instant.time, TOP)
            rows.append(row)
        elif instant.time != row.time:
            gap, compressed = _gap(instant.time - row.time, px_per_ms)
            if compressed:
                breaks.append(_Break(row.y, row.y + gap, instant.time - row.time))
            row = _Row(instant.time, row.y + gap)
            rows.append(row)
        elif not row.fits(instant):
            row = _Row(instant.time, row.y + ROW)
            rows.append(row)
        if instant.kind == "note":
            row.notes.add(instant.left)
        else:
            row.lifeline[instant.left].add(instant.kind)
            row.middle = row.middle or instant.kind == "send"
        instant.y = row.y
    bottom = (rows[-1].y if rows else TOP) + 2 * ROW
    return _Layout(instants, rows, breaks, bottom)


class _Canvas:
    """Collects SVG elements into layers, and measures text."""

    def __init__(self) -> None:
        self.layers: dict[str, list[str]] = {
            "bands": [],
            "lines": [],
            "breaks": [],
            "text": [],
            "arrows": [],
        }

    def add(self, layer: str, element: str) -> None:
        self.layers[layer].append(element)

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        cls: str = "",
        anchor: str = "start",
        title: str | None = None,
        layer: str = "text",
    ) -> None:
        attributes = f'x="{x:.1f}" y="{y:.1f}"'
        if anchor != "start":
            attributes += f' text-anchor="{anchor}"'
        if cls:
            attributes += f' class="{cls}"'
        inner = xml_text(text)
        if title is not None:
            inner = f"<title>{xml_text(title)}</title>{inner}"
        self.add(layer, f"<text {attributes}>{inner}</text>")


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 0)] + "…"


def _width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def render_svg(
    records: Iterable[Entry | Record],
    left: str,
    right: str,
    *,
    relative: bool = True,
    title: str | None = None,
    px_per_ms: float = 4.0,
    standalone: bool = True,
) -> str:
    """The ladder of the exchange between ``left`` and ``right`` as an SVG document.

    ``relative`` as for ``render_ladder``; ``title`` is drawn at the top;
    ``px_per_ms`` scales time (gaps are compressed beyond a limit);
    ``standalone=False`` leaves out the XML declaration (for embedding in HTML).
    """
    model = build_model(records, left, right, relative=relative)
    return _Drawing(model, title, px_per_ms).svg(standalone)


class _Drawing:
    def __init__(self, model: LadderModel, title: str | None, px_per_ms: float) -> None:
        self.model = model
        self.title = title
        self.layout = _layout(model, max(px_per_ms, 0.001))
        self.positions = {
            (id(instant.item), instant.kind): instant.y for instant in self.layout.instants
        }
        self.canvas = _Canvas()
        notes = model.notes
        self.side_chars = {
            side: max(
                [len(note.text) for note in notes if note.left == side]
                + [len(model.left if side else model.right), 12]
            )
            for side in (True, False)
        }
        for side, chars in self.side_chars.items():
            self.side_chars[side] = min(chars, SIDE_MAX_CHARS)
        left_side = max(SIDE_MIN, _width("x" * self.side_chars[True]))
        right_side = max(SIDE_MIN, _width("x" * self.side_chars[False]))
        labels = [len(self.label(arrow)) for arrow in model.arrows]
        middle = max([MIDDLE_MIN] + [_width("x" * n) + 240 for n in labels])
        self.middle = min(middle, MIDDLE_MAX)
        self.x_left = TIME_COLUMN + left_side + 2 * PADDING
        self.x_right = self.x_left + self.middle
        self.width = self.x_right + 2 * PADDING + right_side + PADDING
        self.height = self.layout.bottom + PADDING
        self.lowest = 0.0  # the lowest point an arrow reaches (one in flight at the end)
        self.px_per_ms = max(px_per_ms, 0.001)
        # first row of each instant, for placing ends the trace does not give
        self.row_times: list[int] = []
        self.row_ys: list[float] = []
        for row in self.layout.rows:
            if not self.row_times or row.time != self.row_times[-1]:
                self.row_times.append(row.time)
                self.row_ys.append(row.y)
        self.delay: dict[bool, int] = {}
        for rightward in (True, False):
            flights = sorted(
                arrow.arrival - arrow.time
                for arrow in model.arrows
                if arrow.arrival is not None
                and not arrow.from_receipt
                and arrow.rightward == rightward
            )
            if flights:
                self.delay[rightward] = flights[len(flights) // 2]

    def x(self, left: bool) -> float:
        return self.x_left if left else self.x_right

    def y_at(self, time: int) -> float:
        """Where ``time`` falls on the time axis (the first row of an instant,
        interpolated between instants, extrapolated past the last)."""
        times, ys = self.row_times, self.row_ys
        if not times:
            return float(TOP)
        index = bisect_left(times, time)
        if index < len(times) and times[index] == time:
            return ys[index]
        if index == 0:
            return ys[0]
        if index == len(times):
            extra = (time - times[-1]) / 1000 * self.px_per_ms
            return ys[-1] + min(extra, COMPRESS_AFTER_PX)
        t0, t1, y0, y1 = times[index - 1], times[index], ys[index - 1], ys[index]
        return y0 + (y1 - y0) * (time - t0) / (t1 - t0)

    def typical_flight(self, arrow: Arrow) -> int:
        """The median one-way delay in the arrow's direction (or the other's)."""
        return self.delay.get(arrow.rightward, self.delay.get(not arrow.rightward, 0))

    def unknown_end(self, arrow: Arrow, y1: float) -> float:
        """Where an arrow the trace gives no arrival for (lost, or the receiver not
        traced) would have arrived: after the typical delay, keeping its offset
        from its instant's first row so that it runs parallel to its neighbours."""
        flight = self.typical_flight(arrow)
        end = self.y_at(arrow.time + flight) + (y1 - self.y_at(arrow.time))
        return max(end, y1 + ROW) if flight else y1 + 40.0

    def y(self, arrow: Arrow, kind: str) -> float:
        return self.positions[(id(arrow), kind)]

    @staticmethod
    def label(arrow: Arrow, *, short: bool = False) -> str:
        """Flags, seq/ack (relative and absolute unless ``short``), len, win and notes."""
        text = arrow.label(absolute=not short, options=False)
        return text + "".join(f" ({note})" for note in arrow.notes(compact=short))

    def svg(self, standalone: bool) -> str:
        self.draw_lifelines()
        self.draw_notes()
        self.draw_breaks()
        for index, arrow in enumerate(self.model.arrows):
            self.draw_arrow(index, arrow)
        width = math.ceil(self.width)
        height = math.ceil(max(self.height, self.lowest + 2 * PADDING))
        head = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
        description = f"TCP ladder diagram: {self.model.left} and {self.model.right}"
        parts = [
            f'{head}<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{xml_text(FONT)}" '
            f'font-size="{FONT_SIZE}" role="img" class="synack-ladder">',
            f"<title>{xml_text(self.title or description)}</title>",
            f"<style>{_STYLE}</style>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        ]
        for name, elements in self.canvas.layers.items():
            parts.append(f'<g class="{name}">')
            parts += elements
            parts.append("</g>")
        parts.append("</svg>")
        return "\n".join(parts) + "\n"

    def draw_lifelines(self) -> None:
        canvas, model = self.canvas, self.model
        if self.title:
            canvas.text(self.width / 2, 22, self.title, cls="title", anchor="middle")
        canvas.text(TIME_COLUMN - 8, TOP - 40, "time (ms)", cls="time", anchor="end")
        bottom = self.layout.bottom
        for side, name in ((True, model.left), (False, model.right)):
            x = self.x(side)
            canvas.text(x, TOP - 40, name, cls="host", anchor="middle")
            first = model.first_state.get(name, "")
            if first:
                canvas.text(x, TOP - 24, first, cls="state", anchor="middle")
            canvas.add(
                "lines",
                f'<line class="lifeline" x1="{x}" y1="{TOP - 16}" x2="{x}" y2="{bottom:.1f}"/>',
            )
            # the state band: one rectangle per state in force
            changes = [
                (instant.y, instant.item.text)
                for instant in self.layout.instants
                if isinstance(instant.item, Note)
                and instant.item.style == "state"
                and instant.left == side
            ]
            start, state = float(TOP - 16), first
            for y, new in [*changes, (bottom, "")]:
                color = STATE_COLORS.get(state)
                if color is not None and y > start:
                    canvas.add(
                        "bands",
                        f'<rect x="{x - 5:.1f}" y="{start:.1f}" width="10" '
                        f'height="{y - start:.1f}" fill="{color}"><title>'
                        f"{xml_text(name)}: {xml_text(state)}</title></rect>",
                    )
                start, state = y, new
        previous: int | None = None
        for row in self.layout.rows:
            if row.time != previous:
                canvas.text(
                    TIME_COLUMN - 8, row.y + 4, format_time(row.time), cls="time", anchor="end"
                )
            previous = row.time

    def draw_notes(self) -> None:
        for instant in self.layout.instants:
            note = instant.item
            if not isinstance(note, Note):
                continue
            chars = self.side_chars[note.left]
            text = _fit(note.text, chars)
            title = note.text if text != note.text else None
            if note.left:
                x, anchor = self.x_left - PADDING, "end"
            else:
                x, anchor = self.x_right + PADDING, "start"
            self.canvas.text(
                x, instant.y + 4, text, cls=f"note {note.style}", anchor=anchor, title=title
            )

    def draw_breaks(self) -> None:
        for gap in self.layout.breaks:
            middle = (gap.top + gap.bottom) / 2
            for x in (self.x_left, self.x_right):
                self.canvas.add(
                    "breaks",
                    f'<rect x="{x - 8:.1f}" y="{middle - 6:.1f}" width="16" height="12" '
                    f'fill="#ffffff"/>'
                    f'<path class="break" d="M{x - 8:.1f} {middle - 2:.1f} l16 -6 '
                    f'M{x - 8:.1f} {middle + 6:.1f} l16 -6"/>',
                )
            text = f"⋯ {format_duration(gap.duration)} later (time axis compressed) ⋯"
            self.canvas.text(
                (self.x_left + self.x_right) / 2,
                middle + 4,
                text,
                cls="gap",
                anchor="middle",
                layer="breaks",
            )

    def draw_arrow(self, index: int, arrow: Arrow) -> None:
        x1, x2 = self.x(arrow.rightward), self.x(not arrow.rightward)
        if arrow.from_receipt:
            y2 = self.y(arrow, "arrive")
            flight = self.typical_flight(arrow)
            y1 = min(self.y_at(arrow.time - flight), y2 - ROW) if flight else y2 - 40
            y1 = max(y1, TOP - 16.0)  # not into the header
        else:
            y1 = self.y(arrow, "send")
            y2 = (
                self.y(arrow, "arrive")
                if arrow.arrival is not None
                else self.unknown_end(arrow, y1)
            )
        full = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / full, (y2 - y1) / full  # along the arrow
        # A lost segment stops short, but its label stays where a delivered
        # one's would be (the middle), so that parallel arrows' labels align.
        length = full * LOST_AT if arrow.lost is not None else full
        end_x, end_y = x1 + ux * length, y1 + uy * length
        self.lowest = max(self.lowest, y1, end_y)
        label_room = length if arrow.lost is None else 2 * (length - full / 2) + 120
        classes = ["arrow", arrow.style]
        if arrow.lost is not None:
            classes.append("lost")
        if arrow.dropped is not None:
            classes.append("dropped")
        if arrow.retransmission:
            classes.append("retransmission")
        if arrow.from_receipt:
            classes.append("inferred")
        if arrow.corrupted:
            classes.append("corrupted")
        details = "\n".join(arrow_details(arrow))
        parts = [
            f'<g class="{" ".join(classes)}" data-index="{index}">',
            f"<title>{xml_text(details)}</title>",
            f'<line class="hit" x1="{x1:.1f}" y1="{y1:.1f}" x2="{end_x:.1f}" y2="{end_y:.1f}"/>',
            f'<line class="shaft" x1="{x1:.1f}" y1="{y1:.1f}" '
            f'x2="{end_x - 2 * ux:.1f}" y2="{end_y - 2 * uy:.1f}"/>',
        ]
        if arrow.lost is not None or arrow.dropped is not None:
            parts.append(_cross(end_x, end_y))
        else:
            nx, ny = -uy, ux
            bx, by = end_x - 10 * ux, end_y - 10 * uy
            parts.append(
                f'<polygon class="head" points="{end_x:.1f},{end_y:.1f} '
                f"{bx + 4.5 * nx:.1f},{by + 4.5 * ny:.1f} "
                f'{bx - 4.5 * nx:.1f},{by - 4.5 * ny:.1f}"/>'
            )
        if arrow.lost is not None:
            fate = "not received" if arrow.lost == "not received" else "lost"
            if arrow.lost not in ("loss", "not received"):
                fate += f" ({arrow.lost})"
            anchor = "start" if arrow.rightward else "end"
            offset = 10 if arrow.rightward else -10
            parts.append(
                f'<text class="fate" x="{end_x + offset:.1f}" y="{end_y + 4:.1f}" '
                f'text-anchor="{anchor}">{xml_text(fate)}</text>'
            )
        parts.append(self.arrow_label(arrow, x1, y1, ux, uy, full, label_room))
        parts.append("</g>")
        self.canvas.add("arrows", "".join(parts))

    def arrow_label(
        self,
        arrow: Arrow,
        x1: float,
        y1: float,
        ux: float,
        uy: float,
        length: float,
        room_px: float,
    ) -> str:
        """The label along the arrow, centred on it, just above the line, and kept
        away from both ends (where arrows meet): ``room_px`` wide less 140 px."""
        room = int((room_px - 140) / CHAR_WIDTH)
        text = self.label(arrow)
        if len(text) > room:
            text = _fit(self.label(arrow, short=True), room)
        ax, ay = x1 + ux * length / 2, y1 + uy * length / 2
        if ux < 0:  # read left to right
            ux, uy = -ux, -uy
        angle = math.degrees(math.atan2(uy, ux))
        return (
            f'<text class="label" x="{ax:.1f}" y="{ay - 5:.1f}" text-anchor="middle" '
            f'transform="rotate({angle:.2f} {ax:.1f} {ay:.1f})">{xml_text(text)}</text>'
        )


def _cross(x: float, y: float) -> str:
    return (
        f'<path class="cross" d="M{x - 6:.1f} {y - 6:.1f} L{x + 6:.1f} {y + 6:.1f} '
        f'M{x - 6:.1f} {y + 6:.1f} L{x + 6:.1f} {y - 6:.1f}"/>'
    )


def _style() -> str:
    """The stylesheet, scoped to the ladder so that it can sit inside an HTML page."""
    rules = [
        ".title{font-size:16px;font-weight:bold;fill:#1f2328}",
        ".host{font-size:14px;font-weight:bold;fill:#1f2328}",
        ".time{font-size:11px;fill:#6e7781}",
        ".lifeline{stroke:#8c959f;stroke-width:1.5}",
        ".note{font-size:12px}",
        f".state{{font-weight:bold;fill:{COLORS['state']}}}",
        f".call{{fill:{COLORS['call']}}}",
        f".timer{{fill:{COLORS['timer']};font-style:italic}}",
        f".drop{{fill:{COLORS['drop']}}}",
        ".gap{font-size:11px;fill:#6e7781;font-style:italic}",
        ".break{stroke:#6e7781;stroke-width:1.5;fill:none}",
        ".arrow .shaft{stroke-width:1.6}",
        ".arrow .hit{stroke:transparent;stroke-width:12}",
        ".arrow .label{font-size:12px;paint-order:stroke;stroke:#ffffff;stroke-width:3px;"
        "stroke-linejoin:round}",
        ".note,.gap,.fate{paint-order:stroke;stroke:#ffffff;stroke-width:3px;stroke-linejoin:round}",
        ".arrow.lost .shaft,.arrow.inferred .shaft,.arrow.corrupted .shaft{stroke-dasharray:6 4}",
        f".arrow .cross{{stroke:{COLORS['lost']};stroke-width:2.5;fill:none}}",
        f".arrow .fate{{fill:{COLORS['lost']};font-size:12px;font-weight:bold}}",
        ".arrow:hover .shaft,.arrow.active .shaft{stroke-width:3.5}",
        ".arrow:hover .label,.arrow.active .label{font-weight:bold}",
    ]
    for style in ("SYN", "FIN", "RST", "data"):
        rules.append(f".arrow.{style} .shaft{{stroke:{COLORS[style]}}}")
        rules.append(f".arrow.{style} .head{{fill:{COLORS[style]}}}")
        rules.append(f".arrow.{style} .label{{fill:{COLORS[style]}}}")
    scoped = []
    for rule in rules:
        selectors, _, body = rule.partition("{")
        prefixed = ",".join(f".synack-ladder {selector}" for selector in selectors.split(","))
        scoped.append(f"{prefixed}{{{body}")
    return "".join(scoped)


_STYLE = _style()
