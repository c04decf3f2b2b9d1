"""``synack demo --list`` and ``synack demo NAME``: the scenarios on the command line.

``synack.cli`` parses the arguments (``--seed --loss --delay --pcap --format
--out --width --color --absolute --lang``) and hands them here.
"""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from synack.scenarios import SCENARIOS
from synack.scenarios.lab import Params, run_scenario
from synack.scenarios.output import render_run, write_pcaps
from synack.scenarios.text import LANGUAGES, T
from synack.tcp.config import MS

LIST_HEADER = T(
    "The classic TCP questions, each answered by a simulator run (synack demo NAME [--lang zh]):",
    "经典的 TCP 问题，每个都用一次模拟运行来回答（synack demo NAME [--lang zh]）：",
)
LIST_FOOTER = T(
    "Without a NAME, `synack demo` runs the whole lifecycle (handshake, request, response, close).",
    "不带 NAME 时，synack demo 运行完整的生命周期（握手、请求、响应、关闭）。",
)
NOT_SHOWN = T(
    "this run did not show everything the scenario is meant to show (see the ✗ above): "
    "loss or another seed can hide it",
    "这次运行没有展示出场景要说明的全部内容（见上面的 ✗）：丢包或换一个种子都可能掩盖它",
)


def list_scenarios(lang: str = "en") -> str:
    """The scenarios, one per line, with their summaries."""
    width = max(len(name) for name in SCENARIOS)
    lines = [LIST_HEADER(lang), ""]
    lines += [
        f"  {name.ljust(width)}  {scenario.summary(lang)}" for name, scenario in SCENARIOS.items()
    ]
    lines += ["", LIST_FOOTER(lang)]
    return "\n".join(lines) + "\n"


def unknown(name: str) -> str:
    names = ", ".join(SCENARIOS)
    return f"synack demo: no scenario {name!r} (try synack demo --list): {names}"


def run(args: argparse.Namespace) -> int:
    """Run ``synack demo --list`` or ``synack demo NAME`` as parsed by ``synack.cli``."""
    lang = args.lang or LANGUAGES[0]
    if getattr(args, "kernel", False):
        print("synack demo: --kernel runs the lifecycle only, not a scenario", file=sys.stderr)
        return 2
    if args.list:
        sys.stdout.write(list_scenarios(lang))
        return 0
    scenario = SCENARIOS.get(args.name)
    if scenario is None:
        print(unknown(args.name), file=sys.stderr)
        return 2
    result = run_scenario(scenario, Params(args.seed, args.loss, int(args.delay * MS)))
    width = args.width
    color = args.color
    if args.format == "text":
        terminal = sys.stdout.isatty() and args.out is None
        if width is None and terminal:
            width = shutil.get_terminal_size().columns
        color = color or (terminal and args.width is None)
    text = render_run(
        result, args.format, lang, relative=not args.absolute, width=width, color=color
    )
    # As for the lifecycle demo: status lines go to stderr when the document goes to stdout.
    report = sys.stdout if args.format == "text" or args.out else sys.stderr
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote the {args.format} ladder of {scenario.name} to {args.out}", file=report)
    else:
        sys.stdout.write(text)
    if args.pcap:
        for path, count in write_pcaps(result, args.pcap):
            print(f"wrote {count} packets to {path}", file=report)
    if not result.shows_its_point:
        print(f"synack demo {scenario.name}: {NOT_SHOWN(lang)}", file=sys.stderr)
        return 1
    return 0
