"""RFC 9293 requirements not covered by the per-state and transfer tests, one
test (or a few) per Appendix B label, named in each docstring.

Connection-level tests use the per-state harness (``helpers``); stack-level
ones (addresses, listeners, TTL, broadcast and multicast) drive a ``Stack``
with raw IP datagrams, as ``test_stack.py`` does.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Iterable
from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address

import pytest
from helpers import (
    ACK,
    CONFIG,
    LOCAL_ADDR,
    LOCAL_ISS,
    PSH,
    REMOTE_ADDR,
    REMOTE_ISS,
    RST,
    SYN,
    T0,
    Harness,
    established,
    fin_wait_1,
    syn_received,
    syn_sent,
)

from synack.api import linux as L
from synack.api.sockets import SocketTable
from synack.tcp.config import SECOND, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import Closed, Readable, Reset
from synack.tcp.stack import Stack
from synack.tcp.state import State
from synack.trace.records import DropReason
from synack.wire.ip import Packet, encode_packet, parse_packet
from synack.wire.tcp import EOL, NOP, MaxSegmentSize, Segment, WindowScale

MSS = 1460
BUFFER = CONFIG.receive_buffer  # 65535
RTO = 200_000  # the harness's RTO after its 10 ms handshake sample (the 200 ms minimum)


def rel(seq: int, base: int) -> int:
    return (seq - base) % 2**32


def fill_receive_buffer(h: Harness) -> int:
    """The peer fills the (never read) receive buffer; returns its next relative seq."""
    start = 1
    while start - 1 < BUFFER:
        size = min(MSS, BUFFER - (start - 1))
        h.recv_seg(h.peer(ACK, start, 1, payload=bytes(size)))
        start += size
    h.advance(h.now + 40_000)  # the last, odd-sized segment's delayed ACK
    h.take()
    h.events()
    assert h.conn.rcv_adv == h.conn.rcv_nxt  # RCV.WND is zero
    return start


# ================================================================ sending (3.9.1.2)


def test_small_writes_are_aggregated_not_sent_one_by_one() -> None:
    """MAY-16: a series of SENDs may be aggregated internally; SHLD-27: their
    push bits collapse into one segment, as large as possible."""
    h = established()
    h.conn.send(b"a")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"a"))
    for byte in b"bcdefgh":
        h.conn.send(bytes([byte]))
    h.expect_nothing()  # queued behind the data in flight (Nagle)
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 2))
    h.expect(h.mine(ACK | PSH, 2, 1, payload=b"bcdefgh"))  # seven SENDs, one segment
    h.expect_nothing()


def test_queued_writes_go_out_as_maximum_sized_segments_with_one_psh() -> None:
    """SHLD-28: maximum-sized segments whenever possible; SHLD-27: the PSH bits
    of several writes are collapsed; MUST-61: PSH is set on the last segment,
    the one that empties the buffer, and only there."""
    h = established(replace(CONFIG, nagle=False))
    h.conn.send(bytes(700))
    h.conn.send(bytes(1000))
    h.conn.send(bytes(2 * MSS))
    total = 700 + 1000 + 2 * MSS  # 4620 = 3 * 1460 + 240
    out = h.take()
    assert [len(s.payload) for s in out] == [MSS, MSS, MSS, total - 3 * MSS]
    assert [s.flags for s in out] == [ACK, ACK, ACK, ACK | PSH]
    assert [rel(s.seq, LOCAL_ISS) for s in out] == [1, 1 + MSS, 1 + 2 * MSS, 1 + 3 * MSS]


def test_psh_marks_the_last_buffered_segment_of_every_write() -> None:
    """MUST-61: when the buffer empties, the segment that empties it has PSH,
    also when that segment is full-sized."""
    h = established(replace(CONFIG, nagle=False))
    h.conn.send(bytes(MSS))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=bytes(MSS)))
    h.conn.send(b"xy")
    h.expect(h.mine(ACK | PSH, 1 + MSS, 1, payload=b"xy"))


def test_held_data_is_not_buffered_indefinitely() -> None:
    """MUST-60: data held back (here by Nagle, behind unacknowledged data) is
    never kept indefinitely: even if the peer never answers, the retransmission
    timeout sends it, together with the unacknowledged byte and pushed."""
    h = established()
    h.conn.send(b"a")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"a"))
    h.conn.send(b"b")
    h.expect_nothing()
    assert h.deadline == h.now + RTO
    h.advance(h.now + RTO)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"ab"))
    h.expect_nothing()


# ================================================================ windows (3.8.6)


def test_window_field_is_unsigned_and_kept_at_full_width() -> None:
    """MUST-1: a window field of 0xFFFF is 65535, never negative; REC-1: scaled
    by 14 (RFC 7323) it is kept as a full integer, 65535 << 14 > 2**29, and the
    sender may fill it (up to its congestion window)."""
    h = syn_sent(replace(CONFIG, window_scaling=True))
    h.now += 10_000
    options = (MaxSegmentSize(MSS), NOP, WindowScale(14))
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=0xFFFF, options=options))
    h.take()
    assert h.conn.snd_wnd == 0xFFFF  # the window of a SYN is never scaled
    h.recv_seg(h.peer(ACK, 1, 1, window=0xFFFF))
    assert h.conn.snd_wnd == 0xFFFF << 14 == 1_073_725_440
    h.conn.send(bytes(20 * MSS))
    out = h.take()
    assert len(out) == 10  # the initial congestion window, not the peer's window
    assert all(len(s.payload) == MSS for s in out)


def test_receive_window_may_stay_closed_indefinitely() -> None:
    """MAY-8: while the application does not read, the offered window stays
    closed -- for an hour of zero-window probes here -- and the connection
    stays open without any timer of ours; a read reopens it."""
    h = established()
    end = fill_receive_buffer(h)
    start = h.now
    while h.now < start + 3600 * SECOND:
        h.now += 120 * SECOND
        h.recv_seg(h.peer(ACK, end - 1, 1))  # a probe with an old sequence number
        h.expect(h.mine(ACK, 1, end, window=0))
        assert h.deadline is None
    assert h.state is State.ESTABLISHED
    assert h.conn.rcv_adv == h.conn.rcv_nxt
    assert len(h.conn.recv(BUFFER)) == BUFFER
    h.expect(h.mine(ACK, 1, end, window=BUFFER))


def test_no_new_data_into_a_shrunk_window() -> None:
    """SHLD-15: when the peer shrinks its window below the data in flight
    (usable window negative, MUST-34), no new data is sent."""
    h = established()
    h.conn.send(bytes(3 * MSS))
    assert len(h.take()) == 3
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1, window=1000))  # right edge moves left
    assert h.conn.snd_wnd == 1000
    h.conn.send(bytes(500))
    h.expect_nothing()
    assert h.state is State.ESTABLISHED


def test_old_data_in_a_shrunk_window_is_retransmitted_normally() -> None:
    """SHLD-16: after the window shrank, the retransmission timeout resends the
    unacknowledged data between SND.UNA and SND.UNA+SND.WND -- the 1000 octets
    that fit, at the RTO, not held back by sender SWS avoidance -- and nothing
    beyond it (MAY-7 is not done)."""
    h = established()
    h.conn.send(bytes(3 * MSS))
    assert len(h.take()) == 3
    sent_at = h.now
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1, window=1000))
    h.expect_nothing()
    h.advance(sent_at + RTO)
    h.expect(h.mine(ACK, 1, 1, payload=bytes(1000)))
    h.expect_nothing()
    assert h.conn.snd_nxt == LOCAL_ISS + 1001
    # The peer takes it and opens its window: the rest follows.
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1001, window=10 * MSS))
    out = h.take()
    assert rel(out[0].seq, LOCAL_ISS) == 1001
    assert sum(len(s.payload) for s in out) >= MSS


# ================================================================ RST (3.5.3)


def test_rst_is_processed_with_a_zero_receive_window() -> None:
    """MUST-66: RST is processed even when the receive window is zero."""
    h = established()
    end = fill_receive_buffer(h)
    h.recv_seg(h.peer(RST | ACK, end, 1))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert [type(e) for e in h.events()] == [Reset, Closed]


def test_rst_with_data_is_processed_with_a_zero_receive_window() -> None:
    """MUST-66 with SHLD-2: a RST at RCV.NXT carrying diagnostic text resets the
    connection also when the window is zero (as Linux's tcp_sequence())."""
    h = established()
    end = fill_receive_buffer(h)
    h.recv_seg(h.peer(RST, end, payload=b"closed: out of memory"))
    h.expect_nothing()
    assert h.state is State.CLOSED


def test_rst_outside_a_zero_window_is_still_dropped() -> None:
    """MUST-66 does not loosen RFC 5961: with a zero window only a RST at
    exactly RCV.NXT is acceptable; others are dropped silently."""
    h = established()
    end = fill_receive_buffer(h)
    h.recv_seg(h.peer(RST, end + 1))
    h.recv_seg(h.peer(RST, end - 1, payload=b"xy"))
    h.expect_nothing()
    assert h.state is State.ESTABLISHED
    assert h.conn.stats["RST_OUT_OF_WINDOW"] == 2


def test_rst_may_carry_data() -> None:
    """SHLD-2: a RST segment may contain data (a diagnostic): it is accepted as
    a RST; the text is not delivered as stream data."""
    h = established()
    h.recv_seg(h.peer(RST | ACK, 1, 1, payload=b"service going down"))
    h.expect_nothing()
    assert h.state is State.CLOSED
    events = h.events()
    assert [type(e) for e in events] == [Reset, Closed]
    with pytest.raises(ConnectionResetError):
        h.conn.recv(100)
    assert h.conn.recv(100) == b""


def test_rst_with_data_refuses_a_connection_attempt() -> None:
    """SHLD-2 in SYN-SENT: a RST,ACK with data that acknowledges our SYN refuses."""
    h = syn_sent()
    h.recv_seg(h.peer(RST | ACK, 0, 1, payload=b"no service on this port"))
    assert h.state is State.CLOSED
    (reset, _closed) = h.events()
    assert isinstance(reset, Reset)
    assert reset.error.errno == errno.ECONNREFUSED


# ================================================================ MSS option (3.7.1)


def test_mss_option_sent_even_when_it_equals_the_ipv4_default() -> None:
    """MAY-3 (and so SHLD-5): the MSS option is sent on every SYN, even when our
    receive MSS is the IPv4 default of 536 (an MTU of 576)."""
    config = replace(CONFIG, mtu=576)
    h = syn_sent(config)  # the builder checks the SYN carries exactly <mss 536>
    assert h.conn.mss_advertised == 536
    h = syn_received(config)  # ... and the SYN,ACK too
    assert h.conn.mss_advertised == 536


@pytest.mark.parametrize(("mtu", "mss"), [(1280, 1220), (1500, 1440), (9000, 8940)])
def test_mss_option_sent_on_ipv6(mtu: int, mss: int) -> None:
    """SHLD-5, MAY-3 for IPv6: the SYN carries MSS = MTU - 60, also when that is
    the IPv6 default of 1220."""
    local = (IPv6Address("2001:db8::1"), 49152)
    remote = (IPv6Address("2001:db8::7"), 80)
    conn = Connection(local, remote, config=replace(CONFIG, mtu=mtu), iss=LOCAL_ISS)
    conn.connect(T0)
    (syn,) = conn.segments_to_send(T0)
    assert syn.flags == SYN
    assert syn.options == (MaxSegmentSize(mss),)


def test_mandatory_options_on_an_arriving_syn() -> None:
    """MUST-4: a SYN whose options are NOP, NOP, MSS, EOL is understood: its
    MSS becomes the send MSS."""
    h = syn_sent()
    options = (NOP, NOP, MaxSegmentSize(1000), EOL)
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=options))
    h.take()
    assert h.state is State.ESTABLISHED
    assert h.conn.send_mss == 1000


