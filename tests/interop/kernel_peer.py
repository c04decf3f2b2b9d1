"""A kernel TCP peer for the interop tests, run in the namespace as its own process.

``python kernel_peer.py MODE ADDRESS PORT [SIZE]`` with MODE one of

* ``sink-server``: listen, accept one connection, read to EOF;
* ``source-server``: listen, accept one, send SIZE deterministic bytes, close;
* ``sink-client``: connect, read to EOF;
* ``source-client``: connect, send SIZE bytes, close.

A server prints ``listening`` once it listens.  At the end the peer prints
one JSON line: ``{"bytes": N, "sha256": HEX, "seconds": S}`` (bytes and
digest of what it read or sent, seconds from the first to the last byte).
In its own process so the kernel side never competes with synack for the
GIL.  Exit status 0 on success.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import time

CHUNK = 1 << 20


def pattern(size: int) -> bytes:
    """SIZE deterministic, not too regular bytes (the same in every process)."""
    block = hashlib.sha256(b"synack interop").digest() * 2048  # 64 KiB
    block = bytes(b ^ (i * 7 & 0xFF) for i, b in enumerate(block))
    repeats, rest = divmod(size, len(block))
    return block * repeats + block[:rest]


def family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def sink(conn: socket.socket) -> dict[str, object]:
    digest = hashlib.sha256()
    total = 0
    start = None
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        count = conn.recv_into(buffer)
        if not count:
            break
        if start is None:
            start = time.monotonic()
        digest.update(view[:count])
        total += count
    seconds = time.monotonic() - start if start is not None else 0.0
    return {"bytes": total, "sha256": digest.hexdigest(), "seconds": seconds}


def source(conn: socket.socket, size: int) -> dict[str, object]:
    data = pattern(size)
    start = time.monotonic()
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    # Wait for the peer's FIN so that "seconds" covers delivery, not buffering.
    while conn.recv(CHUNK):
        pass
    seconds = time.monotonic() - start
    return {"bytes": size, "sha256": hashlib.sha256(data).hexdigest(), "seconds": seconds}


def main(argv: list[str]) -> int:
    mode, address, port_text = argv[:3]
    port = int(port_text)
    size = int(argv[3]) if len(argv) > 3 else 0
    if mode.endswith("-server"):
        listener = socket.socket(family(address), socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(1)
        print("listening", flush=True)
        conn, _ = listener.accept()
        listener.close()
    else:
        conn = socket.create_connection((address, port), timeout=30)
        conn.settimeout(None)
    with conn:
        result = sink(conn) if mode.startswith("sink") else source(conn, size)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
