"""Every script of the shared packetdrill corpus parses, round-trips, and parses fast."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from pd_corpus import CORPUS, SCRIPTS, SKIP_REASON, script_id

from synack.packetdrill import (
    Code,
    Direction,
    Packet,
    Shell,
    Syscall,
    TimeKind,
    format_event,
    format_packet,
    parse_file,
    parse_text,
)

needs_corpus = pytest.mark.skipif(not SCRIPTS, reason=SKIP_REASON)
ALL_SCRIPTS = [pytest.param(path, id=script_id(path)) for path in SCRIPTS] or [
    pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON))
]

LINUX = "linux-selftests/tools/testing/selftests/net/packetdrill/"


@needs_corpus
def test_corpus_has_52_scripts() -> None:
    assert len(SCRIPTS) == 52


@pytest.mark.parametrize("path", ALL_SCRIPTS)
def test_script_parses(path: Path) -> None:
    script = parse_file(path)
    assert script.path == str(path)
    assert script.events
    for event in script.events:
        assert event.line >= 1 and event.column >= 1


@pytest.mark.parametrize("path", ALL_SCRIPTS)
def test_every_event_round_trips_through_format(path: Path) -> None:
    """parse -> format_event -> parse gives the same time and action, packets included."""
    for event in parse_file(path).events:
        again = parse_text(format_event(event)).events[0]
        assert (again.time, again.action) == (event.time, event.action), format_event(event)
        if isinstance(event.action, Packet):
            when = "0" if event.action.direction is Direction.INBOUND else "*"
            packet = parse_text(f"{when} {format_packet(event.action)}").events[0].action
            assert packet == event.action


# Counted by hand from the files (one event per timed line; sendmsg spans lines).
HAND_COUNTS = {
    LINUX + "tcp_blocking_blocking-read.pkt": 18,
    LINUX + "tcp_ts_recent_fin_tsval.pkt": 10,
    LINUX + "tcp_nagle_sendmsg_msg_more.pkt": 33,
    "ligurio-packetdrill-testcases/testcases/tcp/shutdown/shutdown-rdwr.pkt": 16,
    "nplab-packetdrill/gtests/net/packetdrill/tests/linux/fast_retransmit/"
    "fr-4pkt-sack-linux.pkt": 18,
}


@needs_corpus
@pytest.mark.parametrize("relative", sorted(HAND_COUNTS))
def test_event_counts_counted_by_hand(relative: str) -> None:
    assert len(parse_file(CORPUS / relative).events) == HAND_COUNTS[relative]


@needs_corpus
def test_blocking_read_script_in_detail() -> None:
    script = parse_file(CORPUS / LINUX / "tcp_blocking_blocking-read.pkt")
    assert script.options == {"tolerance_usecs": "10000"}
    assert script.init_command == Shell("./defaults.sh")
    assert script.cleanup_command is None
    kinds = Counter(type(event.action).__name__ for event in script.events)
    assert kinds == {"Syscall": 9, "Packet": 9}
    blocking = [event for event in script.events if event.time.kind is TimeKind.BLOCKING]
    assert [(event.line, event.time.start, event.time.end) for event in blocking] == [
        (18, 0, 100_000),
        (22, 100_000, 200_000),
        (28, 0, 0),
        (29, 0, 0),
    ]
    assert all(event.time.relative for event in blocking)


@needs_corpus
def test_init_and_cleanup_commands() -> None:
    script = parse_file(CORPUS / LINUX / "tcp_nagle_https_client.pkt")
    assert script.init_command == Shell(
        "./defaults.sh\nethtool -K tun0 tso off gso off\n"
        "./set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0"
    )
    assert script.cleanup_command == Shell("/tmp/sysctl_restore_${PPID}.sh")


@needs_corpus
def test_corpus_totals() -> None:
    """Whole-corpus tallies of the constructs LANGUAGE.md describes."""
    actions: Counter[str] = Counter()
    times: Counter[TimeKind] = Counter()
    for path in SCRIPTS:
        for event in parse_file(path).events:
            action = event.action
            times[event.time.kind] += 1
            if isinstance(action, Packet):
                actions[action.direction.value] += 1
            elif isinstance(action, Syscall):
                actions["syscall"] += 1
            elif isinstance(action, Shell):
                actions["shell"] += 1
            else:
                assert isinstance(action, Code)
                actions["code"] += 1
    assert sum(times.values()) == sum(actions.values())
    assert times[TimeKind.ANY] > 0 and times[TimeKind.RANGE] > 0 and times[TimeKind.BLOCKING] > 0
    assert actions["<"] > 0 and actions[">"] > 0 and actions["code"] > 0 and actions["shell"] > 0


@needs_corpus
def test_whole_corpus_parses_well_under_a_second() -> None:
    texts = [(str(path), path.read_text()) for path in SCRIPTS]
    started = time.perf_counter()
    for name, text in texts:
        parse_text(text, name)
    assert time.perf_counter() - started < 0.5
