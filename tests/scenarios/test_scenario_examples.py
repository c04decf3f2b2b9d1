"""docs/examples/ stays in step with the scenarios (tools/gen_examples.py), and a
scenario page shows its ladders in a real browser (headless Chromium, when installed)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from synack.scenarios import SCENARIOS, run_scenario
from synack.scenarios.output import render_run

ROOT = Path(__file__).resolve().parent.parent.parent


def generator() -> ModuleType:
    path = ROOT / "tools" / "gen_examples.py"
    spec = importlib.util.spec_from_file_location("gen_examples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_are_current() -> None:
    outputs = generator().render()
    stale = [
        path.name
        for path, text in outputs.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"docs/examples is stale ({stale}): run tools/gen_examples.py"
    for path in outputs:
        if path.suffix == ".svg":
            ET.parse(path)


def test_the_readme_shows_an_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## See TCP: the classic questions" in readme
    images = [
        line for line in readme.splitlines() if line.startswith("![") and "docs/examples/" in line
    ]
    assert images
    for line in images:
        target = line[line.index("](") + 2 : line.rindex(")")]
        assert (ROOT / target).exists(), target


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/install-deps.sh)")
def test_a_scenario_page_in_chromium(tmp_path: Path) -> None:
    from PIL import Image

    assert CHROMIUM is not None
    page = tmp_path / "why-three.html"
    page.write_text(render_run(run_scenario(SCENARIOS["why-three"]), "html"), encoding="utf-8")
    png = tmp_path / "why-three.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png}",
        "--window-size=1200,2400",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert png.exists(), f"no screenshot: {result.stderr[-2000:]}"
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1200, 2400)
        colors = rgb.getcolors(maxcolors=1200 * 2400) or []
        # the lower half holds the second run's ladder: not blank either
        lower = rgb.crop((0, 1200, 1200, 2400)).getcolors(maxcolors=1200 * 1200) or []
    counts = {color: count for count, color in colors if isinstance(color, tuple)}
    assert counts.get((255, 255, 255), 0) < 0.97 * 1200 * 2400, "the page is (almost) blank"
    assert len(counts) > 50
    assert len(lower) > 20
