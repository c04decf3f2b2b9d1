"""The generated docs stay in step with the code they are generated from."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_generator():  # type: ignore[no-untyped-def]
    path = ROOT / "tools" / "gen_state_diagram.py"
    spec = importlib.util.spec_from_file_location("gen_state_diagram", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_state_diagram_is_current() -> None:
    generator = _load_generator()
    committed = (ROOT / "docs" / "state-diagram.md").read_text()
    assert committed == generator.render(), "docs/state-diagram.md is stale: run `make docs`"


def test_state_diagram_has_every_transition() -> None:
    from synack.tcp.state import TRANSITIONS

    text = (ROOT / "docs" / "state-diagram.md").read_text()
    for old, new in TRANSITIONS:
        assert f"{old.name} --> {new.name}" in text


def test_requirements_page_is_current() -> None:
    """docs/rfc9293-requirements.md reflects the labels cited in code and tests."""
    path = ROOT / "tools" / "gen_requirements.py"
    spec = importlib.util.spec_from_file_location("gen_requirements", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    if not module.RFC.exists():
        import pytest

        pytest.skip(f"the RFC text is not at {module.RFC}")
    committed = (ROOT / "docs" / "rfc9293-requirements.md").read_text()
    # Line numbers move with every edit; labels, statuses, files and notes must not.
    assert _without_line_numbers(committed) == _without_line_numbers(module.render()), (
        "docs/rfc9293-requirements.md is stale: run `make docs`"
    )


def _without_line_numbers(text: str) -> str:
    import re

    return re.sub(r"`:[0-9,]+", "`", text)


def test_requirements_page_lists_every_label() -> None:
    text = (ROOT / "docs" / "rfc9293-requirements.md").read_text()
    for number in range(1, 70):
        assert f"| MUST-{number} |" in text
    for number in range(1, 32):
        assert f"| SHLD-{number} |" in text
