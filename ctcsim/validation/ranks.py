"""Spearman's rank correlation with exact permutation p-values, for the few organs a site series has.

A held-out series names 2 or 3 organs, so the t approximation that ``scipy.stats.spearmanr``
uses for its p-value does not hold; with n organs there are only n! orderings, and the exact
p-value is the share of them whose rho is at least the observed one.  The test is one-sided
(alternative: the model ranks the organs as the series does), because "predicts" is that claim.

Several series (strata) are pooled by the sum of their rhos, each permuted within itself; the
exact distribution of the sum is the convolution of the strata's exact distributions.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

EXACT_MAX = 8      # n! orderings enumerated up to this n (40 320); beyond it scipy's t approximation
_DIGITS = 12       # rhos rounded so that equal sums of different orderings are one value
_TIE = 1e-9        # an ordering's statistic this close to the observed one counts as reaching it


def _ranks(x) -> np.ndarray:
    from scipy.stats import rankdata  # here: importing ctcsim.validation stays cheap
    return rankdata(np.asarray(x, dtype=float))  # ties get average ranks, as spearmanr's


def _rho(rx: np.ndarray, ry: np.ndarray) -> float:
    dx, dy = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denominator) if denominator > 0 else math.nan


def _null(rx: np.ndarray, ry: np.ndarray) -> list[float]:
    """rho of every ordering of ry against rx (rounded): the exact null distribution."""
    return [round(_rho(rx, ry[list(p)]), _DIGITS) for p in itertools.permutations(range(len(ry)))]


def rho(x, y) -> float:
    """Spearman's rho alone (nan when n < 2 or either side is constant)."""
    return _rho(_ranks(x), _ranks(y)) if len(x) >= 2 else math.nan


def spearman(x, y) -> dict:
    """Spearman's rho of x against y with its one-sided p-value (rho at least as large by
    chance): exact over all orderings for n <= EXACT_MAX, else scipy's t approximation.
    {rho, p, n, exact}; rho and p are nan when n < 2 or either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"spearman: expected two 1-d sequences of one length, got shapes {x.shape} and {y.shape}")
    n = len(x)
    rx, ry = (_ranks(x), _ranks(y)) if n else (x, y)
    rho = _rho(rx, ry) if n >= 2 else math.nan
    if math.isnan(rho):
        return {"rho": math.nan, "p": math.nan, "n": n, "exact": True}
    if n > EXACT_MAX:
        from scipy.stats import spearmanr
        return {"rho": rho, "p": float(spearmanr(x, y, alternative="greater").pvalue), "n": n, "exact": False}
    null = _null(rx, ry)
    return {"rho": rho, "p": sum(r >= rho - _TIE for r in null) / len(null), "n": n, "exact": True}


def pooled(pairs) -> dict:
    """The strata (x, y) pooled: statistic = sum of their rhos, one-sided exact p-value under
    orderings permuted within each stratum.  Strata with n < 2 or a constant side carry no
    ranking and are left out.  {sum_rho, mean_rho, p, strata, orderings}."""
    dist = {0.0: 1}
    total, used, orderings = 0.0, 0, 1
    for x, y in pairs:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if len(x) > EXACT_MAX:
            raise ValueError(f"pooled: a stratum of {len(x)} > {EXACT_MAX} organs (exact only up to it)")
        if len(x) < 2:
            continue
        rx, ry = _ranks(x), _ranks(y)
        rho = _rho(rx, ry)
        if math.isnan(rho):
            continue
        total, used = total + rho, used + 1
        counts: dict[float, int] = {}
        for r in _null(rx, ry):
            counts[r] = counts.get(r, 0) + 1
        orderings *= sum(counts.values())
        new: dict[float, int] = {}
        for s, a in dist.items():
            for r, b in counts.items():
                key = round(s + r, _DIGITS)
                new[key] = new.get(key, 0) + a * b
        dist = new
    if not used:
        return {"sum_rho": math.nan, "mean_rho": math.nan, "p": math.nan, "strata": 0, "orderings": 1}
    at_least = sum(c for s, c in dist.items() if s >= total - _TIE)
    return {"sum_rho": total, "mean_rho": total / used, "p": at_least / orderings, "strata": used,
            "orderings": orderings}
