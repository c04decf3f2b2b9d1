"""Flow control: the receive window (RFC 9293 3.8.6), receiver and sender SWS
avoidance (3.8.6.2, MUST-38, MUST-39), window scaling (RFC 7323) and the rule
that the right window edge never moves left (SHLD-14).

The harness CONFIG has a 65535-byte receive buffer, no window scaling, an MSS
of 1460 both ways and quick ACKs off.
"""

from __future__ import annotations

from dataclasses import replace

from helpers import (
    ACK,
    CONFIG,
    FIN,
    PSH,
    REMOTE_ISS,
    SYN,
    Harness,
    established,
    syn_sent,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from synack.tcp.config import TcpConfig
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.wire.tcp import MaxSegmentSize, NoOperation, Segment, WindowScale

BUFFER = CONFIG.receive_buffer  # 65535
MSS = 1460


def rel_ack(segment: Segment) -> int:
    """A segment's ACK field relative to the peer's ISS."""
    return (segment.ack - REMOTE_ISS) % 2**32


def fill_receive_buffer(h: Harness) -> int:
    """The peer sends full segments until the application-less buffer is full.

    Returns the peer's next relative sequence number.  Checks every ACK
    announces exactly the free space left (the bytes stay until recv()).
    """
    rel = 1
    while rel - 1 < BUFFER:
        size = min(MSS, BUFFER - (rel - 1))
        h.recv_seg(h.peer(ACK, rel, 1, payload=bytes(size)))
        rel += size
        for segment in h.take():
            received = rel_ack(segment) - 1
            assert segment.window == BUFFER - received
    return rel


# ---------------------------------------------------------------- the advertised window


def test_advertised_window_is_the_free_space_of_the_receive_buffer() -> None:
    """3.8.6: RCV.WND is what the buffer can still take; unread bytes stay counted."""
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"a" * MSS))
    h.recv_seg(h.peer(ACK, 1 + MSS, 1, payload=b"b" * MSS))
    # SHLD-19: the second full segment is ACKed at once, with the window left.
    h.expect(h.mine(ACK, 1, 1 + 2 * MSS, window=BUFFER - 2 * MSS))
    h.expect_nothing()
    assert len(h.conn.receive_buffer) == 2 * MSS
    assert h.conn.rcv_adv == REMOTE_ISS + 1 + BUFFER  # the right edge did not move
    assert h.conn.recv(100_000) == b"a" * MSS + b"b" * MSS


def test_window_grows_back_once_the_application_reads() -> None:
    """After recv() the next ACK advertises the space freed (RCV.USER back to 0)."""
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(MSS)))
    h.recv_seg(h.peer(ACK, 1 + MSS, 1, payload=bytes(MSS)))
    h.expect(h.mine(ACK, 1, 1 + 2 * MSS, window=BUFFER - 2 * MSS))
    h.conn.recv(2 * MSS)
    # The window was far from closed, so no window update is needed at once...
    h.expect_nothing()
    # ...but the next ACK (here delayed, 40 ms) carries the reopened window.
    h.recv_seg(h.peer(ACK, 1 + 2 * MSS, 1, payload=b"x" * 100))
    h.expect_nothing()
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, 1 + 2 * MSS + 100, window=BUFFER - 100))


def test_window_closes_to_zero_when_the_application_does_not_read() -> None:
    h = established()
    rel = fill_receive_buffer(h)
    assert rel == 1 + BUFFER
    h.advance(h.now + 40_000)  # the last, odd-sized segment's delayed ACK
    h.expect(h.mine(ACK, 1, rel, window=0))
    h.expect_nothing()
    assert h.conn.rcv_nxt == REMOTE_ISS + rel
    assert h.conn.rcv_adv == h.conn.rcv_nxt
    assert h.state is State.ESTABLISHED


def test_zero_window_still_acknowledges_arriving_data() -> None:
    """3.8.6.1: with a zero window an arriving segment gets an ACK with the next
    expected sequence number and the current window (zero); its data is dropped."""
    h = established()
    rel = fill_receive_buffer(h)
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel, window=0))
    h.recv_seg(h.peer(ACK, rel, 1, payload=b"z"))
    h.expect(h.mine(ACK, 1, rel, window=0))
    h.expect_nothing()
    assert len(h.conn.receive_buffer) == BUFFER
    # A zero-window probe with an old sequence number (as Linux sends) is answered too.
    h.recv_seg(h.peer(ACK, rel - 1, 1))
    h.expect(h.mine(ACK, 1, rel, window=0))


