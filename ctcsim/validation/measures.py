"""How ctcsim measures each published number of ctcsim/data/validation/targets.toml: one
function per target id, on simulated fates, with its Monte Carlo variance.

A measurement is an experiment (``EXPERIMENTS``: a built-in scenario, set up as the paper
did it) and a function of a simulation of it (``MEASURES[id]``: ``runner.Result``, its fates
and, where ``events``, its events) returning
``(value, variance)``: the value in the target's unit and the Monte Carlo variance of that
value over the experiment's units (binomial for fractions; the sample median's asymptotic
variance for a half-life).  The joint calibration (``jointfit``) runs each experiment once per
evaluation and measures every target on it; the dossier may reuse the same functions.

Only the calibration targets are here so far; a prediction's measurement belongs beside them
(the dossier's), but no fit may read one (``jointfit`` refuses any id whose role is not
"calibration").
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from .. import scenario as _scenario
from ..compare import column, indicator

DAY_S = 86400.0
HOUR_S = 3600.0


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A built-in scenario as an experiment ran it: ``setup`` changes its table (entry, t_max_s)."""
    scenario: str
    setup: Callable[[dict], dict] = lambda d: d

    def prepare(self, s: _scenario.Scenario) -> _scenario.Scenario:
        """The scenario ``s`` (the built-in one, possibly with fitted values) set up as this
        experiment; only its control arm is simulated."""
        d = self.setup(dict(s.to_dict()))
        d.pop("arms", None)
        return _scenario.from_dict(d, f"{_scenario.origin(s)} as the experiment of {self.scenario}")


def _intravenous_bolus(d: dict) -> dict:
    # Meng 2004 counted CTCs after the primary was removed: no further entry, so the decay of
    # units that start together in the systemic veins (the vena cava) at t = 0.
    return {**d, "entry": {"mode": "injection", "site": "systemic_veins"}}


EXPERIMENTS = {
    "breast_bolus": Experiment("breast", _intravenous_bolus),
    "luzzi1998": Experiment("luzzi1998"),
    "fidler1970": Experiment("fidler1970"),
}


def _fraction(hit: np.ndarray) -> tuple[float, float]:
    n = len(hit)
    p = float(np.mean(hit))
    return p, p * (1.0 - p) / n


# Events that put a unit into the circulation, and that take it out (an arrest, a death, the end).
_INTO = ("enter", "released")
_OUT_OF = ("trapped", "adhered", "died_shear", "died_nk", "died_anoikis", "censored")


def meng2004_half_life(run) -> tuple[float, float]:
    """Hours until the units in the circulation first fall to half of those injected: the
    occupancy of the circulation over time, from each unit's events (in at entry and at each
    release from arrest, out at each arrest, a death or the end), so a unit released back
    counts again, as Meng's CTC counts would.  Without release this is the median time each
    unit leaves the blood.  Still above half at t_max_s: t_max_s, a lower bound.
    Variance: a median's, p(1 - p) / (n f^2) at p = 1/2, with the occupancy's rate of fall f
    between its first crossings of 55 % and 45 %."""
    ev, n = run.events, run.fates.num_rows
    kind, t = column(ev, "event"), column(ev, "time_s").astype(float)
    step = np.where(np.isin(kind, _INTO), 1, np.where(np.isin(kind, _OUT_OF), -1, 0))
    keep = step != 0
    kind, t, step = kind[keep], t[keep], step[keep]
    order = np.lexsort((-step, t))  # at one time, in before out: a unit trapped at entry was in
    kind, t, occupancy = kind[order], t[order], np.cumsum(step[order]) / n

    peak = int(np.argmax(occupancy)) if len(occupancy) else 0  # the bolus is all in

    def first_at_most(p):
        below = np.flatnonzero(occupancy[peak:] <= p)
        return peak + below[0] if len(below) else None

    half = first_at_most(0.5)
    if half is None or kind[half] == "censored":  # still above half until the end
        return (float(t.max()) if len(t) else 0.0) / HOUR_S, 0.0
    t55, t45 = first_at_most(0.55), first_at_most(0.45)
    width = (t[t45 if t45 is not None else -1] - t[t55]) / HOUR_S
    return float(t[half]) / HOUR_S, 0.25 / n * (width / 0.1) ** 2


def luzzi1998_extravasated_d3(run) -> tuple[float, float]:
    """Fraction of injected units extravasated within 3 days."""
    return _fraction(column(run.fates, "extravasation_time_s") <= 3 * DAY_S)  # NaN (never) compares False


def luzzi1998_micro_d3(run) -> tuple[float, float]:
    """Fraction of injected units that began a micrometastasis within 3 days."""
    return _fraction(column(run.fates, "micrometastasis_time_s") <= 3 * DAY_S)


def luzzi1998_macro_d13(run) -> tuple[float, float]:
    """Fraction of injected units that are macrometastases at the end (day 13)."""
    return _fraction(column(run.fates, "post_arrest") == "macrometastasis")


def luzzi1998_dormant_d13(run) -> tuple[float, float]:
    """Fraction of injected units that are solitary dormant cells at the end (day 13)."""
    return _fraction(column(run.fates, "post_arrest") == "dormant")


def fidler1970_alive_24h(run) -> tuple[float, float]:
    """Fraction of injected units alive at 24 h, anywhere (``compare.indicator("alive")``)."""
    return _fraction(indicator(run.fates, "alive").astype(bool))


def fidler1970_lung_share_24h(run) -> tuple[float, float]:
    """Of the units alive at 24 h, the fraction in the lung (binomial over the survivors;
    no survivor: 0 with variance 1/4, the most a fraction can have)."""
    alive = indicator(run.fates, "alive").astype(bool)
    if not alive.any():
        return 0.0, 0.25
    return _fraction(indicator(run.fates, "organ:lung").astype(bool)[alive])


@dataclasses.dataclass(frozen=True)
class Measure:
    experiment: str                        # a key of EXPERIMENTS
    of: Callable[[object], tuple[float, float]]  # a run (.fates, .events) -> (value, Monte Carlo variance)
    events: bool = False                   # whether it reads the run's events


MEASURES = {
    "meng2004_half_life": Measure("breast_bolus", meng2004_half_life, events=True),
    "luzzi1998_extravasated_d3": Measure("luzzi1998", luzzi1998_extravasated_d3),
    "luzzi1998_micro_d3": Measure("luzzi1998", luzzi1998_micro_d3),
    "luzzi1998_macro_d13": Measure("luzzi1998", luzzi1998_macro_d13),
    "luzzi1998_dormant_d13": Measure("luzzi1998", luzzi1998_dormant_d13),
    "fidler1970_alive_24h": Measure("fidler1970", fidler1970_alive_24h),
    "fidler1970_lung_share_24h": Measure("fidler1970", fidler1970_lung_share_24h),
}
