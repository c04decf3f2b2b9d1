"""SYN-SENT: the active side of the handshake (RFC 9293 3.5, 3.10.7.3).

Every test starts from ``syn_sent()``: the local end sent <SEQ=ISS><CTL=SYN>
at T0 and waits for the peer.  ISSs sit just below 2**32, so ISS+1 wraps.
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
    REMOTE_MSS,
    REMOTE_WINDOW,
    RST,
    SYN,
    SYN_OPTIONS,
    T0,
    syn_sent,
)

from synack.tcp.config import SECOND, TcpConfig
from synack.tcp.events import Closed, Established, PeerFinished, Readable, Reset
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.wire.tcp import MaxSegmentSize, NoOperation, WindowScale

RTT = 10_000  # the SYN,ACK arrives 10 ms after the SYN
MIN_RTO = 200_000  # a 10 ms sample gives SRTT + 4 * RTTVAR = 30 ms, raised to min_rto


# ---------------------------------------------------------------- the SYN itself


def test_connect_sends_syn_with_iss_and_arms_initial_rto() -> None:
    """3.10.1 OPEN: <SEQ=ISS><CTL=SYN>, SND.UNA = ISS, SND.NXT = ISS+1; the
    retransmission timer starts at the initial RTO of 1 s (RFC 6298 2.1)."""
    h = syn_sent()
    c = h.conn
    assert c.iss == LOCAL_ISS
    assert c.snd_una == LOCAL_ISS
    assert c.snd_nxt == LOCAL_ISS + 1
    assert h.deadline == T0 + SECOND
    h.expect_nothing()
    assert h.events() == []


def test_syn_carries_mss_and_window_scale_when_enabled() -> None:
    """MUST-14: the SYN carries MSS = MTU - 40 (MUST-67); RFC 7323 2.2: the
    window scale option is offered on the SYN."""
    config = replace(CONFIG, window_scaling=True)
    h = syn_sent(config)
    assert h.conn.rcv_wscale == 0  # 65535 bytes of receive buffer need no scaling
    config = replace(CONFIG, window_scaling=True, receive_buffer=1 << 20)
    h = syn_sent(config)  # the builder checks the exact options
    assert h.conn.rcv_wscale == 5  # 65535 << 4 < 1 MiB <= 65535 << 5


def test_syn_mss_follows_the_mtu() -> None:
    """MUST-67: the advertised MSS is the MTU less the fixed IP and TCP headers."""
    h = syn_sent(replace(CONFIG, mtu=1280))
    assert h.conn.mss_advertised == 1240
    h.conn.abort()
    h.take()
    assert h.state is State.CLOSED


# ---------------------------------------------------------------- SYN,ACK arrives


def test_syn_ack_completes_the_handshake() -> None:
    """3.10.7.3 fourth: an acceptable SYN,ACK sets RCV.NXT = SEG.SEQ+1,
    IRS = SEG.SEQ, SND.UNA = SEG.ACK, the send window from the SYN,ACK
    (SND.WL1 = SEG.SEQ, SND.WL2 = SEG.ACK), enters ESTABLISHED and sends
    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>."""
    h = syn_sent()
    h.now += RTT
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=5000, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(ACK, 1, 1))
    h.expect_nothing()
    c = h.conn
    assert h.state is State.ESTABLISHED
    assert c.irs == REMOTE_ISS
    assert c.rcv_nxt == REMOTE_ISS + 1
    assert c.snd_una == LOCAL_ISS + 1
    assert c.snd_nxt == LOCAL_ISS + 1
    assert c.snd_wnd == 5000
    assert c.snd_wl1 == REMOTE_ISS
    assert c.snd_wl2 == LOCAL_ISS + 1
    assert c.send_mss == REMOTE_MSS
    # RFC 6298 2.2: the first sample gives SRTT = R, RTTVAR = R/2.
    assert c.rtt.srtt == RTT
    assert c.rtt.rttvar == RTT // 2
    assert c.rtt.rto == MIN_RTO
    assert h.deadline is None  # nothing in flight, no keep-alive (MUST-25)
    assert h.event_types() == [Established]
    assert h.transitions() == [
        (State.CLOSED, State.SYN_SENT),
        (State.SYN_SENT, State.ESTABLISHED),
    ]


def test_syn_ack_after_the_sequence_space_wraps() -> None:
    """Sequence numbers wrap (3.4): ISS+1 is 2**32-99 and IRS+1 is 2**32-2;
    the ACK of 2**32-99 is acceptable even though the ISS is just below 2**32."""
    h = syn_sent()
    h.recv_seg(h.peer(SYN | ACK, 0, 1))
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.rcv_nxt == Seq(2**32 - 2)
    h.conn.send(b"x" * 10)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"x" * 10))
    h.recv_seg(h.peer(ACK, 1, 11, payload=b"y" * 5))
    assert h.conn.rcv_nxt == Seq(3)  # wrapped through zero
    assert h.conn.snd_una == LOCAL_ISS + 11


def test_syn_ack_with_data_is_delivered() -> None:
    """3.10.7.3: "If there are other controls or text in the segment, continue
    processing at the sixth step": data on the SYN,ACK is kept and ACKed."""
    h = syn_sent()
    h.now += RTT
    h.recv_seg(h.peer(SYN | ACK, 0, 1, payload=b"hello"))
    assert h.state is State.ESTABLISHED
    assert h.conn.rcv_nxt == REMOTE_ISS + 6
    h.expect(h.mine(ACK, 1, 6, window=65535 - 5))  # the window is the free space
    h.expect_nothing()
    assert h.event_types() == [Established, Readable]
    assert h.conn.recv(100) == b"hello"
    assert h.deadline is None  # the data was ACKed: no delayed ACK pending


