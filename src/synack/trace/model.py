"""The ladder model: a two-host trace turned into arrows and side notes.

Every ladder renderer (terminal, SVG, HTML, Mermaid) and the pcapng writer's
packet comments read this one model, so they agree on which send became
which receipt, what was lost, and which state change each segment caused.

``build_model(trace, "client", "server")`` reads ``(host, record)`` pairs
(``TraceEntry``; ``None`` is the network's host) and gives:

- an ``Arrow`` per segment on the wire: sender, send time, arrival time (or
  the network's loss reason, or ``"not received"``), duplicates, corruption,
  retransmission, the stack's ``SegmentDropped`` record when the receiver
  dropped it, and the ``StateChanged`` records it caused;
- a ``Note`` per state change, user call, timer firing and drop, on the side
  of the host it happened on.

Pairing.  With network records, each arrow follows its datagram by
``packet_id`` (transmitted, duplicated, corrupted, lost, delivered); without
them (two stacks joined directly, or one host talking to a real peer) sends
are paired with the receiver's ``SegmentReceived``/``SegmentDropped`` by
their header fields, first in first out, and a receipt nobody sent in the
trace becomes an arrow from the other side that arrives when it was received
(``from_receipt``).

Causes.  A ``StateChanged`` at a host belongs to the segment that host
received just before at the same time (its receipt caused it: ``LISTEN ->
SYN-RECEIVED`` on a SYN); otherwise to the segment it sent just before or
next at the same time (``CLOSED -> SYN-SENT`` with the SYN, ``ESTABLISHED
-> FIN-WAIT-1`` with the FIN).  A user call or a timer firing starts a new
cause: ``close()`` after a receipt is not caused by that receipt.  In a
trace with network records the ``PacketDelivered`` opens the receipt (the
receiving stack's records follow it at once), so a stack that records no
``SegmentReceived`` is still understood.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from synack.trace.records import (
    FourTuple,
    NetworkRecord,
    PacketCorrupted,
    PacketDelivered,
    PacketDuplicated,
    PacketLost,
    PacketTransmitted,
    Record,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.trace.summary import (
    format_conn,
    format_flags,
    format_options,
    format_segment,
    format_time,
    peek_headers,
    segment_from_packet,
    segment_key,
)
from synack.wire.tcp import Segment, TcpFlags

Entry = tuple[str | None, Record]
SegmentKey = tuple[int, int, int, int, int, int, int]

#: Arrow labels tried in turn until one fits: (absolute in parentheses, window, options).
LABEL_VARIANTS = (
    (True, True, True),
    (True, True, False),
    (False, True, True),
    (False, True, False),
    (False, False, False),
)


@dataclass(slots=True)
class Arrow:
    """One segment on the wire, from ``sender`` to ``receiver``.

    ``labels`` go from the most detailed to the shortest (see
    ``LABEL_VARIANTS``); ``style`` is ``"SYN"``, ``"FIN"``, ``"RST"`` or
    ``"data"``.  ``arrival`` is None while unknown (lost, or the receiver not
    traced); ``lost`` is the network's reason, or ``"not received"`` when
    both hosts were traced and the receiver never saw it.  ``order`` and
    ``arrival_order`` place the send and the arrival among the model's events
    (ties in time keep trace order).
    """

    time: int
    rightward: bool
    labels: tuple[str, ...]
    style: str
    sender: str
    receiver: str
    segment: Segment
    seq_base: int | None
    ack_base: int | None
    order: int
    conn: FourTuple | None = None
    arrival: int | None = None
    arrival_order: int | None = None
    lost: str | None = None
    duplicates: int = 0
    corrupted: bool = False
    retransmission: bool = False
    from_receipt: bool = False
    packet_id: int | None = None
    dropped: SegmentDropped | None = None
    sent: SegmentSent | None = None  # the sender's record, when it traced the send
    sender_states: list[StateChanged] = field(default_factory=list)
    receiver_states: list[StateChanged] = field(default_factory=list)

    def label(self, *, absolute: bool = True, window: bool = True, options: bool = True) -> str:
        """The segment's header as a label, relative numbers as the model was built."""
        return format_segment(
            self.segment,
            seq_base=self.seq_base,
            ack_base=self.ack_base,
            absolute=absolute,
            window=window,
            options=options,
        )

    def notes(self, *, compact: bool = False) -> list[str]:
        """What happened to it besides the header: retransmission, duplicates, corruption."""
        notes = []
        if self.retransmission:
            notes.append("rtx" if compact else "retransmission")
        if self.duplicates:
            notes.append("dup" if compact else "duplicated")
        if self.corrupted:
            notes.append("bad" if compact else "corrupted")
        return notes


