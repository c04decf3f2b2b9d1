"""Teaching scenarios: the classic TCP questions, answered by running them.

``synack demo --list`` lists them and ``synack demo NAME [--lang zh]`` runs one:
each is a deterministic (seeded) simulator run, or several, printed as a
ladder with a commentary line per step (in English or Chinese) and the facts
the run shows.  ``SCENARIOS`` maps names to ``Scenario``s in teaching order;
``run_scenario`` runs one and ``synack.scenarios.output.render_run`` draws it
in any ladder format.
"""

from __future__ import annotations

from synack.scenarios import closing, opening, resets, transfer, waiting
from synack.scenarios.lab import Params, Scenario, ScenarioRun, run_scenario

ORDER = (
    "handshake",
    "close",
    "why-three",
    "why-four",
    "time-wait",
    "close-wait-leak",
    "simultaneous-open",
    "simultaneous-close",
    "half-close",
    "refused",
    "abort",
    "unread-close",
    "lossy-transfer",
)

#: Every scenario by name, in the order the issue asks the questions.
SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in sorted(
        [
            *opening.SCENARIOS,
            *closing.SCENARIOS,
            *waiting.SCENARIOS,
            *resets.SCENARIOS,
            *transfer.SCENARIOS,
        ],
        key=lambda scenario: ORDER.index(scenario.name),
    )
}

__all__ = ["SCENARIOS", "Params", "Scenario", "ScenarioRun", "run_scenario"]
