"""One entry point for every format, and `synack demo --format ... --out ...`."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from ipaddress import ip_address
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from render_helpers import demo_trace

from synack.cli import main
from synack.tcp.state import State
from synack.trace.ladder import render_ladder
from synack.trace.model import Entry, build_model
from synack.trace.pcap import wire_packets
from synack.trace.pcapng import read_pcapng, write_pcapng
from synack.trace.records import (
    DropReason,
    PacketDelivered,
    PacketLost,
    PacketTransmitted,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.trace.render import EXTENSIONS, FORMATS, render
from synack.trace.statediagram import render_state_diagram
from synack.wire.ip import Packet, encode_packet
from synack.wire.tcp import Segment, TcpFlags


def test_every_format() -> None:
    trace = demo_trace()
    assert FORMATS == ("text", "svg", "html", "mermaid")
    assert render(trace, "client", "server") == render_ladder(trace, "client", "server")
    assert render(trace, "client", "server", "text", width=80).count("\n") > 10
    ET.fromstring(render(trace, "client", "server", "svg", px_per_ms=2.0).encode())
    assert render(trace, "client", "server", "html").startswith("<!DOCTYPE html>")
    assert render(trace, "client", "server", "mermaid").startswith("sequenceDiagram\n")
    assert set(EXTENSIONS) == set(FORMATS)


def test_bad_format_or_option() -> None:
    with pytest.raises(ValueError, match="unknown format 'png'"):
        render([], "a", "b", "png")
    with pytest.raises(TypeError):
        render([], "a", "b", "mermaid", width=80)


@pytest.mark.parametrize("fmt", FORMATS)
def test_demo_writes_each_format(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"ladder{EXTENSIONS[fmt]}"
    assert main(["demo", "--format", fmt, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text == render(demo_trace(), "client", "server", fmt, relative=True, **_tty(fmt))
    stdout = capsys.readouterr().out
    assert f"wrote the {fmt} ladder to {out}" in stdout and "ok: " in stdout


def _tty(fmt: str) -> dict[str, object]:
    return {"width": None, "color": False} if fmt == "text" else {}


def test_document_on_stdout_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--format", "svg", "--absolute"]) == 0
    captured = capsys.readouterr()
    ET.fromstring(captured.out.encode())  # nothing but the document
    assert "ok: " in captured.err
    assert main(["demo"]) == 0  # the text ladder and its status lines, as before
    out = capsys.readouterr().out
    assert out.startswith("  time(ms)  client") and out.rstrip().endswith("both ends CLOSED")


# --- any trace at all: the renderers never crash -------------------------------------

_HOSTS = st.sampled_from(["client", "server", "other", None])
_C, _S = ip_address("10.0.0.1"), ip_address("10.0.0.2")


@st.composite
def _segments(draw: st.DrawFn) -> Segment:
    return Segment(
        draw(st.sampled_from([40000, 80])),
        draw(st.sampled_from([40000, 80])),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 2**32 - 1)),
        TcpFlags(draw(st.integers(0, 255))),
        draw(st.integers(0, 65535)),
        payload=draw(st.binary(max_size=20)),
    )


@st.composite
def _entries(draw: st.DrawFn) -> Entry:
    time = draw(st.integers(0, 10**8))
    conn = draw(st.sampled_from([(_C, 40000, _S, 80), (_S, 80, _C, 40000), None]))
    host = draw(_HOSTS)
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return host, SegmentSent(time, conn, draw(_segments()), draw(st.booleans()))
    if kind == 1:
        return host, SegmentReceived(time, conn, draw(_segments()))
    if kind == 2:
        segment = draw(st.none() | _segments())
        return host, SegmentDropped(time, conn, segment, draw(st.sampled_from(DropReason)))
    if kind == 3:
        old, new = draw(st.sampled_from(State)), draw(st.sampled_from(State))
        return host, StateChanged(time, conn, old, new, draw(st.text(max_size=10)))
    if kind == 4:
        return host, UserCall(time, conn, draw(st.text(max_size=30)))
    if kind == 5:
        return host, TimerFired(time, conn, draw(st.text(max_size=10)))
    packet = draw(
        st.sampled_from(
            [encode_packet(Packet(_C, _S, draw(_segments()))), draw(st.binary(max_size=60))]
        )
    )
    src, dst = draw(st.sampled_from(["client", "server"])), draw(_HOSTS)
    packet_id = draw(st.integers(1, 5))
    if kind == 6:
        return None, PacketTransmitted(time, conn, packet_id, src, dst, packet)
    if kind == 7:
        return None, PacketDelivered(time, conn, packet_id, src, dst, packet, time - 5)
    return None, PacketLost(time, conn, packet_id, src, dst, packet, "loss")


@settings(max_examples=150, deadline=None)
@given(st.lists(_entries(), max_size=25))
def test_any_trace_renders(trace: list[Entry]) -> None:
    for fmt in FORMATS:
        text = render(trace, "client", "server", fmt)
        if fmt == "svg":
            ET.fromstring(text.encode())
    svg = render(trace, "client", "server", "svg")
    assert svg.count('class="arrow ') == len(build_model(trace, "client", "server").arrows)
    data = io.BytesIO()
    count = write_pcapng(data, trace)
    assert len(read_pcapng(data.getvalue())) == count == len(wire_packets(trace))
    render_state_diagram(trace)
