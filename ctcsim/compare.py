"""Differences between arms, paired unit by unit (DESIGN 2.5).

Every arm simulates the same unit ids from the same seed, so unit u meets the same random
numbers in every arm (common random numbers).  The difference of an outcome's fraction
between an arm and the control is then the mean of per-unit differences, whose variance
is only that of the units whose outcome the arm changed: far smaller than the variance
of the difference between two independent runs.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .model import FATES, POST_ARREST

Z95 = 1.959963984540054  # two-sided 95 % normal quantile

DEAD = {"died_shear", "died_nk", "died_anoikis"}
GONE = {"died_in_capillary", "died_dormant", "colony_extinct", "regressed"}


def indicator(fates: pd.DataFrame, outcome: str) -> np.ndarray:
    """0/1 per unit: ``outcome`` is a fate, a post-arrest outcome, an organ of arrest
    (``organ:NAME``) or ``alive`` (neither dead in circulation nor gone after arrest)."""
    if outcome == "alive":
        return (~fates.fate.isin(DEAD) & ~fates.post_arrest.isin(GONE)).to_numpy(int)
    if outcome.startswith("organ:"):
        return (fates.organ == outcome[6:]).to_numpy(int)
    if outcome in FATES:
        return (fates.fate == outcome).to_numpy(int)
    if outcome in POST_ARREST:
        return (fates.post_arrest == outcome).to_numpy(int)
    raise ValueError(f"unknown outcome {outcome!r}: a fate, a post-arrest outcome, organ:NAME or alive")


def paired_differences(fates: pd.DataFrame, outcome: str, control: str = "control") -> pd.DataFrame:
    """Per arm: the fraction with ``outcome``, and the paired difference from ``control``
    with its 95 % CI (normal approximation to the mean of per-unit differences)."""
    arms = list(dict.fromkeys(fates.arm.astype(str)))
    if control not in arms:
        raise ValueError(f"no arm {control!r} to compare with; arms: {', '.join(arms)}")
    y = {a: pd.Series(indicator(g, outcome), index=g.unit_id.to_numpy())
         for a, g in fates.groupby(fates.arm.astype(str), sort=False)}
    base = y[control].sort_index()
    rows = []
    for a in arms:
        ya = y[a].sort_index()
        if not ya.index.equals(base.index):
            raise ValueError(f"arm {a!r} does not hold the same unit ids as {control!r}")
        d = ya.to_numpy() - base.to_numpy()
        n = len(d)
        se = d.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
        rows.append(dict(arm=a, outcome=outcome, n=n, fraction=ya.mean(), difference=d.mean(),
                         ci_low=d.mean() - Z95 * se, ci_high=d.mean() + Z95 * se))
    return pd.DataFrame(rows)


def independent_ci_halfwidth(p1: float, p2: float, n1: int, n2: int) -> float:
    """Half-width of the 95 % CI of p1 - p2 from two independent runs (Wald)."""
    return Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)


OUTCOMES = tuple(FATES) + tuple(o for o in POST_ARREST if o != "none") + ("alive",)
_COLUMNS = ["unit_id", "fate", "post_arrest"]


def run_paired_differences(run, control: str | None = None) -> dict:
    """Paired differences from the control arm of every outcome in ``OUTCOMES``, for a run
    directory (``ctcsim.read_run``), streamed part by part: part p of every arm holds the
    same unit ids, so memory stays that of one part.  The control is the arm named
    "control", else the first.  Returns {arm: {outcome: {difference, ci95}}}; {} if one arm."""
    arms = run.metadata["arms"]
    if len(arms) < 2:
        return {}
    control = control or ("control" if "control" in arms else arms[0])
    root = Path(run.path) / "fates"
    parts = sorted(p.name for p in (root / f"arm={control}").glob("part-*.parquet"))
    sums = {a: np.zeros((2, len(OUTCOMES))) for a in arms if a != control}
    n = 0
    for part in parts:
        base = _outcome_matrix(pq.read_table(root / f"arm={control}" / part, columns=_COLUMNS).to_pandas())
        n += len(base)
        for a in sums:
            d = _outcome_matrix(pq.read_table(root / f"arm={a}" / part, columns=_COLUMNS).to_pandas()) - base
            sums[a] += [d.sum(axis=0), (d * d).sum(axis=0)]
    out = {}
    for a, (s1, s2) in sums.items():
        mean = s1 / n
        se = np.sqrt(np.maximum(s2 / n - mean**2, 0.0) * n / max(n - 1, 1) / n)
        out[a] = {o: {"difference": float(m), "ci95": [float(m - Z95 * e), float(m + Z95 * e)]}
                  for o, m, e in zip(OUTCOMES, mean, se)}
    return {"control": control, "arms": out}


def _outcome_matrix(fates: pd.DataFrame) -> np.ndarray:
    """Units x OUTCOMES indicators (int8), rows in unit order."""
    fates = fates.sort_values("unit_id")
    return np.stack([indicator(fates, o) for o in OUTCOMES], axis=1).astype(np.int8)
