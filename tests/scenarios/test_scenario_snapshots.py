"""A snapshot of every scenario's text (ladder and commentary) in both languages.

``SYNACK_UPDATE_SNAPSHOTS=1`` rewrites the snapshots after an intended change
(to the scenarios, their commentary, the ladder renderer or the core's
behaviour); review the diff before committing it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from synack.scenarios import SCENARIOS, run_scenario
from synack.scenarios.output import render_run
from synack.scenarios.text import LANGUAGES

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_text_snapshot(name: str, lang: str) -> None:
    text = render_run(run_scenario(SCENARIOS[name]), "text", lang)
    path = SNAPSHOTS / f"{name}.{lang}.txt"
    if os.environ.get("SYNACK_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "now")
    )
    assert text == expected, (
        f"{name} ({lang}) changed (rerun with SYNACK_UPDATE_SNAPSHOTS=1 if intended):\n{diff}"
    )


def test_every_snapshot_belongs_to_a_scenario() -> None:
    expected = {f"{name}.{lang}.txt" for name in SCENARIOS for lang in LANGUAGES}
    assert {path.name for path in SNAPSHOTS.glob("*.txt")} == expected
