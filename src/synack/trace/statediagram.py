"""The TCP state diagram as SVG, drawn from ``synack.tcp.state.TRANSITIONS``.

``render_state_diagram()`` lays the eleven states out as RFC 9293's
Figure 5 does (CLOSED at the top, the handshake states below it,
ESTABLISHED in the middle, the active close down the left and the passive
close down the right, CLOSED again at the bottom right) and draws every
``(old, new)`` pair of the table as an arrow labelled with its cause, split
RFC-style into the event and the action (``rcv SYN`` / ``snd SYN,ACK``).

The abort and reset edges that section 3.10 adds (and the figure's Note 3
leaves out "for legibility") are drawn as short dashed arrows from each
state to a small CLOSED beside it, so that every edge of the table is there
without a web of lines across the figure.  An edge the table gains later
that this layout does not know is drawn as a straight arrow between the
boxes.

``render_state_diagram(trace)`` highlights the transitions a trace took
(``StateChanged`` records) and lists, under the figure, the path each
connection followed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from synack.tcp.state import TRANSITIONS, State
from synack.trace.model import Entry, normalise
from synack.trace.records import Record, StateChanged
from synack.trace.summary import format_conn
from synack.trace.svg import xml_text

S = State
WIDTH, HEIGHT = 1200, 1010
BOX_W, BOX_H = 150, 44
PILL_W, PILL_H = 64, 20
HIGHLIGHT = "#cf222e"
FONT = "'DejaVu Sans', Helvetica, Arial, sans-serif"

#: Box centres, after Figure 5.  ``None`` stands for the second CLOSED box
#: (bottom right), which the normal ends of a connection lead to.
POSITIONS: dict[State | None, tuple[int, int]] = {
    S.CLOSED: (590, 70),
    S.LISTEN: (590, 210),
    S.SYN_RECEIVED: (230, 360),
    S.SYN_SENT: (950, 360),
    S.ESTABLISHED: (590, 500),
    S.FIN_WAIT_1: (230, 640),
    S.CLOSE_WAIT: (950, 640),
    S.FIN_WAIT_2: (230, 790),
    S.CLOSING: (590, 790),
    S.LAST_ACK: (950, 790),
    S.TIME_WAIT: (590, 930),
    None: (950, 930),
}

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Route:
    """How one edge is drawn: a polyline, and where its label goes."""

    points: tuple[Point, ...]
    label_at: Point
    anchor: str = "middle"  # SVG text-anchor of the label
    stub: bool = False  # an abort/reset edge ending in a small CLOSED
    pill: Point = (0, 0)  # a stub's small CLOSED


def _stub(start: Point, end: Point) -> Route:
    """A short dashed arrow from ``start`` to a small CLOSED whose border it meets
    at ``end``, labelled under the CLOSED."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    ux, uy = dx / length, dy / length
    reach = min(
        (PILL_W / 2) / abs(ux) if ux else float("inf"),
        (PILL_H / 2) / abs(uy) if uy else float("inf"),
    )
    pill = (end[0] + ux * reach, end[1] + uy * reach)
    return Route((start, end), (pill[0], pill[1] + PILL_H / 2 + 14), stub=True, pill=pill)