def test_syn_ack_with_fin_enters_close_wait() -> None:
    """SYN,ACK,FIN: the handshake completes, then the eighth step processes
    the FIN (ESTABLISHED -> CLOSE-WAIT), one ACK covers both."""
    h = syn_sent()
    h.now += RTT
    h.recv_seg(h.peer(SYN | ACK | FIN, 0, 1))
    assert h.state is State.CLOSE_WAIT
    assert h.conn.rcv_nxt == REMOTE_ISS + 2
    h.expect(h.mine(ACK, 1, 2))
    h.expect_nothing()
    assert h.event_types() == [Established, PeerFinished]
    assert h.conn.recv(10) == b""
    assert h.transitions()[-2:] == [
        (State.SYN_SENT, State.ESTABLISHED),
        (State.ESTABLISHED, State.CLOSE_WAIT),
    ]


def test_data_queued_in_syn_sent_goes_out_after_the_ack() -> None:
    """3.10.2 SEND in SYN-SENT: "queue the data for transmission after entering
    ESTABLISHED state"; the ACK of the SYN,ACK leaves first (as Linux)."""
    h = syn_sent()
    assert h.conn.send(b"early") == 5
    h.expect_nothing()
    h.now += RTT
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(ACK, 1, 1), h.mine(ACK | PSH, 1, 1, payload=b"early"))
    assert h.conn.snd_nxt == LOCAL_ISS + 6
    assert h.deadline == h.now + MIN_RTO


# ---------------------------------------------------------------- MSS (3.7.1)


@pytest.mark.parametrize(
    ("peer_mss", "effective"),
    [(536, 536), (1000, 1000), (1460, 1460), (9000, 1460), (None, 536)],
)
def test_effective_send_mss(peer_mss: int | None, effective: int) -> None:
    """MUST-14..16: the send MSS is min(peer's MSS option, our MTU-derived MSS)
    (MUST-16); without the option it is 536 (MUST-15).  cwnd is rebased on it (RFC 6928)."""
    h = syn_sent()
    options = () if peer_mss is None else (MaxSegmentSize(peer_mss),)
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=options))
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.send_mss == effective
    assert h.conn.cc.cwnd == 10 * effective
    # Data goes out in segments of exactly that size.
    h.conn.nagle = False
    h.conn.send(b"z" * (effective + 7))
    h.expect(
        h.mine(ACK, 1, 1, payload=b"z" * effective),
        h.mine(ACK | PSH, 1 + effective, 1, payload=b"z" * 7),
    )


def test_mss_option_only_on_syn_segments() -> None:
    """MUST-65: the MSS option is sent only on SYN segments: the ACK that
    completes the handshake and data segments carry no options."""
    h = syn_sent()
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.conn.send(b"data")
    segments = h.take()
    assert [s.options for s in segments] == [(), ()]
    assert segments[1].payload == b"data"


