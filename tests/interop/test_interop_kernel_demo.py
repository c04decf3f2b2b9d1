"""``synack demo --kernel``: the lifecycle against the Linux kernel in both roles.

The demo runs as its own process (as a user would run it) and must print,
for each role, the ladder and the table of synack's state beside the
kernel's own (``ss -tan``) at every step, with the states RFC 9293 3.6
predicts when the client closes first: the closer passes FIN-WAIT-2 and
ends in TIME-WAIT, the other side sits in CLOSE-WAIT until its application
closes.  Afterwards no namespace or device may be left.  The root check
and the option check run without root.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from interop_helpers import skip_without_root

from synack import kernel_demo
from synack.cli import main

NONE = kernel_demo.NONE

#: (step, synack, kernel (ss)) rows of each table, in order.
EXPECTED_A = [
    ("kernel listen()", NONE, "LISTEN"),
    ("synack connect(): handshake", "ESTABLISHED", "ESTAB"),
    ("request and response", "ESTABLISHED", "ESTAB"),
    ("synack close() first", "FIN-WAIT-2", "CLOSE-WAIT"),
    ("kernel close()", "TIME-WAIT", NONE),
    ("synack's TIME-WAIT ends (2 s here)", "CLOSED", NONE),
]
EXPECTED_B = [
    ("synack listen()", "LISTEN", NONE),
    ("kernel connect(): handshake", "ESTABLISHED", "ESTAB"),
    ("request and response", "ESTABLISHED", "ESTAB"),
    ("kernel close() first", "CLOSE-WAIT", "FIN-WAIT-2"),
    ("synack close()", "CLOSED", "TIME-WAIT"),
]


def tables(output: str) -> list[list[tuple[str, ...]]]:
    """The rows of every ``step / synack / kernel`` table in the output."""
    found: list[list[tuple[str, ...]]] = []
    rows: list[tuple[str, ...]] | None = None
    for line in output.splitlines():
        cells = tuple(re.split(r"\s{2,}", line.strip()))
        if cells[:1] == ("step",):
            rows = []
            found.append(rows)
        elif rows is not None:
            if not line.strip():
                rows = None
            elif not set(line.strip()) <= {"-", " "}:
                rows.append(cells)
    return found


def namespaces() -> str:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    return done.stdout


def test_demo_kernel_both_roles() -> None:
    skip_without_root()
    done = subprocess.run(
        [sys.executable, "-m", "synack", "demo", "--kernel", "--width", "120"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    match = re.search(r"namespace (synack-demo-\d+-\d+), TUN device (\w+)", out)
    assert match is not None, out
    name, device = match.groups()

    assert "(a) synack client 10.79.0.2 -> kernel server 10.79.0.1:80" in out
    assert "(b) kernel client 10.79.0.1 -> synack server 10.79.0.2:80" in out
    found = tables(out)
    assert found == [EXPECTED_A, EXPECTED_B], out
    # The ladders: synack's states on the left, the kernel's calls and ss views on the right.
    for text in ("SYN-SENT", "FIN-WAIT-1", "TIME-WAIT", "timer: TIME-WAIT", "SYN-RECEIVED"):
        assert text in out
    for text in ("LAST-ACK", "CLOSE-WAIT", "ss: CLOSE-WAIT", "ss: TIME-WAIT", "ss: FIN-WAIT-2"):
        assert text in out
    assert "ok: both roles completed" in out
    assert f"cleaned up: namespace {name}" in out

    assert name not in namespaces().split()
    assert not Path("/run/netns", name).exists()
    assert not Path("/sys/class/net", device).exists()  # never in the root namespace


def test_demo_kernel_writes_a_pcap(tmp_path: Path) -> None:
    skip_without_root()
    pcap = tmp_path / "kernel.pcap"
    out = io.StringIO()
    status = kernel_demo.run_kernel_demo(out, width=100, pcap=str(pcap))
    assert status == 0, out.getvalue()
    assert pcap.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    assert pcap.stat().st_size > 24 + 20 * 40  # the header and some twenty packets
    assert f"packets written to {pcap}" in out.getvalue()
    match = re.search(r"namespace (synack-demo-\d+-\d+)", out.getvalue())
    assert match is not None
    assert match.group(1) not in namespaces().split()


def test_demo_kernel_without_root_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(kernel_demo, "require_root", lambda: "needs root (TUN devices)")
    assert main(["demo", "--kernel"]) == 2
    captured = capsys.readouterr()
    assert "needs root" in captured.err and "run it as root" in captured.err
    assert captured.out == ""


def test_demo_kernel_rejects_simulator_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--kernel", "--loss", "0.1"]) == 2
    assert "simulated demo only" in capsys.readouterr().err
