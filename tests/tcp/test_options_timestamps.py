"""SYN option layouts as Linux writes them, window scale choice, and RFC 7323
timestamps: the TSval clock, TSecr echo, TS.Recent, PAWS and the MSS they cost.

The layouts are those the packetdrill scripts expect, for example
``<mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 8>`` on an active SYN and
``<mss 1460,nop,nop,sackOK,nop,wscale 8>`` answering a SYN without timestamps.
With a fixed ISS (as the harness uses) the timestamp offset is 0, so TSval is
simply ``now // 1000`` (Linux's 1 ms tick).
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

import pytest
from helpers import (
    ACK,
    CONFIG,
    FIN,
    LOCAL_ADDR,
    PSH,
    REMOTE_ADDR,
    RST,
    SYN,
    Harness,
    listen,
    new_harness,
)

from synack.tcp.config import MS, SECOND, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.isn import IsnGenerator
from synack.tcp.options import PAWS_IDLE_LIMIT, timestamp_older, window_shift
from synack.tcp.stack import Stack
from synack.tcp.state import State
from synack.trace.records import DropReason, SegmentDropped
from synack.wire.ip import encode_packet, parse_packet
from synack.wire.tcp import (
    MaxSegmentSize,
    NoOperation,
    SackPermitted,
    Segment,
    TcpOption,
    Timestamps,
    WindowScale,
)

NOP = NoOperation()
SACK_OK = SackPermitted()
MSS = MaxSegmentSize(1460)
TS_CONFIG = replace(CONFIG, timestamps=True)
PEER_TSVAL = 5_000_000


def ts(val: int, ecr: int) -> Timestamps:
    return Timestamps(val, ecr)


def nop_nop_ts(val: int, ecr: int) -> tuple[TcpOption, ...]:
    return (NOP, NOP, Timestamps(val, ecr))


def tsval(h: Harness) -> int:
    """Our TSval now: 1 ms ticks, offset 0."""
    return h.now // 1000


# ---------------------------------------------------------------- SYN layouts (active open)


@pytest.mark.parametrize(
    ("sack", "timestamps", "wscale", "layout"),
    [
        # <mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7>
        (True, True, True, (MSS, SACK_OK, ts(1000, 0), NOP, WindowScale(7))),
        # <mss 1460,nop,nop,TS val 1000 ecr 0,nop,wscale 7>
        (False, True, True, (MSS, NOP, NOP, ts(1000, 0), NOP, WindowScale(7))),
        # <mss 1460,nop,nop,sackOK,nop,wscale 7>
        (True, False, True, (MSS, NOP, NOP, SACK_OK, NOP, WindowScale(7))),
        # <mss 1460,nop,wscale 7>
        (False, False, True, (MSS, NOP, WindowScale(7))),
        # <mss 1460,sackOK,TS val 1000 ecr 0>
        (True, True, False, (MSS, SACK_OK, ts(1000, 0))),
        # <mss 1460,nop,nop,TS val 1000 ecr 0>
        (False, True, False, (MSS, NOP, NOP, ts(1000, 0))),
        # <mss 1460,nop,nop,sackOK>
        (True, False, False, (MSS, NOP, NOP, SACK_OK)),
        # <mss 1460>
        (False, False, False, (MSS,)),
    ],
)
def test_syn_offers_what_the_configuration_allows_in_linux_layout(
    sack: bool, timestamps: bool, wscale: bool, layout: tuple[TcpOption, ...]
) -> None:
    """RFC 2018 2, RFC 7323 2.2 and 3.2 (TSecr 0 on a SYN); MSS always (MUST-14, MAY-3)."""
    config = TcpConfig(sack=sack, timestamps=timestamps, window_scaling=wscale)
    h = new_harness(True, config)
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.flags == SYN
    assert syn.options == layout
    # Every layout is a whole number of 32-bit words: no padding needed (MUST-69).
    assert len(encode_packet_options(syn)) % 4 == 0


def encode_packet_options(segment: Segment) -> bytes:
    """The option bytes of ``segment`` as the codec writes them."""
    from synack.wire.ip import Packet

    raw = encode_packet(Packet(LOCAL_ADDR, REMOTE_ADDR, segment))
    parsed = parse_packet(raw)
    assert parsed.segment.options == segment.options  # and it round-trips
    data_offset = (raw[20 + 12] >> 4) * 4
    return raw[20 + 20 : 20 + data_offset]


def test_full_syn_option_block_is_twenty_octets() -> None:
    """``mss,sackOK,TS,nop,wscale`` = 4 + 2 + 10 + 1 + 3 = 20 octets, Linux's SYN."""
    h = new_harness(True, TcpConfig())
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert encode_packet_options(syn) == (
        bytes([2, 4, 0x05, 0xB4, 4, 2, 8, 10])
        + (1000).to_bytes(4, "big")
        + bytes(4)
        + bytes([1, 3, 3, 7])
    )


