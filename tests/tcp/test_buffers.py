"""SendBuffer and ReceiveBuffer (RFC 9293 3.8.6, 3.10.7.4 "segment text"; SHLD-31; RFC 2018)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synack.tcp.buffers import MAX_SACK_BLOCKS, ReceiveBuffer, SendBuffer

# --------------------------------------------------------------------------
# SendBuffer
# --------------------------------------------------------------------------


def test_send_buffer_starts_empty() -> None:
    buffer = SendBuffer(10)
    assert len(buffer) == 0
    assert buffer.free == 10
    assert buffer.capacity == 10
    assert buffer.peek(0, 5) == b""


def test_send_write_takes_up_to_free() -> None:
    buffer = SendBuffer(10)
    assert buffer.write(b"hello") == 5
    assert buffer.write(b"world!!") == 5
    assert len(buffer) == 10
    assert buffer.free == 0
    assert buffer.write(b"more") == 0
    assert buffer.peek(0, 100) == b"helloworld"


def test_send_write_accepts_bytearray_and_memoryview() -> None:
    buffer = SendBuffer(100)
    assert buffer.write(bytearray(b"ab")) == 2
    assert buffer.write(memoryview(b"xcdx")[1:3]) == 2
    assert buffer.write(b"") == 0
    assert buffer.peek(0, 10) == b"abcd"


def test_send_write_casts_wide_memoryviews_to_bytes() -> None:
    buffer = SendBuffer(100)
    wide = memoryview(bytearray(8)).cast("I")  # 2 items of 4 bytes
    assert buffer.write(wide) == 8
    assert len(buffer) == 8


def test_send_peek_clips_and_copies() -> None:
    buffer = SendBuffer(100)
    buffer.write(b"0123456789")
    assert buffer.peek(3, 4) == b"3456"
    assert buffer.peek(8, 10) == b"89"
    assert buffer.peek(10, 1) == b""
    assert buffer.peek(50, 1) == b""
    assert buffer.peek(2, 0) == b""
    piece = buffer.peek(0, 3)
    assert type(piece) is bytes
    buffer.consume(3)
    assert piece == b"012"  # a copy, unaffected by later changes


def test_send_consume_moves_the_front() -> None:
    buffer = SendBuffer(10)
    buffer.write(b"0123456789")
    buffer.consume(4)
    assert len(buffer) == 6
    assert buffer.free == 4
    assert buffer.peek(0, 3) == b"456"
    assert buffer.write(b"abcdef") == 4
    assert buffer.peek(0, 100) == b"456789abcd"
    buffer.consume(0)
    buffer.consume(10)
    assert len(buffer) == 0
    assert buffer.peek(0, 1) == b""


def test_send_bad_calls_raise_value_error() -> None:
    buffer = SendBuffer(10)
    buffer.write(b"abc")
    with pytest.raises(ValueError):
        buffer.consume(4)
    with pytest.raises(ValueError):
        buffer.consume(-1)
    with pytest.raises(ValueError):
        buffer.peek(-1, 2)
    with pytest.raises(ValueError):
        buffer.peek(0, -2)
    with pytest.raises(ValueError):
        SendBuffer(-1)
    with pytest.raises(ValueError):
        buffer.capacity = -5
    assert buffer.peek(0, 10) == b"abc"  # unchanged by the failed calls


def test_send_capacity_is_settable() -> None:
    buffer = SendBuffer(4)
    buffer.write(b"abcd")
    buffer.capacity = 2  # SO_SNDBUF lowered: nothing is discarded
    assert len(buffer) == 4
    assert buffer.free == 0
    assert buffer.write(b"x") == 0
    buffer.capacity = 8
    assert buffer.free == 4
    assert buffer.write(b"efghij") == 4
    assert buffer.peek(0, 100) == b"abcdefgh"


@given(
    st.lists(
        st.tuples(st.sampled_from(["write", "consume"]), st.integers(0, 300)),
        max_size=60,
    ),
    st.integers(0, 1000),
)
def test_send_buffer_matches_a_model(operations: list[tuple[str, int]], capacity: int) -> None:
    buffer = SendBuffer(capacity)
    model = bytearray()
    counter = 0
    for kind, amount in operations:
        if kind == "write":
            data = bytes((counter + i) & 0xFF for i in range(amount))
            counter += amount
            taken = buffer.write(data)
            assert taken == min(amount, max(0, capacity - len(model)))
            model += data[:taken]
        else:
            amount = min(amount, len(model))
            buffer.consume(amount)
            del model[:amount]
        assert len(buffer) == len(model)
        assert buffer.free == max(0, capacity - len(model))
        assert buffer.peek(0, len(model) + 5) == bytes(model)
        assert buffer.peek(len(model) // 2, 7) == bytes(model[len(model) // 2 :][:7])


def test_send_many_small_consumes_are_not_quadratic() -> None:
    size = 8 * 1024 * 1024
    buffer = SendBuffer(size)
    buffer.write(bytes(size))
    for _ in range(size // 64):  # 131072 tiny ACKs
        buffer.consume(64)
    assert len(buffer) == 0


# --------------------------------------------------------------------------
# ReceiveBuffer: in order
# --------------------------------------------------------------------------


def test_receive_buffer_starts_empty() -> None:
    buffer = ReceiveBuffer(100)
    assert len(buffer) == 0
    assert buffer.out_of_order_bytes == 0
    assert buffer.free == 100
    assert buffer.read(10) == b""
    assert buffer.sack_blocks() == []


def test_receive_in_order_add_and_read() -> None:
    buffer = ReceiveBuffer(100)
    assert buffer.add(0, b"hello ") == 6
    assert buffer.add(0, memoryview(b"world")) == 5
    assert len(buffer) == 11
    assert buffer.free == 89
    assert buffer.read(3) == b"hel"
    assert buffer.read(100) == b"lo world"
    assert buffer.read(100) == b""
    assert buffer.free == 100


def test_receive_read_returns_bytes_copy() -> None:
    buffer = ReceiveBuffer(100)
    source = bytearray(b"abcdef")
    buffer.add(0, source)
    source[0] = ord("X")  # the buffer kept its own copy
    data = buffer.read(3)
    assert type(data) is bytes
    assert data == b"abc"
    assert buffer.read(0) == b""
    assert buffer.read(10) == b"def"


def test_receive_capacity_limits_in_order_data() -> None:
    buffer = ReceiveBuffer(10)
    assert buffer.add(0, b"0123456789abc") == 10
    assert buffer.free == 0
    assert buffer.add(0, b"x") == 0  # zero window: nothing fits
    assert buffer.read(4) == b"0123"
    assert buffer.add(0, b"abcdefg") == 4
    assert buffer.read(100) == b"456789abcd"


def test_receive_empty_data_is_a_no_op() -> None:
    buffer = ReceiveBuffer(10)
    assert buffer.add(0, b"") == 0
    assert buffer.add(5, b"") == 0
    assert buffer.out_of_order_bytes == 0
    assert buffer.sack_blocks() == []


def test_receive_bad_calls_raise_value_error() -> None:
    buffer = ReceiveBuffer(10)
    with pytest.raises(ValueError):
        buffer.add(-1, b"abc")
    with pytest.raises(ValueError):
        buffer.read(-1)
    with pytest.raises(ValueError):
        ReceiveBuffer(-3)
    with pytest.raises(ValueError):
        buffer.capacity = -1
    assert len(buffer) == 0


# --------------------------------------------------------------------------
# ReceiveBuffer: out of order (SHLD-31)
# --------------------------------------------------------------------------


def test_receive_out_of_order_is_held_then_delivered() -> None:
    buffer = ReceiveBuffer(100)
    assert buffer.add(5, b"fghij") == 0
    assert len(buffer) == 0
    assert buffer.out_of_order_bytes == 5
    assert buffer.free == 95
    assert buffer.sack_blocks() == [(5, 10)]
    assert buffer.add(0, b"abcde") == 10  # fills the hole: both parts delivered
    assert buffer.out_of_order_bytes == 0
    assert buffer.sack_blocks() == []
    assert buffer.read(100) == b"abcdefghij"


def test_receive_offsets_are_relative_to_the_moving_edge() -> None:
    buffer = ReceiveBuffer(100)
    buffer.add(0, b"abc")
    assert buffer.add(2, b"fg") == 0  # stream bytes 5..6
    assert buffer.sack_blocks() == [(2, 4)]
    buffer.read(3)  # reading does not move the receive edge
    assert buffer.sack_blocks() == [(2, 4)]
    assert buffer.add(0, b"d") == 1
    assert buffer.sack_blocks() == [(1, 3)]
    assert buffer.add(0, b"e") == 3
    assert buffer.read(100) == b"defg"


def test_receive_partial_fill_keeps_the_rest_out_of_order() -> None:
    buffer = ReceiveBuffer(100)
    buffer.add(10, b"KLMNO")
    assert buffer.add(0, b"abc") == 3
    assert buffer.sack_blocks() == [(7, 12)]
    assert buffer.out_of_order_bytes == 5
    assert buffer.free == 100 - 3 - 5


def test_receive_in_order_segment_overlapping_held_data() -> None:
    buffer = ReceiveBuffer(100)
    buffer.add(3, b"DEF")  # bytes 3..5 held
    buffer.add(8, b"IJ")  # bytes 8..9 held
    # In order, overlapping the first block and ending inside the gap after it.
    assert buffer.add(0, b"abcdefg") == 7
    assert buffer.read(100) == b"abcDEFg"  # held bytes win (first copy kept)
    assert buffer.sack_blocks() == [(1, 3)]
    assert buffer.add(0, b"h") == 3
    assert buffer.read(100) == b"hIJ"


def test_receive_in_order_segment_spanning_everything() -> None:
    buffer = ReceiveBuffer(100)
    buffer.add(2, b"C")
    buffer.add(5, b"FG")
    buffer.add(9, b"J")
    assert buffer.out_of_order_bytes == 4
    assert buffer.add(0, b"abcdefghijkl") == 12
    assert buffer.out_of_order_bytes == 0
    assert buffer.sack_blocks() == []
    assert buffer.read(100) == b"abCdeFGhiJkl"


def test_receive_duplicates_are_counted_once() -> None:
    buffer = ReceiveBuffer(100)
    buffer.add(10, b"abcde")
    buffer.add(10, b"abcde")
    buffer.add(11, b"bc")
    assert buffer.out_of_order_bytes == 5
    assert buffer.free == 95
    assert buffer.sack_blocks() == [(10, 15)]


def test_receive_overlap_fills_gaps_only() -> None:
    buffer = ReceiveBuffer(100)
    buffer.add(2, b"CD")  # 2..3
    buffer.add(6, b"GH")  # 6..7
    assert buffer.out_of_order_bytes == 4
    buffer.add(1, b"xxxxxxxxxx")  # 1..10: fills 1, 4..5, 8..10
    assert buffer.out_of_order_bytes == 10
    assert buffer.sack_blocks() == [(1, 11)]
    assert buffer.add(0, b"a") == 11
    assert buffer.read(100) == b"axCDxxGHxxx"


def test_receive_adjacent_blocks_merge_into_one_sack_block() -> None:
    buffer = ReceiveBuffer(100)
    buffer.add(4, b"EF")
    buffer.add(6, b"GH")  # touches the first on the right
    buffer.add(2, b"CD")  # touches on the left
    assert buffer.sack_blocks() == [(2, 8)]
    assert buffer.out_of_order_bytes == 6
    assert buffer.add(0, b"ab") == 8
    assert buffer.read(100) == b"abCDEFGH"


def test_receive_window_limits_out_of_order_data() -> None:
    buffer = ReceiveBuffer(10)
    assert buffer.add(8, b"IJKL") == 0  # only 8..9 fit
    assert buffer.out_of_order_bytes == 2
    assert buffer.sack_blocks() == [(8, 10)]
    assert buffer.add(10, b"x") == 0  # entirely outside the window
    assert buffer.add(50, b"x") == 0
    assert buffer.out_of_order_bytes == 2
    assert buffer.free == 8
    assert buffer.add(0, b"abcdefghXXXX") == 10
    assert buffer.free == 0
    assert buffer.read(100) == b"abcdefghIJ"


def test_receive_window_counts_unread_in_order_bytes() -> None:
    buffer = ReceiveBuffer(10)
    buffer.add(0, b"abcdef")  # 6 unread: window is 4
    assert buffer.add(2, b"XYZ") == 0  # offsets 2..3 fit, 4 does not
    assert buffer.out_of_order_bytes == 2
    assert buffer.free == 2
    assert buffer.add(0, b"gh") == 4
    assert buffer.free == 0
    assert buffer.read(100) == b"abcdefghXY"


def test_receive_lowered_capacity_stores_nothing_new() -> None:
    buffer = ReceiveBuffer(10)
    buffer.add(0, b"abcdef")
    buffer.capacity = 4
    assert buffer.free == 0
    assert buffer.add(0, b"g") == 0
    assert buffer.add(3, b"g") == 0
    assert buffer.read(100) == b"abcdef"
    assert buffer.add(0, b"ghijkl") == 4


# --------------------------------------------------------------------------
# SACK block ordering (RFC 2018 section 4)
# --------------------------------------------------------------------------


def test_sack_most_recent_block_first() -> None:
    buffer = ReceiveBuffer(1000)
    buffer.add(10, b"a")
    buffer.add(30, b"b")
    buffer.add(20, b"c")
    assert buffer.sack_blocks() == [(20, 21), (30, 31), (10, 11)]
    buffer.add(31, b"d")  # extends the block at 30: it becomes most recent
    assert buffer.sack_blocks() == [(30, 32), (20, 21), (10, 11)]


def test_sack_duplicate_arrival_makes_its_block_most_recent() -> None:
    buffer = ReceiveBuffer(1000)
    buffer.add(10, b"a")
    buffer.add(20, b"b")
    buffer.add(10, b"a")  # a duplicate still triggers the ACK that reports it first
    assert buffer.sack_blocks() == [(10, 11), (20, 21)]


def test_sack_merge_reports_the_joined_block_first() -> None:
    buffer = ReceiveBuffer(1000)
    buffer.add(10, b"aa")
    buffer.add(14, b"bb")
    buffer.add(30, b"cc")
    buffer.add(12, b"xx")  # joins 10..11 and 14..15
    assert buffer.sack_blocks() == [(10, 16), (30, 32)]


def test_sack_at_most_four_blocks_then_fill_in_stream_order() -> None:
    buffer = ReceiveBuffer(1000)
    for offset in (10, 20, 30, 40, 50, 60):
        buffer.add(offset, b"z")
    assert len(buffer.sack_blocks()) == MAX_SACK_BLOCKS == 4
    assert buffer.sack_blocks() == [(60, 61), (50, 51), (40, 41), (30, 31)]
    # Repeated arrivals into two blocks: the others are repeated in recency order.
    for _ in range(10):
        buffer.add(60, b"z")
        buffer.add(50, b"z")
    assert buffer.sack_blocks() == [(50, 51), (60, 61), (40, 41), (30, 31)]


def test_sack_blocks_fill_in_stream_order_when_recency_is_forgotten() -> None:
    buffer = ReceiveBuffer(1000)
    buffer.add(200, b"z")
    for offset in range(10, 90, 10):  # eight newer arrivals push 200 out of the recent list
        buffer.add(offset, b"z")
    assert buffer.add(0, bytes(75)) == 75  # delivers everything up to 75
    assert buffer.sack_blocks() == [(5, 6), (125, 126)]


def test_sack_blocks_forget_delivered_data() -> None:
    buffer = ReceiveBuffer(1000)
    buffer.add(5, b"x")
    buffer.add(2, b"x")
    assert buffer.sack_blocks() == [(2, 3), (5, 6)]
    buffer.add(0, b"ab")  # delivers 0..2, the most recent block is gone
    assert buffer.sack_blocks() == [(2, 3)]
    buffer.add(0, b"cd")
    assert buffer.sack_blocks() == []


# --------------------------------------------------------------------------
# Property tests: any arrival order reassembles the exact stream
# --------------------------------------------------------------------------


@st.composite
def segmented_stream(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, int]]]:
    """A stream and a shuffled list of (start, end) segments covering it, with overlaps."""
    length = draw(st.integers(1, 400))
    stream = draw(st.binary(min_size=length, max_size=length))
    segments: list[tuple[int, int]] = []
    position = 0
    while position < length:
        size = draw(st.integers(1, 40))
        segments.append((position, min(length, position + size)))
        position += size
    extra = draw(st.lists(st.tuples(st.integers(0, length - 1), st.integers(1, 60)), max_size=15))
    segments += [(start, min(length, start + size)) for start, size in extra]
    order = draw(st.permutations(segments))
    return stream, list(order)


class Model:
    """A byte-at-a-time reference receive buffer (first copy of a byte wins)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ready = bytearray()
        self.next = 0
        self.held: dict[int, int] = {}

    def add(self, offset: int, data: bytes) -> int:
        room = max(0, self.capacity - len(self.ready) - offset)
        for index, byte in enumerate(data[:room]):
            self.held.setdefault(self.next + offset + index, byte)
        before = self.next
        while self.next in self.held:
            self.ready.append(self.held.pop(self.next))
            self.next += 1
        return self.next - before

    def ranges(self) -> list[tuple[int, int]]:
        result: list[tuple[int, int]] = []
        for position in sorted(self.held):
            if result and result[-1][1] == position:
                result[-1] = (result[-1][0], position + 1)
            else:
                result.append((position, position + 1))
        return [(start - self.next, end - self.next) for start, end in result]


