"""Selective acknowledgments (RFC 2018): the blocks a receiver puts on its ACKs,
in Linux's layout, and the sender's scoreboard steering fast retransmit.

Relative sequence numbers as in the other harness tests: the peer's data starts
at 1 (``REMOTE_ISS + 1``), ours too (``LOCAL_ISS + 1``); both ISSs sit just
below 2**32, so the SACK edges wrap.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import (
    ACK,
    CONFIG,
    LOCAL_ISS,
    PSH,
    REMOTE_ISS,
    SYN,
    Harness,
    listen,
    new_harness,
)

from synack.tcp.config import TcpConfig
from synack.tcp.options import SCOREBOARD_RANGES, SackScoreboard
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.wire.tcp import (
    MaxSegmentSize,
    NoOperation,
    Sack,
    SackPermitted,
    Segment,
    TcpOption,
    Timestamps,
)

NOP = NoOperation()
SACK_OK = SackPermitted()
MSS = 1460
SACK_CONFIG = replace(CONFIG, sack=True)
SACK_TS_CONFIG = replace(CONFIG, sack=True, timestamps=True)
PEER_TSVAL = 700


def sack_established(config: TcpConfig = SACK_CONFIG) -> Harness:
    """Active open with SACK-permitted on both SYNs (and timestamps if configured)."""
    h = new_harness(True, config)
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert SACK_OK in syn.options
    h.now += 10_000
    options: tuple[TcpOption, ...] = (MaxSegmentSize(MSS), NOP, NOP, SACK_OK)
    if config.timestamps:
        options = (MaxSegmentSize(MSS), SACK_OK, Timestamps(PEER_TSVAL, 0))
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=options))
    h.take()
    assert h.state is State.ESTABLISHED
    assert h.conn.sack_ok
    h.events()
    return h


def peer_ts(h: Harness) -> tuple[TcpOption, ...]:
    return (NOP, NOP, Timestamps(PEER_TSVAL, 0)) if h.conn.ts_ok else ()


def remote(rel: int) -> int:
    """An absolute sequence number of the peer's stream."""
    return int(REMOTE_ISS + rel)


def local(rel: int) -> int:
    """An absolute sequence number of our stream."""
    return int(LOCAL_ISS + rel)


def relative_blocks(segment: Segment) -> list[tuple[int, int]]:
    return [((a - REMOTE_ISS) % 2**32, (b - REMOTE_ISS) % 2**32) for a, b in segment.sack_blocks]


# ---------------------------------------------------------------- negotiation


def test_sack_permitted_only_when_both_syns_carry_it() -> None:
    h = new_harness(True, SACK_CONFIG)
    h.conn.connect(h.now)
    h.take()
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=(MaxSegmentSize(MSS),)))
    h.take()
    assert not h.conn.sack_ok
    # Out-of-order data then gets a plain duplicate ACK, no SACK option.
    h.recv_seg(h.peer(ACK, 101, 1, payload=b"x" * 10))
    (ack,) = h.take()
    assert ack.options == ()


def test_passive_open_with_sack_permitted() -> None:
    h = listen(SACK_CONFIG)
    h.recv_seg(h.peer(SYN, 0, options=(MaxSegmentSize(1000), SACK_OK)))
    (syn_ack,) = h.take()
    assert syn_ack.options == (MaxSegmentSize(1460), NOP, NOP, SACK_OK)
    assert h.conn.sack_ok
    assert h.conn.status()["sack_ok"] is True


# ---------------------------------------------------------------- receiver: blocks on ACKs

ISLANDS = [(21, 31), (41, 51), (61, 71), (81, 91), (101, 111)]  # relative, with holes between


