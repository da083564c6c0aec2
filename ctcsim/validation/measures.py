"""How ctcsim measures each published number of ctcsim/data/validation/targets.toml: one
function per target id, on simulated fates, with its Monte Carlo variance.

A measurement is an experiment (``EXPERIMENTS``: a built-in scenario, set up as the paper
did it) and a function of a simulation of it (``MEASURES[id]``: ``runner.Result``, its fates
and, where ``events``, its events) returning
``(value, variance)``: the value in the target's unit and the Monte Carlo variance of that
value over the experiment's units (binomial for fractions; the sample median's asymptotic
variance for a half-life).  The joint calibration (``jointfit``) runs each experiment once per
evaluation and measures every target on it; the dossier may reuse the same functions.

Only the calibration targets are here, measured as ``measurements`` (the dossier's) measures
them, but on a run of the scenario the fit hands over (the dossier's functions simulate the
built-in scenarios themselves); the half-life is the dossier's ``blood``.  No fit may read a
prediction (``declaration`` refuses any id whose role is not "calibration").
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from .. import scenario as _scenario
from ..compare import column, indicator
from ..stats import Z95
from . import blood

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
    # units that start together in the systemic veins (the vena cava) at t = 0, observed for 12 h
    # (5 x Meng's longest half-life, as the dossier's measurement).
    return {**d, "entry": {"mode": "injection", "site": "systemic_veins"}, "t_max_s": 12 * HOUR_S}


EXPERIMENTS = {
    "breast_bolus": Experiment("breast", _intravenous_bolus),
    "luzzi1998": Experiment("luzzi1998"),
    "fidler1970": Experiment("fidler1970"),
}


def _fraction(hit: np.ndarray) -> tuple[float, float]:
    n = len(hit)
    p = float(np.mean(hit))
    return p, p * (1.0 - p) / n


def meng2004_half_life(run) -> tuple[float, float]:
    """Hours until the units in the blood first fall to half of those injected, counted from
    the events (``blood``, the dossier's: in at entry and at each release from arrest, out at
    each arrest or death), so a unit released back counts again, as Meng's CTC counts would.
    Still above half at the horizon: the horizon, a lower bound, with variance 0.  Variance:
    that of a normal with the 95 % interval of ``blood.half_life`` (the binomial inverted at
    the crossing)."""
    times, count = blood.blood_count(*blood.changes(run.events))
    e = blood.half_life(times, count, run.fates.num_rows)
    if not math.isfinite(e.value):
        return float(np.max(column(run.fates, "fate_time_s"))) / HOUR_S, 0.0
    high = e.high if math.isfinite(e.high) else e.value + (e.value - e.low)
    return e.value / HOUR_S, ((high - e.low) / (2 * Z95 * HOUR_S)) ** 2


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
