"""The statistics ctcsim reports and tests with: one copy each.

- ``wilson``: the Wilson score interval of a binomial fraction;
- ``paired_difference`` and ``independent_halfwidth``: the normal-approximation intervals of
  a difference between arms, paired unit by unit (common random numbers) or from two
  independent runs (DESIGN 2.5);
- ``pearson``: Pearson's chi-square of observed counts against exact probabilities, pooling
  cells expected fewer than ``MIN_EXPECTED`` times, and refusing outright any observation of
  an outcome whose probability is 0 (one such unit proves a disagreement; no pooling may
  hide it).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
MIN_EXPECTED = 5.0       # Pearson's rule of thumb: cells expected fewer times are pooled


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the fraction k/n ((nan, nan) when n = 0).  It starts at
    exactly 0 when k = 0 and ends at exactly 1 when k = n: the closed form's rounding would
    otherwise leave a bound such as 2e-19 that reads as an observed non-zero fraction."""
    if n == 0:
        return math.nan, math.nan
    if not 0 <= k <= n:
        raise ValueError(f"wilson: expected 0 <= k <= n, got k = {k}, n = {n}")
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def paired_difference(sum_d, sum_d2, n: int, z: float = Z95):
    """(mean, lower, upper) of a paired difference from its per-unit sums: sum_d = sum of
    the differences d_u, sum_d2 = sum of d_u**2, over n units; the interval is the mean
    +- z standard errors (sample variance with n - 1; nan for n < 2).  Works elementwise on
    arrays, so a run's outcomes are done at once from sums accumulated part by part."""
    sum_d, sum_d2 = np.asarray(sum_d, dtype=float), np.asarray(sum_d2, dtype=float)
    mean = sum_d / n if n else np.full(sum_d.shape, math.nan)
    if n < 2:
        se = np.full(sum_d.shape, math.nan)
    else:  # the sum of squared deviations, never negative through rounding
        se = np.sqrt(np.maximum(sum_d2 - n * mean * mean, 0.0) / (n - 1) / n)
    return mean, mean - z * se, mean + z * se


def independent_halfwidth(p1: float, p2: float, n1: int, n2: int, z: float = Z95) -> float:
    """Half-width of the interval of p1 - p2 from two independent runs (Wald)."""
    return z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)


def paired_contrast(ka: int, kc: int, both: int, n: int, z: float = Z95) -> dict:
    """Arm vs control on the same n units: ka, kc units with the outcome in each, ``both`` in both.
    The difference of fractions (paired_difference of d_u in {+1, -1, 0}) and the relative risk,
    var log RR = (b + c) / (ka kc) with b = ka - both, c = kc - both the discordant units.  With
    no discordant unit the normal interval has width 0, which would claim certainty; the rate of
    discordant units is then only known to be below the Wilson upper bound u of 0 in n (about
    3.84 / n), so the difference lies within +-u and the ratio within a factor exp(log1p(u n / ka))."""
    b, c = ka - both, kc - both
    if b + c == 0 and n > 0:
        u = wilson(0, n, z)[1]
        return _contrast(ka, kc, n, n, 0.0, u, math.log1p(u * n / ka) if ka else math.nan)
    mean, lo, _ = paired_difference(b - c, b + c, n, z)
    half = z * math.sqrt((b + c) / (ka * kc)) if ka and kc else math.nan
    return _contrast(ka, kc, n, n, float(mean), float(mean - lo), half)


def independent_contrast(ka: int, kc: int, na: int, nc: int, z: float = Z95) -> dict:
    """The same from two independent samples: Wald interval of pa - pc; var log RR =
    1/ka - 1/na + 1/kc - 1/nc."""
    pa, pc = ka / na, kc / nc
    half = z * math.sqrt(1 / ka - 1 / na + 1 / kc - 1 / nc) if ka and kc else math.nan
    return _contrast(ka, kc, na, nc, pa - pc, independent_halfwidth(pa, pc, na, nc, z), half)


def _contrast(ka, kc, na, nc, difference, half_d, half_log_rr) -> dict:
    rr = (ka / na) / (kc / nc) if kc else math.nan  # no control unit: no ratio
    return {"n": na, "n_control": nc, "arm_count": ka, "control_count": kc,
            "difference": difference, "ci95": [difference - half_d, difference + half_d],
            "relative_risk": rr, "rr_ci95": [rr * math.exp(-half_log_rr), rr * math.exp(half_log_rr)]}


@dataclasses.dataclass(frozen=True)
class ChiSquare:
    """Pearson's test: statistic, degrees of freedom, p-value, the cells tested (after
    pooling) and ``impossible``: observations of outcomes of probability 0 (p-value 0 then)."""
    statistic: float
    df: int
    pvalue: float
    cells: int
    impossible: int


def pearson(counts, probs, ddof: int = 0) -> ChiSquare:
    """Pearson's chi-square of ``counts`` against ``probs``: one multinomial (1-d) or one per
    row (2-d, rows of fixed sizes: df = sum over rows of (cells - 1), less ``ddof``).

    Each row's probabilities are scaled to its count (they may miss 1 by the exact solver's
    rounding); cells expected fewer than MIN_EXPECTED times are pooled into one cell per row.
    An observation in a cell of probability <= 0 makes the p-value 0 whatever the rest says.
    With nothing left to test (df <= 0) the p-value is 1."""
    counts, probs = np.atleast_2d(np.asarray(counts)), np.atleast_2d(np.asarray(probs, dtype=float))
    if counts.shape != probs.shape:
        raise ValueError(f"pearson: counts {counts.shape} and probs {probs.shape} differ in shape")
    if (counts < 0).any() or not np.isfinite(probs).all():
        raise ValueError("pearson: counts must be >= 0 and probabilities finite")
    impossible = int(counts[probs <= 0].sum())
    probs = np.maximum(probs, 0.0)
    statistic, cells, df = 0.0, 0, -ddof
    for c, p in zip(counts, probs):
        if c.sum() == 0 or p.sum() == 0:
            continue
        e = p / p.sum() * c.sum()
        small = e < MIN_EXPECTED
        obs, exp = c[~small], e[~small]
        if e[small].sum() > 0:
            obs, exp = np.append(obs, c[small].sum()), np.append(exp, e[small].sum())
        statistic += float(((obs - exp) ** 2 / exp).sum())
        cells += len(obs)
        df += len(obs) - 1
    if impossible:
        pvalue = 0.0
    elif df <= 0:
        pvalue = 1.0
    else:
        from scipy.stats import chi2  # here: importing ctcsim.stats stays cheap for the CLI
        pvalue = float(chi2.sf(statistic, df))
    return ChiSquare(statistic, df, pvalue, cells, impossible)
