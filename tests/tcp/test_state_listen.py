"""LISTEN: a passive OPEN waiting for a SYN (RFC 9293 3.10.1, 3.10.7.2).

The connection under test is the passive end (local port 80) with ISS
``LOCAL_ISS``; the peer's SYN carries ``REMOTE_ISS``.
"""

from __future__ import annotations

import errno
from dataclasses import replace

import pytest
from helpers import (
    ACK,
    CONFIG,
    FIN,
    LOCAL_ISS,
    PEER_SYN_OPTIONS,
    PSH,
    REMOTE_ISS,
    REMOTE_WINDOW,
    RST,
    SYN,
    T0,
    listen,
    new_harness,
)

from synack.tcp.config import SECOND
from synack.tcp.connection import SHUT_WR
from synack.tcp.events import Closed, Established
from synack.tcp.state import State
from synack.wire.tcp import MaxSegmentSize, NoOperation, TcpFlags, WindowScale


def test_listen_enters_listen_and_sends_nothing() -> None:
    """3.10.1 OPEN (passive): CLOSED -> LISTEN, no segment, no timer."""
    h = listen()
    h.expect_nothing()
    assert h.deadline is None
    assert h.conn.passive
    assert h.transitions() == [(State.CLOSED, State.LISTEN)]


def test_listen_twice_raises_einval() -> None:
    h = listen()
    with pytest.raises(OSError) as info:
        h.conn.listen()
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("flags", [RST, RST | ACK, RST | SYN])
def test_rst_is_ignored(flags: TcpFlags) -> None:
    """3.10.7.2 first: "An incoming RST segment could not be valid since it
    could not have been sent in response to anything sent by this incarnation
    of the connection. An incoming RST should be ignored.\""""
    h = listen()
    h.recv_seg(h.peer(flags, 0, 1))
    h.expect_nothing()
    assert h.state is State.LISTEN


@pytest.mark.parametrize("flags", [ACK, SYN | ACK, ACK | FIN, ACK | PSH])
def test_any_ack_is_reset(flags: TcpFlags) -> None:
    """3.10.7.2 second: "Any acknowledgment is bad if it arrives on a
    connection still in the LISTEN state": <SEQ=SEG.ACK><CTL=RST>."""
    h = listen()
    h.recv_seg(h.peer(flags, 0, 42))
    h.expect(h.mine(RST, 42, window=0))
    h.expect_nothing()
    assert h.state is State.LISTEN


