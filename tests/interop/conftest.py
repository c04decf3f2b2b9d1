"""The ``link`` fixture of the interop tests (see ``interop_helpers``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from interop_helpers import Link, close_link, open_link


@pytest.fixture
def link() -> Iterator[Link]:
    """A fresh namespace + TUN device + synack network, removed afterwards
    (skips the test without root)."""
    opened = open_link()
    try:
        yield opened
    finally:
        close_link(opened)
