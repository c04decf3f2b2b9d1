"""The packetdrill parser, construct by construct, with exact syntax trees."""

from __future__ import annotations

import pytest

from synack.packetdrill import (
    AE_FLAG,
    ANY_TIME,
    ELLIPSIS,
    NULL,
    WILDCARD,
    Action,
    BitOr,
    Call,
    Code,
    Direction,
    Event,
    EventTime,
    Field,
    Integer,
    IpInfo,
    List,
    Packet,
    Script,
    Shell,
    String,
    Struct,
    Symbol,
    Syscall,
    TimeKind,
    format_packet,
    format_time,
    parse_file,
    parse_text,
)
from synack.wire import (
    EOL,
    NOP,
    SACK_PERMITTED,
    MaxSegmentSize,
    Sack,
    TcpFlags,
    Timestamps,
    UnknownOption,
    WindowScale,
)

IN = Direction.INBOUND
OUT = Direction.OUTBOUND
ACK = int(TcpFlags.ACK)
SYN = int(TcpFlags.SYN)


def one(text: str) -> Event:
    """The only event of a one-event script."""
    (event,) = parse_text(text).events
    return event


def action(text: str) -> Action:
    return one(text).action


def exact(usecs: int, relative: bool = False) -> EventTime:
    return EventTime(TimeKind.EXACT, usecs, None, relative)


# --- times (LANGUAGE.md section 3) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", exact(0)),
        ("1", exact(1_000_000)),
        ("1.5", exact(1_500_000)),
        ("0.100", exact(100_000)),
        ("0.000001", exact(1)),
        ("2.0000010", exact(2_000_001)),  # trailing zeros past microseconds are exact
        ("+0", exact(0, relative=True)),
        ("+.1", exact(100_000, relative=True)),
        ("+.04", exact(40_000, relative=True)),
        ("+1.2", exact(1_200_000, relative=True)),
        # Decimal strings, never floats: 0.29 s is exactly 290000 us.
        ("0.29", exact(290_000)),
        ("4294967.295", exact(4_294_967_295_000)),
        ("*", ANY_TIME),
        ("0.1~0.2", EventTime(TimeKind.RANGE, 100_000, 200_000, False)),
        ("+.3~+.310", EventTime(TimeKind.RANGE, 300_000, 310_000, True)),
        ("+0~+0", EventTime(TimeKind.RANGE, 0, 0, True)),
    ],
)
def test_times_of_outbound_packets(text: str, expected: EventTime) -> None:
    assert one(f"{text} > S 0:0(0)").time == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.100...0.200", EventTime(TimeKind.BLOCKING, 100_000, 200_000, False)),
        ("+0...0.000", EventTime(TimeKind.BLOCKING, 0, 0, True)),
        ("+.1...0.200", EventTime(TimeKind.BLOCKING, 100_000, 200_000, True)),
        ("+.08...0.180", EventTime(TimeKind.BLOCKING, 80_000, 180_000, True)),
    ],
)
def test_blocking_times(text: str, expected: EventTime) -> None:
    event = one(f"{text} read(4, ..., 2000) = 2000")
    assert event.time == expected
    again = one(f"{format_time(event.time)} read(4, ..., 2000) = 2000")
    assert again.time == expected


@pytest.mark.parametrize(
    ("time", "text"),
    [
        (exact(0), "0"),
        (exact(1_500_000, True), "+1.5"),
        (exact(40_000, True), "+0.04"),
        (ANY_TIME, "*"),
        (EventTime(TimeKind.RANGE, 300_000, 310_000, True), "+0.3~+0.31"),
        (EventTime(TimeKind.BLOCKING, 100_000, 200_000, True), "+0.1...0.2"),
    ],
)
def test_format_time(time: EventTime, text: str) -> None:
    assert format_time(time) == text


# --- packets (LANGUAGE.md section 4) ---------------------------------------------------


def test_inbound_syn_with_options() -> None:
    assert action("0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>") == Packet(
        IN,
        "S",
        SYN,
        0,
        0,
        0,
        ack=None,
        window=32792,
        options=(MaxSegmentSize(1000), SACK_PERMITTED, NOP, NOP, NOP, WindowScale(7)),
    )


def test_outbound_syn_ack_with_wildcard_options() -> None:
    assert action("0 > S. 0:0(0) ack 1 <...>") == Packet(
        OUT, "S.", SYN | ACK, 0, 0, 0, ack=1, options=WILDCARD
    )


