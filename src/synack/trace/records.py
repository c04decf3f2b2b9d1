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
    BAD_ADDRESS = "broadcast, multicast or unspecified address (MUST-57, MUST-63)"
    NO_SOCKET = "no connection or listener (RST sent when allowed)"
    LISTEN_RST = "RST to a listener"
    LISTEN_ACK = "ACK to a listener (RST sent)"
    LISTEN_NO_SYN = "no SYN to a listener"
    LISTEN_OVERFLOW = "SYN queue or accept backlog full"
    SYN_SENT_BAD_ACK = "unacceptable ACK in SYN-SENT (RST sent)"
    SYN_SENT_NO_SYN_NO_RST = "neither SYN nor RST in SYN-SENT"
    SYN_SENT_RST_BAD_ACK = "RST without an acceptable ACK in SYN-SENT"
    SEQ_UNACCEPTABLE = "sequence number outside the window (ACK sent)"
    PAWS = "TSval older than TS.Recent: PAWS (RFC 7323 5, ACK sent)"
    DUPLICATE_SYN = "duplicate SYN in SYN-RECEIVED (SYN,ACK sent again)"
    RST_OUT_OF_WINDOW = "RST outside the window (RFC 5961)"
    RST_CHALLENGED = "in-window RST not at RCV.NXT: challenge ACK (RFC 5961)"
    SYN_CHALLENGED = "SYN in a synchronized state: challenge ACK (RFC 5961)"
    NO_ACK = "ACK bit off"
    ACK_UNSENT = "ACK of data not yet sent (ACK sent)"
    ACK_TOO_OLD = "ACK below the acceptable range (RFC 5961)"
    SYN_RECEIVED_BAD_ACK = "unacceptable ACK in SYN-RECEIVED (RST sent)"
    DATA_AFTER_FIN = "data or FIN after the peer's FIN"
    RECEIVE_BUFFER_FULL = "no room in the receive buffer"
    DUPLICATE_DATA = "data received before (ACK sent, with a D-SACK when in use)"
    TIME_WAIT = "segment to a TIME-WAIT connection"
    CLOSED = "segment to a closed connection"
    ICMP_MALFORMED = "malformed ICMP message"
    ICMP_NO_CONNECTION = "ICMP error about no connection of ours"
    ICMP_OUT_OF_WINDOW = "ICMP error quoting a sequence number not in flight (RFC 5927)"
    ICMP_SOURCE_QUENCH = "ICMP Source Quench: silently discarded (MUST-55)"
    ICMP_IGNORED = "ICMP message TCP does not act on"


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


# --- the simulated network's records (synack.net.sim) -------------------------
#
# Every datagram a host hands to the simulated network gets a ``packet_id``;
# all records about it (and about its duplicates, which get ids of their own)
# carry that id, so a renderer can follow each packet from transmission to
# delivery or loss without guessing.  ``conn`` is the sender's view of the
# 4-tuple when the datagram carries TCP (``None`` otherwise); ``packet`` is the
# whole IP datagram as it was at that point.


@dataclass(frozen=True, slots=True)
class NetworkRecord(Record):
    """Base of the network's records: packet id, sending and receiving host, bytes.

    ``dst_host`` is ``None`` when no host owns the destination address.
    """

    packet_id: int
    src_host: str
    dst_host: str | None
    packet: bytes


@dataclass(frozen=True, slots=True)
class PacketTransmitted(NetworkRecord):
    """A host handed a datagram to the network (the capture point for pcap)."""


@dataclass(frozen=True, slots=True)
class PacketDelivered(NetworkRecord):
    """A datagram reached ``dst_host``, which received it at ``time``."""

    sent_time: int


@dataclass(frozen=True, slots=True)
class PacketLost(NetworkRecord):
    """The network dropped a datagram.

    ``reason`` is one of ``"loss"`` (random), ``"burst loss"`` (Gilbert-Elliott
    bad state), ``"queue full"`` (tail drop), ``"no route"`` or ``"filter"``
    (a scripted drop).
    """

    reason: str


@dataclass(frozen=True, slots=True)
class PacketDuplicated(NetworkRecord):
    """The network made a second copy of ``packet_id``; the copy is ``copy_id``."""

    copy_id: int


@dataclass(frozen=True, slots=True)
class PacketCorrupted(NetworkRecord):
    """The network flipped bit ``bit`` (0 = most significant bit of the first
    octet) of the datagram; ``packet`` holds the corrupted bytes."""

    bit: int
