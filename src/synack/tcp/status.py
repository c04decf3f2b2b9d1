"""The STATUS call (RFC 9293 3.10.6): a snapshot of one TCB, shaped like Linux's tcp_info."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synack.tcp.connection import Connection


def snapshot(conn: Connection) -> dict[str, object]:
    """The TCB's variables, options, timers' inputs and counters as plain values."""
    return {
        "state": str(conn.state),
        "local": (str(conn.local_address), conn.local_port),
        "remote": (str(conn.remote_address), conn.remote_port),
        "iss": int(conn.iss),
        "irs": int(conn.irs),
        "snd_una": int(conn.snd_una),
        "snd_nxt": int(conn.snd_nxt),
        "snd_wnd": conn.snd_wnd,
        "rcv_nxt": int(conn.rcv_nxt),
        "rcv_wnd": conn._window_to_advertise(effects=False),
        "send_mss": conn.send_mss,
        "advmss": conn.mss_advertised,
        "snd_wscale": conn.snd_wscale,
        "rcv_wscale": conn.rcv_wscale,
        "sack_ok": conn.sack_ok,
        "ts_ok": conn.ts_ok,
        "ts_recent": conn.ts_recent,
        "sacked": conn.recovery.sacked_bytes
        if conn.config.linux_recovery
        else conn.scoreboard.sacked_bytes,
        "cwnd": conn.cc.cwnd,
        "ssthresh": conn.cc.ssthresh,
        "srtt": conn.rtt.srtt,
        "rttvar": conn.rtt.rttvar,
        "rto": conn.rtt.rto,
        "retransmits": conn.retries,
        "unacked": conn.snd_max - conn.snd_una,
        "send_buffered": len(conn.send_buffer),
        "receive_buffered": len(conn.receive_buffer),
        "tos": conn.config.tos,
        "received_tos": conn.received_tos,
        "stats": dict(conn.stats),
    }


def recovery_info(conn: Connection) -> dict[str, int]:
    """tcp_info's loss-recovery fields: tcpi_ca_state (Open 0, Disorder 1,
    CWR 2, Recovery 3, Loss 4), tcpi_sacked, tcpi_lost, tcpi_retrans (packets
    now) and tcpi_reordering."""
    if conn.config.linux_recovery:
        return conn.recovery.info(conn.send_mss)
    mss = max(conn.send_mss, 1)
    if conn.cc.in_recovery:
        ca_state = 3
    elif conn.retries:
        ca_state = 4
    else:
        ca_state = 0
    return {
        "tcpi_ca_state": ca_state,
        "tcpi_sacked": conn.scoreboard.sacked_bytes // mss,
        "tcpi_lost": 0,
        "tcpi_retrans": 0,
        "tcpi_reordering": conn.config.reordering,
    }