@pytest.mark.parametrize(("config", "room"), [(SACK_CONFIG, 4), (SACK_TS_CONFIG, 3)])
def test_ack_reports_the_latest_blocks_first_as_room_allows(config: TcpConfig, room: int) -> None:
    """RFC 2018 3 and 4: each ACK carries the block holding the segment that
    triggered it first, then the most recently reported ones; at most 4 blocks
    (3 beside timestamps) fit in the 40 octets of options."""
    h = sack_established(config)
    for count, (start, end) in enumerate(ISLANDS, 1):
        h.recv_seg(h.peer(ACK, start, 1, payload=bytes(end - start), options=peer_ts(h)))
        (ack,) = h.take()  # out of order: ACKed at once (RFC 5681 4.2)
        assert ack.ack == remote(1)
        want = [ISLANDS[i] for i in range(count - 1, -1, -1)][:room]
        assert relative_blocks(ack) == want, count
        if config.timestamps:
            # nop,nop,TS then nop,nop,sack: Linux's layout
            assert ack.options[:3] == (NOP, NOP, Timestamps(h.conn.ts_value(h.now), PEER_TSVAL))
            assert ack.options[3:5] == (NOP, NOP)
        else:
            assert ack.options[:2] == (NOP, NOP)
        assert isinstance(ack.options[-1], Sack)


def test_one_hole_one_block() -> None:
    h = sack_established()
    h.recv_seg(h.peer(ACK, 1001, 1, payload=bytes(500)))
    (ack,) = h.take()
    assert ack.options == (NOP, NOP, Sack(((remote(1001), remote(1501)),)))


def test_growing_an_older_block_moves_it_first() -> None:
    h = sack_established()
    for start, end in ISLANDS[:3]:
        h.recv_seg(h.peer(ACK, start, 1, payload=bytes(end - start)))
    h.take()
    h.recv_seg(h.peer(ACK, 31, 1, payload=bytes(5)))  # extends (21, 31) to (21, 36)
    (ack,) = h.take()
    assert relative_blocks(ack) == [(21, 36), (61, 71), (41, 51)]


def test_filling_holes_shrinks_and_then_drops_the_option() -> None:
    h = sack_established()
    for start, end in ISLANDS[:2]:
        h.recv_seg(h.peer(ACK, start, 1, payload=bytes(end - start)))
    h.take()
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(20)))  # fills the first hole: 1..31 in order
    (ack,) = h.take()
    assert ack.ack == remote(31)
    assert relative_blocks(ack) == [(41, 51)]
    h.recv_seg(h.peer(ACK, 31, 1, payload=bytes(10)))  # fills the last hole
    (ack,) = h.take()
    assert ack.ack == remote(51)
    assert ack.options == ()


def test_data_segments_carry_sack_blocks_too() -> None:
    """Linux puts the SACK blocks on every segment it sends while holes remain."""
    h = sack_established()
    h.recv_seg(h.peer(ACK, 101, 1, payload=bytes(10)))
    h.take()
    h.conn.send(b"reply")
    (data,) = h.take()
    assert data.flags == ACK | PSH
    assert data.sack_blocks == ((remote(101), remote(111)),)


# ---------------------------------------------------------------- sender: the scoreboard


def six_segments(config: TcpConfig = SACK_CONFIG) -> Harness:
    """Six full segments in flight: relative 1..8761."""
    h = sack_established(config)
    h.conn.send(bytes(6 * MSS))
    assert [len(s.payload) for s in h.take()] == [MSS] * 6
    return h


def sack_ack(h: Harness, *blocks: tuple[int, int], ack: int = 1) -> Segment:
    """A (duplicate) ACK from the peer with SACK blocks in our relative numbers."""
    absolute = tuple((local(a), local(b)) for a, b in blocks)
    return h.peer(ACK, 1, ack, options=(NOP, NOP, Sack(absolute)))


def rel_out(h: Harness) -> list[tuple[int, int]]:
    return [((s.seq - LOCAL_ISS) % 2**32, len(s.payload)) for s in h.take()]