def test_hostile_tiny_mss_is_clamped() -> None:
    """An MSS option of 1 must not make the sender emit 1-byte segments
    (clamped to 48 bytes as Linux's TCP_MIN_SND_MSS)."""
    h = syn_sent()
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=(MaxSegmentSize(1),)))
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.send_mss == 48


# ---------------------------------------------------------------- window scale (RFC 7323)

SCALED = replace(CONFIG, window_scaling=True, receive_buffer=1 << 20)


def test_window_scale_both_sides_offer() -> None:
    """RFC 7323 2.2: both SYNs carry the option, so both shifts apply to every
    later window field (never to the SYNs' own windows)."""
    h = syn_sent(SCALED)
    h.recv_seg(
        h.peer(
            SYN | ACK,
            0,
            1,
            window=1000,
            options=(MaxSegmentSize(1460), NoOperation(), WindowScale(7)),
        )
    )
    c = h.conn
    assert c.snd_wscale == 7
    assert c.rcv_wscale == 5
    assert c.snd_wnd == 1000  # the SYN,ACK's window is not scaled
    h.expect(h.mine(ACK, 1, 1, window=(1 << 20) >> 5))
    # A later window field is scaled by the peer's shift.
    h.recv_seg(h.peer(ACK, 1, 1, window=1000))
    assert c.snd_wnd == 1000 << 7


def test_window_scale_only_we_offer() -> None:
    """RFC 7323 1.3: scaling is on only when both sides sent the option;
    otherwise both shifts are zero and windows are plain (capped at 65535)."""
    h = syn_sent(SCALED)
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=1000, options=PEER_SYN_OPTIONS))
    c = h.conn
    assert c.snd_wscale == 0
    assert c.rcv_wscale == 0
    h.expect(h.mine(ACK, 1, 1, window=65535))
    h.recv_seg(h.peer(ACK, 1, 1, window=1000))
    assert c.snd_wnd == 1000


def test_window_scale_shift_above_14_is_treated_as_14() -> None:
    """RFC 7323 2.3: a shift above 14 is used as 14."""
    h = syn_sent(SCALED)
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=(WindowScale(15),)))
    assert h.conn.snd_wscale == 14


# ---------------------------------------------------------------- unacceptable ACKs


@pytest.mark.parametrize("rel_ack", [0, -5, 2, 1000])
def test_bad_ack_is_answered_with_reset(rel_ack: int) -> None:
    """3.10.7.3 first: SEG.ACK =< ISS or SEG.ACK > SND.NXT: send
    <SEQ=SEG.ACK><CTL=RST> and drop the segment (3.5.2 case 2)."""
    h = syn_sent()
    h.recv_seg(h.peer(SYN | ACK, 0, rel_ack))
    h.expect(h.mine(RST, rel_ack, window=0))
    h.expect_nothing()
    assert h.state is State.SYN_SENT
    assert h.conn.rcv_nxt == 0  # nothing learnt from the segment
    assert h.deadline == T0 + SECOND
    assert h.events() == []


def test_bad_ack_with_rst_is_dropped_silently() -> None:
    """3.10.7.3 first: "If SEG.ACK is not acceptable ... (unless the RST bit is
    set, if so drop the segment and return)"."""
    h = syn_sent()
    h.recv_seg(h.peer(RST | ACK, 0, 7))
    h.expect_nothing()
    assert h.state is State.SYN_SENT


# ---------------------------------------------------------------- RST


def test_rst_with_acceptable_ack_refuses_the_connection() -> None:
    """3.10.7.3 second: RST with an acceptable ACK: "signal to the user
    'error: connection reset'", drop the segment, enter CLOSED; the socket
    API calls it ECONNREFUSED."""
    h = syn_sent()
    h.recv_seg(h.peer(RST | ACK, 0, 1, window=0))
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    events = h.events()
    assert [type(e) for e in events] == [Reset, Closed]
    assert isinstance(events[0], Reset)
    assert isinstance(events[0].error, ConnectionRefusedError)
    assert events[0].error.errno == errno.ECONNREFUSED
    with pytest.raises(ConnectionRefusedError):
        h.conn.send(b"x")
    # The error is reported once; afterwards the pipe is simply broken.
    with pytest.raises(BrokenPipeError):
        h.conn.send(b"x")
    assert h.transitions()[-1] == (State.SYN_SENT, State.CLOSED)