def test_reading_sends_a_window_update_once_it_opens_by_one_mss() -> None:
    """3.8.6.2.2 / MUST-39: a closed window is reopened only when the reduction
    reaches min(RCV.BUFF/2, Eff.snd.MSS) = 1460 here; then a window update goes
    out at once (else the sender would wait for its persist timer)."""
    h = established()
    rel = fill_receive_buffer(h)
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel, window=0))
    assert len(h.conn.recv(MSS - 1)) == MSS - 1
    h.expect_nothing()  # 1459 bytes would be a silly window
    assert len(h.conn.recv(1)) == 1
    h.expect(h.mine(ACK, 1, rel, window=MSS))
    h.expect_nothing()
    assert h.conn.rcv_adv == REMOTE_ISS + rel + MSS


def test_receiver_sws_keeps_the_right_edge_until_an_mss_is_free() -> None:
    """MUST-39: small reads do not advance the right edge, not even on segments
    sent for other reasons (here our own data)."""
    h = established()
    rel = fill_receive_buffer(h)
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel, window=0))
    h.conn.recv(1000)
    h.conn.send(b"reply")
    h.expect(h.mine(ACK | PSH, 1, rel, window=0, payload=b"reply"))
    h.conn.recv(459)
    h.recv_seg(h.peer(ACK, rel, 6))  # the ACK of our data: nothing to answer
    h.expect_nothing()
    h.conn.recv(1)  # 1460 free now: the right edge moves, in one step
    h.expect(h.mine(ACK, 6, rel, window=MSS))


def test_large_read_after_small_window_reopens_fully() -> None:
    """Once the reduction passes the threshold the whole free space is offered
    (RCV.WND = RCV.BUFF - RCV.USER)."""
    h = established()
    rel = fill_receive_buffer(h)
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel, window=0))
    h.conn.recv(BUFFER)
    h.expect(h.mine(ACK, 1, rel, window=BUFFER))


def test_peer_fills_a_reopened_window_exactly() -> None:
    h = established()
    rel = fill_receive_buffer(h)
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel, window=0))
    h.conn.recv(MSS)
    h.expect(h.mine(ACK, 1, rel, window=MSS))
    h.recv_seg(h.peer(ACK, rel, 1, payload=b"q" * MSS))
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel + MSS, window=0))
    assert len(h.conn.receive_buffer) == BUFFER


def test_data_beyond_the_window_is_trimmed() -> None:
    """3.10.7.4 first step: only the part of a segment inside the window is kept."""
    h = established()
    rel = fill_receive_buffer(h)
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel, window=0))
    h.conn.recv(MSS)
    h.expect(h.mine(ACK, 1, rel, window=MSS))
    h.recv_seg(h.peer(ACK | FIN, rel, 1, payload=b"w" * (MSS + 500)))
    # 1460 bytes kept; the rest and the FIN (outside the window) are not.  The
    # in-order part is ACKed as any other in-order data (delayed, 40 ms).
    h.expect_nothing()
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, rel + MSS, window=0))
    assert h.conn.rcv_nxt == REMOTE_ISS + rel + MSS
    assert h.state is State.ESTABLISHED
    assert not h.conn.fin_received


# ---------------------------------------------------------------- the window never shrinks


def test_out_of_order_data_does_not_shrink_the_window() -> None:
    """SHLD-14: held out-of-order bytes use buffer space, but the right edge already
    offered stays where it is (the window field counts from RCV.NXT)."""
    h = established()
    h.recv_seg(h.peer(ACK, 1 + MSS, 1, payload=bytes(MSS)))
    h.expect(h.mine(ACK, 1, 1, window=BUFFER))  # duplicate ACK, full window kept
    assert h.conn.receive_buffer.free == BUFFER - MSS
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(MSS)))
    h.expect(h.mine(ACK, 1, 1 + 2 * MSS, window=BUFFER - 2 * MSS))


