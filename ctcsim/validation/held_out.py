"""Held-out site frequencies (issue 11): fit on one series per primary, predict the other's ranking.

Each built-in tropism table is fitted to one series of
ctcsim/data/reference/metastatic_site_frequencies.csv (ctcsim/data/tropism/README.md names it);
the primaries with a second series (breast, prostate, lung, colorectal, kidney) hold that one
out.  Of tropism_fit this uses only ``fit`` and ``default_scenario``: the fit is run on the
table's series, and must give the built-in table byte for byte, so the prediction is the
built-in scenario of the primary as ctcsim runs it, whatever the table's factors mean.

- The model predicts an organ's relative site frequency as its share of the micrometastases
  formed by the horizon (``sim.human_horizon_s``) in a simulation of SITE_UNITS x n units
  (metastasis is rare per unit: a ranking needs more units than a fraction).
- Blood flow alone is the circulation's arrests by organ with every tropism factor 1 (flow and
  mechanical trapping: ``tropism_fit.delivery_model`` and ``arrest_probabilities``, exact).
- Each is ranked against the series by Spearman's rho with its exact one-sided p-value
  (``ranks``); the series are pooled by the sum of their rhos, permuted within each series.
  A row is judged inside when the pooled p <= ALPHA: the model ranks the organs better than chance.
- The interval of the model's mean rho is its Monte Carlo error: the 2.5 and 97.5 percentiles
  over BOOTSTRAP multinomial resamplings of the simulated metastasis counts.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import io
import math
from importlib import resources

import numpy as np

from .. import site_frequencies as sf
from .. import tropism, tropism_fit
from ..compare import column
from . import ranks
from .intervals import Estimate
from .sim import Runs, horizon_text, human_horizon_s, variant

ALPHA = 0.05
BOOTSTRAP = 400
SITE_UNITS = 10
# table: (label and series of the fit, as in ctcsim/data/tropism/README.md; held-out series:
# (label, part of the study's name, note))
SERIES = {
    "breast": (("breast", "Iran J Med Sci"), [("breast", "Newton", "first metastatic site; brain '<5' ranked as 5")]),
    "prostate": (("prostate", "Gandaglia"), [("prostate", "Hess", "")]),
    "colon": (("colorectal", "Holch"), [
        ("rectum", "Netherlands", "rectum, part of the colorectal primary the table is fitted for"),
        ("colon left-sided", "Netherlands", ""), ("colon right-sided", "Netherlands", "")]),
    "lung_nsclc": (("lung (NSCLC)", "Li et al"),
                   [("lung (adenocarcinoma)", "Riihimaki", "adenocarcinoma, a NSCLC type")]),
    "lung_sclc": (("lung (SCLC)", "Li et al"), [("lung (small cell)", "Riihimaki", "")]),
    "kidney": (("kidney (RCC)", "McKay"), [("kidney (RCC)", "Sci Rep 2021", "two denominators mixed (as cited)")]),
}


@dataclasses.dataclass(frozen=True)
class Series:
    table: str
    label: str
    key: str
    values: dict          # organ -> the published figure (for ranking)
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Line:
    """One series ranked: the model's and blood flow's shares of its organs, and the tests."""
    series: Series
    model: dict
    flow: dict
    model_test: dict
    flow_test: dict


@dataclasses.dataclass(frozen=True)
class Report:
    held_out: bool
    lines: tuple
    model: dict           # ranks.pooled of the model
    flow: dict            # ranks.pooled of blood flow alone
    estimate: Estimate    # the model's mean rho
    n: str
    horizon: str
    why: tuple
    verdict: str


def read_series(label: str, part: str, table: str = "", note: str = "") -> Series:
    """The sites of one series of the shipped table (rows of ``label`` whose study's name holds
    ``part``), as organ -> figure for ranking: "~33" as 33, a bound ("<5") as its number; sites
    outside the circulation model are left out.  Unlike ``site_frequencies.read_sites`` this
    accepts bounds and mixed denominators: a ranking needs only the order."""
    text = (resources.files("ctcsim") / sf.SHIPPED.removeprefix("ctcsim/")).read_text(encoding="utf-8")
    values, key, last = {}, None, ""
    for d in csv.DictReader(io.StringIO(text)):
        source = last if d["source"].strip().lower() == "same" else d["source"].strip()
        last = source
        study = sf._series_key(source)
        if d["primary"].strip() != label or part.lower() not in study.lower():
            continue
        organ = sf._organ_of_site(d["site"])
        if organ is not None:
            values[organ] = float(d["percent"].strip().lstrip("~<>"))
            key = study
    if key is None:
        raise ValueError(f"{sf.SHIPPED}: no series {part!r} of primary {label!r}")
    return Series(table, label, key, values, note)


@functools.lru_cache(maxsize=None)
def fitted_scenario(table: str):
    """The scenario the table of ``table`` is fitted on, after fitting it to its series and
    checking that the fit is the built-in table (else the built-in tables are stale)."""
    label, part = SERIES[table][0]
    scenario = tropism_fit.default_scenario(table)
    fit = tropism_fit.fit(sf.read_sites(None, label, part), scenario)
    if fit.to_csv() != tropism.load(table).to_csv():
        raise RuntimeError(f"ctcsim/data/tropism/{table}.csv is not the fit of its series {part!r}: "
                           "regenerate it with the command in ctcsim/data/tropism/README.md")
    return scenario


def site_prediction(runs: Runs, table: str) -> dict:
    """The model's site frequencies by organ for the table's scenario (any scale; ranks are what
    count): the micrometastases formed by the horizon in SITE_UNITS x n simulated units (only the
    counts are kept: a million fates per primary are not), whose Monte Carlo error ``_interval``
    resamples.  This is the one prediction the held-out test makes: an exact prediction of
    relative site frequencies (scenario, table) -> organ -> share replaces it where the model has one."""
    def make():
        base = fitted_scenario(table)
        f = runs.simulate(f"sites_{table}", variant(base, t_max_s=human_horizon_s(base)), n=SITE_UNITS * runs.n).fates
        formed = np.isfinite(column(f, "micrometastasis_time_s").astype(float))
        names, counts = np.unique(column(f, "organ")[formed].astype(str), return_counts=True)
        return {o: int(c) for o, c in zip(names, counts)}
    return runs.memo(f"sites_{table}", make)


@functools.lru_cache(maxsize=None)
def _flow(table: str) -> dict:
    """organ -> P(arrest there) with every tropism factor 1, for every organ of the table's scenario."""
    scenario = fitted_scenario(table)
    organs = scenario.resolved_anatomy().organs()
    d, _ = tropism_fit.arrest_probabilities(tropism_fit.delivery_model(scenario), organs)
    return dict(zip(organs, map(float, d)))