# ================================================================ acknowledgments (3.10.7.4)


def test_queued_segments_are_all_processed_before_one_ack() -> None:
    """MUST-58, MUST-59: a series of queued segments (four in order, enough for
    two immediate ACKs by SHLD-19, then one out of order) is processed in full
    before any ACK is sent, and only one ACK leaves, for all of them."""
    h = established()
    for index in range(4):
        h.recv_seg(h.peer(ACK, 1 + index * MSS, 1, payload=bytes(MSS)))
    h.recv_seg(h.peer(ACK, 1 + 6 * MSS, 1, payload=bytes(MSS)))
    (ack,) = h.take()
    assert ack.flags == ACK
    assert rel(ack.ack, REMOTE_ISS) == 1 + 4 * MSS
    h.expect_nothing()


def test_queued_datagrams_are_all_processed_before_one_ack_at_the_stack() -> None:
    """MUST-59 at the stack: datagrams received before the driver flushes are
    all processed first; then one ACK covers them."""
    stack = make_stack()
    stack.listen(LOCAL, 80)
    server_iss = open_from(stack, 5000)
    for index in range(3):
        data = Segment(5000, 80, 1001 + index * MSS, server_iss + 1, ACK, 65535, 0, (), bytes(MSS))
        deliver(stack, data)
    (reply,) = flush(stack)
    assert reply.segment.flags == ACK
    assert reply.segment.ack == 1001 + 3 * MSS


