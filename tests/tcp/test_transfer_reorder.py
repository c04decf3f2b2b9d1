"""Out-of-order segments (SHLD-31, RFC 9293 3.10.7.4 seventh step) and the
immediate ACKs RFC 5681 4.2 asks for: a duplicate ACK for every segment above
a gap, an ACK at once for a segment that fills (part of) a gap, and an ACK for
an old duplicate segment.
"""

from __future__ import annotations

from helpers import ACK, FIN, PSH, REMOTE_ISS, Harness, established
from hypothesis import given, settings
from hypothesis import strategies as st

from synack.tcp.events import PeerFinished, Readable
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.trace.records import DropReason

BUFFER = 65535


def data(start: int, size: int) -> bytes:
    """Stream content as a function of the relative sequence number (so overlaps agree)."""
    return bytes((start + i) % 251 for i in range(size))


def deliver(h: Harness, start: int, size: int, flags: int = ACK) -> None:
    h.recv_seg(h.peer(ACK | (flags & (FIN | PSH)), start, 1, payload=data(start, size)))


def rcv_nxt(h: Harness) -> int:
    return h.conn.rcv_nxt - REMOTE_ISS


def test_out_of_order_segment_is_held_and_gets_a_duplicate_ack() -> None:
    """SHLD-31 and RFC 5681 4.2: held, not readable, ACKed at once with the old ACK
    (MAY-13: an ACK for an in-window segment not at the left edge)."""
    h = established()
    deliver(h, 1001, 1000)
    h.expect(h.mine(ACK, 1, 1))  # duplicate ACK, window unchanged (the edge stays)
    h.expect_nothing()
    assert rcv_nxt(h) == 1
    assert h.events() == []  # nothing readable yet
    assert h.conn.receive_buffer.out_of_order_bytes == 1000
    assert h.deadline is None  # no delayed ACK pending: it was sent


def test_every_out_of_order_segment_gets_its_own_duplicate_ack() -> None:
    h = established()
    for start in (3001, 2001, 1001):
        deliver(h, start, 1000)
        h.expect(h.mine(ACK, 1, 1))
    h.expect_nothing()
    assert h.conn.receive_buffer.out_of_order_bytes == 3000


def test_filling_the_gap_delivers_everything_and_acks_at_once() -> None:
    h = established()
    deliver(h, 1001, 1000)
    deliver(h, 2001, 1000)
    h.take()
    deliver(h, 1, 1000)
    # RFC 5681 4.2: a segment that fills a gap is ACKed immediately.
    h.expect(h.mine(ACK, 1, 3001, window=BUFFER - 3000))
    h.expect_nothing()
    assert rcv_nxt(h) == 3001
    assert h.events() == [Readable()]
    assert h.conn.recv(10_000) == data(1, 3000)
    assert h.conn.receive_buffer.out_of_order_bytes == 0


def test_partial_fill_acks_at_once_and_keeps_the_rest_held() -> None:
    h = established()
    deliver(h, 2001, 1000)
    h.take()
    deliver(h, 1, 500)  # fills part of the gap 1..2000
    h.expect(h.mine(ACK, 1, 501, window=BUFFER - 500))
    deliver(h, 501, 1500)
    h.expect(h.mine(ACK, 1, 3001, window=BUFFER - 3000))
    assert h.conn.recv(10_000) == data(1, 3000)


def test_overlapping_out_of_order_segments_are_merged() -> None:
    h = established()
    deliver(h, 2001, 1000)
    deliver(h, 2501, 1000)  # overlaps the first by 500
    deliver(h, 1801, 300)  # overlaps its start
    h.take()
    assert h.conn.receive_buffer.out_of_order_bytes == 3501 - 1801
    deliver(h, 1, 1800)
    assert rcv_nxt(h) == 3501
    assert h.conn.recv(10_000) == data(1, 3500)


def test_segment_overlapping_rcv_nxt_is_trimmed() -> None:
    """3.10.7.4: a segment starting before RCV.NXT but reaching beyond it is
    acceptable; the old part is trimmed off and the new part delivered once."""
    h = established()
    deliver(h, 1, 1000)
    deliver(h, 501, 1000)
    assert rcv_nxt(h) == 1501
    assert h.conn.recv(10_000) == data(1, 1500)


