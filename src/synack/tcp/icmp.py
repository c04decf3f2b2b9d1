"""ICMP errors about a connection's segments (RFC 9293 3.9.2.2; RFC 1122
4.2.3.9; RFC 5927; path MTU discovery, RFC 1191 and RFC 8201).

The stack parses the message (``synack.wire.icmp``) and hands it to the
connection whose segment it quotes (MUST-54).  Then, as RFC 1122 4.2.3.9:

* Source Quench: silently discarded (MUST-55);
* Destination Unreachable codes 0, 1, 5 (network or host unreachable, source
  route failed), Time Exceeded and Parameter Problem are soft errors: the
  connection is not aborted (MUST-56), the application is told (SHLD-25,
  an ``IcmpError`` event), and should the connection time out later the
  error it reports is this one rather than ETIMEDOUT (Linux's sk_err_soft);
* Destination Unreachable codes 2-4 (protocol or port unreachable) abort it
  (SHLD-26) -- code 4 "fragmentation needed" is instead path MTU discovery:
  the send MSS shrinks to the reported MTU and the data in flight is sent
  again in smaller segments (Linux's tcp_v4_mtu_reduced, tcp_simple_retransmit);
* ICMPv6 maps the same way (RFC 4443): no route and beyond scope are soft,
  administratively prohibited and port unreachable abort, Packet Too Big is
  path MTU discovery.

A message is believed only when the sequence number it quotes is in flight
(SND.UNA <= SEG.SEQ < SND.NXT; RFC 5927 4.1, Linux's tcp_v4_err), so a blind
attacker cannot reset or slow down a connection with forged ICMP.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from synack.tcp.errors import os_error
from synack.tcp.events import IcmpError as IcmpErrorEvent
from synack.tcp.events import Reset
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.trace.records import DropReason
from synack.wire import icmp as wire

if TYPE_CHECKING:
    from synack.tcp.connection import Connection

IPV6_MIN_MTU = 1280  # RFC 8200 5
LINUX_MIN_PMTU = 552  # net.ipv4.route.min_pmtu: smaller reports are raised to it

# (version, type, code) -> (errno, abort?) for the errors that are not PMTU.
_V4_UNREACHABLE = {
    0: (errno.ENETUNREACH, False),
    1: (errno.EHOSTUNREACH, False),
    2: (errno.ENOPROTOOPT, True),
    3: (errno.ECONNREFUSED, True),
    5: (errno.EOPNOTSUPP, False),
}
_V6_UNREACHABLE = {
    0: (errno.ENETUNREACH, False),
    1: (errno.EACCES, True),
    2: (errno.EHOSTUNREACH, False),
    3: (errno.EHOSTUNREACH, False),
    4: (errno.ECONNREFUSED, True),
}


def icmp_error(conn: Connection, message: wire.IcmpError, now: int) -> None:
    """Act on an ICMP error quoting one of ``conn``'s segments."""
    state = conn.state
    if state in (State.CLOSED, State.LISTEN, State.TIME_WAIT):
        conn.drop(None, DropReason.ICMP_IGNORED, now, f"ICMP in {state}")
        return
    seq = Seq(message.seq)
    if not conn.snd_una <= seq < conn.snd_max:
        conn.drop(None, DropReason.ICMP_OUT_OF_WINDOW, now, f"quoted seq {int(seq)}")
        return
    version, kind, code = message.version, message.type, message.code
    if version == 4 and kind == wire.ICMP_SOURCE_QUENCH:
        conn.drop(None, DropReason.ICMP_SOURCE_QUENCH, now)
        return
    if (version == 4 and kind == wire.ICMP_DEST_UNREACHABLE and code == 4) or (
        version == 6 and kind == wire.ICMPV6_PACKET_TOO_BIG
    ):
        _path_mtu(conn, message.mtu, now)
        return
    if version == 4 and kind == wire.ICMP_DEST_UNREACHABLE:
        code_errno, abort = _V4_UNREACHABLE.get(code, (errno.EHOSTUNREACH, False))
    elif version == 6 and kind == wire.ICMPV6_DEST_UNREACHABLE:
        code_errno, abort = _V6_UNREACHABLE.get(code, (errno.EHOSTUNREACH, False))
    elif kind in (wire.ICMP_TIME_EXCEEDED, wire.ICMPV6_TIME_EXCEEDED) and (
        (version == 4) == (kind == wire.ICMP_TIME_EXCEEDED)
    ):
        code_errno, abort = errno.EHOSTUNREACH, False  # MUST-56: never abort
    else:  # Parameter Problem (MUST-56: never abort)
        code_errno, abort = errno.EPROTO, False
    error = os_error(code_errno)
    conn.bump("icmp_errors")
    if abort:
        # SHLD-26: protocol/port unreachable abort the connection; the
        # application learns it like a reset (the next call raises it).
        conn.error = error
        conn._events.append(Reset(error))
        conn._enter_closed(f"ICMP {'v6 ' if version == 6 else ''}type {kind} code {code}", now)
        return
    # Soft errors (MUST-56): keep going, tell the application (SHLD-25).
    conn.soft_error = error
    conn._events.append(IcmpErrorEvent(error))


def _path_mtu(conn: Connection, mtu: int, now: int) -> None:
    """RFC 1191 / RFC 8201: a smaller path MTU.  Reports of a larger MTU than the
    current one, or of nothing (old routers send 0), change nothing; tiny ones
    are raised to Linux's minimum (net.ipv4.route.min_pmtu, IPv6's 1280)."""
    ipv6 = conn.path_mss_overhead > 40
    floor = IPV6_MIN_MTU if ipv6 else LINUX_MIN_PMTU
    if mtu <= 0:
        conn.bump("icmp_pmtu_ignored")
        return
    mtu = max(mtu, floor)
    path_mss = mtu - conn.path_mss_overhead
    if path_mss >= conn.path_mss:
        conn.bump("icmp_pmtu_ignored")
        return
    conn.path_mss = path_mss
    conn.bump("icmp_pmtu_reductions")
    if not conn.state.synchronized:
        return  # the SYN carries no data: its MSS option is settled on the SYN,ACK
    conn.set_send_mss(path_mss)
    # tcp_simple_retransmit: what is in flight was too big; send it again now,
    # cut to the new MSS, without treating it as congestion.
    if conn.snd_max != conn.snd_una:
        conn.resend_in_flight(now)

