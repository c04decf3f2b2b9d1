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

Also here, what the options mean once negotiated: the window scale Linux
offers, the timestamp clock and the PAWS comparisons of RFC 7323, and the
sender's SACK scoreboard of RFC 2018.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING

from synack.tcp.seq import Seq
from synack.wire.tcp import (
    MaxSegmentSize,
    NoOperation,
    Sack,
    SackPermitted,
    TcpFlags,
    TcpOption,
    Timestamps,
    WindowScale,
)

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

Address = IPv4Address | IPv6Address
NOP = NoOperation()
SACK_OK = SackPermitted()
MAX_OPTION_SPACE = 40
TIMESTAMP_SPACE = 12  # nop,nop,TS: what timestamps cost every segment (MUST-16's TCPhdrsize)
MAX_WINDOW_SHIFT = 14  # RFC 7323 2.3
PAWS_IDLE_LIMIT = 24 * 24 * 3600 * 1_000_000  # RFC 7323 5.5: TS.Recent expires after 24 days
SCOREBOARD_RANGES = 32  # SACKed ranges remembered; more are forgotten (SACK is advisory)
_MASK = 0xFFFFFFFF
_ACK = TcpFlags.ACK
_HALF = 0x80000000


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


# ---------------------------------------------------------------- what a connection sends


def own_syn_options(conn: Connection) -> tuple[TcpOption, ...]:
    """The options of ``conn``'s SYN or SYN,ACK in Linux's layout.

    MSS (MUST-14, MUST-67) only on SYNs (MUST-65) and always (MAY-3, SHLD-5).
    An active open offers what the configuration allows: SACK-permitted
    (RFC 2018 2), timestamps with TSecr 0 (RFC 7323 3.2) and window scale
    (RFC 7323 2.2); a simultaneous open's SYN,ACK repeats that offer.  A
    passive open answers only what the peer's SYN offered and we allow.
    """
    cfg = conn.config
    if conn.passive:
        sack, timestamps, wscale = conn.sack_ok, conn.ts_ok, conn._offered_wscale
    else:
        sack, timestamps, wscale = cfg.sack, cfg.timestamps, cfg.window_scaling
    return syn_options(
        conn.mss_advertised,
        sack=sack,
        # TSecr echoes the peer's SYN (0 before one arrived: RFC 7323 3.2).
        timestamps=Timestamps(conn.ts_value(conn._last_now), conn.ts_recent)
        if timestamps
        else None,
        wscale=conn.wscale_offer if wscale else None,
    )


