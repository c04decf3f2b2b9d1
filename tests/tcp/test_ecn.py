"""Explicit Congestion Notification (RFC 3168; SHLD-8): negotiation on the
SYNs (6.1.1), ECT on new data only (6.1.1, 6.1.5), the receiver's ECE echo
until CWR (6.1.3) and the sender's once-per-window reduction with CWR (6.1.2)."""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, PSH, SYN, new_harness, passive_established

from synack.tcp.ecn import CE, ECT0
from synack.tcp.recovery import CA_CWR
from synack.wire.tcp import TcpFlags

ECE, CWR = TcpFlags.ECE, TcpFlags.CWR
ASK = replace(CONFIG, ecn=1)
ACCEPT = replace(CONFIG, ecn=2)


def ecn_established(config=ACCEPT):  # type: ignore[no-untyped-def]
    """A passive open whose SYN asked for ECN (ECE and CWR): the SYN,ACK said yes."""
    h = new_harness(active=False, config=config)
    h.conn.listen(h.now)
    h.recv_seg(h.peer(SYN | ECE | CWR, 0))
    (synack,) = h.take()
    assert synack.flags & (SYN | ACK | ECE | CWR) == SYN | ACK | ECE
    h.recv_seg(h.peer(ACK, 1, 1))
    h.events()
    assert h.conn.ecn_ok
    return h


def test_accepting_side_answers_an_ecn_setup_syn() -> None:
    ecn_established()


def test_no_ecn_when_the_syn_did_not_ask_or_ecn_is_off() -> None:
    h = passive_established(ACCEPT)
    assert not h.conn.ecn_ok
    h = new_harness(active=False, config=replace(CONFIG, ecn=0))
    h.conn.listen(h.now)
    h.recv_seg(h.peer(SYN | ECE | CWR, 0))
    (synack,) = h.take()
    assert not synack.flags & ECE and not h.conn.ecn_ok


def test_active_open_asks_with_tcp_ecn_1_only() -> None:
    h = new_harness(active=True, config=ASK)
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.flags == SYN | ECE | CWR
    h.recv_seg(h.peer(SYN | ACK | ECE, 0, 1))
    assert h.conn.ecn_ok
    h = new_harness(active=True, config=ACCEPT)
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.flags == SYN  # tcp_ecn=2 never asks


def test_retransmitted_syn_no_longer_asks() -> None:
    """Linux falls back on a SYN retransmission (a middlebox may drop ECN SYNs)."""
    h = new_harness(active=True, config=ASK)
    h.conn.connect(h.now)
    h.take()
    h.advance(h.conn.next_deadline() or 0)
    (again,) = h.take()
    assert again.flags == SYN


def test_new_data_is_ect_but_not_acks_or_retransmissions() -> None:
    h = ecn_established(replace(ACCEPT, nagle=False))
    h.conn.send(b"data")
    assert [field for _, field in h.conn.datagrams_to_send(h.now)] == [ECT0]
    h.advance(h.conn.next_deadline() or 0)  # the RTO resends it
    assert [field for _, field in h.conn.datagrams_to_send(h.now)] == [0]
    h.recv_seg(h.peer(ACK | PSH, 1, 5, payload=b"x"))
    h.advance(h.now + 200_000)
    assert [(s.payload, f) for s, f in h.conn.datagrams_to_send(h.now)] == [(b"", 0)]


def test_ce_is_echoed_with_ece_until_cwr() -> None:
    """6.1.3: ECE on every ACK after a CE mark, at once, until the peer's CWR."""
    h = ecn_established()
    h.conn.received_tos = CE  # the IP header of the next segment
    h.recv_seg(h.peer(ACK | PSH, 1, 1, payload=b"a"))
    (ack,) = h.take()  # not delayed
    assert ack.flags & ECE and h.conn.ecn_seen
    h.conn.received_tos = ECT0
    h.recv_seg(h.peer(ACK | PSH, 2, 1, payload=b"b"))
    h.advance(h.now + 200_000)
    (ack,) = h.take()
    assert ack.flags & ECE  # still echoing
    h.recv_seg(h.peer(ACK | PSH | CWR, 3, 1, payload=b"c"))
    h.advance(h.now + 200_000)
    (ack,) = h.take()
    assert not ack.flags & ECE


def test_ece_halves_the_window_once_per_window_and_sets_cwr() -> None:
    """6.1.2 on the RFC 5681 path: one reduction per window of data, and CWR on
    the first new data segment after it."""
    h = ecn_established(replace(ACCEPT, nagle=False, linux_recovery=False))
    mss = h.conn.send_mss
    h.conn.send(bytes(4 * mss))
    assert len(h.take()) == 4
    cwnd = h.conn.cc.cwnd
    h.recv_seg(h.peer(ACK | ECE, 1, 1 + mss))
    assert h.conn.cc.cwnd == h.conn.cc.ssthresh == 2 * mss < cwnd  # FlightSize/2, 2 MSS at least
    reduced = h.conn.cc.cwnd
    h.recv_seg(h.peer(ACK | ECE, 1, 1 + 2 * mss))  # same window: no second cut
    assert h.conn.cc.cwnd >= reduced
    h.conn.send(b"more")
    first_new = h.take()[0]
    assert first_new.flags & CWR


def test_ece_enters_cwr_with_linux_recovery() -> None:
    """Linux: tcp_enter_cwr -- the CWR state, ssthresh from the congestion
    module (CUBIC: 0.7 of cwnd), PRR bringing cwnd down."""
    linux = replace(ACCEPT, nagle=False, linux_recovery=True, sack=True, congestion_control="cubic")
    h = ecn_established(linux)
    mss = h.conn.send_mss
    h.conn.send(bytes(10 * mss))
    assert len(h.take()) == 10
    h.recv_seg(h.peer(ACK | ECE, 1, 1 + mss))
    assert h.conn.recovery.ca_state == CA_CWR
    assert h.conn.cc.ssthresh == 7 * mss
    assert h.conn.stats["ecn_reductions"] == 1
