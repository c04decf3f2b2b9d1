"""synack's own packetdrill scripts for the TCP lifecycle (``tests/packetdrill/scripts``).

Each script runs in every variant of Google's runner (IPv4, IPv4-mapped IPv6,
IPv6), one test per script and variant, through ``suite.run_script``. A script
must pass, unless ``scripts/EXPECTED_FAILURES.tsv`` lists it (``name.pkt<TAB>
reason``): then it must fail on a real mismatch (not a parse error or an
unsupported feature), and the test is reported as an expected failure with the
reason; if it passes, the test fails and asks for the entry to be removed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synack.packetdrill.suite import load_expected_failures, run_script

SCRIPTS_DIR = Path(__file__).parent / "scripts"
EXPECTED_FAILURES_FILE = SCRIPTS_DIR / "EXPECTED_FAILURES.tsv"
VARIANTS = ("ipv4", "ipv4-mapped-ipv6", "ipv6")

SCRIPTS = sorted(path.name for path in SCRIPTS_DIR.glob("*.pkt"))
EXPECTED_FAILURES = load_expected_failures(EXPECTED_FAILURES_FILE)



def variants_of(name: str) -> tuple[str, ...]:
    """As Google's runner: files named *v6.pkt skip IPv4, *v4.pkt skip IPv6."""
    if name.endswith("v4.pkt"):
        return ("ipv4", "ipv4-mapped-ipv6")
    if name.endswith("v6.pkt"):
        return ("ipv6",)
    return VARIANTS


CASES = [
    pytest.param(name, variant, id=f"{name}-{variant}")
    for name in SCRIPTS
    for variant in variants_of(name)
]


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_script(name: str, variant: str) -> None:
    results, parse_error = run_script(SCRIPTS_DIR / name, variants=[variant])
    assert not parse_error, parse_error
    (result,) = results
    where = f"{name} [{variant}] line {result.line}: {result.message}"
    reason = EXPECTED_FAILURES.get(name)
    if reason is None:
        assert result.passed, where
        return
    if result.passed:
        pytest.fail(f"{name} [{variant}] is listed in EXPECTED_FAILURES.tsv but passes: remove it")
    assert not result.message.startswith("unsupported:"), where
    first_line = where.splitlines()[0]
    pytest.xfail(f"expected failure ({reason}); got: {first_line}")


def test_there_are_at_least_twenty_scripts_and_most_pass() -> None:
    assert len(SCRIPTS) >= 20
    assert len(SCRIPTS) - len(EXPECTED_FAILURES) >= 20


def test_expected_failures_name_existing_scripts_with_a_reason() -> None:
    lines = [
        line
        for line in EXPECTED_FAILURES_FILE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for line in lines:
        name, tab, reason = line.partition("\t")
        assert tab and reason.strip(), f"no reason after a tab: {line!r}"
        assert name in SCRIPTS, f"{name} is listed but there is no such script"
    assert len(lines) == len(EXPECTED_FAILURES)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_header_says_what_why_and_whence(name: str) -> None:
    """Each script opens with a comment block: what it tests, the RFC 9293
    section or label, and where the expected behaviour comes from."""
    header = []
    for line in (SCRIPTS_DIR / name).read_text().splitlines():
        if not line.startswith("//"):
            break
        header.append(line)
    text = "\n".join(header)
    assert len(header) >= 4, "missing header comment"
    assert "RFC 9293:" in text
    assert re.search(r"\b\d+\.\d+(\.\d+)*\b", text), "no RFC 9293 section number"
    assert "Expected behaviour:" in text
    assert re.search(r"Expected behaviour: (Linux|RFC)", text), "say whether Linux or the RFC"
