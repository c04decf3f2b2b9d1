"""The eleven TCP states and the table of legal transitions (RFC 9293 3.3.2).

Every state change in a ``Connection`` goes through ``_set_state``, which
checks the pair against ``TRANSITIONS``; the state diagram in ``docs/`` is
generated from this table by ``tools/gen_state_diagram.py``.
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    """A TCP connection state; ``str()`` gives the RFC spelling."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"

    def __str__(self) -> str:
        return self.value

    @property
    def synchronized(self) -> bool:
        """States after the handshake has synchronized both sides' sequence numbers."""
        return self in SYNCHRONIZED


S = State

SYNCHRONIZED = frozenset(
    {
        S.ESTABLISHED,
        S.FIN_WAIT_1,
        S.FIN_WAIT_2,
        S.CLOSE_WAIT,
        S.CLOSING,
        S.LAST_ACK,
        S.TIME_WAIT,
    }
)

#: States in which the local side may still send data.
CAN_SEND = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})
#: States in which the peer may still send data (no FIN received yet).
CAN_RECEIVE = frozenset({S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})

#: Legal ``(old, new)`` state pairs with the event that causes each.
#: Figure 5 of RFC 9293, plus the abort/reset edges that section 3.10 adds.
#: Two edges of the RFC's figure are not here because synack never takes them:
#: CLOSE in SYN-RECEIVED is queued until the handshake completes (3.10.4's
#: "otherwise" branch), so SYN-RECEIVED -> ESTABLISHED -> FIN-WAIT-1; and a FIN
#: in SYN-RECEIVED is only processed after the ACK step has moved the
#: connection to ESTABLISHED (3.10.7.4), so never SYN-RECEIVED -> CLOSE-WAIT.
TRANSITIONS: dict[tuple[State, State], str] = {
    (S.CLOSED, S.LISTEN): "passive OPEN",
    (S.CLOSED, S.SYN_SENT): "active OPEN / snd SYN",
    (S.LISTEN, S.SYN_RECEIVED): "rcv SYN / snd SYN,ACK",
    (S.LISTEN, S.SYN_SENT): "SEND / snd SYN",
    (S.LISTEN, S.CLOSED): "CLOSE",
    (S.SYN_SENT, S.SYN_RECEIVED): "rcv SYN (simultaneous open) / snd SYN,ACK",
    (S.SYN_SENT, S.ESTABLISHED): "rcv SYN,ACK / snd ACK",
    (S.SYN_SENT, S.CLOSED): "CLOSE, rcv RST, or timeout",
    (S.SYN_RECEIVED, S.ESTABLISHED): "rcv ACK of SYN",
    (S.SYN_RECEIVED, S.LISTEN): "rcv RST (passive open)",
    (S.SYN_RECEIVED, S.CLOSED): "rcv RST (active open), ABORT, or timeout",
    (S.ESTABLISHED, S.FIN_WAIT_1): "CLOSE / snd FIN",
    (S.ESTABLISHED, S.CLOSE_WAIT): "rcv FIN / snd ACK",
    (S.ESTABLISHED, S.CLOSED): "rcv RST, ABORT, or timeout",
    (S.FIN_WAIT_1, S.FIN_WAIT_2): "rcv ACK of FIN",
    (S.FIN_WAIT_1, S.CLOSING): "rcv FIN / snd ACK (simultaneous close)",
    (S.FIN_WAIT_1, S.TIME_WAIT): "rcv FIN and ACK of FIN / snd ACK",
    (S.FIN_WAIT_1, S.CLOSED): "rcv RST, ABORT, or timeout",
    (S.FIN_WAIT_2, S.TIME_WAIT): "rcv FIN / snd ACK",
    (S.FIN_WAIT_2, S.CLOSED): "rcv RST, ABORT, or FIN-WAIT-2 timeout",
    (S.CLOSE_WAIT, S.LAST_ACK): "CLOSE / snd FIN",
    (S.CLOSE_WAIT, S.CLOSED): "rcv RST, ABORT, or timeout",
    (S.CLOSING, S.TIME_WAIT): "rcv ACK of FIN",
    (S.CLOSING, S.CLOSED): "rcv RST, ABORT, or timeout",
    (S.LAST_ACK, S.CLOSED): "rcv ACK of FIN, rcv RST, or timeout",
    (S.TIME_WAIT, S.CLOSED): "2*MSL timeout, rcv RST, or ABORT",
}

#: Edges that only broken-on-purpose teaching variants take, kept apart from
#: ``TRANSITIONS`` (which the state diagram is drawn from).  ``_set_state``
#: accepts one only while its ``TcpConfig`` flag is on:
#: LISTEN -> ESTABLISHED needs ``teaching_two_way_handshake`` (RFC 9293 3.5
#: explains why a real TCP waits in SYN-RECEIVED for the ACK of its SYN).
TEACHING_TRANSITIONS: dict[tuple[State, State], str] = {
    (S.LISTEN, S.ESTABLISHED): "rcv SYN / snd SYN,ACK (two-way handshake: broken teaching variant)",
}


def is_legal(old: State, new: State) -> bool:
    """True when ``old -> new`` is in the transitions table."""
    return (old, new) in TRANSITIONS
