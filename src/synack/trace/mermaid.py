"""Ladder diagrams as a Mermaid ``sequenceDiagram``: ``render_mermaid(trace, "client", "server")``.

Paste the result into any Markdown that renders Mermaid (GitHub, GitLab,
many wikis).  Each host is a participant; each segment is a message at its
send time, labelled like the terminal ladder (flags, ``seq``/``ack``
relative with absolute in parentheses, ``len``, ``win``, options).  Mermaid
draws messages level, so time shows only as order, plus a note across both
lifelines for idle gaps of ``gap_note_after`` or longer (TIME-WAIT's 60 s).

- a state change is ``Note over HOST: STATE``;
- user calls, timer firings and drops are notes on the host's outer side;
- a segment lost in the network (or never received) is ``-x``, one whose
  sender was not traced (drawn from its receipt) is dotted ``-->>``, and one
  the receiving stack dropped is followed by the drop note.

Text is escaped with Mermaid's entity codes (``#60;`` for ``<``), so header
options and odd host names cannot break the diagram.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from synack.trace.model import Arrow, Entry, Note, build_model, format_duration
from synack.trace.records import Record
from synack.trace.summary import format_time

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"#": "#35;", ";": "#59;", "<": "#60;", ">": "#62;", "%": "#37;"}
_SPECIAL = re.compile("[#;<>%]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def mermaid_text(text: str) -> str:
    """``text`` made safe for a Mermaid message or note (one line, entity codes)."""
    text = _CONTROL.sub(" ", text)
    return _SPECIAL.sub(lambda match: _ESCAPES[match.group()], text)


def _participant(name: str, fallback: str) -> tuple[str, str]:
    """The identifier to use for host ``name`` and its declaration line."""
    keywords = {"end", "participant", "actor", "note", "loop", "alt", "else", "opt", "par"}
    if _IDENTIFIER.fullmatch(name) and name.lower() not in keywords:
        return name, f"    participant {name}"
    return fallback, f"    participant {fallback} as {mermaid_text(name)}"


def render_mermaid(
    records: Iterable[Entry | Record],
    left: str,
    right: str,
    *,
    relative: bool = True,
    options: bool = True,
    times: bool = False,
    gap_note_after: int = 1_000_000,
) -> str:
    """The exchange between ``left`` and ``right`` as Mermaid sequence-diagram text.

    ``relative`` as for ``render_ladder``; ``options=False`` leaves TCP
    options out of the labels; ``times=True`` starts each label with the
    send time in ms; idle gaps of ``gap_note_after`` microseconds or more
    get a note.
    """
    model = build_model(records, left, right, relative=relative)
    left_id, left_line = _participant(left, "L")
    right_id, right_line = _participant(right, "R")
    if left_id == right_id:
        right_id, right_line = "R", f"    participant R as {mermaid_text(right)}"
    ids = {True: left_id, False: right_id}
    lines = ["sequenceDiagram", left_line, right_line]
    for host, ident in ((left, left_id), (right, right_id)):
        first = model.first_state.get(host)
        if first:
            lines.append(f"    Note over {ident}: {mermaid_text(first)}")
    ordered = sorted(model.items, key=lambda item: (item.time, item.order))
    previous: int | None = None
    for item in ordered:
        if previous is not None and item.time - previous >= gap_note_after:
            gap = mermaid_text(f"⋯ {format_duration(item.time - previous)} later ⋯")
            lines.append(f"    Note over {left_id},{right_id}: {gap}")
        previous = item.time
        if isinstance(item, Note):
            lines.append(_note(item, ids))
        else:
            lines.append(_message(item, ids, options=options, times=times))
    return "\n".join(lines) + "\n"


def _note(note: Note, ids: dict[bool, str]) -> str:
    ident = ids[note.left]
    if note.style == "state":
        return f"    Note over {ident}: {mermaid_text(note.text)}"
    where = "left of" if note.left else "right of"
    return f"    Note {where} {ident}: {mermaid_text(note.text)}"


def _message(arrow: Arrow, ids: dict[bool, str], *, options: bool, times: bool) -> str:
    sender, receiver = ids[arrow.rightward], ids[not arrow.rightward]
    label = arrow.label(options=options)
    notes = arrow.notes()
    if arrow.lost == "not received":
        notes.append("not received")
    elif arrow.lost is not None:
        notes.append("lost" if arrow.lost == "loss" else f"lost: {arrow.lost}")
    if arrow.from_receipt:
        notes.append("sender not traced")
    label += "".join(f" ({note})" for note in notes)
    if times:
        label = f"{format_time(arrow.time)} {label}"
    if arrow.lost is not None:
        kind = "-x"
    elif arrow.from_receipt:
        kind = "-->>"
    else:
        kind = "->>"
    return f"    {sender}{kind}{receiver}: {mermaid_text(label)}"
