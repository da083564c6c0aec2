"""What a run's report says: its tables, the clinical comparison, where time goes, the checks.

``collect(run)`` computes everything the report shows (``tables.tabulate`` does the reading)
and returns a ``Content``; ``html.render`` lays it out.  Nothing here draws or formats.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import experiments, tropism
from ..scenario.notes import no_tropism_note
from ..stats import wilson
from ..hazards import ARREST_MODES, FATES
from . import tables

TOP_PHASES = 12  # bars in "where the time goes"; the rest are summed into "other"


@dataclasses.dataclass
class Content:
    run: object
    scenario: object
    tallies: dict
    control: str
    differences: dict          # arm -> Paired.differences() rows ({} for one arm)
    clinical: dict | None      # {"series", "rows"} or None
    notes: list[str]           # what the reader must know before reading the numbers
    phases: dict               # control arm: label -> unit-seconds
    compartments: dict | None  # control arm, from events: compartment -> unit-seconds
    targets: dict              # published experiments (experiments.measure_run)
    exact: dict | None         # the exact-vs-simulated check, when asked for

    @property
    def t_max_s(self) -> float:
        return self.scenario.t_max_s


def collect(run, exact: bool = False) -> Content:
    scenario = run.scenario
    tab = tables.tabulate(run)
    tallies, control = tab["arms"], tab["control"]
    differences = {a: p.differences() for a, p in tab["paired"].items()}
    primary = scenario.resolved_primary().name
    clinical = _clinical(primary, tallies[control])
    return Content(run, scenario, tallies, control, differences, clinical, notes(scenario, tallies), _phases(tallies[control]),
                   tables.time_by_compartment(run, control), experiments.measure_run(run),
                   _exact(run, scenario, control) if exact else None)


def _clinical(primary: str, tally: tables.ArmTally) -> dict | None:
    """The organs of the primary's tropism table that its clinical series names, each with the
    series' share of metastatic sites and the simulated shares of units extravasated, alive at
    the end and with a macrometastasis there, all normalised over those organs (None without a
    table of two sites or more: one site carries no relative information)."""
    if primary not in tropism.list_tables():
        return None
    rows = [r for r in tropism.load(primary).rows if r.site and r.share is not None and r.organ in tally.organs]
    if len(rows) < 2:
        return None
    index = [tally.organs.index(r.organ) for r in rows]
    total = sum(r.share for r in rows)
    out = [{"organ": r.organ, "site": r.site, "clinical": r.share / total, "simulated": {}} for r in rows]
    for measure in ("extravasated", "alive", "macrometastasis"):
        counts = tally.organ_outcomes[index, tables.ORGAN_OUTCOMES.index(measure)]
        m = int(counts.sum())
        if m == 0:
            continue
        for row, k in zip(out, counts):
            row["simulated"][measure] = {"count": int(k), "share": k / m, "ci95": list(wilson(int(k), m)), "of": m}
    if not out[0]["simulated"]:
        return None
    return {"series": rows[0].series, "rows": out}


def notes(scenario, tallies: dict) -> list[str]:
    """What a reader must know before the numbers: a primary without a tropism table (every
    organ factor 1), and no macrometastasis by the horizon."""
    from .. import units

    notes = [n for n in [no_tropism_note(scenario)] if n]  # a changed primary is said at validate and run
    horizon = units.duration_s(scenario.t_max_s)
    if all(t.stages[tables.STAGES.index("macrometastasis")] == 0 for t in tallies.values()):
        notes.append(f"No unit reached a macrometastasis by the horizon, {horizon}. Metastases take months "
                     "to years: rerun with a longer horizon (ctcsim run ... --horizon 10y) to follow them.")
    return notes


def _phases(tally: tables.ArmTally) -> dict:
    """Unit-seconds circulating, in a capillary and in tissue per organ (the largest first)."""
    items = [("circulating", tally.circulating_s)]
    items += [(f"in a capillary: {o}", s) for o, s in zip(tally.organs, tally.capillary_s)]
    items += [(f"in tissue: {o}", s) for o, s in zip(tally.organs, tally.tissue_s)]
    items = sorted(((k, v) for k, v in items if v > 0), key=lambda x: -x[1])
    top = dict(items[:TOP_PHASES])
    if len(items) > TOP_PHASES:
        top["other"] = sum(v for _, v in items[TOP_PHASES:])
    return top


def _exact(run, scenario, arm: str) -> dict:
    """The circulating phase's outcomes (fate, organ, arrest mode) of ``arm``: simulated counts
    beside the master equation's probabilities, and Pearson's chi-square (cells expected fewer
    than 5 times pooled)."""
    from scipy import stats

    from .. import exact
    from ..compile import compile_model

    model = compile_model(scenario, arm)
    names = exact.outcomes(model)
    probs = exact.outcome_probabilities(model)
    index = {o: i for i, o in enumerate(names)}
    counts = np.zeros(len(names), np.int64)
    organs, k, m = tables._organ_names(run), len(tables._organ_names(run)) + 1, len(ARREST_MODES)
    for frag in tables._parts(run.fates, [arm])[arm]:
        t = frag.to_table(columns=["fate", "organ", "arrest_mode"])
        combo = (tables._codes(t["fate"], FATES) * k + tables._codes(t["organ"], organs) + 1) * m \
            + tables._codes(t["arrest_mode"], ARREST_MODES)
        seen = np.bincount(combo, minlength=len(FATES) * k * m)
        for c in np.flatnonzero(seen):
            f, o, mode = FATES[c // (k * m)], c // m % k - 1, ARREST_MODES[c % m]
            counts[index[(f, organs[o] if o >= 0 else None, mode)]] += seen[c]
    n = int(counts.sum())
    expected = probs * n
    small = expected < 5
    obs, exp = np.append(counts[~small], counts[small].sum()), np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    p_value = float(stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue)
    rows = [{"outcome": f if o is None else f"{f} {o} ({m})", "exact": float(p), "count": int(c),
             "simulated": c / n, "z": (c / n - p) / math.sqrt(p * (1 - p) / n) if 0 < p < 1 else 0.0}
            for (f, o, m), p, c in zip(names, probs, counts) if p >= 1e-6 or c]
    return {"arm": arm, "n": n, "rows": rows, "p_value": p_value, "cells": int(keep.sum())}