ROUTES: dict[tuple[State, State], Route] = {
    (S.CLOSED, S.LISTEN): Route(((570, 92), (570, 188)), (560, 136), "end"),
    (S.LISTEN, S.CLOSED): Route(((610, 188), (610, 92)), (620, 136), "start"),
    (S.CLOSED, S.SYN_SENT): Route(((665, 60), (990, 60), (990, 338)), (1000, 150), "start"),
    (S.SYN_SENT, S.CLOSED): Route(((950, 338), (950, 80), (665, 80)), (940, 140), "end"),
    (S.LISTEN, S.SYN_RECEIVED): Route(((540, 232), (305, 345)), (410, 262), "end"),
    (S.LISTEN, S.SYN_SENT): Route(((640, 232), (875, 345)), (770, 262), "start"),
    (S.SYN_SENT, S.SYN_RECEIVED): Route(((875, 360), (305, 360)), (590, 336)),
    (S.SYN_RECEIVED, S.ESTABLISHED): Route(((305, 375), (530, 478)), (400, 440), "end"),
    (S.SYN_SENT, S.ESTABLISHED): Route(((875, 375), (650, 478)), (780, 440), "start"),
    (S.SYN_RECEIVED, S.LISTEN): Route(((200, 338), (200, 210), (515, 210)), (215, 198), "start"),
    (S.ESTABLISHED, S.FIN_WAIT_1): Route(((530, 522), (305, 625)), (420, 622), "end"),
    (S.ESTABLISHED, S.CLOSE_WAIT): Route(((650, 522), (875, 625)), (762, 626), "start"),
    (S.FIN_WAIT_1, S.FIN_WAIT_2): Route(((192, 662), (192, 768)), (202, 736), "start"),
    (S.FIN_WAIT_1, S.CLOSING): Route(((305, 650), (560, 768)), (445, 684), "start"),
    (S.FIN_WAIT_1, S.TIME_WAIT): Route(((262, 662), (540, 908)), (404, 876), "end"),
    (S.FIN_WAIT_2, S.TIME_WAIT): Route(((230, 812), (230, 930), (515, 930)), (250, 950), "start"),
    (S.CLOSE_WAIT, S.LAST_ACK): Route(((950, 662), (950, 768)), (960, 712), "start"),
    (S.CLOSING, S.TIME_WAIT): Route(((590, 812), (590, 908)), (600, 856), "start"),
    (S.LAST_ACK, S.CLOSED): Route(((950, 812), (950, 908)), (960, 850), "start"),
    (S.TIME_WAIT, S.CLOSED): Route(((665, 930), (875, 930)), (770, 904)),
    # abort / reset edges (3.10): stubs to a small CLOSED beside the state
    (S.SYN_RECEIVED, S.CLOSED): _stub((155, 372), (100, 406)),
    (S.ESTABLISHED, S.CLOSED): _stub((590, 522), (590, 610)),
    (S.FIN_WAIT_1, S.CLOSED): _stub((155, 652), (100, 686)),
    (S.FIN_WAIT_2, S.CLOSED): _stub((155, 802), (100, 836)),
    (S.CLOSE_WAIT, S.CLOSED): _stub((1025, 652), (1080, 686)),
    (S.CLOSING, S.CLOSED): _stub((665, 802), (730, 830)),
}


def transitions_taken(records: Iterable[Entry | Record]) -> dict[tuple[State, State], Counter[str]]:
    """For each ``(old, new)`` pair in the trace's ``StateChanged`` records, how
    many times each host took it."""
    taken: dict[tuple[State, State], Counter[str]] = {}
    for host, record in normalise(records):
        if isinstance(record, StateChanged):
            taken.setdefault((record.old, record.new), Counter())[host or "?"] += 1
    return taken


def connection_paths(records: Iterable[Entry | Record]) -> list[str]:
    """One line per traced connection: ``"client: CLOSED → SYN-SENT → ..."``
    (the 4-tuple is added when a host has more than one)."""
    paths: dict[tuple[str, str], list[State]] = {}
    for host, record in normalise(records):
        if isinstance(record, StateChanged):
            key = (host or "?", format_conn(record.conn))
            path = paths.setdefault(key, [record.old])
            if path[-1] is not record.old:
                path.append(record.old)
            path.append(record.new)
    per_host = Counter(host for host, _ in paths)
    lines = []
    for (host, conn), path in paths.items():
        name = f"{host} ({conn})" if per_host[host] > 1 else host
        lines.append(f"{name}: " + " → ".join(map(str, path)))
    return lines


