"""The public packetdrill conformance set, run against synack in every variant
its source's runner uses.  Scripts listed in conformance-expected-failures.tsv
must still fail (remove them from the list when they start to pass); every
other script must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from pd_corpus import CORPUS, SCRIPTS, SKIP_REASON, script_id

from synack.packetdrill.suite import load_expected_failures, run_script

EXPECTED = load_expected_failures(Path(__file__).parent / "conformance-expected-failures.tsv")


def test_the_expected_failures_file_names_real_scripts() -> None:
    if not SCRIPTS:
        pytest.skip(SKIP_REASON)
    names = {script_id(path) for path in SCRIPTS}
    assert set(EXPECTED) <= names, sorted(set(EXPECTED) - names)


@pytest.mark.parametrize("path", SCRIPTS, ids=[script_id(p) for p in SCRIPTS])
def test_conformance_script(path: Path) -> None:
    results, error = run_script(path)
    assert not error, error
    name = script_id(path)
    failures = [f"[{r.variant}] line {r.line}: {r.message}" for r in results if not r.passed]
    if name in EXPECTED:
        assert failures, f"{name} now passes: remove it from conformance-expected-failures.tsv"
        return
    assert not failures, "\n".join(failures)


def test_corpus_is_present_in_ci() -> None:
    """CI has ../shared beside the clone; a missing corpus must not pass silently there."""
    import os

    if os.environ.get("CI") and not CORPUS.is_dir():
        pytest.fail(SKIP_REASON)
