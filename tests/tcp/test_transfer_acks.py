"""When to send an ACK (RFC 9293 3.8.6.3): delayed ACKs (SHLD-18) sent within
0.5 s (MUST-40; 40 ms as Linux), an ACK for at least every second full-sized
segment (SHLD-19), ACKs piggy-backed on data, and Linux's quick-ACK start.

The harness CONFIG turns quick ACKs off so the delayed-ACK rules show from the
first segment; the last tests use the default TcpConfig (16 quick ACKs).
"""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, PSH, established

from synack.tcp.config import TcpConfig
from synack.tcp.events import Readable

MSS = 1460
BUFFER = CONFIG.receive_buffer
DELACK = 40_000


def test_delayed_ack_default_is_under_half_a_second() -> None:
    """MUST-40: the delay must be less than 0.5 s; Linux's TCP_DELACK_MIN is 40 ms."""
    assert TcpConfig().delayed_ack == DELACK
    assert TcpConfig().delayed_ack < 500_000
    assert TcpConfig().ack_every == 2


def test_single_segment_is_acked_after_exactly_40_ms() -> None:
    """SHLD-18: one segment's ACK is delayed, and due exactly delayed_ack later."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"x" * 100))
    h.expect_nothing()
    assert h.events() == [Readable()]
    assert h.deadline == h.now + DELACK
    start = h.now
    h.advance(start + DELACK - 1)
    h.expect_nothing()
    h.advance(start + DELACK)
    h.expect(h.mine(ACK, 1, 101, window=BUFFER - 100))
    h.expect_nothing()
    assert h.deadline is None


def test_second_full_segment_is_acked_at_once() -> None:
    """SHLD-19: an ACK for at least every second full-sized segment."""
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(MSS)))
    h.expect_nothing()
    assert h.deadline == h.now + DELACK
    h.now += 1_000
    h.recv_seg(h.peer(ACK, 1 + MSS, 1, payload=bytes(MSS)))
    h.expect(h.mine(ACK, 1, 1 + 2 * MSS, window=BUFFER - 2 * MSS))
    h.expect_nothing()
    assert h.deadline is None  # the delayed ACK was cancelled by the one sent


def test_ack_every_second_segment_in_a_stream() -> None:
    h = established()
    acks = []
    for index in range(10):
        h.recv_seg(h.peer(ACK, 1 + index * MSS, 1, payload=bytes(MSS)))
        h.now += 100
        acks += [(s.ack - h.peer(ACK, 0).seq) % 2**32 for s in h.take()]
    assert acks == [1 + 2 * MSS * k for k in range(1, 6)]


def test_two_small_segments_are_acked_together_after_the_delay() -> None:
    """Less than 2 * RMSS of new data: one ACK when the timer of the first runs out;
    later segments do not push the deadline back (MUST-40 holds for the first)."""
    h = established()
    start = h.now
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"a" * 100))
    h.now = start + 30_000
    h.recv_seg(h.peer(ACK, 101, 1, payload=b"b" * 100))
    h.expect_nothing()
    assert h.deadline == start + DELACK
    h.advance(start + DELACK)
    h.expect(h.mine(ACK, 1, 201, window=BUFFER - 200))


def test_full_segment_plus_small_segment_waits_for_the_timer() -> None:
    h = established()
    start = h.now
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(MSS)))
    h.recv_seg(h.peer(ACK, 1 + MSS, 1, payload=bytes(100)))
    h.expect_nothing()  # 1560 bytes < 2 * 1460
    h.advance(start + DELACK)
    h.expect(h.mine(ACK, 1, 1 + MSS + 100, window=BUFFER - MSS - 100))


def test_ack_is_piggybacked_on_outgoing_data() -> None:
    """3.8.6.3: data sent while an ACK is pending carries it; no separate ACK follows."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"request"))
    h.expect_nothing()
    h.now += 5_000
    h.conn.send(b"response")
    h.expect(h.mine(ACK | PSH, 1, 8, window=BUFFER - 7, payload=b"response"))
    h.expect_nothing()
    assert h.conn.delack_deadline is None
    assert h.deadline == h.now + 200_000  # only the retransmission timer is left
    h.advance(h.now + DELACK)
    h.expect_nothing()


def test_delayed_ack_timer_restarts_for_new_data_after_an_ack() -> None:
    h = established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"a"))
    h.advance(h.now + DELACK)
    h.expect(h.mine(ACK, 1, 2, window=BUFFER - 1))
    h.now += 1_000_000
    h.recv_seg(h.peer(ACK, 2, 1, payload=b"b"))
    assert h.deadline == h.now + DELACK


def test_pure_ack_from_the_peer_is_not_acknowledged() -> None:
    """An ACK carrying no data occupies no sequence space: nothing to acknowledge."""
    h = established()
    h.conn.send(b"hi")
    h.take()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 3))
    h.expect_nothing()
    assert h.deadline is None


# ---------------------------------------------------------------- quick ACKs (Linux)

QUICK = replace(CONFIG, quick_acks=TcpConfig().quick_acks)


def test_default_config_starts_with_quick_acks() -> None:
    """Linux's quick-ACK mode: the first 16 in-order segments of a connection are
    ACKed at once (so slow start at the peer is not held back); then delayed ACKs."""
    assert TcpConfig().quick_acks == 16
    h = established(QUICK)
    for index in range(16):
        h.recv_seg(h.peer(ACK, 1 + index * 100, 1, payload=bytes(100)))
        h.expect(h.mine(ACK, 1, 1 + (index + 1) * 100, window=BUFFER - (index + 1) * 100))
        h.now += 1_000
    h.recv_seg(h.peer(ACK, 1601, 1, payload=bytes(100)))
    h.expect_nothing()  # the 17th waits for the delayed-ACK timer
    assert h.deadline == h.now + DELACK
    h.advance(h.now + DELACK)
    h.expect(h.mine(ACK, 1, 1701, window=BUFFER - 1700))


def test_quick_ack_with_the_full_default_config() -> None:
    """The same with every default (256 KiB buffers, window scaling offered)."""
    h = established(TcpConfig())
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"hello"))
    (ack,) = h.take()
    assert ack.flags == ACK
    assert (ack.ack - h.peer(ACK, 0).seq) % 2**32 == 6
    assert h.deadline is None


def test_data_carrying_the_fin_waits_for_the_delayed_ack() -> None:
    """Linux: data with the FIN in one segment is not quick-ACKed -- tcp_fin()
    enters pingpong mode, which turns quick ACKs off -- so the one ACK for data
    and FIN leaves after the delayed-ACK time (MUST-40), as for a bare FIN
    (a close() within it lets the FIN carry that ACK: a three-segment close)."""
    from helpers import FIN

    h = established(replace(QUICK, delay_fin_ack=True))
    h.recv_seg(h.peer(ACK | PSH | FIN, 1, 1, payload=bytes(100)))
    h.expect_nothing()
    assert h.deadline == h.now + DELACK
    h.advance(h.now + DELACK)
    h.expect(h.mine(ACK, 1, 102, window=BUFFER - 101))  # the right edge stays put
