"""Errors raised to the caller, shaped like the ``socket`` module's.

The network never raises: bad segments are dropped with a ``DropReason``.
These are for caller misuse and for reporting a connection's fate.
"""

from __future__ import annotations

import errno
import os


def os_error(code: int, detail: str = "") -> OSError:
    """An ``OSError`` (or its built-in subclass) for ``code`` as the socket module raises it."""
    message = os.strerror(code) + (f" ({detail})" if detail else "")
    exc_type: type[OSError] = {
        errno.ECONNREFUSED: ConnectionRefusedError,
        errno.ECONNRESET: ConnectionResetError,
        errno.ECONNABORTED: ConnectionAbortedError,
        errno.EPIPE: BrokenPipeError,
        errno.ETIMEDOUT: TimeoutError,
        errno.EAGAIN: BlockingIOError,
    }.get(code, OSError)
    return exc_type(code, message)
