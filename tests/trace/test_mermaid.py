"""The Mermaid sequence diagram: a snapshot of the lifecycle demo, and the markings."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from render_helpers import demo_trace, lossy_trace, lost_count
from test_ladder import handshake_trace, network_trace, single_host_trace

from synack.tcp.state import State
from synack.trace.mermaid import mermaid_text, render_mermaid
from synack.trace.records import StateChanged, UserCall

SNAPSHOT = Path(__file__).parent / "snapshots" / "lifecycle-demo.mmd"


def test_lifecycle_demo_snapshot() -> None:
    """``SYNACK_UPDATE_SNAPSHOTS=1`` rewrites the snapshot after an intended change."""
    text = render_mermaid(demo_trace(), "client", "server")
    if os.environ.get("SYNACK_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text)
    expected = SNAPSHOT.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True)))
    assert text == expected, (
        f"the demo's Mermaid diagram changed (rerun with SYNACK_UPDATE_SNAPSHOTS=1 if "
        f"intended):\n{diff}"
    )


def test_structure() -> None:
    lines = render_mermaid(demo_trace(), "client", "server").splitlines()
    assert lines[:5] == [
        "sequenceDiagram",
        "    participant client",
        "    participant server",
        "    Note over client: CLOSED",
        "    Note over server: CLOSED",
    ]
    messages = [line for line in lines if "->>" in line or "-x" in line]
    assert len(messages) == 9
    assert messages[0].startswith("    client->>server: SYN seq=0 (")
    assert "#60;mss 1460,sackOK," in messages[0]  # options, with < > as entity codes
    assert "<" not in "".join(lines) and ";" not in "".join(lines).replace("#60;", "").replace(
        "#62;", ""
    )
    assert "    Note over client,server: ⋯ 59.990 s later ⋯" in lines
    assert lines.index("    Note over server: CLOSE-WAIT") < lines.index(
        "    Note right of server: close()"
    )


def test_losses_are_crosses() -> None:
    trace = lossy_trace()
    lines = render_mermaid(trace, "client", "server", options=False).splitlines()
    lost = [line for line in lines if "-x" in line]
    assert len(lost) == lost_count(trace) > 0
    assert all(line.endswith(" (lost)") and "#60;" not in line for line in lost)
    network = render_mermaid(network_trace(), "client", "server", times=True)
    assert "    client-xserver: 1.000 SYN seq=0 (4294967000) win=65535" in network
    assert "(lost: queue full)" in network and "(corrupted)" in network
    assert "    Note right of server: ✕ bad checksum" in network
    assert "(retransmission)" in network and "(duplicated)" in network


def test_pairing_modes() -> None:
    text = render_mermaid(handshake_trace(), "client", "server", relative=False)
    assert "    server->>client: SYN,ACK seq=1000 ack=4294967001 win=65535 #60;mss 1460#62;" in text
    single = render_mermaid(single_host_trace(), "client", "peer")
    assert "    peer-->>client: SYN,ACK" in single and "(sender not traced)" in single


def test_odd_names_and_text() -> None:
    trace = [
        ("my host", UserCall(0, None, "call; #1 <x>\nnext")),
        ("my host", StateChanged(0, None, State.CLOSED, State.LISTEN, "x")),
    ]
    text = render_mermaid(trace, "my host", "end")
    assert "    participant L as my host" in text
    assert "    participant R as end" in text  # a keyword cannot be an identifier
    assert "    Note left of L: call#59; #35;1 #60;x#62; next" in text
    assert mermaid_text("100%") == "100#37;"
    assert render_mermaid([], "a", "a").splitlines()[1:] == [
        "    participant a",
        "    participant R as a",
    ]
