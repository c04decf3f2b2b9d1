"""Events a connection announces to its application (RFC 9293 3.9.1.8)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of connection events."""


@dataclass(frozen=True, slots=True)
class Established(Event):
    """The three-way handshake completed."""


@dataclass(frozen=True, slots=True)
class Readable(Event):
    """New in-order data is waiting in the receive buffer."""


@dataclass(frozen=True, slots=True)
class Writable(Event):
    """Room opened in the send buffer after it was full."""


@dataclass(frozen=True, slots=True)
class PeerFinished(Event):
    """The peer sent FIN: after the buffered data, reads return end of stream."""


@dataclass(frozen=True, slots=True)
class Urgent(Event):
    """The peer's urgent pointer appeared or advanced (MUST-32): ``pending`` octets
    of urgent data are not yet read (the data itself stays in the stream)."""

    pending: int


@dataclass(frozen=True, slots=True)
class Unresponsive(Event):
    """The same data has been retransmitted R1 times (``TcpConfig.retries1``)
    without an answer: the connection is still trying, until R2 (SHLD-9)."""

    retransmissions: int


@dataclass(frozen=True, slots=True)
class IcmpError(Event):
    """An ICMP soft error about the connection (SHLD-25): it goes on (MUST-56);
    ``error`` is what a later timeout will report instead of ETIMEDOUT."""

    error: OSError


@dataclass(frozen=True, slots=True)
class Reset(Event):
    """The connection was reset or failed; ``error`` is what calls will raise."""

    error: OSError


@dataclass(frozen=True, slots=True)
class Closed(Event):
    """The connection reached CLOSED and its TCB is gone."""


@dataclass(frozen=True, slots=True)
class ConnectionRequest(Event):
    """A listener has a new established connection ready for ``accept()``."""
