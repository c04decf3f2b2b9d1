"""The Stack with raw IP datagrams: demultiplexing by 4-tuple (RFC 9293 3.3.1
"socket pairs"), listeners with a SYN queue and an accept backlog, ephemeral
ports, segments for no connection (3.10.7.1), TIME-WAIT and its reopening
(MAY-2), bad packets (dropped and counted, never raised), and the timer heap.

The remote peer is played by hand: datagrams are built with
``encode_packet(Packet(...))`` and the stack's output is parsed back.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synack.tcp.config import TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import ConnectionRequest, Established, Event
from synack.tcp.stack import Listener, Stack
from synack.tcp.state import State
from synack.trace.records import DropReason
from synack.wire.ip import Packet, encode_packet, parse_packet
from synack.wire.tcp import MaxSegmentSize, Segment, TcpFlags

SYN, ACK, FIN, RST, PSH = TcpFlags.SYN, TcpFlags.ACK, TcpFlags.FIN, TcpFlags.RST, TcpFlags.PSH
LOCAL = IPv4Address("10.0.0.1")
LOCAL2 = IPv4Address("10.0.0.3")
REMOTE = IPv4Address("10.0.0.2")
REMOTE2 = IPv4Address("10.0.0.4")
OTHER = IPv4Address("10.9.9.9")
CONFIG = TcpConfig(window_scaling=False, quick_acks=0)
MSS_OPTION = (MaxSegmentSize(1460),)


def make_stack(
    config: TcpConfig = CONFIG, addresses: tuple[IPv4Address | IPv6Address, ...] = (LOCAL,)
) -> Stack:
    return Stack(addresses, config=config, random=random.Random(1))


def datagram(
    seg: Segment, src: IPv4Address | IPv6Address = REMOTE, dst: IPv4Address | IPv6Address = LOCAL
) -> bytes:
    return encode_packet(Packet(src, dst, seg))


def output(stack: Stack, now: int) -> list[Packet]:
    """Everything the stack sends now, parsed (checksums verified)."""
    return [parse_packet(p) for p in stack.packets_to_send(now)]


def segments(stack: Stack, now: int) -> list[Segment]:
    return [p.segment for p in output(stack, now)]


def events(stack: Stack) -> list[tuple[Connection | Listener, Event]]:
    result = []
    while (item := stack.next_event()) is not None:
        result.append(item)
    return result


@dataclass
class Client:
    """A remote client opening connections to the stack by hand."""

    stack: Stack
    port: int
    address: IPv4Address | IPv6Address = REMOTE
    local: IPv4Address | IPv6Address = LOCAL
    dst_port: int = 80
    iss: int = 1000
    server_iss: int = 0

    def send(
        self, flags: TcpFlags, seq: int, ack: int = 0, payload: bytes = b"", now: int = 0
    ) -> None:
        seg = Segment(
            self.port, self.dst_port, seq % 2**32, ack % 2**32, flags, 65535, 0, (), payload
        )
        self.stack.receive(datagram(seg, self.address, self.local), now)

    def syn(self, now: int = 0) -> Segment | None:
        """Send a SYN; return the stack's answer (None if it did not answer)."""
        seg = Segment(self.port, self.dst_port, self.iss, 0, SYN, 65535, 0, MSS_OPTION)
        self.stack.receive(datagram(seg, self.address, self.local), now)
        replies = [
            p.segment
            for p in output(self.stack, now)
            if p.dst == self.address and p.segment.dst_port == self.port
        ]
        if not replies:
            return None
        (reply,) = replies
        if reply.flags == SYN | ACK:
            assert reply.ack == self.iss + 1
            self.server_iss = reply.seq
        return reply

    def ack(self, now: int = 0) -> None:
        """Complete the handshake."""
        self.send(ACK, self.iss + 1, self.server_iss + 1, now=now)
        assert output(self.stack, now) == []

    def connect(self, now: int = 0) -> None:
        reply = self.syn(now)
        assert reply is not None and reply.flags == SYN | ACK
        self.ack(now)

    @property
    def four_tuple(
        self,
    ) -> tuple[IPv4Address | IPv6Address, int, IPv4Address | IPv6Address, int]:
        return (self.local, self.dst_port, self.address, self.port)


