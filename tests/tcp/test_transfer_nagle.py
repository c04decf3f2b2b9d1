"""The Nagle algorithm (RFC 9293 3.7.4, SHLD-7) and TCP_NODELAY (MUST-17:
the application can turn it off, here ``conn.nagle = False``).

Nagle: while data is in flight (SND.NXT != SND.UNA), a segment smaller than
the MSS is held until the outstanding data is acknowledged; full-sized
segments are never held.
"""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, FIN, PSH, established

from synack.tcp.config import TcpConfig
from synack.tcp.state import State

MSS = 1460


def test_nagle_is_on_by_default() -> None:
    """SHLD-7."""
    assert TcpConfig().nagle is True
    assert established().conn.nagle is True


def test_first_small_write_goes_out_at_once() -> None:
    """Nothing in flight: a small segment may be sent."""
    h = established()
    h.conn.send(b"a")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"a"))


def test_small_writes_are_held_while_data_is_in_flight() -> None:
    h = established()
    h.conn.send(b"a")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"a"))
    h.conn.send(b"b")
    h.conn.send(b"c")
    h.expect_nothing()
    assert len(h.conn.send_buffer) == 3


def test_held_data_is_coalesced_and_released_by_the_ack() -> None:
    """MAY-16: small SENDs are aggregated; SHLD-27: their PSH bits collapse into one."""
    h = established()
    h.conn.send(b"a")
    h.take()
    for byte in b"bcdef":
        h.conn.send(bytes([byte]))
        h.expect_nothing()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 2))
    h.expect(h.mine(ACK | PSH, 2, 1, payload=b"bcdef"))  # one segment, not five
    h.expect_nothing()


def test_partial_ack_does_not_release_held_data() -> None:
    """Nagle waits for *all* outstanding data to be acknowledged."""
    h = established()
    h.conn.send(b"abc")
    h.take()
    h.conn.send(b"d")
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 2))  # only 'a' acknowledged
    h.expect_nothing()
    h.recv_seg(h.peer(ACK, 1, 4))
    h.expect(h.mine(ACK | PSH, 4, 1, payload=b"d"))


def test_full_segments_are_never_held() -> None:
    """Nagle holds only less-than-MSS segments: full segments go out even with
    data in flight; only the small tail waits."""
    h = established()
    h.conn.send(b"a")
    h.take()
    h.conn.send(bytes(2 * MSS + 100))
    h.expect(
        h.mine(ACK, 2, 1, payload=bytes(MSS)),
        h.mine(ACK | PSH, 2 + MSS, 1, payload=bytes(MSS)),  # PSH ends the burst, as Linux
    )
    h.expect_nothing()  # the 100-byte tail waits for the ACKs
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 2 + 2 * MSS))
    h.expect(h.mine(ACK | PSH, 2 + 2 * MSS, 1, payload=bytes(100)))


def test_write_filling_a_segment_releases_it() -> None:
    h = established()
    h.conn.send(b"a")
    h.take()
    h.conn.send(bytes(MSS - 1))
    h.expect_nothing()
    h.conn.send(b"z")  # now a full segment is queued
    h.expect(h.mine(ACK | PSH, 2, 1, payload=bytes(MSS - 1) + b"z"))
    h.expect_nothing()


def test_fin_after_close_is_not_held_by_nagle() -> None:
    """close() flushes: the held small segment goes out at once with the FIN (as
    Linux's tcp_send_fin pushes with Nagle off); nothing more is coming."""
    h = established()
    h.conn.send(b"a")
    h.take()
    h.conn.send(b"tail")
    h.expect_nothing()
    h.conn.close()
    assert h.state is State.FIN_WAIT_1
    h.expect(h.mine(ACK | PSH | FIN, 2, 1, payload=b"tail"))
    h.expect_nothing()


def test_bare_fin_is_not_held_while_data_is_in_flight() -> None:
    h = established()
    h.conn.send(b"a")
    h.take()
    h.conn.shutdown()
    h.expect(h.mine(ACK | FIN, 2, 1))


# ---------------------------------------------------------------- TCP_NODELAY (MUST-17)


def test_nodelay_sends_small_writes_at_once() -> None:
    """MUST-17: with Nagle off every write goes out at once, data in flight or not."""
    h = established()
    h.conn.nagle = False
    for index, byte in enumerate(b"abc"):
        h.conn.send(bytes([byte]))
        h.expect(h.mine(ACK | PSH, 1 + index, 1, payload=bytes([byte])))


def test_nodelay_from_the_config() -> None:
    h = established(replace(CONFIG, nagle=False))
    assert h.conn.nagle is False
    h.conn.send(b"a")
    h.take()
    h.conn.send(b"b")
    h.expect(h.mine(ACK | PSH, 2, 1, payload=b"b"))


def test_turning_nagle_off_releases_held_data_on_the_next_output() -> None:
    h = established()
    h.conn.send(b"a")
    h.take()
    h.conn.send(b"b")
    h.expect_nothing()
    h.conn.nagle = False
    h.expect(h.mine(ACK | PSH, 2, 1, payload=b"b"))


def test_nodelay_still_respects_the_window_and_sender_sws() -> None:
    """Turning Nagle off bypasses neither flow control nor sender SWS avoidance
    (MUST-38): a 3-byte window after a 64240-byte one is silly until the
    override timer (one RTO, 200 ms) fires."""
    h = established()
    h.conn.nagle = False
    h.recv_seg(h.peer(ACK, 1, 1, window=3))
    h.conn.send(b"abcdef")
    h.expect_nothing()
    h.advance(h.now + 200_000)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"abc"))
    h.expect_nothing()


def test_minshall_a_tail_after_full_segments_goes_at_once() -> None:
    """Nagle in Minshall's form (RFC 9293 A.3, as Linux's tcp_nagle_check): a
    write of 2.5 segments leaves whole, since no *small* segment is in flight."""
    h = established()
    h.conn.send(bytes(2 * MSS + 500))
    h.expect(
        h.mine(ACK, 1, 1, payload=bytes(MSS)),
        h.mine(ACK, 1 + MSS, 1, payload=bytes(MSS)),
        h.mine(ACK | PSH, 1 + 2 * MSS, 1, payload=bytes(500)),
    )
    h.conn.send(b"more")
    h.expect_nothing()  # now a small segment (the 500 bytes) is unacknowledged
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 2 * MSS))  # the full segments only
    h.expect_nothing()
    h.recv_seg(h.peer(ACK, 1, 1 + 2 * MSS + 500))
    h.expect(h.mine(ACK | PSH, 1 + 2 * MSS + 500, 1, payload=b"more"))
