"""Fitting tropism tables to observed metastatic site frequencies (Weiss's metastatic efficiency index).

``fit`` turns one study's site frequencies for a primary (a ``site_frequencies.Series``, as
``site_frequencies.read_sites`` reads them) into a ``tropism.Table`` through the scenario's
circulation and post-arrest chain, solved exactly by ``ctcsim.exact``: adhesion where adhesion
can move arrests, the rest of each organ's preference in its soil ``growth`` after extravasation
(``seed_soil``), relative to the reference organ, whose soil is the calibrated biology itself.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from . import anatomy as _anatomy
from . import exact, seed_soil
from .biology import SOIL_FACTORS
from .checks import ScenarioError
from .compile import compile_model
from .site_frequencies import Series
from .tropism import Row, Table

# Adhesion factors are fitted within this range.  For the default k_adh (0.05 /s) and ~1.6 s bed
# transits, an adhesion factor of 0.01 adheres ~0.1 % of the units crossing a bed and 100 nearly
# all that escape trapping: beyond it adhesion no longer moves arrests, and the rest of an organ's
# preference can only come from after arrest (the soil ``growth``, ``_fit_growth``).
ADHESION_RANGE = (0.01, 100.0)
# Growth factors are solved within this range: at 1e-3 a colony hardly divides, at 1e3 it divides
# every ~80 s (default birth 1.16e-5 /s); the built-in tables need 0.2-7.
GROWTH_RANGE = (1e-3, 1e3)
# The organ whose soil is the biology's own (every factor 1): the liver, where Luzzi 1998 measured
# the absolute efficiency of each step (2.5 % of injected cells start micrometastases, 0.02 %
# tumours), to which the joint calibration fits the biology; every built-in series observes it.
REFERENCE_ORGAN = "liver"
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
    """The scenario's model with every adhesion and growth factor 1 (its other inline soil
    factors kept, the rest 1), constant hazards (anoikis off) and no censoring, so that ``exact``
    solves it by sparse linear solves (``seed_soil.neutral_scenario``).  Where arrest takes
    minutes this changes arrest shares by far less than any sampling error; breast units
    circulate for hours (Meng's half-life), and anoikis then moves their shares by ~2 %
    relative, still a tenth of the series' own error (see tests/test_tropism.py)."""
    organs = scenario.resolved_anatomy().organs()
    soil = {o: {**{f: float(scenario.soil.get(o, {}).get(f, 1.0)) for f in SOIL_FACTORS}, "growth": 1.0}
            for o in organs}
    return compile_model(seed_soil.neutral_scenario(scenario, dict.fromkeys(organs, 1.0), soil))


def scaled(model, hazard: str, organs, factors=None):
    """``model`` with the ``hazard`` rates of each organ's beds times its factor (default 1)."""
    names = list(model.organ_names)
    factor = np.ones(len(names))
    for o, a in zip(organs, np.ones(len(organs)) if factors is None else factors):
        factor[names.index(o)] = a
    per_compartment = np.where(model.organ >= 0, factor[model.organ], 1.0)
    return model.with_rates(**{hazard: model.rates[hazard] * per_compartment[:, None]})


def arrest_probabilities(model, organs, adhesion=None) -> tuple[np.ndarray, np.ndarray]:
    """P(arrest in each of ``organs``) and the part of it by adhesion, for ``model`` with its
    adhesion hazards times ``adhesion`` (one factor per organ; default 1).  With release from
    arrest: of the unit's last arrest (outcomes ``exact.capillary``, by how it ended)."""
    p = exact.outcome_probabilities(scaled(model, "adhesion", organs, adhesion))
    total, adhered = dict.fromkeys(organs, 0.0), dict.fromkeys(organs, 0.0)
    for (fate, organ, mode, *_), x in zip(exact.arm_outcomes(model), p):
        if fate == "arrested" and organ in total:
            total[organ] += x
            adhered[organ] += x if mode == "adhered" else 0.0
    return np.array(list(total.values())), np.array(list(adhered.values()))


def fit(site_frequencies, scenario, *, adhesion_range=ADHESION_RANGE, tol=TOLERANCE,
        max_iterations=MAX_ITERATIONS, reference=REFERENCE_ORGAN, growth_range=GROWTH_RANGE) -> Table:
    """Fit a tropism table to observed metastatic site frequencies (a ``Series`` or a mapping
    organ -> frequency) through the scenario's circulation and post-arrest chain.

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
       the first capillary bed, filled by trapping alone, Chambers 2002) stays at the bound, and the
       rest must come after arrest: its ``efficiency`` = (P_o / p_o) / (P_ref / p_ref), relative to
       the ``reference`` organ (1 where adhesion does it all, as in the reference organ itself).
    5. Soil: the reference organ keeps every soil factor 1, the calibrated biology, which fixes the
       absolute scale (``REFERENCE_ORGAN``); each other observed organ's ``growth`` (the colony's
       divisions, after extravasation) is solved, within ``growth_range``, so that the predicted
       site frequencies (``seed_soil``: arrests x P(macrometastasis | arrest), by unit kind)
       stand to the reference organ's as the series' shares do.
    Organs of the anatomy outside the series keep every factor 1 (``data`` = "no data").
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
    if reference not in organs:
        raise ScenarioError(series.where, reference, f"the series does not observe the reference organ {reference!r}, "
                                                     "whose soil fixes the absolute scale: add it, or choose another")
    at_bound = (u <= math.log(lo)) | (u >= math.log(hi))
    weight = np.where(at_bound, target / p, 1.0)
    efficiency = weight / weight[organs.index(reference)]
    growth = _fit_growth(scaled(model, "adhesion", organs, np.exp(u)), organs, share, reference, growth_range)
    return _table(scenario, series, organs, dict(zip(organs, np.exp(u))), growth, dict(zip(organs, efficiency)),
                  dict(zip(organs, mei)), t, adhesion_range, reference, growth_range)


def _fit_growth(model, organs, share, reference, growth_range) -> dict[str, float]:
    """Each observed organ's growth factor: F_o(growth) = F_ref(1) share_o / share_ref, F of
    ``seed_soil`` (increasing in growth; solved by Brent's method on log growth)."""
    arrivals = seed_soil.arrivals_by_kind(model, organs)

    def weight(o, g):
        return seed_soil.site_weight(scaled(model, "division", [o], [g]), o, {u: a[organs.index(o)]
                                                                              for u, a in arrivals.items()})
    i = organs.index(reference)
    f_ref = weight(reference, 1.0)
    lo, hi = (math.log(x) for x in growth_range)
    out = {}
    for j, o in enumerate(organs):
        if o == reference:
            out[o] = 1.0
            continue
        goal = f_ref * share[j] / share[i]
        ends = [weight(o, math.exp(x)) - goal for x in (lo, hi)]
        if ends[0] > 0 or ends[1] < 0:
            raise ValueError(f"tropism fit: {o!r} needs {goal / f_ref:.3g} x the metastases of {reference!r} per "
                             f"arrest there, beyond what growth in [{growth_range[0]:g}, {growth_range[1]:g}] gives")
        out[o] = math.exp(optimize.brentq(lambda x: weight(o, math.exp(x)) - goal, lo, hi, xtol=1e-9, rtol=1e-12))
    return out


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


def _table(scenario, series, organs, adhesion, growth, efficiency, mei, shares, adhesion_range, reference,
           growth_range) -> Table:
    anatomy = scenario.resolved_anatomy()
    primary = scenario.resolved_primary().name
    how = (f"Fitted by ctcsim.tropism_fit.fit on scenario {scenario.name!r} (anatomy {anatomy.name}, primary "
           f"{primary}, its biology with anoikis off and no censoring): adhesion by Weiss MEI refined by fixed "
           f"point, held in [{adhesion_range[0]:g}, {adhesion_range[1]:g}]; the rest of the organ's preference in "
           f"its soil growth (divisions after extravasation, in [{growth_range[0]:g}, {growth_range[1]:g}]), "
           f"relative to {reference!r}, whose soil is the calibrated biology (every factor 1)")
    soil = "Niche, inflammation, macrophage 1: site frequencies cannot separate them from growth (DESIGN 2.4)"
    none = "no data: every soil factor 1, the biology's own rates, not an observed organ's"
    sites = {s.organ: s for s in series.sites}
    rows = []
    for organ in anatomy.organs():
        if organ in sites:
            s = sites[organ]
            source = (f"site {s.name!r}: {s.percent} % of {series.denominator} ({series.source}). "
                      f"{series.handling()}. {how}. {soil}")
            rows.append(Row(organ, adhesion[organ], growth=growth[organ],
                            data="reference" if organ == reference else "fitted", efficiency=efficiency[organ],
                            mei=mei[organ], site=s.name, percent=s.percent, share=shares[organ], series=series.key,
                            source=source))
        else:
            rows.append(Row(organ, series=series.key, source=(
                f"not a site of series {series.key!r}: adhesion 1 (flow and trapping alone decide arrests "
                f"here); {none}")))
    # So that the table serves every built-in anatomy (a human primary's cells injected into a
    # mouse), organs only other anatomies have (the mouse's "gut") get 1, as unobserved organs do.
    for name in _anatomy.builtin_names():
        for organ in _anatomy.builtin(name).organs():
            if organ not in {r.organ for r in rows}:
                rows.append(Row(organ, series=series.key, source=(
                    f"organ of the built-in anatomy {name!r}, not of {anatomy.name!r} on which the table "
                    f"was fitted: adhesion 1; {none}")))
    return Table(primary, tuple(rows))