# ================================================================ CLOSE (3.6)


def test_closed_application_reads_no_more_data() -> None:
    """MAY-1: half-duplex close: after CLOSE the application cannot read; data
    that still arrives is answered with a RST (SHLD-3) and never delivered."""
    h = fin_wait_1()
    assert h.conn.recv(100) == b""  # end of stream for the application that closed
    h.recv_seg(h.peer(ACK | PSH, 1, 2, payload=b"too late"))
    h.expect(h.mine(RST, 2, window=0))
    assert h.state is State.CLOSED
    assert Readable not in h.event_types()
    assert h.conn.recv(100) == b""


# ================================================================ keep-alives (3.8.4)

KEEPALIVE = replace(
    CONFIG,
    keepalive=True,
    keepalive_idle=10 * SECOND,
    keepalive_interval=5 * SECOND,
    keepalive_probes=3,
)


def test_keepalive_defaults() -> None:
    """MUST-25: off by default; MUST-28: the idle interval defaults to at least
    two hours; a default connection arms no keep-alive timer."""
    assert TcpConfig().keepalive is False
    assert TcpConfig().keepalive_idle >= 2 * 3600 * SECOND
    h = established()
    assert h.conn.keepalive_deadline is None


def test_keepalive_probe_after_the_configured_idle_interval() -> None:
    """MAY-5: keep-alives are implemented; MUST-27: after the configured idle
    interval (10 s here) a probe goes out; SHLD-12: it carries no data and has
    SEG.SEQ = SND.NXT - 1, so the peer must answer with an ACK."""
    h = established(KEEPALIVE)
    assert h.deadline == h.now + 10 * SECOND
    h.advance(h.now + 10 * SECOND - 1)
    h.expect_nothing()
    h.advance(h.now + 1)
    h.expect(h.mine(ACK, 0, 1))
    h.expect_nothing()
    assert h.deadline == h.now + 5 * SECOND
    h.recv_seg(h.peer(ACK, 1, 1))  # the answer
    h.expect_nothing()
    assert h.deadline == h.now + 10 * SECOND  # idle again, probes forgotten
    assert h.conn.keepalive_deadline == h.now + 10 * SECOND