def test_old_duplicate_segment_is_acked_and_dropped() -> None:
    """3.10.7.4 first step: an unacceptable segment (entirely old) is answered
    with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped."""
    h = established()
    deliver(h, 1, 1000)
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, 1001, window=BUFFER - 1000))
    deliver(h, 1, 1000)  # the peer retransmits: our ACK was lost
    h.expect(h.mine(ACK, 1, 1001, window=BUFFER - 1000))
    h.expect_nothing()
    assert rcv_nxt(h) == 1001
    assert len(h.conn.receive_buffer) == 1000
    assert h.conn.stats[DropReason.SEQ_UNACCEPTABLE.name] == 1


def test_duplicate_out_of_order_segment_is_held_once() -> None:
    h = established()
    deliver(h, 1001, 1000)
    h.expect(h.mine(ACK, 1, 1))
    deliver(h, 1001, 1000)
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.receive_buffer.out_of_order_bytes == 1000
    deliver(h, 1, 1000)
    assert h.conn.recv(10_000) == data(1, 2000)


def test_out_of_order_fin_is_processed_once_the_data_before_it_arrives() -> None:
    """3.10.7.4 eighth step: a FIN is only acted on when it is in order; until then
    it is held with its data (SHLD-31) and the state does not change."""
    h = established()
    deliver(h, 1001, 1000, FIN)
    h.expect(h.mine(ACK, 1, 1))
    assert h.state is State.ESTABLISHED
    assert not h.conn.fin_received
    assert h.events() == []
    deliver(h, 1, 1000)
    # Data and FIN: RCV.NXT advances over 2000 bytes and the FIN; the right edge
    # stays where it was (the FIN took one sequence number of the window).
    h.expect(h.mine(ACK, 1, 2002, window=BUFFER - 2001))
    h.expect_nothing()
    assert h.state is State.CLOSE_WAIT
    assert h.events() == [Readable(), PeerFinished()]
    assert h.conn.recv(10_000) == data(1, 2000)
    assert h.conn.recv(10_000) == b""  # end of stream


def test_out_of_order_bare_fin_waits_for_missing_data() -> None:
    h = established()
    h.recv_seg(h.peer(ACK | FIN, 1001, 1))
    h.expect(h.mine(ACK, 1, 1))
    assert h.state is State.ESTABLISHED
    deliver(h, 1, 600)
    # Part of the gap below the FIN is filled: ACK at once (RFC 5681 4.2).
    h.expect(h.mine(ACK, 1, 601, window=BUFFER - 600))
    assert h.state is State.ESTABLISHED
    deliver(h, 601, 400)
    h.expect(h.mine(ACK, 1, 1002, window=BUFFER - 1001))
    assert h.state is State.CLOSE_WAIT
    assert h.conn.rcv_nxt == Seq(REMOTE_ISS + 1002)


def test_retransmitted_fin_after_in_order_fin_is_acked_not_reprocessed() -> None:
    h = established()
    deliver(h, 1, 100, FIN)
    h.expect(h.mine(ACK, 1, 102, window=BUFFER - 101))
    h.events()
    deliver(h, 1, 100, FIN)  # our ACK was lost; the peer retransmits
    h.expect(h.mine(ACK, 1, 102, window=BUFFER - 101))
    assert h.events() == []  # no second PeerFinished
    assert h.state is State.CLOSE_WAIT


@settings(max_examples=80, deadline=None)
@given(
    st.permutations(range(8)),
    st.lists(st.integers(0, 7), max_size=6),
    st.booleans(),
)
def test_any_arrival_order_delivers_the_stream_once(
    order: list[int], duplicates: list[int], with_fin: bool
) -> None:
    """Property (SHLD-31): eight segments in any order, some duplicated, give the
    exact stream once, in order; the FIN (on the last segment) takes effect only
    when everything before it is in."""
    h = established()
    size = 700
    for index in [*order, *duplicates]:
        last = index == 7
        deliver(h, 1 + index * size, size, FIN if (last and with_fin) else ACK)
        complete = rcv_nxt(h) >= 1 + 8 * size
        assert h.conn.fin_received == (with_fin and complete)
        h.take()
    assert h.conn.recv(100_000) == data(1, 8 * size)
    assert h.conn.receive_buffer.out_of_order_bytes == 0
    assert h.state is (State.CLOSE_WAIT if with_fin else State.ESTABLISHED)
    assert rcv_nxt(h) == 1 + 8 * size + (1 if with_fin else 0)
