"""One entry point for every ladder format: ``render(trace, left, right, format=...)``.

======== =============================================== ==========================
format   what                                            options
======== =============================================== ==========================
text     the terminal ladder (``synack.trace.ladder``)   relative, width, color
svg      an SVG document (``synack.trace.svg``)          relative, title, px_per_ms
html     a self-contained page (``synack.trace.html``)   relative, title, px_per_ms
mermaid  a Mermaid ``sequenceDiagram``                   relative, options, times,
         (``synack.trace.mermaid``)                      gap_note_after
======== =============================================== ==========================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from synack.trace.html import render_html
from synack.trace.ladder import render_ladder
from synack.trace.mermaid import render_mermaid
from synack.trace.model import Entry
from synack.trace.records import Record
from synack.trace.svg import render_svg

Format = Literal["text", "svg", "html", "mermaid"]

_RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_ladder,
    "svg": render_svg,
    "html": render_html,
    "mermaid": render_mermaid,
}

#: The format names, in the order the command line lists them.
FORMATS: tuple[str, ...] = tuple(_RENDERERS)

#: The usual file name extension of each format.
EXTENSIONS = {"text": ".txt", "svg": ".svg", "html": ".html", "mermaid": ".mmd"}


def render(
    trace: Iterable[Entry | Record],
    left: str,
    right: str,
    format: Format | str = "text",
    **options: Any,
) -> str:
    """The ladder of the exchange between hosts ``left`` and ``right`` in ``format``.

    Raises ``ValueError`` for an unknown format and ``TypeError`` for an
    option the format does not take (see the module docstring).
    """
    try:
        renderer = _RENDERERS[format]
    except KeyError:
        raise ValueError(
            f"unknown format {format!r}: expected one of {', '.join(FORMATS)}"
        ) from None
    return renderer(trace, left, right, **options)