def test_rst_refusal_is_reported_by_recv_first() -> None:
    """The first call after a reset raises it, whichever call that is."""
    h = syn_sent()
    h.recv_seg(h.peer(RST | ACK, 0, 1))
    with pytest.raises(ConnectionRefusedError):
        h.conn.recv(10)
    assert h.conn.recv(10) == b""


def test_rst_without_ack_is_dropped() -> None:
    """3.10.7.3 second: RST without an ACK in SYN-SENT is dropped (it could be
    a blind attack, RFC 5961 3.1 / 3.5.3)."""
    h = syn_sent()
    h.recv_seg(h.peer(RST, 0))
    h.expect_nothing()
    assert h.state is State.SYN_SENT
    assert h.events() == []


def test_segment_without_syn_or_rst_is_dropped() -> None:
    """3.10.7.3 fifth: "If neither of the SYN or RST bits is set, then drop
    the segment and return" (the ACK, if any, was acceptable)."""
    h = syn_sent()
    h.recv_seg(h.peer(ACK, 0, 1, payload=b"data"))
    h.expect_nothing()
    assert h.state is State.SYN_SENT
    assert h.conn.snd_una == LOCAL_ISS
    assert h.deadline == T0 + SECOND


# ---------------------------------------------------------------- simultaneous open


def test_simultaneous_open_syn_in_syn_sent() -> None:
    """MUST-10, 3.10.7.3 fourth: a SYN without ACK in SYN-SENT: IRS = SEG.SEQ,
    RCV.NXT = SEG.SEQ+1, enter SYN-RECEIVED and send <SEQ=ISS><ACK=RCV.NXT>
    <CTL=SYN,ACK>; the send window comes from the SYN."""
    h = syn_sent()
    h.now += RTT
    h.recv_seg(h.peer(SYN, 0, window=3000, options=PEER_SYN_OPTIONS))
    assert h.state is State.SYN_RECEIVED
    h.expect(h.mine(SYN | ACK, 0, 1, options=SYN_OPTIONS))
    h.expect_nothing()
    c = h.conn
    assert c.irs == REMOTE_ISS
    assert c.rcv_nxt == REMOTE_ISS + 1
    assert c.snd_una == LOCAL_ISS
    assert c.snd_nxt == LOCAL_ISS + 1
    assert c.snd_wnd == 3000
    assert c.snd_wl1 == REMOTE_ISS
    assert h.deadline == h.now + SECOND  # the SYN,ACK's retransmission timer
    assert h.events() == []


def test_simultaneous_open_completes_on_ack() -> None:
    """MUST-10: the crossing SYN,ACK (or a bare ACK) of our SYN moves
    SYN-RECEIVED to ESTABLISHED; no segment is needed in answer to an ACK."""
    h = syn_sent()
    h.recv_seg(h.peer(SYN, 0, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(SYN | ACK, 0, 1, options=SYN_OPTIONS))
    h.now += RTT
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=4000))  # the peer's answer to our SYN
    assert h.state is State.ESTABLISHED
    assert h.conn.snd_una == LOCAL_ISS + 1
    assert h.conn.snd_wnd == 4000
    assert h.deadline is None
    assert h.event_types() == [Established]
    assert h.transitions() == [
        (State.CLOSED, State.SYN_SENT),
        (State.SYN_SENT, State.SYN_RECEIVED),
        (State.SYN_RECEIVED, State.ESTABLISHED),
    ]


def test_simultaneous_open_with_plain_ack() -> None:
    """MUST-10: the plain ACK of our SYN also completes a simultaneous open."""
    h = syn_sent()
    h.recv_seg(h.peer(SYN, 0, options=PEER_SYN_OPTIONS))
    h.take()
    h.recv_seg(h.peer(ACK, 1, 1))
    h.expect_nothing()
    assert h.state is State.ESTABLISHED
    assert h.event_types() == [Established]