def test_syn_enters_syn_received() -> None:
    """3.10.7.2 third: RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, select ISS, send
    <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, SND.NXT = ISS+1, SND.UNA = ISS,
    enter SYN-RECEIVED; the SYN,ACK's retransmission timer is 1 s."""
    h = listen()
    h.recv_seg(h.peer(SYN, 0, window=2000, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(SYN | ACK, 0, 1, window=65535, options=(MaxSegmentSize(1460),)))
    h.expect_nothing()
    c = h.conn
    assert h.state is State.SYN_RECEIVED
    assert c.irs == REMOTE_ISS
    assert c.rcv_nxt == REMOTE_ISS + 1
    assert c.iss == LOCAL_ISS
    assert c.snd_una == LOCAL_ISS
    assert c.snd_nxt == LOCAL_ISS + 1
    assert c.snd_wnd == 2000
    assert c.snd_wl1 == REMOTE_ISS
    assert h.deadline == T0 + SECOND
    assert h.events() == []  # Established comes with the ACK of the SYN
    assert h.transitions()[-1] == (State.LISTEN, State.SYN_RECEIVED)


def test_syn_with_data_is_answered_but_data_not_kept() -> None:
    """3.10.7.2 third allows queueing data that came with the SYN; without TCP
    Fast Open we do as Linux and drop it (the peer retransmits it): the
    SYN,ACK acknowledges only the SYN."""
    h = listen()
    h.recv_seg(h.peer(SYN, 0, payload=b"early data"))
    h.expect(h.mine(SYN | ACK, 0, 1, window=65535, options=(MaxSegmentSize(1460),)))
    assert h.conn.rcv_nxt == REMOTE_ISS + 1
    assert len(h.conn.receive_buffer) == 0


@pytest.mark.parametrize("flags", [FIN, PSH, TcpFlags(0)])
def test_other_segments_are_dropped(flags: TcpFlags) -> None:
    """3.10.7.2 fourth: "Any other control or text-bearing segment (not
    containing SYN) must have an ACK and thus would have been discarded by the
    ACK processing ... drop the segment and return"."""
    h = listen()
    h.recv_seg(h.peer(flags, 0, payload=b"text"))
    h.expect_nothing()
    assert h.state is State.LISTEN


def test_syn_without_mss_option_gives_default_send_mss() -> None:
    """MUST-15: no MSS option on the SYN means a send MSS of 536; our SYN,ACK
    still advertises ours (MUST-14)."""
    h = listen()
    h.recv_seg(h.peer(SYN, 0))
    h.expect(h.mine(SYN | ACK, 0, 1, window=65535, options=(MaxSegmentSize(1460),)))
    assert h.conn.send_mss == 536


SCALED = replace(CONFIG, window_scaling=True, receive_buffer=1 << 20)


def test_window_scale_answered_when_the_peer_offers() -> None:
    """RFC 7323 1.3: the SYN,ACK carries a window scale option only if the SYN
    did; both shifts then apply after the handshake."""
    h = listen(SCALED)
    h.recv_seg(h.peer(SYN, 0, options=(MaxSegmentSize(1460), NoOperation(), WindowScale(6))))
    h.expect(
        h.mine(
            SYN | ACK,
            0,
            1,
            window=65535,
            options=(MaxSegmentSize(1460), NoOperation(), WindowScale(5)),
        )
    )
    assert h.conn.snd_wscale == 6
    assert h.conn.rcv_wscale == 5
    h.recv_seg(h.peer(ACK, 1, 1, window=100))
    assert h.state is State.ESTABLISHED
    assert h.conn.snd_wnd == 100 << 6


def test_window_scale_not_offered_when_the_peer_did_not() -> None:
    """RFC 7323 1.3: no option on the SYN: none on the SYN,ACK, shifts zero."""
    h = listen(SCALED)
    h.recv_seg(h.peer(SYN, 0, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(SYN | ACK, 0, 1, window=65535, options=(MaxSegmentSize(1460),)))
    assert h.conn.snd_wscale == 0
    assert h.conn.rcv_wscale == 0
    h.recv_seg(h.peer(ACK, 1, 1, window=REMOTE_WINDOW))
    assert h.conn.snd_wnd == REMOTE_WINDOW


def test_window_scale_not_answered_when_disabled() -> None:
    """With window_scaling off, a peer's offer is not answered (shifts zero)."""
    h = listen()
    h.recv_seg(h.peer(SYN, 0, options=(MaxSegmentSize(1460), WindowScale(7))))
    h.expect(h.mine(SYN | ACK, 0, 1, window=65535, options=(MaxSegmentSize(1460),)))
    assert h.conn.snd_wscale == 0
    assert h.conn.rcv_wscale == 0


# ---------------------------------------------------------------- user calls in LISTEN


def test_close_in_listen_deletes_the_tcb() -> None:
    """3.10.4 CLOSE in LISTEN: "Any outstanding RECEIVEs are returned with
    'error: closing' responses. Delete TCB, enter CLOSED state" -- no segment."""
    h = listen()
    h.conn.close(h.now)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.event_types() == [Closed]
    assert h.transitions() == [(State.CLOSED, State.LISTEN), (State.LISTEN, State.CLOSED)]


def test_abort_in_listen_deletes_the_tcb() -> None:
    """3.10.5 ABORT in LISTEN: as CLOSE, no segment."""
    h = listen()
    h.conn.abort(h.now)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.transitions()[-1] == (State.LISTEN, State.CLOSED)


def test_send_in_listen_turns_into_an_active_open() -> None:
    """3.10.2 SEND in LISTEN: "If the foreign socket is specified, then change
    the connection from passive to active, select an ISS. Send a SYN segment,
    set SND.UNA to ISS, SND.NXT to ISS+1. Enter SYN-SENT state. Data ... may
    be ... queued for transmission after entering ESTABLISHED state."""
    h = listen()
    assert h.conn.send(b"hello", h.now) == 5
    assert h.state is State.SYN_SENT
    assert not h.conn.passive
    h.expect(h.mine(SYN, 0, window=65535, options=(MaxSegmentSize(1460),)))
    assert h.conn.snd_una == LOCAL_ISS
    assert h.conn.snd_nxt == LOCAL_ISS + 1
    assert h.deadline == T0 + SECOND
    assert h.transitions()[-1] == (State.LISTEN, State.SYN_SENT)
    h.now += 10_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(ACK, 1, 1), h.mine(ACK | PSH, 1, 1, payload=b"hello"))
    assert h.state is State.ESTABLISHED
    assert h.event_types() == [Established]


def test_recv_in_listen_raises_enotconn() -> None:
    """recv() on a listening socket fails with ENOTCONN (Linux tcp_recvmsg)."""
    h = listen()
    with pytest.raises(OSError) as info:
        h.conn.recv(10)
    assert info.value.errno == errno.ENOTCONN


def test_shutdown_in_listen_raises_enotconn() -> None:
    h = listen()
    with pytest.raises(OSError) as info:
        h.conn.shutdown(SHUT_WR)
    assert info.value.errno == errno.ENOTCONN


def test_listen_harness_is_passive_side() -> None:
    """The harness's passive connection uses port 80 (sanity of the fixtures)."""
    h = new_harness(active=False)
    assert h.conn.local_port == 80
    assert h.conn.remote_port == 49152
