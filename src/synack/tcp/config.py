"""Tunable parameters.  Defaults follow Linux; every one is configurable.

All times are integer microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

MS = 1_000
SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class TcpConfig:
    """Per-stack TCP settings (Linux defaults in brackets where they differ from the RFC)."""

    # --- retransmission (RFC 6298, RFC 9293 3.8.1 and 3.8.3) ---
    initial_rto: int = 1 * SECOND  # RFC 6298 2.1
    min_rto: int = 200 * MS  # [Linux TCP_RTO_MIN; RFC 6298 says 1 s]
    max_rto: int = 120 * SECOND  # [Linux TCP_RTO_MAX]
    # RTO = SRTT + max(4*RTTVAR, min_rto) as Linux, rather than RFC 6298's
    # max(min_rto, SRTT + max(G, 4*RTTVAR)).
    linux_rto: bool = True
    syn_retries: int = 6  # [net.ipv4.tcp_syn_retries]  R2 for SYN, counted
    synack_retries: int = 5  # [net.ipv4.tcp_synack_retries]
    retries1: int = 3  # R1: advise the IP layer (MUST-20, SHLD-10)  [net.ipv4.tcp_retries1]
    retries2: int = 15  # R2: give up (MUST-20, SHLD-11: >= 100 s)  [net.ipv4.tcp_retries2]
    user_timeout: int = 0  # TCP_USER_TIMEOUT; 0 means R2 by count (MUST-21)

    # --- connection teardown ---
    time_wait: int = 60 * SECOND  # 2*MSL (MUST-13)  [Linux TCP_TIMEWAIT_LEN]
    fin_wait_2_timeout: int = 60 * SECOND  # orphaned FIN-WAIT-2  [net.ipv4.tcp_fin_timeout]
    reuse_time_wait: bool = True  # a new SYN may reopen a TIME-WAIT 4-tuple (MAY-2)

    # --- IP ---
    ttl: int = 64  # IPv4 TTL / IPv6 hop limit, configurable (MUST-49)  [net.ipv4.ip_default_ttl]
    # The IPv4 TOS / IPv6 traffic class octet of the segments sent: DiffServ
    # code point and ECN bits, set by the application (MUST-48, IP_TOS /
    # IPV6_TCLASS) and passed to IP unchanged (SHLD-22).
    tos: int = 0

    # --- segment sizes (3.7.1) ---
    mtu: int = 1500  # the interface MTU; MSS option = MTU - IP - TCP headers (MUST-67)
    user_mss: int = 0  # TCP_MAXSEG: caps the MSS we advertise and use (0 = none)
    # The route's metrics (`ip route ... advmss N mtu lock M`): the MSS to
    # advertise instead of the MTU's, and a path MTU below the interface's
    # (SHLD-6: the send MSS follows the path MTU).  0 = none.
    route_advmss: int = 0
    route_mtu: int = 0
    default_mss_ipv4: int = 536  # send MSS when the peer sent no option (MUST-15)
    default_mss_ipv6: int = 1220

    # --- windows and buffers ---
    send_buffer: int = 256 * 1024  # SO_SNDBUF
    receive_buffer: int = 256 * 1024  # SO_RCVBUF; the advertised window is its free space
    window_scaling: bool = True  # RFC 7323 window scale option  [net.ipv4.tcp_window_scaling]
    # The window scale offered is clamp(ilog2(max(window_scale_space, receive_buffer)) - 15,
    # 0, 14), as Linux's tcp_select_initial_window: room for the largest buffer the
    # receive side may grow to (6 MiB gives 7, 15 MiB gives 8).
    window_scale_space: int = 6 * 1024 * 1024  # [net.ipv4.tcp_rmem[2]]
    # SO_RCVBUF was set (Linux's SOCK_RCVBUF_LOCK): the window scale and the window
    # clamp follow that buffer alone, and the buffer never grows by itself.
    receive_buffer_locked: bool = False
    # Linux's receive window (tcp_select_initial_window, __tcp_select_window,
    # tcp_grow_window, receive memory counted in skb truesize with scaling_ratio,
    # tcp_sequence's end-of-segment check): see rcvwindow.py.  Off, the window is
    # the free buffer space with RFC 9293 receiver SWS avoidance (MUST-39) and the
    # sequence check is Table 6 of 3.10.7.4 exactly.
    linux_receive_window: bool = True
    # A bare FIN at RCV.NXT is accepted while the receive window is zero (Linux
    # tcp_sequence / tcp_data_queue; RFC 9293 3.10.7.4 finds SEG.LEN = 1 with
    # RCV.WND = 0 unacceptable).  Breaks FIN/ACK loops with peers that send a FIN
    # into a closed window.
    accept_fin_at_zero_window: bool = True
    initial_window: int = 10  # segments (RFC 6928)  [Linux TCP_INIT_CWND]

    # --- loss recovery ---
    # Linux's sender: a per-segment scoreboard counted in packets, the cwnd
    # test against tcp_packets_in_flight() (RFC 3042 limited transmit follows),
    # RACK-TLP (RFC 8985), PRR (RFC 6937) and the Open/Disorder/Recovery/Loss
    # states (synack.tcp.recovery).  Off: RFC 5681/6582 NewReno with RFC 2018
    # hole filling, cwnd compared with SND.NXT - SND.UNA.
    linux_recovery: bool = True
    recovery: int = 1  # bit 1: RACK loss detection; bit 4: no DupThresh [net.ipv4.tcp_recovery]
    early_retrans: int = 3  # 3 or 4: tail loss probes [net.ipv4.tcp_early_retrans]
    reordering: int = 3  # initial DupThresh, in packets [net.ipv4.tcp_reordering]
    max_reordering: int = 300  # [net.ipv4.tcp_max_reordering]
    # "cubic" (Linux's default, RFC 9438) or "reno" (RFC 5681 congestion
    # avoidance).  Slow start is the same; they differ in congestion avoidance
    # and in the window after a loss (0.7 vs 0.5 of it).  The RFC 5681/6582
    # path (linux_recovery off) always uses RFC 5681's FlightSize/2.
    congestion_control: str = "cubic"  # [net.ipv4.tcp_congestion_control]
    # ECN (RFC 3168, SHLD-8): 0 off, 1 ask on active opens and accept, 2 accept
    # when the peer asks (Linux's default).  [net.ipv4.tcp_ecn]
    ecn: int = 2

    # --- options negotiated on the SYNs ---
    sack: bool = True  # RFC 2018 selective acknowledgments  [net.ipv4.tcp_sack]
    dsack: bool = True  # RFC 2883 duplicate SACKs in our ACKs  [net.ipv4.tcp_dsack]
    timestamps: bool = True  # RFC 7323 timestamps and PAWS (MAY-10)  [net.ipv4.tcp_timestamps]
    timestamp_tick: int = 1 * MS  # microseconds per TSval tick (RFC 7323 5.4)  [Linux: 1 ms]

    # --- acknowledgments (3.8.6.3) ---
    delayed_ack: int = 40 * MS  # < 0.5 s (MUST-40)  [Linux TCP_DELACK_MIN]
    ack_every: int = 2  # ACK at least every 2nd full-sized segment (SHLD-19)
    quick_acks: int = 16  # segments ACKed at once at the start of a connection [Linux quickack]
    delay_fin_ack: bool = True  # ACK a FIN received in ESTABLISHED after `delayed_ack` [Linux]

    # --- teaching variants: broken on purpose, never on by default ---
    # A passive open that counts its connection ESTABLISHED as soon as it has
    # answered the SYN, without waiting for the ACK of its SYN,ACK: the two-way
    # handshake that RFC 9293 3.5 (Figure 9, old duplicate SYNs) argues against.
    # Only the `why-three` teaching scenario (synack.scenarios) turns it on.
    teaching_two_way_handshake: bool = False

    challenge_ack_interval: int = 500 * MS  # RFC 5961 7 [net.ipv4.tcp_invalid_ratelimit]

    # --- sending ---
    nagle: bool = True  # SHLD-7; TCP_NODELAY turns it off (MUST-17)
    # Linux's segmentation (synack.tcp.segmentation): the write queue is cut into
    # socket buffers of size_goal bytes, each transmission is a TSO packet of up
    # to tcp_tso_autosize() segments, and PSH follows tcp_mark_push/forced_push
    # plus "PSH on every multi-segment packet".  False: one rule of RFC 9293
    # (PSH on the segment that empties the buffer, MUST-60/61) and sender SWS
    # avoidance as in 3.8.6.2.1.
    tso_packets: bool = True
    gso_max_size: int = 65536  # the device's largest TSO packet (GSO_LEGACY_MAX_SIZE)
    min_tso_segs: int = 2  # [net.ipv4.tcp_min_tso_segs]
    pacing_ss_ratio: int = 200  # percent, in slow start [net.ipv4.tcp_pacing_ss_ratio]
    pacing_ca_ratio: int = 120  # percent, otherwise [net.ipv4.tcp_pacing_ca_ratio]
    # RFC 5681 4.1 / RFC 2861: after an idle period longer than the RTO, cwnd
    # restarts from the initial window (halved once per idle RTO, never below
    # it), as Linux's tcp_cwnd_restart  [net.ipv4.tcp_slow_start_after_idle]
    slow_start_after_idle: bool = True
    # Linux's send-buffer accounting (needs tso_packets): each queued socket
    # buffer costs its payload plus ``skb_overhead`` against SO_SNDBUF
    # (skb->truesize in sk_wmem_queued); a new buffer is started only while
    # the total is below SO_SNDBUF (sk_stream_memory_free), and a blocked
    # writer wakes when the free space is at least half the queued total
    # (sk_stream_write_space).  False: payload bytes only, up to SO_SNDBUF.
    linux_send_buffer: bool = True
    skb_overhead: int = 6750

    # --- keep-alive (3.8.4): the application may turn it on (MUST-24); off by
    # default (MUST-25); sent only after the interval idle (MUST-26), which is
    # configurable (MUST-27); several probes before giving up (MUST-29) ---
    keepalive: bool = False
    keepalive_idle: int = 7200 * SECOND  # MUST-28: >= 2 hours
    keepalive_interval: int = 75 * SECOND
    keepalive_probes: int = 9

    # --- the stack ---
    ephemeral_ports: tuple[int, int] = (32768, 60999)  # [net.ipv4.ip_local_port_range]
    backlog: int = 128  # default listen() backlog [net.core.somaxconn = 4096]
    syn_backlog: int = 256  # half-open connections per listener [net.ipv4.tcp_max_syn_backlog]
    isn_tick: int = 4  # ISN clock: one increment per 4 microseconds (3.4.1)
