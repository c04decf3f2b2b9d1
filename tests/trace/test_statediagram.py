"""The state diagram drawn from TRANSITIONS (RFC 9293 3.3.2, Figure 5), highlighting a trace."""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from render_helpers import demo_trace

from synack.cli import main
from synack.tcp.state import TRANSITIONS, State
from synack.trace.statediagram import (
    HEIGHT,
    ROUTES,
    WIDTH,
    connection_paths,
    render_state_diagram,
    transitions_taken,
)

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


def classes(element: ET.Element) -> list[str]:
    return element.get("class", "").split()


def edges(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "edge" in classes(g)]


def test_every_state_and_every_transition_is_drawn() -> None:
    root = ET.fromstring(render_state_diagram().encode())
    boxes = [g for g in root.iter(f"{SVG}g") if "state" in classes(g)]
    names = ["".join(box.itertext()) for box in boxes]
    assert sorted(names) == sorted([str(state) for state in State] + ["CLOSED"])  # CLOSED twice
    drawn = edges(root)
    assert len(drawn) == len(TRANSITIONS)
    for element, ((old, new), cause) in zip(drawn, TRANSITIONS.items(), strict=True):
        title = element.find(f"{SVG}title")
        assert title is not None and title.text == f"{old} → {new}: {cause}"
    labels = [
        " ".join("".join(t.itertext()) for t in text.iter(f"{SVG}tspan"))
        for text in root.iter(f"{SVG}text")
        if "label" in classes(text)
    ]
    assert len(labels) == len(TRANSITIONS)
    assert "rcv SYN snd SYN,ACK" in labels  # event over action, as in the RFC figure
    assert set(TRANSITIONS) <= set(ROUTES)  # every edge has its place in the layout
    stubs = [e for e in drawn if "stub" in classes(e)]
    assert len(stubs) == 6  # the abort/reset edges Figure 5 leaves out (its Note 3)
    assert not any("taken" in classes(e) or "dim" in classes(e) for e in drawn)


def test_everything_inside_the_canvas() -> None:
    text = render_state_diagram()
    root = ET.fromstring(text.encode())
    assert (root.get("width"), root.get("height")) == (str(WIDTH), str(HEIGHT))
    for element in root.iter():
        for name in ("x", "y"):
            if element.get(name) is not None:
                value = float(element.get(name, "0"))
                assert 0 <= value <= (WIDTH if name == "x" else HEIGHT), (element.tag, value)
        for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", element.get("points", "")):
            assert 0 <= float(x) <= WIDTH and 0 <= float(y) <= HEIGHT


def test_demo_highlight() -> None:
    trace = demo_trace()
    taken = transitions_taken(trace)
    assert taken[(State.CLOSED, State.SYN_SENT)] == {"client": 1}
    assert taken[(State.CLOSE_WAIT, State.LAST_ACK)] == {"server": 1}
    assert len(taken) == 12
    root = ET.fromstring(render_state_diagram(trace).encode())
    highlighted = [e for e in edges(root) if "taken" in classes(e)]
    assert len(highlighted) == 12
    assert len([e for e in edges(root) if "dim" in classes(e)]) == len(TRANSITIONS) - 12
    boxes = {"".join(g.itertext()): g for g in root.iter(f"{SVG}g") if "state" in classes(g)}
    assert "dim" in classes(boxes["CLOSING"])  # never visited
    assert "visited" in classes(boxes["TIME-WAIT"])
    tooltips = [e.find(f"{SVG}title") for e in highlighted]
    assert any("taken by client 1 time" in (t.text or "") for t in tooltips if t is not None)
    paths = [t.text for t in root.iter(f"{SVG}text") if "path" in classes(t)]
    assert paths == connection_paths(trace) == [
        "client: CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED",
        "server: CLOSED → LISTEN → SYN-RECEIVED → ESTABLISHED → CLOSE-WAIT → LAST-ACK → CLOSED",
    ]


def test_manual_highlight_and_an_edge_the_layout_does_not_know() -> None:
    table = {**TRANSITIONS, (State.CLOSING, State.LISTEN): "made up"}
    root = ET.fromstring(
        render_state_diagram(
            highlight=[(State.CLOSING, State.LISTEN)], transitions=table, title="<test>"
        ).encode()
    )
    drawn = edges(root)
    assert len(drawn) == len(table)
    assert [classes(e) for e in drawn if "taken" in classes(e)] == [["edge", "taken"]]
    assert "<test>" in "".join(root.itertext())


def test_committed_svg_is_current() -> None:
    committed = (ROOT / "docs" / "state-diagram.svg").read_text()
    assert committed == render_state_diagram(), "docs/state-diagram.svg is stale: run `make docs`"
    tool = ROOT / "tools" / "gen_state_diagram.py"
    spec = importlib.util.spec_from_file_location("gen_state_diagram_svg", tool)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render_svg() == committed


def test_states_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "states.svg"
    assert main(["states", "--demo", "--seed", "2", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert f"wrote the state diagram to {out}" in stdout
    assert "  client: CLOSED → SYN-SENT → ESTABLISHED" in stdout
    root = ET.fromstring(out.read_bytes())
    assert len([e for e in edges(root) if "taken" in classes(e)]) == 12
    assert main(["states"]) == 0
    assert capsys.readouterr().out == render_state_diagram()
