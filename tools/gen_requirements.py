#!/usr/bin/env python3
"""Generate docs/rfc9293-requirements.md: every requirement label of RFC 9293
Appendix B, where synack's code cites it, which tests cite it, and a status.

The labels and their wording come from the RFC text itself; the code and test
references come from a scan for the labels in comments and docstrings; the
status of labels that synack deliberately does not implement (or where it
follows Linux instead) is kept by hand in ``NOTES`` below.  Run `make docs`
after adding citations; `tests/test_docs.py` fails when the page is stale.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RFC = ROOT.parent / "shared" / "reference" / "rfc9293.txt"
OUTPUT = ROOT / "docs" / "rfc9293-requirements.md"
LABEL = re.compile(r"\b((?:MUST|SHLD|MAY|REC)-\d+)\b")
LEVELS = ["MUST", "SHOULD", "MAY", "SHOULD NOT", "MUST NOT"]

#: Hand-kept status for labels that are not simply "implemented where cited".
NOTES: dict[str, tuple[str, str]] = {
    "MUST-23": (
        "differs",
        "R2 for SYN is counted in retransmissions as Linux does (tcp_syn_retries=6, about "
        "127 s), not at least 3 minutes; configurable (TcpConfig.syn_retries).",
    ),
    "MUST-30": (
        "implemented",
        "URG and the urgent pointer both ways; urgent data is delivered inline (as with "
        "SO_OOBINLINE): Linux's default of taking the last urgent octet out of band "
        "(recv(MSG_OOB)) is not modelled.",
    ),
    "MUST-51": ("n/a", "IP source routing is not supported by synack's IP layer."),
    "MUST-52": ("n/a", "IP source routing is not supported."),
    "MUST-53": ("n/a", "IP source routing is not supported."),
    "SHLD-24": ("n/a", "IP source routing is not supported."),
    "MUST-56": (
        "implemented",
        "RFC behaviour: no abort on Destination Unreachable 0, 1, 5, Time Exceeded or "
        "Parameter Problem, also in SYN-SENT (Linux aborts a connect at once there); the "
        "error is reported when the connection times out.",
    ),
    "MAY-11": ("n/a", "Record Route is an IP option; synack sends none."),
    "SHLD-8": (
        "implemented",
        "RFC 3168 with Linux's tcp_ecn modes (default 2: accept when asked); the simulator's "
        "links can mark CE (LinkConfig.ecn_mark_threshold).",
    ),
    "MAY-15": (
        "implemented",
        "as Linux, the other way round: a write pushes unless the call says more follows "
        "(send(more=True), MSG_MORE); TCP_CORK holds partial segments too.",
    ),
    "MAY-17": ("not yet", "the application is not told about PSH."),
    "MAY-7": ("not done", "synack never sends data beyond SND.UNA+SND.WND (a MAY)."),
    "MAY-4": ("not done", "retransmissions get IP identification 0 like every segment (a MAY)."),
    "MAY-6": ("not done", "keep-alives carry no garbage octet (a MAY; Linux sends none)."),
    "SHLD-13": (
        "n/a",
        "advice to applications; synack's own applications, demos and scenarios never send "
        "urgent data (the API still offers it, MUST-30).",
    ),
    "SHLD-23": (
        "n/a",
        "advice to applications; the API allows changes during a connection (SHLD-21).",
    ),
    "SHLD-6": (
        "implemented",
        "path MTU discovery from ICMP fragmentation-needed / packet-too-big (RFC 1191, "
        "RFC 8201; synack.tcp.icmp) and the configured route MTU (TcpConfig.route_mtu).",
    ),
    "SHLD-20": (
        "n/a",
        "errors reach the application as events and raised errors; nothing to disable.",
    ),
    "MAY-14": ("not yet", "no FLUSH call."),
    "MAY-9": (
        "implemented",
        "the TOS octet of the latest segment is Connection.received_tos (and in status()); "
        "no IP_RECVTOS control message in the socket API.",
    ),
}


@dataclass
class Requirement:
    label: str
    level: str
    feature: str
    section: str
    code: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)


def parse_appendix_b(text: str) -> list[Requirement]:
    """The requirement rows of Appendix B, in order, with their feature text."""
    start = text.index("Appendix B.  TCP Requirement Summary\n\n")
    body = text[start:]
    requirements: list[Requirement] = []
    section = ""
    row: list[list[str]] = []

    def flush() -> None:
        if not row:
            return
        label = row[0][1].strip()
        feature = " ".join(cells[0].strip() for cells in row if cells[0].strip())
        level = next(
            (LEVELS[i] for i in range(5) if any(cells[2 + i].strip() == "X" for cells in row)), ""
        )
        if LABEL.fullmatch(label):
            requirements.append(Requirement(label, level, feature.replace("*  ", ""), section))
        row.clear()

    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("+"):
            flush()
            continue
        if not stripped.startswith("|"):
            if requirements and stripped.startswith("Footnotes"):
                break
            continue
        cells = stripped.strip("|").split("|")
        if len(cells) == 1:
            section = cells[0].strip()
            continue
        if len(cells) == 7:
            row.append(cells)
    flush()
    return requirements


def scan(paths: list[Path]) -> dict[str, list[str]]:
    """label -> ["file:line", ...] for every citation under ``paths``."""
    found: dict[str, list[str]] = {}
    for base in paths:
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for label in LABEL.findall(line):
                    found.setdefault(label, []).append(f"{rel}:{number}")
    return found


def _refs(refs: list[str], limit: int = 3) -> str:
    files: dict[str, list[str]] = {}
    for ref in refs:
        name, line = ref.rsplit(":", 1)
        files.setdefault(name, []).append(line)
    parts = [f"`{name.split('/')[-1]}`:{','.join(lines[:4])}" for name, lines in files.items()]
    more = f" +{len(parts) - limit} files" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def render() -> str:
    requirements = parse_appendix_b(RFC.read_text())
    code = scan([ROOT / "src"])
    tests = scan([ROOT / "tests"])
    counts: dict[str, int] = {}
    rows = []
    for req in requirements:
        req.code = code.get(req.label, [])
        req.tests = tests.get(req.label, [])
        if req.label in NOTES:
            status, note = NOTES[req.label]
        elif req.code and req.tests:
            status, note = "implemented", ""
        elif req.code:
            status, note = "implemented, untested", ""
        else:
            status, note = "not cited", "no code cites this label yet"
        counts[status] = counts.get(status, 0) + 1
        rows.append(
            f"| {req.label} | {req.level} | {req.feature} | {status} | "
            f"{_refs(req.code)} | {_refs(req.tests)} | {note} |"
        )
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    lines = [
        "# RFC 9293 requirements in synack",
        "",
        "Generated by `tools/gen_requirements.py` from Appendix B of RFC 9293 and from the",
        "labels cited in synack's code and tests; run `make docs` to refresh. A label counts",
        "as implemented when code cites it and a test cites it; statuses that differ (Linux",
        "behaviour chosen, not applicable, not yet done) are kept by hand in the generator.",
        "",
        f"{len(requirements)} requirements: {summary}.",
        "",
        "| label | level | feature | status | code | tests | note |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
