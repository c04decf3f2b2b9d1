"""The packetdrill runner on small scripts written for these tests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from synack.cli import main
from synack.packetdrill.environment import IPV4, IPV6, Settings, apply_sysctl, run_shell
from synack.packetdrill.parser import parse_text
from synack.packetdrill.runner import RunResult, ScriptRun
from synack.packetdrill.suite import run_suite
from synack.tcp.config import TcpConfig

# A stack without SACK/timestamps/window scaling keeps these scripts short.
PLAIN = "`sysctl -q net.ipv4.tcp_sack=0 net.ipv4.tcp_timestamps=0 net.ipv4.tcp_window_scaling=0`\n"

SERVER = (
    PLAIN
    + """
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
"""
)


def run(text: str, variant=IPV4, **settings: object) -> RunResult:  # type: ignore[no-untyped-def]
    script = parse_text(text, "test.pkt")
    options = Settings()
    options.apply(script.options)
    for name, value in settings.items():
        setattr(options, name, value)
    return ScriptRun(script, variant, settings=options).run()


def test_passive_open_and_data_passes() -> None:
    result = run(
        SERVER
        + """
+0 < P. 1:1001(1000) ack 1 win 65535
+0 > . 1:1(0) ack 1001
+0 read(4, ..., 1000) = 1000
+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1001
+0 close(4) = 0
+0 > F. 11:11(0) ack 1001
"""
    )
    assert result.passed, result.message


def test_same_script_passes_over_ipv6() -> None:
    result = run(SERVER, variant=IPV6)
    assert result.passed, result.message


def test_wrong_flags_fail_with_both_packets_shown() -> None:
    result = run(SERVER.replace("> S. 0:0(0) ack 1 <mss 1460>", "> S 0:0(0) ack 1 <mss 1460>"))
    assert not result.passed
    assert result.line == 8  # counted in the script text, the sysctl line first
    assert "flags: expected S vs actual S." in result.message
    assert "actual packet: > S. 0:0(0) ack 1" in result.message


def test_wrong_option_list_fails() -> None:
    result = run(SERVER.replace("<mss 1460>\n+.1", "<mss 1460,nop,wscale 7>\n+.1"))
    assert not result.passed
    assert "options: expected <mss 1460,nop,wscale 7> vs actual <mss 1460>" in result.message


def test_packet_never_sent_fails() -> None:
    result = run(SERVER + "+0 > F. 1:1(0) ack 1\n")
    assert not result.passed
    assert "was not sent" in result.message


def test_timing_error_for_an_early_packet() -> None:
    """Linux ACKs at once at the start of a connection (quick ACKs): a script
    that expects the ACK half a second later sees a timing error."""
    text = SERVER + "+0 < P. 1:101(100) ack 1 win 65535\n+.5 > . 1:1(0) ack 101\n"
    result = run(text)
    assert not result.passed
    assert "timing error: expected outbound packet at 0.600000 sec" in result.message
    assert "happened at 0.100000 sec" in result.message


def test_timing_window_accepts_a_packet_inside_it() -> None:
    text = SERVER + "+0 < P. 1:101(100) ack 1 win 65535\n-0.01~+.01 > . 1:1(0) ack 101\n"
    text = text.replace("-0.01~+.01", "+0~+.01")
    result = run(text)
    assert result.passed, result.message
    assert run(text.replace("+0~+.01", "+.02~+.03")).passed is False


def test_syscall_result_and_errno_are_checked() -> None:
    result = run(SERVER + "+0 read(4, ..., 10) = 0\n")
    assert not result.passed
    assert "read() would block" in result.message
    nonblocking = SERVER + (
        "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
        "+0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n"
    )
    assert run(nonblocking).passed
    wrong = nonblocking.replace("EAGAIN (Resource", "EPIPE (Resource")
    result = run(wrong)
    assert not result.passed
    assert "returned -1 EAGAIN" in result.message


def test_blocking_read_returns_when_data_arrives() -> None:
    text = (
        SERVER
        + """