# ---------------------------------------------------------------- SYN,ACK layouts (passive open)

PEER_TS = ts(100, 0)


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        # < S <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 8>
        (
            (MaxSegmentSize(1000), SACK_OK, PEER_TS, NOP, WindowScale(8)),
            (MSS, SACK_OK, ts(1000, 100), NOP, WindowScale(7)),
        ),
        # < S <mss 1000,sackOK,nop,nop,nop,wscale 8>  ->  <mss 1460,nop,nop,sackOK,nop,wscale 7>
        (
            (MaxSegmentSize(1000), SACK_OK, NOP, NOP, NOP, WindowScale(8)),
            (MSS, NOP, NOP, SACK_OK, NOP, WindowScale(7)),
        ),
        # < S <mss 1000,sackOK,TS val 100 ecr 0>  ->  <mss 1460,sackOK,TS val .. ecr 100>
        (
            (MaxSegmentSize(1000), SACK_OK, PEER_TS),
            (MSS, SACK_OK, ts(1000, 100)),
        ),
        # < S <mss 1000,nop,nop,TS val 100 ecr 0,nop,wscale 2>
        (
            (MaxSegmentSize(1000), NOP, NOP, PEER_TS, NOP, WindowScale(2)),
            (MSS, NOP, NOP, ts(1000, 100), NOP, WindowScale(7)),
        ),
        # < S <mss 1100,nop,wscale 8>  ->  <mss 1460,nop,wscale 7>
        ((MaxSegmentSize(1100), NOP, WindowScale(8)), (MSS, NOP, WindowScale(7))),
        # < S <mss 1000,sackOK>  ->  <mss 1460,nop,nop,sackOK>
        ((MaxSegmentSize(1000), SACK_OK), (MSS, NOP, NOP, SACK_OK)),
        # < S <mss 1000>  ->  <mss 1460>
        ((MaxSegmentSize(1000),), (MSS,)),
        # < S (no options at all)  ->  <mss 1460>
        ((), (MSS,)),
    ],
)
def test_syn_ack_answers_only_what_the_syn_offered(
    offer: tuple[TcpOption, ...], answer: tuple[TcpOption, ...]
) -> None:
    """RFC 2018 2 (SACK-permitted only if the SYN had it), RFC 7323 3.2 (TS only
    if the SYN had it, TSecr = its TSval) and 2.2 (wscale only if the SYN had it)."""
    h = listen(TcpConfig())
    h.recv_seg(h.peer(SYN, 0, options=offer))
    (syn_ack,) = h.take()
    assert syn_ack.flags == SYN | ACK
    assert syn_ack.options == answer
    c = h.conn
    assert c.sack_ok == (SACK_OK in offer)
    assert c.ts_ok == (PEER_TS in offer)
    assert (c.snd_wscale, c.rcv_wscale) == (
        next(((o.shift, 7) for o in offer if isinstance(o, WindowScale)), (0, 0))
    )