# ---------------------------------------------------------------- demultiplexing


def test_connections_are_demultiplexed_by_four_tuple() -> None:
    """3.3.1: a connection is identified by the pair of sockets; two clients on
    the same remote address with different ports get separate TCBs."""
    stack = make_stack()
    listener = stack.listen(LOCAL, 80)
    one, two = Client(stack, 5001, iss=100), Client(stack, 5002, iss=9000)
    one.connect()
    two.connect()
    first, second = stack.accept(listener), stack.accept(listener)
    assert {first.four_tuple, second.four_tuple} == {one.four_tuple, two.four_tuple}
    one.send(ACK | PSH, one.iss + 1, one.server_iss + 1, b"to one")
    two.send(ACK | PSH, two.iss + 1, two.server_iss + 1, b"to two")
    by_port = {first.remote_port: first, second.remote_port: second}
    assert by_port[5001].recv(100) == b"to one"
    assert by_port[5002].recv(100) == b"to two"
    assert stack.connection(one.four_tuple) is by_port[5001]


def test_active_connections_to_two_servers_are_kept_apart() -> None:
    stack = make_stack()
    a = stack.connect(LOCAL, REMOTE, 80, 0)
    b = stack.connect(LOCAL, REMOTE2, 80, 0)
    syns = {p.dst: p.segment for p in output(stack, 0)}
    assert set(syns) == {REMOTE, REMOTE2}
    for conn, address in ((a, REMOTE), (b, REMOTE2)):
        syn = syns[address]
        reply = Segment(80, syn.src_port, 7777, syn.seq + 1, SYN | ACK, 65535, 0, MSS_OPTION)
        stack.receive(datagram(reply, src=address), 10)
        assert conn.state is State.ESTABLISHED
    assert (a.local_port, a.remote_address) != (b.local_port, b.remote_address)


def test_ipv6_connections_through_a_wildcard_listener() -> None:
    local6, remote6 = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
    stack = make_stack(addresses=(LOCAL, local6))
    listener = stack.listen("::", 80)
    client = Client(stack, 5001, address=remote6, local=local6)
    client.connect()
    conn = stack.accept(listener)
    assert conn.four_tuple == (local6, 80, remote6, 5001)
    assert conn.send_mss == 1440  # 3.7.1: our own MTU limits it: 1500 - 40 - 20
    client.send(ACK | PSH, client.iss + 1, client.server_iss + 1, b"over v6")
    assert conn.recv(100) == b"over v6"
    # The IPv4 address is not served by the IPv6 wildcard.
    reply = Client(stack, 5002).syn()
    assert reply is not None and reply.flags == RST | ACK


def test_packets_for_another_address_are_dropped() -> None:
    stack = make_stack()
    stack.listen("0.0.0.0", 80)
    seg = Segment(5000, 80, 1, 0, SYN, 65535)
    stack.receive(datagram(seg, dst=OTHER), 0)
    assert output(stack, 0) == []
    assert stack.drops == {DropReason.NOT_FOR_US: 1}
    assert stack.connections == []


# ---------------------------------------------------------------- listeners


def test_listener_on_the_unspecified_address_serves_every_local_address() -> None:
    stack = make_stack(addresses=(LOCAL, LOCAL2))
    listener = stack.listen("0.0.0.0", 80)
    Client(stack, 5001, local=LOCAL).connect()
    Client(stack, 5002, local=LOCAL2).connect()
    accepted = {stack.accept(listener).local_address, stack.accept(listener).local_address}
    assert accepted == {LOCAL, LOCAL2}


def test_specific_listener_wins_over_the_wildcard() -> None:
    stack = make_stack(addresses=(LOCAL, LOCAL2))
    wildcard = stack.listen("0.0.0.0", 80)
    specific = stack.listen(LOCAL2, 80)
    Client(stack, 5001, local=LOCAL2).connect()
    Client(stack, 5002, local=LOCAL).connect()
    assert stack.accept(specific).remote_port == 5001
    assert stack.accept(wildcard).remote_port == 5002