def test_simultaneous_open_rst_refuses_active_open() -> None:
    """3.10.7.4 second, SYN-RECEIVED: a connection from an active OPEN is
    refused by a RST at RCV.NXT: ECONNREFUSED, CLOSED."""
    h = syn_sent()
    h.recv_seg(h.peer(SYN, 0))
    h.take()
    h.recv_seg(h.peer(RST, 1))
    h.expect_nothing()
    assert h.state is State.CLOSED
    events = h.events()
    assert [type(e) for e in events] == [Reset, Closed]
    assert isinstance(events[0], Reset)
    assert isinstance(events[0].error, ConnectionRefusedError)
    assert h.transitions()[-1] == (State.SYN_RECEIVED, State.CLOSED)


# ---------------------------------------------------------------- retransmission


def test_syn_retransmitted_with_exponential_backoff_then_timeout() -> None:
    """RFC 6298 5.5 and 2.1: the SYN is resent at 1 s, 3 s, 7 s, 15 s, 31 s and
    63 s after the first (RTO 1 s doubling); after syn_retries (6, Linux's
    tcp_syn_retries) the attempt fails with ETIMEDOUT at 127 s (R2 for the
    SYN, 3.8.3; "including notification of the application layer"): the SYN
    is retransmitted by the same mechanism as data (MUST-22).
    Note: 127 s is short of MUST-23's 3 minutes (see the next test)."""
    h = syn_sent()
    syn = h.mine(SYN, 0, options=SYN_OPTIONS)
    sent_at = []
    for expected_deadline in (1, 3, 7, 15, 31, 63):
        assert h.deadline == T0 + expected_deadline * SECOND
        h.advance(h.deadline - 1)
        h.expect_nothing()
        h.advance(T0 + expected_deadline * SECOND)
        h.expect(syn)
        sent_at.append(h.now)
        assert h.state is State.SYN_SENT
    assert h.conn.retries == 6
    assert h.deadline == T0 + 127 * SECOND
    h.advance(T0 + 127 * SECOND)
    h.expect_nothing()  # no RST: the peer never answered
    assert h.state is State.CLOSED
    assert h.deadline is None
    events = h.events()
    assert [type(e) for e in events] == [Reset, Closed]
    assert isinstance(events[0], Reset)
    assert isinstance(events[0].error, TimeoutError)
    assert events[0].error.errno == errno.ETIMEDOUT
    with pytest.raises(TimeoutError):
        h.conn.send(b"x")
    assert h.transitions()[-1] == (State.SYN_SENT, State.CLOSED)


def test_syn_retries_meeting_must_23() -> None:
    """MUST-23: R2 for a SYN must allow retransmission for at least 3 minutes;
    syn_retries=7 does (last SYN at 127 s, give-up at 247 s: the RTO is capped
    at max_rto = 120 s, RFC 6298 2.5), Linux's default of 6 does not."""
    h = syn_sent(replace(CONFIG, syn_retries=7))
    sent_at = []
    while (deadline := h.deadline) is not None and deadline < T0 + 247 * SECOND:
        h.advance(deadline)
        if h.take():
            sent_at.append((h.now - T0) // SECOND)
    assert sent_at == [1, 3, 7, 15, 31, 63, 127]
    assert h.deadline == T0 + 247 * SECOND
    h.advance(T0 + 247 * SECOND - 1)
    assert h.state is State.SYN_SENT
    h.advance(T0 + 247 * SECOND)
    assert h.state is State.CLOSED


def test_syn_retries_is_configurable() -> None:
    """MUST-21 (the application sets R2), here for the SYN: syn_retries=1
    gives up at 3 s."""
    h = syn_sent(replace(CONFIG, syn_retries=1))
    h.advance(T0 + SECOND)
    h.expect(h.mine(SYN, 0, options=SYN_OPTIONS))
    h.advance(T0 + 3 * SECOND)
    assert h.state is State.CLOSED


def test_syn_ack_after_retransmitted_syn_takes_no_rtt_sample() -> None:
    """Karn (MUST-18): no RTT sample from a retransmitted SYN, so the RTO stays
    at the 1 s initial value (RFC 6298 5.7) and SRTT is unset."""
    h = syn_sent()
    h.advance(T0 + SECOND)
    h.take()
    h.now += RTT
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.rtt.srtt is None
    assert h.conn.rtt.rto == SECOND  # backoff cleared, no sample yet
    assert h.conn.retries == 0


def test_user_timeout_counts_from_after_the_handshake() -> None:
    """MUST-21 (user timeout): time spent retransmitting the SYN must not count
    against data sent later; data unacknowledged for user_timeout is given up
    exactly user_timeout after the retransmission timer started (Linux clamps
    the RTO to the user timeout)."""
    config = replace(CONFIG, user_timeout=5 * SECOND)
    h = syn_sent(config)
    h.advance(T0 + SECOND)
    h.take()  # the SYN is retransmitted once
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(ACK, 1, 1))
    h.now += 100 * SECOND  # a long idle period
    sent = h.now
    h.conn.send(b"x", h.now)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"x"))
    assert h.deadline == sent + SECOND  # no sample yet (Karn): RTO 1 s
    h.advance(sent + SECOND)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"x"))
    assert h.state is State.ESTABLISHED
    h.advance(sent + 3 * SECOND)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"x"))
    # The next RTO would be at sent + 7 s; the user timeout ends at sent + 5 s.
    assert h.deadline == sent + 5 * SECOND
    h.advance(sent + 5 * SECOND)
    h.expect_nothing()
    assert h.state is State.CLOSED
    events = h.events()
    assert [type(e) for e in events] == [Established, Reset, Closed]
    assert isinstance(events[1], Reset)
    assert isinstance(events[1].error, TimeoutError)


