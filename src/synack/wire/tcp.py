"""TCP segments (RFC 9293 section 3.1): flags, options, Segment, and their codec.

The value types are shared by the codec and the protocol core.  Below them:
the option list codec (section 3.2), ``parse_segment``/``encode_segment``
and a tcpdump-like one-line ``summary`` for traces and error messages.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from synack.wire.checksum import (
    Address,
    fold,
    internet_checksum,
    ones_complement_sum,
    pseudo_header_sum,
)
from synack.wire.errors import MalformedPacket


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
# The mandatory set, EOL, NOP and MSS, is supported (MUST-4).


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
        flags = int(self.flags)  # plain int: enum arithmetic is slow
        return len(self.payload) + (flags & 2 != 0) + (flags & 1)  # SYN is 2, FIN is 1

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


# --- option list codec (sections 3.1, 3.2; RFC 7323; RFC 2018) -----------------
#
# Receiver rules: EOL ends the list (what follows is padding and is not looked
# at), NOP is one octet, every other option is skipped by its length octet
# whether or not it is understood (MUST-5, MUST-6, MUST-64), and an illegal
# length raises MalformedPacket("bad-option-length") so that the segment is
# dropped instead of crashing the stack (MUST-7).

MAX_OPTIONS_LEN = 40
"""Room for options in a TCP header: data offset 15 words minus the 5 fixed ones."""

KIND_EOL = 0
KIND_NOP = 1
KIND_MSS = 2
KIND_WINDOW_SCALE = 3
KIND_SACK_PERMITTED = 4
KIND_SACK = 5
KIND_TIMESTAMPS = 8

# Shared instances of the field-less options (equal to any other instance).
EOL = EndOfOptions()
NOP = NoOperation()
SACK_PERMITTED = SackPermitted()

_U16 = struct.Struct("!H")
_U32_PAIR = struct.Struct("!II")
_MSS = struct.Struct("!BBH")
_WS = struct.Struct("!BBB")
_TS = struct.Struct("!BBII")
_NOP_NOP_TS = b"\x01\x01\x08\x0a"
_FIXED_LENGTH = {KIND_MSS: 4, KIND_WINDOW_SCALE: 3, KIND_SACK_PERMITTED: 2, KIND_TIMESTAMPS: 10}
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")  # indexed by length % 4


def _bad_length(kind: int, offset: int, detail: str) -> MalformedPacket:
    return MalformedPacket("bad-option-length", f"option kind {kind} at offset {offset}: {detail}")


def parse_options(data: bytes | bytearray | memoryview) -> tuple[TcpOption, ...]:
    """Decode the option octets of a TCP header into option values in wire order.

    Raises ``MalformedPacket("bad-option-length")`` for a length octet that is
    missing, below 2, runs past the end, or is wrong for the kind (MSS 4,
    window scale 3, SACK-permitted 2, timestamps 10, SACK 2+8n with n >= 1).
    Octets after an EOL are padding and are ignored.
    """
    buf = bytes(data)  # at most 40 octets: a copy makes indexing cheap
    end = len(buf)
    if end == 12 and buf.startswith(_NOP_NOP_TS):
        # Fast path: the layout Linux puts on every data segment.
        return (NOP, NOP, Timestamps(*_U32_PAIR.unpack_from(buf, 4)))
    options: list[TcpOption] = []
    offset = 0
    while offset < end:
        kind = buf[offset]
        if kind == KIND_EOL:
            options.append(EOL)
            break  # the rest is padding (zeros are the sender's duty, MUST-69)
        if kind == KIND_NOP:
            options.append(NOP)
            offset += 1
            continue
        if offset + 1 >= end:
            raise _bad_length(kind, offset, "no length octet")
        length = buf[offset + 1]
        if length < 2:
            raise _bad_length(kind, offset, f"length {length} < 2")
        if offset + length > end:
            raise _bad_length(kind, offset, f"length {length} runs past the options")
        fixed = _FIXED_LENGTH.get(kind)
        if fixed is not None and length != fixed:
            raise _bad_length(kind, offset, f"length {length}, expected {fixed}")
        option: TcpOption
        if kind == KIND_TIMESTAMPS:
            option = Timestamps(*_U32_PAIR.unpack_from(buf, offset + 2))
        elif kind == KIND_MSS:
            option = MaxSegmentSize(_U16.unpack_from(buf, offset + 2)[0])
        elif kind == KIND_WINDOW_SCALE:
            option = WindowScale(buf[offset + 2])
        elif kind == KIND_SACK_PERMITTED:
            option = SACK_PERMITTED
        elif kind == KIND_SACK:
            if length < 10 or (length - 2) % 8:
                raise _bad_length(kind, offset, f"length {length}, expected 2+8n with n >= 1")
            edges = struct.unpack_from(f"!{(length - 2) // 4}I", buf, offset + 2)
            option = Sack(tuple(zip(edges[0::2], edges[1::2], strict=True)))
        else:
            option = UnknownOption(kind, buf[offset + 2 : offset + length])  # MUST-6
        options.append(option)
        offset += length
    return tuple(options)


def _encode_option(option: TcpOption) -> bytes:
    if isinstance(option, Timestamps):
        return _TS.pack(KIND_TIMESTAMPS, 10, option.tsval, option.tsecr)
    if isinstance(option, NoOperation):
        return b"\x01"
    if isinstance(option, Sack):
        if not option.blocks:
            raise ValueError("a SACK option needs at least one block")
        edges = [edge for block in option.blocks for edge in block]
        if len(edges) != 2 * len(option.blocks):
            raise ValueError(f"SACK blocks must be (left, right) pairs: {option.blocks!r}")
        return struct.pack(f"!BB{len(edges)}I", KIND_SACK, 2 + 4 * len(edges), *edges)
    if isinstance(option, MaxSegmentSize):
        return _MSS.pack(KIND_MSS, 4, option.mss)
    if isinstance(option, WindowScale):
        return _WS.pack(KIND_WINDOW_SCALE, 3, option.shift)
    if isinstance(option, SackPermitted):
        return b"\x04\x02"
    if isinstance(option, EndOfOptions):
        return b"\x00"
    if isinstance(option, UnknownOption):
        # Any kind with a length octet (MUST-68), including a known kind with a
        # deliberately odd body, e.g. to test how a peer copes with it.
        if option.kind in (KIND_EOL, KIND_NOP):
            raise ValueError(f"option kind {option.kind} has no length octet; use EOL or NOP")
        if not 0 <= option.kind <= 255 or len(option.data) > 253:
            raise ValueError(f"cannot encode option kind {option.kind}, {len(option.data)} octets")
        return bytes((option.kind, 2 + len(option.data))) + bytes(option.data)
    raise TypeError(f"not a TCP option: {option!r}")


def encode_options(options: tuple[TcpOption, ...]) -> bytes:
    """Encode options in the given order, zero-padded to a multiple of 4 octets (MUST-69).

    Every option but EOL and NOP is written with its length octet (MUST-68).
    Zero padding reads back as EOL, so a list whose encoding is not a multiple
    of 4 octets and does not end in EOL gains a trailing EOL when re-parsed.
    Raises ``ValueError`` for a value that does not fit its field or for more
    than 40 octets of options (caller bugs).
    """
    if not options:
        return b""
    try:
        encoded = b"".join([_encode_option(option) for option in options])
    except struct.error as exc:
        raise ValueError(f"TCP option value out of range: {exc}") from None
    if len(encoded) > MAX_OPTIONS_LEN:
        raise ValueError(f"TCP options take {len(encoded)} octets, at most 40 fit")
    return encoded + _PADDING[len(encoded) & 3]


def options_length(options: tuple[TcpOption, ...]) -> int:
    """Octets the options take in a TCP header, padding included (a multiple of 4)."""
    return len(encode_options(options))


# --- segments ------------------------------------------------------------------

TCP_HEADER_LEN = 20
"""The fixed part of the TCP header, without options."""

_HEADER = struct.Struct("!HHIIBBHHH")
_FLAGS = tuple(TcpFlags(bits) for bits in range(256))  # avoids enum lookups per segment


def parse_segment(
    data: bytes | bytearray | memoryview,
    src: Address,
    dst: Address,
    *,
    verify_checksum: bool = True,
) -> Segment:
    """Parse one whole TCP segment (header and payload) sent from ``src`` to ``dst``.

    The payload is a memoryview into ``data``, not a copy.  Reserved header
    bits are ignored.  Raises ``MalformedPacket`` with reason ``"truncated"``
    (under 20 octets), ``"bad-data-offset"`` (data offset below 5 or past the
    end), ``"bad-checksum"`` (MUST-3; skipped if ``verify_checksum`` is false),
    ``"bad-option-length"`` (MUST-7) or ``"too-long"`` (over 65535 octets on IPv4).
    """
    view = memoryview(data)
    if view.itemsize != 1:
        view = view.cast("B")
    length = len(view)
    if length < TCP_HEADER_LEN:
        raise MalformedPacket("truncated", f"TCP header needs 20 octets, got {length}")
    (src_port, dst_port, seq, ack, offset_bits, flag_bits, window, _checksum, urgent) = (
        _HEADER.unpack_from(view)
    )
    header_len = (offset_bits >> 4) * 4
    if header_len < TCP_HEADER_LEN or header_len > length:
        raise MalformedPacket(
            "bad-data-offset", f"data offset {offset_bits >> 4} words in a {length}-octet segment"
        )
    if verify_checksum:
        if length > 0xFFFF and isinstance(src, IPv4Address):
            raise MalformedPacket("too-long", f"{length}-octet segment cannot travel over IPv4")
        if internet_checksum(view, pseudo_header_sum(src, dst, length)) != 0:
            raise MalformedPacket("bad-checksum", f"checksum field 0x{_checksum:04x}")
    options = parse_options(view[TCP_HEADER_LEN:header_len]) if header_len > 20 else NO_OPTIONS
    return Segment(
        src_port,
        dst_port,
        seq,
        ack,
        _FLAGS[flag_bits],
        window,
        urgent,
        options,
        view[header_len:],
    )


def encode_segment_header(segment: Segment, src: Address, dst: Address) -> bytes:
    """The TCP header of ``segment`` (options padded), with a checksum over header and payload.

    Send it followed by ``segment.payload``; :func:`encode_segment` does both.
    Raises ``ValueError`` for fields that do not fit (caller bugs), options
    over 40 octets, or addresses of different families.
    """
    options = encode_options(segment.options) if segment.options else b""
    header_len = TCP_HEADER_LEN + len(options)
    try:
        header = bytearray(
            _HEADER.pack(
                segment.src_port,
                segment.dst_port,
                segment.seq,
                segment.ack,
                header_len << 2,  # data offset in words, in the high nibble
                segment.flags,
                segment.window,
                0,
                segment.urgent,
            )
        )
    except struct.error as exc:
        raise ValueError(f"TCP header field out of range: {exc}") from None
    header += options
    payload = segment.payload
    total = pseudo_header_sum(src, dst, header_len + len(payload))
    # The header has an even length, so header and payload can be summed apart.
    total += ones_complement_sum(header) + ones_complement_sum(payload)
    _U16.pack_into(header, 16, 0xFFFF - fold(total))  # MUST-2
    return bytes(header)


def encode_segment(segment: Segment, src: Address, dst: Address) -> bytes:
    """The wire form of ``segment`` sent from ``src`` to ``dst``, checksum included (MUST-2).

    The data offset follows from the options, which are zero-padded to a
    multiple of 4 octets.  Raises ``ValueError`` for caller bugs: fields out
    of range, options over 40 octets, or addresses of different families.
    """
    header = encode_segment_header(segment, src, dst)
    if not segment.payload:
        return header
    return b"".join((header, segment.payload))


# --- one-line summaries ---------------------------------------------------------

# tcpdump's letters, in tcpdump's order.
_FLAG_LETTERS = (
    (TcpFlags.FIN, "F"),
    (TcpFlags.SYN, "S"),
    (TcpFlags.RST, "R"),
    (TcpFlags.PSH, "P"),
    (TcpFlags.ACK, "."),
    (TcpFlags.URG, "U"),
    (TcpFlags.ECE, "E"),
    (TcpFlags.CWR, "W"),
)


def flags_text(flags: TcpFlags) -> str:
    """The flags as tcpdump letters, e.g. ``"S."`` for SYN+ACK, ``"none"`` for no flags."""
    return "".join(letter for flag, letter in _FLAG_LETTERS if flags & flag) or "none"


def option_text(option: TcpOption) -> str:
    """One option in packetdrill notation, e.g. ``"mss 1460"`` or ``"sack 1:100 200:300"``."""
    if isinstance(option, Timestamps):
        return f"TS val {option.tsval} ecr {option.tsecr}"
    if isinstance(option, NoOperation):
        return "nop"
    if isinstance(option, MaxSegmentSize):
        return f"mss {option.mss}"
    if isinstance(option, WindowScale):
        return f"wscale {option.shift}"
    if isinstance(option, SackPermitted):
        return "sackOK"
    if isinstance(option, Sack):
        return "sack " + " ".join(f"{left}:{right}" for left, right in option.blocks)
    if isinstance(option, EndOfOptions):
        return "eol"
    return f"opt-{option.kind}"


def summary(segment: Segment, *, ports: bool = False) -> str:
    """A tcpdump-like line: ``"[S.] seq 4294967000 ack 12 win 65535 <mss 1460,nop> len 0"``.

    ``ack`` is shown only with the ACK flag and ``urg`` only with URG; options
    only when there are some.  With ``ports``, the line starts ``"1234 > 80 "``.
    """
    parts = [f"{segment.src_port} > {segment.dst_port} "] if ports else []
    parts.append(f"[{flags_text(segment.flags)}] seq {segment.seq}")
    if segment.flags & TcpFlags.ACK:
        parts.append(f" ack {segment.ack}")
    parts.append(f" win {segment.window}")
    if segment.flags & TcpFlags.URG:
        parts.append(f" urg {segment.urgent}")
    if segment.options:
        parts.append(" <" + ",".join(option_text(option) for option in segment.options) + ">")
    parts.append(f" len {len(segment.payload)}")
    return "".join(parts)