def test_outbound_without_options_is_none() -> None:
    packet = action("+0 > P. 1:10001(10000) ack 1")
    assert packet == Packet(OUT, "P.", int(TcpFlags.PSH) | ACK, 1, 10001, 10000, ack=1)
    assert isinstance(packet, Packet) and packet.options is None and packet.window is None


@pytest.mark.parametrize(
    ("flags", "bits"),
    [
        (".", ACK),
        ("-", 0),
        ("S", SYN),
        ("S.", SYN | ACK),
        ("F.", int(TcpFlags.FIN) | ACK),
        ("FP.", int(TcpFlags.FIN | TcpFlags.PSH) | ACK),
        ("R", int(TcpFlags.RST)),
        ("R.", int(TcpFlags.RST) | ACK),
        ("SR", SYN | int(TcpFlags.RST)),
        ("SEW", SYN | int(TcpFlags.ECE | TcpFlags.CWR)),
        ("U.", int(TcpFlags.URG) | ACK),
        ("A", AE_FLAG),  # AccECN AE, not ACK
        ("SAEW", SYN | AE_FLAG | int(TcpFlags.ECE | TcpFlags.CWR)),
    ],
)
def test_flags(flags: str, bits: int) -> None:
    packet = action(f"0 < {flags} 0:0(0) win 0")
    assert isinstance(packet, Packet)
    assert (packet.flags, packet.flag_bits) == (flags, bits)


def test_flags_dot_may_stand_apart() -> None:
    packet = action("0 > P . 1:2(1) ack 1")
    assert isinstance(packet, Packet) and packet.flags == "P."


def test_sequence_space_allows_whitespace_and_large_numbers() -> None:
    assert action("0 < . 1 : 1001 (1000) ack 4294967295 win 65535") == Packet(
        IN, ".", ACK, 1, 1001, 1000, ack=4294967295, window=65535
    )
    assert action("0 > . 4294967295:4294967295(0)") == Packet(
        OUT, ".", ACK, 4294967295, 4294967295, 0
    )


def test_ack_without_ack_flag_and_urg() -> None:
    assert action("0 > R 2:2(0) ack 1001 win 0 urg 7") == Packet(
        OUT, "R", int(TcpFlags.RST), 2, 2, 0, ack=1001, window=0, urg=7
    )


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("<nop,eol>", (NOP, EOL)),
        ("<mss 65535>", (MaxSegmentSize(65535),)),
        ("<wscale 14>", (WindowScale(14),)),
        ("<sackOK>", (SACK_PERMITTED,)),
        ("<sack 1:1001>", (Sack(((1, 1001),)),)),
        (
            "<nop,nop,sack 7001:8001 4001:5001 1001:3001>",
            (NOP, NOP, Sack(((7001, 8001), (4001, 5001), (1001, 3001)))),
        ),
        ("<nop, nop, sack 1001:2001>", (NOP, NOP, Sack(((1001, 2001),)))),
        ("<TS val 4294967295 ecr 0>", (Timestamps(4294967295, 0),)),
        (
            "<mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>",
            (MaxSegmentSize(1460), SACK_PERMITTED, Timestamps(100, 0), NOP, WindowScale(8)),
        ),
        ("<FO>", (UnknownOption(34, b""),)),
        ("<FO 3021b9d889017eeb>", (UnknownOption(34, bytes.fromhex("3021b9d889017eeb")),)),
        ("<FO 12345678,nop>", (UnknownOption(34, bytes.fromhex("12345678")), NOP)),
        ("<FOEXP abcd0123>", (UnknownOption(254, bytes.fromhex("f989abcd0123")),)),
    ],
)
def test_options(text: str, options: tuple[object, ...]) -> None:
    packet = action(f"0 < S 0:0(0) win 1 {text}")
    assert isinstance(packet, Packet) and packet.options == options
    assert parse_text("0 " + format_packet(packet)).events[0].action == packet


def test_ip_info_and_ports() -> None:
    packet = action("0 > [ect0, tos 0x4, ttl 64, flowlabel 7] 8080>1234 S. 0:0(0) ack 1")
    assert packet == Packet(
        OUT,
        "S.",
        SYN | ACK,
        0,
        0,
        0,
        ack=1,
        ip_info=IpInfo(ecn="ect0", tos=4, ttl=64, flow_label=7),
        ports=(8080, 1234),
    )
    assert isinstance(packet, Packet)
    assert (
        format_packet(packet) == "> [ect0, tos 0x4, ttl 64, flowlabel 7] 8080>1234 S. 0:0(0) ack 1"
    )
    assert action("0 < [ce] . 1:1(0) win 5") == Packet(
        IN, ".", ACK, 1, 1, 0, window=5, ip_info=IpInfo(ecn="ce")
    )


