"""The CTC half-life in blood (Meng 2004): units in the blood, counted over time from the events.

Meng counted CTCs in blood at times after the primary was removed, so what is measured is
the number of units circulating at time t, not the time to a first arrest: once arrested
units can be released, a unit leaves the blood and comes back.  The count changes only at
events, so it is exact from the events table: +1 at each entry into the blood ("enter", and a
release from arrest where the model has one), -1 at each way out of it (trapped, adhered, a death in
circulation).  B(t) = the running sum, sorted by time; t_half = the first time B <= n / 2.

Each unit is or is not in the blood at time t, independently of the others, so B(t) is
binomial(n, p(t)).  The interval of t_half inverts that binomial at the crossing (as for a
median survival time, Brookmeyer & Crowley 1982): the times t at which 1/2 lies inside the
Wilson 95 % interval of B(t)/n, from the first time B falls to the largest such count to the
last time it is still at least the smallest.
"""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import hazards, stats
from .intervals import Estimate, fraction

# Into the blood: entry, and the events of hazards that send an arrested unit back into it
# (kind "release", where the model has one).
INTO_BLOOD = ("enter",) + tuple(h.event for h in hazards.HAZARDS if h.kind == "release")
OUT_OF_BLOOD = ("trapped", "adhered") + tuple(h.event for h in hazards.HAZARDS
                                             if h.phase == "circulating" and h.kind == "fate")


def changes(events) -> tuple[np.ndarray, np.ndarray]:
    """(times, +1 or -1) of the events (a table or batch) that change the count in the blood."""
    names = pc.cast(events.column("event"), pa.string())
    into = pc.is_in(names, value_set=pa.array(INTO_BLOOD)).to_numpy(zero_copy_only=False)
    out = pc.is_in(names, value_set=pa.array(OUT_OF_BLOOD)).to_numpy(zero_copy_only=False)
    keep = into | out
    return events.column("time_s").to_numpy()[keep], np.where(into[keep], 1, -1).astype(np.int8)


def blood_count(t: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times, B): the number of units in the blood just after each change time (sorted),
    from the changes of every unit (``changes``, concatenated)."""
    order = np.argsort(t, kind="stable")
    t, delta = t[order], delta[order]
    last = np.r_[t[1:] != t[:-1], True]  # the count after every change at one time
    return t[last], np.cumsum(delta)[last]


def _first(t: np.ndarray, mask: np.ndarray) -> float:
    i = np.flatnonzero(mask)
    return float(t[i[0]]) if len(i) else math.inf


def half_life(times: np.ndarray, count: np.ndarray, n: int) -> Estimate:
    """t_half in seconds with its 95 % interval from the binomial at the crossing (see above);
    inf when the count never falls to n / 2 within the events (the horizon)."""
    spread = int(5 * math.sqrt(n)) + 5  # the counts whose Wilson interval can hold 1/2 lie within this of n / 2
    ks = np.arange(max(0, n // 2 - spread), min(n, n // 2 + spread) + 1)
    inside = np.array([lo <= 0.5 <= hi for lo, hi in (stats.wilson(int(k), n) for k in ks)])
    k_low, k_high = int(ks[inside].min()), int(ks[inside].max())
    value = _first(times, count <= n / 2)
    low = _first(times, count <= k_high)
    below = np.flatnonzero(count >= k_low)  # the last time the count is still >= k_low ends at the next change
    high = float(times[below[-1] + 1]) if len(below) and below[-1] + 1 < len(times) else math.inf
    return Estimate(value, low, high, "binomial at the crossing: the times at which 1/2 is inside the Wilson "
                                      "95 % interval of the share in blood", f"n = {n:,}")


def in_blood_at(times: np.ndarray, count: np.ndarray, n: int, t_s: float) -> Estimate:
    """The share of the n units in the blood at time t_s, with its Wilson interval."""
    i = np.searchsorted(times, t_s, side="right") - 1
    return fraction(int(count[i]) if i >= 0 else 0, n)
