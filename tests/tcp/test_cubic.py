"""CUBIC (RFC 9438) as Linux's tcp_cubic.c, an alternative congestion control
(MAY-18): the window after a loss, fast convergence, and the cubic growth back
to the window where the loss happened."""

from __future__ import annotations

import pytest

from synack.tcp.congestion import Cubic, NewReno, congestion_control, cubic_root

MSS = 1000
RTT = 100_000  # 100 ms


def test_cube_root_is_exact() -> None:
    assert [cubic_root(n) for n in (0, 1, 7, 8, 26, 27, 10**9, 10**9 - 1)] == [
        0, 1, 1, 2, 2, 3, 1000, 999,
    ]


def test_ssthresh_after_a_loss_is_seven_tenths() -> None:
    """RFC 9438 4.6: ssthresh = cwnd * beta_cubic (0.7; Linux 717/1024)."""
    cubic = Cubic(MSS, 10)
    assert cubic.loss_ssthresh(10) == 7
    assert cubic.loss_ssthresh(100) == 70
    assert cubic.loss_ssthresh(2) == 2  # never below two segments
    assert NewReno(MSS, 10).loss_ssthresh(10) == 5  # Reno halves


def test_fast_convergence_lowers_the_remembered_maximum() -> None:
    """RFC 9438 4.7: a loss below the previous W_max remembers
    W_max * (1 + beta) / 2, so a newcomer gets bandwidth sooner."""
    cubic = Cubic(MSS, 10)
    cubic.loss_ssthresh(100)
    assert cubic.last_max_cwnd == 100
    cubic.loss_ssthresh(80)
    assert cubic.last_max_cwnd == 80 * 1741 // 2048  # 68


def grow(cubic: Cubic, start: int, seconds: float) -> list[tuple[int, int]]:
    """ACK every packet of each window, one RTT per window; (time, cwnd packets)."""
    now = start
    history = []
    while now < start + int(seconds * 1_000_000):
        window = cubic.cwnd // MSS
        for index in range(window):
            cubic.on_ack(MSS, cubic.cwnd, now + index * RTT // window, RTT)
        now += RTT
        history.append((now - start, cubic.cwnd // MSS))
    return history


def test_window_grows_back_to_the_loss_point_in_k_seconds() -> None:
    """RFC 9438 4.2: W(t) = C (t - K)^3 + W_max with K = cbrt(W_max (1 - beta) / C):
    from 70 packets after a loss at 100, the window is back near 100 after
    K = cbrt(100 * 0.3 / 0.4) = 4.2 s (plus one RTT, Linux's delay_min
    offset), flat around it (concave, then convex), and grows faster after."""
    cubic = Cubic(MSS, 10)
    cubic.ssthresh = cubic.loss_ssthresh(100) * MSS
    cubic.cwnd = cubic.ssthresh
    history = dict(grow(cubic, 1_000_000, 7.0))
    assert 88 <= history[2_000_000] <= 99  # concave: most of the way back after 2 s
    assert 97 <= history[4_200_000] <= 102  # the plateau around W_max
    assert history[4_200_000] - history[3_200_000] < 5  # slow near W_max
    assert history[7_000_000] - history[6_000_000] > history[4_600_000] - history[3_600_000]


def test_congestion_control_by_name() -> None:
    assert isinstance(congestion_control("cubic", MSS, 10), Cubic)
    reno = congestion_control("reno", MSS, 10)
    assert type(reno) is NewReno
    with pytest.raises(ValueError):
        congestion_control("bbr", MSS, 10)