def test_accept_raises_blocking_io_error_when_empty() -> None:
    stack = make_stack()
    listener = stack.listen(LOCAL, 80)
    with pytest.raises(BlockingIOError):
        stack.accept(listener)
    client = Client(stack, 5001)
    client.syn()
    with pytest.raises(BlockingIOError):  # half-open connections are not accepted
        stack.accept(listener)
    client.ack()
    conn = stack.accept(listener)
    assert conn.state is State.ESTABLISHED
    with pytest.raises(BlockingIOError):
        stack.accept(listener)


def test_listener_announces_established_children() -> None:
    stack = make_stack()
    listener = stack.listen(LOCAL, 80)
    Client(stack, 5001).connect()
    items = events(stack)
    assert (listener, ConnectionRequest()) in items
    assert any(isinstance(event, Established) for _, event in items)


def test_accept_backlog_full_drops_the_syn_and_counts_it() -> None:
    """Linux's model: with the accept queue at its backlog a new SYN is dropped
    silently (the client will retry) and counted as a listen overflow."""
    stack = make_stack()
    listener = stack.listen(LOCAL, 80, backlog=2)
    Client(stack, 5001).connect()
    Client(stack, 5002).connect()
    assert len(listener.accept_queue) == 2
    assert Client(stack, 5003).syn() is None  # dropped silently: no SYN,ACK, no RST
    assert stack.drops == {DropReason.LISTEN_OVERFLOW: 1}
    assert stack.connection((LOCAL, 80, REMOTE, 5003)) is None
    stack.accept(listener)  # room again
    assert Client(stack, 5003).syn() is not None


def test_syn_queue_full_drops_the_syn() -> None:
    stack = make_stack(replace(CONFIG, syn_backlog=2))
    listener = stack.listen(LOCAL, 80)
    assert Client(stack, 5001).syn() is not None
    assert Client(stack, 5002).syn() is not None
    assert len(listener.syn_queue) == 2
    assert Client(stack, 5003).syn() is None
    assert stack.drops[DropReason.LISTEN_OVERFLOW] == 1


def test_closing_a_listener_resets_unaccepted_children() -> None:
    """As Linux's inet_csk_listen_stop: established but unaccepted connections
    and half-open ones are aborted with a RST; accepted ones live on."""
    stack = make_stack()
    listener = stack.listen(LOCAL, 80)
    kept = Client(stack, 5000)
    kept.connect()
    accepted = stack.accept(listener)
    established = Client(stack, 5001)
    established.connect()
    half_open = Client(stack, 5002)
    half_open.syn()
    stack.close_listener(listener, 5)
    resets = {p.segment.dst_port: p.segment for p in output(stack, 5)}
    assert set(resets) == {5001, 5002}
    assert resets[5001].flags & RST
    assert resets[5001].seq == established.server_iss + 1
    assert resets[5002].flags & RST
    assert resets[5002].seq == half_open.server_iss + 1
    assert accepted.state is State.ESTABLISHED
    assert stack.connection(established.four_tuple) is None
    assert stack.connection(half_open.four_tuple) is None
    with pytest.raises(OSError):
        stack.accept(listener)
    # Nobody listens any more: a SYN now gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>.
    reply = Client(stack, 5003).syn(6)
    assert reply is not None and reply.flags == RST | ACK


def test_listen_twice_on_the_same_port_is_eaddrinuse() -> None:
    stack = make_stack()
    stack.listen(LOCAL, 80)
    with pytest.raises(OSError) as info:
        stack.listen(LOCAL, 80)
    assert info.value.errno == errno.EADDRINUSE


def test_listen_on_a_foreign_address_is_eaddrnotavail() -> None:
    with pytest.raises(OSError) as info:
        make_stack().listen(OTHER, 80)
    assert info.value.errno == errno.EADDRNOTAVAIL


