"""Drivers that carry packets for the sans-IO core: the simulated network.

``synack.net.sim.Simulator`` runs hosts over links with virtual time and
impairments (``synack.net.link``).
"""

from synack.net.link import (
    Direction,
    DirectionStats,
    DropMatching,
    DropNth,
    Link,
    LinkConfig,
    drop_flags,
    drop_nth,
    drop_where,
)
from synack.net.sim import (
    Endpoint,
    EventLimitExceeded,
    Host,
    SimulationError,
    SimulationTimeout,
    Simulator,
    TraceEntry,
)

__all__ = [
    "Direction",
    "DirectionStats",
    "DropMatching",
    "DropNth",
    "Endpoint",
    "EventLimitExceeded",
    "Host",
    "Link",
    "LinkConfig",
    "SimulationError",
    "SimulationTimeout",
    "Simulator",
    "TraceEntry",
    "drop_flags",
    "drop_nth",
    "drop_where",
]
