"""The dossier's estimates: a value, its 95 % interval and how the interval was made.

- fractions: the Wilson score interval (``stats.wilson``);
- a ratio of two independent binomial fractions (the cluster advantage): Katz's log interval,
  var log RR = 1/a - 1/n1 + 1/b - 1/n2 (``stats.independent_contrast``);
- a fold change between two arms run on the same units (anti-platelet): the paired
  (matched-pairs) log interval, var log RR = (b + c) / (a1 a2) over the discordant units
  (``stats.paired_contrast``);
- either ratio with a count of 0, where the log interval does not exist: the ratio of the two
  Wilson intervals' ends, each at 97.5 % (Bonferroni: together at least 95 %); 0/0 is
  undefined, its interval [0, inf] (no information).
"""
from __future__ import annotations

import dataclasses
import math
import statistics

from .. import stats

CONFIDENCE = 0.95
_Z_HALF = statistics.NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 4)  # each of two Wilson ends at 97.5 %


@dataclasses.dataclass(frozen=True)
class Estimate:
    value: float            # nan: undefined (0/0); inf: a ratio over 0
    low: float
    high: float
    how: str                # how the interval was made
    counts: str = ""        # the counts it came from, for the notes

    def widened(self, factor: float) -> "Estimate":
        """The interval stretched by ``factor`` on each side of the value (an undefined value's
        [0, inf] stays): what --check compares, at a confidence above the 95 % shown."""
        if not math.isfinite(self.value):
            return self
        lo = self.value - factor * (self.value - self.low)
        hi = self.value + factor * (self.high - self.value) if math.isfinite(self.high) else math.inf
        return dataclasses.replace(self, low=lo, high=hi)


def fraction(k: int, n: int) -> Estimate:
    """k of n, with its Wilson 95 % interval; 0 of 0 is undefined, [0, 1]."""
    if n == 0:
        return Estimate(math.nan, 0.0, 1.0, "Wilson 95 %", "0 of 0")
    lo, hi = stats.wilson(k, n)
    return Estimate(k / n, lo, hi, "Wilson 95 %", f"{k:,} of {n:,}")


def _wilson_ratio(ka, na, kc, nc, how: str) -> Estimate:
    """(ka/na) / (kc/nc) bounded by the ratio of the Wilson intervals' ends (97.5 % each)."""
    (alo, ahi), (clo, chi) = stats.wilson(ka, na, _Z_HALF), stats.wilson(kc, nc, _Z_HALF)
    value = math.nan if ka == kc == 0 else math.inf if kc == 0 else (ka / na) / (kc / nc)
    if math.isnan(value):
        return Estimate(value, 0.0, math.inf, "undefined: 0 of both", f"{ka:,} of {na:,} / {kc:,} of {nc:,}")
    high = ahi / clo if clo > 0 else math.inf
    return Estimate(value, alo / chi, high, f"{how}; with a count of 0: the ratio of the Wilson 97.5 % ends",
                    f"{ka:,} of {na:,} / {kc:,} of {nc:,}")


def ratio(ka: int, na: int, kc: int, nc: int) -> Estimate:
    """(ka/na) / (kc/nc) of two independent samples, with Katz's log 95 % interval."""
    how = "Katz log 95 % (two independent binomials)"
    if ka == 0 or kc == 0:
        return _wilson_ratio(ka, na, kc, nc, how)
    c = stats.independent_contrast(ka, kc, na, nc)
    lo, hi = c["rr_ci95"]
    return Estimate(c["relative_risk"], lo, hi, how, f"{ka:,} of {na:,} / {kc:,} of {nc:,}")


def fold_reduction(k_control: int, k_arm: int, both: int, n: int) -> Estimate:
    """control / arm on the same n units (k_control, k_arm with the outcome, ``both`` in both),
    with the matched-pairs log 95 % interval of the ratio."""
    how = "matched-pairs log 95 % (same units in both arms)"
    if k_control == 0 or k_arm == 0:
        return _wilson_ratio(k_control, n, k_arm, n, how)
    c = stats.paired_contrast(k_control, k_arm, both, n)
    lo, hi = c["rr_ci95"]
    return Estimate(c["relative_risk"], lo, hi, how, f"{k_control:,} / {k_arm:,} of {n:,} ({both:,} in both)")