# ---------------------------------------------------------------- ephemeral ports


def test_ephemeral_ports_come_from_the_configured_range() -> None:
    stack = make_stack(replace(CONFIG, ephemeral_ports=(40000, 40009)))
    ports = [stack.connect(LOCAL, REMOTE, 80, 0).local_port for _ in range(10)]
    assert sorted(ports) == list(range(40000, 40010))  # unique: every one used once


def test_ephemeral_ports_are_unique_per_destination_only() -> None:
    """A port in use towards one destination may be used towards another (the
    4-tuple is what must be unique)."""
    stack = make_stack(replace(CONFIG, ephemeral_ports=(40000, 40001)))
    to_one = {stack.connect(LOCAL, REMOTE, 80, 0).local_port for _ in range(2)}
    to_other = {stack.connect(LOCAL, REMOTE, 81, 0).local_port for _ in range(2)}
    assert to_one == to_other == {40000, 40001}


def test_ephemeral_ports_exhausted_is_eaddrnotavail() -> None:
    stack = make_stack(replace(CONFIG, ephemeral_ports=(40000, 40002)))
    for _ in range(3):
        stack.connect(LOCAL, REMOTE, 80, 0)
    with pytest.raises(OSError) as info:
        stack.connect(LOCAL, REMOTE, 80, 0)
    assert info.value.errno == errno.EADDRNOTAVAIL


def test_ephemeral_ports_are_deterministic_with_a_seeded_random() -> None:
    config = replace(CONFIG, ephemeral_ports=(32768, 60999))

    def ports(seed: int) -> list[int]:
        stack = Stack([LOCAL], config=config, random=random.Random(seed))
        return [stack.connect(LOCAL, REMOTE, 80, 0).local_port for _ in range(20)]

    assert ports(42) == ports(42)
    assert ports(42) != ports(43)
    assert all(32768 <= port <= 60999 for port in ports(42))


def test_ephemeral_ports_without_a_random_source_go_in_order() -> None:
    stack = Stack([LOCAL], config=replace(CONFIG, ephemeral_ports=(40000, 40009)))
    ports = [stack.connect(LOCAL, REMOTE, 80, 0).local_port for _ in range(3)]
    assert ports == [40000, 40001, 40002]


def test_ephemeral_port_skips_a_listening_port() -> None:
    stack = make_stack(replace(CONFIG, ephemeral_ports=(40000, 40001)))
    stack.listen(LOCAL, 40000)
    assert stack.connect(LOCAL, REMOTE, 80, 0).local_port == 40001


# ---------------------------------------------------------------- no connection (3.10.7.1)


def test_segment_with_ack_to_a_closed_port_gets_seq_seg_ack_rst() -> None:
    """3.10.7.1: if the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>."""
    stack = make_stack()
    Client(stack, 5001).send(ACK | PSH, 500, 123456, b"data")
    (reply,) = output(stack, 0)
    assert (reply.src, reply.dst) == (LOCAL, REMOTE)
    seg = reply.segment
    assert (seg.src_port, seg.dst_port) == (80, 5001)
    assert seg.flags == RST
    assert seg.seq == 123456
    assert stack.drops == {DropReason.NO_SOCKET: 1}


def test_segment_without_ack_to_a_closed_port_gets_rst_ack() -> None:
    """3.10.7.1: if the ACK bit is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>;
    SEG.LEN counts the SYN, the data and the FIN."""
    stack = make_stack()
    client = Client(stack, 5001)
    client.send(SYN, 2**32 - 1)
    client.send(SYN | FIN, 700, payload=b"hello")
    first, second = segments(stack, 0)
    assert (first.flags, first.seq, first.ack) == (RST | ACK, 0, 0)  # wrapped: 2**32-1 + 1
    assert (second.flags, second.seq, second.ack) == (RST | ACK, 0, 700 + 1 + 5 + 1)
    assert stack.drops == {DropReason.NO_SOCKET: 2}