@pytest.mark.parametrize(
    ("changes", "answer"),
    [
        ({"sack": False}, (MSS, NOP, NOP, ts(1000, 100), NOP, WindowScale(7))),
        ({"timestamps": False}, (MSS, NOP, NOP, SACK_OK, NOP, WindowScale(7))),
        ({"window_scaling": False}, (MSS, SACK_OK, ts(1000, 100))),
        ({"sack": False, "timestamps": False, "window_scaling": False}, (MSS,)),
    ],
)
def test_syn_ack_answers_only_what_the_configuration_allows(
    changes: dict[str, bool], answer: tuple[TcpOption, ...]
) -> None:
    """net.ipv4.tcp_sack / tcp_timestamps / tcp_window_scaling = 0: not answered."""
    h = listen(replace(TcpConfig(), **changes))  # type: ignore[arg-type]
    h.recv_seg(
        h.peer(SYN, 0, options=(MaxSegmentSize(1000), SACK_OK, PEER_TS, NOP, WindowScale(8)))
    )
    (syn_ack,) = h.take()
    assert syn_ack.options == answer
    assert h.conn.sack_ok == changes.get("sack", True)
    assert h.conn.ts_ok == changes.get("timestamps", True)


def test_retransmitted_syn_ack_carries_a_fresh_tsval() -> None:
    h = listen(TcpConfig())
    h.recv_seg(h.peer(SYN, 0, options=(MaxSegmentSize(1000), SACK_OK, PEER_TS)))
    (first,) = h.take()
    assert first.options[2] == ts(1000, 100)
    h.advance(h.deadline or 0)
    (again,) = h.take()
    assert again.options == (MSS, SACK_OK, ts(h.now // 1000, 100))


# ---------------------------------------------------------------- window scale choice


@pytest.mark.parametrize(
    ("space", "buffer", "shift"),
    [
        (6 * 1024 * 1024, 256 * 1024, 7),  # Linux's default tcp_rmem[2]
        (15 * 1024 * 1024, 540_000, 8),  # the packetdrill defaults.sh tcp_rmem
        (0, 65535, 0),
        (0, 1 << 20, 5),
        (0, 256 * 1024, 3),
        (1 << 40, 0, 14),  # RFC 7323 2.3: never above 14
    ],
)
def test_window_scale_follows_linux_tcp_select_initial_window(
    space: int, buffer: int, shift: int
) -> None:
    """clamp(ilog2(max(tcp_rmem[2], SO_RCVBUF)) - 15, 0, 14)."""
    assert window_shift(space, buffer) == shift


def test_window_scale_space_15_mib_offers_8() -> None:
    h = new_harness(True, TcpConfig(window_scale_space=15 * 1024 * 1024))
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.options[-1] == WindowScale(8)
    assert syn.window == 0xFFFF  # a SYN's window is never scaled (RFC 7323 2.2)


def test_default_window_scale_is_7() -> None:
    h = new_harness(True, TcpConfig())
    assert h.conn.rcv_wscale == 7
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.options[-1] == WindowScale(7)


def test_small_buffer_syn_window_is_not_rounded_to_the_shift() -> None:
    """The SYN's window field is unscaled, so all of a 65535-byte buffer shows."""
    h = new_harness(True, replace(CONFIG, window_scaling=True, window_scale_space=1 << 22))
    assert h.conn.rcv_wscale == 7
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.window == 65535


# ---------------------------------------------------------------- active open with timestamps


def ts_syn_sent(config: TcpConfig = TS_CONFIG) -> Harness:
    h = new_harness(True, config)
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.timestamps == ts(h.conn.ts_value(h.now), 0)
    return h


def ts_established(config: TcpConfig = TS_CONFIG, peer_mss: int = 1460) -> Harness:
    """Active open, both SYNs with timestamps; the peer's TSval starts at PEER_TSVAL."""
    h = ts_syn_sent(config)
    h.now += 10_000
    h.recv_seg(
        h.peer(
            SYN | ACK,
            0,
            1,
            options=(MaxSegmentSize(peer_mss), NOP, NOP, ts(PEER_TSVAL, 1000)),
        )
    )
    h.expect(h.mine(ACK, 1, 1, options=nop_nop_ts(h.conn.ts_value(h.now), PEER_TSVAL)))
    assert h.state is State.ESTABLISHED
    h.events()
    return h


def test_timestamps_negotiated_when_both_syns_carry_them() -> None:
    h = ts_established()
    c = h.conn
    assert c.ts_ok
    assert not c.sack_ok
    assert c.ts_recent == PEER_TSVAL
    status = c.status()
    assert status["ts_ok"] is True
    assert status["sack_ok"] is False
    assert status["ts_recent"] == PEER_TSVAL
    assert status["advmss"] == 1460
    assert status["send_mss"] == 1448


def test_no_timestamps_when_the_syn_ack_has_none() -> None:
    """RFC 7323 3.2: only if both SYNs carry TSopt; later segments carry no option
    (as tcp_basic_client.pkt: ``> . 1:1(0) ack 1`` with no options)."""
    h = ts_syn_sent()
    h.now += 10_000
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=(MaxSegmentSize(1460),)))
    h.expect(h.mine(ACK, 1, 1))
    assert not h.conn.ts_ok
    assert h.conn.send_mss == 1460
    h.conn.send(b"data")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"data"))


