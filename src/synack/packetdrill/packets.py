"""Packets between a script and synack: building the ones the script injects,
and matching the ones synack sends against what the script expects.

The rules are packetdrill's (LANGUAGE.md sections 4 and 5): inbound SYN
sequence numbers are literal; the first outbound SYN fixes the mapping of
synack's ISN; other sequence numbers, ACKs and SACK blocks are relative to
the ISN of the side they belong to; outbound timestamps are rebased on the
first one seen and an inbound ``TS ecr`` is rewritten to the live value that
was sent as the script's ``val``; consecutive outbound segments may be
aggregated to match one script line (TSO/GSO).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synack.packetdrill.ast import AE_FLAG, WILDCARD, Packet
from synack.wire.tcp import (
    NoOperation,
    Sack,
    Segment,
    TcpFlags,
    TcpOption,
    Timestamps,
    option_text,
)

MOD = 1 << 32
SYN = TcpFlags.SYN
ACK = TcpFlags.ACK

_FLAG_LETTERS = (
    (TcpFlags.FIN, "F"),
    (TcpFlags.SYN, "S"),
    (TcpFlags.RST, "R"),
    (TcpFlags.PSH, "P"),
    (TcpFlags.URG, "U"),
    (TcpFlags.ECE, "E"),
    (TcpFlags.CWR, "W"),
)


class Mismatch(Exception):
    """A live packet differs from the script's expectation."""


@dataclass
class SequenceMap:
    """The ISN and timestamp mappings between script and live values."""

    local_isn: int | None = None  # synack's ISN (live), learnt from its first SYN
    remote_isn: int = 0  # the script's ISN: inbound SYNs are sent literally
    ts_base: tuple[int, int] | None = None  # (script val, live val) of the first outbound TS
    sent_ts: dict[int, int] = field(default_factory=dict)  # script TS val -> live TS val

    def local(self, script_value: int) -> int:
        return (script_value + (self.local_isn or 0)) % MOD

    def remote(self, script_value: int) -> int:
        return (script_value + self.remote_isn) % MOD

    def local_relative(self, live: int) -> int:
        return (live - (self.local_isn or 0)) % MOD

    def remote_relative(self, live: int) -> int:
        return (live - self.remote_isn) % MOD


def flags_of(packet: Packet) -> TcpFlags:
    """The TCP flags a script packet names (the AE bit has no place in ours)."""
    return TcpFlags(packet.flag_bits & 0xFF)


def build_inbound(packet: Packet, seq_map: SequenceMap, src_port: int, dst_port: int) -> Segment:
    """The segment the script injects, with script numbers mapped to live ones."""
    flags = flags_of(packet)
    if flags & SYN:
        seq = packet.start_seq % MOD
        if not flags & ACK:
            seq_map.remote_isn = seq
    else:
        seq = seq_map.remote(packet.start_seq)
    ack = 0
    if packet.ack is not None:
        ack = seq_map.local(packet.ack) if flags & ACK else packet.ack % MOD
    options: tuple[TcpOption, ...] = ()
    if isinstance(packet.options, tuple):
        options = tuple(_inbound_option(o, seq_map) for o in packet.options)
    return Segment(
        src_port,
        dst_port,
        seq,
        ack,
        flags,
        (packet.window or 0) & 0xFFFF,
        packet.urg or 0,
        options,
        bytes(packet.length),
    )


def _inbound_option(option: TcpOption, seq_map: SequenceMap) -> TcpOption:
    if isinstance(option, Sack):
        blocks = tuple((seq_map.local(a), seq_map.local(b)) for a, b in option.blocks)
        return Sack(blocks)
    if isinstance(option, Timestamps) and option.tsecr:
        live = seq_map.sent_ts.get(option.tsecr)
        if live is None and seq_map.ts_base is not None:
            script_base, live_base = seq_map.ts_base
            live = (live_base + option.tsecr - script_base) % MOD
        return Timestamps(option.tsval, option.tsecr if live is None else live)
    return option


def learn_outbound(segment: Segment, expected: Packet, seq_map: SequenceMap) -> None:
    """Before matching: fix the ISN and timestamp mappings from synack's first SYN
    and first timestamp (the script's values are then judged relative to them)."""
    if segment.flags & SYN and seq_map.local_isn is None:
        seq_map.local_isn = (segment.seq - expected.start_seq) % MOD
    live_ts = segment.timestamps
    script_ts = _script_ts(expected)
    if live_ts is not None and script_ts is not None:
        if seq_map.ts_base is None:
            seq_map.ts_base = (script_ts.tsval, live_ts.tsval)
        seq_map.sent_ts.setdefault(script_ts.tsval, live_ts.tsval)


def _script_ts(packet: Packet) -> Timestamps | None:
    if isinstance(packet.options, tuple):
        for option in packet.options:
            if isinstance(option, Timestamps):
                return option
    return None


