"""One TCP connection (a TCB): user calls, output and timers.

Sans-IO: three inputs (``receive(segment, now)``, user calls, ``on_timer(now)``)
and four outputs (``segments_to_send(now)``, ``next_event()``,
``next_deadline()``, trace records given to the ``trace`` sink).  The
SEGMENT ARRIVES processing of RFC 9293 3.10.7 lives in ``arrival.py``.

User calls only change state; segments are built when the driver asks for
them with ``segments_to_send(now)`` (so that timers are armed at the time a
segment really leaves).
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from synack.tcp import arrival, ecn, icmp, output, rcvwindow, segmentation, status, timers
from synack.tcp.buffers import ReceiveBuffer, SendBuffer
from synack.tcp.config import TcpConfig
from synack.tcp.congestion import congestion_control
from synack.tcp.errors import os_error
from synack.tcp.events import (
    Closed,
    Established,
    Event,
    PeerFinished,
    Readable,
    Reset,
    Writable,
)
from synack.tcp.options import (
    SackScoreboard,
    derived_ts_offset,
    own_segment_options,
    own_syn_options,
    timestamp_value,
)
from synack.tcp.recovery import Recovery
from synack.tcp.rtt import RttEstimator
from synack.tcp.seq import Seq
from synack.tcp.state import CAN_SEND, TEACHING_TRANSITIONS, TRANSITIONS, State
from synack.tcp.urgent import pending_urgent, urgent_field
from synack.trace.records import (
    DropReason,
    FourTuple,
    Record,
    SegmentDropped,
    SegmentSent,
    StateChanged,
    TimerFired,
    UserCall,
)
from synack.wire.icmp import IcmpError as IcmpMessage
from synack.wire.tcp import Segment, TcpFlags, TcpOption

Address = IPv4Address | IPv6Address
TraceSink = Callable[[Record], None]

SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2  # as the socket module

IPV4_OVERHEAD = 20 + 20  # IP header + TCP header without options (MUST-67)
IPV6_OVERHEAD = 40 + 20
FLAG_ACK = TcpFlags.ACK
FLAG_FIN = TcpFlags.FIN
FLAG_RST = TcpFlags.RST
FLAG_ECE = TcpFlags.ECE
FLAG_CWR = TcpFlags.CWR
_ACK, _SYN = int(TcpFlags.ACK), int(TcpFlags.SYN)  # for hot paths


class IllegalTransition(RuntimeError):
    """A state change not in ``TRANSITIONS``: a bug in synack, never a network event."""


class Connection:
    """One TCP connection.  See the module docstring for the driving contract.

    ``iss`` fixes the initial send sequence number (tests use values near
    2**32 so wrap bugs show); otherwise ``isn`` computes it (RFC 9293 3.4.1).
    ``notify`` is called whenever the connection has new output, events or
    a changed deadline (the stack uses it to avoid scanning connections).
    ``ts_offset`` is added to the timestamp clock (RFC 7323 5.4); by default
    it is derived from ``isn``'s keyed hash of the 4-tuple (so it differs per
    connection, as Linux's randomised offset), or 0 with a fixed ``iss``.
    """

    def __init__(
        self,
        local: tuple[Address, int],
        remote: tuple[Address, int],
        *,
        config: TcpConfig | None = None,
        iss: int | None = None,
        isn: Callable[[Address, int, Address, int, int], Seq] | None = None,
        trace: TraceSink | None = None,
        notify: Callable[[Connection], None] | None = None,
        ts_offset: int | None = None,
    ) -> None:
        self.config = cfg = config or TcpConfig()
        self.local_address, self.local_port = local
        self.remote_address, self.remote_port = remote
        self.four_tuple: FourTuple = (local[0], local[1], remote[0], remote[1])
        self._fixed_iss = iss
        self._isn = isn
        self._trace = trace
        self._notify = notify
        self.state = State.CLOSED
        self.passive = False  # opened from a listener (MUST-11: RST returns it to LISTEN)

        # RFC 9293 3.3.1 send and receive sequence variables
        self.iss = Seq(0)
        self.irs = Seq(0)
        self.snd_una = Seq(0)
        self.snd_nxt = Seq(0)
        # snd_nxt is the next octet to (re)send: it rewinds to snd_una after an
        # RTO (go-back-N).  snd_max never rewinds: it is RFC 9293's SND.NXT, the
        # edge used to judge ACKs and to number control segments.
        self.snd_max = Seq(0)
        self.snd_wnd = 0  # bytes, already scaled
        self.snd_wl1 = Seq(0)
        self.snd_wl2 = Seq(0)
        self.max_snd_wnd = 0  # largest window the peer offered (sender SWS, RFC 5961 5.2)
        self.rcv_nxt = Seq(0)
        self.rcv_adv = Seq(0)  # right edge of the window last advertised (never moves left)
        # Urgent pointers (3.8.5): the first octet after the urgent data, or None.
        self.snd_up: Seq | None = None  # SND.UP
        self.rcv_up: Seq | None = None  # RCV.UP
        self.rcv_wup = Seq(0)  # RCV.NXT when that window was advertised (Linux rcv_wup)

        # options negotiated on the SYNs
        ipv6 = isinstance(self.local_address, IPv6Address)
        overhead = IPV6_OVERHEAD if ipv6 else IPV4_OVERHEAD
        # What our MSS option says: the route's advmss metric, else the MTU's
        # (MUST-67); and the largest segment the path takes (the send MSS is
        # never above it, whatever the peer's option says: MUST-16, SHLD-6).
        self.mss_advertised = cfg.route_advmss or cfg.mtu - overhead
        self.path_mss = (cfg.route_mtu or cfg.mtu) - overhead
        self.path_mss_overhead = overhead  # IP + TCP headers: path MTU - this = MSS
        if cfg.user_mss:
            self.mss_advertised = min(self.mss_advertised, cfg.user_mss)  # TCP_MAXSEG
            self.path_mss = min(self.path_mss, cfg.user_mss)
        self.send_mss = cfg.default_mss_ipv6 if ipv6 else cfg.default_mss_ipv4  # MUST-15
        self.snd_wscale = 0  # shift applied to windows the peer advertises
        self.rcv_wscale = rcvwindow.offered_wscale(cfg)
        self.wscale_offer = self.rcv_wscale  # the shift our SYN offers
        self._offered_wscale = False  # a passive open answers the peer's wscale
        self.sack_ok = False  # both SYNs carried SACK-permitted (RFC 2018 2)
        self.ts_ok = False  # both SYNs carried timestamps (RFC 7323 3.2)
        self.ts_recent = 0  # TS.Recent: the TSval to echo (RFC 7323 4.3)
        self.ts_recent_stamp = 0  # when TS.Recent was set, for its 24-day expiry (5.5)
        self.last_ack_sent = Seq(0)  # Last.ACK.sent (RFC 7323 4.3)
        if ts_offset is None:
            ts_offset = derived_ts_offset(isn, local, remote) if iss is None else 0
        self.ts_offset = ts_offset & 0xFFFFFFFF
        self.scoreboard = SackScoreboard()  # what the peer SACKed of our data
        self.dsack: tuple[Seq, Seq] | None = None  # RFC 2883 block for the next ACK
        self.rwin = rcvwindow.ReceiveWindow()  # Linux's receive-window variables
        self.accepted = True  # the application holds it (False until accept() for a passive open)
        self.gso_size = 0  # the segment size of the aggregate being received (0: not one)

        self.send_buffer = SendBuffer(cfg.send_buffer)
        self.receive_buffer = ReceiveBuffer(cfg.receive_buffer)
        self.rtt = RttEstimator(cfg.initial_rto, cfg.min_rto, cfg.max_rto, linux=cfg.linux_rto)
        self.cc = congestion_control(cfg.congestion_control, self.send_mss, cfg.initial_window)
        self.recovery = Recovery(cfg.reordering)  # Linux's scoreboard, RACK-TLP, PRR
        self.nagle = cfg.nagle
        self.cork = False  # TCP_CORK: hold partial segments until uncorked
        self._more = False  # MSG_MORE on the last send: hold its partial segment
        self._small_end: Seq | None = None  # end of the last less-than-MSS segment sent
        self.write_queue = segmentation.WriteQueue()  # Linux's skbs (tso_packets)
        self.tx_packet = 0  # numbers the TSO packets sent (segmentation._send_packet)
        self.push_nonagle: int | None = None  # the Nagle mode of the push ending a write
        self.last_data_sent: int | None = None  # when data last left (tp->lsndtime)

        # FIN bookkeeping
        self.fin_queued = False  # CLOSE or shutdown(SHUT_WR) was called
        self.fin_seq: Seq | None = None  # the sequence number our FIN occupies, once sent
        self.fin_received = False
        self._peer_fin_seq: Seq | None = None  # an out-of-order FIN waiting for the data before it
        self.user_closed = False  # close() called: the application let go (orphan)
        self.read_shutdown = False
        self.error: OSError | None = None  # the pending error calls will raise
        self.soft_error: OSError | None = None  # an ICMP soft error (Linux's sk_err_soft)
        self._reported_error = False

        # timers: absolute deadlines in microseconds, or None
        self.rtx_deadline: int | None = None
        self.delack_deadline: int | None = None
        self.persist_deadline: int | None = None
        self.keepalive_deadline: int | None = None
        self.time_wait_deadline: int | None = None
        self.fin_wait_2_deadline: int | None = None
        self.retries = 0  # consecutive retransmission timeouts (R1/R2, MUST-20)
        self._rtx_started: int | None = None  # when the timer of the first unanswered RTO started
        self._persist_backoff = 0
        # Linux's icsk_probes_out (tcpi_probes): probes since the last ACK, and
        # icsk_probes_tstamp: when the first of the current run of probes fired
        # (TCP_USER_TIMEOUT measures probing from there, tcp_probe_timer).
        self.probes_out = 0
        self.probes_started: int | None = None
        # The device refuses packets (a full or zero-length qdisc: Linux's
        # tcp_transmit_skb fails with NET_XMIT_DROP).  New data then stays
        # unsent and the probe timer retries (TCP_RESOURCE_PROBE_INTERVAL).
        self.output_refused = False
        self.received_tos = 0  # the TOS octet of the latest segment that arrived (MAY-9)
        # ECN (RFC 3168, synack.tcp.ecn)
        self.ecn_ok = False  # negotiated on the SYNs
        self.ece_pending = False  # CE seen: echo ECE until the peer's CWR
        self.ecn_seen = False  # a CE mark arrived at some point (TCPI_OPT_ECN_SEEN)
        self.send_cwr = False  # our window was reduced: CWR on the next new data
        self.ecn_high_seq: Seq | None = None  # SND.NXT at the last reduction (RFC 5681 path)
        self._keepalive_probes = 0
        self._rtt_seq: Seq | None = None  # a timed segment's end (Karn: only new data, MUST-18)
        self._rtt_time = 0
        self._last_now = 0

        # acknowledgment policy (3.8.6.3)
        self.ack_now = False
        self._unacked_bytes = 0
        self._quick_acks = cfg.quick_acks
        self.last_challenge_ack: int | None = None  # RFC 5961 7 rate limit

        # outputs
        self._out: list[tuple[Segment, bool]] = []  # (segment, is a retransmission)
        self._events: deque[Event] = deque()
        self._writable_wanted = False
        self._readable_signalled = False
        self.stats: dict[str, int] = {}

    # ------------------------------------------------------------------ naming

    def __repr__(self) -> str:
        return (
            f"<Connection {self.local_address}:{self.local_port} -> "
            f"{self.remote_address}:{self.remote_port} {self.state}>"
        )

    # ------------------------------------------------------------------ OPEN (3.10.1)

    def connect(self, now: int) -> None:
        """Active OPEN: choose the ISS and send a SYN (CLOSED -> SYN-SENT)."""
        if self.state is not State.CLOSED:
            raise os_error(errno.EISCONN if self.state.synchronized else errno.EALREADY)
        self._user_call(now, "connect()")
        self._choose_iss(now)
        self._set_state(State.SYN_SENT, "active OPEN", now)
        self._wake()

    def listen(self, now: int | None = None) -> None:
        """Passive OPEN of this TCB (CLOSED -> LISTEN); the stack's listeners use it
        for each connection request they accept from the network."""
        if self.state is not State.CLOSED:
            raise os_error(errno.EINVAL, "connection is not closed")
        if now is not None:
            self._last_now = now
        self.passive = True
        self.accepted = False
        self._set_state(State.LISTEN, "passive OPEN", self._last_now)

    def _choose_iss(self, now: int) -> None:
        if self._fixed_iss is not None:
            iss = Seq(self._fixed_iss)
        elif self._isn is not None:
            iss = self._isn(
                self.local_address, self.local_port, self.remote_address, self.remote_port, now
            )
        else:
            raise ValueError("a Connection needs either iss= or isn=")
        self.iss = iss
        self.snd_una = iss
        self.snd_nxt = iss  # the SYN is built by segments_to_send
        self.snd_max = iss

    # ------------------------------------------------------------------ SEND (3.10.2)

    def send(
        self,
        data: bytes | bytearray | memoryview,
        now: int | None = None,
        *,
        more: bool = False,
        urgent: bool = False,
    ) -> int:
        """Queue ``data``; returns how many bytes the send buffer took (possibly 0).

        ``more`` (MSG_MORE) says more data follows: the write is not pushed
        (MAY-15: the SEND call decides the push; without it every write is).
        ``urgent`` marks the data taken as urgent (3.10.2, MUST-30): SND.UP
        moves to the octet after it (MUST-62), and every segment sent before
        that point carries URG and the pointer -- urgent data of any length
        (MUST-31).  New applications should not use it (SHLD-13).

        Raises like ``socket.send``: the pending error after a reset,
        ``BrokenPipeError`` once the sending side is shut down, and
        ``OSError(ENOTCONN)`` before OPEN.

        ``now`` (microseconds) stamps the call in the trace and arms timers
        from it; drivers pass it, simple tests may leave it out.
        """
        if now is not None:
            self._last_now = now
        self._raise_pending_error()
        state = self.state
        if self.fin_queued or (state.synchronized and state not in CAN_SEND):
            raise os_error(errno.EPIPE)  # "connection closing" (3.10.2)
        if state is State.CLOSED:
            raise os_error(errno.ENOTCONN)
        if state is State.LISTEN:
            # 3.10.2 SEND in LISTEN: the foreign socket is specified (a Connection
            # always has one), so the passive OPEN becomes an active one: select
            # an ISS, send a SYN, enter SYN-SENT; the data waits for ESTABLISHED.
            self.passive = False
            self._user_call(self._last_now, "send() in LISTEN")
            self._choose_iss(self._last_now)
            self._set_state(State.SYN_SENT, "SEND", self._last_now)
        if self.config.tso_packets:
            taken = segmentation.queue_write(self, data, more=more)
        else:
            self._more = more  # MSG_MORE: more data follows, hold a partial segment
            taken = self.send_buffer.write(data)
        if urgent and taken:
            # Data begins after the SYN: at SND.UNA once the SYN is acknowledged.
            first = self.iss + 1 if self.snd_una == self.iss else self.snd_una
            self.snd_up = first + len(self.send_buffer)
        if taken < len(data):
            self._writable_wanted = True
        if taken:
            self._wake()
        return taken

    # ------------------------------------------------------------------ RECEIVE (3.10.3)

    def recv(self, max_bytes: int, now: int | None = None) -> bytes:
        """Take up to ``max_bytes`` of in-order data.

        Returns ``b""`` at end of stream (the peer's FIN was read, or the read
        side was shut down); raises ``BlockingIOError`` when nothing is there
        yet, or the pending error after a reset.
        """
        if now is not None:
            self._last_now = now
        if max_bytes < 0:
            raise ValueError("negative buffersize in recv")
        if len(self.receive_buffer) == 0:
            if self.error is not None and not self._reported_error:
                self._reported_error = True
                raise self.error  # the first call after a reset reports it
            if self.fin_received or self.read_shutdown or self.error is not None:
                return b""  # end of stream (after a reported error too, as Linux)
            if self.state in (State.CLOSED, State.LISTEN):
                raise os_error(errno.ENOTCONN)  # as Linux's tcp_recvmsg for LISTEN
            raise os_error(errno.EAGAIN)
        data = self.receive_buffer.read(max_bytes)
        self._readable_signalled = False
        # Window update (3.8.6.2.2): once reading has opened the window enough
        # to matter (it at least doubles, as Linux's tcp_cleanup_rbuf), say so.
        if (
            self.state.synchronized
            and not self.fin_received
            and rcvwindow.window_update_after_read(self)
        ):
            self.ack_now = True
            self._wake()
        return data

    # ------------------------------------------------------------------ CLOSE (3.10.4)

    def shutdown(self, how: int = SHUT_WR, now: int | None = None) -> None:
        """Half-close (MAY-1).  ``SHUT_WR`` queues a FIN after the buffered data
        (ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT -> LAST-ACK); ``SHUT_RD`` makes
        reads return end of stream."""
        if now is not None:
            self._last_now = now
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise os_error(errno.EINVAL, "how must be SHUT_RD, SHUT_WR or SHUT_RDWR")
        if self.state in (State.CLOSED, State.LISTEN, State.SYN_SENT):
            raise os_error(errno.ENOTCONN)
        self._user_call(self._last_now, f"shutdown({('SHUT_RD', 'SHUT_WR', 'SHUT_RDWR')[how]})")
        if how in (SHUT_RD, SHUT_RDWR):
            self.read_shutdown = True
        if how in (SHUT_WR, SHUT_RDWR):
            self._queue_fin()

    def close(self, now: int | None = None) -> None:
        """CLOSE: the application is done with the connection (idempotent).

        Unread received data makes it an abort with RST (SHLD-3, as Linux);
        otherwise a FIN follows the buffered data and the TCB lives on,
        orphaned, until the close handshake and TIME-WAIT finish.  The close
        is half-duplex (MAY-1): reads end, and data arriving later gets a RST.
        """
        if now is not None:
            self._last_now = now
        if self.user_closed:
            return
        self.user_closed = True
        self._user_call(self._last_now, "close()")
        state = self.state
        if state in (State.CLOSED, State.LISTEN, State.SYN_SENT):
            # 3.10.4: LISTEN and SYN-SENT delete the TCB; no segment is sent.
            if state is not State.CLOSED:
                self._enter_closed("CLOSE", self._last_now)
            return
        if (len(self.receive_buffer) > 0 and state.synchronized) or (
            len(self.receive_buffer) > 0 and state is State.SYN_RECEIVED
        ):
            self._reset_connection(self._last_now, "close with unread data (SHLD-3)")
            return
        self.read_shutdown = True
        self._queue_fin()
        if self.state is State.FIN_WAIT_2:
            self._arm_fin_wait_2(self._last_now)

    def abort(self, now: int | None = None) -> None:
        """ABORT (3.10.5), as close() with SO_LINGER 0: RST in the synchronized
        states that still have a peer, then CLOSED."""
        if now is not None:
            self._last_now = now
        self._user_call(self._last_now, "abort()")
        self.user_closed = True
        state = self.state
        if state in (
            State.SYN_RECEIVED,
            State.ESTABLISHED,
            State.FIN_WAIT_1,
            State.FIN_WAIT_2,
            State.CLOSE_WAIT,
        ):
            self._reset_connection(self._last_now, "ABORT")
        elif state is not State.CLOSED:
            self._enter_closed("ABORT", self._last_now)

    def _queue_fin(self) -> None:
        if self.fin_queued:
            return
        self.fin_queued = True
        now = self._last_now
        if self.state is State.ESTABLISHED:
            self._set_state(State.FIN_WAIT_1, "CLOSE", now)
        elif self.state is State.CLOSE_WAIT:
            self._set_state(State.LAST_ACK, "CLOSE", now)
        # SYN-RECEIVED: the FIN is queued until ESTABLISHED (3.10.4).
        self._wake()

    def _reset_connection(self, now: int, cause: str) -> None:
        """Send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> and go to CLOSED (Linux's active reset)."""
        self._out.append((self._segment(self.snd_max, FLAG_RST | FLAG_ACK), False))
        self._enter_closed(cause, now)

    # ------------------------------------------------------------------ STATUS (3.10.6)

    def status(self) -> dict[str, object]:
        """A snapshot of the TCB (STATUS call, 3.10.6; shaped like Linux's tcp_info)."""
        return status.snapshot(self)

    # ------------------------------------------------------------------ inputs

    def receive(self, segment: Segment, now: int, *, gso_size: int = 0) -> None:
        """SEGMENT ARRIVES (3.10.7).  Never raises for anything the network sends.
        ``gso_size``: the segment is an aggregate (GRO/GSO) of segments this long."""
        self._last_now = now
        self.gso_size = gso_size
        arrival.segment_arrives(self, segment, now)
        self.gso_size = 0
        self._wake()

    def on_timer(self, now: int) -> None:
        """Fire every timer whose deadline is ``<= now`` (3.10.8)."""
        self._last_now = now
        timers.fire_due(self, now)
        self._wake()

    # ------------------------------------------------------------------ outputs

    def segments_to_send(self, now: int) -> list[Segment]:
        """Everything due to go out now: control segments, data, FIN, ACKs."""
        return [segment for segment, _ in self.datagrams_to_send(now)]

    def datagrams_to_send(self, now: int) -> list[tuple[Segment, int]]:
        """``segments_to_send`` with the ECN field each one's IP header carries
        (ECT(0) for new data on an ECN connection, else 0; ``synack.tcp.ecn``)."""
        self._last_now = now
        state = self.state
        if state.synchronized or state is State.SYN_SENT or state is State.SYN_RECEIVED:
            self._transmit(now)
        if self.ack_now and (state.synchronized or state is State.SYN_RECEIVED):
            # SYN-RECEIVED too: unacceptable segments and in-window RSTs get an
            # ACK there as well (3.10.7.4 first and second; Linux tcp_check_req).
            # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> with the RFC's SND.NXT, which is
            # snd_max here: after a go-back-N rewind snd_nxt lies below what the
            # peer already has, and an ACK carrying it would fail the peer's
            # sequence check (Linux's tcp_acceptable_seq() does the same).
            self._out.append((self._segment(self.snd_max, FLAG_ACK), False))
        if not self._out:
            return []
        out = self._out
        self._out = []
        datagrams = []
        ecn_ok = self.ecn_ok
        for segment, retransmission in out:
            if int(segment.flags) & _ACK:
                self._ack_sent(segment)
            if self._trace is not None:
                self._trace(SegmentSent(now, self.four_tuple, segment, retransmission))
            field = ecn.ip_ecn_field(self, segment, retransmission) if ecn_ok else 0
            datagrams.append((segment, field))
        return datagrams

    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> int | None:
        """The earliest armed timer, or None."""
        best: int | None = None
        for deadline in (
            self.rtx_deadline,
            self.delack_deadline,
            self.persist_deadline,
            self.keepalive_deadline,
            self.time_wait_deadline,
            self.fin_wait_2_deadline,
            self.recovery.deadline,
        ):
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    # ------------------------------------------------------------------ segment building

    def _segment(
        self,
        seq: Seq,
        flags: TcpFlags,
        payload: bytes | memoryview = b"",
        options: tuple[TcpOption, ...] = (),
    ) -> Segment:
        """A segment from this TCB with the current ACK and window fields; not a
        SYN, it carries the negotiated options (timestamps, SACK blocks)."""
        pointer = 0
        if int(flags) & _SYN:
            # Never scaled (RFC 7323 2.2), so not rounded to the shift either.
            if self.config.linux_receive_window:
                window = min(rcvwindow.initial_window(self), 0xFFFF)
            else:
                window = min(self.receive_buffer.free, 0xFFFF)
        else:
            if self.snd_up is not None:
                flags, pointer = urgent_field(self, seq, flags)
            if self.ece_pending and int(flags) & _ACK:
                flags = flags | FLAG_ECE  # RFC 3168 6.1.3: echo until CWR
            window = min(self._window_to_advertise() >> self.rcv_wscale, 0xFFFF)
            if self.ts_ok or self.sack_ok:
                options = own_segment_options(self, flags)
        return Segment(
            self.local_port,
            self.remote_port,
            int(seq),
            int(self.rcv_nxt) if int(flags) & _ACK else 0,
            flags,
            window,
            pointer,
            options,
            payload,
        )

    @property
    def urgent_pending(self) -> int:
        """Octets of the peer's urgent data not yet read (MUST-33)."""
        return pending_urgent(self)

    def _syn_options(self) -> tuple[TcpOption, ...]:
        """Our SYN's or SYN,ACK's options (``options.own_syn_options``)."""
        return own_syn_options(self)

    def ts_value(self, now: int) -> int:
        """Our TSval at ``now`` (RFC 7323 5.4): ``now // timestamp_tick + ts_offset`` mod 2**32."""
        return timestamp_value(now, self.config.timestamp_tick, self.ts_offset)

    def _window_to_advertise(self, *, effects: bool = True) -> int:
        """RCV.WND with receiver SWS avoidance (MUST-39, 3.8.6.2.2): the right edge
        only moves on by at least min(RCV.BUFF/2, MSS), and never moves left
        (SHLD-14).  It may stay closed as long as the application does not read
        (MAY-8).  Linux's arithmetic (``rcvwindow``) when configured."""
        if self.config.linux_receive_window:
            return rcvwindow.window_for_segment(self, effects=effects)
        return rcvwindow.rfc_window(self)

    def _ack_sent(self, segment: Segment) -> None:
        """Bookkeeping after any segment carrying an ACK left (3.8.6.3).  ACKs are
        aggregated: arrivals only set ``ack_now``, and one ACK leaves per flush
        after all queued segments were processed (MUST-58, MUST-59)."""
        self.ack_now = False
        self._unacked_bytes = 0
        self.delack_deadline = None
        self.last_ack_sent = Seq(segment.ack)  # RFC 7323 4.3
        shift = 0 if int(segment.flags) & _SYN else self.rcv_wscale
        edge = self.rcv_nxt + (segment.window << shift)
        self.rcv_wup = self.rcv_nxt
        if self.config.linux_receive_window:
            # tcp_select_window: rcv_wup and rcv_wnd as sent; only a window closed
            # for want of memory moves the right edge back (ICSK_ACK_NOMEM).
            self.rwin.nomem = False
            self.rcv_adv = edge
        elif edge > self.rcv_adv:
            self.rcv_adv = edge

    # ------------------------------------------------------------------ transmission

    def _transmit(self, now: int, *, timeout: bool = False) -> None:
        """One transmission burst (``output.transmit``); ``timeout``: going back
        after a retransmission timeout."""
        output.transmit(self, now, timeout=timeout)

    def send_room(self) -> int:
        """Octets the windows let out now: the peer's window beyond SND.NXT, and
        cwnd less what is in flight -- Linux's tcp_packets_in_flight() (SACKed
        and lost segments do not count, retransmissions do), which gives RFC
        3042 limited transmit; RFC 5681's SND.NXT - SND.UNA without
        ``linux_recovery``."""
        sent = self.snd_nxt - self.snd_una
        return min(self.snd_wnd - sent, self.cc.cwnd - self.bytes_in_flight())

    def bytes_in_flight(self) -> int:
        """Octets that count against the congestion window: with
        ``linux_recovery`` the scoreboard's (SACKed and lost segments out,
        retransmissions in), else SND.NXT - SND.UNA (RFC 5681)."""
        if self.config.linux_recovery:
            return self.recovery.flight_bytes(self)
        return self.snd_nxt - self.snd_una

    def packets_out(self) -> int:
        """Segments sent and not yet acknowledged (Linux's packets_out, tcpi_unacked):
        the scoreboard's count, else the octets outstanding in MSS."""
        if self.config.linux_recovery and self.state.synchronized:
            return self.recovery.packets_out
        mss = max(self.send_mss, 1)
        return (self.snd_max - self.snd_una + mss - 1) // mss

    @property
    def wscale_ok(self) -> bool:
        """Window scaling is in use: both SYNs carried the option (RFC 7323 2.2)."""
        return self._offered_wscale

    def packets_in_flight(self) -> int:
        """Linux's tcp_packets_in_flight(): the scoreboard's packet count, or the
        octets in flight counted in MSS after a go-back or without it."""
        if self.config.linux_recovery and self.snd_nxt == self.snd_max:
            return self.recovery.in_flight()
        mss = self.send_mss
        return (self.bytes_in_flight() + mss - 1) // mss

    def _nonagle(self) -> int:
        """Linux's tp->nonagle: TCP_CORK holds partial segments, TCP_NODELAY turns Nagle off."""
        return (segmentation.NAGLE_CORK if self.cork else 0) | (
            0 if self.nagle else segmentation.NAGLE_OFF
        )

    def stream_writable(self) -> bool:
        """Whether a writer blocked on a full send buffer may go on: any free room,
        or with ``linux_send_buffer`` free space of at least half what is queued
        (Linux's sk_stream_write_space)."""
        if self.config.linux_send_buffer and self.config.tso_packets:
            return segmentation.stream_writable(self)
        return self.send_buffer.free > 0

    def _small_in_flight(self) -> bool:
        small = self._small_end
        return small is not None and small > self.snd_una

    def _emit(self, segment: Segment, now: int, *, first: bool) -> None:
        """Queue a sequence-consuming segment and arm the retransmission timer (RFC 6298 5.1).
        ``first`` is False for a retransmission, which is never timed (Karn, MUST-18)."""
        if segment.payload:
            self.last_data_sent = now
        if first:
            if self.send_cwr and segment.payload:
                segment.flags = segment.flags | FLAG_CWR  # RFC 3168 6.1.2
                self.send_cwr = False
            if self._rtt_seq is None:
                self._rtt_seq = Seq(segment.seq) + segment.seg_len
                self._rtt_time = now
            self.bump("segments_sent")
        else:
            self.bump("retransmitted_segments")
        self._out.append((segment, not first))
        self.ack_now = False
        self.persist_deadline = None
        self.probes_started = None
        if self.rtx_deadline is None:
            self.rtx_deadline = now + self.rtt.rto
        if self.config.linux_recovery:
            self.recovery.on_emit(self, segment, now, first)

    def _maybe_arm_persist(self, now: int) -> None:
        """Zero window or a window too small to use, and no retransmission timer
        that will wake us (nothing in flight, or the window shrank to zero under
        data in flight): probe it later (MUST-35, MUST-36, SHLD-29)."""
        if self.rtx_deadline is None and self.persist_deadline is None:
            delay = min(self.rtt.rto << self._persist_backoff, self.config.max_rto)
            self.persist_deadline = now + delay

    # ------------------------------------------------------------------ timers

    def arm_keepalive(self, now: int) -> None:
        """(Re)start the idle timer after traffic from the peer (MUST-26)."""
        self._keepalive_probes = 0
        if self.config.keepalive and self.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            self.keepalive_deadline = now + self.config.keepalive_idle

    def _arm_fin_wait_2(self, now: int) -> None:
        """An orphaned FIN-WAIT-2 connection gives up after tcp_fin_timeout, as Linux."""
        if self.user_closed and self.state is State.FIN_WAIT_2:
            self.fin_wait_2_deadline = now + self.config.fin_wait_2_timeout

    def start_time_wait(self, now: int) -> None:
        """(Re)start the 2*MSL timer (MUST-13) and stop the others."""
        self.rtx_deadline = self.persist_deadline = self.keepalive_deadline = None
        self.fin_wait_2_deadline = None
        self.recovery.stop_timers()
        self.time_wait_deadline = now + self.config.time_wait

    # ------------------------------------------------------------------ state

    def _set_state(self, new: State, cause: str, now: int) -> None:
        """The one way to change state: checked against TRANSITIONS and traced."""
        old = self.state
        if old is new:
            return
        if (old, new) not in TRANSITIONS and not (
            # LISTEN -> ESTABLISHED: the two-way handshake teaching variant only
            self.config.teaching_two_way_handshake and (old, new) in TEACHING_TRANSITIONS
        ):
            raise IllegalTransition(f"{old} -> {new} ({cause})")
        self.state = new
        if self._trace is not None:
            self._trace(StateChanged(now, self.four_tuple, old, new, cause))
        if new is State.ESTABLISHED:
            self.arm_keepalive(now)
            if old in (State.SYN_SENT, State.SYN_RECEIVED, State.LISTEN):  # LISTEN: teaching
                self._events.append(Established())
                if self.config.linux_receive_window:
                    rcvwindow.init_buffer_space(self)
            if self.fin_queued:  # CLOSE in SYN-RECEIVED is served now (3.10.4)
                self._set_state(State.FIN_WAIT_1, "CLOSE (queued)", now)
        elif new is State.FIN_WAIT_2:
            self._arm_fin_wait_2(now)
        elif new is State.TIME_WAIT:
            self.start_time_wait(now)

    def _enter_closed(self, cause: str, now: int, *, quiet: bool = False) -> None:
        """Delete the TCB: stop every timer, drop the queues, announce Closed."""
        if self.state is not State.CLOSED and self.state is not State.LISTEN:
            self._set_state(State.CLOSED, cause, now)
        elif self.state is State.LISTEN and not quiet:
            self._set_state(State.CLOSED, cause, now)  # CLOSE or ABORT in LISTEN (3.10.4)
        elif self.state is State.LISTEN:
            self.state = State.CLOSED  # a passive child going back to its listener
        self.rtx_deadline = self.delack_deadline = self.persist_deadline = None
        self.keepalive_deadline = self.time_wait_deadline = self.fin_wait_2_deadline = None
        self.recovery.stop_timers()
        self.ack_now = False
        if not quiet:
            self._events.append(Closed())
        self._wake()

    def on_reset(self, now: int, code: int, cause: str) -> None:
        """The peer reset the connection (3.10.7.4 second step).  The application
        learns of it through a Reset event and the error its next call raises
        (MUST-12, MUST-47)."""
        if code and not self.user_closed:
            self.error = os_error(code)
            self._events.append(Reset(self.error))
        elif code and self.state is not State.TIME_WAIT:
            self.error = os_error(code)
        self.send_buffer.consume(len(self.send_buffer))
        self._enter_closed(cause, now)

    # ------------------------------------------------------------------ helpers for arrival

    def icmp_error(self, message: IcmpMessage, now: int) -> None:
        """An ICMP error quoting one of our segments (MUST-54; ``icmp.icmp_error``)."""
        self._last_now = now
        icmp.icmp_error(self, message, now)
        self._wake()

    def set_send_mss(self, path_mss: int) -> None:
        """A smaller path MTU: segments from now on are at most ``path_mss``
        octets of TCP header options and data (the options take their room)."""
        mss = path_mss - (12 if self.ts_ok else 0)
        if 0 < mss < self.send_mss:
            self.send_mss = mss
            self.cc.mss = mss

    def resend_in_flight(self, now: int) -> None:
        """Send what is in flight again from SND.UNA, without treating it as
        congestion (after a path MTU reduction; Linux's tcp_simple_retransmit)."""
        self._rtt_seq = None  # Karn (MUST-18)
        self.snd_nxt = self.snd_una
        if self.config.linux_recovery:
            self.recovery.mark_all_lost(self)
        self._transmit(now, timeout=True)
        if self.snd_max != self.snd_una:
            self.rtx_deadline = now + self.rtt.rto

    @property
    def persist_backoff(self) -> int:
        """How often the zero-window probe interval has doubled (Linux's probe backoff)."""
        return self._persist_backoff

    @property
    def fin_acked(self) -> bool:
        """Our FIN has been sent and acknowledged."""
        return self.fin_seq is not None and self.snd_una > self.fin_seq

    def deliver_events_for_data(self) -> None:
        if not self._readable_signalled and len(self.receive_buffer) > 0:
            self._readable_signalled = True
            self._events.append(Readable())

    def peer_finished(self) -> None:
        self._events.append(PeerFinished())

    def maybe_writable(self) -> None:
        if self._writable_wanted and self.stream_writable():
            self._writable_wanted = False
            self._events.append(Writable())

    def drop(self, segment: Segment | None, reason: DropReason, now: int, detail: str = "") -> None:
        """Count and trace a dropped segment."""
        self.bump(reason.name)
        if self._trace is not None:
            self._trace(SegmentDropped(now, self.four_tuple, segment, reason, detail))

    def send_control(self, segment: Segment) -> None:
        """Queue a control segment (RST or ACK) built by the arrival code."""
        self._out.append((segment, False))

    def _timer_fired(self, now: int, name: str) -> None:
        if self._trace is not None:
            self._trace(TimerFired(now, self.four_tuple, name))

    def _user_call(self, now: int, call: str) -> None:
        if self._trace is not None:
            self._trace(UserCall(now, self.four_tuple, call))

    def _raise_pending_error(self) -> None:
        if self.error is not None:
            if not self._reported_error:
                self._reported_error = True
                raise self.error
            raise os_error(errno.EPIPE)

    def bump(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    def set_cork(self, cork: bool) -> None:
        """TCP_CORK: while set, only full-sized segments are sent; clearing it
        pushes what was held."""
        self.cork = cork
        self._wake()

    def error_reported(self) -> None:
        """The pending error was read another way (SO_ERROR): calls no longer raise it."""
        self._reported_error = True

    def wake(self) -> None:
        """Ask the driver to flush this connection (after option changes).  Keep-alive
        turned on by a new ``config`` starts its idle timer now (MUST-24)."""
        if self.config.keepalive and self.keepalive_deadline is None:
            self.arm_keepalive(self._last_now)
        self._wake()

    def _wake(self) -> None:
        if self._notify is not None:
            self._notify(self)