# ---------------------------------------------------------------- user calls


def test_close_in_syn_sent_deletes_the_tcb_silently() -> None:
    """3.10.4 CLOSE in SYN-SENT: "Delete the TCB and return 'error: closing'
    responses to any queued SENDs" -- no segment is sent."""
    h = syn_sent()
    h.conn.close(h.now)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.deadline is None
    assert h.event_types() == [Closed]
    assert h.transitions()[-1] == (State.SYN_SENT, State.CLOSED)
    # A late SYN,ACK now meets a CLOSED connection and is reset (3.10.7.1).
    h.recv_seg(h.peer(SYN | ACK, 0, 1))
    h.expect(h.mine(RST, 1, window=0))


def test_abort_in_syn_sent_sends_nothing() -> None:
    """3.10.5 ABORT in SYN-SENT: delete the TCB, no RST (nothing synchronized)."""
    h = syn_sent()
    h.conn.abort(h.now)
    h.expect_nothing()
    assert h.state is State.CLOSED
    assert h.event_types() == [Closed]


def test_connect_twice_raises_ealready() -> None:
    """A second connect() while the first is in progress: EALREADY (socket API)."""
    h = syn_sent()
    with pytest.raises(OSError) as info:
        h.conn.connect(h.now)
    assert info.value.errno == errno.EALREADY


def test_recv_in_syn_sent_would_block() -> None:
    """3.10.3 RECEIVE in SYN-SENT: queued until ESTABLISHED -- non-blocking,
    that is EAGAIN."""
    h = syn_sent()
    with pytest.raises(BlockingIOError):
        h.conn.recv(10)


def test_shutdown_in_syn_sent_raises_enotconn() -> None:
    h = syn_sent()
    with pytest.raises(OSError) as info:
        h.conn.shutdown()
    assert info.value.errno == errno.ENOTCONN


def test_peer_window_from_syn_ack_is_not_scaled() -> None:
    """RFC 7323 2.2: the window field of a SYN is never scaled."""
    h = syn_sent(SCALED)
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=REMOTE_WINDOW, options=(WindowScale(2),)))
    assert h.conn.snd_wnd == REMOTE_WINDOW
    assert h.conn.max_snd_wnd == REMOTE_WINDOW


def test_default_config_handshake() -> None:
    """With Linux's defaults (256 KiB buffer, scaling on) the SYN offers shift 3."""
    h = syn_sent(TcpConfig())
    assert h.conn.rcv_wscale == 7  # Linux: sized from tcp_rmem[2] (6 MiB), not the buffer
    h.recv_seg(
        h.peer(SYN | ACK, 0, 1, options=(MaxSegmentSize(1460), NoOperation(), WindowScale(7)))
    )
    # Linux (tcp_init_buffer_space): half the 256 KiB buffer backs the window
    # (scaling_ratio 128), less one MSS kept in reserve (tcp_app_win): 129612,
    # rounded up to the scale: 1013 << 7.
    assert h.take() == [h.mine(ACK, 1, 1, window=1013)]
