"""Urgent data (RFC 9293 3.8.5; RFC 6093): the urgent pointer of the segments
a ``Connection`` sends, and the peer's urgent pointer (sixth step of 3.10.7.4).

Urgent data stays inline, in the byte stream (as with SO_OOBINLINE): the
pointer only marks where it ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synack.tcp.events import Urgent
from synack.tcp.seq import Seq
from synack.wire.tcp import TcpFlags

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

FLAG_URG = TcpFlags.URG


def urgent_field(conn: Connection, seq: Seq, flags: TcpFlags) -> tuple[TcpFlags, int]:
    """URG and the urgent field of a segment starting at ``seq`` (3.8.5):
    SND.UP - SEG.SEQ while the segment lies before SND.UP (MUST-62).  A
    pointer more than 64 KiB ahead is sent as 0xFFFF when that still lies
    within the data sent, as Linux's tcp_transmit_skb.  Urgent mode ends
    once SND.UNA passed SND.UP."""
    up = conn.snd_up
    if up is None:
        return flags, 0
    if up <= conn.snd_una:
        conn.snd_up = None  # all urgent data acknowledged: normal mode
        return flags, 0
    if seq >= up:
        return flags, 0
    offset = up - seq
    if offset <= 0xFFFF:
        return flags | FLAG_URG, offset
    if seq + 0xFFFF <= conn.snd_max:
        return flags | FLAG_URG, 0xFFFF
    return flags, 0


def pending_urgent(conn: Connection) -> int:
    """Octets of the peer's urgent data not yet read (MUST-33): RCV.UP minus
    the next octet the application will read, or 0 in normal mode."""
    up = conn.rcv_up
    if up is None:
        return 0
    fin = 1 if conn.fin_received else 0
    read_edge = conn.rcv_nxt - fin - len(conn.receive_buffer)
    return max(up - read_edge, 0)


def urgent_pointer_received(conn: Connection, up: Seq) -> None:
    """Sixth step of 3.10.7.4: RCV.UP <- max(RCV.UP, SEG.UP); tell the
    application when there was no pending urgent data before or the
    pointer advanced (MUST-32)."""
    if conn.rcv_up is not None and up <= conn.rcv_up:
        return
    previous = conn.rcv_up
    conn.rcv_up = up
    pending = pending_urgent(conn)
    if pending == 0:
        conn.rcv_up = previous  # the pointer lies in data already read
        return
    conn.bump("urgent_pointers")
    conn._events.append(Urgent(pending))
