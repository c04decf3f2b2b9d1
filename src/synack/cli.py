"""The `synack` command line.

synack demo [--seed N] [--loss P] [--delay MS] [--pcap FILE] [--width N] [--color]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence

from synack.tcp.config import MS


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability in [0, 1)")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synack",
        description="A userspace TCP in Python: see and drive the connection lifecycle.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the TCP lifecycle between two simulated hosts and print the ladder",
        description=(
            "Two synack hosts in the simulated network: three-way handshake, a request and "
            "a response, the four-way close and TIME-WAIT expiring. Deterministic for a seed."
        ),
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument(
        "--loss", type=_probability, default=0.0, help="loss probability per packet (default 0)"
    )
    demo.add_argument(
        "--delay", type=_non_negative, default=10.0, help="one-way delay in ms (default 10)"
    )
    demo.add_argument("--pcap", metavar="FILE", help="also write the packets as a pcap file")
    demo.add_argument("--width", type=int, help="line width (default: the terminal's)")
    demo.add_argument("--color", action="store_true", help="colour the ladder (ANSI)")
    demo.add_argument("--absolute", action="store_true", help="show absolute sequence numbers only")
    packetdrill = commands.add_parser(
        "packetdrill", help="run packetdrill scripts against synack in virtual time"
    )
    pd_commands = packetdrill.add_subparsers(dest="pd_command", metavar="SUBCOMMAND")
    run = pd_commands.add_parser(
        "run",
        help="run scripts (files or folders, recursively)",
        description=(
            "Run packetdrill scripts against a synack stack in virtual time: PASS or FAIL per "
            "script (all its variants), the mismatch and the ladder for failures, then "
            "'N passed, M failed'."
        ),
    )
    run.add_argument("paths", nargs="+", metavar="PATH")
    run.add_argument("--verbose", action="store_true", help="print every event")
    run.add_argument("--ladder", action="store_true", help="print each run's ladder")
    run.add_argument("--tolerance_usecs", "--tolerance-usecs", type=int, dest="tolerance")
    run.add_argument(
        "--variant",
        action="append",
        choices=["ipv4", "ipv6", "ipv4-mapped-ipv6"],
        help="run only these variants (default: as the script's source runs it)",
    )
    run.add_argument(
        "--expected-failures",
        metavar="FILE",
        help="scripts known to fail (path<TAB>reason); only changes fail the run",
    )
    return parser


def run_packetdrill(args: argparse.Namespace) -> int:
    from pathlib import Path

    from synack.packetdrill.suite import run_suite

    for path in args.paths:
        if not Path(path).exists():
            print(f"synack packetdrill: {path}: no such file or folder", file=sys.stderr)
            return 2
    _, status = run_suite(
        args.paths,
        expected_failures=Path(args.expected_failures) if args.expected_failures else None,
        variants=args.variant,
        tolerance_usecs=args.tolerance,
        verbose=args.verbose,
        ladder=args.ladder,
    )
    return status


def run_demo(args: argparse.Namespace) -> int:
    from synack.demo import REQUEST, RESPONSE, run_lifecycle
    from synack.trace.ladder import render_ladder
    from synack.trace.pcap import write_pcap

    result = run_lifecycle(seed=args.seed, loss=args.loss, delay=int(args.delay * MS))
    width = args.width
    if width is None and sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
    color = args.color or (sys.stdout.isatty() and width is not None and args.width is None)
    print(
        render_ladder(
            result.sim.trace,
            "client",
            "server",
            relative=not args.absolute,
            width=width,
            color=color,
        )
    )
    if args.pcap:
        count = write_pcap(args.pcap, result.sim.trace)
        print(f"\nwrote {count} packets to {args.pcap}")
    print()
    if result.complete:
        print(
            f"ok: {len(REQUEST)}-byte request and {len(RESPONSE)}-byte response delivered, "
            "both ends CLOSED"
        )
        return 0
    print("the lifecycle did not complete (see the ladder)", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the `synack` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo(args)
    if args.command == "packetdrill" and getattr(args, "pd_command", None) == "run":
        return run_packetdrill(args)
    parser.print_help()
    return 2