def test_shrinking_the_receive_buffer_does_not_move_the_edge_left() -> None:
    """SHLD-14: even when SO_RCVBUF is lowered, the offered right edge is honoured."""
    h = established()
    h.conn.receive_buffer.capacity = 10_000
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(100)))
    h.advance(h.now + 40_000)
    h.expect(h.mine(ACK, 1, 101, window=BUFFER - 100))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("data"), st.integers(1, 3 * MSS)),
            st.tuples(st.just("ooo"), st.integers(1, 4 * MSS)),
            st.tuples(st.just("read"), st.integers(1, 20_000)),
            st.tuples(st.just("wait"), st.just(0)),
        ),
        max_size=80,
    )
)
def test_right_edge_never_moves_left(steps: list[tuple[str, int]]) -> None:
    """Property (SHLD-14, MUST-39): whatever arrives (in order, out of order) and
    whatever is read, the right edge ACK + WINDOW of successive segments never
    decreases, every in-order byte inside an offered window is accepted, and the
    application reads exactly the stream that was sent."""
    h = established()
    peer_next = 1  # the peer's next relative sequence number
    edge = 1 + BUFFER  # right edge the peer has been offered (relative)
    read = bytearray()

    def stream(start: int, size: int) -> bytes:
        """The byte stream is a function of the position, so retransmissions agree."""
        return bytes((start + i) % 251 for i in range(size))

    for kind, amount in steps:
        room = edge - peer_next
        if kind == "data" and room > 0:
            size = min(amount, MSS, room)
            h.recv_seg(h.peer(ACK, peer_next, 1, payload=stream(peer_next, size)))
        elif kind == "ooo" and room > 1:
            start = peer_next + min(amount, room - 1)
            size = min(MSS, edge - start)
            h.recv_seg(h.peer(ACK, start, 1, payload=stream(start, size)))
        elif kind == "read" and len(h.conn.receive_buffer):
            read += h.conn.recv(amount)
        elif kind == "wait":
            h.advance(h.now + 40_000)
        h.now += 1
        for segment in h.take():
            new_edge = rel_ack(segment) + segment.window
            assert new_edge >= edge, f"right edge moved left: {new_edge} < {edge}"
            edge = new_edge
        rcv_nxt = h.conn.rcv_nxt - REMOTE_ISS
        assert rcv_nxt >= peer_next  # every in-window, in-order byte was taken
        assert rcv_nxt <= edge
        peer_next = rcv_nxt
    if len(h.conn.receive_buffer):
        read += h.conn.recv(10**6)
    assert bytes(read) == stream(1, peer_next - 1)


# ---------------------------------------------------------------- window scaling (RFC 7323)

# 256 KiB buffers, window scaling on with the shift sized by the buffer alone (3),
# no SACK or timestamps so the segments carry no options.
# RFC segmentation (tso_packets off): a window below one MSS is used at once
# under 3.8.6.2.1's sender SWS rule, where Linux's tcp_snd_wnd_test waits.
SCALED = TcpConfig(
    quick_acks=0,
    window_scale_space=0,
    sack=False,
    timestamps=False,
    tso_packets=False,
    linux_receive_window=False,  # the RFC free-space window; Linux's: test_rcvwindow.py
)


def scaled_established(peer_shift: int | None = 7, syn_window: int = 1000) -> Harness:
    """An active open with window scaling offered by us (shift 3 for 256 KiB)
    and, unless ``peer_shift`` is None, by the peer."""
    h = syn_sent(SCALED)
    assert h.conn.rcv_wscale == 3
    h.now += 10_000
    options: tuple[MaxSegmentSize | NoOperation | WindowScale, ...] = (MaxSegmentSize(MSS),)
    if peer_shift is not None:
        options += (NoOperation(), WindowScale(peer_shift))
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=syn_window, options=options))
    return h


def test_window_scale_is_offered_on_the_syn() -> None:
    """RFC 7323 2.2: the SYN carries the shift; its own window field is never scaled."""
    h = syn_sent(replace(SCALED))
    assert h.conn.rcv_wscale == 3  # the smallest shift that can express 262144 bytes


def test_window_scale_applies_both_ways() -> None:
    h = scaled_established(peer_shift=7, syn_window=1000)
    # Our ACK of the SYN,ACK: the window field is scaled by our shift (262144 >> 3).
    h.expect(h.mine(ACK, 1, 1, window=SCALED.receive_buffer >> 3))
    assert h.conn.snd_wscale == 7
    assert h.conn.snd_wnd == 1000  # the SYN,ACK's window is not scaled
    # Sending uses the scaled window: 10 << 7 = 1280 bytes, no more.
    h.recv_seg(h.peer(ACK, 1, 1, window=10))
    assert h.conn.snd_wnd == 1280
    h.conn.send(bytes(5000))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=bytes(1280)))  # the burst's last segment
    h.expect_nothing()
    h.recv_seg(h.peer(ACK, 1, 1281, window=500))
    assert h.conn.snd_wnd == 500 << 7


