"""System calls of a packetdrill script, mapped onto synack's socket table.

Arguments are evaluated the way the reference interpreter does (LANGUAGE.md
section 6): ``...`` is "the obvious value" (the run's address family, the
configured address and port, a zero-filled buffer), ``[N]`` a pointer to an
int, ``{...}`` a struct, symbols resolve to Linux's constants.
"""

from __future__ import annotations

import errno as errno_module
from collections.abc import Callable
from dataclasses import dataclass

from synack.api import linux as L
from synack.api.sockets import Call, SocketTable
from synack.packetdrill.ast import (
    BitOr,
    EllipsisExpr,
    Expr,
    Integer,
    List,
    Null,
    String,
    Struct,
    Symbol,
    Syscall,
)
from synack.packetdrill.ast import Call as CallExpr
from synack.packetdrill.environment import Variant


class ScriptError(Exception):
    """The script asks for something synack's interpreter cannot do."""


@dataclass
class Outcome:
    """What a system call returned: a value, or -1 with an errno."""

    value: int
    errno: int = 0

    def text(self) -> str:
        if self.errno:
            name = errno_module.errorcode.get(self.errno, str(self.errno))
            return f"-1 {name} ({_strerror(self.errno)})"
        return str(self.value)


def _strerror(code: int) -> str:
    import os  # the interpreter is a driver, not the sans-IO core

    return os.strerror(code)


def evaluate(expr: Expr) -> int:
    """An integer argument: numbers, Linux symbols, ``A|B``, ``[N]``."""
    if isinstance(expr, Integer):
        return expr.value
    if isinstance(expr, Symbol):
        value = L.SYMBOLS.get(expr.name)
        if value is None:
            raise ScriptError(f"unknown symbol {expr.name}")
        return value
    if isinstance(expr, BitOr):
        result = 0
        for operand in expr.operands:
            result |= evaluate(operand)
        return result
    if isinstance(expr, List) and len(expr.items) == 1:
        return evaluate(expr.items[0])
    if isinstance(expr, CallExpr) and expr.name == "htons" and len(expr.args) == 1:
        return evaluate(expr.args[0])
    raise ScriptError(f"expected an integer, got {type(expr).__name__}")


def expected_errno(call: Syscall) -> int:
    if call.errno is None:
        return 0
    code = L.SYMBOLS.get(call.errno)
    if code is None:
        raise ScriptError(f"unknown errno {call.errno}")
    return code