def test_keepalive_only_after_the_interval_without_incoming_segments() -> None:
    """MUST-26: a probe is sent only when nothing arrived for the whole idle
    interval: data from the peer restarts it."""
    h = established(KEEPALIVE)
    h.advance(h.now + 6 * SECOND)
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"ping"))
    assert h.conn.keepalive_deadline == h.now + 10 * SECOND
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, 5, window=BUFFER - 4))  # the delayed ACK, not a probe
    h.advance(h.conn.keepalive_deadline - 1)
    h.expect_nothing()
    h.advance(h.now + 1)
    h.expect(h.mine(ACK, 0, 5, window=BUFFER - 4))


def test_no_keepalive_while_sent_data_is_outstanding() -> None:
    """MUST-26: keep-alives only when no sent data is outstanding: while our
    data waits for an ACK, only retransmissions go out (the retransmission
    timer watches the peer) and keep-alive does not end the connection."""
    h = established(KEEPALIVE)
    h.conn.send(b"data")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"data"))
    while h.now < T0 + 40 * SECOND:
        deadline = h.deadline
        assert deadline is not None
        h.advance(deadline)
        for segment in h.take():
            assert bytes(segment.payload) == b"data"  # never a probe
    assert h.state is State.ESTABLISHED
    h.recv_seg(h.peer(ACK, 1, 5))
    assert h.conn.keepalive_deadline == h.now + 10 * SECOND
    h.advance(h.now + 10 * SECOND)
    h.expect(h.mine(ACK, 4, 1))  # idle with nothing outstanding: now a probe


