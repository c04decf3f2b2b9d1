"""synack.wire is sans-IO: no sockets, threads, event loops, clocks, randomness or log handlers."""

from __future__ import annotations

import ast
from pathlib import Path

import synack.wire

FORBIDDEN = {"socket", "threading", "asyncio", "time", "random", "select", "selectors", "logging"}


def test_wire_imports_nothing_that_does_io() -> None:
    package = Path(synack.wire.__file__).parent
    sources = sorted(package.glob("*.py"))
    assert sources
    for source in sources:
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{source.name} imports {name}"
