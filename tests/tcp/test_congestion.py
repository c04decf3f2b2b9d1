"""NewReno arithmetic, unit by unit: RFC 5681 (slow start, congestion avoidance,
fast retransmit / fast recovery), RFC 6582 (partial and full ACKs), RFC 6928 (IW10).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from synack.tcp.congestion import DUPACK_THRESHOLD, NewReno

MSS = 1000


def test_initial_window_is_ten_segments() -> None:
    """RFC 6928 (IW10, as Linux TCP_INIT_CWND); ssthresh starts 'arbitrarily high'
    (RFC 5681 3.1)."""
    cc = NewReno(MSS, 10)
    assert cc.cwnd == 10 * MSS
    assert cc.ssthresh >= 1 << 30
    assert not cc.in_recovery
    assert cc.dupacks == 0


def test_set_mss_rebases_the_initial_window() -> None:
    cc = NewReno(536, 10)
    cc.set_mss(1460, 10)
    assert cc.mss == 1460
    assert cc.cwnd == 14600


def test_slow_start_grows_by_every_acknowledged_octet() -> None:
    """Linux's tcp_slow_start (RFC 3465 byte counting without its L limit, where
    RFC 5681 3.1 says cwnd += min(N, SMSS)): a stretch ACK adds all it acknowledged."""
    cc = NewReno(MSS, 10)
    cc.on_ack(2 * MSS, 10 * MSS)
    assert cc.cwnd == 12 * MSS
    cc.on_ack(300, 10 * MSS)  # a partial-segment ACK grows by what it acknowledged
    assert cc.cwnd == 12 * MSS + 300


def test_slow_start_stops_growing_when_application_limited() -> None:
    """Linux's tcp_is_cwnd_limited (RFC 7661's idea): in slow start cwnd grows
    only while it is below twice the data in flight."""
    cc = NewReno(MSS, 10)
    cc.on_ack(MSS, 5 * MSS)  # only 5 segments were ever in flight: 10 >= 2 * 5
    assert cc.cwnd == 10 * MSS
    cc = NewReno(MSS, 10)
    cc.on_ack(2 * MSS, 9 * MSS)  # 9 in flight: 10 < 18, grows
    assert cc.cwnd == 12 * MSS


def test_slow_start_doubles_per_round_trip() -> None:
    """One ACK per segment: a window's worth of ACKs doubles cwnd (exponential growth)."""
    cc = NewReno(MSS, 10)
    for _ in range(10):
        cc.on_ack(MSS, cc.cwnd)
    assert cc.cwnd == 20 * MSS


def test_congestion_avoidance_grows_about_one_smss_per_round_trip() -> None:
    """RFC 5681 3.1 (3): cwnd += SMSS*SMSS/cwnd per ACK once cwnd >= ssthresh."""
    cc = NewReno(MSS, 10)
    cc.ssthresh = 10 * MSS
    cc.on_ack(MSS, 10 * MSS)
    assert cc.cwnd == 10 * MSS + MSS * MSS // (10 * MSS)  # + 100
    start = cc.cwnd
    for _ in range(10):
        cc.on_ack(MSS, cc.cwnd)
    assert start + MSS - 100 <= cc.cwnd <= start + MSS  # about one segment per window


def test_congestion_avoidance_always_grows_by_at_least_one_byte() -> None:
    cc = NewReno(10, 1)
    cc.ssthresh = 1
    cc.cwnd = 10_000
    cc.on_ack(10, 10_000)
    assert cc.cwnd == 10_001


def test_third_duplicate_ack_triggers_fast_retransmit() -> None:
    """RFC 5681 3.2 (2)-(3): ssthresh = max(FlightSize/2, 2*SMSS), cwnd = ssthresh + 3*SMSS."""
    cc = NewReno(MSS, 10)
    flight = 10 * MSS
    assert cc.on_dupack(flight) is False
    assert cc.on_dupack(flight) is False
    assert cc.cwnd == 10 * MSS  # RFC 5681 3.2 (1): the first two do not change cwnd
    assert cc.on_dupack(flight) is True
    assert DUPACK_THRESHOLD == 3
    assert cc.ssthresh == 5 * MSS
    assert cc.cwnd == 8 * MSS
    assert cc.in_recovery


def test_ssthresh_is_at_least_two_segments() -> None:
    """RFC 5681 equation (4): ssthresh = max(FlightSize / 2, 2*SMSS)."""
    cc = NewReno(MSS, 10)
    for _ in range(3):
        cc.on_dupack(3 * MSS)
    assert cc.ssthresh == 2 * MSS
    assert cc.cwnd == 5 * MSS


