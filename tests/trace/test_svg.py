"""The SVG ladder: valid XML, one arrow per segment with its label and tooltip,
losses and drops marked, states on both sides, long idle gaps compressed."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from render_helpers import demo_trace, lossy_trace, lost_count
from test_ladder import CLIENT, MS, SERVER, handshake_trace, network_trace, single_host_trace

from synack.tcp.state import State
from synack.trace.model import Entry
from synack.trace.records import (
    DropReason,
    PacketTransmitted,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.trace.svg import render_svg
from synack.wire.tcp import Segment, TcpFlags

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode())


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{{{NS['svg']}}}g") if cls in g.get("class", "").split()]


def texts(root: ET.Element, cls: str) -> list[str]:
    """The visible text of the <text> elements of a class (tooltips left out)."""
    found = []
    for element in root.iter(f"{{{NS['svg']}}}text"):
        if cls in element.get("class", "").split():
            found.append(own_text(element).strip())
    return found


def own_text(element: ET.Element) -> str:
    """An element's text without its <title> tooltip."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def shaft(arrow: ET.Element) -> tuple[float, float, float, float]:
    line = next(e for e in arrow if e.get("class") == "shaft")
    return tuple(float(line.get(name, "nan")) for name in ("x1", "y1", "x2", "y2"))  # type: ignore[return-value]


def test_demo_svg_is_xml_with_one_arrow_per_segment() -> None:
    trace = demo_trace()
    text = render_svg(trace, "client", "server", title="the lifecycle demo")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    root = parse(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert float(root.get("width", 0)) <= 1200  # fits a 1200-pixel window
    sent = sum(isinstance(entry.record, PacketTransmitted) for entry in trace)
    arrows = groups(root, "arrow")
    assert len(arrows) == sent == 9
    labels = texts(root, "label")
    assert len(labels) == 9
    assert labels[0] == f"SYN seq=0 ({_syn_seq(trace)}) win=65535"
    assert labels[5].startswith("FIN,ACK seq=19 (")
    assert all(re.search(r"seq=\d+ \(\d+\)", label) for label in labels)  # relative (absolute)
    assert [g.get("data-index") for g in arrows] == [str(i) for i in range(9)]
    for arrow in arrows:
        title = arrow.find("svg:title", NS)
        assert title is not None and "flags " in (title.text or "")
        _, y1, _, y2 = shaft(arrow)
        assert y2 > y1  # sloped by the time in flight
    tooltip = arrows[0].find("svg:title", NS)
    assert tooltip is not None and tooltip.text is not None
    assert "options <mss 1460,sackOK,ts" in tooltip.text
    assert "client: CLOSED → SYN-SENT (active OPEN)" in tooltip.text
    assert "server: LISTEN → SYN-RECEIVED (rcv SYN)" in tooltip.text
    # state names where they change, on the side they changed on
    state_changes = sum(isinstance(entry.record, StateChanged) for entry in trace)
    assert len(texts(root, "state")) == state_changes + 2  # plus both initial states
    assert "TIME-WAIT" in texts(root, "state") and "CLOSE-WAIT" in texts(root, "state")
    calls = [entry.record.call for entry in trace if isinstance(entry.record, UserCall)]
    assert sorted(texts(root, "call")) == sorted(calls)
    assert "listen(192.0.2.2:80)" in calls and "connect()" in calls and "close()" in calls
    timers = [entry.record.timer for entry in trace if isinstance(entry.record, TimerFired)]
    assert sorted(texts(root, "timer")) == sorted(f"timer: {timer}" for timer in timers)
    assert texts(root, "host") == ["client", "server"]
    assert texts(root, "title") == ["the lifecycle demo"]
    # TIME-WAIT's 60 s are compressed and marked
    gap = re.compile(r"⋯ 59\.\d{3} s later \(time axis compressed\) ⋯")
    assert [text for text in texts(root, "gap") if gap.fullmatch(text)] != []
    assert float(root.get("height", 0)) < 1500
    assert "<script" not in text and "href" not in text and "@import" not in text


def _syn_seq(trace: Iterable[Entry]) -> int:
    return next(r.segment.seq for _, r in trace if isinstance(r, SegmentSent))


def test_arrows_go_down_in_time_order() -> None:
    root = parse(render_svg(demo_trace(), "client", "server"))
    starts = [shaft(arrow)[1] for arrow in groups(root, "arrow")]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)  # two sends at the same instant get two rows


