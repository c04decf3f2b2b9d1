"""Traces shared by the renderer tests (the lifecycle demo, with and without loss)."""

from __future__ import annotations

from functools import cache

from synack.demo import run_lifecycle
from synack.net.sim import TraceEntry
from synack.trace.records import PacketLost


@cache
def demo_trace(seed: int = 1) -> tuple[TraceEntry, ...]:
    """The lifecycle demo's trace (no loss)."""
    return tuple(run_lifecycle(seed=seed).sim.trace)


@cache
def lossy_trace() -> tuple[TraceEntry, ...]:
    """A lifecycle demo that lost at least one segment and still completed: the
    first such seed at 30 % loss (searched, so that changes to the core that
    move the random draws do not break the tests)."""
    for seed in range(1, 200):
        result = run_lifecycle(seed=seed, loss=0.3)
        if result.complete and any(isinstance(e.record, PacketLost) for e in result.sim.trace):
            return tuple(result.sim.trace)
    raise AssertionError("no seed in 1..199 loses a segment at 30 % loss")


def lost_count(trace: tuple[TraceEntry, ...]) -> int:
    return sum(isinstance(entry.record, PacketLost) for entry in trace)
