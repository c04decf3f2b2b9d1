"""The `synack` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the `synack` console script."""
    parser = argparse.ArgumentParser(prog="synack", description=__doc__)
    parser.parse_args(argv)
    return 0
