"""The broken-on-purpose two-way handshake (``TcpConfig.teaching_two_way_handshake``):
off by default, and when on, a passive open goes LISTEN -> ESTABLISHED on a SYN,
answering with one SYN,ACK that is never retransmitted (RFC 9293 3.5 explains
why a real TCP waits in SYN-RECEIVED instead)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from synack.tcp.config import SECOND, TcpConfig
from synack.tcp.connection import Connection, IllegalTransition
from synack.tcp.events import Established
from synack.tcp.state import TEACHING_TRANSITIONS, TRANSITIONS, State
from synack.trace.records import Record, StateChanged
from synack.wire.tcp import Segment, TcpFlags

LOCAL = (IPv4Address("192.0.2.2"), 80)
REMOTE = (IPv4Address("192.0.2.1"), 40000)
PEER_ISS = 0xFFFFFF00  # near 2**32, so wrap bugs show


def passive(config: TcpConfig) -> tuple[Connection, list[Record]]:
    records: list[Record] = []
    conn = Connection(LOCAL, REMOTE, config=config, iss=1000, trace=records.append)
    conn.listen(0)
    return conn, records


def syn() -> Segment:
    return Segment(REMOTE[1], LOCAL[1], PEER_ISS, 0, TcpFlags.SYN, 65535)


def test_off_by_default_and_kept_apart_from_the_table() -> None:
    assert TcpConfig().teaching_two_way_handshake is False
    assert set(TEACHING_TRANSITIONS) == {(State.LISTEN, State.ESTABLISHED)}
    assert not set(TEACHING_TRANSITIONS) & set(TRANSITIONS)  # the state diagram stays true


def test_default_passive_open_waits_in_syn_received() -> None:
    conn, _ = passive(TcpConfig())
    conn.receive(syn(), 10)
    assert conn.state is State.SYN_RECEIVED
    (synack,) = conn.segments_to_send(10)
    assert synack.flags == TcpFlags.SYN | TcpFlags.ACK
    assert conn.next_event() is None  # nothing for the application yet


def test_two_way_variant_establishes_on_the_syn() -> None:
    conn, records = passive(TcpConfig(teaching_two_way_handshake=True))
    conn.receive(syn(), 10)
    assert conn.state is State.ESTABLISHED
    changes = [r for r in records if isinstance(r, StateChanged)]
    assert (changes[-1].old, changes[-1].new) == (State.LISTEN, State.ESTABLISHED)
    assert "teaching" in changes[-1].cause
    assert isinstance(conn.next_event(), Established)
    (synack,) = conn.segments_to_send(10)
    assert synack.flags == TcpFlags.SYN | TcpFlags.ACK
    assert synack.seq == 1000 and synack.ack == (PEER_ISS + 1) & 0xFFFFFFFF
    assert synack.mss is not None  # a real SYN,ACK, options and all
    # Nothing will acknowledge it, and it is not retransmitted.
    assert conn.next_deadline() is None
    conn.on_timer(10 + 10 * SECOND)
    assert conn.segments_to_send(10 + 10 * SECOND) == []
    # Data flows at once, numbered after the SYN.
    conn.send(b"220 ready\r\n", 20)
    (data,) = conn.segments_to_send(20)
    assert data.seq == 1001 and data.payload == b"220 ready\r\n"


def test_the_teaching_edge_is_illegal_without_the_flag() -> None:
    conn, _ = passive(TcpConfig())
    with pytest.raises(IllegalTransition):
        conn._set_state(State.ESTABLISHED, "test", 0)
