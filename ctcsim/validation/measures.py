"""How ctcsim measures each published number of ctcsim/data/validation/targets.toml: one
function per target id, on simulated fates, with its Monte Carlo variance.

A measurement is an experiment (``EXPERIMENTS``: a built-in scenario, set up as the paper
did it) and a function of that experiment's fates (``MEASURES[id]``) returning
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


def meng2004_half_life(f) -> tuple[float, float]:
    """Hours until half of the units have left the blood (arrest or death in circulation):
    the median of the time each unit leaves it; a censored unit (still in the blood at
    t_max_s) leaves after t_max_s, so a median past it is reported as t_max_s, a lower bound.
    Today an arrest is final; once arrested units can be released, a unit's time in the
    blood must be read from its events (arrest and release), not from its fate.
    Variance: the sample median's, p(1 - p) / (n f^2) at p = 1/2, with the density f of the
    exit time at the median from the 45 % and 55 % quantiles."""
    end = float(np.max(column(f, "fate_time_s")))
    t = column(f, "fate_time_s").astype(float) - column(f, "entry_time_s").astype(float)
    t = np.where(column(f, "fate") == "censored", 2 * end + 1, t)  # after every exit
    q45, q50, q55 = np.quantile(t, [0.45, 0.5, 0.55])
    if q50 > end:
        return end / HOUR_S, 0.0
    width = (q55 - q45) / HOUR_S
    return float(q50) / HOUR_S, 0.25 / len(t) * (width / 0.1) ** 2


def luzzi1998_extravasated_d3(f) -> tuple[float, float]:
    """Fraction of injected units extravasated within 3 days."""
    return _fraction(column(f, "extravasation_time_s") <= 3 * DAY_S)  # NaN (never) compares False


def luzzi1998_micro_d3(f) -> tuple[float, float]:
    """Fraction of injected units that began a micrometastasis within 3 days."""
    return _fraction(column(f, "micrometastasis_time_s") <= 3 * DAY_S)


def luzzi1998_macro_d13(f) -> tuple[float, float]:
    """Fraction of injected units that are macrometastases at the end (day 13)."""
    return _fraction(column(f, "post_arrest") == "macrometastasis")


def luzzi1998_dormant_d13(f) -> tuple[float, float]:
    """Fraction of injected units that are solitary dormant cells at the end (day 13)."""
    return _fraction(column(f, "post_arrest") == "dormant")


def fidler1970_alive_24h(f) -> tuple[float, float]:
    """Fraction of injected units alive at 24 h, anywhere (``compare.indicator("alive")``)."""
    return _fraction(indicator(f, "alive").astype(bool))


def fidler1970_lung_share_24h(f) -> tuple[float, float]:
    """Of the units alive at 24 h, the fraction in the lung (binomial over the survivors;
    no survivor: 0 with variance 1/4, the most a fraction can have)."""
    alive = indicator(f, "alive").astype(bool)
    if not alive.any():
        return 0.0, 0.25
    return _fraction(indicator(f, "organ:lung").astype(bool)[alive])


@dataclasses.dataclass(frozen=True)
class Measure:
    experiment: str                        # a key of EXPERIMENTS
    of: Callable[[object], tuple[float, float]]  # fates -> (value, Monte Carlo variance)


MEASURES = {
    "meng2004_half_life": Measure("breast_bolus", meng2004_half_life),
    "luzzi1998_extravasated_d3": Measure("luzzi1998", luzzi1998_extravasated_d3),
    "luzzi1998_micro_d3": Measure("luzzi1998", luzzi1998_micro_d3),
    "luzzi1998_macro_d13": Measure("luzzi1998", luzzi1998_macro_d13),
    "luzzi1998_dormant_d13": Measure("luzzi1998", luzzi1998_dormant_d13),
    "fidler1970_alive_24h": Measure("fidler1970", fidler1970_alive_24h),
    "fidler1970_lung_share_24h": Measure("fidler1970", fidler1970_lung_share_24h),
}