def test_rst_to_nowhere_is_dropped_silently() -> None:
    """3.10.7.1: an incoming segment containing a RST is discarded."""
    stack = make_stack()
    Client(stack, 5001).send(RST, 500)
    Client(stack, 5001).send(RST | ACK, 500, 600)
    assert output(stack, 0) == []
    assert stack.drops == {DropReason.NO_SOCKET: 2}


def test_ack_to_a_listener_gets_a_rst() -> None:
    """3.10.7.2: any ACK to LISTEN is bad: <SEQ=SEG.ACK><CTL=RST>."""
    stack = make_stack()
    stack.listen(LOCAL, 80)
    Client(stack, 5001).send(ACK, 1, 4242)
    (seg,) = segments(stack, 0)
    assert (seg.flags, seg.seq) == (RST, 4242)
    assert stack.drops == {DropReason.LISTEN_ACK: 1}


# ---------------------------------------------------------------- TIME-WAIT


def active_time_wait(stack: Stack, local_port: int = 5000) -> Connection:
    """An active open from ``local_port`` to REMOTE:80, closed by us first: TIME-WAIT."""
    conn = stack.connect(LOCAL, REMOTE, 80, 0, local_port=local_port)
    (syn,) = segments(stack, 0)
    peer = 50_000
    stack.receive(
        datagram(Segment(80, local_port, peer, syn.seq + 1, SYN | ACK, 65535, 0, MSS_OPTION)), 10
    )
    segments(stack, 10)
    conn.close(20)
    (fin,) = segments(stack, 20)
    assert fin.flags & FIN
    reply = Segment(80, local_port, peer + 1, fin.seq + 1, FIN | ACK, 65535)
    stack.receive(datagram(reply), 30)
    segments(stack, 30)
    assert conn.state is State.TIME_WAIT
    return conn


def test_time_wait_blocks_reusing_the_four_tuple() -> None:
    """MUST-13: the 4-tuple stays reserved for 2*MSL unless the caller asks."""
    stack = make_stack(replace(CONFIG, reuse_time_wait=False))
    active_time_wait(stack)
    with pytest.raises(OSError) as info:
        stack.connect(LOCAL, REMOTE, 80, 40, local_port=5000)
    assert info.value.errno == errno.EADDRINUSE
    # Another destination port is another 4-tuple: fine.
    stack.connect(LOCAL, REMOTE, 81, 40, local_port=5000)


def test_reuse_address_takes_over_a_time_wait_four_tuple() -> None:
    stack = make_stack(replace(CONFIG, reuse_time_wait=False))
    old = active_time_wait(stack)
    new = stack.connect(LOCAL, REMOTE, 80, 40, local_port=5000, reuse_address=True)
    assert new is not old
    assert new.state is State.SYN_SENT
    assert stack.connection(new.four_tuple) is new


def test_config_reuse_time_wait_takes_over_a_time_wait_four_tuple() -> None:
    stack = make_stack(replace(CONFIG, reuse_time_wait=True))
    active_time_wait(stack)
    new = stack.connect(LOCAL, REMOTE, 80, 40, local_port=5000)
    assert new.state is State.SYN_SENT


def test_a_live_connection_is_never_taken_over() -> None:
    stack = make_stack()
    stack.connect(LOCAL, REMOTE, 80, 0, local_port=5000)
    with pytest.raises(OSError) as info:
        stack.connect(LOCAL, REMOTE, 80, 0, local_port=5000, reuse_address=True)
    assert info.value.errno == errno.EADDRINUSE


def run_timers(stack: Stack, until: int) -> None:
    """Drive the stack's timers as a driver would, up to ``until``."""
    while (deadline := stack.next_deadline()) is not None and deadline <= until:
        stack.on_timer(deadline)
        output(stack, deadline)


def test_time_wait_ends_after_2msl_and_frees_the_four_tuple() -> None:
    stack = make_stack(replace(CONFIG, reuse_time_wait=False))
    conn = active_time_wait(stack)
    run_timers(stack, 30 + CONFIG.time_wait - 1)
    assert conn.state is State.TIME_WAIT
    assert stack.next_deadline() == 30 + CONFIG.time_wait
    run_timers(stack, 30 + CONFIG.time_wait)
    assert conn.state is State.CLOSED
    assert stack.connection(conn.four_tuple) is None
    assert stack.next_deadline() is None
    stack.connect(LOCAL, REMOTE, 80, 30 + CONFIG.time_wait, local_port=5000)