def _check_against_model(buffer: ReceiveBuffer, model: Model) -> None:
    assert len(buffer) == len(model.ready)
    assert buffer.out_of_order_bytes == len(model.held)
    assert buffer.free == max(0, model.capacity - len(model.ready) - len(model.held))
    ranges = model.ranges()
    blocks = buffer.sack_blocks()
    assert len(blocks) == min(len(ranges), MAX_SACK_BLOCKS)
    assert len(set(blocks)) == len(blocks)
    assert set(blocks) <= set(ranges)


def _deliver(buffer: ReceiveBuffer, model: Model, stream: bytes, start: int, end: int) -> None:
    """Hand segment [start, end) of the stream to both, trimmed like a connection would."""
    start = max(start, model.next)  # the connection trims already-received bytes
    if start >= end:
        return
    data = stream[start:end]
    offset = start - model.next
    grew = buffer.add(offset, memoryview(data))
    assert grew == model.add(offset, data)
    if grew == 0 and offset < model.capacity - len(model.ready):
        # RFC 2018 section 4: the block holding the latest arrival comes first.
        first = buffer.sack_blocks()[0]
        assert first[0] <= offset < first[1]


@given(segmented_stream())
def test_any_arrival_order_reassembles_the_stream(
    case: tuple[bytes, list[tuple[int, int]]],
) -> None:
    stream, segments = case
    buffer = ReceiveBuffer(len(stream))
    model = Model(len(stream))
    for start, end in segments:
        _deliver(buffer, model, stream, start, end)
        _check_against_model(buffer, model)
    assert buffer.out_of_order_bytes == 0
    assert buffer.sack_blocks() == []
    assert buffer.read(len(stream) + 1) == stream


