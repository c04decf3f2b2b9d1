"""Linux's loss recovery (synack.tcp.recovery): limited transmit through the
in-flight test, RACK loss marking and its reordering timer, the tail loss
probe, the lost/sacked/retrans counters, the reordering metric and D-SACK.

The connection is an active open with SACK (10 ms handshake RTT, so SRTT and
min_rtt are 10 ms); relative sequence numbers as in test_options_sack.
"""

from __future__ import annotations

from dataclasses import replace

from helpers import ACK, CONFIG, Harness
from test_options_sack import MSS, local, rel_out, sack_ack, sack_established

from synack.tcp.config import TcpConfig
from synack.tcp.recovery import CA_DISORDER, CA_LOSS, CA_OPEN, CA_RECOVERY
from synack.tcp.status import recovery_info

# Reno's arithmetic (ssthresh = cwnd/2, one segment per window in congestion
# avoidance) keeps the numbers here simple; CUBIC's 0.7 is checked on its own.
LINUX = replace(CONFIG, sack=True, linux_recovery=True, congestion_control="reno")
RENO = replace(CONFIG, sack=False, linux_recovery=True, congestion_control="reno")


def ten_out(config: TcpConfig = LINUX, segments: int = 10, extra: int = 0) -> Harness:
    """``segments`` full segments in flight (IW10), ``extra`` more waiting."""
    h = sack_established(config) if config.sack else _plain(config)
    h.conn.send(bytes((segments + extra) * MSS), h.now)
    assert [len(s.payload) for s in h.take()] == [MSS] * segments
    return h


def _plain(config: TcpConfig) -> Harness:
    from helpers import established

    return established(config)


def info(h: Harness) -> dict[str, int]:
    return recovery_info(h.conn)


def dupack(h: Harness) -> None:
    h.recv_seg(h.peer(ACK, 1, 1))


# ---------------------------------------------------------------- limited transmit


def test_each_sack_lets_one_new_segment_out_while_cwnd_stays() -> None:
    """RFC 3042 as Linux gets it: the SACKed segment leaves the in-flight count."""
    h = ten_out(extra=2)
    cwnd = h.conn.cc.cwnd
    h.now += 11_000
    h.recv_seg(sack_ack(h, (1 + MSS, 1 + 2 * MSS)))
    assert rel_out(h) == [(1 + 10 * MSS, MSS)]
    h.now += 1_000
    h.recv_seg(sack_ack(h, (1 + MSS, 1 + 3 * MSS)))
    assert rel_out(h) == [(1 + 11 * MSS, MSS)]
    assert h.conn.cc.cwnd == cwnd
    assert info(h)["tcpi_ca_state"] == CA_DISORDER
    assert info(h)["tcpi_sacked"] == 2
    assert h.conn.recovery.in_flight() == 10


def test_without_sack_duplicate_acks_count_as_sacked_then_fast_retransmit() -> None:
    """tcp_add_reno_sack: two dupacks release two new segments; the third marks
    the first segment lost and it is resent at once (Recovery)."""
    h = ten_out(RENO, extra=3)
    dupack(h)
    assert rel_out(h) == [(1 + 10 * MSS, MSS)]
    dupack(h)
    assert rel_out(h) == [(1 + 11 * MSS, MSS)]
    assert info(h)["tcpi_sacked"] == 2
    dupack(h)
    assert rel_out(h) == [(1, MSS)]
    assert info(h)["tcpi_ca_state"] == CA_RECOVERY
    assert info(h)["tcpi_lost"] == 1
    assert info(h)["tcpi_retrans"] == 1
    assert h.conn.cc.ssthresh == 5 * MSS  # half of cwnd, in packets (tcp_reno_ssthresh)


def test_cubic_recovery_keeps_seven_tenths_of_the_window() -> None:
    """With Linux's default CUBIC the fast retransmit sets ssthresh to 0.7 of
    cwnd (bictcp_recalc_ssthresh: 10 * 717 / 1024 = 7 packets)."""
    h = ten_out(replace(RENO, congestion_control="cubic"), extra=3)
    for _ in range(3):
        dupack(h)
        rel_out(h)
    assert info(h)["tcpi_ca_state"] == CA_RECOVERY
    assert h.conn.cc.ssthresh == 7 * MSS


# ---------------------------------------------------------------- RACK


def test_rack_waits_a_reordering_window_then_marks_lost() -> None:
    """One SACK above seven holes: RACK waits RTT/4 (min_rtt 10 ms -> 2.5 ms,
    rounded up to 3 ms, plus 2 ms), then marks all seven lost and retransmits
    the first of them (PRR allows one)."""
    h = ten_out()
    sent = h.now
    h.now = sent + 10_000
    h.recv_seg(sack_ack(h, (1 + 7 * MSS, 1 + 8 * MSS)))
    assert rel_out(h) == []
    recovery = h.conn.recovery
    assert recovery.reo_deadline == h.now + 3_000 + 2_000
    assert info(h)["tcpi_lost"] == 0
    h.advance(h.now + 5_000)
    assert rel_out(h) == [(1, MSS)]
    assert info(h) == {
        "tcpi_ca_state": CA_RECOVERY,
        "tcpi_sacked": 1,
        "tcpi_lost": 7,
        "tcpi_retrans": 1,
        "tcpi_reordering": 3,
    }


