"""A scenario's simulated outcomes beside the master equation's exact ones (DESIGN 7).

``verify`` simulates one arm, counts its units in each outcome of the circulating phase
(fate, organ, arrest mode), and tests the counts against ``ctcsim.exact``'s probabilities
with Pearson's chi-square (``ctcsim.stats.pearson``).  A unit in an outcome of exact
probability 0 is a disagreement by itself, reported apart from the chi-square.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import numpy as np

from .compile import compile_arm
from .scenario import Scenario
from .stats import ChiSquare, pearson

ALPHA = 1e-3  # false-alarm rate of the verdict: a correct build disagrees for 1 seed in 1000


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One outcome: its label, exact probability, simulated count and z-score."""
    label: str
    probability: float
    count: int
    z: float


@dataclasses.dataclass(frozen=True)
class Verification:
    scenario: str
    arm: str
    n_units: int
    seed: int
    outcomes: list[Outcome]
    test: ChiSquare
    alpha: float = ALPHA

    @property
    def agrees(self) -> bool:
        return self.test.pvalue > self.alpha

    @property
    def impossible(self) -> list[Outcome]:
        """Outcomes of exact probability 0 that some unit reached."""
        return [o for o in self.outcomes if o.probability <= 0 and o.count > 0]


def outcome_counts(fates, known) -> tuple[list, np.ndarray]:
    """Units of ``fates`` (a pyarrow Table) per outcome (fate, organ, arrest_mode[, exit]): the
    outcomes ``known`` in their order, then any other outcome that units reached.  Grouped by
    pyarrow (python objects per unit would take seconds for 200,000 units)."""
    columns = ["fate", "organ", "arrest_mode"]
    table = fates.select(columns).unify_dictionaries()
    if known and len(known[0]) == 4:  # with release from arrest: how the last arrest ended (exact.capillary)
        import pyarrow as pa

        from .exact.capillary import exit_of
        post = fates.column("post_arrest").combine_chunks()
        exits = pa.array([exit_of(x) for x in post.dictionary.to_pylist()]).take(post.indices)
        table, columns = table.append_column("exit", exits), columns + ["exit"]
    groups = table.group_by(columns).aggregate([([], "count_all")]).to_pylist()
    index = {k: i for i, k in enumerate(known)}
    found = {index.setdefault(tuple(g[c] for c in columns), len(index)): g["count_all"] for g in groups}
    counts = np.zeros(len(index), dtype=np.int64)
    counts[list(found)] = list(found.values())
    return list(index), counts


def label(fate: str, organ: str | None, mode: str, exit: str = "none") -> str:
    return fate if organ is None else f"{fate} {organ} ({mode}{'' if exit == 'none' else ', ' + exit})"


def solver_tolerances(n_units: int) -> tuple[float, float]:
    """(rtol, atol) for the exact solution that ``n_units`` cannot tell from the truth.

    Errors delta_i in the cells' probabilities p_i make Pearson's statistic non-central, with
    lambda = N sum(delta_i**2 / p_i) <= 2 N rtol**2 + 2 cells N**2 atol**2 / 5 for
    |delta_i| <= rtol p_i + atol and every unpooled cell at p_i >= 5/N.  lambda <= 0.01 moves
    a false-alarm rate of 1e-3 by less than 1e-5; it holds for rtol <= 0.05/sqrt(N) and, up to
    100 cells, atol <= 0.011/N.  The solver's local tolerances are taken 10 times tighter
    (its global errors, measured against rtol 1e-10, are about 2 atol)."""
    return min(1e-4, 0.005 / math.sqrt(n_units)), min(1e-6, 0.001 / n_units)


def verify(scenario: Scenario, n_units: int, seed: int, arm: str | None = None, *,
           progress: Callable[[str], None] | None = None) -> Verification:
    """Simulate ``n_units`` units of ``arm`` (default: the first) and test them against the
    exact outcome probabilities.  ``progress(message)`` is told when each slow step starts
    and how long it took.  Raises ScenarioError or ValueError for what exact cannot solve
    (e.g. entry times spread over a shedding period)."""
    from . import exact
    from .runner import simulate

    def step(message, work):
        started = time.monotonic()
        if progress:
            progress(f"{message} ...")
        out = work()
        if progress:
            progress(f"{message}: {time.monotonic() - started:.1f} s")
        return out

    if n_units < 1:
        raise ValueError(f"n_units must be a positive integer, got {n_units}")
    arm = arm or scenario.arm_names()[0]
    model, after, switch_s = compile_arm(scenario, arm)
    rtol, atol = solver_tolerances(n_units)
    probs = step("solving the master equation", lambda: exact.outcome_probabilities(
        model, after=after, switch_s=switch_s, rtol=rtol, atol=atol))
    fates = step(f"simulating {n_units:,} units", lambda: simulate(scenario, n_units, seed=seed, arms=[arm]).fates)
    known = exact.arm_outcomes(model, after, switch_s)  # with release: how each arrest ended, too
    keys, counts = outcome_counts(fates, known)  # unknown to exact: probability 0
    probs = np.append(probs, np.zeros(len(keys) - len(probs)))
    rows = []
    for key, p, c in zip(keys, probs, counts):
        z = (c / n_units - p) / math.sqrt(p * (1 - p) / n_units) if 0 < p < 1 else 0.0
        rows.append(Outcome(label(*key), float(p), int(c), float(z)))
    return Verification(scenario.name, arm, n_units, seed, rows, pearson(counts, probs))