class SyscallRunner:
    """Executes a script's system calls on a ``SocketTable``."""

    def __init__(
        self,
        table: SocketTable,
        variant: Variant,
        bind_port: int,
        connect_port: int,
        on_socket: Callable[[int], None],
    ) -> None:
        self.table = table
        self.variant = variant
        self.bind_port = bind_port
        self.connect_port = connect_port
        self.on_socket = on_socket  # told which live fd is now "the socket under test"
        self.fds: dict[int, int] = {}  # script fd -> live fd

    def fd(self, expr: Expr) -> int:
        script_fd = evaluate(expr)
        live = self.fds.get(script_fd)
        if live is None:
            if script_fd in self.table.sockets:
                return script_fd  # e.g. close() of an fd never mapped: let EBADF decide
            raise ScriptError(f"unable to find fd with script fd {script_fd}")
        return live

    def start(self, call: Syscall, now: int) -> Call | Outcome:
        """Begin ``call``: an ``Outcome`` when it finished at once, else a pending ``Call``."""
        handler = getattr(self, "_" + call.name, None)
        if handler is None:
            raise ScriptError(f"system call {call.name}() is not supported by synack")
        try:
            result = handler(call, now)
        except BlockingIOError as exc:
            return Outcome(-1, exc.errno or errno_module.EAGAIN)
        except OSError as exc:
            return Outcome(-1, exc.errno or errno_module.EIO)
        return result  # type: ignore[no-any-return]

    def finish(self, call: Syscall, pending: Call) -> Outcome:
        """The outcome of a completed pending call (mapping new fds for accept)."""
        if pending.error is not None:
            return Outcome(-1, pending.error.errno or errno_module.EIO)
        result = pending.result
        if pending.name == "accept" and isinstance(result, int):
            self._map_new_fd(call, result)
            return Outcome(result)
        if isinstance(result, bytes):
            return Outcome(len(result))
        return Outcome(int(result or 0))

    # ------------------------------------------------------------------ calls

    def _map_new_fd(self, call: Syscall, live_fd: int) -> None:
        if isinstance(call.result, Integer) and call.result.value >= 0:
            self.fds[call.result.value] = live_fd
        self.on_socket(live_fd)

    def _socket(self, call: Syscall, now: int) -> Outcome:
        args = call.args
        family = self.variant.family if isinstance(args[0], EllipsisExpr) else evaluate(args[0])
        fd = self.table.socket(family, evaluate(args[1]), evaluate(args[2]))
        self._map_new_fd(call, fd)
        return Outcome(fd)

    def _bind(self, call: Syscall, now: int) -> Outcome:
        self.table.bind(self.fd(call.args[0]), self.variant.local, self.bind_port)
        return Outcome(0)

    def _listen(self, call: Syscall, now: int) -> Outcome:
        self.table.listen(self.fd(call.args[0]), evaluate(call.args[1]))
        return Outcome(0)

    def _accept(self, call: Syscall, now: int) -> Call:
        return self.table.accept(self.fd(call.args[0]), now)

    def _connect(self, call: Syscall, now: int) -> Call:
        fd = self.fd(call.args[0])
        pending = self.table.connect(fd, self.variant.remote, self.connect_port, now)
        self.on_socket(fd)
        return pending

    def _buffer_size(self, buffer: Expr, size: Expr) -> int | None:
        if isinstance(buffer, Null):
            return None
        return evaluate(size)

    def _write(self, call: Syscall, now: int) -> Call:
        size = self._buffer_size(call.args[1], call.args[2])
        data = None if size is None else bytes(size)
        return self.table.write(self.fd(call.args[0]), data, now)

    def _send(self, call: Syscall, now: int) -> Call:
        size = self._buffer_size(call.args[1], call.args[2])
        flags = evaluate(call.args[3]) if len(call.args) > 3 else 0
        data = None if size is None else bytes(size)
        return self.table.write(self.fd(call.args[0]), data, now, flags)

    _sendto = _send

    def _sendmsg(self, call: Syscall, now: int) -> Call:
        message = call.args[1]
        flags = evaluate(call.args[2]) if len(call.args) > 2 else 0
        total = 0
        if isinstance(message, Struct):
            for item in message.fields:
                if item.name == "msg_iov" and isinstance(item.value, List):
                    for iov in item.value.items:
                        if isinstance(iov, Struct) and len(iov.fields) >= 2:
                            total += evaluate(iov.fields[1].value)
        return self.table.write(self.fd(call.args[0]), bytes(total), now, flags)

    def _read(self, call: Syscall, now: int) -> Call:
        size = self._buffer_size(call.args[1], call.args[2])
        return self.table.read(self.fd(call.args[0]), size, now)

    def _recv(self, call: Syscall, now: int) -> Call:
        size = self._buffer_size(call.args[1], call.args[2])
        flags = evaluate(call.args[3]) if len(call.args) > 3 else 0
        return self.table.read(self.fd(call.args[0]), size, now, flags)

    _recvfrom = _recv

    def _close(self, call: Syscall, now: int) -> Outcome:
        fd = self.fd(call.args[0])
        result = self.table.close(fd, now)
        for script_fd, live in list(self.fds.items()):
            if live == fd:
                del self.fds[script_fd]
        return Outcome(result)

    def _shutdown(self, call: Syscall, now: int) -> Outcome:
        return Outcome(self.table.shutdown(self.fd(call.args[0]), evaluate(call.args[1]), now))

    def _setsockopt(self, call: Syscall, now: int) -> Outcome:
        fd = self.fd(call.args[0])
        value_expr = call.args[3]
        value: object
        if isinstance(value_expr, Struct):
            value = {f.name: evaluate(f.value) for f in value_expr.fields if f.name}
        elif isinstance(value_expr, String):
            value = value_expr.value
        else:
            value = [evaluate(value_expr)]
        return Outcome(
            self.table.setsockopt(fd, evaluate(call.args[1]), evaluate(call.args[2]), value)
        )

    def _getsockopt(self, call: Syscall, now: int) -> Outcome:
        fd = self.fd(call.args[0])
        value = self.table.getsockopt(fd, evaluate(call.args[1]), evaluate(call.args[2]))
        expected = call.args[3]
        if (
            isinstance(expected, List)
            and expected.items
            and not isinstance(expected.items[0], EllipsisExpr)
        ):
            want = evaluate(expected.items[0])
            if want != value:
                raise ValueMismatch(f"getsockopt value: expected {want} vs actual {value}")
        return Outcome(0)

    def _fcntl(self, call: Syscall, now: int) -> Outcome:
        fd = self.fd(call.args[0])
        argument = evaluate(call.args[2]) if len(call.args) > 2 else 0
        return Outcome(self.table.fcntl(fd, evaluate(call.args[1]), argument))

    def _ioctl(self, call: Syscall, now: int) -> Outcome:
        fd = self.fd(call.args[0])
        value = self.table.ioctl(fd, evaluate(call.args[1]))
        if len(call.args) > 2 and isinstance(call.args[2], List):
            want = evaluate(call.args[2])
            if want != value:
                raise ValueMismatch(f"ioctl value: expected {want} vs actual {value}")
        return Outcome(0)


class ValueMismatch(Exception):
    """A value a call returned through a pointer differs from the script's."""
