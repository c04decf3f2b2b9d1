"""Urgent data (RFC 9293 3.8.5, 3.10.2 SEND, 3.10.7.4 sixth step; RFC 6093).

synack keeps urgent data inline, in the byte stream (what RFC 6093 advises
applications to ask for, SO_OOBINLINE): the urgent pointer marks where the
urgent data ends, the application is told when a pointer appears or advances
(MUST-32) and can ask how much urgent data is left to read (MUST-33).
"""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, PSH, established

from synack.tcp.events import Readable, Urgent
from synack.wire.tcp import TcpFlags

URG = TcpFlags.URG
MSS = 1460


def test_urgent_send_sets_urg_and_points_after_the_data() -> None:
    """MUST-30, MUST-62: the pointer is the sequence number of the octet that
    follows the urgent data: SEG.SEQ + SEG.UP = SND.UP."""
    h = established()
    h.conn.send(b"ab")
    h.conn.send(b"!", urgent=True)
    (segment,) = h.take()
    assert segment.payload == b"ab!"
    assert segment.flags & URG
    assert segment.urgent == 3  # SND.UP - SEG.SEQ: just after the "!"
    assert h.conn.snd_up == h.conn.snd_una + 3


def test_urgent_data_of_any_length_spans_segments() -> None:
    """MUST-31: every segment before SND.UP carries URG and the pointer to the
    end of the urgent data, possibly beyond the segment itself."""
    h = established(replace(CONFIG, nagle=False))
    h.conn.send(bytes(3 * MSS), urgent=True)
    segments = h.take()
    assert len(segments) == 3
    assert [s.urgent for s in segments] == [3 * MSS, 2 * MSS, MSS]
    assert all(s.flags & URG for s in segments)


def test_urgent_mode_ends_once_the_urgent_data_is_acknowledged() -> None:
    h = established(replace(CONFIG, nagle=False))
    h.conn.send(b"U", urgent=True)
    assert h.take()[0].flags & URG
    h.recv_seg(h.peer(ACK, 1, 2))
    h.conn.send(b"normal")
    (segment,) = h.take()
    assert not segment.flags & URG and segment.urgent == 0
    assert h.conn.snd_up is None


def test_ack_sent_before_the_urgent_data_carries_the_pointer() -> None:
    """The urgent field is carried in all segments transmitted (3.8.5): an ACK
    that leaves while the urgent data waits for the peer's window already
    points at its end (Linux's tcp_transmit_skb: any segment before SND.UP)."""
    h = established(replace(CONFIG, nagle=False))
    h.recv_seg(h.peer(ACK, 1, 1, window=0))
    h.conn.send(b"U", urgent=True)
    h.expect_nothing()  # the window is closed
    h.recv_seg(h.peer(ACK | PSH, 1, 1, window=0, payload=bytes(10)))
    h.advance(h.now + 40_000)
    (ack,) = h.take()
    assert not ack.payload and ack.flags & URG and ack.urgent == 1


def test_receiving_an_urgent_pointer_signals_the_application() -> None:
    """MUST-32: an urgent pointer with no urgent data pending is announced;
    MUST-33: the application learns how much urgent data is left to read."""
    h = established()
    data = h.peer(ACK | PSH | URG, 1, 1, payload=b"hello!")
    h.recv_seg(replace(data, urgent=6))
    events = h.events()
    assert Urgent(6) in events and any(isinstance(e, Readable) for e in events)
    assert h.conn.urgent_pending == 6
    assert h.conn.recv(4) == b"hell"  # inline: the urgent octets are in the stream
    assert h.conn.urgent_pending == 2
    assert h.conn.recv(10) == b"o!"
    assert h.conn.urgent_pending == 0  # back to normal mode


def test_pointer_ahead_of_the_data_and_advances() -> None:
    """The pointer may point beyond the data received so far; a pointer that
    advances is announced again, a repeated or older one is not (3.10.7.4)."""
    h = established()
    first = replace(h.peer(ACK | URG, 1, 1, payload=b"ab"), urgent=10)
    h.recv_seg(first)
    assert Urgent(10) in h.events()
    again = replace(h.peer(ACK | URG, 3, 1, payload=b"cd"), urgent=8)  # same RCV.UP
    h.recv_seg(again)
    assert not [e for e in h.events() if isinstance(e, Urgent)]
    further = replace(h.peer(ACK | URG, 5, 1, payload=b"ef"), urgent=20)
    h.recv_seg(further)
    assert Urgent(24) in h.events()
    assert h.conn.urgent_pending == 24


def test_urgent_pointer_in_data_already_read_is_ignored() -> None:
    """A receiver is robust to invalid pointers (3.8.5): one that does not
    reach past what the application read signals nothing."""
    h = established()
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"abcd"))
    assert h.conn.recv(10) == b"abcd"
    stale = replace(h.peer(ACK | URG, 5, 1, payload=b"e"), urgent=0)
    h.recv_seg(stale)
    assert not [e for e in h.events() if isinstance(e, Urgent)]
    assert h.conn.urgent_pending == 0


def test_urgent_after_the_peer_finished_is_ignored() -> None:
    """Sixth step, CLOSE-WAIT and later: "This should not occur, since a FIN has
    been received from the remote side.  Ignore the URG.\""""
    h = established()
    h.recv_seg(h.peer(ACK | TcpFlags.FIN, 1, 1))
    h.take()
    h.events()
    h.recv_seg(replace(h.peer(ACK | URG, 2, 1), urgent=5))
    assert not [e for e in h.events() if isinstance(e, Urgent)]
    assert h.conn.rcv_up is None
