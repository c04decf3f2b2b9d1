"""The protocol core is sans-IO (design guide, principle 1).

Every module under ``synack.wire`` and ``synack.tcp`` -- and every other
``synack`` module they import, followed transitively (``synack.trace.records``
for instance) -- must not import anything that reaches a clock, a socket, a
thread, an event loop, the global random generator, a subprocess or a log
handler.  Checked by parsing source (every ``import`` and ``from ... import``
anywhere in the file, including inside functions and ``if TYPE_CHECKING``
blocks), never by importing the modules.

``os`` is the one allowed exception, and only for ``os.strerror`` (turning an
errno into the socket module's message in ``tcp/errors.py``): a module may
import ``os`` only if every use of the name is ``os.strerror``.  ``logging`` is
treated the same way: a logger may be looked up (``logging.getLogger``) but
handlers and configuration (``logging.handlers``, ``logging.config``,
``basicConfig``, ``*Handler``) are forbidden.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import synack

SRC = Path(synack.__file__).parent
CORE_PACKAGES = ("wire", "tcp")

#: Top-level modules the core must never import: clocks, sockets, threads,
#: processes, event loops, randomness, dynamic imports.
FORBIDDEN = frozenset(
    {
        "socket",
        "socketserver",
        "ssl",
        "select",
        "selectors",
        "threading",
        "_thread",
        "multiprocessing",
        "concurrent",
        "asyncio",
        "subprocess",
        "signal",
        "sched",
        "time",
        "datetime",
        "calendar",
        "random",
        "secrets",
        "uuid",
        "importlib",
        "http",
        "urllib",
    }
)
#: Attributes of ``os`` the core may use (errno messages only).
OS_ALLOWED = frozenset({"strerror"})
#: Attributes of ``logging`` the core may use (no handlers, no configuration).
LOGGING_ALLOWED = frozenset({"getLogger", "Logger", "DEBUG", "INFO", "WARNING", "ERROR"})
FORBIDDEN_LOGGING_MODULES = frozenset({"logging.handlers", "logging.config"})


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def module_name(path: Path) -> str:
    """``src/synack/tcp/seq.py`` -> ``synack.tcp.seq`` (packages end in ``__init__``)."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(tree: ast.AST, current: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module named by an import statement anywhere in ``tree``, with its line.

    ``from pkg import name`` yields both ``pkg`` and ``pkg.name`` (the name may
    be a submodule; a missing one is harmless).
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = resolve(node, current, is_package)
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def restricted_name_uses(
    tree: ast.AST, name: str, allowed: frozenset[str]
) -> list[tuple[int, str]]:
    """Uses of the bare name ``name`` other than ``name.<allowed attribute>``."""
    ok: set[int] = set()
    bad: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == name
        ):
            ok.add(id(node.value))
            if node.attr not in allowed:
                bad.append((node.lineno, f"{name}.{node.attr}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and id(node) not in ok:
            bad.append((node.lineno, f"bare use of {name!r}"))
    return bad


def check_source(source: str, module: str, is_package: bool = False) -> list[Violation]:
    """Sans-IO violations in one module's source."""
    tree = ast.parse(source)
    violations: list[Violation] = []
    for line, name in imported_modules(tree, module, is_package):
        top = name.split(".")[0]
        if top in FORBIDDEN or name in FORBIDDEN_LOGGING_MODULES:
            violations.append(Violation(module, line, f"imports {name}"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module in ("os", "logging")
        ):
            allowed = OS_ALLOWED if node.module == "os" else LOGGING_ALLOWED
            for alias in node.names:
                if alias.name not in allowed:
                    violations.append(
                        Violation(module, node.lineno, f"from {node.module} import {alias.name}")
                    )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("os.") or (
                    alias.name in ("os", "logging") and alias.asname not in (None, alias.name)
                ):
                    violations.append(
                        Violation(module, node.lineno, f"import {alias.name} (as {alias.asname})")
                    )
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("__import__", "exec", "eval"):
                violations.append(Violation(module, node.lineno, f"calls {func.id}()"))
    imports = {name for _, name in imported_modules(tree, module, is_package)}
    for name, allowed in (("os", OS_ALLOWED), ("logging", LOGGING_ALLOWED)):
        if name in imports:
            for line, what in restricted_name_uses(tree, name, allowed):
                violations.append(Violation(module, line, what))
    return violations


def source_path(module: str) -> Path | None:
    """The file of a ``synack`` module, or None if it is not a module (a name in one)."""
    relative = Path(*module.split(".")[1:])
    for candidate in (SRC / relative / "__init__.py", SRC / relative.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def core_closure() -> dict[str, Path]:
    """Every core module plus every ``synack`` module reachable from them by imports."""
    todo = [path for package in CORE_PACKAGES for path in sorted((SRC / package).glob("*.py"))]
    seen: dict[str, Path] = {}
    while todo:
        path = todo.pop()
        name = module_name(path)
        if name in seen:
            continue
        seen[name] = path
        tree = ast.parse(path.read_text(), filename=str(path))
        for _, imported in imported_modules(tree, name, path.name == "__init__.py"):
            if imported == "synack" or imported.startswith("synack."):
                found = source_path(imported)
                if found is not None and module_name(found) not in seen:
                    todo.append(found)
    return seen


# ---------------------------------------------------------------- the real check


def test_core_modules_are_found() -> None:
    closure = core_closure()
    for must in ("synack.tcp.connection", "synack.tcp.stack", "synack.wire.tcp", "synack.tcp.seq"):
        assert must in closure
    # Followed transitively out of the core packages:
    assert "synack.trace.records" in closure


@pytest.mark.parametrize("module", sorted(core_closure()))
def test_module_is_sans_io(module: str) -> None:
    path = core_closure()[module]
    violations = check_source(path.read_text(), module, path.name == "__init__.py")
    assert not violations, "\n".join(map(str, violations))


def test_os_is_used_only_for_strerror() -> None:
    """The one ``os`` import of the core is errors.py's ``os.strerror``."""
    users = []
    for module, path in core_closure().items():
        tree = ast.parse(path.read_text())
        if "os" in {name for _, name in imported_modules(tree, module, False)}:
            users.append(module)
            assert not restricted_name_uses(tree, "os", OS_ALLOWED)
    assert users == ["synack.tcp.errors"] or users == []


# ---------------------------------------------------------------- the checker catches cheats


@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "import time as clock",
        "from time import monotonic",
        "import asyncio.events",
        "from concurrent.futures import ThreadPoolExecutor",
        "def f():\n    import random\n    return random.random()",
        "class C:\n    def m(self):\n        from threading import Lock",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import selectors",
        "import datetime",
        "import subprocess",
        "import multiprocessing",
        "import logging.handlers",
        "from logging import StreamHandler",
        "import logging\nlogging.basicConfig()",
        "import os\nos.getpid()",
        "import os\nx = os",
        "from os import urandom",
        "import os.path",
        "import os as o",
        "__import__('socket')",
    ],
)
def test_checker_rejects(source: str) -> None:
    assert check_source(source, "synack.tcp.example")


@pytest.mark.parametrize(
    "source",
    [
        "import os\nmessage = os.strerror(5)",
        "from os import strerror",
        "import errno, struct, heapq",
        "from synack.tcp.seq import Seq",
        "import logging\nlog = logging.getLogger(__name__)",
        "from . import seq",
    ],
)
def test_checker_accepts(source: str) -> None:
    assert check_source(source, "synack.tcp.example") == []


def test_relative_imports_are_resolved() -> None:
    tree = ast.parse("from ..wire import tcp\nfrom .seq import Seq\nfrom . import x")
    names = {name for _, name in imported_modules(tree, "synack.tcp.connection", False)}
    assert {"synack.wire", "synack.wire.tcp", "synack.tcp.seq", "synack.tcp.x"} <= names
    assert check_source("from .. import time", "synack.tcp.example") == []  # synack.time
