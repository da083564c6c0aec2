"""Fitting tropism tables to observed metastatic site frequencies (Weiss's metastatic efficiency index).

``fit`` turns one study's site frequencies for a primary (a ``site_frequencies.Series``, as
``site_frequencies.read_sites`` reads them) into a ``tropism.Table`` through the scenario's
circulation, solved exactly by ``ctcsim.exact``.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import anatomy as _anatomy
from . import exact
from .checks import ScenarioError
from .compile import compile_model
from .site_frequencies import Series
from .tropism import Row, Table

# Adhesion factors are fitted within this range.  For the default k_adh (0.05 /s) and ~1.6 s bed
# transits, an adhesion factor of 0.01 adheres ~0.1 % of the units crossing a bed and 100 nearly
# all that escape trapping: beyond it adhesion no longer moves arrests, and the rest of an organ's
# preference can only come from after arrest (``post_arrest``).
ADHESION_RANGE = (0.01, 100.0)
TOLERANCE = 1e-9  # on |log(fitted / target)| per organ, so on the shares too
MAX_ITERATIONS = 100


def default_scenario(primary: str):
    """The scenario a table of ``primary`` is fitted on by default: the built-in scenario of that
    primary if there is one (its anatomy and biology), else the default scenario with that primary."""
    from . import scenario as sc
    sc.builtin_primary(primary)  # an unknown primary is an error here, not later
    for name in sc.builtin_scenario_names():
        s = sc.builtin_scenario(name)
        if s.primary == primary:
            return s
    return sc.Scenario(name=primary, primary=primary)


def delivery_model(scenario):
    """The scenario's first-passage model with every adhesion factor 1, constant hazards
    (anoikis off) and no censoring, so that ``exact`` solves it by one sparse linear solve.
    Anoikis acts over hours and arrest within minutes, so this changes arrest shares by far
    less than any sampling error (see tests/test_tropism.py)."""
    organs = scenario.resolved_anatomy().organs()
    entry = scenario.entry
    if entry.mode == "shedding":  # entry times do not matter without time-dependent hazards
        entry = dataclasses.replace(entry, mode="drainage", time_s=0.0)
    neutral = dataclasses.replace(
        scenario, t_max_s=math.inf, adhesion=dict.fromkeys(organs, 1.0), arms=[], entry=entry,
        biology=dataclasses.replace(scenario.biology, anoikis_on=False))
    return compile_model(neutral)


def arrest_probabilities(model, organs, adhesion=None) -> tuple[np.ndarray, np.ndarray]:
    """P(arrest in each of ``organs``) and the part of it by adhesion, for ``model`` with its
    adhesion hazards times ``adhesion`` (one factor per organ; default 1)."""
    names = list(model.organ_names)
    factor = np.ones(len(names))
    if adhesion is not None:
        for o, a in zip(organs, adhesion):
            factor[names.index(o)] = a
    per_compartment = np.where(model.organ >= 0, factor[model.organ], 0.0)
    p = exact.outcome_probabilities(model.with_rates(adhesion=model.rates["adhesion"] * per_compartment[:, None]))
    total, adhered = dict.fromkeys(organs, 0.0), dict.fromkeys(organs, 0.0)
    for (fate, organ, mode), x in zip(exact.outcomes(model), p):
        if fate == "arrested" and organ in total:
            total[organ] += x
            adhered[organ] += x if mode == "adhered" else 0.0
    return np.array(list(total.values())), np.array(list(adhered.values()))


def fit(site_frequencies, scenario, *, adhesion_range=ADHESION_RANGE, tol=TOLERANCE,
        max_iterations=MAX_ITERATIONS) -> Table:
    """Fit a tropism table to observed metastatic site frequencies (a ``Series`` or a mapping
    organ -> frequency) through the scenario's circulation.

    1. Delivery: the arrest probability d_o of each observed organ o with every adhesion factor 1
       (``delivery_model``); D = sum of d_o.  Weiss's MEI_o = t_o / (d_o / D), t the observed shares.
    2. Targets P_o = t_o * D: tropism redistributes the arrests among the observed organs without
       changing their total, which fixes the common scale that relative frequencies leave free.
    3. From a_o = MEI_o, iterate to the fixed point of a_o <- a_o * P_o / p_o(a), until every
       arrest probability p_o is within ``tol`` (relative) of its target.  Adhesion changes
       arrests downstream too, hence the iteration rather than MEI itself.  The steps are
       quasi-Newton (``_solve``) rather than that plain update, which creeps where trapping
       dominates an organ's arrests (they then respond weakly to adhesion); the fixed point is the same.
    4. Adhesion is held within ``adhesion_range``.  An organ whose target lies beyond it (typically
       the first capillary bed, filled by trapping alone, Chambers 2002) stays at the bound, and its
       ``post_arrest`` = P_o / p_o carries the rest; elsewhere post_arrest is 1.
    Organs of the anatomy outside the series keep every factor 1.
    """
    series = site_frequencies if isinstance(site_frequencies, Series) else Series.of(site_frequencies)
    lo, hi = adhesion_range
    if not 0 < lo <= 1 <= hi < math.inf:
        raise ValueError(f"adhesion_range must satisfy 0 < lo <= 1 <= hi < inf, got {adhesion_range}")
    anatomy = scenario.resolved_anatomy()
    t = series.shares()
    organs = list(t)
    for o in organs:
        if o not in anatomy.organs():
            raise ScenarioError(series.where, o, f"not an organ of anatomy {anatomy.name!r}: {', '.join(anatomy.organs())}")
    model = delivery_model(scenario)
    d, adhered = arrest_probabilities(model, organs)
    for o, x in zip(organs, d):
        if x <= 0:
            raise ScenarioError(series.where, o, f"no unit arrests in {o!r} in scenario {scenario.name!r}: cannot fit it")
    share = np.array([t[o] for o in organs])
    mei = share / (d / d.sum())
    target = share * d.sum()
    u, p, iterations = _solve(lambda u: arrest_probabilities(model, organs, np.exp(u)), target,
                              np.log(mei), math.log(lo), math.log(hi), tol, max_iterations)
    if iterations is None:
        raise RuntimeError(f"tropism fit for {series.label or scenario.name!r} did not converge "
                           f"in {max_iterations} iterations")
    at_bound = (u <= math.log(lo)) | (u >= math.log(hi))
    post = np.where(at_bound, target / p, 1.0)
    return _table(scenario, series, organs, dict(zip(organs, np.exp(u))), dict(zip(organs, post)),
                  dict(zip(organs, mei)), t, adhesion_range)


def _solve(arrests, target, u, lo, hi, tol, max_iterations):
    """Solve arrests(u) = target for u = log adhesion in [lo, hi], leaving at a bound the organs
    whose target lies beyond it.  Returns (u, arrest probabilities, solves) (solves None: failed).

    Each step is a Newton step on log p(u) with the Jacobian kept by Broyden's update: started
    from the diagonal (the adhered part of each organ's arrests, which is what adhesion scales),
    it learns the rest, chiefly how adhesion upstream takes units from organs downstream."""
    u = np.clip(u, lo, hi)
    p, adhered = arrests(u)
    jacobian = np.diag(np.clip(adhered / p, 1e-3, 1.0))
    for it in range(1, max_iterations + 1):
        r = np.log(target / p)
        free = ~(((u <= lo) & (r < 0)) | ((u >= hi) & (r > 0)))
        if not free.any() or np.abs(r[free]).max() < tol:
            return u, p, it
        step = np.zeros_like(u)
        try:
            step[free] = np.linalg.solve(jacobian[np.ix_(free, free)], r[free])
        except np.linalg.LinAlgError:  # a degenerate update: restart from the diagonal guess
            jacobian = np.diag(np.clip(np.diag(jacobian), 1e-3, 1.0))
            step[free] = r[free] / np.diag(jacobian)[free]
        u_new = np.clip(u + step, lo, hi)
        p_new, _ = arrests(u_new)
        s, y = u_new - u, np.log(p_new / p)
        if s @ s > 0:
            jacobian += np.outer(y - jacobian @ s, s) / (s @ s)
        u, p = u_new, p_new
    return u, p, None


def _table(scenario, series, organs, adhesion, post_arrest, mei, shares, adhesion_range) -> Table:
    anatomy = scenario.resolved_anatomy()
    primary = scenario.resolved_primary().name
    how = (f"Fitted by ctcsim.tropism_fit.fit (Weiss MEI refined by fixed point, adhesion held in "
           f"[{adhesion_range[0]:g}, {adhesion_range[1]:g}], the rest in post_arrest) on scenario "
           f"{scenario.name!r} (anatomy {anatomy.name}, primary {primary}, its biology with anoikis off "
           f"and no censoring)")
    soil = "Niche, inflammation, macrophage 1: site frequencies cannot separate them (post-arrest stage, DESIGN 2.4)"
    sites = {s.organ: s for s in series.sites}
    rows = []
    for organ in anatomy.organs():
        if organ in sites:
            s = sites[organ]
            source = (f"site {s.name!r}: {s.percent} % of {series.denominator} ({series.source}). "
                      f"{series.handling()}. {how}. {soil}")
            rows.append(Row(organ, adhesion[organ], post_arrest=post_arrest[organ], mei=mei[organ],
                            site=s.name, percent=s.percent, share=shares[organ], series=series.key, source=source))
        else:
            rows.append(Row(organ, series=series.key, source=(
                f"not a site of series {series.key!r}: adhesion and post_arrest 1 (no information; "
                f"flow and trapping alone decide arrests here). {soil}")))
    # So that the table serves every built-in anatomy (a human primary's cells injected into a
    # mouse), organs only other anatomies have (the mouse's "gut") get 1, as unobserved organs do.
    for name in _anatomy.builtin_names():
        for organ in _anatomy.builtin(name).organs():
            if organ not in {r.organ for r in rows}:
                rows.append(Row(organ, series=series.key, source=(
                    f"organ of the built-in anatomy {name!r}, not of {anatomy.name!r} on which the table "
                    f"was fitted: every factor 1 (no information). {soil}")))
    return Table(primary, tuple(rows))
