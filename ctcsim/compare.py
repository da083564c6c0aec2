"""Differences between arms, paired unit by unit (DESIGN 2.5).

Every arm simulates the same unit ids from the same seed, so unit u meets the same random
numbers in every arm (common random numbers).  The difference of an outcome's fraction
between an arm and the control is then the mean of per-unit differences, whose variance
is only that of the units whose outcome the arm changed: far smaller than the variance
of the difference between two independent runs.

Fates come as a pyarrow Table or RecordBatch (``ctcsim.simulate(...).fates``) or a pandas
DataFrame; nothing here needs pandas.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import stats
from .model import FATES, POST_ARREST
from .stats import Z95  # noqa: F401 (callers scale the intervals below by it)
from .units import horizon

DEAD = ("died_shear", "died_nk", "died_anoikis")
GONE = ("died_in_capillary", "died_dormant", "colony_extinct", "regressed")


def column(fates, name: str) -> np.ndarray:
    """One column as a numpy array; categorical columns as objects (str, None where null)."""
    col = fates[name]
    if isinstance(col, (pa.Array, pa.ChunkedArray)):
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        return col.to_numpy(zero_copy_only=False)
    return np.asarray(col.astype(object) if str(col.dtype) == "category" else col)


def indicator(fates, outcome: str) -> np.ndarray:
    """0/1 per unit: ``outcome`` is a fate, a post-arrest outcome, an organ of arrest
    (``organ:NAME``) or ``alive`` (neither dead in circulation nor gone after arrest)."""
    if outcome == "alive":
        dead = np.isin(column(fates, "fate"), DEAD) | np.isin(column(fates, "post_arrest"), GONE)
        return (~dead).astype(int)
    if outcome.startswith("organ:"):
        return (column(fates, "organ") == outcome[6:]).astype(int)
    if outcome in FATES:
        return (column(fates, "fate") == outcome).astype(int)
    if outcome in POST_ARREST:
        return (column(fates, "post_arrest") == outcome).astype(int)
    raise ValueError(f"unknown outcome {outcome!r}: a fate, a post-arrest outcome, organ:NAME or alive")


def paired_differences(fates, outcome: str, control: str = "control") -> dict[str, dict]:
    """Per arm: {n, fraction, difference, ci95}: the fraction with ``outcome`` and the paired
    difference from ``control`` with its 95 % CI (normal approximation to the mean of
    per-unit differences)."""
    arm, unit, y = column(fates, "arm").astype(str), column(fates, "unit_id"), indicator(fates, outcome)
    arms = [str(a) for a in dict.fromkeys(arm)]  # plain str keys, not numpy's str_
    if control not in arms:
        raise ValueError(f"no arm {control!r} to compare with; arms: {', '.join(arms)}")

    def by_unit(a):
        rows = np.flatnonzero(arm == a)
        order = np.argsort(unit[rows], kind="stable")
        return unit[rows][order], y[rows][order]

    base_units, base = by_unit(control)
    out = {}
    for a in arms:
        units, ya = by_unit(a)
        if not np.array_equal(units, base_units):
            raise ValueError(f"arm {a!r} does not hold the same unit ids as {control!r}")
        d = ya - base
        mean, lo, hi = stats.paired_difference(d.sum(), (d * d).sum(), len(d))
        out[a] = {"n": len(d), "fraction": float(ya.mean()), "difference": float(mean),
                  "ci95": [float(lo), float(hi)]}
    return out


def paired_vs_independent(scenario, arm: str, outcome: str, n: int, seeds=(1, 2, 3),
                          control: str = "control") -> dict:
    """What common random numbers buy: ``arm`` - ``control`` in ``outcome``, estimated from one
    run of both arms (seed ``seeds[0]``, paired) and from two runs of one arm each with other
    seeds (``seeds[1]``, ``seeds[2]``), each with its 95 % CI half-width."""
    from .runner import simulate  # here: the rest of this module only reads fates

    paired = paired_differences(simulate(scenario, n, seed=seeds[0]).fates, outcome, control)[arm]
    p_control = indicator(simulate(scenario, n, seed=seeds[1], arms=[control]).fates, outcome).mean()
    p_arm = indicator(simulate(scenario, n, seed=seeds[2], arms=[arm]).fates, outcome).mean()
    return {"paired": paired["difference"], "paired_halfwidth": (paired["ci95"][1] - paired["ci95"][0]) / 2,
            "independent": p_arm - p_control,
            "independent_halfwidth": stats.independent_halfwidth(p_arm, p_control, n, n)}


OUTCOMES = tuple(FATES) + tuple(o for o in POST_ARREST if o != "none") + ("alive",)
_COLUMNS = ["unit_id", "fate", "post_arrest"]


def run_paired_differences(run, control: str | None = None) -> dict:
    """Paired differences from the control arm of every outcome in ``OUTCOMES``, for a run
    directory (``ctcsim.read_run``), streamed part by part: part p of every arm holds the
    same unit ids, so memory stays that of one part.  The control is the arm named
    "control", else the first.  Returns {control, horizon_s, horizon, arms: {arm: {outcome:
    {difference, ci95}}}} (the outcomes as of the horizon), or {} for a run of one arm."""
    arms = run.metadata["arms"]
    if len(arms) < 2:
        return {}
    control = control or ("control" if "control" in arms else arms[0])
    root = Path(run.path) / "fates"
    parts = sorted(p.name for p in (root / f"arm={control}").glob("part-*.parquet"))
    sums = {a: np.zeros((2, len(OUTCOMES))) for a in arms if a != control}
    n = 0
    for part in parts:
        base = _outcome_matrix(pq.read_table(root / f"arm={control}" / part, columns=_COLUMNS))
        n += len(base)
        for a in sums:
            d = _outcome_matrix(pq.read_table(root / f"arm={a}" / part, columns=_COLUMNS)) - base
            sums[a] += [d.sum(axis=0), (d * d).sum(axis=0)]
    out = {}
    for a, (s1, s2) in sums.items():
        mean, lo, hi = stats.paired_difference(s1, s2, n)
        out[a] = {o: {"difference": float(m), "ci95": [float(x), float(y)]}
                  for o, m, x, y in zip(OUTCOMES, mean, lo, hi)}
    return {"control": control, **horizon(run.scenario.t_max_s), "arms": out}


def _outcome_matrix(fates: pa.Table) -> np.ndarray:
    """Units x OUTCOMES indicators (int8), rows in unit order."""
    fates = fates.sort_by("unit_id")
    return np.stack([indicator(fates, o) for o in OUTCOMES], axis=1).astype(np.int8)
