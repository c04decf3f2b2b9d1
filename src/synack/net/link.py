"""One direction of a simulated link: delay, jitter, bandwidth and queue, loss
(random and Gilbert-Elliott bursts), duplication, reordering, corruption and
scripted drops.

``Direction.carry(packet, now)`` decides a datagram's fate with the
direction's own seeded random generator and returns it; the simulator
records and schedules the outcome.  The order of the stages is:

1. ``drop_filter`` (scripted drops see every datagram offered, so "the 3rd
   packet" means the 3rd one the sender handed to this direction);
2. the sender's FIFO queue when ``bandwidth`` is set: tail drop when
   ``queue_limit`` datagrams are already waiting or being serialised, else
   serialisation delay ``len * 8 / bandwidth`` after the previous datagram;
   with ``ecn_mark_threshold``, a datagram that finds at least that many
   ahead of it is marked CE instead when it is ECN-capable (ECT(0) or
   ECT(1); RFC 3168 5, a step-marking AQM like DCTCP's K);
3. loss on the wire: the Gilbert-Elliott state moves first (good to bad with
   ``burst_loss_enter``, bad to good with ``burst_loss_exit``), then the
   datagram is lost with ``loss`` in the good state or ``burst_loss`` in the
   bad state.  The chain moves per datagram, not per unit of time (as
   netem's ``gemodel``): an idle link stays in the bad state, so a burst can
   swallow a whole series of backed-off retransmissions;
4. duplication (one extra copy with probability ``duplicate``);
5. corruption, drawn for each copy (one random bit flipped);
6. propagation: ``delay`` plus uniform jitter in ``[-jitter, +jitter]``.
   **Jitter never reorders**: a copy never arrives before one sent earlier in
   the same direction.  Only ``reorder`` reorders: with that probability a
   copy is held back an extra ``reorder_delay`` and later datagrams may pass it.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from synack.trace.summary import PacketHeaders, peek_headers
from synack.wire.tcp import TcpFlags

MS = 1_000
SECOND = 1_000_000

#: A scripted drop: called with each datagram offered to a direction, True drops it.
DropFilter = Callable[[bytes], bool]


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Impairments of one direction of a link.  Times in microseconds,
    probabilities in [0, 1], ``bandwidth`` in bits per second (0 = infinite)."""

    delay: int = 0
    jitter: int = 0
    bandwidth: int = 0
    queue_limit: int = 100  # datagrams waiting or being serialised (tail drop beyond)
    ecn_mark_threshold: int = 0  # mark ECT datagrams CE from this queue length on (0: never)
    loss: float = 0.0  # loss probability (in the good state when bursts are on)
    burst_loss_enter: float = 0.0  # Gilbert-Elliott: P(good -> bad) per datagram
    burst_loss_exit: float = 0.25  # Gilbert-Elliott: P(bad -> good) per datagram
    burst_loss: float = 1.0  # loss probability in the bad state
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: int = 10 * MS
    corrupt: float = 0.0
    drop_filter: DropFilter | None = None

    def __post_init__(self) -> None:
        for name in ("delay", "jitter", "bandwidth", "reorder_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"LinkConfig.{name} must be >= 0")
        if self.queue_limit < 1:
            raise ValueError("LinkConfig.queue_limit must be >= 1")
        for name in (
            "loss",
            "burst_loss_enter",
            "burst_loss_exit",
            "burst_loss",
            "duplicate",
            "reorder",
            "corrupt",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"LinkConfig.{name} must be a probability in [0, 1]")


@dataclass(slots=True)
class DirectionStats:
    """Counters of one direction."""

    offered: int = 0  # datagrams handed to this direction
    delivered: int = 0  # copies scheduled for delivery (duplicates included)
    duplicated: int = 0
    corrupted: int = 0
    ce_marked: int = 0  # ECN-capable datagrams marked Congestion Experienced
    lost: dict[str, int] = field(default_factory=dict)  # by reason

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())


