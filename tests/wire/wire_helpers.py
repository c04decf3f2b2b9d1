"""Shared hypothesis strategies and a slow reference checksum for the wire tests."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from hypothesis import strategies as st

from synack.wire import (
    EOL,
    NOP,
    SACK_PERMITTED,
    Address,
    MaxSegmentSize,
    Packet,
    Sack,
    Segment,
    TcpFlags,
    TcpOption,
    Timestamps,
    UnknownOption,
    WindowScale,
    encode_options,
)

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
KNOWN_KINDS = frozenset({0, 1, 2, 3, 4, 5, 8})


def reference_checksum(data: bytes) -> int:
    """RFC 1071 checksum the slow, obvious way: word by word with end-around carry."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for index in range(0, len(data), 2):
        total += (data[index] << 8) | data[index + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


ipv4_addresses = st.builds(IPv4Address, U32)
ipv6_addresses = st.builds(IPv6Address, st.integers(0, 2**128 - 1))


@st.composite
def address_pairs(draw: st.DrawFn) -> tuple[Address, Address]:
    """Source and destination of the same family."""
    if draw(st.booleans()):
        return draw(ipv4_addresses), draw(ipv4_addresses)
    return draw(ipv6_addresses), draw(ipv6_addresses)


single_options: st.SearchStrategy[TcpOption] = st.one_of(
    st.just(NOP),
    st.builds(MaxSegmentSize, U16),
    st.builds(WindowScale, st.integers(0, 255)),
    st.just(SACK_PERMITTED),
    st.builds(Sack, st.lists(st.tuples(U32, U32), min_size=1, max_size=4).map(tuple)),
    st.builds(Timestamps, U32, U32),
    st.builds(
        UnknownOption,
        st.integers(6, 255).filter(lambda kind: kind not in KNOWN_KINDS),
        st.binary(max_size=12),
    ),
)


def canonical(options: tuple[TcpOption, ...]) -> tuple[TcpOption, ...]:
    """The options as they parse back after encoding: padding reads as a trailing EOL."""
    unpadded = len(b"".join(raw_option(option) for option in options))
    if unpadded % 4 and (not options or options[-1] != EOL):
        return (*options, EOL)
    return options


def raw_option(option: TcpOption) -> bytes:
    """The encoding of one option without padding."""
    if option == NOP:
        return b"\x01"
    if option == EOL:
        return b"\x00"
    encoded = encode_options((option,))
    # Strip the padding: every non-NOP/EOL option starts with kind, length.
    return encoded[: encoded[1]]


@st.composite
def option_lists(draw: st.DrawFn) -> tuple[TcpOption, ...]:
    """Option lists that fit in 40 octets, optionally ending in EOL, in canonical form."""
    options: list[TcpOption] = []
    used = 0
    for option in draw(st.lists(single_options, max_size=8)):
        size = len(raw_option(option))
        if used + size > 40:
            break
        options.append(option)
        used += size
    if used < 40 and draw(st.booleans()):
        options.append(EOL)
    return canonical(tuple(options))


@st.composite
def segments(draw: st.DrawFn, max_payload: int = 600) -> Segment:
    return Segment(
        src_port=draw(U16),
        dst_port=draw(U16),
        seq=draw(U32),
        ack=draw(U32),
        flags=TcpFlags(draw(st.integers(0, 255))),
        window=draw(U16),
        urgent=draw(U16),
        options=draw(option_lists()),
        payload=draw(st.binary(max_size=max_payload)),
    )


@st.composite
def packets(draw: st.DrawFn) -> Packet:
    src, dst = draw(address_pairs())
    return Packet(
        src,
        dst,
        draw(segments()),
        ttl=draw(st.integers(0, 255)),
        tos=draw(st.integers(0, 255)),
        ident=draw(U16) if isinstance(src, IPv4Address) else 0,
    )