def test_three_sacked_segments_mark_the_hole_lost_at_once() -> None:
    """No reordering seen and sacked_out >= reordering: RACK's window is 0 (the
    DupThresh rule), so the hole is lost as soon as its RTT has passed."""
    h2 = ten_out(segments=4)
    h2.now += 10_000
    h2.recv_seg(sack_ack(h2, (1 + MSS, 1 + 2 * MSS)))
    h2.recv_seg(sack_ack(h2, (1 + MSS, 1 + 3 * MSS)))
    assert rel_out(h2) == []
    h2.recv_seg(sack_ack(h2, (1 + MSS, 1 + 4 * MSS)))
    assert rel_out(h2) == [(1, MSS)]
    assert info(h2)["tcpi_ca_state"] == CA_RECOVERY


def test_a_sack_below_the_highest_raises_the_reordering_metric() -> None:
    """tcp_check_sack_reordering: an original segment SACKed 5 segments below
    the highest SACK makes reordering 5 (it was 3)."""
    h = ten_out()
    h.now += 10_000
    h.recv_seg(sack_ack(h, (1 + 7 * MSS, 1 + 8 * MSS)))
    h.now += 1_000
    h.recv_seg(sack_ack(h, (1 + 3 * MSS, 1 + 4 * MSS), (1 + 7 * MSS, 1 + 8 * MSS)))
    assert info(h)["tcpi_reordering"] == 5
    assert h.conn.recovery.reord_seen == 1


def test_a_dsack_block_is_not_scored() -> None:
    """RFC 2883: a first block below the cumulative ACK reports a duplicate; it
    marks nothing, the second block is used."""
    h = ten_out()
    h.now += 10_000
    h.recv_seg(sack_ack(h, (1, 1 + MSS), (1 + 5 * MSS, 1 + 6 * MSS), ack=1 + 2 * MSS))
    assert info(h)["tcpi_sacked"] == 1
    assert h.conn.stats["dsack_received"] == 1
    recovery = h.conn.recovery
    assert [s.sacked for s in recovery.segments()][:5] == [False, False, False, True, False]


def test_counters_return_to_zero_once_everything_is_acked() -> None:
    h = ten_out()
    h.now += 10_000
    h.recv_seg(sack_ack(h, (1 + 7 * MSS, 1 + 8 * MSS)))
    h.advance(h.now + 5_000)
    h.take()
    h.now += 10_000
    h.recv_seg(h.peer(ACK, 1, 1 + 10 * MSS))
    assert info(h) == {
        "tcpi_ca_state": CA_OPEN,
        "tcpi_sacked": 0,
        "tcpi_lost": 0,
        "tcpi_retrans": 0,
        # Segments 2..7 were never resent, yet arrived: their originals were
        # only late, 7 segments below the highest SACK (tcp_clean_rtx_queue).
        "tcpi_reordering": 7,
    }
    assert h.conn.recovery.packets_out == 0
    # Recovery ends with cwnd = ssthresh, then this ACK grows it in congestion
    # avoidance (tcp_end_cwnd_reduction, then tcp_cong_avoid).
    ssthresh = h.conn.cc.ssthresh
    assert h.conn.cc.cwnd == ssthresh + MSS * MSS // ssthresh


# ---------------------------------------------------------------- TLP


def test_tail_loss_probe_resends_the_last_segment_after_two_srtt() -> None:
    """PTO = 2*SRTT + 2 ms with more than one segment out (SRTT 10 ms)."""
    h = ten_out(segments=2)
    recovery = h.conn.recovery
    assert recovery.tlp_deadline == h.now + 22_000
    h.advance(h.now + 22_000)
    assert rel_out(h) == [(1 + MSS, MSS)]
    assert recovery.tlp_high_seq == h.conn.snd_max
    assert h.conn.rtx_deadline == h.now + h.conn.rtt.rto  # the RTO restarts from the probe
    assert h.conn.stats["loss_probes"] == 1
    h.advance(h.now + 22_000)
    assert rel_out(h) == []  # at most one probe outstanding


def test_tail_loss_probe_sends_new_data_when_the_window_allows() -> None:
    h = ten_out(extra=1)  # cwnd-limited: the 11th segment waits
    h.advance(h.now + 22_000)
    out = h.take()
    assert [(int(s.seq - local(0)) % 2**32, len(s.payload)) for s in out] == [(1 + 10 * MSS, MSS)]
    assert h.conn.stats.get("retransmitted_segments", 0) == 0


def test_one_segment_out_waits_for_a_delayed_ack_but_never_past_the_rto() -> None:
    h = ten_out(segments=1)
    rto_left = h.conn.rtx_deadline - h.now  # type: ignore[operator]
    assert h.conn.recovery.tlp_deadline == h.now + min(20_000 + 200_000, rto_left)


def test_no_probe_without_sack_or_in_recovery() -> None:
    h = ten_out(RENO, segments=2)
    assert h.conn.recovery.tlp_deadline is None


def test_rto_enters_loss_and_marks_everything_lost() -> None:
    h = ten_out(segments=3)
    h.conn.recovery.tlp_deadline = None
    h.advance(h.conn.rtx_deadline)  # type: ignore[arg-type]
    assert rel_out(h) == [(1, MSS)]
    assert info(h)["tcpi_ca_state"] == CA_LOSS
    assert info(h)["tcpi_lost"] == 3
    assert info(h)["tcpi_retrans"] == 1
