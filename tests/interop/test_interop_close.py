"""Both close orders against the kernel, checking its own view (``ss -tan``)
beside synack's at every step (RFC 9293 3.6, figure 5 and 3.10.4):

kernel closes first         kernel (ss)     synack
  established               ESTAB           ESTABLISHED
  kernel close()            FIN-WAIT-2      CLOSE-WAIT     (synack ACKed the FIN)
  synack close()            TIME-WAIT       CLOSED         (LAST-ACK until the kernel ACKs)

synack closes first
  established               ESTAB           ESTABLISHED
  synack close()            CLOSE-WAIT      FIN-WAIT-2     (the kernel app has not closed)
  kernel close()            (gone)          TIME-WAIT      (2*MSL, MUST-13)

Each order runs with synack as the client and as the server.
"""

from __future__ import annotations

import socket

import pytest
from interop_helpers import FAMILIES, WAIT, Link

from synack.api.blocking import Socket
from synack.tcp.state import State

PORT = 7100


def establish(link: Link, synack_is_client: bool) -> tuple[Socket, socket.socket, tuple]:
    """An established connection: (synack socket, kernel socket, synack's 4-tuple)."""
    family, kernel_address, synack_address = FAMILIES["ipv4"]
    if synack_is_client:
        listener = link.kernel_listener(family, kernel_address, PORT)
        ours = link.network.create_connection((str(kernel_address), PORT), timeout=WAIT)
        theirs, _ = listener.accept()
        link.cleanups.append(theirs.close)
        listener.close()
    else:
        synack_listener = link.network.socket(family)
        synack_listener.bind((str(synack_address), PORT))
        synack_listener.listen(1)
        synack_listener.settimeout(WAIT)
        theirs = link.kernel_connect(family, synack_address, PORT)
        ours, _ = synack_listener.accept()
        synack_listener.close()
    ours.settimeout(WAIT)
    theirs.settimeout(WAIT)
    local = ours.getsockname()
    remote = ours.getpeername()
    return ours, theirs, (local[0], local[1], remote[0], remote[1])


def kernel_ports(four_tuple: tuple) -> tuple[int, int]:
    """(kernel's local port, kernel's peer port) for synack's 4-tuple."""
    return four_tuple[3], four_tuple[1]


@pytest.mark.parametrize("synack_is_client", [True, False], ids=["synack-client", "synack-server"])
def test_kernel_closes_first(link: Link, synack_is_client: bool) -> None:
    ours, theirs, four_tuple = establish(link, synack_is_client)
    kernel_local, kernel_peer = kernel_ports(four_tuple)
    link.wait_kernel_state(kernel_local, kernel_peer, "ESTAB")
    assert link.synack_state(four_tuple) is State.ESTABLISHED

    theirs.close()  # the kernel's FIN
    link.wait_kernel_state(kernel_local, kernel_peer, "FIN-WAIT-2")
    link.wait_synack_state(four_tuple, State.CLOSE_WAIT)
    assert ours.recv(10) == b""  # end of stream for synack's application

    ours.close()  # synack's FIN: LAST-ACK, then CLOSED when the kernel ACKs it
    link.wait_kernel_state(kernel_local, kernel_peer, "TIME-WAIT")
    link.wait_synack_state(four_tuple, State.CLOSED)


@pytest.mark.parametrize("synack_is_client", [True, False], ids=["synack-client", "synack-server"])
def test_synack_closes_first(link: Link, synack_is_client: bool) -> None:
    ours, theirs, four_tuple = establish(link, synack_is_client)
    kernel_local, kernel_peer = kernel_ports(four_tuple)
    link.wait_kernel_state(kernel_local, kernel_peer, "ESTAB")
    assert link.synack_state(four_tuple) is State.ESTABLISHED

    ours.close()  # synack's FIN; the kernel application has not closed yet
    link.wait_kernel_state(kernel_local, kernel_peer, "CLOSE-WAIT")
    link.wait_synack_state(four_tuple, State.FIN_WAIT_2)
    assert theirs.recv(10) == b""

    theirs.close()  # the kernel's FIN: LAST-ACK, then gone once synack ACKs it
    link.wait_kernel_state(kernel_local, kernel_peer, None)
    link.wait_synack_state(four_tuple, State.TIME_WAIT)


def test_half_close_keeps_the_other_direction_open(link: Link) -> None:
    """shutdown(SHUT_WR) from synack: the kernel is in CLOSE-WAIT and still sends."""
    ours, theirs, four_tuple = establish(link, synack_is_client=True)
    kernel_local, kernel_peer = kernel_ports(four_tuple)
    ours.shutdown(socket.SHUT_WR)
    link.wait_kernel_state(kernel_local, kernel_peer, "CLOSE-WAIT")
    link.wait_synack_state(four_tuple, State.FIN_WAIT_2)
    assert theirs.recv(10) == b""
    theirs.sendall(b"x" * 100_000)
    received = bytearray()
    while len(received) < 100_000:
        received += ours.recv(65536)
    assert received == b"x" * 100_000
    theirs.close()
    assert ours.recv(10) == b""
    link.wait_synack_state(four_tuple, State.TIME_WAIT)
    link.wait_kernel_state(kernel_local, kernel_peer, None)
    ours.close()


def test_synack_abort_resets_the_kernel(link: Link) -> None:
    """SO_LINGER 0 (ABORT, 3.10.5): RST; the kernel socket is gone and reports ECONNRESET."""
    ours, theirs, four_tuple = establish(link, synack_is_client=True)
    kernel_local, kernel_peer = kernel_ports(four_tuple)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    ours.close()
    link.wait_kernel_state(kernel_local, kernel_peer, None)
    with pytest.raises(ConnectionResetError):
        theirs.recv(10)
    assert link.synack_state(four_tuple) is State.CLOSED