def passive_time_wait(stack: Stack) -> tuple[Client, Connection]:
    """A connection to our listener on port 80 which we closed first: TIME-WAIT."""
    listener = stack.listen(LOCAL, 80)
    client = Client(stack, 6000, iss=1000)
    client.connect()
    conn = stack.accept(listener)
    conn.close(10)
    (fin,) = segments(stack, 10)
    client.send(FIN | ACK, client.iss + 1, fin.seq + 1, now=20)
    (ack,) = segments(stack, 20)
    assert ack.ack == client.iss + 2
    assert conn.state is State.TIME_WAIT
    return client, conn


def test_new_syn_with_higher_sequence_number_reopens_time_wait() -> None:
    """MAY-2 (3.10.7.4 / RFC 6191 without timestamps): a SYN whose sequence
    number is above the old connection's RCV.NXT may start a new incarnation."""
    stack = make_stack()
    client, old = passive_time_wait(stack)
    client.iss = 1000 + 100_000
    reply = client.syn(30)
    assert reply is not None  # a SYN,ACK for the new connection
    new = stack.connection(client.four_tuple)
    assert new is not None and new is not old
    assert new.state is State.SYN_RECEIVED
    assert old.state is State.CLOSED


def test_new_syn_with_lower_sequence_number_gets_the_time_wait_treatment() -> None:
    """An old or suspicious SYN does not reopen: the TIME-WAIT TCB answers it with
    an ACK of its own state (<SEQ=SND.NXT><ACK=RCV.NXT>) and stays."""
    stack = make_stack()
    client, old = passive_time_wait(stack)
    syn = Segment(6000, 80, 500, 0, SYN, 65535, 0, MSS_OPTION)
    stack.receive(datagram(syn), 30)
    (reply,) = segments(stack, 30)
    assert reply.flags == ACK
    assert reply.ack == client.iss + 2  # the old connection's RCV.NXT
    assert stack.connection(client.four_tuple) is old
    assert old.state is State.TIME_WAIT


def test_newer_timestamp_reopens_time_wait_whatever_the_sequence_number() -> None:
    """SHLD-4 (RFC 6191 2): when the old incarnation used timestamps, a SYN
    whose TSval is newer than its TS.Recent may reopen the 4-tuple even with a
    lower sequence number; an older TSval gets the TIME-WAIT treatment."""
    from synack.wire.tcp import Timestamps

    stack = make_stack()
    client, old = passive_time_wait(stack)
    old.ts_ok, old.ts_recent = True, 5000  # the old connection's timestamps
    stale = Segment(6000, 80, 500, 0, SYN, 65535, 0, (*MSS_OPTION, Timestamps(4000, 0)))
    stack.receive(datagram(stale), 30)
    (reply,) = segments(stack, 30)
    assert reply.flags == ACK and stack.connection(client.four_tuple) is old
    fresh = Segment(6000, 80, 500, 0, SYN, 65535, 0, (*MSS_OPTION, Timestamps(6000, 0)))
    stack.receive(datagram(fresh), 40)
    (reply,) = segments(stack, 40)
    assert reply.flags == SYN | ACK and reply.ack == 501
    new = stack.connection(client.four_tuple)
    assert new is not None and new is not old and old.state is State.CLOSED


def test_no_reopen_when_reuse_time_wait_is_off() -> None:
    stack = make_stack(replace(CONFIG, reuse_time_wait=False))
    client, old = passive_time_wait(stack)
    client.iss = 1000 + 100_000
    syn = Segment(6000, 80, client.iss, 0, SYN, 65535, 0, MSS_OPTION)
    stack.receive(datagram(syn), 30)
    replies = segments(stack, 30)
    assert all(not s.flags & SYN for s in replies)
    assert stack.connection(client.four_tuple) is old