def test_unanswered_probes_are_not_a_dead_connection() -> None:
    """MUST-29: one unanswered probe does not kill the connection; only after
    keepalive_probes (3 here) unanswered probes does it time out."""
    h = established(KEEPALIVE)
    start = h.now
    for offset in (10, 15, 20):
        h.advance(start + offset * SECOND)
        h.expect(h.mine(ACK, 0, 1))
        assert h.state is State.ESTABLISHED
    h.advance(start + 25 * SECOND)
    h.expect(h.mine(RST | ACK, 1, 1))  # giving up: a RST, as Linux's keep-alive timer sends
    assert h.state is State.CLOSED
    (reset, _closed) = h.events()
    assert isinstance(reset, Reset)
    assert reset.error.errno == errno.ETIMEDOUT


def test_an_answer_after_missed_probes_keeps_the_connection() -> None:
    """MUST-29: after two lost probes an answer to the third resets the count."""
    h = established(KEEPALIVE)
    start = h.now
    for offset in (10, 15, 20):
        h.advance(start + offset * SECOND)
        h.expect(h.mine(ACK, 0, 1))
    h.recv_seg(h.peer(ACK, 1, 1))
    for offset in (30, 35, 40):
        h.advance(start + offset * SECOND)
        h.expect(h.mine(ACK, 0, 1))
        assert h.state is State.ESTABLISHED


def test_keepalive_is_chosen_per_connection() -> None:
    """MUST-24: the application turns keep-alives on or off for each connection:
    of two connections, only the one configured for them probes."""
    with_keepalive = established(KEEPALIVE)
    without = established()
    for h in (with_keepalive, without):
        h.advance(h.now + 10 * SECOND)
    with_keepalive.expect(with_keepalive.mine(ACK, 0, 1))
    without.expect_nothing()
    assert without.deadline is None


def test_keepalive_can_be_turned_off_on_a_live_connection() -> None:
    """MUST-24: turning keep-alives off (a new config, as setsockopt(SO_KEEPALIVE,
    0) applies it) stops the probes, although the idle timer was running."""
    h = established(KEEPALIVE)
    h.conn.config = replace(KEEPALIVE, keepalive=False)
    h.conn.wake()
    h.advance(h.now + 10 * SECOND)
    h.expect_nothing()
    assert h.deadline is None
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"x"))  # traffic does not re-arm it
    h.advance(h.now + 40_000)
    h.take()
    assert h.deadline is None
    assert h.state is State.ESTABLISHED


