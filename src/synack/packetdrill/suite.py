"""Run many packetdrill scripts: files or folders, every variant their source's
runner uses, a report per script, and one closing ``N passed, M failed`` line.

A script passes when it passes in all of its variants.  Scripts that are
known not to pass yet are listed in an expected-failures file (one
``path<TAB>reason`` per line, the path relative to the folder given on the
command line); they are run and reported, but only a change of outcome
(an unexpected failure, or an expected failure that now passes) fails the run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from synack.packetdrill.environment import VARIANTS, Settings, variants_for
from synack.packetdrill.lexer import PacketdrillSyntaxError
from synack.packetdrill.parser import parse_file
from synack.packetdrill.runner import RunResult, ScriptRun
from synack.trace.ladder import render_ladder
from synack.trace.records import Record, SegmentReceived, SegmentSent


@dataclass
class ScriptReport:
    """All variants of one script."""

    path: Path
    display: str
    results: list[RunResult] = field(default_factory=list)
    error: str = ""  # a parse error or unreadable file
    expected_failure: str | None = None  # the reason, when listed as expected to fail

    @property
    def passed(self) -> bool:
        return not self.error and all(r.passed for r in self.results)


def find_scripts(paths: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """(script, the folder it was found under) for files and folders, recursively, sorted."""
    found: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [(p, path) for p in sorted(path.rglob("*.pkt"))]
        else:
            found.append((path, path.parent))
    return found


def load_expected_failures(path: Path | None) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    expected: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, reason = line.partition("\t")
        expected[name.strip()] = reason.strip() or "no reason given"
    return expected


def run_script(
    path: Path,
    *,
    variants: list[str] | None = None,
    tolerance_usecs: int | None = None,
    verbose: Callable[[str], None] | None = None,
) -> tuple[list[RunResult], str]:
    """Run one script in each variant; returns the results and a parse error (or "")."""
    try:
        script = parse_file(path)
    except PacketdrillSyntaxError as error:
        return [], str(error)
    except OSError as error:
        return [], f"{path}: {error.strerror or error}"
    results = []
    for name in variants or variants_for(path):
        settings = Settings()
        settings.apply(script.options)
        if tolerance_usecs is not None:
            settings.tolerance_usecs = tolerance_usecs  # the command line beats the script
        results.append(ScriptRun(script, VARIANTS[name], settings=settings, verbose=verbose).run())
    return results, ""


def ladder_of(result: RunResult, width: int | None = 120) -> str:
    """The run so far as a ladder: synack on the left, the script on the right."""
    entries: list[tuple[str | None, Record]] = []
    for record in result.trace:
        entries.append(("synack", record))
        if isinstance(record, SegmentSent):
            entries.append(("script", SegmentReceived(record.time, record.conn, record.segment)))
        elif isinstance(record, SegmentReceived):
            entries.insert(
                len(entries) - 1, ("script", SegmentSent(record.time, record.conn, record.segment))
            )
    return render_ladder(entries, "synack", "script", width=width)


def run_suite(
    paths: Iterable[str | Path],
    *,
    out: TextIO | None = None,
    expected_failures: Path | None = None,
    variants: list[str] | None = None,
    tolerance_usecs: int | None = None,
    verbose: bool = False,
    ladder: bool = False,
) -> tuple[list[ScriptReport], int]:
    """Run and report; returns the reports and the exit status (0 when nothing
    unexpected happened)."""
    stream = out if out is not None else sys.stdout
    expected = load_expected_failures(expected_failures)
    reports: list[ScriptReport] = []

    def say(line: str) -> None:
        print(line, file=stream)

    for path, root in find_scripts(paths):
        display = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        report = ScriptReport(path, display, expected_failure=expected.get(display))
        report.results, report.error = run_script(
            path,
            variants=variants,
            tolerance_usecs=tolerance_usecs,
            verbose=(lambda line: say("    " + line)) if verbose else None,
        )
        reports.append(report)
        _print_report(report, say, ladder=ladder)
    passed = sum(r.passed for r in reports)
    failed = len(reports) - passed
    unexpected = [r for r in reports if not r.passed and r.expected_failure is None]
    fixed = [r for r in reports if r.passed and r.expected_failure is not None]
    xfail = sum(1 for r in reports if not r.passed and r.expected_failure is not None)
    if expected:
        say(
            f"expected failures: {xfail} of {len(expected)} listed"
            + (f"; {len(fixed)} listed but passed: remove them" if fixed else "")
        )
    say(f"{passed} passed, {failed} failed")
    status = 1 if unexpected or fixed else 0
    if not expected and failed:
        status = 1
    return reports, status


def _print_report(report: ScriptReport, say: Callable[[str], None], *, ladder: bool) -> None:
    variants = ",".join(r.variant for r in report.results)
    if report.error:
        say(f"FAIL {report.display}: {report.error}")
        return
    if report.passed:
        tag = "PASS (listed as expected failure)" if report.expected_failure else "PASS"
        say(f"{tag} {report.display} [{variants}]")
        if ladder:
            say(ladder_of(report.results[0]))
        return
    tag = "XFAIL" if report.expected_failure else "FAIL"
    say(f"{tag} {report.display} [{variants}]")
    if report.expected_failure:
        say(f"    expected: {report.expected_failure}")
    for result in report.results:
        if result.passed:
            continue
        where = f"line {result.line}: " if result.line else ""
        say(f"  [{result.variant}] {where}{result.message}")
        if result.event_text and "script packet:" not in result.message:
            say(f"    script: {result.event_text}")
        if not report.expected_failure or ladder:
            say(_indent(ladder_of(result)))
        break  # the other variants usually fail the same way
    for note in report.results[0].notes[:3]:
        say(f"    note: {note}")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
