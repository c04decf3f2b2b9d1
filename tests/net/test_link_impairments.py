"""Each impairment of ``LinkConfig`` measurably does what it says."""

from __future__ import annotations

import itertools

import pytest
from net_helpers import A4, B4, FakeEndpoint, checksums_ok, seq_of, tcp_packet

from synack.net import LinkConfig, Simulator, drop_flags, drop_nth, drop_where
from synack.net.link import DropFilter
from synack.trace.records import (
    PacketCorrupted,
    PacketDuplicated,
    PacketLost,
    PacketTransmitted,
)
from synack.wire.tcp import TcpFlags

MS = 1_000


def blast(
    config: LinkConfig,
    count: int,
    *,
    spacing: int = 100,
    size: int = 0,
    seed: int = 11,
    reverse: LinkConfig | None = None,
) -> tuple[Simulator, FakeEndpoint]:
    """Send ``count`` packets from a to b, one every ``spacing`` us; run to the end."""
    sim = Simulator(seed)
    a, b = FakeEndpoint(), FakeEndpoint()
    sim.add_host("a", a, [A4])
    sim.add_host("b", b, [B4])
    sim.link("a", "b", config, reverse=reverse)
    for i in range(count):
        sim.at(i * spacing, lambda s, i=i: a.send(tcp_packet(A4, B4, seq=i, payload=bytes(size))))
    sim.run()
    return sim, b


def test_no_impairment_delivers_everything_in_order() -> None:
    sim, b = blast(LinkConfig(delay=MS), 1000)
    assert [seq_of(p) for _, p in b.received] == list(range(1000))
    stats = sim.direction("a", "b").stats
    assert (stats.offered, stats.delivered, stats.lost_total) == (1000, 1000, 0)


def test_random_loss_rate_within_tolerance() -> None:
    sim, b = blast(LinkConfig(delay=MS, loss=0.1), 10_000, spacing=10)
    lost = 10_000 - len(b.received)
    assert 880 <= lost <= 1120  # 10% +- 4 sigma (sigma = 30)
    records = list(sim.records(kind=PacketLost))
    assert len(records) == lost
    assert {r.reason for r in records} == {"loss"}
    assert sim.direction("a", "b").stats.lost == {"loss": lost}


def test_burst_loss_is_bursty_with_the_gilbert_elliott_rates() -> None:
    # P(good->bad) = 0.01, P(bad->good) = 0.25, all lost in the bad state:
    # stationary loss = 0.01 / 0.26 = 3.8 %, mean burst = 1 / 0.25 = 4 packets.
    config = LinkConfig(burst_loss_enter=0.01, burst_loss_exit=0.25, burst_loss=1.0)
    sim, b = blast(config, 40_000, spacing=10)
    arrived = {seq_of(p) for _, p in b.received}
    lost = [i for i in range(40_000) if i not in arrived]
    lost_set = set(lost)
    bursts = sum(1 for i in lost if i - 1 not in lost_set)
    loss_rate = len(lost) / 40_000
    assert 0.03 <= loss_rate <= 0.047
    mean_burst = len(lost) / bursts
    assert 3.0 <= mean_burst <= 5.0  # independent 3.8 % loss would give ~1.04
    assert sim.direction("a", "b").stats.lost == {"burst loss": len(lost)}


def test_duplicate_rate_and_records() -> None:
    sim, b = blast(LinkConfig(delay=MS, duplicate=0.2), 5000, spacing=10)
    extra = len(b.received) - 5000
    assert 850 <= extra <= 1150
    duplicated = list(sim.records(kind=PacketDuplicated))
    assert len(duplicated) == extra
    assert all(d.copy_id != d.packet_id for d in duplicated)
    seqs = [seq_of(p) for _, p in b.received]
    assert sorted(set(seqs)) == list(range(5000))
    assert seqs == sorted(seqs)  # a copy never overtakes (no reorder configured)


def test_jitter_alone_never_reorders() -> None:
    _sim, b = blast(LinkConfig(delay=10 * MS, jitter=8 * MS), 2000, spacing=50)
    seqs = [seq_of(p) for _, p in b.received]
    assert seqs == list(range(2000))
    delays = [t - seq * 50 for (t, _), seq in zip(b.received, seqs, strict=True)]
    assert min(delays) >= 2 * MS
    assert len(set(delays)) > 100  # the jitter is really there


def test_reorder_holds_packets_back() -> None:
    config = LinkConfig(delay=MS, reorder=0.05, reorder_delay=3 * MS)
    _sim, b = blast(config, 4000, spacing=100)
    seqs = [seq_of(p) for _, p in b.received]
    assert sorted(seqs) == list(range(4000))
    held = [seq for (t, _), seq in zip(b.received, seqs, strict=True) if t == seq * 100 + 4 * MS]
    assert 130 <= len(held) <= 270  # 5 % of 4000 = 200
    inversions = sum(1 for x, y in itertools.pairwise(seqs) if x > y)
    assert inversions >= 130  # each held packet is overtaken by the ~30 sent after it


