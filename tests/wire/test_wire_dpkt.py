"""An independent decoder (dpkt) agrees with ours on random segments, both ways.

Each direction runs 1,000 seeded random segments per address family.  The
options are generated here as ``(kind, data)`` pairs and packed by hand, so
the dpkt-built packets do not depend on our option encoder.
"""

from __future__ import annotations

import random
import struct
from ipaddress import IPv4Address, IPv6Address

import dpkt  # type: ignore[import-untyped]
import pytest

from synack.wire import (
    EOL,
    NOP,
    Address,
    EndOfOptions,
    MaxSegmentSize,
    NoOperation,
    Packet,
    Sack,
    SackPermitted,
    Segment,
    TcpFlags,
    TcpOption,
    Timestamps,
    UnknownOption,
    WindowScale,
    encode_packet,
    parse_packet,
)

COUNT = 1000


def random_address(rng: random.Random, version: int) -> Address:
    if version == 4:
        return IPv4Address(rng.getrandbits(32))
    return IPv6Address(rng.getrandbits(128))


def random_option_pairs(rng: random.Random) -> list[tuple[int, bytes]]:
    """A random option list as ``(kind, data)`` pairs that fits in 40 octets."""
    pairs: list[tuple[int, bytes]] = []
    used = 0
    for _ in range(rng.randrange(0, 9)):
        choice = rng.randrange(8)
        if choice == 0:
            pair = (1, b"")
        elif choice == 1:
            pair = (2, struct.pack("!H", rng.getrandbits(16)))
        elif choice == 2:
            pair = (3, bytes([rng.getrandbits(8)]))
        elif choice == 3:
            pair = (4, b"")
        elif choice == 4:
            blocks = rng.randrange(1, 5)
            pair = (
                5,
                struct.pack(f"!{2 * blocks}I", *(rng.getrandbits(32) for _ in range(2 * blocks))),
            )
        elif choice == 5:
            pair = (8, struct.pack("!II", rng.getrandbits(32), rng.getrandbits(32)))
        else:
            kind = rng.choice([6, 7, 9, 19, 28, 29, 30, 34, 253, 254])
            pair = (kind, rng.randbytes(rng.randrange(0, 11)))
        size = 1 if pair[0] == 1 else 2 + len(pair[1])
        if used + size > 40:
            break
        pairs.append(pair)
        used += size
    if used % 4 and rng.random() < 0.5:
        pairs.append((0, b""))
    return pairs


def pack_pairs(pairs: list[tuple[int, bytes]]) -> bytes:
    """Pack ``(kind, data)`` pairs by hand and zero-pad to a multiple of 4."""
    raw = b"".join(
        bytes([kind]) if kind in (0, 1) else bytes([kind, 2 + len(data)]) + data
        for kind, data in pairs
    )
    return raw + b"\x00" * (-len(raw) % 4)


def as_pair(option: TcpOption) -> tuple[int, bytes]:
    """Our option value as the ``(kind, data)`` pair dpkt reports."""
    if isinstance(option, EndOfOptions):
        return (0, b"")
    if isinstance(option, NoOperation):
        return (1, b"")
    if isinstance(option, MaxSegmentSize):
        return (2, struct.pack("!H", option.mss))
    if isinstance(option, WindowScale):
        return (3, bytes([option.shift]))
    if isinstance(option, SackPermitted):
        return (4, b"")
    if isinstance(option, Sack):
        return (5, b"".join(struct.pack("!II", left, right) for left, right in option.blocks))
    if isinstance(option, Timestamps):
        return (8, struct.pack("!II", option.tsval, option.tsecr))
    assert isinstance(option, UnknownOption)
    return (option.kind, option.data)


def dpkt_option_pairs(opts: bytes) -> list[tuple[int, bytes]]:
    """dpkt's option list, cut after the first EOL (dpkt keeps reading the padding)."""
    pairs: list[tuple[int, bytes]] = []
    for pair in dpkt.tcp.parse_opts(opts):
        assert pair is not None, "dpkt could not parse our options"
        pairs.append((pair[0], bytes(pair[1])))
        if pair[0] == 0:
            break
    return pairs


