"""Fake endpoints and packet builders for the simulator tests.

Packets are built by hand with ``struct`` (independent of ``synack.wire``) so
these tests do not depend on the codec.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

from synack.wire.tcp import TcpFlags

A4 = ip_address("10.0.0.1")
B4 = ip_address("10.0.0.2")
C4 = ip_address("10.0.0.3")
A6 = ip_address("2001:db8::1")
B6 = ip_address("2001:db8::2")


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones' complement sum, complemented."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_packet(
    src: IPv4Address | IPv6Address,
    dst: IPv4Address | IPv6Address,
    *,
    sport: int = 1000,
    dport: int = 80,
    seq: int = 0,
    ack: int = 0,
    flags: TcpFlags = TcpFlags.ACK,
    window: int = 65535,
    payload: bytes = b"",
    options: bytes = b"",
) -> bytes:
    """An IPv4 or IPv6 datagram with a TCP segment and correct checksums."""
    assert len(options) % 4 == 0
    offset = (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, window, 0, 0)
    segment = header + options + payload
    if isinstance(src, IPv4Address):
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 6, len(segment))
    else:
        pseudo = src.packed + dst.packed + struct.pack("!IxxxB", len(segment), 6)
    checksum = internet_checksum(pseudo + segment)
    segment = segment[:16] + struct.pack("!H", checksum) + segment[18:]
    if isinstance(src, IPv4Address):
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0, 0, 64, 6, 0, src.packed, dst.packed
        )
        ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
        return ip + segment
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(segment), 6, 64, src.packed, dst.packed)
    return ip6 + segment


def checksums_ok(packet: bytes) -> bool:
    """True when the IPv4 header checksum (if any) and the TCP checksum verify."""
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        if ihl < 20 or internet_checksum(packet[:ihl]) != 0:
            return False
        total = struct.unpack_from("!H", packet, 2)[0]
        if packet[9] != 6 or total != len(packet):
            return False
        segment = packet[ihl:]
        pseudo = packet[12:20] + struct.pack("!BBH", 0, 6, len(segment))
    elif version == 6:
        length = struct.unpack_from("!H", packet, 4)[0]
        if packet[6] != 6 or length != len(packet) - 40:
            return False
        segment = packet[40:]
        pseudo = packet[8:40] + struct.pack("!IxxxB", len(segment), 6)
    else:
        return False
    return internet_checksum(pseudo + segment) == 0


class FakeEndpoint:
    """Records what it receives; sends what the test queues; a scriptable deadline."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.outbox: list[bytes] = []
        self.received: list[tuple[int, bytes]] = []
        self.timer_calls: list[int] = []
        self.deadline: int | None = None
        self.echo = False  # send every received packet back with addresses swapped

    def send(self, packet: bytes) -> None:
        self.outbox.append(packet)

    # Endpoint
    def receive(self, packet: bytes, now: int) -> None:
        self.received.append((now, packet))
        if self.echo:
            self.outbox.append(swap_addresses(packet))

    def on_timer(self, now: int) -> None:
        self.timer_calls.append(now)
        self.deadline = None

    def packets_to_send(self, now: int) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def next_deadline(self) -> int | None:
        return self.deadline


def swap_addresses(packet: bytes) -> bytes:
    """The same datagram sent back: addresses and ports swapped (checksums still valid)."""
    if packet[0] >> 4 == 4:
        ip = packet[:12] + packet[16:20] + packet[12:16] + packet[20:]
        offset = 20
    else:
        ip = packet[:8] + packet[24:40] + packet[8:24] + packet[40:]
        offset = 40
    return ip[:offset] + ip[offset + 2 : offset + 4] + ip[offset : offset + 2] + ip[offset + 4 :]


def seq_of(packet: bytes) -> int:
    offset = 20 if packet[0] >> 4 == 4 else 40
    value: int = struct.unpack_from("!I", packet, offset + 4)[0]
    return value
