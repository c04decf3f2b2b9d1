"""Commentary for a trace: one short line per step, tied to the trace's events.

``narrate(part, lang)`` reads the ladder model of a scenario part (the same
``synack.trace.model`` every renderer draws) and gives ``Step``s in time
order: a segment sent ("the client sends SYN: seq=0, its initial sequence
number (ISN 2099401449)"), a segment arriving that changes the receiver's
state ("the ACK reaches the server: ESTABLISHED"), a call or a timer with no
segment of its own ("2*MSL in TIME-WAIT are over"), and what the
applications observed.  Each step has a ``kind`` (the keys of
``synack.scenarios.catalog.STEPS``, or ``"app"`` for an observation) that the
scenario's ``Remark``s select to replace a line with their own or add one.

Numbers are given as the ladder shows them: relative to each side's ISN
unless ``relative=False``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from synack.scenarios.catalog import PIECES, STEPS, drop_reason
from synack.scenarios.lab import Observation, Part, Remark
from synack.scenarios.text import host_name
from synack.trace.model import Arrow, LadderModel, Note, build_model, format_duration
from synack.trace.records import DropReason, SegmentDropped, StateChanged, UserCall
from synack.wire.tcp import Sack, TcpFlags

MASK = 0xFFFFFFFF
_SYN, _ACK, _FIN, _RST = (
    int(flag) for flag in (TcpFlags.SYN, TcpFlags.ACK, TcpFlags.FIN, TcpFlags.RST)
)

#: States a FIN goes with (close() or shutdown() moved the connection there).
_FIN_STATES = frozenset({"FIN-WAIT-1", "LAST-ACK"})

#: Drops after which a host's RST is its answer to a segment nobody wants.
_REPLY_DROPS = frozenset(
    {
        DropReason.NO_SOCKET,
        DropReason.CLOSED,
        DropReason.LISTEN_ACK,
        DropReason.SYN_SENT_BAD_ACK,
        DropReason.SYN_RECEIVED_BAD_ACK,
    }
)


@dataclass(slots=True)
class Step:
    """One commentary line: at ``time`` (microseconds), about ``host``."""

    time: int
    order: int  # place among the steps at the same time (the trace's order)
    kind: str
    host: str
    params: dict[str, Any] = field(default_factory=dict)
    text: str = ""


def narrate(part: Part, lang: str, *, relative: bool = True, quiet_after: int = 0) -> list[Step]:
    """The commentary of ``part`` in ``lang``, with the scenario's remarks applied.

    ``quiet_after`` (0: never) leaves out ordinary data segments and ACKs of a
    host after that many of each (a bulk transfer would otherwise get a line per
    segment); lost, dropped and retransmitted segments are always told.
    """
    model = build_model(part.trace, part.left, part.right, relative=relative)
    narrator = _Narrator(model, lang, quiet_after)
    steps = narrator.run(part.observations)
    return apply_remarks(steps, part.remarks, lang)


def apply_remarks(steps: list[Step], remarks: Iterable[Remark], lang: str) -> list[Step]:
    """Replace or follow the steps the remarks select (see ``Remark``)."""
    result = list(steps)
    for remark in remarks:
        seen = 0
        for index, step in enumerate(result):
            if step.kind != remark.kind or (remark.host and step.host != remark.host):
                continue
            if remark.where is not None and not remark.where(step.params):
                continue
            seen += 1
            if seen != remark.nth:
                continue
            text = remark.text(lang, **step.params)
            if remark.after:
                extra = Step(step.time, step.order, "remark", step.host, dict(step.params), text)
                result.insert(index + 1, extra)
            else:
                step.text = text
            break
    return result


class _Narrator:
    """Walks the model's events in time order, keeping what each line needs."""

    def __init__(self, model: LadderModel, lang: str, quiet_after: int) -> None:
        self.model = model
        self.lang = lang
        self.quiet_after = quiet_after
        self.steps: list[Step] = []
        self.state: dict[str, str] = dict(model.first_state)
        self.state_since: dict[str, int] = {}
        self.last_active: dict[str, int] = {}
        self.isn: dict[str, int] = {}  # absolute ISN by sender
        self.fin: dict[str, int] = {}  # absolute number of each sender's FIN
        self.acked_syn: set[str] = set()
        self.acked_fin: set[str] = set()
        self.last_ack: dict[str, int] = {}
        self.dupacks: dict[str, int] = defaultdict(int)
        self.sent_end: dict[str, int] = {}  # the highest data octet each sender sent, plus one
        self.rto_retransmitted: set[tuple[str, int]] = set()
        self.last_sent: dict[tuple[str, int], int] = {}  # (sender, seq) -> time
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        self.pending_states: dict[tuple[str, int], list[StateChanged]] = defaultdict(list)
        self.pending_call: dict[tuple[str, int], str] = {}
        self.called: set[tuple[str, int]] = set()  # (host, time) of every user call
        # what happens at each (host, time): sends (by order), calls, timers, drops, states
        self.sends: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.fin_sends: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.control_sends: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.timers: dict[tuple[str, int], list[str]] = defaultdict(list)
        self.drops: dict[tuple[str, int], list[DropReason]] = defaultdict(list)
        self.closing: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.attributed: set[int] = set()
        for arrow in model.arrows:
            if not arrow.from_receipt:
                self.sends[(arrow.sender, arrow.time)].append(arrow.order)
                if int(arrow.segment.flags) & _FIN:
                    self.fin_sends[(arrow.sender, arrow.time)].append(arrow.order)
                if int(arrow.segment.flags) & (_SYN | _FIN | _RST):
                    self.control_sends[(arrow.sender, arrow.time)].append(arrow.order)
            for state in (*arrow.sender_states, *arrow.receiver_states):
                self.attributed.add(id(state))
        for note in model.notes:
            key = (note.host, note.time)
            record = note.record
            if note.style == "timer":
                self.timers[key].append(note.text.removeprefix("timer: "))
            elif isinstance(record, SegmentDropped):
                self.drops[key].append(record.reason)
            elif isinstance(record, StateChanged) and str(record.new) == "CLOSED":
                self.closing[key].append(note.order)

    # --- helpers ----------------------------------------------------------------------

    def names(self, host: str) -> dict[str, Any]:
        other = self.model.right if host == self.model.left else self.model.left
        return {"who": host_name(host, self.lang), "peer": host_name(other, self.lang)}

    def add(self, time: int, order: int, kind: str, host: str, **params: Any) -> Step:
        params = {**self.names(host), **params}
        text = STEPS[kind](self.lang, **params)
        step = Step(time, order, kind, host, params, text)
        self.steps.append(step)
        return step

    def piece(self, name: str, **params: Any) -> str:
        return PIECES[name](self.lang, **params)

    def fin_follows(self, host: str, time: int, order: int) -> bool:
        return any(other > order for other in self.fin_sends.get((host, time), ()))

    def sends_after(self, host: str, time: int, order: int) -> bool:
        return any(other > order for other in self.sends.get((host, time), ()))

    @staticmethod
    def states_text(states: Iterable[StateChanged]) -> str:
        return " → ".join(str(state.new) for state in states)

    # --- the walk -----------------------------------------------------------------------

    def run(self, observations: Iterable[Observation]) -> list[Step]:
        events: list[tuple[int, int, int, Arrow | Note | Observation]] = []
        for element in self.model.items:
            if isinstance(element, Arrow):
                if not element.from_receipt:
                    events.append((element.time, element.order, 0, element))
                if element.arrival is not None and element.arrival_order is not None:
                    events.append((element.arrival, element.arrival_order, 1, element))
            else:
                events.append((element.time, element.order, 0, element))
        base = 1 << 40  # observations come after the trace's events at the same time
        for index, observation in enumerate(observations):
            events.append((observation.time, base + index, 0, observation))
        events.sort(key=lambda event: (event[0], event[1], event[2]))
        for time, order, arriving, item in events:
            if isinstance(item, Observation):
                params = {**self.names(item.host), **item.params}
                text = item.text(self.lang, **params)
                self.steps.append(Step(time, order, "app", item.host, params, text))
            elif isinstance(item, Note):
                self.note(item)
            elif arriving:
                self.arrive(item, time, order)
            else:
                self.send(item)
        return self.steps

    def note(self, note: Note) -> None:
        host, time, record = note.host, note.time, note.record
        key = (host, time)
        if isinstance(record, StateChanged):
            # told already by its segment, its call or its timer's line?
            told = key in self.timers or key in self.called or id(record) in self.attributed
            if not told:
                self.add(
                    time,
                    note.order,
                    "state",
                    host,
                    states=f"{record.old} → {record.new}",
                    cause=record.cause,
                )
            self.state[host] = str(record.new)
            self.state_since[host] = time
            return
        if isinstance(record, UserCall):
            call = record.call
            self.called.add(key)
            if call.startswith("listen("):
                self.add(time, note.order, "listen", host, where=call[len("listen(") : -1])
            elif any(order > note.order for order in self.control_sends.get(key, ())):
                self.pending_call[key] = call  # told with the SYN, FIN or RST it sends
            elif any(order > note.order for order in self.closing.get(key, ())):
                old = self.state.get(host, "CLOSED")
                self.add(time, note.order, "call-closed", host, call=call, old=old)
            else:
                self.add(time, note.order, "call", host, call=call)
            return
        if note.style == "timer":
            timer = note.text.removeprefix("timer: ")
            waited = format_duration(time - self.last_active.get(host, time))
            if timer == "TIME-WAIT 2MSL":
                self.add(time, note.order, "timewait-over", host, waited=waited)
            elif timer == "FIN-WAIT-2 timeout":
                since = format_duration(time - self.state_since.get(host, time))
                self.add(time, note.order, "finwait2-timeout", host, waited=since)
            elif not self.sends_after(host, time, note.order):
                self.add(time, note.order, "timer", host, timer=timer)

    def arrive(self, arrow: Arrow, time: int, order: int) -> None:
        host = arrow.receiver
        self.last_active[host] = time
        states = [state for state in arrow.receiver_states if id(state) in self.attributed]
        if not states:
            return
        if self.sends_after(host, time, order):
            self.pending_states[(host, time)].extend(states)
            return
        self.add(
            time,
            order,
            "arrival",
            host,
            what=self.what(arrow),
            segment=self.what(arrow, lang="en").strip(),  # for remarks, in any language
            states=self.states_text(states),
        )

    def what(self, arrow: Arrow, lang: str | None = None) -> str:
        """The segment's short name ("SYN,ACK", "data"); in Chinese a protocol word
        is followed by a blank, as Chinese typesetting spaces Latin words."""
        flags = int(arrow.segment.flags)
        if flags & _RST:
            name = "RST"
        elif flags & _SYN:
            name = "SYN,ACK" if flags & _ACK else "SYN"
        elif flags & _FIN:
            name = "FIN"
        elif arrow.segment.payload:
            return PIECES["data"](lang or self.lang)
        else:
            name = "ACK"
        return f"{name} " if (lang or self.lang) == "zh" else name

    def number(self, value: int, base: int | None) -> int:
        return (value - base) & MASK if base is not None else value

    def send(self, arrow: Arrow) -> None:
        host, peer, time = arrow.sender, arrow.receiver, arrow.time
        self.last_active[host] = time
        segment = arrow.segment
        flags = int(segment.flags)
        length = len(segment.payload)
        seq_abs, ack_abs = segment.seq, segment.ack
        params: dict[str, Any] = {
            "seq": self.number(seq_abs, arrow.seq_base),
            "ack": self.number(ack_abs, arrow.ack_base),
            "isn": seq_abs,
            "length": length,
            "end": self.number((seq_abs + length) & MASK, arrow.seq_base),
            "call": "",
            "delayed": "",
            "sack": "",
            "flight": format_duration(arrow.arrival - time) if arrow.arrival is not None else "",
        }
        key = (host, time)
        call = self.pending_call.pop(key, None) if flags & (_SYN | _FIN | _RST) else None
        if call is not None:
            params["call"] = self.piece("call", call=call)
        timers = self.timers.get(key, [])
        kind = self.classify(arrow, flags, length, seq_abs, ack_abs, timers, params)
        quiet = kind in ("data", "ack") or (kind == "dupack" and params["n"] > 3)
        if self.quiet_after and quiet and not (arrow.lost or arrow.dropped):
            self.counts[(host, kind)] += 1
            if self.counts[(host, kind)] > self.quiet_after or kind == "dupack":
                self.pending_states.pop(key, None)
                return
        step = self.add(time, arrow.order, kind, host, **params)
        if arrow.lost is not None:
            step.text += self.piece("lost")
        elif arrow.dropped is not None and arrow.dropped.reason not in _REPLY_DROPS:
            # (a drop answered with a RST is told by the RST's own line)
            reason = drop_reason(arrow.dropped.reason, self.lang)
            peer = capitalised(step.params["peer"])
            step.text += self.piece("dropped", peer=peer, reason=reason)
        states = self.pending_states.pop(key, []) + list(arrow.sender_states)
        if not flags & _FIN and self.fin_follows(host, time, arrow.order):
            # close() or shutdown() changed the state; its FIN, sent next, tells it
            closing = [state for state in states if str(state.new) in _FIN_STATES]
            states = [state for state in states if str(state.new) not in _FIN_STATES]
            self.pending_states[key].extend(closing)
        if states:
            who = capitalised(step.params["who"])
            step.text += self.piece("states", who=who, state=str(states[-1].new))

    def classify(
        self,
        arrow: Arrow,
        flags: int,
        length: int,
        seq_abs: int,
        ack_abs: int,
        timers: list[str],
        params: dict[str, Any],
    ) -> str:
        """The step kind of a segment sent, updating what later segments are judged by."""
        host, peer = arrow.sender, arrow.receiver
        if flags & _RST:
            causes = " ".join(state.cause for state in arrow.sender_states)
            if "ABORT" in causes:
                return "rst-abort"
            if "unread" in causes:
                return "rst-unread"
            if _REPLY_DROPS.intersection(self.drops.get((host, arrow.time), ())):
                return "rst-reply"
            return "rst"
        if flags & _SYN:
            self.isn[host] = seq_abs
            if flags & _ACK:
                if host in self.acked_syn:
                    return "synack-rtx"
                self.acked_syn.add(host)
                # A SYN,ACK re-sending the host's own SYN: a simultaneous open.
                return "synack-crossed" if arrow.retransmission else "synack"
            return "syn-rtx" if arrow.retransmission else "syn"
        if flags & _ACK:
            previous = self.last_ack.get(host)
            self.last_ack[host] = ack_abs
        else:
            previous = None
        if flags & _FIN:
            self.fin[host] = (seq_abs + length) & MASK
            if arrow.retransmission:
                return "fin-rtx"
            if length:
                self.sent_end[host] = (seq_abs + length) & MASK
                return "data-fin"
            peer_fin = self.fin.get(peer)
            first_ack = host not in self.acked_fin  # of the peer's FIN
            if first_ack and peer_fin is not None and ack_abs == (peer_fin + 1) & MASK:
                self.acked_fin.add(host)
                return "fin-ack-fin"
            return "fin"
        if length:
            end = (seq_abs + length) & MASK
            if not arrow.retransmission:
                self.sent_end[host] = end
                self.last_sent[(host, seq_abs)] = arrow.time
                return "data"
            waited = arrow.time - self.last_sent.get((host, seq_abs), arrow.time)
            self.last_sent[(host, seq_abs)] = arrow.time
            params["waited"] = format_duration(waited)
            if "RTO" in timers:
                if (host, seq_abs) in self.rto_retransmitted:
                    return "data-rtx-backoff"
                self.rto_retransmitted.add((host, seq_abs))
                return "data-rtx-rto"
            return "data-rtx-fast" if self.dupacks[peer] >= 3 else "data-rtx"
        # a segment with no data, SYN or FIN: an acknowledgment
        peer_isn = self.isn.get(peer)
        if peer_isn is not None and ack_abs == (peer_isn + 1) & MASK and peer not in self.sent_end:
            if host in self.acked_syn:
                return "handshake-ack-again"  # a repeated SYN,ACK (its ACK was lost)
            self.acked_syn.add(host)
            return "handshake-ack"
        peer_fin = self.fin.get(peer)
        if peer_fin is not None and ack_abs == (peer_fin + 1) & MASK:
            if host in self.acked_fin:
                return "ack-fin-again" if self.state.get(host) == "TIME-WAIT" else "ack-fin"
            self.acked_fin.add(host)
            if "delayed ACK" in timers:
                params["delayed"] = self.piece("delayed")
            return "ack-fin"
        peer_end = self.sent_end.get(peer)
        ahead = (peer_end - ack_abs) & MASK if peer_end is not None else 0
        if self.dupacks[host] and previous != ack_abs:
            self.dupacks[host] = 0
            return "ack-recovered"
        if previous == ack_abs and 0 < ahead < 1 << 31:  # the peer sent data beyond it
            self.dupacks[host] += 1
            params["n"] = self.dupacks[host]
            blocks = [
                f"{self.number(left, arrow.ack_base)}:{self.number(right, arrow.ack_base)}"
                for option in arrow.segment.options
                if isinstance(option, Sack)
                for left, right in option.blocks
            ]
            if blocks:
                params["sack"] = self.piece("sack", blocks=" ".join(blocks))
            return "dupack"
        self.dupacks[host] = 0
        return "ack"


def capitalised(name: str) -> str:
    """``"the client"`` as a sentence starts it: ``"The client"``."""
    return name[:1].upper() + name[1:]