def test_corruption_flips_exactly_one_bit_and_breaks_the_checksum() -> None:
    sim, b = blast(LinkConfig(delay=MS, corrupt=0.3), 2000, spacing=10, size=40)
    corrupted = {r.packet_id: r for r in sim.records(kind=PacketCorrupted)}
    assert 500 <= len(corrupted) <= 700
    bad = [p for _, p in b.received if not checksums_ok(p)]
    assert len(bad) == len(corrupted)  # every corruption is caught by a checksum
    originals = {r.packet_id: r.packet for r in sim.records(kind=PacketTransmitted)}
    for packet_id, record in corrupted.items():
        before = originals[packet_id]
        assert len(before) == len(record.packet)
        flips = sum(bin(x ^ y).count("1") for x, y in zip(before, record.packet, strict=True))
        assert flips == 1
        assert before[record.bit // 8] ^ record.packet[record.bit // 8] == 0x80 >> record.bit % 8


def test_bandwidth_serialises_back_to_back_packets() -> None:
    # 1 Mbit/s, 1250-octet datagrams: 10 ms each on the wire, then 2 ms propagation.
    size = 1250 - 40
    config = LinkConfig(delay=2 * MS, bandwidth=1_000_000)
    _sim, b = blast(config, 5, spacing=0, size=size)
    assert [t for t, _ in b.received] == [12 * MS, 22 * MS, 32 * MS, 42 * MS, 52 * MS]


def test_bandwidth_idle_link_has_no_queueing() -> None:
    size = 1250 - 40
    config = LinkConfig(bandwidth=1_000_000)
    _sim, b = blast(config, 3, spacing=50 * MS, size=size)
    assert [t for t, _ in b.received] == [10 * MS, 60 * MS, 110 * MS]


def test_queue_tail_drop() -> None:
    config = LinkConfig(bandwidth=1_000_000, queue_limit=3)
    sim, b = blast(config, 10, spacing=0, size=1210)
    assert [seq_of(p) for _, p in b.received] == [0, 1, 2]
    lost = list(sim.records(kind=PacketLost))
    assert [seq_of(r.packet) for r in lost] == list(range(3, 10))
    assert {r.reason for r in lost} == {"queue full"}


def test_drop_nth_is_directional() -> None:
    sim = Simulator(0)
    a, b = FakeEndpoint(), FakeEndpoint()
    b.echo = True
    sim.add_host("a", a, [A4])
    sim.add_host("b", b, [B4])
    f = drop_nth(3, 5)
    sim.link("a", "b", delay=MS, drop_filter=f)
    for i in range(6):
        sim.at(i * 10 * MS, lambda s, i=i: a.send(tcp_packet(A4, B4, seq=i)))
    sim.run()
    assert [seq_of(p) for _, p in b.received] == [0, 1, 3, 5]
    assert [seq_of(p) for _, p in a.received] == [0, 1, 3, 5]  # echoes: nothing dropped b->a
    assert (f.seen, f.dropped) == (6, 2)
    assert {r.reason for r in sim.records(kind=PacketLost)} == {"filter"}


def test_drop_flags_drops_the_first_fin_only() -> None:
    f = drop_flags(TcpFlags.FIN)
    b = _flagged(f)
    assert [seq_of(p) for _, p in b.received] == [0, 1, 3, 4]
    assert (f.matched, f.dropped) == (3, 1)  # seq 2, 3 and 4 carry FIN


def test_drop_flags_exact_count_and_skip() -> None:
    b = _flagged(drop_flags(TcpFlags.FIN | TcpFlags.ACK, exact=True, count=None))
    assert [seq_of(p) for _, p in b.received] == [0, 1, 2, 4]  # only seq 3 is exactly FIN,ACK
    b = _flagged(drop_flags(TcpFlags.FIN, skip=1))
    assert [seq_of(p) for _, p in b.received] == [0, 1, 2, 4]
    b = _flagged(drop_where(lambda h: h.tcp is not None and h.tcp.seq % 2 == 0))
    assert [seq_of(p) for _, p in b.received] == [1, 3]


def _flagged(f: DropFilter) -> FakeEndpoint:
    flags = [
        TcpFlags.SYN,
        TcpFlags.SYN | TcpFlags.ACK,
        TcpFlags.FIN | TcpFlags.PSH | TcpFlags.ACK,
        TcpFlags.FIN | TcpFlags.ACK,
        TcpFlags.FIN | TcpFlags.PSH | TcpFlags.ACK,
    ]
    sim = Simulator(0)
    a, b = FakeEndpoint(), FakeEndpoint()
    sim.add_host("a", a, [A4])
    sim.add_host("b", b, [B4])
    sim.link("a", "b", LinkConfig(delay=MS, drop_filter=f))
    for i, flag in enumerate(flags):
        a.send(tcp_packet(A4, B4, seq=i, flags=flag))
    sim.flush()
    sim.run()
    return b


def test_reconfigure_mid_run_partitions_the_link() -> None:
    sim = Simulator(0)
    a, b = FakeEndpoint(), FakeEndpoint()
    sim.add_host("a", a, [A4])
    sim.add_host("b", b, [B4])
    sim.link("a", "b", delay=MS)
    for i in range(10):
        sim.at(i * 10 * MS, lambda s, i=i: a.send(tcp_packet(A4, B4, seq=i)))
    sim.at(35 * MS, lambda s: s.configure("a", "b", loss=1.0))
    sim.at(75 * MS, lambda s: s.configure("a", "b", loss=0.0))
    sim.run()
    assert [seq_of(p) for _, p in b.received] == [0, 1, 2, 3, 8, 9]


@pytest.mark.parametrize(
    "bad",
    [
        {"delay": -1},
        {"loss": 1.5},
        {"corrupt": -0.1},
        {"queue_limit": 0},
        {"reorder_delay": -5},
    ],
)
def test_config_is_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LinkConfig(**bad)  # type: ignore[arg-type]
