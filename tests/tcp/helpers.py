"""Per-state test harness (in the style of smoltcp's socket tests).

Build a connection in a state through public calls only, deliver a segment
with ``recv_seg``, then ``expect`` exactly the segments that come out and
``expect_nothing`` after them.  Times are integers, so deadlines are exact.

Conventions: the connection under test is "local" (port 80 for passive,
49152 for active opens); its ISS is ``LOCAL_ISS`` and the peer's is
``REMOTE_ISS``.  Both default to values just below 2**32 so that sequence
numbers wrap during the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from ipaddress import IPv4Address

from synack.tcp import rcvwindow
from synack.tcp.config import TcpConfig
from synack.tcp.connection import SHUT_WR, Connection
from synack.tcp.events import Event
from synack.tcp.options import syn_options
from synack.tcp.seq import Seq
from synack.tcp.state import State
from synack.trace.records import Record, StateChanged
from synack.wire.tcp import MaxSegmentSize, Segment, TcpFlags, TcpOption, Timestamps

LOCAL_ADDR = IPv4Address("192.0.2.1")
REMOTE_ADDR = IPv4Address("198.51.100.7")
ACTIVE_PORT = 49152
PASSIVE_PORT = 80
LOCAL_ISS = Seq(2**32 - 100)
REMOTE_ISS = Seq(2**32 - 3)
T0 = 1_000_000  # the time at which every test connection starts
REMOTE_WINDOW = 64240
REMOTE_MSS = 1460

# A small, exact configuration: no window scaling so window fields are plain
# byte counts; quick ACKs off so the delayed-ACK rules show from the start;
# no SACK or timestamps, so segments carry no options after the SYNs; with
# scaling turned on, the shift follows the receive buffer alone (ilog2 - 15).
CONFIG = TcpConfig(
    window_scaling=False,
    quick_acks=0,
    delay_fin_ack=False,
    linux_rto=False,
    receive_buffer=65535,
    send_buffer=65535,
    sack=False,
    timestamps=False,
    window_scale_space=0,
    linux_recovery=False,  # RFC 5681/6582 NewReno, cwnd against SND.NXT - SND.UNA
    congestion_control="reno",  # RFC 5681 congestion avoidance, not CUBIC
    tso_packets=False,
    linux_send_buffer=False,
    slow_start_after_idle=False,
    linux_receive_window=False,
    dsack=False,
    accept_fin_at_zero_window=False,
)

F = TcpFlags
SYN, ACK, FIN, RST, PSH = F.SYN, F.ACK, F.FIN, F.RST, F.PSH


def seg(
    flags: TcpFlags,
    seq: int,
    ack: int = 0,
    *,
    window: int = REMOTE_WINDOW,
    payload: bytes = b"",
    options: Iterable[TcpOption] = (),
    src_port: int | None = None,
    dst_port: int | None = None,
    active: bool = True,
) -> Segment:
    """A segment from the remote peer to the connection under test."""
    local_port = ACTIVE_PORT if active else PASSIVE_PORT
    remote_port = PASSIVE_PORT if active else ACTIVE_PORT
    return Segment(
        remote_port if src_port is None else src_port,
        local_port if dst_port is None else dst_port,
        int(Seq(seq)),
        int(Seq(ack)),
        flags,
        window,
        0,
        tuple(options),
        payload,
    )


def out(
    flags: TcpFlags,
    seq: int,
    ack: int = 0,
    *,
    window: int,
    payload: bytes = b"",
    options: Iterable[TcpOption] = (),
    active: bool = True,
) -> Segment:
    """A segment the connection under test is expected to send."""
    local_port = ACTIVE_PORT if active else PASSIVE_PORT
    remote_port = PASSIVE_PORT if active else ACTIVE_PORT
    return Segment(
        local_port,
        remote_port,
        int(Seq(seq)),
        int(Seq(ack)),
        flags,
        window,
        0,
        tuple(options),
        payload,
    )


def normalise(segment: Segment) -> Segment:
    """Payload as bytes so that segments compare by value."""
    return replace(segment, payload=bytes(segment.payload))


class Harness:
    """One connection under test plus a clock.

    ``records`` is the connection's trace when the builder attached one
    (every builder here does): see ``transitions()``.
    """

    def __init__(
        self,
        conn: Connection,
        now: int = T0,
        active: bool = True,
        records: list[Record] | None = None,
    ) -> None:
        self.conn = conn
        self.now = now
        self.active = active
        self.records: list[Record] = [] if records is None else records

    # -- driving
    def recv_seg(self, segment: Segment) -> None:
        self.conn.receive(segment, self.now)

    def advance(self, to: int) -> None:
        """Move the clock to ``to`` and fire due timers."""
        assert to >= self.now
        self.now = to
        deadline = self.conn.next_deadline()
        if deadline is not None and deadline <= to:
            self.conn.on_timer(to)

    def take(self) -> list[Segment]:
        return [normalise(s) for s in self.conn.segments_to_send(self.now)]

    def expect(self, *expected: Segment) -> None:
        got = self.take()
        want = [normalise(s) for s in expected]
        assert got == want, f"\n got: {got}\nwant: {want}"

    def expect_nothing(self) -> None:
        got = self.take()
        assert got == [], f"expected no segments, got {got}"

    def events(self) -> list[Event]:
        result = []
        while (event := self.conn.next_event()) is not None:
            result.append(event)
        return result

    def event_types(self) -> list[type[Event]]:
        """The pending events' classes, in order (taking them)."""
        return [type(event) for event in self.events()]

    def transitions(self) -> list[tuple[State, State]]:
        """Every ``(old, new)`` state change traced so far, in order."""
        return [(r.old, r.new) for r in self.records if isinstance(r, StateChanged)]

    @property
    def state(self) -> State:
        return self.conn.state

    @property
    def deadline(self) -> int | None:
        return self.conn.next_deadline()

    # -- shorthands for segments from the peer, relative to the ISSs
    def peer(self, flags: TcpFlags, rel_seq: int, rel_ack: int = 0, **kw: object) -> Segment:
        return seg(
            flags,
            REMOTE_ISS + rel_seq,
            LOCAL_ISS + rel_ack,
            active=self.active,
            **kw,  # type: ignore[arg-type]
        )

    def mine(self, flags: TcpFlags, rel_seq: int, rel_ack: int = 0, **kw: object) -> Segment:
        # An idle connection's window field: the whole buffer, scaled except on SYNs
        # (RFC 7323 2.2), and clipped to 16 bits.
        shift = 0 if flags & SYN else self.conn.rcv_wscale
        if "window" not in kw and self.conn.config.linux_receive_window:
            # Linux's window (rcvwindow.py; its values are pinned in test_rcvwindow.py).
            if flags & SYN:
                kw["window"] = min(rcvwindow.initial_window(self.conn), 0xFFFF)
            else:
                kw["window"] = rcvwindow.window_for_segment(self.conn, effects=False) >> shift
        kw.setdefault("window", min(self.conn.config.receive_buffer >> shift, 0xFFFF))
        return out(
            flags,
            LOCAL_ISS + rel_seq,
            REMOTE_ISS + rel_ack if flags & ACK else 0,
            active=self.active,
            **kw,  # type: ignore[arg-type]
        )


