"""The shared ladder model: pairing, fates and which segment caused which state change."""

from __future__ import annotations

from render_helpers import demo_trace, lossy_trace, lost_count
from test_ladder import CLIENT, MS, SERVER, handshake_trace, network_trace, single_host_trace

from synack.tcp.state import State
from synack.trace.model import Arrow, arrow_details, build_model, format_duration, hosts_of
from synack.trace.records import (
    DropReason,
    SegmentDropped,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.wire.tcp import Segment, TcpFlags


def states(changes: list[StateChanged]) -> list[str]:
    return [f"{change.old}->{change.new}" for change in changes]


def test_lifecycle_demo_causes() -> None:
    model = build_model(demo_trace(), "client", "server")
    arrows = model.arrows
    assert [arrow.labels[-1].split()[0] for arrow in arrows] == [
        "SYN", "SYN,ACK", "ACK", "PSH,ACK", "PSH,ACK", "FIN,ACK", "ACK", "FIN,ACK", "ACK",
    ]  # fmt: skip
    assert all(arrow.arrival == arrow.time + 10 * MS for arrow in arrows)
    assert [arrow.packet_id for arrow in arrows] == list(range(1, 10))
    causes = [(states(a.sender_states), states(a.receiver_states)) for a in arrows]
    assert causes == [
        # The SYN creates the server's child TCB: CLOSED -> LISTEN -> SYN-RECEIVED.
        (["CLOSED->SYN-SENT"], ["CLOSED->LISTEN", "LISTEN->SYN-RECEIVED"]),
        ([], ["SYN-SENT->ESTABLISHED"]),
        ([], ["SYN-RECEIVED->ESTABLISHED"]),
        ([], []),
        ([], []),
        (["ESTABLISHED->FIN-WAIT-1"], ["ESTABLISHED->CLOSE-WAIT"]),
        ([], ["FIN-WAIT-1->FIN-WAIT-2"]),
        (["CLOSE-WAIT->LAST-ACK"], ["FIN-WAIT-2->TIME-WAIT"]),
        ([], ["LAST-ACK->CLOSED"]),
    ]
    assert model.first_state == {"client": "CLOSED", "server": "CLOSED"}
    # the TIME-WAIT expiry is the timer's, not a segment's
    assert not any("TIME-WAIT->CLOSED" in states(a.receiver_states) for a in arrows)


def test_loss_in_the_network() -> None:
    trace = lossy_trace()
    model = build_model(trace, "client", "server")
    lost = [arrow for arrow in model.arrows if arrow.lost is not None]
    assert len(lost) == lost_count(trace) > 0
    for arrow in lost:
        assert arrow.lost == "loss" and arrow.arrival is None and arrow.receiver_states == []
    delivered = [arrow for arrow in model.arrows if arrow.lost is None]
    assert all(arrow.arrival is not None for arrow in delivered)
    # a change caused by a receipt belongs to the segment received, one made by
    # a user call that sends (OPEN, CLOSE) to the segment sent
    received = [id(change) for arrow in model.arrows for change in arrow.receiver_states]
    sent = [id(change) for arrow in model.arrows for change in arrow.sender_states]
    changes = [e.record for e in trace if isinstance(e.record, StateChanged)]
    for change in changes:
        if change.cause.startswith("rcv"):
            assert received.count(id(change)) == 1, change
        elif change.cause in ("active OPEN", "CLOSE") and change.new is not State.CLOSED:
            assert sent.count(id(change)) == 1, change


def test_network_fates_and_drops() -> None:
    model = build_model(network_trace(), "client", "server")
    syn, again, synack, ack = model.arrows
    assert syn.lost == "queue full" and again.retransmission and again.arrival == 1011 * MS
    assert synack.duplicates == 1 and model.by_packet[4] is synack
    assert ack.corrupted and ack.dropped is not None
    assert ack.dropped.reason is DropReason.BAD_CHECKSUM
    assert "dropped by server: bad checksum" in arrow_details(ack)
    assert states(again.receiver_states) == ["LISTEN->SYN-RECEIVED"]
    assert states(synack.receiver_states) == ["SYN-SENT->ESTABLISHED"]


def test_pairing_without_network_records() -> None:
    model = build_model(handshake_trace(), "client", "server")
    syn, synack, ack = model.arrows
    assert (syn.arrival, synack.arrival, ack.arrival) == (11 * MS, 21 * MS, 31 * MS)
    assert syn.sent is not None and syn.conn == CLIENT and synack.conn == SERVER
    assert states(syn.sender_states) == ["CLOSED->SYN-SENT"]
    assert states(syn.receiver_states) == ["LISTEN->SYN-RECEIVED"]
    assert states(ack.receiver_states) == ["SYN-RECEIVED->ESTABLISHED"]
    # the user call starts a new cause: listen() -> LISTEN belongs to no segment
    assert all("CLOSED->LISTEN" not in states(a.sender_states) for a in model.arrows)


def test_receipt_from_an_untraced_peer() -> None:
    model = build_model(single_host_trace(), "client", "peer")
    synack = next(arrow for arrow in model.arrows if arrow.sender == "peer")
    assert synack.from_receipt and synack.arrival == synack.time == 21 * MS
    assert synack.conn == SERVER  # the sender's view, turned round from the receiver's
    assert states(synack.receiver_states) == ["SYN-SENT->ESTABLISHED"]
    assert "received at 21.000 ms" in arrow_details(synack)[0]


def test_state_change_after_a_send_and_after_a_timer() -> None:
    rst = Segment(40000, 80, 5, 0, TcpFlags.RST, 0)
    trace = [
        ("client", UserCall(5 * MS, CLIENT, "abort()")),
        ("client", SegmentSent(5 * MS, CLIENT, rst)),
        ("client", StateChanged(5 * MS, CLIENT, State.ESTABLISHED, State.CLOSED, "ABORT")),
        ("client", TimerFired(9 * MS, CLIENT, "user timeout")),
        ("client", StateChanged(9 * MS, CLIENT, State.CLOSED, State.CLOSED, "noop")),
    ]
    (arrow,) = build_model(trace, "client", "server").arrows
    assert states(arrow.sender_states) == ["ESTABLISHED->CLOSED"]


def test_drop_without_a_segment_is_a_note_only() -> None:
    trace = [("server", SegmentDropped(1, None, None, DropReason.MALFORMED, "short"))]
    model = build_model(trace, "client", "server")
    assert model.arrows == [] and model.notes[0].text == "✕ malformed packet (short)"


def test_hosts_and_helpers() -> None:
    assert hosts_of(network_trace()) == ["client", "server", "elsewhere"]
    assert hosts_of([SegmentSent(0, None, Segment(1, 2, 0, 0, TcpFlags.SYN, 0))]) == []
    assert format_duration(59_990_000) == "59.990 s"
    assert format_duration(250_000) == "250.000 ms"
    arrow = build_model(handshake_trace(), "client", "server").arrows[0]
    assert isinstance(arrow, Arrow)
    details = arrow_details(arrow)
    assert details[0] == (
        "client → server, sent at 1.000 ms, arrived at 11.000 ms (10.000 ms in flight)"
    )
    assert "10.0.0.1:40000 → 10.0.0.2:80" in details
    assert "seq 4294967000 (relative 0)" in details
    assert "ack field 0 (ACK bit off)" in details
    assert "options <mss 1460,ws 7,sackOK>" in details
