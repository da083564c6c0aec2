"""The core's status codes, turned into Python exceptions at the boundary (DESIGN 3)."""
from __future__ import annotations

from . import _core


class SimulationError(RuntimeError):
    """The core could not finish a unit; ``unit`` is its id, ``code`` the core's error code."""

    def __init__(self, unit: int, code: int, problem: str):
        self.unit, self.code, self.problem = unit, code, problem
        super().__init__(f"unit {unit}: {problem}")


class Cancelled(KeyboardInterrupt):
    """A stop was requested (_core.request_stop, e.g. by a signal handler) while units ran."""


_PROBLEMS = {
    _core.ERR_STEP_BUDGET: "took more than the step budget of {max_steps:,} steps (a model in which a unit "
                           "can circulate almost forever: check t_max_s and the hazards)",
}


def raise_for_status(status: int, unit: int, max_steps: int = _core.DEFAULT_MAX_STEPS):
    """Nothing for DONE and EVENTS_FULL (the caller flushes); Cancelled or SimulationError otherwise."""
    if status in (_core.DONE, _core.EVENTS_FULL):
        return
    if status == _core.CANCELLED:
        raise Cancelled()
    problem = _PROBLEMS.get(status, "core error code {code}")
    raise SimulationError(unit, status, problem.format(max_steps=max_steps, code=status))