def new_connection(
    active: bool = True,
    config: TcpConfig = CONFIG,
    iss: int = LOCAL_ISS,
    trace: Callable[[Record], None] | None = None,
) -> Connection:
    local = (LOCAL_ADDR, ACTIVE_PORT if active else PASSIVE_PORT)
    remote = (REMOTE_ADDR, PASSIVE_PORT if active else ACTIVE_PORT)
    return Connection(local, remote, config=config, iss=iss, trace=trace)


def new_harness(active: bool = True, config: TcpConfig = CONFIG) -> Harness:
    """A CLOSED connection with its trace recorded in ``Harness.records``."""
    records: list[Record] = []
    conn = new_connection(active, config, trace=records.append)
    return Harness(conn, active=active, records=records)


SYN_OPTIONS = (MaxSegmentSize(1460),)
PEER_SYN_OPTIONS = (MaxSegmentSize(REMOTE_MSS),)


# ---------------------------------------------------------------- builders


def syn_sent(config: TcpConfig = CONFIG) -> Harness:
    h = new_harness(True, config)
    h.conn.connect(h.now)
    h.expect(
        h.mine(
            SYN,
            0,
            # A SYN's window is never scaled (Linux: tcp_select_initial_window).
            window=min(rcvwindow.initial_window(h.conn), 0xFFFF)
            if config.linux_receive_window
            else min(config.receive_buffer, 0xFFFF),
            # Linux's layout of what the configuration offers (TSecr 0 on a SYN).
            options=syn_options(
                h.conn.mss_advertised,
                sack=config.sack,
                timestamps=Timestamps(h.conn.ts_value(h.now), 0) if config.timestamps else None,
                wscale=h.conn.rcv_wscale if config.window_scaling else None,
            ),
        )
    )
    assert h.conn.state is State.SYN_SENT
    return h