def test_sack_blocks_fill_the_scoreboard_and_status() -> None:
    h = six_segments()
    h.recv_seg(sack_ack(h, (1 + MSS, 1 + 2 * MSS)))
    h.recv_seg(sack_ack(h, (1 + 3 * MSS, 1 + 5 * MSS), (1 + MSS, 1 + 2 * MSS)))
    c = h.conn
    assert c.scoreboard.ranges == [
        (Seq(local(1 + MSS)), Seq(local(1 + 2 * MSS))),
        (Seq(local(1 + 3 * MSS)), Seq(local(1 + 5 * MSS))),
    ]
    assert c.status()["sacked"] == 3 * MSS
    # A cumulative ACK past the first range drops it; past everything clears all.
    h.recv_seg(sack_ack(h, (1 + 3 * MSS, 1 + 5 * MSS), ack=1 + 2 * MSS))
    assert c.status()["sacked"] == 2 * MSS
    h.recv_seg(h.peer(ACK, 1, 1 + 6 * MSS))
    assert not c.scoreboard
    assert c.status()["sacked"] == 0


def test_fast_retransmit_resends_the_first_hole_only() -> None:
    """RFC 2018 5 with RFC 5681 3.2: three duplicate ACKs retransmit the first
    hole; the retransmission stops where the SACKed data starts."""
    h = six_segments()
    h.recv_seg(sack_ack(h, (1001, 1 + 2 * MSS)))
    h.recv_seg(sack_ack(h, (1001, 1 + 4 * MSS)))
    h.expect_nothing()
    h.recv_seg(sack_ack(h, (1001, 1 + 5 * MSS)))
    assert rel_out(h) == [(1, 1000)]  # not a full 1460-byte segment
    assert h.conn.cc.in_recovery
    assert h.conn.stats["fast_retransmits"] == 1


def test_without_sack_the_same_acks_resend_a_full_segment() -> None:
    """NewReno unchanged when SACK was not negotiated: blocks are ignored."""
    h = new_harness(True, SACK_CONFIG)
    h.conn.connect(h.now)
    h.take()
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=(MaxSegmentSize(MSS),)))
    h.take()
    h.conn.send(bytes(6 * MSS))
    h.take()
    for end in (2, 4, 5):
        h.recv_seg(sack_ack(h, (1001, 1 + end * MSS)))
    assert rel_out(h) == [(1, MSS)]
    assert not h.conn.scoreboard


def test_partial_ack_retransmits_the_next_hole_up_to_sacked_data() -> None:
    """RFC 6582 partial ACK: the next hole is resent at once, without the part the
    peer SACKed."""
    h = six_segments()
    for _ in range(3):
        h.recv_seg(sack_ack(h, (1 + MSS, 1 + 2 * MSS), (1 + 2 * MSS + 1000, 1 + 6 * MSS)))
    assert rel_out(h) == [(1, MSS)]
    h.now += 10_000
    h.recv_seg(sack_ack(h, (1 + 2 * MSS + 1000, 1 + 6 * MSS), ack=1 + 2 * MSS))
    assert rel_out(h) == [(1 + 2 * MSS, 1000)]
    assert h.conn.cc.in_recovery
    h.recv_seg(h.peer(ACK, 1, 1 + 6 * MSS))
    assert not h.conn.cc.in_recovery
    assert not h.conn.scoreboard


def test_fast_retransmit_with_timestamps_uses_1448_byte_segments() -> None:
    h = sack_established(SACK_TS_CONFIG)
    mss = h.conn.send_mss
    assert mss == MSS - 12
    h.conn.send(bytes(5 * mss))
    h.take()
    for _ in range(3):
        h.recv_seg(
            h.peer(
                ACK,
                1,
                1,
                options=(
                    NOP,
                    NOP,
                    Timestamps(PEER_TSVAL, 0),
                    NOP,
                    NOP,
                    Sack(((local(1 + mss), local(1 + 4 * mss)),)),
                ),
            )
        )
    (rtx,) = h.take()
    assert (rtx.seq, len(rtx.payload)) == (local(1), mss)
    assert h.conn.status()["sacked"] == 3 * mss


