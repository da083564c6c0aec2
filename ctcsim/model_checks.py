"""Checks on a CompiledModel: what the core is given must be finite, in range, and must end.

Every arm's model (before and after its start time) goes through ``check``, so a
multiplier that pushes a probability out of [0, 1] or a rate to infinity is refused like
a bad base value, and no model the core is handed lets a unit circulate forever.
"""
from __future__ import annotations

import math

import numpy as np

from . import _core
from . import hazards as H
from .checks import ScenarioError
from .model import CompiledModel


def check(m: CompiledModel, where: str, key: str):
    """Raise ScenarioError(where, key, ...) for the first thing the core cannot simulate."""
    def bad(problem):
        raise ScenarioError(where, key, problem)

    for name, r in m.rates.items():
        wrong = ~np.isfinite(r) | (r < 0)
        if wrong.any():
            c, s = np.argwhere(wrong)[0]
            bad(f"the {name} rate in {m.compartment_names[c]} ({'shielded' if s else 'unshielded'}) "
                f"comes out as {r[c, s]!r}: rates must be finite and >= 0 (a probability above 1, or a "
                f"reference value multiplied to 0?)")
    for name, lo, hi, strict in (("anoikis_eta_s", 0, math.inf, True), ("anoikis_beta", 0, math.inf, True),
                                 ("trap_max", 0, 1, False), ("trap_ratio50", 0, math.inf, True),
                                 ("trap_width", 0, math.inf, True), ("cluster_cell_trap", 0, 1, False),
                                 ("macro_cells", 0, math.inf, True),
                                 ("diameter_median_um", 0, math.inf, True), ("diameter_sigma_log", 0, math.inf, False)):
        x = getattr(m, name)
        if not (math.isfinite(x) and (lo < x if strict else lo <= x) and x <= hi):
            bad(f"{name} comes out as {x!r}: expected a finite value in {'(' if strict else '['}{lo}, {hi}]")
    x = m.dormancy_prob
    if not (np.isfinite(x) & (x >= 0) & (x <= 1)).all():
        bad(f"dormancy_prob comes out as {x[~((x >= 0) & (x <= 1))][0]!r}: expected a probability in [0, 1]")
    if not (np.isfinite(m.trap_deformability) & (m.trap_deformability > 0)).all():
        bad(f"trap_deformability comes out as {list(m.trap_deformability)!r}: expected finite factors > 0")
    if not np.isfinite(m.cluster_factor).all() or not np.isfinite(m.phenotype_factor).all():
        bad("a cluster or phenotype factor is not finite")
    if not m.t_max_s > 0:
        bad(f"t_max_s is {m.t_max_s!r}: expected > 0")
    t = m.entry_time_grid_s
    if not np.isfinite(t).all() or t.min() >= m.t_max_s or t.max() > m.t_max_s:
        bad(f"units enter at up to {t.max()!r} s, not before t_max_s = {m.t_max_s!r}: they would have "
            "fates before they enter")
    _check_absorbing(m, _absorbing_error(where, key))


def _absorbing_error(where, key):
    def bad(problem):
        raise ScenarioError(where, "t_max_s", problem if key == "biology" else f"{key}: {problem}")
    return bad