def established(config: TcpConfig = CONFIG) -> Harness:
    """Active open completed: local sent SYN, got SYN,ACK, sent ACK."""
    h = syn_sent(config)
    h.now += 10_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=PEER_SYN_OPTIONS))
    h.expect(h.mine(ACK, 1, 1))
    assert h.conn.state is State.ESTABLISHED
    h.events()
    return h


def listen(config: TcpConfig = CONFIG) -> Harness:
    h = new_harness(False, config)
    h.conn.listen()
    assert h.conn.state is State.LISTEN
    return h


def syn_received(config: TcpConfig = CONFIG) -> Harness:
    """Passive open: SYN arrived, SYN,ACK sent."""
    h = listen(config)
    h.recv_seg(h.peer(SYN, 0, options=PEER_SYN_OPTIONS))
    h.expect(
        h.mine(
            SYN | ACK,
            0,
            1,
            window=min(config.receive_buffer, 0xFFFF),
            options=(MaxSegmentSize(h.conn.mss_advertised),),
        )
    )
    assert h.conn.state is State.SYN_RECEIVED
    return h


def passive_established(config: TcpConfig = CONFIG) -> Harness:
    h = syn_received(config)
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1))
    h.expect_nothing()
    assert h.conn.state is State.ESTABLISHED
    h.events()
    return h


def fin_wait_1(config: TcpConfig = CONFIG, *, half_close: bool = False) -> Harness:
    """ESTABLISHED, then close() (or shutdown(SHUT_WR) with ``half_close``): FIN sent."""
    h = established(config)
    if half_close:
        h.conn.shutdown(SHUT_WR, h.now)
    else:
        h.conn.close(h.now)
    assert h.conn.state is State.FIN_WAIT_1
    h.expect(h.mine(FIN | ACK, 1, 1))
    return h


def fin_wait_2(config: TcpConfig = CONFIG, *, half_close: bool = False) -> Harness:
    h = fin_wait_1(config, half_close=half_close)
    h.recv_seg(h.peer(ACK, 1, 2))
    h.expect_nothing()
    assert h.conn.state is State.FIN_WAIT_2
    return h


def close_wait(config: TcpConfig = CONFIG) -> Harness:
    h = established(config)
    h.recv_seg(h.peer(FIN | ACK, 1, 1))
    h.expect(h.mine(ACK, 1, 2))
    assert h.conn.state is State.CLOSE_WAIT
    h.events()
    return h


def last_ack(config: TcpConfig = CONFIG) -> Harness:
    h = close_wait(config)
    h.conn.close(h.now)
    assert h.conn.state is State.LAST_ACK
    h.expect(h.mine(FIN | ACK, 1, 2))
    return h


def closing(config: TcpConfig = CONFIG) -> Harness:
    h = fin_wait_1(config)
    h.recv_seg(h.peer(FIN | ACK, 1, 1))  # the peer's FIN crosses ours
    h.expect(h.mine(ACK, 2, 2))
    assert h.conn.state is State.CLOSING
    return h


def time_wait(config: TcpConfig = CONFIG) -> Harness:
    h = fin_wait_2(config)
    h.recv_seg(h.peer(FIN | ACK, 1, 2))
    h.expect(h.mine(ACK, 2, 2))
    assert h.conn.state is State.TIME_WAIT
    return h