@pytest.mark.parametrize(
    "text",
    [
        "> S 0:0(0)",
        "> S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>",
        "< . 1:1(0) ack 1 win 257 <sack 2001:4001 6001:7001 8001:10001,nop,nop>",
        "< - 0:0(0) win 65535 <mss 1460,sackOK,nop,nop,nop,wscale 7>",
        "> R 2:2(0) ack 1001 <...>",
        "< F. 1:1(0) ack 2 win 65535 urg 3",
        "> [noecn] 1>2 FP. 1:1001(1000) ack 1 win 0 <nop,nop,TS val 1200 ecr 200>",
    ],
)
def test_format_packet_is_the_source_text(text: str) -> None:
    packet = action("0 " + text if text.startswith("<") else "* " + text)
    assert isinstance(packet, Packet)
    assert format_packet(packet) == text


def test_format_packet_prints_empty_options_like_none() -> None:
    packet = Packet(OUT, ".", ACK, 1, 1, 0, ack=1, options=())
    assert format_packet(packet) == "> . 1:1(0) ack 1"


# --- system calls (LANGUAGE.md section 6) ------------------------------------------------


def test_simple_syscalls() -> None:
    assert action("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3") == Syscall(
        "socket", (ELLIPSIS, Symbol("SOCK_STREAM"), Symbol("IPPROTO_TCP")), Integer(3)
    )
    assert action("0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0") == Syscall(
        "setsockopt",
        (Integer(3), Symbol("SOL_SOCKET"), Symbol("SO_REUSEADDR"), List((Integer(1),)), Integer(4)),
        Integer(0),
    )
    assert action("0 getsockopt(4, SOL_TCP, TCP_MAXSEG, [1100], [4]) = 0") == Syscall(
        "getsockopt",
        (
            Integer(4),
            Symbol("SOL_TCP"),
            Symbol("TCP_MAXSEG"),
            List((Integer(1100),)),
            List((Integer(4),)),
        ),
        Integer(0),
    )
    assert action("0 getpid() = 0x1F") == Syscall("getpid", (), Integer(31))


def test_errno_and_notes() -> None:
    assert action("0 write(4, ..., 1000) = -1 EPIPE (Broken pipe)") == Syscall(
        "write", (Integer(4), ELLIPSIS, Integer(1000)), Integer(-1), "EPIPE", "Broken pipe"
    )
    assert action("0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now\n  in progress)") == (
        Syscall(
            "connect",
            (Integer(3), ELLIPSIS, ELLIPSIS),
            Integer(-1),
            "EINPROGRESS",
            "Operation now in progress",
        )
    )
    assert action("0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)") == Syscall(
        "fcntl", (Integer(3), Symbol("F_GETFL")), Integer(2), None, "flags O_RDWR"
    )
    # A symbolic result followed by a note: the note is not a call's arguments.
    assert action("0 f() = FOO (a (nested) note)") == Syscall(
        "f", (), Symbol("FOO"), None, "a (nested) note"
    )
    assert action("0 f() = ...") == Syscall("f", (), ELLIPSIS)


def test_null_bit_or_and_hex() -> None:
    assert action("0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK|0x10) = 0") == Syscall(
        "fcntl",
        (
            Integer(3),
            Symbol("F_SETFL"),
            BitOr((Symbol("O_RDWR"), Symbol("O_NONBLOCK"), Integer(16))),
        ),
        Integer(0),
    )
    assert action("0 read(4, NULL, 1000) = -1 EFAULT (Bad address)") == Syscall(
        "read", (Integer(4), NULL, Integer(1000)), Integer(-1), "EFAULT", "Bad address"
    )


def test_linger_struct() -> None:
    assert action("0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0") == Syscall(
        "setsockopt",
        (
            Integer(3),
            Symbol("SOL_SOCKET"),
            Symbol("SO_LINGER"),
            Struct((Field("onoff", Integer(1)), Field("linger", Integer(0)))),
            Integer(8),
        ),
        Integer(0),
    )


def test_msghdr_spanning_lines() -> None:
    text = """+.01 sendmsg(4, {msg_name(...)=...,
                  msg_iov(3)=[{..., 100}, {..., 0}, {..., 195}],
\t\t  msg_flags=0}, MSG_MORE) = 295"""
    msghdr = Struct(
        (
            Field("msg_name", ELLIPSIS, index=ELLIPSIS),
            Field(
                "msg_iov",
                List(
                    tuple(
                        Struct((Field(None, ELLIPSIS), Field(None, Integer(n))))
                        for n in (100, 0, 195)
                    )
                ),
                index=Integer(3),
            ),
            Field("msg_flags", Integer(0)),
        )
    )
    assert one(text) == Event(
        EventTime(TimeKind.EXACT, 10_000, None, True),
        Syscall("sendmsg", (Integer(4), msghdr, Symbol("MSG_MORE")), Integer(295)),
        1,
        1,
    )
    assert msghdr.get("msg_flags") == Integer(0) and msghdr.get("nope") is None