def test_keepalive_can_be_turned_on_on_a_live_idle_connection() -> None:
    """MUST-24: turning keep-alives on later starts the idle timer at once, even
    if the peer never sends anything again."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"last words"))
    h.advance(h.now + 40_000)
    h.take()
    h.now += 3 * SECOND
    assert h.conn.recv(100, h.now) == b"last words"
    h.conn.config = KEEPALIVE  # as setsockopt(SO_KEEPALIVE, 1) applies it
    h.conn.wake()
    assert h.deadline == h.now + 10 * SECOND
    h.advance(h.now + 10 * SECOND)
    h.expect(h.mine(ACK, 0, 11))


# ================================================================ errors (3.9.1.8)


@pytest.mark.parametrize(
    ("scenario", "code"),
    [("rst", errno.ECONNRESET), ("refused", errno.ECONNREFUSED), ("keepalive", errno.ETIMEDOUT)],
)
def test_errors_are_reported_to_the_application(scenario: str, code: int) -> None:
    """MUST-47: an asynchronous report reaches the application: a Reset event
    carrying the error, which its next call raises too."""
    if scenario == "rst":
        h = established()
        h.recv_seg(h.peer(RST, 1))
    elif scenario == "refused":
        h = syn_sent()
        h.recv_seg(h.peer(RST | ACK, 0, 1))
    else:
        h = established(replace(KEEPALIVE, keepalive_probes=0))
        h.advance(h.now + 10 * SECOND)
    events = h.events()
    assert isinstance(events[0], Reset)
    assert events[0].error.errno == code
    with pytest.raises(OSError) as info:
        h.conn.send(b"x")
    assert info.value.errno == code


# ================================================================ the Stack: addresses


LOCAL = LOCAL_ADDR
LOCAL2 = IPv4Address("192.0.2.3")
REMOTE = REMOTE_ADDR
REMOTE2 = IPv4Address("198.51.100.9")
LOCAL6 = IPv6Address("2001:db8::1")
REMOTE6 = IPv6Address("2001:db8::7")
STACK_CONFIG = CONFIG  # no window scaling, SACK or timestamps: plain segments
Address = IPv4Address | IPv6Address


def make_stack(config: TcpConfig = STACK_CONFIG, addresses: Iterable[Address] = (LOCAL,)) -> Stack:
    return Stack(addresses, config=config, random=random.Random(1))


def deliver(
    stack: Stack, seg: Segment, src: Address = REMOTE, dst: Address = LOCAL, now: int = 0
) -> None:
    stack.receive(encode_packet(Packet(src, dst, seg)), now)


def flush(stack: Stack, now: int = 0) -> list[Packet]:
    return [parse_packet(p) for p in stack.packets_to_send(now)]


def open_from(
    stack: Stack,
    port: int,
    *,
    src: Address = REMOTE,
    dst: Address = LOCAL,
    dst_port: int = 80,
    iss: int = 1000,
) -> int:
    """A remote client's three-way handshake by hand; returns the server's ISS."""
    syn = Segment(port, dst_port, iss, 0, SYN, 65535, 0, (MaxSegmentSize(MSS),))
    deliver(stack, syn, src, dst)
    (reply,) = flush(stack)
    assert reply.segment.flags == SYN | ACK
    assert (reply.src, reply.dst) == (dst, src)
    deliver(stack, Segment(port, dst_port, iss + 1, reply.segment.seq + 1, ACK, 65535), src, dst)
    assert flush(stack) == []
    return reply.segment.seq


def test_active_open_uses_the_local_address_given() -> None:
    """MUST-43: OPEN takes the local IP address as a parameter: on a host with
    two addresses the SYN leaves from the one asked for; MUST-45: every later
    segment of the connection uses it too."""
    stack = make_stack(addresses=(LOCAL, LOCAL2))
    conn = stack.connect(LOCAL2, REMOTE, 80, 0)
    (syn,) = flush(stack)
    assert (syn.src, syn.dst, syn.segment.flags) == (LOCAL2, REMOTE, SYN)
    assert conn.local_address == LOCAL2
    port = syn.segment.src_port
    syn_ack = Segment(
        80, port, 5000, syn.segment.seq + 1, SYN | ACK, 65535, 0, (MaxSegmentSize(MSS),)
    )
    deliver(stack, syn_ack, REMOTE, LOCAL2, 10)
    conn.send(b"hello", 20)
    conn.close(20)
    later = flush(stack, 20)
    assert later
    assert {p.src for p in later} == {LOCAL2}
    assert {p.dst for p in later} == {REMOTE}


def test_open_from_an_address_not_ours_is_refused() -> None:
    """MUST-43: the local address must be one of the host's."""
    stack = make_stack()
    with pytest.raises(OSError) as info:
        stack.connect(LOCAL2, REMOTE, 80, 0)
    assert info.value.errno == errno.EADDRNOTAVAIL
    assert stack.connections == []


def test_unbound_socket_gets_its_local_address_before_the_syn() -> None:
    """MUST-44: when the application names no local address, one is chosen
    before the first SYN is sent (the socket table's address for the host, a
    stand-in for IP's GET_SRCADDR), and the SYN carries it."""
    stack = make_stack(addresses=(LOCAL, LOCAL2))
    table = SocketTable(stack, LOCAL2)
    fd = table.socket(L.AF_INET, L.SOCK_STREAM, L.IPPROTO_TCP)
    table.connect(fd, REMOTE, 80, 0)
    (syn,) = flush(stack)
    assert syn.segment.flags == SYN
    assert syn.src == LOCAL2


def test_passive_connection_answers_from_the_address_it_was_reached_at() -> None:
    """MUST-45: a connection opened through a wildcard listener uses, for every
    segment, the local address the peer's SYN was sent to."""
    stack = make_stack(addresses=(LOCAL, LOCAL2))
    listener = stack.listen("0.0.0.0", 80)
    server_iss = open_from(stack, 5000, dst=LOCAL2)
    conn = stack.accept(listener)
    assert conn.local_address == LOCAL2
    data = Segment(5000, 80, 1001, server_iss + 1, ACK | PSH, 65535, 0, (), b"request")
    deliver(stack, data, REMOTE, LOCAL2, 10)
    conn.recv(100, 10)
    conn.send(b"response", 10)
    conn.close(10)
    later = flush(stack, 10)
    assert later
    assert {p.src for p in later} == {LOCAL2}