def own_segment_options(conn: Connection, flags: int) -> tuple[TcpOption, ...]:
    """The options of ``conn``'s other segments: ``nop,nop,TS`` on every one once
    timestamps are on (RFC 7323 3.2: TSecr = TS.Recent), then SACK blocks on
    ACKs while out-of-order data is held (RFC 2018 4), as many as fit."""
    timestamps = None
    if conn.ts_ok:
        tsval = (conn._last_now // conn.config.timestamp_tick + conn.ts_offset) & _MASK
        timestamps = Timestamps(tsval, conn.ts_recent)
    buffer = conn.receive_buffer
    if conn.sack_ok and int(flags) & _ACK and (buffer.out_of_order_bytes or conn.dsack):
        # Buffer offsets count from the next expected octet: RCV.NXT, less the
        # peer's FIN if it is in (no data after it is acceptable anyway).
        edge = conn.rcv_nxt - 1 if conn.fin_received else conn.rcv_nxt
        blocks = [(int(edge + start), int(edge + end)) for start, end in buffer.sack_blocks()]
        dsack = conn.dsack
        if dsack is not None:
            # RFC 2883: a D-SACK block goes first, once (Linux tcp_options_write).
            blocks.insert(0, (int(dsack[0]), int(dsack[1])))
            conn.dsack = None
        return segment_options(timestamps, blocks)
    if timestamps is None:
        return ()
    return (NOP, NOP, timestamps)  # the common case, without building lists


def derived_ts_offset(
    isn: Callable[[Address, int, Address, int, int], Seq] | None,
    local: tuple[Address, int],
    remote: tuple[Address, int],
) -> int:
    """A per-connection timestamp offset (RFC 7323 5.4, 7.1) from the ISN function's
    keyed hash of the 4-tuple (its value at time 0), hashed once more so that
    TSvals and ISNs do not share an offset; 0 without an ISN function.  (32 bits
    can be brute-forced back to that hash, which only predicts ISNs of the same
    4-tuple -- what one observed ISN already does under RFC 6528.)"""
    if isn is None:
        return 0
    keyed = int(isn(local[0], local[1], remote[0], remote[1], 0))
    digest = hashlib.blake2s(keyed.to_bytes(4, "big"), digest_size=4, person=b"synackTS")
    return int.from_bytes(digest.digest(), "big")


# ---------------------------------------------------------------- window scale (RFC 7323 2)


def window_shift(space: int, receive_buffer: int) -> int:
    """The window scale we offer: ``clamp(ilog2(max(space, receive_buffer)) - 15, 0, 14)``,
    as Linux's tcp_select_initial_window (``space`` is its tcp_rmem[2])."""
    largest = max(space, receive_buffer, 1)
    return min(max(largest.bit_length() - 1 - 15, 0), MAX_WINDOW_SHIFT)


# ---------------------------------------------------------------- timestamps (RFC 7323 3-5)


def timestamp_value(now: int, tick: int, offset: int) -> int:
    """TSval at ``now`` microseconds: a clock of one tick per ``tick`` microseconds
    (RFC 7323 5.4: between 1 ms and 1 s) plus a per-connection ``offset``, mod 2**32."""
    return (now // tick + offset) & _MASK


def timestamp_older(value: int, recent: int) -> bool:
    """``value < recent`` in the modular sense of RFC 7323 5.3 (PAWS rule R1)."""
    return 0 < ((recent - value) & _MASK) < _HALF


# ---------------------------------------------------------------- SACK scoreboard (RFC 2018)


class SackScoreboard:
    """What a sender knows from the SACK blocks on the ACKs it received (RFC 2018).

    Holds up to ``SCOREBOARD_RANGES`` disjoint, sorted sequence ranges
    ``[start, end)`` above SND.UNA that the receiver reported holding.  The
    information is advisory (RFC 2018 8: the receiver may renege), so nothing
    is discarded because of it: it only steers which hole a fast retransmit
    fills and how many bytes tcp_info reports as SACKed.
    """

    __slots__ = ("_ranges", "sacked_bytes")

    def __init__(self) -> None:
        self._ranges: list[tuple[Seq, Seq]] = []
        self.sacked_bytes = 0

    def __bool__(self) -> bool:
        return bool(self._ranges)

    @property
    def ranges(self) -> list[tuple[Seq, Seq]]:
        """The SACKed ranges, lowest first (a copy)."""
        return list(self._ranges)

    def clear(self) -> None:
        """Forget everything (RFC 2018 5.1 after a timeout, or a new connection)."""
        self._ranges = []
        self.sacked_bytes = 0

    def update(self, blocks: tuple[tuple[int, int], ...], snd_una: Seq, snd_max: Seq) -> None:
        """Add the ``blocks`` of an arriving ACK and drop what SND.UNA passed.

        A block is used only when it lies within ``(snd_una, snd_max]`` and is
        not empty (Linux's tcp_is_sackblock_valid); the part below SND.UNA is
        cut off (D-SACK reports of duplicates are ignored).
        """
        limit = snd_max - snd_una
        offsets: list[tuple[int, int]] = []
        for start, end in self._ranges:
            high = end - snd_una
            if high > 0:
                offsets.append((max(start - snd_una, 0), high))
        for left, right in blocks:
            high = Seq(right) - snd_una
            low = Seq(left) - snd_una
            if high <= 0 or high > limit or low >= high:
                continue  # invalid, above what was sent, or a D-SACK below SND.UNA
            offsets.append((max(low, 0), high))
        if not offsets:
            self.clear()
            return
        offsets.sort()
        merged: list[tuple[int, int]] = []
        for low, high in offsets:
            if merged and low <= merged[-1][1]:
                if high > merged[-1][1]:
                    merged[-1] = (merged[-1][0], high)
            else:
                merged.append((low, high))
        del merged[SCOREBOARD_RANGES:]
        self._ranges = [(snd_una + low, snd_una + high) for low, high in merged]
        self.sacked_bytes = sum(high - low for low, high in merged)

    def first_hole(self, snd_una: Seq, snd_max: Seq) -> tuple[int, int]:
        """The first range not SACKed at or above SND.UNA, as offsets ``(start, end)``
        from ``snd_una``; ``end`` is ``snd_max - snd_una`` when nothing above it is SACKed."""
        cursor = 0
        for start, end in self._ranges:
            low = start - snd_una
            if low > cursor:
                return cursor, low
            cursor = max(cursor, end - snd_una)
        return cursor, snd_max - snd_una