def test_calls_strings_and_lists() -> None:
    sockaddr = Struct(
        (
            Field("sa_family", Symbol("AF_INET")),
            Field("sin_port", Call("htons", (Integer(8080),))),
            Field("sin_addr", Call("inet_addr", (String("192.0.2.1"),))),
        )
    )
    text = (
        "0 bind(3, {sa_family=AF_INET, sin_port=htons(8080),"
        ' sin_addr=inet_addr("192.0.2.1")}, 16) = 0'
    )
    assert action(text) == Syscall("bind", (Integer(3), sockaddr, Integer(16)), Integer(0))
    assert action("0 f([], [1, [2]], {}, {htons(1)|2}) = 0") == Syscall(
        "f",
        (
            List(()),
            List((Integer(1), List((Integer(2),)))),
            Struct(()),
            Struct((Field(None, BitOr((Call("htons", (Integer(1),)), Integer(2)))),)),
        ),
        Integer(0),
    )


# --- other actions and the script structure (LANGUAGE.md sections 1, 7, 8) -------------


def test_shell_and_code_events() -> None:
    assert action('+0 `nstat | grep X | grep -q " 3 "`') == Shell('nstat | grep X | grep -q " 3 "')
    assert action("+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%") == Code(
        "assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd"
    )


def test_script_structure() -> None:
    text = """// header comment
--tolerance_usecs=100000
--mss=1000
--remote_ip="192.0.2.2"
--verbose
--mss=1460

`../common/defaults.sh
sysctl -q net.ipv4.tcp_rmem="4096 131072 $((32*1024*1024))"`

    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
  +.1 `echo hi`
   +0 %{ x = 1 }%
    * > S 0:0(0) <mss 1460>

`/tmp/sysctl_restore_${PPID}.sh`
"""
    script = parse_text(text, "s.pkt")
    assert script == Script(
        "s.pkt",
        {"tolerance_usecs": "100000", "mss": "1460", "remote_ip": "192.0.2.2", "verbose": ""},
        Shell('../common/defaults.sh\nsysctl -q net.ipv4.tcp_rmem="4096 131072 $((32*1024*1024))"'),
        [
            Event(
                exact(0),
                Syscall(
                    "socket", (ELLIPSIS, Symbol("SOCK_STREAM"), Symbol("IPPROTO_TCP")), Integer(3)
                ),
                11,
                5,
            ),
            Event(exact(100_000, True), Shell("echo hi"), 12, 3),
            Event(exact(0, True), Code("x = 1"), 13, 4),
            Event(ANY_TIME, Packet(OUT, "S", SYN, 0, 0, 0, options=(MaxSegmentSize(1460),)), 14, 5),
        ],
        Shell("/tmp/sysctl_restore_${PPID}.sh"),
    )


def test_events_need_not_be_on_their_own_lines() -> None:
    script = parse_text("0 close(3) = 0 +0 close(4) = 0")
    assert [event.column for event in script.events] == [1, 16]


def test_minimal_script_has_no_options_or_commands() -> None:
    script = parse_text("0 close(3) = 0")
    assert (script.path, script.options, script.init_command, script.cleanup_command) == (
        "<string>",
        {},
        None,
        None,
    )


def test_defines() -> None:
    text = "0 setsockopt(3, CMSG_LEVEL_IP, X, [MSS], 4) = 0\n+0 < S 0:0(0) win 1 <mss MSS>"
    script = parse_text(text, defines={"CMSG_LEVEL_IP": "SOL_IP", "MSS": "1000"})
    assert script.events[0].action == Syscall(
        "setsockopt",
        (Integer(3), Symbol("SOL_IP"), Symbol("X"), List((Integer(1000),)), Integer(4)),
        Integer(0),
    )
    assert script.events[1].action == Packet(
        IN, "S", SYN, 0, 0, 0, window=1, options=(MaxSegmentSize(1000),)
    )


def test_parse_file(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "x.pkt"
    path.write_text("0 close(3) = 0\n")
    script = parse_file(path, defines={"X": "1"})
    assert script.path == str(path) and len(script.events) == 1