def test_lost_segment_stops_in_a_cross() -> None:
    trace = lossy_trace()
    root = parse(render_svg(trace, "client", "server"))
    delivered = [g for g in groups(root, "arrow") if "lost" not in g.get("class", "")]
    full = max(abs(shaft(g)[2] - shaft(g)[0]) for g in delivered)
    lost = groups(root, "lost")
    assert len(lost) == lost_count(trace) > 0
    for arrow in lost:
        assert arrow.find("svg:path[@class='cross']", NS) is not None
        assert arrow.find("svg:polygon", NS) is None  # no arrowhead
        x1, _, x2, _ = shaft(arrow)
        assert abs(x2 - x1) < 0.8 * full  # stops short of the receiver
        tooltip = arrow.find("svg:title", NS)
        assert tooltip is not None and "lost in the network (loss)" in (tooltip.text or "")
    assert texts(root, "fate") == ["lost"] * len(lost)


def test_network_trace_marks_every_fate() -> None:
    root = parse(render_svg(network_trace(), "client", "server"))
    arrows = groups(root, "arrow")
    assert len(arrows) == 4
    assert texts(root, "fate") == ["lost (queue full)"]
    assert len(groups(root, "retransmission")) == 1
    (corrupted,) = groups(root, "corrupted")
    assert corrupted in groups(root, "dropped")  # the receiver's checksum drop, at its end
    assert corrupted.find("svg:path[@class='cross']", NS) is not None
    assert "✕ bad checksum" in texts(root, "drop")
    duplicated = [label for label in texts(root, "label") if "(duplicated)" in label]
    assert len(duplicated) == 1
    assert "not one of the two hosts" not in "".join(root.itertext())


def test_receiver_drop_is_marked_with_the_reason() -> None:
    data = Segment(40000, 80, 4294967001, 1001, TcpFlags.PSH | TcpFlags.ACK, 65535, payload=b"x")
    trace = [
        *handshake_trace(),
        ("client", SegmentSent(40 * MS, CLIENT, data)),
        ("server", SegmentReceived(50 * MS, SERVER, data)),
        ("server", SegmentDropped(50 * MS, SERVER, data, DropReason.RECEIVE_BUFFER_FULL)),
    ]
    root = parse(render_svg(trace, "client", "server"))
    (dropped,) = groups(root, "dropped")
    assert dropped.find("svg:path[@class='cross']", NS) is not None
    assert "✕ no room in the receive buffer" in texts(root, "drop")
    tooltip = dropped.find("svg:title", NS)
    assert tooltip is not None
    assert "dropped by server: no room in the receive buffer" in (tooltip.text or "")


def test_traces_without_network_records() -> None:
    root = parse(render_svg(handshake_trace(), "client", "server", relative=False))
    assert len(groups(root, "arrow")) == 3
    assert texts(root, "label")[1] == "SYN,ACK seq=1000 ack=4294967001 win=65535"
    single = parse(render_svg(single_host_trace(), "client", "peer"))
    (inferred,) = groups(single, "inferred")
    _, y1, _, y2 = shaft(inferred)
    assert y2 > y1


def test_hostile_text_stays_valid_xml() -> None:
    odd = 'a<b>&"c\x00\x07\ud800'
    trace: list[Entry] = [
        (odd, UserCall(0, None, "call(<&>\x01)")),
        (odd, StateChanged(0, None, State.CLOSED, State.LISTEN, odd)),
        ("x" * 300, UserCall(5, None, "y" * 300)),
    ]
    root = parse(render_svg(trace, odd, "x" * 300, title=odd))
    assert texts(root, "host")[0] == 'a<b>&"c\ufffd\ufffd\ufffd'
    assert texts(root, "call")[0] == "call(<&>\ufffd)"
    long_note = texts(root, "call")[1]
    assert long_note.endswith("…") and len(long_note) < 60  # shortened; the tooltip has it all
    (element,) = [e for e in root.iter(f"{{{NS['svg']}}}text") if own_text(e) == long_note]
    assert "".join(element.itertext()).startswith("y" * 300)
    assert parse(render_svg([], "a", "b")).tag.endswith("svg")


def test_many_segments_render_quickly() -> None:
    trace: list[Entry] = []
    for i in range(3000):
        segment = Segment(40000, 80, i * 1000, 1, TcpFlags.ACK, 65535, payload=b"x" * 1000)
        trace.append(("client", SegmentSent(i * 100, CLIENT, segment)))
        trace.append(("server", SegmentReceived(i * 100 + 5000, SERVER, segment)))
    started = time.perf_counter()
    root = parse(render_svg(trace, "client", "server"))
    assert time.perf_counter() - started < 10
    assert len(groups(root, "arrow")) == 3000


def test_segment_in_flight_at_the_end_stays_on_the_canvas() -> None:
    segment = Segment(40000, 80, 1, 1, TcpFlags.ACK, 100)
    root = parse(render_svg([("client", SegmentSent(0, CLIENT, segment))], "client", "server"))
    (arrow,) = groups(root, "arrow")
    _, y1, _, y2 = shaft(arrow)
    assert y1 < y2 < float(root.get("height", 0))
    assert arrow.find("svg:polygon", NS) is not None  # drawn as arriving, when unknown
