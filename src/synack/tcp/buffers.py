"""Send and receive buffers for one connection (RFC 9293 3.8.6, 3.10.7.4; SHLD-31).

Both buffers count in bytes relative to a moving edge, never in sequence
numbers: the connection translates (``offset = seq - rcv_nxt``), so sequence
wrap-around never reaches this module.

Both keep a ``bytearray`` plus a read offset and compact (``del buf[:off]``)
only when the offset passes half the array, so removing bytes from the front
is amortised O(bytes removed) however large the buffer is.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque

BytesLike = bytes | bytearray | memoryview

# RFC 2018 section 3: at most 4 SACK blocks fit in the option (3 with timestamps).
MAX_SACK_BLOCKS = 4
# How many recently changed out-of-order positions are remembered for SACK ordering.
_RECENT_KEPT = 8


def byte_view(data: BytesLike) -> memoryview:
    """A flat one-byte-per-item view of ``data`` (TypeError if not contiguous)."""
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def _check_capacity(value: int) -> int:
    if value < 0:
        raise ValueError(f"buffer capacity must be >= 0, not {value}")
    return value


class SendBuffer:
    """Bytes the application wrote that are not yet acknowledged.

    Byte 0 of the buffer is the octet at sequence number ``start`` (which the
    connection keeps equal to SND.UNA, or to ISS+1 before the SYN is ACKed).
    The buffer holds both sent-but-unacknowledged and not-yet-sent bytes; it
    does not know which is which (``SND.NXT - SND.UNA`` tells the caller).
    ``capacity`` is SO_SNDBUF and may be changed at any time; lowering it
    below ``len(self)`` discards nothing, it only makes ``free`` zero.
    """

    __slots__ = ("_buf", "_capacity", "_start", "consumed")

    def __init__(self, capacity: int) -> None:
        self._buf = bytearray()
        self._start = 0  # index in _buf of byte 0
        self._capacity = _check_capacity(capacity)
        self.consumed = 0  # bytes consumed so far: the stream offset of byte 0

    @property
    def capacity(self) -> int:
        """The most bytes ``write`` will hold (SO_SNDBUF); ValueError if set < 0."""
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        self._capacity = _check_capacity(value)

    def __len__(self) -> int:
        """Bytes held: unacknowledged plus unsent."""
        return len(self._buf) - self._start

    @property
    def free(self) -> int:
        """Room left for ``write``: ``max(0, capacity - len(self))``."""
        return max(0, self._capacity - len(self._buf) + self._start)

    def write(self, data: BytesLike) -> int:
        """Append up to ``free`` bytes of ``data``; return how many were taken."""
        view = byte_view(data)
        count = min(len(view), self.free)
        if count:
            self._buf += view[:count]
        return count

    def append(self, data: BytesLike) -> None:
        """Append all of ``data`` whatever ``free`` says (the caller did its own
        accounting, as Linux's send-buffer rules do)."""
        self._buf += byte_view(data)

    def peek(self, offset: int, length: int) -> bytes:
        """A copy of bytes ``[offset, offset + length)``, clipped to what is held.

        ValueError if ``offset`` or ``length`` is negative.
        """
        if offset < 0 or length < 0:
            raise ValueError(f"peek({offset}, {length}): offset and length must be >= 0")
        begin = self._start + offset
        end = min(begin + length, len(self._buf))
        if begin >= end:
            return b""
        return bytes(self._buf[begin:end])

    def consume(self, count: int) -> None:
        """Drop ``count`` bytes from the front (they were acknowledged).

        ValueError unless ``0 <= count <= len(self)``.
        """
        if not 0 <= count <= len(self):
            raise ValueError(f"consume({count}) with {len(self)} bytes held")
        self._start += count
        self.consumed += count
        if self._start > len(self._buf) >> 1:  # compact: amortised O(1) per byte
            del self._buf[: self._start]
            self._start = 0


class ReceiveBuffer:
    """In-order bytes waiting for the application plus out-of-order segments
    held for later (SHLD-31).  ``capacity`` is SO_RCVBUF.

    Positions inside are absolute stream offsets (bytes since the buffer was
    created), so held out-of-order data keeps its place while the in-order
    edge moves.  Out-of-order data is kept twice, cheaply:

    * pieces: a sorted list of non-overlapping ``(start, bytes)`` chunks, as
      they arrived (only bytes not already held are stored, so the first copy
      of any byte wins);
    * ranges: the maximal contiguous ``[start, end)`` runs those pieces form,
      which are what SACK reports and what moves to the in-order part when
      the in-order edge reaches them.

    Adding a segment costs O(log n + its size) plus list slice moves; every
    byte is copied once into a piece and once into the in-order part.

    Memory is also counted the way Linux charges sk_rmem_alloc: each add
    brings a ``truesize`` (what the kernel's skb would cost, 0 when the caller
    does not count), held until the application has read past the end of
    that data (out-of-order memory moves along with its bytes).  An add that
    overlapped data already held leaves the first overlap in ``duplicate``
    for D-SACK (RFC 2883).
    """

    __slots__ = (
        "_buf",
        "_capacity",
        "_chunks",
        "_duplicate",
        "_next",
        "_ooo_memory",
        "_out_of_order",
        "_piece_data",
        "_piece_starts",
        "_range_ends",
        "_range_starts",
        "_recent",
        "_start",
        "memory",
    )

    def __init__(self, capacity: int) -> None:
        self._buf = bytearray()  # in-order bytes, from index _start
        self._start = 0
        self._capacity = _check_capacity(capacity)
        self._next = 0  # absolute position of the next expected byte (RCV.NXT)
        self._out_of_order = 0  # bytes held in pieces
        self._piece_starts: list[int] = []
        self._piece_data: list[bytes] = []
        self._range_starts: list[int] = []
        self._range_ends: list[int] = []
        self._recent: list[int] = []  # positions of recent arrivals, newest first
        self.memory = 0  # truesize charged for everything held (Linux sk_rmem_alloc)
        self._chunks: deque[tuple[int, int]] = deque()  # in-order (end position, truesize)
        self._ooo_memory = 0  # the part of ``memory`` charged to out-of-order data
        self._duplicate: tuple[int, int] | None = None

    @property
    def capacity(self) -> int:
        """SO_RCVBUF: in-order plus out-of-order bytes never exceed it; ValueError if < 0."""
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        self._capacity = _check_capacity(value)

    def __len__(self) -> int:
        """In-order bytes ready to read."""
        return len(self._buf) - self._start

    @property
    def out_of_order_bytes(self) -> int:
        """Bytes held beyond the in-order part (each byte counted once)."""
        return self._out_of_order

    @property
    def free(self) -> int:
        """``max(0, capacity - len(self) - out_of_order_bytes)``: the window to advertise."""
        return max(0, self._capacity - len(self) - self._out_of_order)

    def peek(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` in-order bytes, left in the buffer (MSG_PEEK)."""
        if max_bytes < 0:
            raise ValueError(f"peek({max_bytes}): max_bytes must be >= 0")
        return bytes(self._buf[self._start : self._start + max_bytes])

    def read(self, max_bytes: int) -> bytes:
        """Remove and return up to ``max_bytes`` in-order bytes (ValueError if negative)."""
        if max_bytes < 0:
            raise ValueError(f"read({max_bytes}): max_bytes must be >= 0")
        begin = self._start
        end = min(begin + max_bytes, len(self._buf))
        if begin >= end:
            return b""
        data = bytes(self._buf[begin:end])
        if self._chunks:
            read_to = self._next - (len(self._buf) - end)  # absolute position read up to
            chunks = self._chunks
            while chunks and chunks[0][0] <= read_to:
                self.memory -= chunks.popleft()[1]
        self._start = end
        if end > len(self._buf) >> 1:  # compact: amortised O(1) per byte
            del self._buf[:end]
            self._start = 0
        return data

    def add(self, offset: int, data: BytesLike, *, clip: bool = True, truesize: int = 0) -> int:
        """Store ``data`` whose first byte is ``offset`` bytes after the next expected byte.

        ``offset >= 0`` (ValueError otherwise); 0 means in order.  With
        ``clip``, bytes beyond ``capacity`` counted from the next expected byte
        (``offset + i >= capacity - len(self)``) are not stored: they are
        outside the window (without, the caller has judged memory itself).
        Bytes already held out of order are kept (the first copy wins) and new
        bytes fill the gaps between them.  When the in-order edge advances,
        out-of-order data that became contiguous joins the in-order part.
        ``truesize`` is charged to ``memory`` until the data is read.
        Returns how much the in-order part grew (the caller advances RCV.NXT
        by that).
        """
        if offset < 0:
            raise ValueError(f"add({offset}, ...): offset must be >= 0")
        view = byte_view(data)
        self._duplicate = None
        if clip:
            room = self._capacity - len(self) - offset
            if room <= 0 or not len(view):
                return 0
            if len(view) > room:
                view = view[:room]
        elif not len(view):
            return 0
        self.memory += truesize
        if offset:
            self._ooo_memory += truesize
            self._add_out_of_order(self._next + offset, view)
            return 0
        before = self._next
        if not self._range_starts:  # the common case: nothing held out of order
            self._buf += view
            self._next += len(view)
            if truesize:
                self._chunks.append((self._next, truesize))
            return len(view)
        if truesize:  # before _advance adds the out-of-order data's own chunk
            self._chunks.append((before + len(view), truesize))
        gap = self._range_starts[0] - self._next
        if len(view) <= gap:
            self._buf += view
            self._next += len(view)
        else:
            self._buf += view[:gap]
            self._next += gap
            self._add_out_of_order(self._next, view[gap:])
        self._advance()
        return self._next - before

    def take_duplicate(self) -> tuple[int, int] | None:
        """The first stretch of the last add that was already held, as offsets
        ``(start, end)`` from the next expected byte (negative once delivered),
        or None; reading it clears it."""
        duplicate = self._duplicate
        if duplicate is None:
            return None
        self._duplicate = None
        return duplicate[0] - self._next, duplicate[1] - self._next

    @property
    def highest_end(self) -> int:
        """Offset from the next expected byte of the end of the highest
        out-of-order data held (0 when none)."""
        return self._range_ends[-1] - self._next if self._range_ends else 0

    def sack_blocks(self) -> list[tuple[int, int]]:
        """Out-of-order ranges as ``(start_offset, end_offset)`` from the next expected byte.

        At most 4, most recently changed first (RFC 2018 section 4: the first
        block holds the latest arrival, then the blocks reported most recently);
        remaining slots are filled with the other ranges in stream order.
        """
        starts = self._range_starts
        if not starts:
            return []
        ends = self._range_ends
        chosen: list[int] = []
        for position in self._recent:
            if position < self._next:
                continue  # delivered in order since
            index = bisect_right(starts, position) - 1
            if index >= 0 and position < ends[index] and index not in chosen:
                chosen.append(index)
                if len(chosen) == MAX_SACK_BLOCKS:
                    break
        index = 0
        while len(chosen) < MAX_SACK_BLOCKS and index < len(starts):
            if index not in chosen:
                chosen.append(index)
            index += 1
        edge = self._next
        return [(starts[i] - edge, ends[i] - edge) for i in chosen]

    # --- internals -------------------------------------------------------

    def _add_out_of_order(self, start: int, view: memoryview) -> None:
        """Hold ``view`` (absolute ``start`` >= the next expected byte), filling gaps only."""
        end = start + len(view)
        # RFC 2883: remember the first stretch of this add that is already held.
        range_starts = self._range_starts
        range_ends = self._range_ends
        index = bisect_right(range_ends, start)
        if index < len(range_starts) and range_starts[index] < end:
            self._duplicate = (max(start, range_starts[index]), min(end, range_ends[index]))
        starts = self._piece_starts
        pieces = self._piece_data
        # Pieces lo..hi-1 overlap [start, end).
        lo = bisect_right(starts, start) - 1
        if lo < 0 or starts[lo] + len(pieces[lo]) <= start:
            lo += 1
        hi = bisect_left(starts, end, lo)
        if lo == hi:
            starts.insert(lo, start)
            pieces.insert(lo, bytes(view))
            self._out_of_order += len(view)
        else:
            new_starts: list[int] = []
            new_pieces: list[bytes] = []
            cursor = start
            added = 0
            for index in range(lo, hi):
                piece_start = starts[index]
                piece = pieces[index]
                if piece_start > cursor:
                    new_starts.append(cursor)
                    new_pieces.append(bytes(view[cursor - start : piece_start - start]))
                    added += piece_start - cursor
                new_starts.append(piece_start)
                new_pieces.append(piece)
                cursor = max(cursor, piece_start + len(piece))
            if cursor < end:
                new_starts.append(cursor)
                new_pieces.append(bytes(view[cursor - start :]))
                added += end - cursor
            starts[lo:hi] = new_starts
            pieces[lo:hi] = new_pieces
            self._out_of_order += added
        # Merge [start, end) into the ranges; touching ranges join too.
        first = bisect_left(range_ends, start)
        last = bisect_right(range_starts, end, first)
        if first < last:
            merged_start = min(start, range_starts[first])
            merged_end = max(end, range_ends[last - 1])
        else:
            merged_start, merged_end = start, end
        range_starts[first:last] = [merged_start]
        range_ends[first:last] = [merged_end]
        # RFC 2018 section 4: the block holding this arrival is reported first.
        recent = [merged_start]
        for position in self._recent:
            if not merged_start <= position < merged_end:
                recent.append(position)
                if len(recent) == _RECENT_KEPT:
                    break
        self._recent = recent

    def _advance(self) -> None:
        """Move the first range into the in-order part if it now touches the edge."""
        range_starts = self._range_starts
        if not range_starts or range_starts[0] != self._next:
            return
        end = self._range_ends[0]
        count = bisect_left(self._piece_starts, end)
        for piece in self._piece_data[:count]:
            self._buf += piece
        del self._piece_starts[:count]
        del self._piece_data[:count]
        del range_starts[0]
        del self._range_ends[0]
        moved = end - self._next
        self._out_of_order -= moved
        self._next = end
        if self._ooo_memory:
            # The memory of the out-of-order data moves along with its bytes.
            share = (
                self._ooo_memory
                if not self._out_of_order
                else self._ooo_memory * moved // (self._out_of_order + moved)
            )
            self._ooo_memory -= share
            self._chunks.append((end, share))