# ---------------------------------------------------------------- bad packets


def valid_syn_datagram() -> bytes:
    return datagram(Segment(5000, 80, 1, 0, SYN, 65535, 0, MSS_OPTION))


def test_bad_tcp_checksum_is_dropped_and_counted() -> None:
    """MUST-3: a segment with a bad checksum is discarded."""
    stack = make_stack()
    stack.listen(LOCAL, 80)
    packet = bytearray(valid_syn_datagram())
    packet[36] ^= 0xFF  # the TCP checksum field (IPv4 header 20 + offset 16)
    stack.receive(bytes(packet), 0)
    assert output(stack, 0) == []
    assert stack.drops == {DropReason.BAD_CHECKSUM: 1}
    assert stack.connections == []


def test_bad_ip_header_checksum_is_dropped_and_counted() -> None:
    stack = make_stack()
    stack.listen(LOCAL, 80)
    packet = bytearray(valid_syn_datagram())
    packet[10] ^= 0x55  # the IPv4 header checksum
    stack.receive(bytes(packet), 0)
    assert output(stack, 0) == []
    assert stack.drops == {DropReason.MALFORMED: 1}


def test_non_tcp_packet_is_dropped_and_counted() -> None:
    stack = make_stack()
    packet = bytearray(valid_syn_datagram())
    packet[9] = 17  # UDP
    packet[10:12] = b"\x00\x00"
    checksum = 0
    for index in range(0, 20, 2):
        checksum += (packet[index] << 8) | packet[index + 1]
    while checksum > 0xFFFF:
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
    packet[10:12] = (~checksum & 0xFFFF).to_bytes(2, "big")
    stack.receive(bytes(packet), 0)
    assert stack.drops == {DropReason.NOT_TCP: 1}


@pytest.mark.parametrize("length", [0, 1, 19, 20, 39])
def test_truncated_packets_are_dropped_and_counted(length: int) -> None:
    stack = make_stack()
    stack.listen(LOCAL, 80)
    stack.receive(valid_syn_datagram()[:length], 0)
    assert output(stack, 0) == []
    assert sum(stack.drops.values()) == 1
    assert DropReason.MALFORMED in stack.drops


def test_every_truncation_of_a_valid_packet_is_dropped() -> None:
    stack = make_stack()
    stack.listen(LOCAL, 80)
    packet = valid_syn_datagram()
    for length in range(len(packet)):
        stack.receive(packet[:length], 0)
    assert sum(stack.drops.values()) == len(packet)
    assert stack.connections == []


def test_ipv6_packet_to_an_ipv4_only_stack_is_not_for_us() -> None:
    stack = make_stack()
    seg = Segment(5000, 80, 1, 0, SYN, 65535)
    stack.receive(datagram(seg, ip_address("2001:db8::2"), ip_address("2001:db8::1")), 0)
    assert stack.drops == {DropReason.NOT_FOR_US: 1}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120))
def test_random_bytes_never_raise(data: bytes) -> None:
    stack = make_stack()
    stack.listen("0.0.0.0", 80)
    stack.receive(data, 0)
    stack.packets_to_send(0)
    assert sum(stack.drops.values()) + len(stack.connections) >= 1


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_packets_never_raise(data: st.DataObject) -> None:
    """Flip bytes of a valid datagram (IPv4 header, TCP header, options, payload)
    anywhere, with checksums fixed up or not: the stack never raises."""
    stack = make_stack()
    stack.listen("0.0.0.0", 80)
    conn_client = Client(stack, 5001)
    conn_client.connect()
    base = bytearray(
        datagram(
            Segment(
                5001,
                80,
                1001,
                conn_client.server_iss + 1,
                ACK | PSH,
                65535,
                0,
                MSS_OPTION,
                b"x" * 8,
            )
        )
    )
    for _ in range(data.draw(st.integers(1, 6))):
        index = data.draw(st.integers(0, len(base) - 1))
        base[index] = data.draw(st.integers(0, 255))
    stack.receive(bytes(base), 5)
    stack.packets_to_send(5)
    stack.next_deadline()