def expected_pairs(pairs: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """What a parser reports for the packed pairs: padding reads as one EOL."""
    raw_length = sum(1 if kind in (0, 1) else 2 + len(data) for kind, data in pairs)
    if raw_length % 4 and (not pairs or pairs[-1][0] != 0):
        return [*pairs, (0, b"")]
    return pairs


def random_segment(rng: random.Random) -> Segment:
    pairs = random_option_pairs(rng)
    options = tuple(
        EOL if kind == 0 else NOP if kind == 1 else _from_pair(kind, data) for kind, data in pairs
    )
    options_raw_length = len(pack_pairs(pairs))
    # Canonical form: padding reads back as EOL.
    if sum(1 if k in (0, 1) else 2 + len(d) for k, d in pairs) % 4 and (
        not pairs or pairs[-1][0] != 0
    ):
        options = (*options, EOL)
    assert options_raw_length <= 40
    return Segment(
        src_port=rng.getrandbits(16),
        dst_port=rng.getrandbits(16),
        seq=rng.getrandbits(32),
        ack=rng.getrandbits(32),
        flags=TcpFlags(rng.getrandbits(8)),
        window=rng.getrandbits(16),
        urgent=rng.getrandbits(16),
        options=options,
        payload=rng.randbytes(rng.choice([0, 0, 1, rng.randrange(0, 1500)])),
    )


def _from_pair(kind: int, data: bytes) -> TcpOption:
    if kind == 2:
        return MaxSegmentSize(struct.unpack("!H", data)[0])
    if kind == 3:
        return WindowScale(data[0])
    if kind == 4:
        return SackPermitted()
    if kind == 5:
        edges = struct.unpack(f"!{len(data) // 4}I", data)
        return Sack(tuple(zip(edges[0::2], edges[1::2], strict=True)))
    if kind == 8:
        return Timestamps(*struct.unpack("!II", data))
    return UnknownOption(kind, data)


@pytest.mark.parametrize("version", [4, 6])
def test_dpkt_decodes_what_we_encode(version: int) -> None:
    rng = random.Random(9293 + version)
    for _ in range(COUNT):
        src, dst = random_address(rng, version), random_address(rng, version)
        segment = random_segment(rng)
        packet = Packet(src, dst, segment, ttl=rng.getrandbits(8), tos=rng.getrandbits(8))
        if version == 4:
            packet.ident = rng.getrandbits(16)
        wire = encode_packet(packet)

        ip: dpkt.ip.IP | dpkt.ip6.IP6
        if version == 4:
            ip = dpkt.ip.IP(wire)
            assert (ip.v, ip.hl, ip.len, ip.p) == (4, 5, len(wire), 6)
            assert (ip.ttl, ip.tos, ip.id, ip.df, ip.mf, ip.offset) == (
                packet.ttl,
                packet.tos,
                packet.ident,
                1,
                0,
                0,
            )
            ip_sum = ip.sum
        else:
            ip = dpkt.ip6.IP6(wire)
            assert (ip.v, ip.plen, ip.nxt, ip.hlim, ip.fc, ip.flow) == (
                6,
                len(wire) - 40,
                6,
                packet.ttl,
                packet.tos,
                0,
            )
        assert (ip.src, ip.dst) == (src.packed, dst.packed)
        tcp = ip.data
        assert isinstance(tcp, dpkt.tcp.TCP)
        assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack) == (
            segment.src_port,
            segment.dst_port,
            segment.seq,
            segment.ack,
        )
        assert (tcp.flags, tcp.win, tcp.urp) == (int(segment.flags), segment.window, segment.urgent)
        assert tcp.off * 4 == 20 + len(tcp.opts)
        assert len(tcp.opts) % 4 == 0
        assert bytes(tcp.data) == segment.payload
        assert dpkt_option_pairs(tcp.opts) == [as_pair(option) for option in segment.options]
        # Let dpkt recompute the checksums it would send and compare.
        our_sum = tcp.sum
        tcp.sum = 0
        if version == 4:
            ip.sum = 0
            assert bytes(ip) == wire
            assert ip.sum == ip_sum
        else:
            assert bytes(ip) == wire
        assert tcp.sum == our_sum


@pytest.mark.parametrize("version", [4, 6])
def test_we_decode_what_dpkt_builds(version: int) -> None:
    rng = random.Random(1071 + version)
    for _ in range(COUNT):
        src, dst = random_address(rng, version), random_address(rng, version)
        pairs = random_option_pairs(rng)
        opts = pack_pairs(pairs)
        payload = rng.randbytes(rng.choice([0, 1, rng.randrange(0, 1500)]))
        tcp = dpkt.tcp.TCP(
            sport=rng.getrandbits(16),
            dport=rng.getrandbits(16),
            seq=rng.getrandbits(32),
            ack=rng.getrandbits(32),
            flags=rng.getrandbits(8),
            win=rng.getrandbits(16),
            urp=rng.getrandbits(16),
            off=5 + len(opts) // 4,
            opts=opts,
            data=payload,
        )
        ttl, tos = rng.getrandbits(8), rng.getrandbits(8)
        ip: dpkt.ip.IP | dpkt.ip6.IP6
        if version == 4:
            ident = rng.getrandbits(16)
            ip = dpkt.ip.IP(
                src=src.packed, dst=dst.packed, p=6, ttl=ttl, tos=tos, id=ident, data=tcp
            )
            ip.df = 1  # as we send
        else:
            ident = 0
            ip = dpkt.ip6.IP6(
                src=src.packed, dst=dst.packed, nxt=6, hlim=ttl, plen=len(bytes(tcp)), data=tcp
            )
            ip.fc = tos
        wire = bytes(ip)

        packet = parse_packet(wire)
        assert (packet.src, packet.dst, packet.ttl, packet.tos, packet.ident) == (
            src,
            dst,
            ttl,
            tos,
            ident,
        )
        segment = packet.segment
        assert (segment.src_port, segment.dst_port, segment.seq, segment.ack) == (
            tcp.sport,
            tcp.dport,
            tcp.seq,
            tcp.ack,
        )
        assert (int(segment.flags), segment.window, segment.urgent) == (tcp.flags, tcp.win, tcp.urp)
        assert segment.payload == payload
        assert [as_pair(option) for option in segment.options] == expected_pairs(pairs)
        # The checksums dpkt computed are the ones we would send.
        assert encode_packet(packet) == wire