@pytest.mark.parametrize(
    "remote",
    ["255.255.255.255", "224.0.0.1", "239.1.2.3", "0.0.0.0", "ff02::1", "ff05::1:3", "::"],
)
def test_open_to_a_broadcast_or_multicast_address_is_refused(remote: str) -> None:
    """MUST-46: an active OPEN to a broadcast or multicast (or unspecified)
    remote address, IPv4 or IPv6, is rejected as an error; nothing is sent."""
    local = LOCAL if "." in remote else LOCAL6
    stack = make_stack(addresses=(local,))
    with pytest.raises(OSError) as info:
        stack.connect(local, remote, 80, 0)
    assert info.value.errno == errno.ENETUNREACH
    assert stack.connections == []
    assert flush(stack) == []


@pytest.mark.parametrize(
    ("dst", "remote"),
    [
        (IPv4Address("255.255.255.255"), REMOTE),
        (IPv4Address("224.0.0.1"), REMOTE),
        (IPv4Address("239.255.0.7"), REMOTE),
        (IPv6Address("ff02::1"), REMOTE6),
    ],
)
def test_syn_to_a_broadcast_or_multicast_address_is_discarded_silently(
    dst: Address, remote: Address
) -> None:
    """MUST-57: a SYN addressed to a broadcast or multicast address is silently
    discarded -- even by a wildcard listener, and with no RST -- and counted."""
    stack = make_stack(addresses=(LOCAL, LOCAL6, dst))  # even if the host claims the address
    stack.listen("0.0.0.0" if dst.version == 4 else "::", 80)
    syn = Segment(5000, 80, 1000, 0, SYN, 65535, 0, (MaxSegmentSize(MSS),))
    deliver(stack, syn, remote, dst)
    deliver(stack, Segment(5000, 81, 1000, 7, ACK, 65535), remote, dst)  # no RST either
    assert flush(stack) == []
    assert stack.connections == []
    assert stack.drops == {DropReason.BAD_ADDRESS: 2}


@pytest.mark.parametrize(
    "src",
    [
        IPv4Address("255.255.255.255"),
        IPv4Address("224.0.0.9"),
        IPv4Address("0.0.0.0"),
        IPv6Address("ff02::2"),
        IPv6Address("::"),
    ],
)
def test_syn_from_an_invalid_source_address_is_ignored(src: Address) -> None:
    """MUST-63: a SYN whose source is not a unicast address is ignored: no
    SYN,ACK, no RST, no connection."""
    local: Address = LOCAL if src.version == 4 else LOCAL6
    stack = make_stack(addresses=(local,))
    stack.listen(local, 80)
    syn = Segment(5000, 80, 1000, 0, SYN, 65535, 0, (MaxSegmentSize(MSS),))
    deliver(stack, syn, src, local)
    assert flush(stack) == []
    assert stack.connections == []
    assert stack.drops == {DropReason.BAD_ADDRESS: 1}


# ================================================================ the Stack: listeners


def test_passive_open_does_not_disturb_existing_connections() -> None:
    """MUST-41: a passive OPEN creates a listener or fails; either way the
    connections already there are not affected."""
    stack = make_stack(addresses=(LOCAL, LOCAL2))
    first = stack.listen(LOCAL, 80)
    server_iss = open_from(stack, 5000)
    conn = stack.accept(first)
    before = conn.status()
    second = stack.listen(LOCAL2, 80)  # same port, another address
    with pytest.raises(OSError) as info:
        stack.listen(LOCAL, 80)  # fails: already listening
    assert info.value.errno == errno.EADDRINUSE
    assert conn.status() == before
    assert conn.state is State.ESTABLISHED
    # The connection still carries data, and both listeners still accept.
    deliver(stack, Segment(5000, 80, 1001, server_iss + 1, ACK | PSH, 65535, 0, (), b"hi"), now=5)
    assert conn.recv(10, 5) == b"hi"
    flush(stack, 5)
    open_from(stack, 5001)
    open_from(stack, 5002, dst=LOCAL2)
    assert stack.accept(first).remote_port == 5001
    assert stack.accept(second).remote_port == 5002