def _label_lines(cause: str) -> list[str]:
    """RFC style: the event, then the action (``snd ...``); long parts wrapped at commas."""
    lines: list[str] = []
    for part in cause.split(" / "):
        words = part.split(", ")
        line = ""
        for index, word in enumerate(words):
            piece = word + ("," if index < len(words) - 1 else "")
            if line and len(line) + 1 + len(piece) > 24:
                lines.append(line)
                line = piece
            else:
                line = f"{line} {piece}" if line else piece
        lines.append(line)
    return lines


def _box(state: State, center: tuple[int, int], visited: bool, dim: bool) -> str:
    x, y = center
    classes = "state visited" if visited else ("state dim" if dim else "state")
    return (
        f'<g class="{classes}"><rect x="{x - BOX_W / 2}" y="{y - BOX_H / 2}" width="{BOX_W}" '
        f'height="{BOX_H}" rx="7"/><text x="{x}" y="{y + 5}" text-anchor="middle">'
        f"{xml_text(str(state))}</text></g>"
    )


def _head(tip: Point, before: Point) -> str:
    (x2, y2), (x1, y1) = tip, before
    length = max(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 1e-9)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    bx, by = x2 - 10 * ux, y2 - 10 * uy
    return (
        f'<polygon class="head" points="{x2:.1f},{y2:.1f} {bx - 4.5 * uy:.1f},{by + 4.5 * ux:.1f} '
        f'{bx + 4.5 * uy:.1f},{by - 4.5 * ux:.1f}"/>'
    )


def _fallback_route(old: State, new: State) -> Route:
    """A straight arrow between two boxes, for an edge this layout does not know."""
    (x1, y1), (x2, y2) = POSITIONS[old], POSITIONS[new]
    if new is S.CLOSED:  # an abort-like edge: a stub down and to the right
        return _stub((x1 + 40, y1 + BOX_H / 2), (x1 + 80, y1 + 60))
    dx, dy = x2 - x1, y2 - y1
    scale = min(
        (BOX_W / 2) / abs(dx) if dx else float("inf"), (BOX_H / 2) / abs(dy) if dy else float("inf")
    )
    start = (x1 + dx * scale, y1 + dy * scale)
    end = (x2 - dx * scale, y2 - dy * scale)
    return Route((start, end), ((x1 + x2) / 2 + 8, (y1 + y2) / 2), "start")


