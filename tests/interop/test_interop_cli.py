"""The ``synack serve`` and ``synack connect`` commands against real programs.

Each test runs the command inside a fresh namespace (``ip netns exec``), where
it creates its TUN device, and talks to it with curl or a Python socket in
the same namespace; the device must be gone when the command exits.  The
root check and argument errors are tested without root.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from interop_helpers import WAIT, create_namespace, wait_for

from synack import cli_net
from synack.cli import main
from synack.net.tun import NetworkNamespace, device_exists, interface, kernel_address_for

MB = 1_000_000


@pytest.fixture
def namespace() -> Iterator[NetworkNamespace]:
    ns = create_namespace("synack-cli")
    try:
        yield ns
    finally:
        ns.delete()


class Command:
    """A ``synack`` command running in the namespace, stderr in a file."""

    def __init__(self, ns: NetworkNamespace, args: list[str], log: Path) -> None:
        self.log = log
        self.stderr = log.open("wb")
        self.process = subprocess.Popen(
            ns.command(sys.executable, "-m", "synack", *args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, marker: str) -> None:
        wait_for(
            lambda: marker in self.text() or self.process.poll() is not None,
            f"{marker!r} from the command",
        )
        assert marker in self.text(), self.text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(WAIT)
        self.stderr.close()
        return self.process.returncode


def serve(ns: NetworkNamespace, tmp_path: Path, *extra: str) -> Command:
    command = Command(
        ns,
        ["serve", "--tun", "synsrv0", "--address", "10.78.0.2/24", "--port", "8080", *extra],
        tmp_path / "serve.log",
    )
    command.wait_ready("Ctrl-C stops")
    return command


def test_serve_http_to_curl(namespace: NetworkNamespace, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    root = tmp_path / "www"
    root.mkdir()
    big = os.urandom(MB) * 20  # 20 MB
    (root / "big.bin").write_bytes(big)
    (root / "hello.txt").write_text("hello from a file\n")
    server = serve(namespace, tmp_path, "--app", "http", "--root", str(root))
    try:
        page = namespace.check_output("curl", "-sS", "--max-time", "20", "http://10.78.0.2:8080/")
        assert "Hello from synack" in page and "big.bin" in page
        text = namespace.check_output("curl", "-sS", "http://10.78.0.2:8080/hello.txt")
        assert text == "hello from a file\n"
        out = tmp_path / "big.out"
        namespace.check_output(
            "curl", "-sS", "--max-time", "60", "-o", str(out), "http://10.78.0.2:8080/big.bin"
        )
        assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(big).digest()
        missing = namespace.check_output(
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://10.78.0.2:8080/nope"
        )
        assert missing == "404"
    finally:
        status = server.stop()
    log = server.text()
    assert status == 0, log
    for expected in ("LISTEN", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "TIME-WAIT"):
        assert expected in log
    assert "not shown" in log  # the bulk of the 20 MB is summarised, not drawn
    assert not device_exists("synsrv0", namespace.name)  # created, so removed


def test_serve_echo_to_a_kernel_client(namespace: NetworkNamespace, tmp_path: Path) -> None:
    pcap = tmp_path / "echo.pcap"
    server = serve(namespace, tmp_path, "--app", "echo", "--pcap", str(pcap))
    try:

        def talk() -> bytes:
            with socket.create_connection(("10.78.0.2", 8080), timeout=WAIT) as sock:
                sock.sendall(b"echo me\n" * 5000)
                sock.shutdown(socket.SHUT_WR)
                received = bytearray()
                while data := sock.recv(65536):
                    received += data
                return bytes(received)

        assert namespace.run(talk) == b"echo me\n" * 5000
    finally:
        assert server.stop() == 0, server.text()
    assert pcap.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")  # little-endian pcap magic
    assert pcap.stat().st_size > 40_000


def test_connect_half_close_to_a_kernel_echo_server(
    namespace: NetworkNamespace, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    source = tmp_path / "send.bin"
    source.write_bytes(data)
    command: Command | None = None

    def listen() -> socket.socket:
        # The device does not exist yet: listen on any address, port 9000.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", 9000))
        sock.listen(1)
        sock.settimeout(WAIT)
        return sock

    listener = namespace.run(listen)
    errors: list[BaseException] = []

    def echo() -> None:
        try:
            conn, _ = listener.accept()
            with conn:
                while chunk := conn.recv(65536):
                    conn.sendall(chunk)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=echo)
    thread.start()
    try:
        command = Command(
            namespace,
            [
                "connect",
                "--tun",
                "syncli0",
                "--address",
                "10.79.0.2/24",
                "10.79.0.1",
                "9000",
                "--send",
                str(source),
                "--half-close",
                "--ladder",
            ],
            tmp_path / "connect.log",
        )
        out, _ = command.process.communicate(timeout=60)
        thread.join(WAIT)
    finally:
        listener.close()
        if command is not None:
            command.stop()
    assert not errors
    log = command.text()
    assert command.process.returncode == 0, log
    assert out == data
    for expected in ("SYN-SENT", "ESTABLISHED", "shutdown(SHUT_WR)", "FIN-WAIT-1", "TIME-WAIT"):
        assert expected in log, log
    assert "time(ms)  synack" in log  # --ladder: the whole ladder at the end
    assert not device_exists("syncli0", namespace.name)


def test_connect_to_a_closed_kernel_port(namespace: NetworkNamespace, tmp_path: Path) -> None:
    command = Command(
        namespace,
        ["connect", "--tun", "syncli1", "--address", "10.80.0.2/24", "10.80.0.1", "9001"],
        tmp_path / "refused.log",
    )
    command.process.communicate(b"", timeout=30)
    assert command.process.returncode == 1
    assert "Connection refused" in command.text()
    command.stop()


def test_existing_device_is_kept(namespace: NetworkNamespace, tmp_path: Path) -> None:
    """A persistent TUN device that was there before stays (its added address goes)."""
    subprocess.run(
        namespace.command("ip", "tuntap", "add", "dev", "synkeep0", "mode", "tun"), check=True
    )
    server = serve(namespace, tmp_path, "--tun", "synkeep0", "--app", "discard")
    try:
        time.sleep(0.1)
        addresses = namespace.check_output("ip", "-o", "addr", "show", "dev", "synkeep0")
        assert "10.78.0.1/24" in addresses
    finally:
        assert server.stop() == 0, server.text()
    assert device_exists("synkeep0", namespace.name)
    addresses = namespace.check_output("ip", "-o", "addr", "show", "dev", "synkeep0")
    assert "10.78.0.1" not in addresses


# ---------------------------------------------------------------------- without root


def test_commands_say_they_need_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_net, "require_root", lambda: "needs root (TUN devices)")
    status = main(["serve", "--tun", "x0", "--address", "10.0.0.2/24", "--port", "80"])
    assert status == 2
    assert "needs root" in capsys.readouterr().err
    status = main(["connect", "--tun", "x0", "--address", "10.0.0.2/24", "10.0.0.1", "80"])
    assert status == 2


def test_bad_addresses_are_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_net, "require_root", lambda: None)
    args = ["serve", "--tun", "x0", "--port", "80", "--address"]
    assert main([*args, "10.0.0.300/24"]) == 2
    assert main([*args, "10.0.0.2/24", "--kernel-address", "fd00::1/64"]) == 2
    assert main([*args, "10.0.0.2/24", "--kernel-address", "10.0.0.2/24"]) == 2
    assert main([*args, "10.0.0.2/32"]) == 2
    assert "synack serve" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("synack", "kernel"),
    [
        ("10.0.0.2/24", "10.0.0.1/24"),
        ("10.0.0.1/24", "10.0.0.2/24"),
        ("192.168.7.0/31", "192.168.7.1/31"),
        ("fd00::2/64", "fd00::1/64"),
        ("fd00::1/64", "fd00::2/64"),
    ],
)
def test_default_kernel_address(synack: str, kernel: str) -> None:
    assert str(kernel_address_for(interface(synack))) == kernel


def test_parser_has_the_commands() -> None:
    from synack.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(
        ["connect", "--tun", "t", "--address", "10.0.0.2/24", "10.0.0.1", "80", "--half-close"]
    )
    assert isinstance(args, argparse.Namespace)
    assert args.half_close and args.port == 80 and args.run is cli_net.run_connect
