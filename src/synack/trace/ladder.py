"""Ladder (sequence) diagrams of a two-host trace, for the terminal.

``render_ladder(trace, "client", "server")`` draws time in milliseconds on
the left, one host per side and each segment as one arrow at its send time::

      time(ms)  client                                                    server
                CLOSED                                                    CLOSED
         0.000                                                            listen(10.0.0.2:80)
                                                                          LISTEN
         1.000  connect()
                SYN-SENT     ── SYN seq=0 (1000) win=65535 <mss 1460> ── 11.000 ─▶
        11.000               ◀─ 21.000 ── SYN,ACK seq=0 (5000) ack=1 (1001) ──  SYN-RECEIVED

State changes, user calls, timer firings and drops are written on the side
of the host they happened on.  An arrow names the flags, ``seq`` and ``ack``
relative to each side's ISN with the absolute value in parentheses (or
absolute only, with ``relative=False``), the payload length, the window and
the options; when the network delayed it, the arrival time sits next to the
arrowhead.  A segment the network lost ends in ``✕ lost``.

Input is the simulator's trace: ``(host, record)`` pairs (``TraceEntry``),
with ``None`` as the host of the network's own records.  Which send became
which receipt is decided by ``synack.trace.model`` (shared with the SVG, HTML
and Mermaid renderers): with network records each arrow follows its datagram
by ``packet_id``; without them sends are paired with the receiver's receipts
by their header fields, and a receipt nobody sent in the trace is drawn as an
arrow from the other side at its receive time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from synack.trace.model import Arrow, Entry, Note, build_model, normalise
from synack.trace.records import Record
from synack.trace.summary import describe, format_time

TIME_WIDTH = 10
MIN_SIDE = 12  # len("SYN-RECEIVED")
MAX_SIDE = 20  # notes longer than this get a row of their own
MIN_MIDDLE = 16
NATURAL_MIDDLE = 40

_RESET = "\x1b[0m"
_STYLES = {
    "state": "\x1b[1;36m",
    "call": "\x1b[35m",
    "timer": "\x1b[34m",
    "drop": "\x1b[31m",
    "SYN": "\x1b[32m",
    "FIN": "\x1b[33m",
    "RST": "\x1b[1;31m",
    "lost": "\x1b[31m",
    "data": "",
}


@dataclass(slots=True)
class _Row:
    time: int
    left: str = ""
    left_style: str = ""
    right: str = ""
    right_style: str = ""
    arrow: Arrow | None = None
    spill: bool = False  # a long note spreading into the middle column


def _layout(items: list[Arrow | Note], side_width: tuple[int, int]) -> list[_Row]:
    rows: list[_Row] = []
    ordered = sorted(enumerate(items), key=lambda pair: (pair[1].time, pair[0]))
    for _, item in ordered:
        row = rows[-1] if rows else None
        mergeable = row is not None and row.time == item.time and not row.spill
        if isinstance(item, Arrow):
            if mergeable and row is not None and row.arrow is None:
                row.arrow = item
            else:
                rows.append(_Row(item.time, arrow=item))
            continue
        width = side_width[0] if item.left else side_width[1]
        if len(item.text) > width:
            spill = _Row(item.time, spill=True)
            if item.left:
                spill.left, spill.left_style = item.text, item.style
            else:
                spill.right, spill.right_style = item.text, item.style
            rows.append(spill)
            continue
        free = row is not None and not (row.left if item.left else row.right)
        if not (mergeable and free) or row is None:
            row = _Row(item.time)
            rows.append(row)
        if item.left:
            row.left, row.left_style = item.text, item.style
        else:
            row.right, row.right_style = item.text, item.style
    return rows


def _arrow_label(arrow: Arrow, room: int | None = None) -> str:
    """The most detailed label that fits in ``room``: options, then absolute
    numbers, then the window are left out, then notes are abbreviated, and
    only then is the label cut short with "…"."""
    full, short = _label_suffix(arrow, compact=False), _label_suffix(arrow, compact=True)
    if room is None:
        return arrow.labels[0] + full
    for suffix in dict.fromkeys((full, short)):
        for label in arrow.labels:
            if len(label) + len(suffix) <= room:
                return label + suffix
    return _fit(arrow.labels[-1] + short, room)


def _label_suffix(arrow: Arrow, *, compact: bool) -> str:
    return "".join(f" ({note})" for note in arrow.notes(compact=compact))


def _fit(label: str, room: int) -> str:
    if len(label) <= room:
        return label
    return label[: max(room - 1, 0)] + "…"


def _head(arrow: Arrow) -> str:
    """The arrowhead end: the head itself with the arrival time, or the loss marker."""
    rightward = arrow.rightward
    if arrow.lost == "not received":
        return "✕ not received" if rightward else "not received ✕"
    if arrow.lost is not None:
        reason = "" if arrow.lost == "loss" else f" ({arrow.lost})"
        return f"✕ lost{reason}" if rightward else f"{reason.strip()} lost ✕".lstrip()
    if arrow.arrival is not None and arrow.arrival != arrow.time:
        arrival = format_time(arrow.arrival)
        return f" {arrival} ─▶" if rightward else f"◀─ {arrival} "
    return "▶" if rightward else "◀"


def _draw_arrow(arrow: Arrow, width: int) -> str:
    """The arrow, exactly ``width`` characters wide (``width`` >= ``MIN_MIDDLE``)."""
    rightward = arrow.rightward
    head = _head(arrow)
    if len(head) > 1 and arrow.lost is None and len(arrow.labels[-1]) > width - len(head) - 6:
        head = "▶" if rightward else "◀"  # too tight: the label matters more than the time
    label = _arrow_label(arrow, width - len(head) - 6)
    body = f"── {label} " if rightward else f" {label} ──"
    dashes = max(width - len(body) - len(head), 2)
    gap = ""
    if arrow.lost is not None:  # a lost arrow stops half way
        gap = " " * (dashes - max(dashes // 2, 2))
        dashes = max(dashes // 2, 2)
    if rightward:
        return body + "─" * dashes + head + gap
    return gap + head + "─" * dashes + body


def render_ladder(
    records: Iterable[Entry | Record],
    left: str,
    right: str,
    *,
    relative: bool = True,
    width: int | None = None,
    color: bool = False,
) -> str:
    """Draw the ladder diagram of the exchange between hosts ``left`` and ``right``.

    ``relative`` shows sequence numbers relative to each side's ISN (absolute
    in parentheses); ``width`` limits the line length (labels are shortened
    with "…" to fit); ``color`` adds ANSI colours.  Records of other hosts are
    ignored.
    """
    model = build_model(records, left, right, relative=relative)
    items = model.items

    left_width = _side_width(items, left=True, name=left, limit=MAX_SIDE)
    right_width = _side_width(items, left=False, name=right, limit=MAX_SIDE)
    fixed = TIME_WIDTH + 2 + left_width + 1 + 1 + right_width
    if width is not None and width - fixed < NATURAL_MIDDLE:
        # Tight: only state names stay beside the arrows; other notes get rows.
        left_width = _side_width(items, left=True, name=left, limit=MIN_SIDE)
        right_width = _side_width(items, left=False, name=right, limit=MIN_SIDE)
        fixed = TIME_WIDTH + 2 + left_width + 1 + 1 + right_width
    if width is None:
        arrows = [item for item in items if isinstance(item, Arrow)]
        natural = max((len(_arrow_label(a)) + len(_head(a)) + 10 for a in arrows), default=0)
        middle = max(natural, NATURAL_MIDDLE)
    else:
        middle = max(width - fixed, MIN_MIDDLE)

    rows = _layout(items, (left_width, right_width))
    lines = [
        _line("time(ms)".rjust(TIME_WIDTH), left, "", " " * middle, right, "", left_width, color)
    ]
    if model.first_state:
        lines.append(
            _line(
                " " * TIME_WIDTH,
                model.first_state.get(left, ""),
                "state",
                " " * middle,
                model.first_state.get(right, ""),
                "state",
                left_width,
                color,
            )
        )
    previous_time: int | None = None
    total = fixed + middle
    for row in rows:
        stamp = format_time(row.time).rjust(TIME_WIDTH) if row.time != previous_time else ""
        previous_time = row.time
        stamp = stamp.ljust(TIME_WIDTH)
        if row.spill:
            text = row.left or row.right
            if width is not None:
                text = _fit(text, total - TIME_WIDTH - 2)
            painted = _paint(text, row.left_style or row.right_style, color)
            if row.left:
                lines.append(f"{stamp}  {painted}")
            else:
                start = max(total - len(text), TIME_WIDTH + 2)
                lines.append(f"{stamp}{' ' * (start - TIME_WIDTH)}{painted}")
            continue
        if row.arrow is not None:
            mid = _paint(_draw_arrow(row.arrow, middle), _mid_style(row.arrow), color)
        else:
            mid = " " * middle
        lines.append(
            _line(
                stamp, row.left, row.left_style, mid, row.right, row.right_style, left_width, color
            )
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _side_width(items: list[Arrow | Note], *, left: bool, name: str, limit: int) -> int:
    """The width of a side column: the host name, a state name, or the longest
    note up to ``limit`` characters (longer notes get a row of their own)."""
    widths = [len(name), MIN_SIDE]
    widths += [
        len(item.text)
        for item in items
        if isinstance(item, Note) and item.left == left and len(item.text) <= limit
    ]
    return max(widths)


def _mid_style(arrow: Arrow) -> str:
    return "lost" if arrow.lost is not None else arrow.style


def _paint(text: str, style: str, color: bool) -> str:
    """``text`` in the style's colour; surrounding blanks stay uncoloured."""
    code = _STYLES.get(style, "") if color else ""
    core = text.strip(" ")
    if not code or not core:
        return text
    start = text.index(core)
    return f"{text[:start]}{code}{core}{_RESET}{text[start + len(core) :]}"


def _line(
    stamp: str,
    left: str,
    left_style: str,
    mid: str,
    right: str,
    right_style: str,
    left_width: int,
    color: bool,
) -> str:
    left_cell = _paint(left, left_style, color) + " " * (left_width - len(left))
    right_cell = _paint(right, right_style, color)
    return f"{stamp}  {left_cell} {mid} {right_cell}".rstrip()


def render_records(records: Iterable[Entry | Record]) -> str:
    """One line per record: time in ms, host (``network`` for the network's own
    records) and a description; for ``--verbose`` output and debugging."""
    entries = normalise(records)
    hosts = [("network" if host is None else host) for host, _ in entries]
    host_width = max((len(host) for host in hosts), default=0)
    lines = [
        f"{format_time(record.time):>{TIME_WIDTH}}  {host:<{host_width}}  {describe(record)}"
        for host, (_, record) in zip(hosts, entries, strict=True)
    ]
    return "\n".join(lines) + ("\n" if lines else "")
