"""The HTML ladder in a real browser: headless Chromium takes a screenshot of
the page (it must show the ladder, not a blank page) and runs its hover script.

`make test` installs Debian's chromium (tools/install-deps.sh); elsewhere these
tests skip when it is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from render_helpers import demo_trace, lossy_trace

from synack.trace.html import render_html
from synack.trace.svg import COLORS

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (tools/install-deps.sh, run by make test, installs it)",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
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
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def near(pixel: tuple[int, ...], color: str, tolerance: int = 48) -> bool:
    target = bytes.fromhex(color.lstrip("#"))
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], target, strict=True))


def test_screenshot_shows_the_ladder(tmp_path: Path) -> None:
    page = tmp_path / "ladder.html"
    page.write_text(render_html(demo_trace(), "client", "server"), encoding="utf-8")
    png = tmp_path / "ladder.png"
    result = chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,900", page.as_uri())
    assert png.exists(), f"no screenshot: {result.stderr[-2000:]}"
    with Image.open(png) as image:
        assert image.size == (1200, 900)
        colors = image.convert("RGB").getcolors(maxcolors=1200 * 900) or []
    counts = {color: count for count, color in colors if isinstance(color, tuple)}
    assert counts.get((255, 255, 255), 0) < 0.97 * 1200 * 900, "the page is (almost) blank"
    assert len(counts) > 50  # text, lines, bands: not a flat fill

    def pixels_near(color: str, tolerance: int = 48) -> int:
        return sum(n for pixel, n in counts.items() if near(pixel, color, tolerance))

    # the ladder itself was drawn: SYN (green) and data (blue) arrows, the state bands
    assert pixels_near(COLORS["SYN"]) > 100
    assert pixels_near(COLORS["data"]) > 100
    assert pixels_near("#a5d6ff", 8) > 100  # the ESTABLISHED band


def test_hover_shows_the_full_header(tmp_path: Path) -> None:
    html = render_html(lossy_trace(), "client", "server")
    probe = (
        "<script>var first = document.querySelector('.synack-ladder g.arrow');"
        "first.dispatchEvent(new MouseEvent('mouseenter'));</script>"
    )
    page = tmp_path / "hover.html"
    page.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    result = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = result.stdout
    assert 'id="details"' in dom, result.stderr[-2000:]
    details = dom.split('id="details"', 1)[1].split("</div>", 1)[0]
    assert "client → server, sent at 0.000 ms" in details
    assert "flags SYN" in details and "options &lt;mss 1460" in details
    assert 'class="arrow SYN' in dom and "active" in dom.split('class="arrow SYN', 1)[1][:80]