@dataclass(slots=True)
class Note:
    """A state change, user call, timer firing or drop on one host's side.

    ``style`` is ``"state"``, ``"call"``, ``"timer"`` or ``"drop"``.
    """

    time: int
    left: bool
    text: str
    style: str
    host: str = ""
    order: int = 0
    record: Record | None = None


@dataclass(slots=True)
class LadderModel:
    """The arrows and notes of a two-host trace, in trace order (see the module docstring).

    ``first_state`` is each host's state before its first state change;
    ``by_packet`` maps every packet id (duplicates' copies included) to its arrow.
    """

    left: str
    right: str
    relative: bool
    items: list[Arrow | Note]
    first_state: dict[str, str]
    by_packet: dict[int, Arrow]

    @property
    def arrows(self) -> list[Arrow]:
        return [item for item in self.items if isinstance(item, Arrow)]

    @property
    def notes(self) -> list[Note]:
        return [item for item in self.items if isinstance(item, Note)]


def normalise(records: Iterable[Entry | Record]) -> list[Entry]:
    """``(host, record)`` pairs; a bare record gets the host ``""``."""
    entries: list[Entry] = []
    for item in records:
        if isinstance(item, Record):
            entries.append(("", item))
        else:
            entries.append((item[0], item[1]))
    return entries


def arrow_style(flags: TcpFlags) -> str:
    """``"RST"``, ``"SYN"``, ``"FIN"`` (first that is set, in that order) or ``"data"``."""
    if flags & TcpFlags.RST:
        return "RST"
    if flags & TcpFlags.SYN:
        return "SYN"
    if flags & TcpFlags.FIN:
        return "FIN"
    return "data"


def hosts_of(records: Iterable[Entry | Record]) -> list[str]:
    """The host names of a trace in order of first appearance (network records
    contribute their sending and receiving hosts)."""
    seen: dict[str, None] = {}
    for host, record in normalise(records):
        if isinstance(record, NetworkRecord):
            seen.setdefault(record.src_host)
            if record.dst_host is not None:
                seen.setdefault(record.dst_host)
        elif host:
            seen.setdefault(host)
    return list(seen)


def build_model(
    records: Iterable[Entry | Record], left: str, right: str, *, relative: bool = True
) -> LadderModel:
    """The ladder model of the exchange between hosts ``left`` and ``right``;
    records of other hosts are ignored.  ``relative`` makes labels show
    sequence numbers relative to each side's ISN (absolute in parentheses)."""
    builder = _Builder(left, right, relative)
    builder.build(normalise(records))
    return LadderModel(left, right, relative, builder.items, builder.first_state, builder.by_packet)


