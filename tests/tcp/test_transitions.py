"""Every edge of the state machine, exercised and recorded.

Each scenario drives one connection through public calls and segments and
returns its harness, whose trace (``StateChanged`` records, via the
``trace=`` sink) says which transitions happened.  ``test_transition`` checks
each scenario reaches its edge; ``test_every_transition_is_exercised`` runs
them all and checks the union of the recorded edges covers every key of
``TRANSITIONS`` except the ones listed in ``UNREACHABLE`` with the reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest
from helpers import (
    ACK,
    CONFIG,
    FIN,
    PEER_SYN_OPTIONS,
    RST,
    SYN,
    T0,
    Harness,
    close_wait,
    closing,
    established,
    fin_wait_1,
    fin_wait_2,
    last_ack,
    listen,
    passive_established,
    syn_received,
    syn_sent,
    time_wait,
)

from synack.tcp.config import SECOND
from synack.tcp.connection import IllegalTransition
from synack.tcp.state import TRANSITIONS, State
from synack.trace.records import StateChanged

S = State
Pair = tuple[State, State]


# ---------------------------------------------------------------- scenarios


def listen_then_send() -> Harness:
    """3.10.2 SEND in LISTEN: the passive OPEN becomes an active one."""
    h = listen()
    h.conn.send(b"x", h.now)
    h.take()
    return h


def listen_then_close() -> Harness:
    h = listen()
    h.conn.close(h.now)
    return h


def simultaneous_open() -> Harness:
    h = syn_sent()
    h.recv_seg(h.peer(SYN, 0, options=PEER_SYN_OPTIONS))
    h.take()
    return h


def simultaneous_open_completed() -> Harness:
    h = simultaneous_open()
    h.recv_seg(h.peer(ACK, 1, 1))
    return h


def syn_sent_refused() -> Harness:
    h = syn_sent()
    h.recv_seg(h.peer(RST | ACK, 0, 1))
    return h


def syn_sent_closed() -> Harness:
    h = syn_sent()
    h.conn.close(h.now)
    return h


def syn_sent_timeout() -> Harness:
    h = syn_sent(replace(CONFIG, syn_retries=0))
    h.advance(T0 + SECOND)
    return h


def syn_received_reset() -> Harness:
    h = syn_received()
    h.recv_seg(h.peer(RST, 1))
    return h


def syn_received_timeout() -> Harness:
    h = syn_received(replace(CONFIG, synack_retries=0))
    h.advance(T0 + SECOND)
    return h


def simultaneous_open_reset() -> Harness:
    h = simultaneous_open()
    h.recv_seg(h.peer(RST, 1))
    return h


def syn_received_abort() -> Harness:
    h = syn_received()
    h.conn.abort(h.now)
    return h


def established_reset() -> Harness:
    h = established()
    h.recv_seg(h.peer(RST, 1))
    return h


def established_abort() -> Harness:
    h = established()
    h.conn.abort(h.now)
    return h


def fin_wait_1_fin_and_ack() -> Harness:
    h = fin_wait_1()
    h.recv_seg(h.peer(FIN | ACK, 1, 2))
    return h


def fin_wait_1_abort() -> Harness:
    h = fin_wait_1()
    h.conn.abort(h.now)
    return h


def fin_wait_2_timeout() -> Harness:
    h = fin_wait_2()
    h.advance(h.now + 60 * SECOND)
    return h


def fin_wait_2_reset() -> Harness:
    h = fin_wait_2(half_close=True)
    h.recv_seg(h.peer(RST, 1))
    return h


def close_wait_reset() -> Harness:
    h = close_wait()
    h.recv_seg(h.peer(RST, 2))
    return h


def closing_acked() -> Harness:
    h = closing()
    h.recv_seg(h.peer(ACK, 2, 2))
    return h


def closing_reset() -> Harness:
    h = closing()
    h.recv_seg(h.peer(RST, 2))
    return h


def last_ack_acked() -> Harness:
    h = last_ack()
    h.recv_seg(h.peer(ACK, 2, 2))
    return h


def time_wait_expired() -> Harness:
    h = time_wait()
    h.advance(h.now + 60 * SECOND)
    return h


SCENARIOS: list[tuple[Pair, Callable[[], Harness]]] = [
    ((S.CLOSED, S.LISTEN), listen),
    ((S.CLOSED, S.SYN_SENT), syn_sent),
    ((S.LISTEN, S.SYN_RECEIVED), syn_received),
    ((S.LISTEN, S.SYN_SENT), listen_then_send),
    ((S.LISTEN, S.CLOSED), listen_then_close),
    ((S.SYN_SENT, S.SYN_RECEIVED), simultaneous_open),
    ((S.SYN_SENT, S.ESTABLISHED), established),
    ((S.SYN_SENT, S.CLOSED), syn_sent_refused),
    ((S.SYN_SENT, S.CLOSED), syn_sent_closed),
    ((S.SYN_SENT, S.CLOSED), syn_sent_timeout),
    ((S.SYN_RECEIVED, S.ESTABLISHED), passive_established),
    ((S.SYN_RECEIVED, S.ESTABLISHED), simultaneous_open_completed),
    ((S.SYN_RECEIVED, S.LISTEN), syn_received_reset),
    ((S.SYN_RECEIVED, S.LISTEN), syn_received_timeout),
    ((S.SYN_RECEIVED, S.CLOSED), simultaneous_open_reset),
    ((S.SYN_RECEIVED, S.CLOSED), syn_received_abort),
    ((S.ESTABLISHED, S.FIN_WAIT_1), fin_wait_1),
    ((S.ESTABLISHED, S.CLOSE_WAIT), close_wait),
    ((S.ESTABLISHED, S.CLOSED), established_reset),
    ((S.ESTABLISHED, S.CLOSED), established_abort),
    ((S.FIN_WAIT_1, S.FIN_WAIT_2), fin_wait_2),
    ((S.FIN_WAIT_1, S.CLOSING), closing),
    ((S.FIN_WAIT_1, S.TIME_WAIT), fin_wait_1_fin_and_ack),
    ((S.FIN_WAIT_1, S.CLOSED), fin_wait_1_abort),
    ((S.FIN_WAIT_2, S.TIME_WAIT), time_wait),
    ((S.FIN_WAIT_2, S.CLOSED), fin_wait_2_timeout),
    ((S.FIN_WAIT_2, S.CLOSED), fin_wait_2_reset),
    ((S.CLOSE_WAIT, S.LAST_ACK), last_ack),
    ((S.CLOSE_WAIT, S.CLOSED), close_wait_reset),
    ((S.CLOSING, S.TIME_WAIT), closing_acked),
    ((S.CLOSING, S.CLOSED), closing_reset),
    ((S.LAST_ACK, S.CLOSED), last_ack_acked),
    ((S.TIME_WAIT, S.CLOSED), time_wait_expired),
]

#: Edges of TRANSITIONS that a Connection does not take, and why.
UNREACHABLE: dict[Pair, str] = {}


def _ids() -> list[str]:
    return [f"{old}->{new}:{fn.__name__}" for (old, new), fn in SCENARIOS]


@pytest.mark.parametrize(("pair", "scenario"), SCENARIOS, ids=_ids())
def test_transition(pair: Pair, scenario: Callable[[], Harness]) -> None:
    """The scenario takes its edge, and the trace is a consistent chain: each
    change starts where the previous one ended, from CLOSED."""
    h = scenario()
    changes = h.transitions()
    assert pair in changes
    assert changes[0][0] is S.CLOSED
    for (_, new), (old, _) in itertools.pairwise(changes):
        assert old is new
    records = [r for r in h.records if isinstance(r, StateChanged)]
    assert all(r.cause for r in records)
    assert all(r.conn == h.conn.four_tuple for r in records)
    assert [r.time for r in records] == sorted(r.time for r in records)
    last = changes[-1][1]
    if changes[-1] == (S.SYN_RECEIVED, S.LISTEN):
        # MUST-11: a passive child returned to LISTEN is handed back to its
        # listener; the TCB itself is deleted quietly.
        assert h.state is S.CLOSED
    else:
        assert h.state is last


def test_every_transition_is_exercised() -> None:
    """The union of the recorded edges covers TRANSITIONS (minus UNREACHABLE);
    an edge listed as unreachable must really not occur (else un-list it)."""
    seen: set[Pair] = set()
    for _, scenario in SCENARIOS:
        seen |= set(scenario().transitions())
    assert set(UNREACHABLE) <= set(TRANSITIONS)
    missing = set(TRANSITIONS) - set(UNREACHABLE) - seen
    assert not missing, f"no scenario takes {sorted(map(str, missing))}"
    assert not seen & set(UNREACHABLE)
    assert seen <= set(TRANSITIONS)
    assert {pair for pair, _ in SCENARIOS} | set(UNREACHABLE) == set(TRANSITIONS)


def test_illegal_transition_is_refused() -> None:
    """Transitions are data (design principle 4): anything not in the table
    raises IllegalTransition, a bug in synack rather than a network event."""
    h = established()
    with pytest.raises(IllegalTransition):
        h.conn._set_state(S.LISTEN, "bogus", h.now)
    assert h.state is S.ESTABLISHED
    assert (S.ESTABLISHED, S.LISTEN) not in TRANSITIONS