def render_state_diagram(
    trace: Iterable[Entry | Record] | None = None,
    *,
    highlight: Iterable[tuple[State, State]] = (),
    title: str | None = None,
    transitions: Mapping[tuple[State, State], str] = TRANSITIONS,
) -> str:
    """The state diagram as an SVG document.

    With a ``trace``, the transitions its ``StateChanged`` records took are
    highlighted (the tooltip says which host took each, how often) and each
    connection's path is listed under the figure; ``highlight`` adds pairs
    to highlight by hand.  ``transitions`` is the table to draw.
    """
    entries = normalise(trace) if trace is not None else []
    taken = transitions_taken(entries)
    for pair in highlight:
        taken.setdefault(pair, Counter())
    marked = bool(taken)
    paths = connection_paths(entries)
    visited = {state for pair in taken for state in pair}
    height = HEIGHT + (24 + 18 * len(paths) if paths else 0) + (18 if marked else 0)
    heading = title or "TCP connection states (RFC 9293 Figure 5, from synack.tcp.state)"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{xml_text(FONT)}" font-size="13" '
        'role="img" class="synack-states">',
        f"<title>{xml_text(heading)}</title>",
        f"<style>{_STYLE}</style>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text class="heading" x="24" y="30">{xml_text(heading)}</text>',
    ]
    edges, labels = [], []
    for (old, new), cause in transitions.items():
        route = ROUTES.get((old, new)) or _fallback_route(old, new)
        hosts = taken.get((old, new))
        classes = ["edge"]
        if route.stub:
            classes.append("stub")
        if hosts is not None:
            classes.append("taken")
        elif marked:
            classes.append("dim")
        tooltip = f"{old} → {new}: {cause}"
        if hosts:
            counts = (f"{host} {n} time{'s' if n > 1 else ''}" for host, n in sorted(hosts.items()))
            tooltip += "\ntaken by " + ", ".join(counts)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in route.points)
        element = [
            f'<g class="{" ".join(classes)}"><title>{xml_text(tooltip)}</title>',
            f'<polyline points="{points}"/>',
            _head(route.points[-1], route.points[-2]),
        ]
        if route.stub:
            cx, cy = route.pill
            element.append(
                f'<rect class="pill" x="{cx - PILL_W / 2:.1f}" y="{cy - PILL_H / 2:.1f}" '
                f'width="{PILL_W}" height="{PILL_H}" rx="10"/><text class="pill" '
                f'x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle">CLOSED</text>'
            )
        element.append("</g>")
        edges.append("".join(element))
        lx, ly = route.label_at
        lines = "".join(
            f'<tspan x="{lx:.1f}" dy="{0 if index == 0 else 13}">{xml_text(line)}</tspan>'
            for index, line in enumerate(_label_lines(cause))
        )
        label_class = "label taken" if hosts is not None else ("label dim" if marked else "label")
        labels.append(
            f'<text class="{label_class}" x="{lx:.1f}" y="{ly:.1f}" '
            f'text-anchor="{route.anchor}">{lines}</text>'
        )
    parts += ['<g class="edges">', *edges, "</g>"]
    parts.append('<g class="states">')
    for key, center in POSITIONS.items():
        state = S.CLOSED if key is None else key
        parts.append(_box(state, center, state in visited, marked and state not in visited))
    parts.append("</g>")
    parts += ['<g class="labels">', *labels, "</g>"]
    y = HEIGHT - 12
    notes = ["dashed: rcv RST, ABORT or timeout (edges Figure 5 omits, see its Note 3)"]
    if marked:
        notes.append("red: transitions the trace took (hover for who and how often)")
    for note in notes:
        parts.append(f'<text class="note" x="24" y="{y}">{xml_text(note)}</text>')
        y += 18
    if paths:
        y += 6
        for line in paths:
            parts.append(f'<text class="path" x="24" y="{y}">{xml_text(line)}</text>')
            y += 18
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


_STYLE = "".join(
    [
        ".heading{font-size:17px;font-weight:bold;fill:#1f2328}",
        ".state rect{fill:#ffffff;stroke:#1f2328;stroke-width:1.6}",
        ".state text{font-weight:bold;fill:#1f2328}",
        f".state.visited rect{{fill:#ffebe9;stroke:{HIGHLIGHT};stroke-width:2.4}}",
        ".state.dim rect{stroke:#8c959f}.state.dim text{fill:#6e7781}",
        ".edge polyline{fill:none;stroke:#1f2328;stroke-width:1.4}",
        ".edge .head{fill:#1f2328}",
        ".edge.stub polyline{stroke-dasharray:5 4;stroke:#57606a}",
        ".edge.stub .head{fill:#57606a}",
        "rect.pill{fill:#f6f8fa;stroke:#57606a;stroke-width:1}",
        "text.pill{font-size:10px;fill:#57606a}",
        ".edge.dim polyline{stroke:#afb8c1}.edge.dim .head{fill:#afb8c1}",
        f".edge.taken polyline{{stroke:{HIGHLIGHT};stroke-width:3}}",
        f".edge.taken .head{{fill:{HIGHLIGHT}}}",
        ".edge:hover polyline{stroke-width:4}",
        ".label{font-size:11px;fill:#1f2328;paint-order:stroke;stroke:#ffffff;stroke-width:3px;"
        "stroke-linejoin:round}",
        ".label.dim{fill:#8c959f}",
        f".label.taken{{fill:{HIGHLIGHT};font-weight:bold}}",
        ".note{font-size:12px;fill:#57606a;font-style:italic}",
        ".path{font-size:12px;fill:#1f2328;font-family:'DejaVu Sans Mono',Menlo,monospace}",
    ]
)