def test_tsval_is_the_millisecond_clock_and_ecr_echoes_ts_recent() -> None:
    """MAY-10: timestamp support.  RFC 7323 3.2 and 5.4: every segment carries
    TSval = now / 1 ms (+ offset) and TSecr = TS.Recent."""
    h = ts_established()
    h.now += 123_456
    h.conn.send(b"hello")
    h.expect(h.mine(ACK | PSH, 1, 1, payload=b"hello", options=nop_nop_ts(1133, PEER_TSVAL)))


def test_timestamp_tick_is_configurable() -> None:
    h = ts_established(replace(TS_CONFIG, timestamp_tick=10 * MS))
    h.now = 2_000_000
    h.conn.send(b"x")
    (data,) = h.take()
    assert data.timestamps == ts(200, PEER_TSVAL)


def test_injected_offset_is_added_and_wraps() -> None:
    local = (LOCAL_ADDR, 49152)
    remote = (REMOTE_ADDR, 80)
    conn = Connection(local, remote, config=TS_CONFIG, iss=1, ts_offset=2**32 - 500)
    assert conn.ts_value(1_000_000) == 500  # (1000 + 2**32 - 500) mod 2**32
    assert conn.ts_value(0) == 2**32 - 500


def test_offset_is_derived_per_connection_from_the_isn_hash() -> None:
    """RFC 7323 5.4 / 7.1: a per-connection random-looking offset (Linux randomises
    it); here a keyed hash, so deterministic for a given secret and 4-tuple."""
    generator = IsnGenerator(b"secret")

    def offset(port: int, secret: IsnGenerator = generator) -> int:
        conn = Connection((LOCAL_ADDR, port), (REMOTE_ADDR, 80), isn=secret.isn)
        return conn.ts_offset

    assert offset(40000) == offset(40000)
    assert offset(40000) != offset(40001)
    assert offset(40000) != offset(40000, IsnGenerator(b"other secret"))
    # Not simply the ISN hash itself.
    assert offset(40000) != int(generator.isn(LOCAL_ADDR, 40000, REMOTE_ADDR, 80, 0))


def test_stack_connections_get_their_own_offsets() -> None:
    stack = Stack([LOCAL_ADDR])
    one = stack.connect(LOCAL_ADDR, REMOTE_ADDR, 80, 0)
    two = stack.connect(LOCAL_ADDR, REMOTE_ADDR, 80, 0)
    assert one.ts_offset != two.ts_offset
    (syn, _) = (parse_packet(p).segment for p in stack.packets_to_send(0))
    assert syn.timestamps is not None
    assert syn.timestamps.tsval == one.ts_offset