class Copy(NamedTuple):
    """One copy of a datagram that will arrive."""

    arrival: int
    packet: bytes
    corrupted_bit: int | None
    duplicate: bool


class Outcome(NamedTuple):
    """The fate of a datagram: lost for ``lost`` (a reason), or the copies that arrive."""

    lost: str | None
    copies: tuple[Copy, ...]


class Direction:
    """The state of one direction of a link, from ``src`` host to ``dst`` host.

    ``config`` may be replaced at any time (e.g. to partition the network);
    the change applies to datagrams offered afterwards.
    """

    __slots__ = ("_bad", "_in_flight", "_last_arrival", "config", "dst", "rng", "src", "stats")

    def __init__(self, src: str, dst: str, config: LinkConfig, rng: random.Random) -> None:
        self.src = src
        self.dst = dst
        self.config = config
        self.rng = rng
        self.stats = DirectionStats()
        self._in_flight: deque[int] = deque()  # serialisation end times, in FIFO order
        self._last_arrival = 0
        self._bad = False  # Gilbert-Elliott state

    def __repr__(self) -> str:
        return f"Direction({self.src!r} -> {self.dst!r}, {self.config!r})"

    def _lose(self, reason: str) -> Outcome:
        lost = self.stats.lost
        lost[reason] = lost.get(reason, 0) + 1
        return Outcome(reason, ())

    def carry(self, packet: bytes, now: int) -> Outcome:
        """Decide what happens to ``packet`` offered at ``now`` (see the module docstring)."""
        config = self.config
        rng = self.rng
        self.stats.offered += 1
        if config.drop_filter is not None and config.drop_filter(packet):
            return self._lose("filter")

        departure = now
        if config.bandwidth:
            in_flight = self._in_flight
            while in_flight and in_flight[0] <= now:
                in_flight.popleft()
            if len(in_flight) >= config.queue_limit:
                return self._lose("queue full")
            if config.ecn_mark_threshold and len(in_flight) >= config.ecn_mark_threshold:
                marked = mark_ce(packet)
                if marked is not None:
                    packet = marked
                    self.stats.ce_marked += 1
            start = in_flight[-1] if in_flight else now
            departure = start + -(-len(packet) * 8 * SECOND // config.bandwidth)
            in_flight.append(departure)

        if config.burst_loss_enter:
            if self._bad:
                if rng.random() < config.burst_loss_exit:
                    self._bad = False
            elif rng.random() < config.burst_loss_enter:
                self._bad = True
        if self._bad:
            if rng.random() < config.burst_loss:
                return self._lose("burst loss")
        elif config.loss and rng.random() < config.loss:
            return self._lose("loss")

        copies = 2 if config.duplicate and rng.random() < config.duplicate else 1
        if copies == 2:
            self.stats.duplicated += 1
        result = []
        for index in range(copies):
            data = packet
            bit: int | None = None
            if config.corrupt and packet and rng.random() < config.corrupt:
                bit = rng.randrange(len(packet) * 8)
                flipped = bytearray(packet)
                flipped[bit >> 3] ^= 0x80 >> (bit & 7)
                data = bytes(flipped)
                self.stats.corrupted += 1
            arrival = departure + config.delay
            if config.jitter:
                arrival = max(departure, arrival + rng.randint(-config.jitter, config.jitter))
            arrival = max(arrival, self._last_arrival)  # jitter never reorders
            if config.reorder and rng.random() < config.reorder:
                arrival += config.reorder_delay  # held back: later datagrams may pass it
            else:
                self._last_arrival = arrival
            result.append(Copy(arrival, data, bit, index == 1))
        self.stats.delivered += copies
        return Outcome(None, tuple(result))


def mark_ce(packet: bytes) -> bytes | None:
    """``packet`` with its ECN field set to CE (RFC 3168 5), or None when it is
    not ECN-capable (Not-ECT) or not an IP datagram.  IPv4's header checksum
    is updated (RFC 1624: the field changes by the two ECN bits)."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        if packet[1] & 3 == 0:
            return None
        marked = bytearray(packet)
        old_word = (marked[0] << 8) | marked[1]
        marked[1] |= 3
        new_word = (marked[0] << 8) | marked[1]
        checksum = (marked[10] << 8) | marked[11]
        total = (~checksum & 0xFFFF) + (~old_word & 0xFFFF) + new_word  # RFC 1624 eqn. 3
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        checksum = ~total & 0xFFFF
        marked[10], marked[11] = checksum >> 8, checksum & 0xFF
        return bytes(marked)
    if version == 6 and len(packet) >= 40:
        if packet[1] & 0x30 == 0:
            return None
        marked = bytearray(packet)
        marked[1] |= 0x30  # the traffic class's two low bits
        return bytes(marked)
    return None


class Link:
    """A bidirectional link between hosts ``a`` and ``b``: two independent directions."""

    __slots__ = ("forward", "reverse")

    def __init__(self, forward: Direction, reverse: Direction) -> None:
        self.forward = forward
        self.reverse = reverse

    def __repr__(self) -> str:
        return f"Link({self.forward!r}, {self.reverse!r})"


# --- scripted drops ----------------------------------------------------------------


class DropNth:
    """Drops the datagrams at the given 1-based positions among those it sees.

    Installed as one direction's ``drop_filter`` it sees every datagram
    offered to that direction: ``DropNth(3)`` drops the third one.
    """

    __slots__ = ("dropped", "seen", "targets")

    def __init__(self, *positions: int) -> None:
        if not positions or min(positions) < 1:
            raise ValueError("DropNth needs 1-based positions")
        self.targets = frozenset(positions)
        self.seen = 0
        self.dropped = 0

    def __call__(self, packet: bytes) -> bool:
        self.seen += 1
        if self.seen in self.targets:
            self.dropped += 1
            return True
        return False


class DropMatching:
    """Drops datagrams whose headers satisfy ``predicate``: skips the first
    ``skip`` matches, then drops up to ``count`` of them (``None``: all)."""

    __slots__ = ("count", "dropped", "matched", "predicate", "skip")

    def __init__(
        self,
        predicate: Callable[[PacketHeaders], bool],
        *,
        count: int | None = 1,
        skip: int = 0,
    ) -> None:
        self.predicate = predicate
        self.count = count
        self.skip = skip
        self.matched = 0
        self.dropped = 0

    def __call__(self, packet: bytes) -> bool:
        headers = peek_headers(packet)
        if headers is None or not self.predicate(headers):
            return False
        self.matched += 1
        if self.matched <= self.skip:
            return False
        if self.count is not None and self.dropped >= self.count:
            return False
        self.dropped += 1
        return True


def drop_nth(*positions: int) -> DropNth:
    """A filter dropping the ``positions``-th datagrams (1-based) of its direction."""
    return DropNth(*positions)


def drop_flags(
    flags: TcpFlags, *, exact: bool = False, count: int | None = 1, skip: int = 0
) -> DropMatching:
    """A filter dropping TCP segments with all of ``flags`` set (exactly ``flags``
    when ``exact``): ``drop_flags(TcpFlags.FIN)`` drops the first FIN;
    ``count=None`` drops every match, ``skip`` lets the first matches through."""
    wanted = int(flags)

    def match(headers: PacketHeaders) -> bool:
        tcp = headers.tcp
        if tcp is None:
            return False
        return tcp.flags == wanted if exact else (tcp.flags & wanted) == wanted

    return DropMatching(match, count=count, skip=skip)


def drop_where(
    predicate: Callable[[PacketHeaders], bool], *, count: int | None = None, skip: int = 0
) -> DropMatching:
    """A filter dropping datagrams whose peeked headers satisfy ``predicate``."""
    return DropMatching(predicate, count=count, skip=skip)
