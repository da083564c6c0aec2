"""The published experiments that the built-in mouse scenarios reproduce, as measurable targets.

Each target is what an experiment reported, how to measure it on simulated fates, the
parameter it depends on most (the one it was calibrated with before the joint fit,
``ctcsim calibrate-all``, set every value at once), and the interval the simulation must land in.  The
intervals are the rounding intervals of the published figures ("about 80 %" is read as
75-85 %): the papers give no standard errors, only these rounded fractions.

A run is judged against that interval combined with its own Monte Carlo error (``judge``): it
agrees when its Wilson interval of the measured fraction meets the published interval.  Judged
by the point estimate alone, a run of the default size flagged noise (luzzi1998's 36 % dormant
cells, published as 35.5-36.5 %, sits within one Monte Carlo standard error of an edge at 1e5
units).  The intervals' confidence makes the false-alarm rate of a scenario's whole set of
targets at most ``FAMILY_ALPHA`` when the model's true value lies in every published interval
(Bonferroni over the targets).  Each figure is a
row of the reference table ctcsim ships, ``REFERENCE``, named by its ``stage``.
"""
from __future__ import annotations

import dataclasses
import statistics
from typing import Callable

import numpy as np

from .stats import wilson
from .units import duration

from .compare import column, indicator

DAY_S = 86400.0
REFERENCE = "ctcsim/data/reference/metastatic_inefficiency.csv"
FAMILY_ALPHA = 0.01  # false alarms per run of a scenario, over all of its targets


@dataclasses.dataclass(frozen=True)
class Target:
    scenario: str
    name: str
    published: float
    low: float
    high: float
    measure: Callable[[object], float]  # fates (pyarrow or pandas) -> the measured fraction
    parameter: str   # the biology parameter (or soil.ORGAN.FACTOR) it depends on most
    source: str
    stage: str       # its row in REFERENCE (the stage column); published = that row's cumulative fraction
    horizon_s: float  # the time point of the experiment: a run is judged only if it observes until then


def _alive_in_lung(f) -> float:
    return float(np.mean(indicator(f, "alive") & indicator(f, "organ:lung")))


def _before(f, name: str, t_s: float) -> float:
    return float(np.mean(column(f, name) <= t_s))  # NaN (never happened) compares False


def _is(f, name: str, value: str) -> float:
    return float(np.mean(column(f, name) == value))


TARGETS = (
    Target("luzzi1998", "extravasated by day 3", 0.80, 0.75, 0.85,
           lambda f: _before(f, "extravasation_time_s", 3 * DAY_S), "k_cap_nk_per_s",
           "Luzzi et al. 1998 Am J Pathol 153:865", "survive microcirculation and extravasate", 13 * DAY_S),
    Target("luzzi1998", "micrometastases started by day 3", 0.02, 0.015, 0.025,
           lambda f: _before(f, "micrometastasis_time_s", 3 * DAY_S), "p_dormant",
           "Luzzi et al. 1998: 1 in 40 extravasated cells", "begin growth (micrometastases of 4-16 cells)", 13 * DAY_S),
    Target("luzzi1998", "macrometastases at day 13", 0.0002, 0.00015, 0.00025,
           lambda f: _is(f, "post_arrest", "macrometastasis"), "k_regression_per_s",
           "Luzzi et al. 1998: 1 in 100 micrometastases", "micrometastases persisting to macroscopic tumours",
           13 * DAY_S),
    Target("luzzi1998", "solitary dormant cells at day 13", 0.36, 0.355, 0.365,
           lambda f: _is(f, "post_arrest", "dormant"), "k_dormant_death_per_s",
           "Luzzi et al. 1998", "solitary dormant cells remaining (Ki-67 2%; TUNEL 3%)", 13 * DAY_S),
    Target("fidler1970", "alive in the lung at 24 h", 0.01, 0.005, 0.015, _alive_in_lung, "soil.lung.macrophage",
           "Fidler 1970 J Natl Cancer Inst 45:773", "viable cells after 24 h", DAY_S),
)


def measure(fates, scenario: str) -> dict[str, float]:
    """The measured value of each target of ``scenario`` on fates (pyarrow or pandas)."""
    return {t.name: t.measure(fates) for t in TARGETS if t.scenario == scenario}


def targets_of(name: str, horizon_s: float) -> list[Target]:
    """The targets of scenario ``name`` that a run observed until ``horizon_s`` can be judged by:
    those measured at that time point (fidler1970 observed 14 d is not the 24 h experiment)."""
    return [t for t in TARGETS if t.scenario == name and t.horizon_s == horizon_s]


def unjudged_note(name: str, horizon_s: float) -> str | None:
    """Why a run of a built-in experiment is not judged against it: its horizon is another."""
    points = sorted({t.horizon_s for t in TARGETS if t.scenario == name})
    if not points or horizon_s in points:
        return None
    return (f"The published figures of {name} are at {', '.join(duration(p) for p in points)}; this run observes "
            f"{duration(horizon_s)}, so they are not compared (run it with --horizon "
            f"{duration(points[0]).replace(' ', '')} to compare them).")


def measure_run(run) -> dict[str, dict]:
    """The targets of the run's scenario at its horizon (``targets_of``) measured on its fates,
    batch by batch (every target is a mean over units, so batch means weighted by rows are
    exact); {} if it has none."""
    name = run.metadata["scenario_name"]
    targets = targets_of(name, run.scenario.t_max_s)
    if not targets:
        return {}
    sums, n = dict.fromkeys((t.name for t in targets), 0.0), 0
    for batch in run.fates.to_batches():
        for t in targets:
            sums[t.name] += t.measure(batch) * batch.num_rows
        n += batch.num_rows
    out = {}
    for t in targets:
        count = round(sums[t.name])  # every measure is a fraction of units: its sum is a count
        out[t.name] = {"measured": sums[t.name] / n, "count": count, "n": n, "published": t.published,
                       "interval": [t.low, t.high], "source": t.source, **judge(count, n, t.low, t.high, len(targets))}
    return out


def judge(count: int, n: int, low: float, high: float, n_targets: int = 1) -> dict:
    """Whether ``count`` of ``n`` units agrees with the published interval [low, high]: its
    Wilson interval at confidence 1 - FAMILY_ALPHA / n_targets (two-sided) meets it.
    Returns {"mc_interval", "confidence", "verdict": "ok" or "OUTSIDE"}."""
    alpha = FAMILY_ALPHA / n_targets
    lo, hi = wilson(count, n, statistics.NormalDist().inv_cdf(1 - alpha / 2))
    return {"mc_interval": [lo, hi], "confidence": 1 - alpha, "verdict": "ok" if lo <= high and hi >= low else "OUTSIDE"}