def check_outbound(
    segment: Segment,
    expected: Packet,
    seq_map: SequenceMap,
    *,
    ts_tick_usecs: int | None,
    ts_tolerance: int,
) -> None:
    """Raise ``Mismatch`` unless ``segment`` (possibly an aggregate) is the
    script's expected outbound packet."""
    flags = flags_of(expected)
    if expected.flag_bits & AE_FLAG:
        raise Mismatch("the AE flag is never set by synack")
    if segment.flags != flags:
        raise Mismatch(f"flags: expected {flag_text(flags)} vs actual {flag_text(segment.flags)}")
    seq = seq_map.local_relative(segment.seq)
    if seq != expected.start_seq % MOD:
        raise Mismatch(f"sequence number: expected {expected.start_seq} vs actual {seq}")
    if len(segment.payload) != expected.length:
        raise Mismatch(
            f"payload: expected {expected.length} bytes vs actual {len(segment.payload)} bytes"
        )
    if any(segment.payload):
        raise Mismatch("payload: expected zero bytes (as written by the script) but data differs")
    if expected.ack is None:
        if segment.ack != 0:
            raise Mismatch(f"ack: expected 0 (no ack written) vs actual {segment.ack}")
    else:
        ack = seq_map.remote_relative(segment.ack) if flags & ACK else segment.ack
        if ack != expected.ack % MOD:
            raise Mismatch(f"ack: expected {expected.ack} vs actual {ack}")
    if expected.window is not None and segment.window != expected.window:
        raise Mismatch(f"window: expected {expected.window} vs actual {segment.window}")
    if expected.urg is not None and segment.urgent != expected.urg:
        raise Mismatch(f"urgent pointer: expected {expected.urg} vs actual {segment.urgent}")
    _check_options(segment, expected, seq_map, ts_tick_usecs, ts_tolerance)


def _check_options(
    segment: Segment,
    expected: Packet,
    seq_map: SequenceMap,
    ts_tick_usecs: int | None,
    ts_tolerance: int,
) -> None:
    if expected.options is WILDCARD:
        return
    want = expected.options if isinstance(expected.options, tuple) else ()
    have = tuple(o for o in segment.options)
    # Padding the codec reads back as EOL at the end does not count.
    while have and type(have[-1]).__name__ == "EndOfOptions" and len(have) > len(want):
        have = have[:-1]
    if len(want) != len(have):
        raise Mismatch(f"options: expected <{_options(want)}> vs actual <{_options(have)}>")
    for wanted, actual in zip(want, have, strict=True):
        if isinstance(wanted, Timestamps) and isinstance(actual, Timestamps):
            if ts_tick_usecs is not None and seq_map.ts_base is not None:
                script_base, live_base = seq_map.ts_base
                expected_val = (live_base + wanted.tsval - script_base) % MOD
                error = abs(((actual.tsval - expected_val + MOD // 2) % MOD) - MOD // 2)
                if error > max(1, ts_tolerance // ts_tick_usecs):
                    raise Mismatch(
                        f"TS val: expected {wanted.tsval} vs actual "
                        f"{(actual.tsval - live_base + script_base) % MOD}"
                    )
            continue  # the outbound ecr is never compared
        if isinstance(wanted, Sack) and isinstance(actual, Sack):
            blocks = tuple(
                (seq_map.remote_relative(a), seq_map.remote_relative(b)) for a, b in actual.blocks
            )
            wanted_blocks = tuple((a % MOD, b % MOD) for a, b in wanted.blocks)
            if blocks != wanted_blocks:
                raise Mismatch(
                    f"SACK blocks: expected {_blocks(wanted_blocks)} vs actual {_blocks(blocks)}"
                )
            continue
        if wanted != actual:
            raise Mismatch(f"options: expected <{_options(want)}> vs actual <{_options(have)}>")


def aggregate(segments: list[Segment]) -> Segment:
    """One segment standing for consecutive live segments (packetdrill's
    ``aggregate_packets``): seq from the first, payload concatenated, every
    other field and the options from the last."""
    first, last = segments[0], segments[-1]
    payload = b"".join(bytes(s.payload) for s in segments)
    return Segment(
        last.src_port,
        last.dst_port,
        first.seq,
        last.ack,
        last.flags,
        last.window,
        last.urgent,
        last.options,
        payload,
    )


def flag_text(flags: TcpFlags | int) -> str:
    """Flags in packetdrill notation: ``S.``, ``P.``, ``F.``, ``R``, ``-`` for none."""
    text = "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit)
    if flags & ACK:
        text += "."
    return text or "-"


def format_live(segment: Segment, seq_map: SequenceMap, *, outbound: bool = True) -> str:
    """A live segment in packetdrill notation, relative to the ISNs like a script line."""
    own = seq_map.local_relative if outbound else seq_map.remote_relative
    other = seq_map.remote_relative if outbound else seq_map.local_relative
    seq = segment.seq if segment.flags & SYN and not outbound else own(segment.seq)
    end = (seq + len(segment.payload)) % MOD
    text = (
        f"{'>' if outbound else '<'} {flag_text(segment.flags)} {seq}:{end}({len(segment.payload)})"
    )
    if segment.flags & ACK:
        text += f" ack {other(segment.ack)}"
    elif segment.ack:
        text += f" ack {segment.ack}"
    text += f" win {segment.window}"
    if segment.options:
        parts = []
        for option in segment.options:
            if isinstance(option, Sack):
                parts.append(
                    "sack " + _blocks(tuple((other(a), other(b)) for a, b in option.blocks))
                )
            elif isinstance(option, Timestamps) and outbound and seq_map.ts_base is not None:
                script_base, live_base = seq_map.ts_base
                parts.append(
                    f"TS val {(option.tsval - live_base + script_base) % MOD} ecr {option.tsecr}"
                )
            else:
                parts.append(option_text(option))
        text += f" <{','.join(parts)}>"
    return text


def _options(options: tuple[TcpOption, ...]) -> str:
    return ",".join(option_text(o) for o in options)


def _blocks(blocks: tuple[tuple[int, int], ...]) -> str:
    return " ".join(f"{a}:{b}" for a, b in blocks)


__all__ = [
    "Mismatch",
    "NoOperation",
    "SequenceMap",
    "aggregate",
    "build_inbound",
    "check_outbound",
    "flag_text",
    "format_live",
    "learn_outbound",
]