def test_fin_carries_the_current_tsval() -> None:
    """tcp_ts_recent_fin_tsval.pkt: a FIN a second after the last segment carries
    TSval one second later and echoes the latest TS.Recent."""
    h = listen(TS_CONFIG)
    h.recv_seg(h.peer(SYN, 0, options=(MaxSegmentSize(1000), SACK_OK, ts(100, 0))))
    (syn_ack,) = h.take()
    assert syn_ack.options == (MSS, NOP, NOP, ts(1000, 100))  # TS_CONFIG has no SACK
    h.now += 100_000
    h.recv_seg(h.peer(ACK, 1, 1, options=nop_nop_ts(200, 1000)))
    assert h.state is State.ESTABLISHED
    assert h.conn.ts_recent == 200  # a pure ACK at the left edge updates it
    h.now += SECOND
    h.conn.close(h.now)
    h.expect(h.mine(FIN | ACK, 1, 1, options=nop_nop_ts(2100, 200)))


# ---------------------------------------------------------------- MSS less the timestamps


@pytest.mark.parametrize(("peer_mss", "segment"), [(1460, 1448), (1000, 988)])
def test_timestamps_take_12_octets_from_every_segment(peer_mss: int, segment: int) -> None:
    """MUST-16: the data per segment is the MSS less the option bytes each segment
    carries; Linux's mss_cache: 1460 - 12 = 1448."""
    h = ts_established(peer_mss=peer_mss)
    assert h.conn.send_mss == segment
    assert h.conn.cc.cwnd == 10 * segment  # IW10 in the reduced segments
    h.conn.send(bytes(3 * segment))
    sizes = [len(s.payload) for s in h.take()]
    assert sizes == [segment] * 3


def test_without_an_mss_option_timestamps_come_off_536() -> None:
    h = listen(TS_CONFIG)
    h.recv_seg(h.peer(SYN, 0, options=(ts(7, 0),)))
    assert h.conn.send_mss == 536 - 12


# ---------------------------------------------------------------- TS.Recent (RFC 7323 4.3)


def test_in_order_data_updates_ts_recent() -> None:
    h = ts_established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"abc", options=nop_nop_ts(PEER_TSVAL + 10, 1010)))
    assert h.conn.ts_recent == PEER_TSVAL + 10
    h.advance(h.now + 40_000)  # the delayed ACK echoes it
    (ack,) = h.take()
    assert ack.timestamps == ts(tsval(h), PEER_TSVAL + 10)


def test_out_of_order_data_does_not_update_ts_recent() -> None:
    """SEG.SEQ > Last.ACK.sent: the segment is beyond the left window edge, so its
    TSval is not recorded (RFC 7323 4.3); the ACK echoes the old TS.Recent."""
    h = ts_established()
    h.recv_seg(h.peer(ACK, 101, 1, payload=b"later", options=nop_nop_ts(PEER_TSVAL + 20, 1010)))
    assert h.conn.ts_recent == PEER_TSVAL
    (ack,) = h.take()
    assert ack.ack == int(h.conn.rcv_nxt)
    assert ack.timestamps == ts(tsval(h), PEER_TSVAL)
    # The segment that fills the hole starts at Last.ACK.sent: it is recorded.
    h.recv_seg(h.peer(ACK, 1, 1, payload=bytes(100), options=nop_nop_ts(PEER_TSVAL + 30, 1010)))
    assert h.conn.ts_recent == PEER_TSVAL + 30


def test_a_segment_starting_before_last_ack_sent_updates_ts_recent() -> None:
    """SEG.SEQ <= Last.ACK.sent: a retransmission overlapping the edge counts."""
    h = ts_established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"abcd", options=nop_nop_ts(PEER_TSVAL + 1, 1010)))
    h.take()
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"abcdefgh", options=nop_nop_ts(PEER_TSVAL + 2, 1010)))
    assert h.conn.ts_recent == PEER_TSVAL + 2


