"""Trace records: every segment sent, received or dropped, every state change,
every timer firing and every user call is one record.

Records are plain values; the protocol core appends them to a sink it is
given, and renderers (ladder, pcap) read them afterwards.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from synack.tcp.state import State
from synack.wire.tcp import Segment

Address = IPv4Address | IPv6Address
#: (local address, local port, remote address, remote port)
FourTuple = tuple[Address, int, Address, int]


class DropReason(enum.Enum):
    """Why a packet or segment was dropped (counted per stack, like Linux's enum)."""

    MALFORMED = "malformed packet"
    BAD_CHECKSUM = "bad checksum"
    NOT_TCP = "not a TCP packet"
    NOT_FOR_US = "destination is not a local address"
    NO_SOCKET = "no connection or listener (RST sent when allowed)"
    LISTEN_RST = "RST to a listener"
    LISTEN_ACK = "ACK to a listener (RST sent)"
    LISTEN_NO_SYN = "no SYN to a listener"
    LISTEN_OVERFLOW = "SYN queue or accept backlog full"
    SYN_SENT_BAD_ACK = "unacceptable ACK in SYN-SENT (RST sent)"
    SYN_SENT_NO_SYN_NO_RST = "neither SYN nor RST in SYN-SENT"
    SYN_SENT_RST_BAD_ACK = "RST without an acceptable ACK in SYN-SENT"
    SEQ_UNACCEPTABLE = "sequence number outside the window (ACK sent)"
    RST_OUT_OF_WINDOW = "RST outside the window (RFC 5961)"
    RST_CHALLENGED = "in-window RST not at RCV.NXT: challenge ACK (RFC 5961)"
    SYN_CHALLENGED = "SYN in a synchronized state: challenge ACK (RFC 5961)"
    NO_ACK = "ACK bit off"
    ACK_UNSENT = "ACK of data not yet sent (ACK sent)"
    ACK_TOO_OLD = "ACK below the acceptable range (RFC 5961)"
    SYN_RECEIVED_BAD_ACK = "unacceptable ACK in SYN-RECEIVED (RST sent)"
    DATA_AFTER_FIN = "data or FIN after the peer's FIN"
    RECEIVE_BUFFER_FULL = "no room in the receive buffer"
    TIME_WAIT = "segment to a TIME-WAIT connection"
    CLOSED = "segment to a closed connection"


@dataclass(frozen=True, slots=True)
class Record:
    """Base class: ``time`` in microseconds and the connection's 4-tuple
    (``None`` for stack-level records with no connection)."""

    time: int
    conn: FourTuple | None


@dataclass(frozen=True, slots=True)
class SegmentSent(Record):
    segment: Segment
    retransmission: bool = False


@dataclass(frozen=True, slots=True)
class SegmentReceived(Record):
    segment: Segment


@dataclass(frozen=True, slots=True)
class SegmentDropped(Record):
    segment: Segment | None
    reason: DropReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StateChanged(Record):
    old: State
    new: State
    cause: str


@dataclass(frozen=True, slots=True)
class TimerFired(Record):
    timer: str


@dataclass(frozen=True, slots=True)
class UserCall(Record):
    """An application call such as ``connect()`` or ``close()``."""

    call: str
