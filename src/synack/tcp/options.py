"""Which TCP options a segment carries, in the order Linux writes them.

RFC 9293 leaves the order of options free; packetdrill scripts (and people
comparing captures) see Linux's, which ``tcp_options_write`` fixes as:

- SYN / SYN,ACK: MSS; then timestamps, preceded by SACK-permitted when both
  are on (otherwise two NOPs); then ``nop,nop,sackOK`` when SACK is on without
  timestamps; then ``nop,wscale``.  For example
  ``<mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 8>`` and
  ``<mss 1460,nop,nop,sackOK,nop,wscale 8>``.
- Other segments: ``nop,nop,TS`` when timestamps are on, then
  ``nop,nop,sack ...`` blocks (RFC 2018) as room allows.

The MSS option is sent only on SYNs (MUST-65); every length is written
(MUST-68) and the codec pads to 32 bits with zeros (MUST-69).
"""

from __future__ import annotations

from synack.wire.tcp import (
    MaxSegmentSize,
    NoOperation,
    Sack,
    SackPermitted,
    TcpOption,
    Timestamps,
    WindowScale,
)

NOP = NoOperation()
SACK_OK = SackPermitted()
MAX_OPTION_SPACE = 40
TIMESTAMP_SPACE = 12  # nop,nop,TS: what timestamps cost every segment (MUST-16's TCPhdrsize)


def syn_options(
    mss: int,
    *,
    sack: bool,
    timestamps: Timestamps | None,
    wscale: int | None,
) -> tuple[TcpOption, ...]:
    """The options of a SYN or SYN,ACK in Linux's layout."""
    options: list[TcpOption] = [MaxSegmentSize(mss)]
    if timestamps is not None:
        options += [SACK_OK, timestamps] if sack else [NOP, NOP, timestamps]
    elif sack:
        options += [NOP, NOP, SACK_OK]
    if wscale is not None:
        options += [NOP, WindowScale(wscale)]
    return tuple(options)


def segment_options(
    timestamps: Timestamps | None,
    sack_blocks: list[tuple[int, int]] | tuple[tuple[int, int], ...] = (),
) -> tuple[TcpOption, ...]:
    """The options of a non-SYN segment: timestamps, then as many SACK blocks
    as fit in the 40 octets of option space (RFC 2018 3: 3 with timestamps, 4 without)."""
    options: list[TcpOption] = []
    room = MAX_OPTION_SPACE
    if timestamps is not None:
        options += [NOP, NOP, timestamps]
        room -= TIMESTAMP_SPACE
    if sack_blocks:
        count = min(len(sack_blocks), (room - 4) // 8)
        if count > 0:
            options += [NOP, NOP, Sack(tuple(sack_blocks[:count]))]
    return tuple(options)