@given(segmented_stream(), st.integers(1, 120), st.lists(st.integers(0, 50), max_size=200))
@settings(max_examples=200)
def test_reassembly_with_small_window_and_reads(
    case: tuple[bytes, list[tuple[int, int]]], capacity: int, reads: list[int]
) -> None:
    """Window-limited: bytes beyond the window are dropped and resent later, as TCP does."""
    stream, segments = case
    buffer = ReceiveBuffer(capacity)
    model = Model(capacity)
    received = bytearray()
    reads_iter = iter(reads)
    pending = list(segments)
    rounds = 0
    while len(received) < len(stream):
        rounds += 1
        assert rounds < 10_000
        for start, end in pending:
            _deliver(buffer, model, stream, start, end)
            _check_against_model(buffer, model)
            amount = next(reads_iter, 30)
            data = buffer.read(amount)
            assert data == bytes(model.ready[:amount])
            del model.ready[:amount]
            received += data
        received += buffer.read(len(stream))
        model.ready.clear()
        # "Retransmit" everything not yet received, in the same shuffled order.
        pending = [(s, e) for s, e in segments if e > model.next]
        if not pending and model.next < len(stream):
            pending = [(model.next, len(stream))]
    assert bytes(received) == stream


def test_reverse_order_arrival_of_a_full_window() -> None:
    segment = 1460
    count = 180
    stream = bytes(range(256)) * (segment * count // 256 + 1)
    stream = stream[: segment * count]
    buffer = ReceiveBuffer(len(stream))
    for index in reversed(range(1, count)):
        assert buffer.add(index * segment, stream[index * segment : (index + 1) * segment]) == 0
    assert buffer.sack_blocks() == [(segment, segment * count)]
    assert buffer.add(0, stream[:segment]) == len(stream)
    assert buffer.read(len(stream)) == stream


def test_bulk_in_order_transfer_is_linear() -> None:
    """50 MB through a 256 KB buffer in 1460-byte segments, read in 64 KB chunks."""
    segment = bytes(1460)
    buffer = ReceiveBuffer(256 * 1024)
    total = 0
    while total < 50 * 1024 * 1024:
        while buffer.free >= len(segment):
            buffer.add(0, segment)
        total += len(buffer.read(64 * 1024))
