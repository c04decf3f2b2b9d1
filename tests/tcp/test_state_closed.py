"""CLOSED: no TCB (RFC 9293 3.10.7.1, 3.5.2 reset generation case 1).

"If the state is CLOSED (i.e., TCB does not exist) then all data in the
incoming segment is discarded.  An incoming segment containing a RST is
discarded.  An incoming segment not containing a RST causes a RST to be sent
in response."  The RST takes one of two forms:

- the segment has an ACK: <SEQ=SEG.ACK><CTL=RST>
- otherwise:            <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
"""

from __future__ import annotations

import errno
from ipaddress import IPv4Address

import pytest
from helpers import (
    ACK,
    FIN,
    LOCAL_ADDR,
    PSH,
    REMOTE_ADDR,
    REMOTE_ISS,
    RST,
    SYN,
    T0,
    established,
    new_harness,
    out,
    seg,
)

from synack.tcp.connection import SHUT_WR
from synack.tcp.events import Closed
from synack.tcp.stack import Stack
from synack.tcp.state import State
from synack.wire.ip import Packet, encode_packet, parse_packet
from synack.wire.tcp import Segment, TcpFlags


def test_new_connection_is_closed_with_no_deadline() -> None:
    h = new_harness()
    assert h.state is State.CLOSED
    assert h.deadline is None
    h.expect_nothing()
    assert h.events() == []


def test_segment_with_ack_gets_rst_seq_seg_ack() -> None:
    """3.10.7.1: ACK bit on: <SEQ=SEG.ACK><CTL=RST> (no ACK, window 0)."""
    h = new_harness()
    h.recv_seg(h.peer(ACK | PSH, 5, 17, payload=b"data"))
    h.expect(h.mine(RST, 17, window=0))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.conn.stats["CLOSED"] == 1  # counted as a drop
    assert h.transitions() == []


