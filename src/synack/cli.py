"""The `synack` command line.

synack demo [NAME] [--seed N] [--loss P] [--delay MS] [--pcap FILE] [--width N] [--color]
            [--format text|svg|html|mermaid] [--out FILE] [--lang en|zh]
synack demo --list [--lang en|zh]
synack demo --kernel [--pcap FILE] [--width N] [--color] [--absolute]   (root)
synack states [--demo [--seed N] [--loss P]] [--out FILE]
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
            "a response, the four-way close and TIME-WAIT expiring. Deterministic for a seed. "
            "With NAME, a teaching scenario instead: a classic TCP question answered by a run, "
            "with commentary in English or Chinese (synack demo --list)."
        ),
    )
    demo.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="a teaching scenario (handshake, why-three, time-wait, ...: see --list); "
        "without it, the lifecycle demo",
    )
    demo.add_argument("--list", action="store_true", help="list the teaching scenarios")
    demo.add_argument(
        "--lang",
        choices=["en", "zh"],
        help="language of a scenario's commentary: en (default) or zh (Chinese)",
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument(
        "--loss", type=_probability, default=0.0, help="loss probability per packet (default 0)"
    )
    demo.add_argument(
        "--delay", type=_non_negative, default=10.0, help="one-way delay in ms (default 10)"
    )
    demo.add_argument(
        "--pcap",
        metavar="FILE",
        help="also write the packets as a pcap file (pcapng, with a comment on each packet "
        "naming the state changes it caused, when FILE ends in .pcapng)",
    )
    demo.add_argument(
        "--format",
        choices=["text", "svg", "html", "mermaid"],
        default="text",
        help="ladder format (default text)",
    )
    demo.add_argument("--out", metavar="FILE", help="write the ladder to FILE instead of stdout")
    demo.add_argument("--width", type=int, help="line width (default: the terminal's)")
    demo.add_argument("--color", action="store_true", help="colour the ladder (ANSI)")
    demo.add_argument("--absolute", action="store_true", help="show absolute sequence numbers only")
    demo.add_argument(
        "--kernel",
        action="store_true",
        help="run the lifecycle against the Linux kernel over a TUN device in a private "
        "network namespace, both roles, with the kernel's socket states from ss (root; "
        "text ladders; takes --width, --color, --absolute, --pcap)",
    )
    states = commands.add_parser(
        "states",
        help="draw the TCP state diagram as SVG, highlighting the transitions a run took",
        description=(
            "The RFC 9293 state diagram drawn from synack's transitions table. With --demo, "
            "the lifecycle demo runs (as `synack demo` would) and the transitions its "
            "connections took are highlighted, with each connection's path listed."
        ),
    )
    states.add_argument("--demo", action="store_true", help="highlight the lifecycle demo's run")
    states.add_argument("--seed", type=int, default=1, help="the demo's random seed (default 1)")
    states.add_argument(
        "--loss", type=_probability, default=0.0, help="the demo's loss probability (default 0)"
    )
    states.add_argument("--out", metavar="FILE", help="write the SVG to FILE instead of stdout")
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
    from synack.cli_net import add_commands as add_net_commands

    add_net_commands(commands)  # serve, connect (synack on a TUN device)
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
    from pathlib import Path

    if args.list or args.name:  # a teaching scenario (synack.scenarios)
        from synack.scenarios.command import run as run_scenario

        return run_scenario(args)
    if args.lang:
        print("synack demo: --lang applies to the scenarios (synack demo NAME)", file=sys.stderr)
        return 2
    if args.kernel:
        return run_kernel_demo(args)

    from synack.demo import REQUEST, RESPONSE, run_lifecycle
    from synack.trace.pcap import write_pcap
    from synack.trace.pcapng import write_pcapng
    from synack.trace.render import render

    result = run_lifecycle(seed=args.seed, loss=args.loss, delay=int(args.delay * MS))
    options: dict[str, object] = {"relative": not args.absolute}
    if args.format == "text":
        width = args.width
        terminal = sys.stdout.isatty() and args.out is None
        if width is None and terminal:
            width = shutil.get_terminal_size().columns
        options["width"] = width
        options["color"] = args.color or (terminal and width is not None and args.width is None)
    ladder = render(result.sim.trace, "client", "server", args.format, **options)
    # Status lines go to stdout with the text ladder or a file, else to stderr
    # so that `synack demo --format svg > ladder.svg` writes a clean document.
    report = sys.stdout if args.format == "text" or args.out else sys.stderr
    if args.out:
        Path(args.out).write_text(ladder, encoding="utf-8")
        print(f"wrote the {args.format} ladder to {args.out}", file=report)
    elif args.format == "text":
        print(ladder)
    else:
        sys.stdout.write(ladder)
    if args.pcap:
        writer = write_pcapng if args.pcap.endswith(".pcapng") else write_pcap
        count = writer(args.pcap, result.sim.trace)
        print(f"\nwrote {count} packets to {args.pcap}", file=report)
    print(file=report)
    if result.complete:
        print(
            f"ok: {len(REQUEST)}-byte request and {len(RESPONSE)}-byte response delivered, "
            "both ends CLOSED",
            file=report,
        )
        return 0
    print("the lifecycle did not complete (see the ladder)", file=sys.stderr)
    return 1


def run_kernel_demo(args: argparse.Namespace) -> int:
    from synack.kernel_demo import run_kernel_demo as run

    if args.format != "text" or args.out or args.loss or args.delay != 10.0 or args.seed != 1:
        print(
            "synack demo --kernel: --format, --out, --seed, --loss and --delay apply to the "
            "simulated demo only",
            file=sys.stderr,
        )
        return 2
    width = args.width
    if width is None and sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
    color = args.color or (sys.stdout.isatty() and args.width is None)
    return run(sys.stdout, width=width, color=color, relative=not args.absolute, pcap=args.pcap)


def run_states(args: argparse.Namespace) -> int:
    from pathlib import Path

    from synack.trace.statediagram import connection_paths, render_state_diagram

    trace = None
    title = None
    if args.demo:
        from synack.demo import run_lifecycle

        trace = run_lifecycle(seed=args.seed, loss=args.loss).sim.trace
        title = f"TCP connection states: the lifecycle demo (seed {args.seed}, loss {args.loss})"
    svg = render_state_diagram(trace, title=title)
    if not args.out:
        sys.stdout.write(svg)
        return 0
    Path(args.out).write_text(svg, encoding="utf-8")
    print(f"wrote the state diagram to {args.out}")
    for line in connection_paths(trace or []):
        print(f"  {line}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the `synack` console script."""
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        # The reader went away (`synack demo | head`): stop quietly, as Unix tools do.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo(args)
    if args.command == "states":
        return run_states(args)
    if args.command in ("serve", "connect"):
        return int(args.run(args))
    if args.command == "packetdrill" and getattr(args, "pd_command", None) == "run":
        return run_packetdrill(args)
    parser.print_help()
    return 2