def test_listener_keeps_listening_while_a_connection_on_its_port_is_half_open() -> None:
    """MUST-42: listening on a port goes on while a connection with the same
    local port is in SYN-RECEIVED: a second client is answered meanwhile."""
    stack = make_stack()
    listener = stack.listen(LOCAL, 80)
    syn = Segment(5000, 80, 1000, 0, SYN, 65535, 0, (MaxSegmentSize(MSS),))
    deliver(stack, syn)
    (syn_ack,) = flush(stack)
    (half_open,) = stack.connections
    assert half_open.state is State.SYN_RECEIVED
    assert half_open.local_port == 80
    assert listener.state is State.LISTEN
    open_from(stack, 5001, src=REMOTE2)
    assert stack.accept(listener).remote_port == 5001
    deliver(stack, Segment(5000, 80, 1001, syn_ack.segment.seq + 1, ACK, 65535))
    assert flush(stack) == []
    assert stack.accept(listener).remote_port == 5000


def test_listen_on_the_port_of_a_connection_in_syn_sent() -> None:
    """MUST-42: an application can LISTEN on a local port while a connection from
    that port is in SYN-SENT (with reuse_address, Linux's SO_REUSEADDR); the
    active open still completes and the listener gets its own clients."""
    stack = make_stack()
    conn = stack.connect(LOCAL, REMOTE, 80, 0, local_port=5000)
    (syn,) = flush(stack)
    assert conn.state is State.SYN_SENT
    listener = stack.listen(LOCAL, 5000, reuse_address=True)
    syn_ack = Segment(
        80, 5000, 7000, syn.segment.seq + 1, SYN | ACK, 65535, 0, (MaxSegmentSize(MSS),)
    )
    deliver(stack, syn_ack, now=10)
    assert conn.state is State.ESTABLISHED
    (ack,) = flush(stack, 10)
    assert ack.segment.flags == ACK
    open_from(stack, 6000, src=REMOTE2, dst_port=5000)
    assert stack.accept(listener).remote_address == REMOTE2


# ================================================================ the Stack: IP (3.9.2)


def test_ttl_is_configurable() -> None:
    """MUST-49: the TTL of every segment sent -- a connection's and a stray
    RST alike -- is configurable (64 by default, as Linux)."""
    assert TcpConfig().ttl == 64
    stack = make_stack(replace(STACK_CONFIG, ttl=7))
    stack.connect(LOCAL, REMOTE, 80, 0)
    deliver(stack, Segment(5000, 4444, 1, 0, SYN, 65535))  # a closed port: RST
    out = flush(stack)
    assert sorted(p.segment.flags for p in out) == sorted([SYN, RST | ACK])
    assert {p.ttl for p in out} == {7}
    default = make_stack()
    default.connect(LOCAL, REMOTE, 80, 0)
    assert [p.ttl for p in flush(default)] == [64]
    ipv6 = make_stack(replace(STACK_CONFIG, ttl=200), addresses=(LOCAL6,))
    ipv6.connect(LOCAL6, REMOTE6, 80, 0)
    assert [p.ttl for p in flush(ipv6)] == [200]  # the IPv6 hop limit


def test_ip_options_tcp_does_not_understand_are_ignored() -> None:
    """MUST-50: a SYN in an IPv4 datagram with options (router alert, an
    unassigned kind) is handled as if it had none."""
    stack = make_stack()
    stack.listen(LOCAL, 80)
    syn = Segment(5000, 80, 1000, 0, SYN, 65535, 0, (MaxSegmentSize(MSS),))
    wire = encode_packet(Packet(REMOTE, LOCAL, syn))
    options = bytes.fromhex("94040000" + "9e04abcd")
    header = bytearray(wire[:20] + options)
    header[0] = 0x40 | (len(header) // 4)
    header[2:4] = (len(wire) + len(options)).to_bytes(2, "big")
    header[10:12] = b"\x00\x00"
    total = sum(int.from_bytes(header[i : i + 2], "big") for i in range(0, len(header), 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    header[10:12] = (~total & 0xFFFF).to_bytes(2, "big")
    stack.receive(bytes(header) + wire[20:], 0)
    (reply,) = flush(stack)
    assert reply.segment.flags == SYN | ACK
    assert reply.segment.ack == 1001
    assert stack.drops == {}
