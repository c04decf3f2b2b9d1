"""Where the packetdrill conformance corpus lives (shared by the test_pd_* files)."""

from __future__ import annotations

from pathlib import Path

#: ``/work/shared/conformance/packetdrill`` when the repo is ``/work/main``.
CORPUS = Path(__file__).parents[2].parent / "shared" / "conformance" / "packetdrill"
SCRIPTS = sorted(CORPUS.rglob("*.pkt")) if CORPUS.is_dir() else []
SKIP_REASON = f"packetdrill corpus not found at {CORPUS}"


def script_id(path: Path) -> str:
    """A short test id: the path below the corpus folder."""
    return str(path.relative_to(CORPUS))