def test_further_duplicate_acks_inflate_the_window() -> None:
    """RFC 5681 3.2 (4): each additional duplicate ACK adds one SMSS; no second retransmit."""
    cc = NewReno(MSS, 10)
    for _ in range(3):
        cc.on_dupack(10 * MSS)
    assert cc.on_dupack(10 * MSS) is False
    assert cc.on_dupack(10 * MSS) is False
    assert cc.cwnd == 10 * MSS


def test_partial_ack_deflates_by_the_amount_acked_plus_one_smss() -> None:
    """RFC 6582 3.2 step 3 (partial acknowledgments): deflate by the new data
    acknowledged, add back one SMSS."""
    cc = NewReno(MSS, 10)
    for _ in range(3):
        cc.on_dupack(10 * MSS)
    cc.on_partial_ack(2 * MSS)
    assert cc.cwnd == 8 * MSS - 2 * MSS + MSS
    assert cc.in_recovery  # still recovering until recover is acknowledged


def test_partial_ack_of_less_than_one_smss_adds_nothing_back() -> None:
    """RFC 6582 3.2 step 3 (partial acknowledgments): 'If the partial ACK
    acknowledges at least one SMSS of new data, then add back SMSS bytes' -- a
    smaller partial ACK only deflates."""
    cc = NewReno(MSS, 10)
    for _ in range(3):
        cc.on_dupack(10 * MSS)
    cc.on_partial_ack(MSS // 2)
    assert cc.cwnd == 8 * MSS - MSS // 2


def test_partial_ack_never_deflates_below_one_segment() -> None:
    cc = NewReno(MSS, 10)
    for _ in range(3):
        cc.on_dupack(10 * MSS)
    cc.on_partial_ack(100 * MSS)
    assert cc.cwnd == MSS


def test_full_ack_exits_recovery_with_deflated_window() -> None:
    """RFC 6582 3.2 step 3 (full acknowledgments):
    cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)."""
    cc = NewReno(MSS, 10)
    for _ in range(3):
        cc.on_dupack(10 * MSS)
    cc.exit_recovery(0)
    assert not cc.in_recovery
    assert cc.dupacks == 0
    assert cc.cwnd == 2 * MSS  # nothing left in flight: max(0, SMSS) + SMSS
    cc2 = NewReno(MSS, 10)
    for _ in range(3):
        cc2.on_dupack(10 * MSS)
    cc2.exit_recovery(9 * MSS)
    assert cc2.cwnd == cc2.ssthresh == 5 * MSS


def test_new_ack_resets_the_duplicate_count() -> None:
    cc = NewReno(MSS, 10)
    cc.on_dupack(10 * MSS)
    cc.on_dupack(10 * MSS)
    cc.on_ack(MSS, 10 * MSS)
    assert cc.dupacks == 0
    assert cc.on_dupack(10 * MSS) is False  # counting starts again


def test_timeout_collapses_to_one_segment() -> None:
    """RFC 5681 3.1: after an RTO, ssthresh = max(FlightSize/2, 2*SMSS) and cwnd = 1 SMSS
    (the loss window)."""
    cc = NewReno(MSS, 10)
    cc.on_dupack(10 * MSS)
    cc.on_timeout(12 * MSS)
    assert cc.cwnd == MSS
    assert cc.ssthresh == 6 * MSS
    assert cc.dupacks == 0
    assert not cc.in_recovery
    cc.on_ack(MSS, MSS)  # slow start again
    assert cc.cwnd == 2 * MSS


def test_timeout_during_recovery_ends_recovery() -> None:
    cc = NewReno(MSS, 10)
    for _ in range(3):
        cc.on_dupack(10 * MSS)
    cc.on_timeout(10 * MSS)
    assert not cc.in_recovery
    assert cc.cwnd == MSS


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("ack"), st.integers(1, 20 * MSS)),
            st.tuples(st.just("dup"), st.integers(0, 40 * MSS)),
            st.tuples(st.just("partial"), st.integers(1, 20 * MSS)),
            st.tuples(st.just("exit"), st.integers(0, 40 * MSS)),
            st.tuples(st.just("timeout"), st.integers(0, 40 * MSS)),
        ),
        max_size=60,
    )
)
def test_window_never_falls_below_one_segment(steps: list[tuple[str, int]]) -> None:
    """Whatever the ACK sequence, cwnd >= 1 SMSS and ssthresh >= 2 SMSS once set."""
    cc = NewReno(MSS, 10)
    for kind, amount in steps:
        if kind == "ack" and not cc.in_recovery:
            cc.on_ack(amount, cc.cwnd)
        elif kind == "dup":
            cc.on_dupack(amount)
        elif kind == "partial" and cc.in_recovery:
            cc.on_partial_ack(amount)
        elif kind == "exit" and cc.in_recovery:
            cc.exit_recovery(amount)
        elif kind == "timeout":
            cc.on_timeout(amount)
        assert cc.cwnd >= MSS
        assert cc.ssthresh >= 2 * MSS