class _Builder:
    """Turns trace entries into notes and arrows (see the module docstring)."""

    def __init__(self, left: str, right: str, relative: bool) -> None:
        self.left = left
        self.right = right
        self.relative = relative
        self.items: list[Arrow | Note] = []
        self.order = 0
        self.isn: dict[tuple[str, int, int], int] = {}
        # sends waiting for their PacketTransmitted (by sender) or receipt (by receiver)
        self.unmatched: dict[str, defaultdict[SegmentKey, deque[Arrow]]] = {
            left: defaultdict(deque),
            right: defaultdict(deque),
        }
        self.by_packet: dict[int, Arrow] = {}
        self.first_state: dict[str, str] = {}
        self.last_arrival: dict[str, tuple[int, SegmentKey] | None] = {left: None, right: None}
        # cause tracking (see the module docstring), per host
        self.delivered: dict[str, tuple[int, Arrow]] = {}  # network mode: last delivery
        self.received: dict[str, tuple[int, Arrow | None]] = {}  # receipt context
        self.last_send: dict[str, Arrow] = {}
        self.pending: dict[str, list[StateChanged]] = {left: [], right: []}

    def other(self, host: str) -> str:
        return self.right if host == self.left else self.left

    def next_order(self) -> int:
        self.order += 1
        return self.order

    def arrow(self, time: int, sender: str, segment: Segment, retransmission: bool) -> Arrow:
        flags = segment.flags
        if flags & TcpFlags.SYN:
            self.isn[(sender, segment.src_port, segment.dst_port)] = segment.seq
        seq_base = ack_base = None
        if self.relative:
            seq_base = self.isn.get((sender, segment.src_port, segment.dst_port))
            ack_base = self.isn.get((self.other(sender), segment.dst_port, segment.src_port))
        labels = tuple(
            dict.fromkeys(  # from the most detailed to the shortest, without repeats
                format_segment(
                    segment,
                    seq_base=seq_base,
                    ack_base=ack_base,
                    absolute=absolute,
                    window=window,
                    options=options,
                )
                for absolute, window, options in LABEL_VARIANTS
            )
        )
        arrow = Arrow(
            time=time,
            rightward=sender == self.left,
            labels=labels,
            style=arrow_style(flags),
            sender=sender,
            receiver=self.other(sender),
            segment=segment,
            seq_base=seq_base,
            ack_base=ack_base,
            order=self.next_order(),
            retransmission=retransmission,
        )
        self.items.append(arrow)
        return arrow

    def note(self, time: int, host: str, text: str, style: str, record: Record) -> None:
        self.items.append(
            Note(time, host == self.left, text, style, host, self.next_order(), record)
        )

    def arrived(self, arrow: Arrow, time: int) -> None:
        arrow.arrival = time
        arrow.arrival_order = self.next_order()

    def build(self, entries: list[Entry]) -> None:
        pair = (self.left, self.right)
        # Network mode needs the transmissions: a trace made with
        # ``trace_packets=False`` is paired like one with no network records.
        with_network = any(isinstance(record, PacketTransmitted) for _, record in entries)
        for host, record in entries:
            if isinstance(record, NetworkRecord):
                if with_network and record.src_host in pair and record.dst_host in pair:
                    self.network(record)
            elif host in pair:
                assert host is not None
                self.host_record(host, record, with_network)
        if not with_network:
            # Both sides traced: a send the receiver never saw did not arrive.
            traced = {host for host, _ in entries}
            for receiver, queues in self.unmatched.items():
                if receiver in traced:
                    for waiting in queues.values():
                        for arrow in waiting:
                            arrow.lost = "not received"

    def host_record(self, host: str, record: Record, with_network: bool) -> None:
        time = record.time
        if isinstance(record, SegmentSent):
            arrow = self.arrow(time, host, record.segment, record.retransmission)
            arrow.conn = record.conn
            arrow.sent = record
            queue_owner = host if with_network else self.other(host)
            self.unmatched[queue_owner][segment_key(record.segment)].append(arrow)
            pending = self.pending[host]
            arrow.sender_states.extend(state for state in pending if state.time == time)
            pending.clear()
            self.last_send[host] = arrow
        elif isinstance(record, SegmentReceived | SegmentDropped):
            self.receipt(host, record, with_network)
        elif isinstance(record, StateChanged):
            self.first_state.setdefault(host, str(record.old))
            self.note(time, host, str(record.new), "state", record)
            self.attribute(host, record)
        elif isinstance(record, UserCall):
            self.new_cause(host)
            self.note(time, host, record.call, "call", record)
        elif isinstance(record, TimerFired):
            self.new_cause(host)
            self.note(time, host, f"timer: {record.timer}", "timer", record)

    def receipt(
        self, host: str, record: SegmentReceived | SegmentDropped, with_network: bool
    ) -> None:
        time = record.time
        arrival = (time, segment_key(record.segment)) if record.segment else None
        # A stack records SegmentReceived and then, if it drops it,
        # SegmentDropped for the same segment: one arrival, not two.
        repeated = isinstance(record, SegmentDropped) and arrival == self.last_arrival[host]
        self.last_arrival[host] = arrival
        arrow: Arrow | None = None
        if with_network:
            delivered = self.delivered.get(host)
            if delivered is not None and delivered[0] == time:
                arrow = delivered[1]
        elif repeated:
            context = self.received.get(host)
            arrow = context[1] if context is not None and context[0] == time else None
        elif record.segment is not None:
            waiting = self.unmatched[host].get(segment_key(record.segment))
            if waiting:
                # Identical copies (an original and its retransmission): the
                # latest is the likeliest to arrive, its predecessor having
                # been lost or still being in flight.
                arrow = waiting.pop()
                self.arrived(arrow, time)
            elif isinstance(record, SegmentReceived):
                arrow = self.arrow(time, self.other(host), record.segment, False)
                arrow.from_receipt = True
                arrow.arrival, arrow.arrival_order = time, arrow.order
                if record.conn is not None:
                    local, local_port, remote, remote_port = record.conn
                    arrow.conn = (remote, remote_port, local, local_port)
        if not repeated:
            self.new_cause(host)
            self.received[host] = (time, arrow)
        if isinstance(record, SegmentDropped):
            if arrow is not None and arrow.dropped is None:
                arrow.dropped = record
            detail = f" ({record.detail})" if record.detail else ""
            self.note(time, host, f"✕ {record.reason.value}{detail}", "drop", record)

    def new_cause(self, host: str) -> None:
        """A receipt, user call or timer: later state changes are not the previous cause's."""
        self.received.pop(host, None)
        self.last_send.pop(host, None)
        self.pending[host].clear()

    def attribute(self, host: str, record: StateChanged) -> None:
        """Give a state change to the segment that caused it (module docstring)."""
        time = record.time
        received = self.received.get(host)
        if received is not None and received[0] == time:
            if received[1] is not None:
                received[1].receiver_states.append(record)
            return
        sent = self.last_send.get(host)
        if sent is not None and sent.time == time:
            sent.sender_states.append(record)
            return
        self.pending[host].append(record)

    def network(self, record: NetworkRecord) -> None:
        if isinstance(record, PacketTransmitted):
            headers = peek_headers(record.packet)
            if headers is None or headers.tcp is None:
                return
            waiting = self.unmatched[record.src_host].get(headers.tcp.key)
            if waiting:
                arrow = waiting.popleft()
            else:  # the sender traced nothing: draw it from the bytes
                segment = segment_from_packet(record.packet)
                assert segment is not None
                arrow = self.arrow(record.time, record.src_host, segment, False)
            if arrow.conn is None:
                arrow.conn = headers.conn
            arrow.packet_id = record.packet_id
            self.by_packet[record.packet_id] = arrow
            return
        found = self.by_packet.get(record.packet_id)
        if found is None:
            return
        if isinstance(record, PacketLost):
            found.lost = record.reason
        elif isinstance(record, PacketDuplicated):
            found.duplicates += 1
            self.by_packet[record.copy_id] = found
        elif isinstance(record, PacketCorrupted):
            found.corrupted = True
        elif isinstance(record, PacketDelivered):
            if found.arrival is None:
                self.arrived(found, record.time)
            if record.dst_host is not None:
                # the receiving stack's records (if it keeps any) follow at once
                self.delivered[record.dst_host] = (record.time, found)
                self.new_cause(record.dst_host)
                self.received[record.dst_host] = (record.time, found)