@pytest.mark.parametrize(
    "block",
    [
        (1 + 7 * MSS, 1 + 8 * MSS),  # beyond anything sent
        (1 + 3 * MSS, 1 + 2 * MSS),  # reversed
        (1 + 2 * MSS, 1 + 2 * MSS),  # empty
        (-1000, 0),  # entirely below SND.UNA (a D-SACK): not a hole report
    ],
)
def test_invalid_blocks_are_ignored(block: tuple[int, int]) -> None:
    h = six_segments()
    h.recv_seg(sack_ack(h, block))
    assert not h.conn.scoreboard
    assert h.state is State.ESTABLISHED


def test_a_block_reaching_below_snd_una_is_cut_there() -> None:
    h = six_segments()
    h.recv_seg(sack_ack(h, (1 + MSS, 1 + 3 * MSS), ack=1 + 2 * MSS))
    assert h.conn.scoreboard.ranges == [(Seq(local(1 + 2 * MSS)), Seq(local(1 + 3 * MSS)))]


def test_the_scoreboard_is_bounded() -> None:
    """A hostile peer SACKing every other byte cannot grow it without bound."""
    h = six_segments()
    for i in range(0, 200, 4):
        blocks = tuple((1 + 2 * (i + k) + 1, 1 + 2 * (i + k) + 2) for k in range(4))
        h.recv_seg(sack_ack(h, *blocks))
    assert len(h.conn.scoreboard.ranges) == SCOREBOARD_RANGES
    assert h.conn.status()["sacked"] == SCOREBOARD_RANGES


def test_retransmission_timeout_forgets_the_sacked_ranges() -> None:
    """RFC 2018 5.1: after a timeout the SACKed bits are turned off (the receiver may renege)."""
    h = six_segments()
    h.recv_seg(sack_ack(h, (1 + MSS, 1 + 2 * MSS)))
    assert h.conn.scoreboard
    h.advance(h.deadline or 0)
    assert h.conn.retries == 1
    assert not h.conn.scoreboard


# ---------------------------------------------------------------- the scoreboard alone


def test_scoreboard_merges_and_finds_holes() -> None:
    board = SackScoreboard()
    una, top = Seq(2**32 - 10), Seq(90)  # 100 bytes in flight, across the wrap
    board.update(((int(una + 30), int(una + 40)), (int(una + 10), int(una + 20))), una, top)
    assert board.first_hole(una, top) == (0, 10)
    board.update(((int(una + 20), int(una + 30)),), una, top)  # joins both
    assert board.ranges == [(una + 10, una + 40)]
    assert board.sacked_bytes == 30
    board.update(((int(una), int(una + 5)),), una, top)  # a block at SND.UNA itself
    assert board.first_hole(una, top) == (5, 10)
    board.update((), una + 40, top)
    assert board.first_hole(una + 40, top) == (0, 60)
    assert not board
    board.clear()
    assert board.sacked_bytes == 0


def test_acks_sacking_new_data_count_as_duplicates_whatever_their_window() -> None:
    """RFC 6675 2: with SACK, an ACK that SACKs new data is a duplicate ACK even
    when its window differs (RFC 5681's definition alone would not count it), as
    sack-shift-sacked-2-6-8-3-9-nofack.pkt expects from Linux."""
    h = six_segments()
    for window, end in ((1000, 2), (2000, 3), (3000, 4)):
        blocks = (local(1 + MSS), local(1 + end * MSS))
        h.recv_seg(h.peer(ACK, 1, 1, window=window, options=(NOP, NOP, Sack((blocks,)))))
    assert rel_out(h) == [(1, MSS)]
    assert h.conn.cc.in_recovery


def test_a_repeated_sack_with_another_window_is_not_a_duplicate() -> None:
    """No new SACK information and a changed window: a window update, not a dupack."""
    h = six_segments()
    block = ((local(1 + MSS), local(1 + 2 * MSS)),)
    for window in (1000, 2000, 3000):
        h.recv_seg(h.peer(ACK, 1, 1, window=window, options=(NOP, NOP, Sack(block))))
    assert h.conn.cc.dupacks == 1
    assert not h.conn.cc.in_recovery
