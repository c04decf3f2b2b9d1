"""Modular 32-bit sequence number arithmetic (RFC 9293 section 3.4).

Sequence numbers live in a circle of 2**32.  ``Seq`` is an ``int`` subclass
whose comparisons are modular ("a < b" means b is ahead of a by less than
2**31) and whose addition wraps.  Subtracting two ``Seq`` values gives the
signed distance as a plain ``int``; subtracting an ``int`` gives a ``Seq``.
"""

from __future__ import annotations

from typing import overload

MOD = 1 << 32
MASK = MOD - 1
HALF = 1 << 31


class Seq(int):
    """A 32-bit sequence number with wrapping arithmetic and modular order."""

    __slots__ = ()

    def __new__(cls, value: int) -> Seq:
        return int.__new__(cls, value & MASK)

    def __add__(self, other: int) -> Seq:
        return int.__new__(Seq, (int(self) + int(other)) & MASK)

    __radd__ = __add__

    @overload
    def __sub__(self, other: Seq) -> int: ...  # type: ignore[overload-overlap]

    @overload
    def __sub__(self, other: int) -> Seq: ...

    def __sub__(self, other: int) -> int | Seq:
        if isinstance(other, Seq):
            diff = (int(self) - int(other)) & MASK
            return diff - MOD if diff >= HALF else diff
        return int.__new__(Seq, (int(self) - int(other)) & MASK)

    def __lt__(self, other: int) -> bool:
        return 0 < ((int(other) - int(self)) & MASK) < HALF

    def __le__(self, other: int) -> bool:
        return ((int(other) - int(self)) & MASK) < HALF

    def __gt__(self, other: int) -> bool:
        return 0 < ((int(self) - int(other)) & MASK) < HALF

    def __ge__(self, other: int) -> bool:
        return ((int(self) - int(other)) & MASK) < HALF

    def __repr__(self) -> str:
        return f"Seq({int(self)})"

    __str__ = int.__repr__
    __hash__ = int.__hash__
    __eq__ = int.__eq__
    __ne__ = int.__ne__


def in_window(seq: Seq, start: Seq, length: int) -> bool:
    """True when ``start <= seq < start + length`` in sequence space."""
    return ((int(seq) - int(start)) & MASK) < length


def seq_max(a: Seq, b: Seq) -> Seq:
    """The later of two sequence numbers."""
    return b if a < b else a


def seq_min(a: Seq, b: Seq) -> Seq:
    """The earlier of two sequence numbers."""
    return a if a < b else b