def _check_absorbing(m: CompiledModel, bad):
    """Every reachable state (compartment, shield, arrested or not) of every kind of unit (cluster
    size, phenotype) must reach one where something ends it: a death in circulation with a rate
    > 0 after the unit's factors, or anoikis acting; or an arrest that can hold (by an arrest
    hazard, or trapping on entering a bed) and then ends in the capillary (a post-arrest rate out
    of it, or nothing acting there).  With release from arrest, an arrest
    without these is a way back into the blood.  A finite chain that can always reach absorption
    is absorbed with probability 1.  Without t_max that is required; with it, only when units
    that nothing ends could exhaust the step budget before t_max."""
    circulating = [h for h in H.HAZARDS if h.phase == "circulating"]
    capillary = [h for h in H.HAZARDS if h.phase == "capillary"]
    releasing = any((m.rates[h.name] > 0).any() for h in capillary if h.kind == "release")
    # With t_max, a unit that nothing can end takes up to t_max x its fastest rate of steps:
    # refused when that is beyond the core's step budget (it would fail there, after minutes).
    fastest = sum(m.rates[h.name].max() for h in circulating if h.kind in ("stage", "toggle"))
    if releasing:  # a released unit can cycle through arrests
        fastest += sum(m.rates[h.name].max() for h in capillary)
    steps = (m.t_max_s - float(m.entry_time_grid_s.min())) * fastest
    if steps <= _core.DEFAULT_MAX_STEPS:
        return
    pk = np.diff(m.cluster_cum, prepend=0.0)
    pp = np.diff(m.phenotype_cum, prepend=0.0)
    for k in np.flatnonzero(pk > 0) + 1:
        for p in np.flatnonzero(pp > 0):
            f = dict(zip((h.name for h in H.HAZARDS), m.unit_factors(int(k), int(p))))
            stuck = _stuck(m, {h.kind: sum(m.rates[x.name] * f[x.name] for x in circulating if x.kind == h.kind) > 0
                               for h in circulating},
                           {h.kind: sum(m.rates[x.name] * f[x.name] for x in capillary if x.kind == h.kind) > 0
                            for h in capillary})
            if stuck:
                c, s, arrested = stuck
                unit = (f"units {'arrested ' if arrested else ''}in {m.compartment_names[c]}{' (shielded)' if s else ''}"
                        f" of cluster size {k}, {H.PHENOTYPES[p]}")
                if math.isinf(m.t_max_s):
                    bad(f"{unit}, can circulate forever: no death, arrest that holds or anoikis can reach them "
                        "there; set t_max_s or a hazard")
                bad(f"{unit}, circulate until t_max_s with nothing to end them there, up to {steps:.2g} steps "
                    f"each, beyond the core's budget of {_core.DEFAULT_MAX_STEPS:.0e} steps per unit: lower "
                    "t_max_s or add a hazard")


def _stuck(m: CompiledModel, circ, cap):
    """A reachable (c, s, arrested) from which no ending state is reachable, or None.  ``circ``
    and ``cap``: by hazard kind, whether the circulating and the capillary hazards of that kind
    act in each (c, s) (bool [C, 2])."""
    none = np.zeros((m.n_compartments, 2), bool)
    moves, toggles = circ.get("stage", none), circ.get("toggle", none)
    arrests = circ.get("arrest", none) | ((m.is_bed > 0) & (m.trap_max > 0))[:, None]  # trapped on entering
    releases, binds = cap.get("release", none), cap.get("toggle", none)
    leaves = np.any([x for kind, x in cap.items() if kind not in ("release", "toggle")] or [none], axis=0)
    ends = {(c, s, 0): circ.get("fate", none)[c, s] for c in range(m.n_compartments) for s in (0, 1)}
    ends |= {(c, s, 1): bool(leaves[c, s] or not (releases[c, s] or binds[c, s]))
             for c in range(m.n_compartments) for s in (0, 1)}

    def successors(c, s, arrested):
        if arrested:  # in the capillary: platelets bind, or release into the blood by flow
            return ([(c, 1 - s, 1)] if binds[c, s] else []) + \
                ([(int(d), s, 0) for d, _ in m.successors(c)] if releases[c, s] else [])
        out = [(int(d), s, 0) for d, _ in m.successors(c)] if moves[c, s] else []
        return out + ([(c, 1 - s, 0)] if toggles[c, s] else []) + ([(c, s, 1)] if m.is_bed[c] and arrests[c, s] else [])

    seen, todo = set(), [(int(c), 0, 0) for c in m.entry_compartment]
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(successors(*x))
    good = {x for x in seen if ends[x]}
    changed = True
    while changed:  # backward closure: states that can reach an ending one
        changed = False
        for x in seen - good:
            if any(y in good for y in successors(*x)):
                good.add(x)
                changed = True
    rest = sorted(seen - good)
    return rest[0] if rest else None
