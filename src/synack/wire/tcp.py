"""TCP segments as values (RFC 9293 section 3.1): flags, options, Segment.

This module defines the value types shared by the codec and the protocol
core.  Parsing and emitting live beside them in this package.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class TcpFlags(enum.IntFlag):
    """The TCP control bits."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


# --- options (section 3.2); a segment keeps its options in wire order ---------


@dataclass(frozen=True, slots=True)
class EndOfOptions:
    """Kind 0: end of the option list."""


@dataclass(frozen=True, slots=True)
class NoOperation:
    """Kind 1: padding between options."""


@dataclass(frozen=True, slots=True)
class MaxSegmentSize:
    """Kind 2: the largest segment the sender of this option can receive."""

    mss: int


@dataclass(frozen=True, slots=True)
class WindowScale:
    """Kind 3 (RFC 7323): shift count for the sender's advertised windows."""

    shift: int


@dataclass(frozen=True, slots=True)
class SackPermitted:
    """Kind 4 (RFC 2018): the sender can receive SACK blocks."""


@dataclass(frozen=True, slots=True)
class Sack:
    """Kind 5 (RFC 2018): blocks of received data as ``(left, right)`` edges."""

    blocks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Timestamps:
    """Kind 8 (RFC 7323): TSval and TSecr."""

    tsval: int
    tsecr: int


@dataclass(frozen=True, slots=True)
class UnknownOption:
    """Any other option: kept as its kind and raw data, otherwise ignored (MUST-6)."""

    kind: int
    data: bytes


TcpOption = (
    EndOfOptions
    | NoOperation
    | MaxSegmentSize
    | WindowScale
    | SackPermitted
    | Sack
    | Timestamps
    | UnknownOption
)

NO_OPTIONS: tuple[TcpOption, ...] = ()


@dataclass(slots=True)
class Segment:
    """One TCP segment.  ``seq``/``ack`` are plain 32-bit ints on the wire;
    ``window`` is the raw 16-bit field (unscaled).  ``payload`` may be a
    memoryview into the received packet: parsing does not copy it."""

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: TcpFlags
    window: int
    urgent: int = 0
    options: tuple[TcpOption, ...] = NO_OPTIONS
    payload: bytes | memoryview = field(default=b"")

    @property
    def seg_len(self) -> int:
        """SEG.LEN: payload octets plus one for SYN and one for FIN."""
        length = len(self.payload)
        if self.flags & TcpFlags.SYN:
            length += 1
        if self.flags & TcpFlags.FIN:
            length += 1
        return length

    def option(self, kind: type[TcpOption]) -> TcpOption | None:
        """The first option of the given type, or None."""
        for opt in self.options:
            if type(opt) is kind:
                return opt
        return None

    @property
    def mss(self) -> int | None:
        opt = self.option(MaxSegmentSize)
        return opt.mss if isinstance(opt, MaxSegmentSize) else None

    @property
    def wscale(self) -> int | None:
        opt = self.option(WindowScale)
        return opt.shift if isinstance(opt, WindowScale) else None

    @property
    def sack_permitted(self) -> bool:
        return self.option(SackPermitted) is not None

    @property
    def timestamps(self) -> Timestamps | None:
        opt = self.option(Timestamps)
        return opt if isinstance(opt, Timestamps) else None

    @property
    def sack_blocks(self) -> tuple[tuple[int, int], ...]:
        opt = self.option(Sack)
        return opt.blocks if isinstance(opt, Sack) else ()
