"""A device that refuses packets (a qdisc that drops everything), and
TCP_USER_TIMEOUT while probing.

Linux's TCP learns of a local drop from tcp_transmit_skb's return value: the
data stays unsent (not in flight), tcp_check_probe_timer arms the probe timer
at tcp_probe0_base() (the RTO, at least 200 ms), and tcp_send_probe0 retries
every TCP_RESOURCE_PROBE_INTERVAL (500 ms) without backing off, counting
icsk_probes_out (tcpi_probes).  TCP_USER_TIMEOUT (MUST-21) is measured from
the first probe (icsk_probes_tstamp) -- with zero-window probes too, even
when the peer answers them (tcp_probe_timer).  The sans-IO driver says the
device refuses packets with ``Stack.set_output_refused`` (here the
connection's ``output_refused``).
"""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, PSH, established

from synack.tcp.events import Reset
from synack.tcp.state import State

RTO = 200_000
INTERVAL = 500_000  # TCP_RESOURCE_PROBE_INTERVAL
SECOND = 1_000_000


def test_refused_data_stays_unsent_and_is_probed_every_500_ms() -> None:
    h = established()
    h.conn.output_refused = True
    h.conn.send(b"hello")
    h.expect_nothing()
    start = h.now
    assert h.conn.snd_nxt == h.conn.snd_una == h.conn.snd_max  # nothing in flight
    assert h.deadline == start + RTO  # tcp_probe0_base
    h.advance(start + RTO)
    h.expect_nothing()
    assert h.conn.probes_out == 1
    assert h.deadline == start + RTO + INTERVAL  # no backoff for local congestion
    h.advance(start + RTO + INTERVAL)
    h.expect_nothing()
    assert h.conn.probes_out == 2
    assert h.conn.persist_backoff == 0
    assert h.conn.rtt.backoffs == 0
    # The device takes packets again: the next probe sends the data.
    h.conn.output_refused = False
    h.advance(start + RTO + 2 * INTERVAL)
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"hello"))
    assert h.conn.snd_max == h.conn.snd_una + 5
    h.recv_seg(h.peer(ACK, 1, 6))
    assert h.conn.probes_out == 0  # the peer answered (tcp_ack)
    assert h.state is State.ESTABLISHED


def test_user_timeout_counts_from_the_first_probe() -> None:
    """MUST-21 with probing: 3 s of user timeout end 3 s after the first probe
    (6 probes at 500 ms intervals), not 3 s after the write."""
    h = established(replace(CONFIG, user_timeout=3 * SECOND))
    h.conn.output_refused = True
    h.conn.send(b"x" * 24)
    h.expect_nothing()
    start = h.now
    first = start + RTO
    h.advance(first)
    for probe in range(1, 6):
        h.advance(first + probe * INTERVAL)
        h.expect_nothing()
    assert h.conn.probes_out == 6
    assert h.state is State.ESTABLISHED
    assert h.deadline == first + 3 * SECOND  # clamped to the user timeout
    h.advance(first + 3 * SECOND - 1)
    assert h.state is State.ESTABLISHED
    h.advance(first + 3 * SECOND)
    assert h.state is State.CLOSED
    resets = [e for e in h.events() if isinstance(e, Reset)]
    assert len(resets) == 1 and isinstance(resets[0].error, TimeoutError)


def test_retransmission_refused_retries_without_backoff() -> None:
    """Data in flight when the device starts refusing: the RTO retry fails and
    the timer is re-armed at 500 ms without doubling the RTO (Linux's
    tcp_retransmit_timer after a failed tcp_retransmit_skb)."""
    h = established()
    h.conn.send(b"data")
    assert len(h.take()) == 1
    h.conn.output_refused = True
    start = h.now
    h.advance(start + RTO)
    h.expect_nothing()
    assert h.conn.rtt.backoffs == 0
    assert h.deadline == start + RTO + INTERVAL
    h.conn.output_refused = False
    h.advance(start + RTO + INTERVAL)
    assert [s.payload for s in h.take()] == [b"data"]


def test_user_timeout_ends_zero_window_probing_even_when_answered() -> None:
    """Linux (tcp_probe_timer): with TCP_USER_TIMEOUT the connection gives up
    once zero-window probing lasted that long, although every probe is
    answered with a zero window; without it, probing goes on (MUST-37)."""
    h = established(replace(CONFIG, user_timeout=SECOND))
    h.recv_seg(h.peer(ACK, 1, 1, window=0))
    h.conn.send(b"hello")
    h.expect_nothing()
    first = h.now + RTO
    h.advance(first)
    assert len(h.take()) == 1  # the first probe
    while h.state is not State.CLOSED:
        h.recv_seg(h.peer(ACK, 1, 1, window=0))  # answered: still closed
        assert h.conn.probes_out == 0
        deadline = h.deadline
        assert deadline is not None and deadline <= first + SECOND
        h.advance(deadline)
        h.take()
    assert h.now == first + SECOND
    resets = [e for e in h.events() if isinstance(e, Reset)]
    assert len(resets) == 1 and isinstance(resets[0].error, TimeoutError)