# ---------------------------------------------------------------- timers


def test_next_deadline_is_the_earliest_connection_timer() -> None:
    stack = make_stack()
    assert stack.next_deadline() is None
    stack.connect(LOCAL, REMOTE, 80, 50)
    output(stack, 50)
    stack.connect(LOCAL, REMOTE, 81, 100)
    output(stack, 100)
    assert stack.next_deadline() == 50 + CONFIG.initial_rto


def test_on_timer_fires_exactly_the_due_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many connections with staggered deadlines: each on_timer call runs the
    timers of exactly the connections that are due -- found through the timer
    heap, not by scanning every connection (design principle 7)."""
    stack = make_stack()
    conns = []
    for i in range(200):  # SYN i leaves at i ms: its RTO (1 s) is due at 1 s + i ms
        conns.append(stack.connect(LOCAL, REMOTE, 1000 + i, i * 1000))
        output(stack, i * 1000)
    assert stack.next_deadline() == CONFIG.initial_rto
    fired: list[Connection] = []
    asked: list[Connection] = []
    original_on_timer = Connection.on_timer
    original_next_deadline = Connection.next_deadline

    def on_timer(self: Connection, now: int) -> None:
        fired.append(self)
        original_on_timer(self, now)

    def next_deadline(self: Connection) -> int | None:
        asked.append(self)
        return original_next_deadline(self)

    monkeypatch.setattr(Connection, "on_timer", on_timer)
    monkeypatch.setattr(Connection, "next_deadline", next_deadline)
    previous = -1
    for step in (0, 4, 5, 120, 199):
        now = CONFIG.initial_rto + step * 1000
        fired.clear()
        asked.clear()
        stack.on_timer(now)
        assert fired == conns[previous + 1 : step + 1]  # the due ones, in deadline order
        assert asked == fired  # the idle connections were not even looked at
        sent = [p.segment for p in output(stack, now)]
        assert sorted(s.src_port for s in sent) == sorted(c.local_port for c in fired)
        assert all(s.flags == SYN for s in sent)
        deadline = stack.next_deadline()
        if step < 199:
            assert deadline == CONFIG.initial_rto + (step + 1) * 1000
        previous = step
    assert all(c.stats.get("retransmitted_segments") == 1 for c in conns)


def test_nothing_fires_before_its_deadline() -> None:
    stack = make_stack()
    conn = stack.connect(LOCAL, REMOTE, 80, 0)
    output(stack, 0)
    stack.on_timer(CONFIG.initial_rto - 1)
    assert output(stack, CONFIG.initial_rto - 1) == []
    assert conn.stats.get("retransmitted_segments") is None
    stack.on_timer(CONFIG.initial_rto)
    (syn,) = segments(stack, CONFIG.initial_rto)
    assert syn.flags == SYN
    assert stack.next_deadline() == CONFIG.initial_rto + 2 * CONFIG.initial_rto


def test_output_refused_reaches_existing_and_new_connections() -> None:
    """Stack.set_output_refused: the driver's device drops packets (a qdisc
    with limit 0); every connection, also one created later, keeps new data
    unsent while it lasts (Linux's failing tcp_transmit_skb)."""
    stack = make_stack()
    listener = stack.listen(LOCAL, 80)
    one = Client(stack, 5001, iss=100)
    one.connect()
    first = stack.accept(listener)
    stack.set_output_refused(True)
    assert stack.output_refused and first.output_refused
    first.send(b"held")
    assert segments(stack, 0) == []
    assert first.snd_max == first.snd_una  # not in flight
    two = Client(stack, 5002, iss=9000)
    two.connect()
    assert stack.accept(listener).output_refused
    stack.set_output_refused(False)
    assert not first.output_refused
    stack.on_timer(stack.next_deadline() or 0)
    sent = segments(stack, stack.next_deadline() or 0)
    assert [bytes(s.payload) for s in sent if s.payload] == [b"held"]