+0...0.200 read(4, ..., 1000) = 1000
+.2 < P. 1:1001(1000) ack 1 win 65535
"""
    )
    result = run(text)
    assert result.passed, result.message
    late = text.replace("+0...0.200 read", "+0...0.100 read")
    result = run(late)
    assert not result.passed
    assert "read() did not return" in result.message or "timing error" in result.message


def test_active_open_with_connect() -> None:
    text = (
        PLAIN
        + """
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0...0.010 connect(3, ..., ...) = 0
+0 > S 0:0(0) <mss 1460>
+.01 < S. 0:0(0) ack 1 win 5000 <mss 1000>
+0 > . 1:1(0) ack 1
+0 write(3, ..., 2500) = 2500
+0 > P. 1:2001(2000) ack 1
"""
    )
    # MSS 1000, two segments per TSO packet: the 2500 bytes leave as a packet
    # 1:2001 (PSH on its last segment, as on every multi-segment packet) and
    # 2001:2501 (PSH: the end of the write); the script's 2000 bytes aggregate
    # two segments and are judged on the second.
    assert run(text).passed
    assert run(text.replace("> P. 1:2001(2000)", "> P. 1:2501(2500)")).passed
    result = run(text.replace("> P. 1:2001(2000)", "> P. 1:1001(1000)"))
    assert not result.passed
    assert "flags: expected P. vs actual ." in result.message


def test_inline_python_sees_tcp_info() -> None:
    good = SERVER + "+0 %{ assert tcpi_snd_mss == 1000, tcpi_snd_mss }%\n"
    assert run(good).passed
    bad = SERVER + "+0 %{ assert tcpi_snd_mss == 1460, tcpi_snd_mss }%\n"
    result = run(bad)
    assert not result.passed
    assert "inline Python assertion failed: 1000" in result.message


def test_qdisc_limit_zero_drops_output() -> None:
    text = SERVER + "+0 `tc qdisc add dev tun0 root pfifo limit 0`\n+0 write(4, ..., 10) = 10\n"
    # The handshake measured 100 ms, so the RTO is 100 + 4 * 50 = 300 ms.
    text += "+0 `tc qdisc del dev tun0 root`\n+.3 > P. 1:11(10) ack 1\n"
    result = run(text)
    # The device refused the data, so it stayed unsent (not in flight); the
    # probe timer (one RTO) sent it once the qdisc was gone.
    assert result.passed, result.message


def test_route_metrics_set_the_mss() -> None:
    """`ip route change ... advmss N mtu lock M`: our SYN,ACK advertises N and
    the send MSS is capped by the path MTU M less the headers."""
    text = """
`sysctl -q net.ipv4.tcp_sack=0 net.ipv4.tcp_timestamps=0 net.ipv4.tcp_window_scaling=0
ip route change 192.0.2.1 via 192.168.0.1 dev tun0 advmss 1400 mtu lock 1300`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 <mss 1400>
+.1 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 %{ assert tcpi_snd_mss == 1260, tcpi_snd_mss; assert tcpi_advmss == 1400 }%
"""
    result = run(text)
    assert result.passed, result.message


def test_sysctls_map_onto_the_config() -> None:
    config, known = apply_sysctl(TcpConfig(), "net.ipv4.tcp_syn_retries", "3")
    assert known and config.syn_retries == 3
    config, known = apply_sysctl(TcpConfig(), "net.ipv4.tcp_no_such_thing", "1")
    assert not known
    result = run_shell(
        'sysctl -q net.ipv4.tcp_wmem="4096 $((256*1024)) 4194304"', TcpConfig(), Path(".")
    )
    assert result.config.send_buffer == 262144
    assert not result.ignored


def test_suite_prints_summary_and_fails_on_failure(tmp_path: Path) -> None:
    (tmp_path / "good.pkt").write_text(SERVER)
    (tmp_path / "bad.pkt").write_text(SERVER + "+0 > F. 1:1(0) ack 1\n")
    (tmp_path / "broken.pkt").write_text("0 socket(..., SOCK_STREAM\n")
    out = io.StringIO()
    _reports, status = run_suite([tmp_path], out=out)
    text = out.getvalue()
    assert text.splitlines()[-1] == "1 passed, 2 failed"
    assert status == 1
    assert "broken.pkt:2:1:" in text or "broken.pkt:1:" in text
    expected = tmp_path / "xfail.txt"
    expected.write_text("bad.pkt\tknown gap\nbroken.pkt\tsyntax\n")
    out = io.StringIO()
    _, status = run_suite([tmp_path], out=out, expected_failures=expected)
    assert status == 0
    assert "expected failures: 2 of 2 listed" in out.getvalue()


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.pkt").write_text(SERVER)
    assert main(["packetdrill", "run", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed"
    assert main(["packetdrill", "run", str(tmp_path / "missing.pkt")]) == 2