def test_an_equal_tsval_is_accepted() -> None:
    """PAWS rejects only SEG.TSval < TS.Recent; equal is fine (same clock tick)."""
    h = ts_established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"abc", options=nop_nop_ts(PEER_TSVAL, 1010)))
    assert h.conn.rcv_nxt == h.conn.irs + 4


def test_segment_without_timestamps_is_accepted_as_linux_does() -> None:
    """RFC 7323 3.2 says a non-RST segment without TSopt SHOULD be dropped; Linux
    accepts it, and so does synack (packetdrill scripts rely on that)."""
    h = ts_established()
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"plain"))
    assert h.conn.receive_buffer.peek(10) == b"plain"
    assert h.conn.ts_recent == PEER_TSVAL


# ---------------------------------------------------------------- PAWS (RFC 7323 5)


def drops(h: Harness, reason: DropReason) -> int:
    return sum(1 for r in h.records if isinstance(r, SegmentDropped) and r.reason is reason)


def test_paws_drops_an_old_tsval_and_acks() -> None:
    """RFC 7323 5.3 R1: SEG.TSval < TS.Recent: send an ACK and drop the segment."""
    h = ts_established()
    h.now += 5_000
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"old", options=nop_nop_ts(PEER_TSVAL - 1, 900)))
    h.expect(h.mine(ACK, 1, 1, options=nop_nop_ts(tsval(h), PEER_TSVAL)))
    assert len(h.conn.receive_buffer) == 0
    assert h.conn.rcv_nxt == h.conn.irs + 1
    assert h.conn.ts_recent == PEER_TSVAL
    assert drops(h, DropReason.PAWS) == 1
    assert h.conn.stats["PAWS"] == 1
    assert h.state is State.ESTABLISHED


def test_paws_compares_modulo_2_to_the_32() -> None:
    """TSvals wrap: 5 is newer than 2**32 - 5."""
    assert timestamp_older(2**32 - 5, 5)
    assert not timestamp_older(5, 2**32 - 5)
    assert not timestamp_older(7, 7)
    h = ts_established()
    h.conn.ts_recent = 2**32 - 5
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"wrapped", options=nop_nop_ts(5, 1010)))
    assert h.conn.receive_buffer.peek(10) == b"wrapped"
    assert h.conn.ts_recent == 5


def test_paws_does_not_apply_to_rst() -> None:
    """RFC 7323 5.3 R1 "and if the RST bit is not set": a RST is judged by its sequence number."""
    h = ts_established()
    h.recv_seg(h.peer(RST, 1, options=nop_nop_ts(PEER_TSVAL - 100, 0)))
    assert h.state is State.CLOSED


def test_paws_ack_is_not_sent_for_a_valid_segment_without_timestamps() -> None:
    h = ts_established()
    h.recv_seg(h.peer(ACK, 1, 1))  # pure ACK, no TS: nothing to answer
    h.expect_nothing()
    assert drops(h, DropReason.PAWS) == 0


def test_ts_recent_older_than_24_days_is_invalidated() -> None:
    """RFC 7323 5.5: after 24 days idle an older TSval is accepted and becomes TS.Recent."""
    h = ts_established()
    h.now += PAWS_IDLE_LIMIT
    h.recv_seg(h.peer(ACK, 1, 1, payload=b"back", options=nop_nop_ts(17, 1010)))
    assert h.conn.receive_buffer.peek(10) == b"back"
    assert h.conn.ts_recent == 17
    assert drops(h, DropReason.PAWS) == 0


def test_paws_in_time_wait_acks_and_keeps_the_timer() -> None:
    h = ts_established()
    h.conn.close(h.now)
    h.take()
    h.recv_seg(h.peer(FIN | ACK, 1, 2, options=nop_nop_ts(PEER_TSVAL + 1, 1010)))
    h.take()
    assert h.state is State.TIME_WAIT
    deadline = h.deadline
    h.now += 1_000
    h.recv_seg(h.peer(FIN | ACK, 1, 2, options=nop_nop_ts(PEER_TSVAL, 1010)))
    h.expect(h.mine(ACK, 2, 2, options=nop_nop_ts(tsval(h), PEER_TSVAL + 1)))
    assert h.deadline == deadline  # a PAWS reject does not restart 2*MSL
    assert drops(h, DropReason.PAWS) == 1