def arrow_details(arrow: Arrow) -> list[str]:
    """The full header and fate of an arrow, one fact per line (for tooltips)."""
    segment = arrow.segment
    when = f"{arrow.sender} → {arrow.receiver}, sent at {format_time(arrow.time)} ms"
    if arrow.from_receipt:
        when = f"{arrow.sender} → {arrow.receiver}, received at {format_time(arrow.time)} ms"
    elif arrow.arrival is not None:
        flight = format_time(arrow.arrival - arrow.time)
        when += f", arrived at {format_time(arrow.arrival)} ms ({flight} ms in flight)"
    lines = [when]
    if arrow.conn is not None:
        lines.append(format_conn(arrow.conn).replace(" > ", " → "))
    lines.append(f"flags {format_flags(segment.flags)}")
    lines.append(f"seq {_number(segment.seq, arrow.seq_base)}")
    if segment.flags & TcpFlags.ACK:
        lines.append(f"ack {_number(segment.ack, arrow.ack_base)}")
    else:
        lines.append(f"ack field {segment.ack} (ACK bit off)")
    lines.append(f"window {segment.window}")
    lines.append(f"payload {len(segment.payload)} octets (SEG.LEN {segment.seg_len})")
    if segment.flags & TcpFlags.URG or segment.urgent:
        lines.append(f"urgent pointer {segment.urgent}")
    options = format_options(segment.options)
    if options:
        lines.append(f"options {options}")
    notes = arrow.notes()
    if notes:
        lines.append(", ".join(notes))
    if arrow.lost == "not received":
        lines.append(f"never received by {arrow.receiver}")
    elif arrow.lost is not None:
        lines.append(f"lost in the network ({arrow.lost})")
    if arrow.dropped is not None:
        detail = f" ({arrow.dropped.detail})" if arrow.dropped.detail else ""
        lines.append(f"dropped by {arrow.receiver}: {arrow.dropped.reason.value}{detail}")
    causes = ((arrow.sender, arrow.sender_states), (arrow.receiver, arrow.receiver_states))
    for host, states in causes:
        lines += [f"{host}: {s.old} → {s.new} ({s.cause})" for s in states]
    return lines


def format_duration(micros: int) -> str:
    """``"59.990 s"`` from one second up, else ``"250.000 ms"``."""
    if micros >= 1_000_000:
        return f"{format_time(micros // 1000)} s"
    return f"{format_time(micros)} ms"


def _number(value: int, base: int | None) -> str:
    if base is None:
        return str(value)
    return f"{value} (relative {(value - base) & 0xFFFFFFFF})"