@pytest.mark.parametrize(
    ("flags", "payload", "seg_len"),
    [
        (SYN, b"", 1),
        (SYN, b"abc", 4),  # SEG.LEN counts the SYN and the data
        (FIN, b"", 1),
        (SYN | FIN, b"xy", 4),
        (PSH, b"hello", 5),
        (TcpFlags(0), b"", 0),
    ],
)
def test_segment_without_ack_gets_rst_ack_seq_zero(
    flags: TcpFlags, payload: bytes, seg_len: int
) -> None:
    """3.10.7.1: ACK bit off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    h = new_harness()
    h.recv_seg(h.peer(flags, 10, payload=payload))
    h.expect(out(RST | ACK, 0, REMOTE_ISS + 10 + seg_len, window=0))
    h.expect_nothing()
    assert h.state is State.CLOSED


def test_rst_ack_formula_wraps() -> None:
    """SEG.SEQ+SEG.LEN is computed modulo 2**32."""
    h = new_harness()
    h.recv_seg(seg(SYN, 2**32 - 1, payload=b"ab"))
    h.expect(out(RST | ACK, 0, 2, window=0))


@pytest.mark.parametrize("flags", [RST, RST | ACK, RST | SYN])
def test_rst_is_never_answered(flags: TcpFlags) -> None:
    """3.10.7.1: "An incoming segment containing a RST is discarded" (3.5.2:
    a RST is never sent in response to a RST)."""
    h = new_harness()
    h.recv_seg(h.peer(flags, 0, 1))
    h.expect_nothing()
    assert h.state is State.CLOSED


def test_closed_after_abort_answers_with_rst() -> None:
    """A connection that went CLOSED behaves as no TCB at all."""
    h = established()
    h.conn.abort(h.now)
    h.expect(h.mine(RST | ACK, 1, 1, window=65535))
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"late"))
    h.expect(h.mine(RST, 1, window=0))
    h.recv_seg(h.peer(FIN, 5))
    h.expect(out(RST | ACK, 0, REMOTE_ISS + 6, window=0))
    assert h.state is State.CLOSED


# ---------------------------------------------------------------- user calls in CLOSED


def test_send_before_open_raises_enotconn() -> None:
    """3.10.2 SEND in CLOSED: "error: connection does not exist" -> ENOTCONN."""
    h = new_harness()
    with pytest.raises(OSError) as info:
        h.conn.send(b"x")
    assert info.value.errno == errno.ENOTCONN


def test_recv_before_open_raises_enotconn() -> None:
    h = new_harness()
    with pytest.raises(OSError) as info:
        h.conn.recv(10)
    assert info.value.errno == errno.ENOTCONN


def test_shutdown_before_open_raises_enotconn() -> None:
    h = new_harness()
    with pytest.raises(OSError) as info:
        h.conn.shutdown(SHUT_WR)
    assert info.value.errno == errno.ENOTCONN


def test_shutdown_rejects_bad_how() -> None:
    h = established()
    with pytest.raises(OSError) as info:
        h.conn.shutdown(7)
    assert info.value.errno == errno.EINVAL


def test_close_and_abort_in_closed_do_nothing() -> None:
    """3.10.4 CLOSE in CLOSED: nothing to do (no segment, no event)."""
    h = new_harness()
    h.conn.close(h.now)
    h.conn.abort(h.now)
    h.expect_nothing()
    assert h.events() == []
    assert h.state is State.CLOSED


def test_close_is_idempotent() -> None:
    h = established()
    h.conn.close(h.now)
    h.conn.close(h.now)
    h.expect(h.mine(FIN | ACK, 1, 1))
    h.expect_nothing()


def test_connect_from_closed_enters_syn_sent() -> None:
    """3.10.1 OPEN (active) from CLOSED: CLOSED -> SYN-SENT."""
    h = new_harness()
    h.conn.connect(T0)
    assert h.state is State.SYN_SENT
    assert h.transitions() == [(State.CLOSED, State.SYN_SENT)]


def test_connect_when_established_raises_eisconn() -> None:
    h = established()
    with pytest.raises(OSError) as info:
        h.conn.connect(h.now)
    assert info.value.errno == errno.EISCONN


def test_recv_with_negative_size_raises_value_error() -> None:
    h = established()
    with pytest.raises(ValueError):
        h.conn.recv(-1)


def test_closed_event_only_once() -> None:
    h = established()
    h.conn.abort(h.now)
    h.conn.abort(h.now)
    assert h.event_types() == [Closed]


# ---------------------------------------------------------------- the stack's strays


def _stack_round_trip(segment: Segment) -> list[Segment]:
    stack = Stack([LOCAL_ADDR])
    stack.receive(encode_packet(Packet(REMOTE_ADDR, LOCAL_ADDR, segment)), T0)
    replies = []
    for packet in stack.packets_to_send(T0):
        parsed = parse_packet(packet)
        assert parsed.src == LOCAL_ADDR
        assert parsed.dst == REMOTE_ADDR
        replies.append(parsed.segment)
    return replies


def test_stack_without_tcb_resets_ack_segment() -> None:
    """3.5.2 case 1 at the stack: a segment for a port nobody uses, with ACK."""
    replies = _stack_round_trip(Segment(4000, 9, 1234, 5678, ACK, 100))
    assert [(r.src_port, r.dst_port, r.seq, r.ack, r.flags) for r in replies] == [
        (9, 4000, 5678, 0, RST)
    ]


def test_stack_without_tcb_resets_syn() -> None:
    """3.5.2 case 1 at the stack: a SYN to a closed port is refused with RST,ACK."""
    replies = _stack_round_trip(Segment(4000, 9, 1234, 0, SYN, 100))
    assert [(r.seq, r.ack, r.flags) for r in replies] == [(0, 1235, RST | ACK)]


def test_stack_without_tcb_ignores_rst() -> None:
    assert _stack_round_trip(Segment(4000, 9, 1234, 0, RST, 0)) == []


def test_stack_ignores_packets_for_other_addresses() -> None:
    stack = Stack([LOCAL_ADDR])
    other = IPv4Address("192.0.2.99")
    stack.receive(encode_packet(Packet(REMOTE_ADDR, other, Segment(4000, 9, 1, 0, SYN, 1))), T0)
    assert stack.packets_to_send(T0) == []
