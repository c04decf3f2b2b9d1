"""Transfers that stay intact over a bad link: loss, duplication and reordering.

* ``tc netem`` on the TUN device impairs what the kernel sends (its data, or
  its ACKs when synack sends); skipped where the kernel has no ``sch_netem``.
* A userspace impairment (``ImpairedDevice``: seeded loss, duplication and
  reordering in both directions at the device) runs everywhere.

Each checks the SHA-256 of 5 MB in each direction and that both ends close.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator

import pytest
from interop_helpers import (
    FAMILIES,
    WAIT,
    ImpairedDevice,
    Link,
    close_link,
    open_link,
    wait_for,
)
from kernel_peer import pattern

from synack.net.tun import TunDevice
from synack.tcp.state import State

SIZE = 5_000_000
SEED = int(os.environ.get("SYNACK_IMPAIR_SEED", "4"))
NETEM = ("delay", "2ms", "loss", "2%", "duplicate", "2%", "reorder", "20%", "50%")


def synack_sends(link: Link, port: int) -> None:
    _family, kernel_address, _ = FAMILIES["ipv4"]
    data = pattern(SIZE)
    peer = link.kernel_peer("sink-server", kernel_address, port)
    sock = link.network.create_connection((str(kernel_address), port), timeout=WAIT)
    sock.settimeout(120)
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    assert sock.recv(10) == b""
    sock.close()
    result = peer.result(timeout=120)
    assert result["bytes"] == SIZE
    assert result["sha256"] == hashlib.sha256(data).hexdigest()


def synack_receives(link: Link, port: int) -> None:
    family, _, synack_address = FAMILIES["ipv4"]
    listener = link.network.socket(family)
    listener.bind((str(synack_address), port))
    listener.listen(1)
    listener.settimeout(WAIT)
    peer = link.kernel_peer("source-client", synack_address, port, SIZE)
    sock, _ = listener.accept()
    sock.settimeout(120)
    digest = hashlib.sha256()
    total = 0
    while data := sock.recv(1 << 18):
        digest.update(data)
        total += len(data)
    sock.close()
    listener.close()
    result = peer.result(timeout=120)
    assert total == SIZE
    assert digest.hexdigest() == result["sha256"]


def all_closed_or_time_wait(link: Link) -> bool:
    with link.network.lock:
        return all(
            c.state in (State.CLOSED, State.TIME_WAIT) for c in link.network.stack.connections
        )


@pytest.mark.parametrize("direction", ["synack-sends", "synack-receives"])
def test_netem_loss_duplication_reordering(link: Link, direction: str) -> None:
    link.netem(*NETEM)
    if direction == "synack-sends":
        synack_sends(link, 7300)
    else:
        synack_receives(link, 7301)
    wait_for(lambda: all_closed_or_time_wait(link), "both ends closed")


@pytest.fixture
def impaired_link() -> Iterator[tuple[Link, ImpairedDevice]]:
    devices: list[ImpairedDevice] = []

    def wrap(device: TunDevice) -> ImpairedDevice:
        devices.append(ImpairedDevice(device, seed=SEED))
        return devices[0]

    opened = open_link(wrap=wrap)
    try:
        yield opened, devices[0]
    finally:
        close_link(opened)


@pytest.mark.parametrize("direction", ["synack-sends", "synack-receives"])
def test_userspace_loss_duplication_reordering(
    impaired_link: tuple[Link, ImpairedDevice], direction: str
) -> None:
    link, device = impaired_link
    if direction == "synack-sends":
        synack_sends(link, 7302)
    else:
        synack_receives(link, 7303)
    assert device.stats["lost"] and device.stats["duplicated"] and device.stats["reordered"]
    with link.network.lock:
        retransmitted = sum(
            c.stats.get("retransmitted_segments", 0) for c in link.network.stack.connections
        )
    if direction == "synack-sends":
        assert retransmitted > 0  # synack repaired losses of its own data
    wait_for(lambda: all_closed_or_time_wait(link), "both ends closed")