# ---------------------------------------------------------------- resets


def test_abort_rst_carries_timestamps() -> None:
    """RFC 7323 3.2: TSopt SHOULD be sent on a RST; Linux's active reset carries it."""
    h = ts_established()
    h.conn.abort(h.now)
    h.expect(h.mine(RST | ACK, 1, 1, options=nop_nop_ts(tsval(h), PEER_TSVAL)))


def test_rst_answering_a_bad_ack_has_no_options() -> None:
    """A RST in reply to an unacceptable segment (3.10.7.4) is built from that
    segment alone, as Linux's tcp_v4_send_reset: no timestamps."""
    h = listen(TS_CONFIG)
    h.recv_seg(h.peer(SYN, 0, options=(MaxSegmentSize(1000), ts(100, 0))))
    h.take()
    h.recv_seg(h.peer(ACK, 1, 1000, options=nop_nop_ts(101, 1000)))  # acks nothing we sent
    (rst,) = h.take()
    assert rst.flags == RST
    assert rst.options == ()


# ---------------------------------------------------------------- simultaneous open


def test_simultaneous_open_syn_ack_repeats_our_offer_and_echoes_the_peer() -> None:
    """RFC 9293 3.5 Figure 8 / MUST-10: the SYN,ACK is our SYN again, with ACK, so it
    carries our offer (as Linux resends its SYN); TSecr now echoes the peer's SYN."""
    h = new_harness(True, TcpConfig())
    h.conn.connect(h.now)
    (syn,) = h.take()
    assert syn.options == (MSS, SACK_OK, ts(1000, 0), NOP, WindowScale(7))
    h.now += 1_000
    h.recv_seg(h.peer(SYN, 0, options=(MaxSegmentSize(1400), NOP, NOP, ts(77, 0))))
    (syn_ack,) = h.take()
    assert syn_ack.flags == SYN | ACK
    assert syn_ack.options == (MSS, SACK_OK, ts(1001, 77), NOP, WindowScale(7))
    c = h.conn
    assert (c.ts_ok, c.sack_ok, c.snd_wscale, c.rcv_wscale) == (True, False, 0, 0)
    assert c.send_mss == 1400 - 12
    h.recv_seg(h.peer(SYN | ACK, 0, 1, options=(MaxSegmentSize(1400), NOP, NOP, ts(78, 1001))))
    assert h.state is State.ESTABLISHED
    assert c.ts_recent == 78


# ---------------------------------------------------------------- end to end


def test_two_default_stacks_negotiate_everything() -> None:
    """Two stacks with Linux's defaults: SACK, timestamps and window scale 7 both ways."""
    a_addr, b_addr = IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2")
    a, b = Stack([a_addr]), Stack([b_addr])
    b.listen(b_addr, 80)
    client = a.connect(a_addr, b_addr, 80, 0)
    now = 0
    for _ in range(6):
        now += 1_000
        for packet in a.packets_to_send(now):
            b.receive(packet, now)
        for packet in b.packets_to_send(now):
            a.receive(packet, now)
    assert client.state is State.ESTABLISHED
    (server,) = (c for c in b.connections if c.state is State.ESTABLISHED)
    for conn in (client, server):
        assert conn.sack_ok and conn.ts_ok
        assert (conn.snd_wscale, conn.rcv_wscale) == (7, 7)
        assert conn.send_mss == 1448
    # TS.Recent is the peer's latest TSval: the SYN,ACK and the ACK answering it
    # were both built at 1 ms.
    assert client.ts_recent == server.ts_value(1_000)
    assert server.ts_recent == client.ts_value(1_000)