def _series(held: bool) -> list[Series]:
    out = []
    for table, ((label, part), others) in SERIES.items():
        if held:
            out += [read_series(lab, p, table, note) for lab, p, note in others]
        else:
            out.append(read_series(label, part, table))
    return out


def report(runs: Runs, held: bool) -> Report:
    series = _series(held)
    counts = {t: site_prediction(runs, t) for t in SERIES}
    lines = []
    for s in series:
        obs = list(s.values.values())
        model = {o: counts[s.table].get(o, 0) for o in s.values}
        flow = {o: _flow(s.table)[o] for o in s.values}
        lines.append(Line(s, model, flow, ranks.spearman(list(model.values()), obs),
                          ranks.spearman(list(flow.values()), obs)))
    m = ranks.pooled((list(ln.model.values()), list(ln.series.values.values())) for ln in lines)
    f = ranks.pooled((list(ln.flow.values()), list(ln.series.values.values())) for ln in lines)
    flow_text = f"blood flow alone: mean rho {f['mean_rho']:.3g}, p = {f['p']:.3g}"
    if math.isnan(m["p"]):
        verdict = f"MISS: no ranking (no metastasis simulated); {flow_text}"
    else:
        verdict = (f"{'inside' if m['p'] <= ALPHA else 'MISS'}: pooled exact p = {m['p']:.3g} "
                   f"({'<=' if m['p'] <= ALPHA else '>'} {ALPHA:g}); {flow_text}")
    why = (f"{m['strata']} series with >= 2 organs ({m['orderings']:,} orderings)",
           f"blood flow alone (arrests, every tropism factor 1): mean rho {f['mean_rho']:.3g}")
    total = sum(sum(c.values()) for c in counts.values())
    return Report(held, tuple(lines), m, f, _interval(runs, series, counts, m["mean_rho"]),
                  f"{SITE_UNITS * runs.n:,} units per primary ({total:,} micrometastases)",
                  horizon_text(human_horizon_s("breast")), why, verdict)


def _interval(runs: Runs, series, counts, rho: float) -> Estimate:
    how = f"percentiles of {BOOTSTRAP} multinomial resamplings of the simulated metastases"
    if math.isnan(rho):
        return Estimate(math.nan, -1.0, 1.0, how)
    rng = np.random.default_rng(runs.seed_of("sites_bootstrap"))
    means = []
    for _ in range(BOOTSTRAP):
        resampled = {t: dict(zip(c, rng.multinomial(sum(c.values()), np.array(list(c.values())) / sum(c.values()))))
                     if c else {} for t, c in counts.items()}
        rhos = [ranks.rho([resampled[s.table].get(o, 0) for o in s.values], list(s.values.values()))
                for s in series if len(s.values) >= 2]
        rhos = [r for r in rhos if not math.isnan(r)]
        means.append(np.mean(rhos) if rhos else math.nan)
    lo, hi = np.nanpercentile(means, [2.5, 97.5])
    return Estimate(rho, min(float(lo), rho), max(float(hi), rho), how)