def test_scaled_receive_window_counts_free_space_in_units_of_8() -> None:
    h = scaled_established()
    h.expect(h.mine(ACK, 1, 1, window=32768))
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(MSS)))
    h.recv_seg(h.peer(ACK, 1 + MSS, 1, payload=bytes(MSS)))
    # 262144 - 2920 = 259224 free = 32403 * 8 exactly.
    h.expect(h.mine(ACK, 1, 1 + 2 * MSS, window=(SCALED.receive_buffer - 2 * MSS) >> 3))


def test_scaled_window_rounds_up_rather_than_shrink() -> None:
    """RFC 7323 2.4 / SHLD-14: when the free space is not a multiple of 2**shift,
    the field is rounded so that the right edge does not move left (as Linux)."""
    h = scaled_established()
    h.expect(h.mine(ACK, 1, 1, window=32768))
    old_edge = h.conn.rcv_adv
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(100)))
    h.advance(h.now + 40_000)
    (ack,) = h.take()
    assert (Seq(ack.ack) + (ack.window << 3)) >= old_edge
    assert ack.window == (SCALED.receive_buffer - 100 + 7) >> 3


def test_no_scaling_unless_both_sides_offer_it() -> None:
    """RFC 7323 2.2: scaling is used only if both SYNs carried the option; otherwise
    our window field is the free space clipped to 65535 and the peer's is unscaled."""
    h = scaled_established(peer_shift=None, syn_window=20_000)
    assert h.conn.rcv_wscale == 0
    assert h.conn.snd_wscale == 0
    h.expect(h.mine(ACK, 1, 1, window=0xFFFF))
    h.recv_seg(h.peer(ACK, 1, 1, window=30_000))
    assert h.conn.snd_wnd == 30_000


def test_peer_shift_above_14_is_treated_as_14() -> None:
    """RFC 7323 2.3: a shift above 14 is used as 14."""
    h = scaled_established(peer_shift=20)
    assert h.conn.snd_wscale == 14
    h.expect(h.mine(ACK, 1, 1, window=32768))
    h.recv_seg(h.peer(ACK, 1, 1, window=2))
    assert h.conn.snd_wnd == 2 << 14


# ---------------------------------------------------------------- sender SWS avoidance (MUST-38)


def small_window_peer(syn_window: int) -> Harness:
    """An established connection whose peer offered ``syn_window`` bytes at most."""
    h = syn_sent()
    h.now += 10_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, window=syn_window, options=(MaxSegmentSize(MSS),)))
    h.expect(h.mine(ACK, 1, 1))
    h.events()
    return h


def test_sender_sends_full_segments_and_holds_a_silly_remainder() -> None:
    """MUST-38 (3.8.6.2.1): with U < Eff.snd.MSS and less than Fs * Max(SND.WND)
    usable, the partial segment is held while more data is queued."""
    h = small_window_peer(2000)
    h.conn.send(bytes(3000))
    # Rule (1): a full segment (PSH: it ends the burst, as Linux marks bursts).
    h.expect(h.mine(ACK | PSH, 1, 1, payload=bytes(MSS)))
    h.expect_nothing()  # 540 usable < 2000 / 2: held
    # Rule (3): 1100 usable >= Fs * Max(SND.WND) = 1000 may be sent.
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + MSS, window=1100))
    h.expect(h.mine(ACK | PSH, 1 + MSS, 1, payload=bytes(1100)))
    h.expect_nothing()


def test_sender_sends_the_last_piece_when_all_of_it_fits() -> None:
    """Rule (2): pushed data that fits entirely goes out (nothing in flight, Nagle allows)."""
    h = small_window_peer(2000)
    h.conn.send(bytes(300))
    h.expect(h.mine(ACK | PSH, 1, 1, payload=bytes(300)))


def test_sws_override_timer_sends_what_fits() -> None:
    """3.8.6.2.1 rule (4): a timeout overrides sender SWS avoidance (combined with
    the persist timer, here after one RTO of 200 ms)."""
    h = small_window_peer(4000)
    h.recv_seg(h.peer(ACK, 1, 1, window=0))
    h.conn.send(bytes(3000))
    h.expect_nothing()
    h.now += 5_000
    h.recv_seg(h.peer(ACK, 1, 1, window=300))  # 300 < 4000 / 2 and < MSS: silly
    h.expect_nothing()
    assert h.deadline == h.now + 200_000
    h.advance(h.now + 200_000)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=bytes(300)))
    h.expect_nothing()
    assert h.conn.snd_nxt == h.conn.snd_una + 300
