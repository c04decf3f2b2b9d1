"""Bulk transfers between synack and the kernel, checked with SHA-256.

50 MB each way over IPv4 (MTU 1500) and 10 MB each way over IPv6; the kernel
side is ``kernel_peer.py`` in its own process (so it never competes with
synack for the GIL).  The measured throughput is printed (``pytest -s``).
"""

from __future__ import annotations

import hashlib
import socket
import time

import pytest
from interop_helpers import FAMILIES, WAIT, Link
from kernel_peer import pattern

MB = 1_000_000
SIZES = {"ipv4": 50 * MB, "ipv6": 10 * MB}


def receive_all(sock: object, digest: hashlib._Hash) -> int:
    total = 0
    while data := sock.recv(1 << 18):  # type: ignore[attr-defined]
        digest.update(data)
        total += len(data)
    return total


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_synack_to_kernel(link: Link, family_name: str) -> None:
    _family, kernel_address, _ = FAMILIES[family_name]
    size = SIZES[family_name]
    data = pattern(size)
    peer = link.kernel_peer("sink-server", kernel_address, 7200)
    sock = link.network.create_connection((str(kernel_address), 7200), timeout=WAIT)
    sock.settimeout(60)
    start = time.monotonic()
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    assert sock.recv(10) == b""  # the sink closes once it has read everything
    elapsed = time.monotonic() - start
    sock.close()
    result = peer.result()
    assert result["bytes"] == size
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    print(
        f"\nsynack -> kernel {family_name}: {size / MB:.0f} MB in {elapsed:.2f} s, "
        f"{size / MB / elapsed:.1f} MB/s"
    )


@pytest.mark.parametrize("family_name", ["ipv4", "ipv6"])
def test_kernel_to_synack(link: Link, family_name: str) -> None:
    family, _, synack_address = FAMILIES[family_name]
    size = SIZES[family_name]
    listener = link.network.socket(family)
    listener.bind((str(synack_address), 7201))
    listener.listen(1)
    listener.settimeout(WAIT)
    peer = link.kernel_peer("source-client", synack_address, 7201, size)
    sock, _ = listener.accept()
    sock.settimeout(60)
    digest = hashlib.sha256()
    start = time.monotonic()
    total = receive_all(sock, digest)
    elapsed = time.monotonic() - start
    sock.close()
    listener.close()
    result = peer.result()
    assert total == size == result["bytes"]
    assert digest.hexdigest() == result["sha256"] == hashlib.sha256(pattern(size)).hexdigest()
    print(
        f"\nkernel -> synack {family_name}: {size / MB:.0f} MB in {elapsed:.2f} s, "
        f"{size / MB / elapsed:.1f} MB/s"
    )
