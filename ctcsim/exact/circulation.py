"""Exact answers for the circulating phase: outcome probabilities, their CDFs in age, and
mean times and steps (DESIGN 7).

Absorption probabilities come from a linear solve when hazards are constant and nothing is
censored; otherwise from the forward equation (``forward.propagate``), piece by piece for a
delayed arm (``arms``).  ``rtol`` and ``atol`` are the accuracy the caller needs: Radau's
tolerances where anoikis is time-dependent, and the diameter quadrature's target (at least
``entry.GH_TOL``); the default is far beyond what any simulation resolves.
"""
from __future__ import annotations

import math

import numpy as np

from ..model import CompiledModel
from .arms import circulation_pieces
from .capillary import MODES, releasing
from .entry import EntryNodes
from .forward import ATOL, RTOL, absorb, occupation, propagate
from .generator import System, is_time_dependent, outcomes


def _censor_age(model: CompiledModel) -> float:
    """The age at which a unit still circulating is censored (a unit entering after
    t_max_s can only be trapped at entry, as in the core)."""
    if math.isinf(model.t_max_s):
        return math.inf
    if len(model.entry_time_grid_s) != 1:
        raise ValueError("exact solutions with censoring (finite t_max_s) need a single entry time, "
                         f"but entry_time_grid_s has {len(model.entry_time_grid_s)} points")
    return max(0.0, model.t_max_s - float(model.entry_time_grid_s[0]))


def _systems(model, after, switch_s, atol):
    """[(System, start age, end age)] of each piece, over shared entry nodes and one state space
    (with the capillary states if any piece releases arrested units)."""
    pieces = circulation_pieces(model, after, switch_s, _censor_age(model))
    nodes = EntryNodes.of([p.model for p in pieces], atol)
    capillary = releasing([p.model for p in pieces])
    return [(System(p.model, nodes, capillary), p.start, p.end) for p in pieces]


def arm_outcomes(model: CompiledModel, after: CompiledModel | None = None, switch_s: float = math.inf) -> list:
    """The outcomes that outcome_probabilities answers for the arm: ``outcomes(model)``, or with
    the capillary's exits when a piece of the arm releases arrested units."""
    pieces = circulation_pieces(model, after, switch_s, _censor_age(model))
    return outcomes(model, releasing([p.model for p in pieces]))


def outcome_probabilities(model: CompiledModel, *, after: CompiledModel | None = None, switch_s: float = math.inf,
                          rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """P(each of ``outcomes(model)``) for one unit drawn from the entry distribution (of
    ``outcomes(model, True)`` when a piece releases arrested units: ``capillary``).
    ``after``, ``switch_s``: a delayed arm, ``after`` governing from absolute time switch_s."""
    systems = _systems(model, after, switch_s, atol)
    y = systems[0][0].y0
    for sys, a0, a1 in systems:
        if sys.capillary and math.isinf(a1) and sys.time_dependent:
            raise ValueError("exact solutions with release from arrest and time-dependent anoikis need a finite "
                             "t_max_s (no anoikis acts on arrested units)")
        if math.isinf(a1) and not sys.time_dependent:
            return absorb(sys, y)  # nothing is censored
        e, circulating, y = propagate(sys, y, a0, np.array([a1]), rtol, atol)
    probs = e[:, -1].copy()
    if sys.capillary:  # the mass left at the horizon: circulating (censored) or arrested (in_capillary)
        return probs + np.bincount(np.tile(sys.held, sys.n // sys.block), weights=y[:sys.n], minlength=sys.n_out)
    probs[-1] = circulating[-1]  # censored (<= MASS_LEFT when t_max_s = inf)
    return probs


def outcome_probabilities_by_kind(model: CompiledModel) -> dict[tuple[int, int], np.ndarray]:
    """P(each of ``outcomes(model)`` and the unit is of kind (k, p)), one row per kind (cluster
    size k, phenotype p) of weight > 0: the rows sum to ``outcome_probabilities``.  Constant
    hazards and t_max_s = inf (a linear solve per kind)."""
    if is_time_dependent(model) or not math.isinf(model.t_max_s):
        raise ValueError("linear solves need constant hazards (anoikis off or beta == 1) and t_max_s = inf")
    if releasing([model]):  # a released unit arrests again: its arrest organs are not one outcome
        raise ValueError("outcome probabilities by kind are not solved with release from arrest (k_release_per_s > 0): "
                         "see extravasations_by_kind")
    nodes = EntryNodes.of([model])
    out = {}
    for k, p in sorted(set(zip(nodes.k.tolist(), nodes.p.tolist()))):
        rows = (nodes.k == k) & (nodes.p == p)
        sys = System(model, EntryNodes(nodes.k[rows], nodes.p[rows], nodes.d[rows], nodes.weight[rows]))
        out[(k, p)] = absorb(sys, sys.y0)
    return out


def extravasations_by_kind(model: CompiledModel) -> dict[tuple[int, int], np.ndarray]:
    """With the capillary states in the chain (release from arrest): P(the unit extravasates from
    bed c with shield s and is of kind (k, p)), an array [n_compartments, 2] per kind of weight > 0
    (0 outside beds).  The flux out of each capillary state by extravasation: its expected
    occupation times its extravasation rate.  Constant hazards and t_max_s = inf."""
    if is_time_dependent(model) or not math.isinf(model.t_max_s):
        raise ValueError("linear solves need constant hazards (anoikis off or beta == 1) and t_max_s = inf")
    nodes = EntryNodes.of([model])
    out = {}
    for k, p in sorted(set(zip(nodes.k.tolist(), nodes.p.tolist()))):
        rows = (nodes.k == k) & (nodes.p == p)
        sys = System(model, EntryNodes(nodes.k[rows], nodes.p[rows], nodes.d[rows], nodes.weight[rows]), True)
        ext = [i for i, o in enumerate(outcomes(model, True)) if o[-1] == "extravasated"]
        flux = occupation(sys, sys.p0) * np.asarray(sys.R[:, ext].sum(axis=1)).ravel()
        local = flux.reshape(-1, sys.block).sum(axis=0)  # summed over the kind's entry nodes
        a = np.zeros((model.n_compartments, 2))
        for c in sys.cap.beds:
            for mode in MODES:
                for s in (0, 1):
                    a[c, s] += local[sys.cap.index(c, mode, s)]
        out[(k, p)] = a
    return out


def absorption_cdf(model: CompiledModel, ages_s, *, after: CompiledModel | None = None, switch_s: float = math.inf,
                   rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """P(absorbed into each outcome by age a), shape [len(ages_s), n_outcomes]; age = time
    since entry.  Trapping at entry counts at age 0; censoring at the censoring age t_max_s -
    entry time.  ``after``, ``switch_s``, ``rtol``, ``atol``: as for outcome_probabilities."""
    ages = np.asarray(ages_s, dtype=float)
    if ages.ndim != 1 or not len(ages) or (ages < 0).any() or np.isnan(ages).any():
        raise ValueError("ages_s must be a non-empty 1-d sequence of ages >= 0")
    censor = _censor_age(model)
    grid, back = np.unique(np.minimum(ages, censor), return_inverse=True)
    if math.isinf(grid[-1]):
        raise ValueError("ages_s: an infinite age needs a finite t_max_s (use outcome_probabilities)")
    systems = _systems(model, after, switch_s, atol)
    if systems[0][0].capillary:
        raise ValueError("absorption_cdf: not solved with release from arrest (use outcome_probabilities)")
    y, cols, done = systems[0][0].y0, [], 0
    for sys, a0, a1 in systems:
        here = grid[done:][grid[done:] <= a1]
        last = sys is systems[-1][0]
        targets = here if last or (len(here) and here[-1] == a1) else np.append(here, a1)
        if len(targets):
            e, circulating, y = propagate(sys, y, a0, targets, rtol, atol)
            cols.append(np.vstack([e, circulating])[:, :len(here)])
            done += len(here)
    mass = np.concatenate(cols, axis=1)[:, back]
    cdf = mass[:-2].T.copy()  # the outcomes but censored, which is the circulating mass at censoring
    return np.column_stack([cdf, np.where(ages >= censor, mass[-1], 0.0)])


def mean_absorption_time_s(model: CompiledModel) -> float:
    """Mean age at absorption (constant hazards, t_max_s = inf; else ValueError)."""
    sys = _constant(model)
    return float(occupation(sys, sys.p0).sum())


def mean_steps(model: CompiledModel) -> float:
    """Mean number of Gillespie steps (constant-hazard events, the absorbing one
    included; trapping is part of the move that led to it, and costs nothing at entry)."""
    sys = _constant(model)
    return float(occupation(sys, sys.p0) @ sys.steps)


def _constant(model: CompiledModel) -> System:
    if releasing([model]):
        raise ValueError("mean times and steps are not solved with release from arrest")
    sys = System(model, EntryNodes.of([model]))
    if sys.time_dependent or not math.isinf(model.t_max_s):
        raise ValueError("linear solves need constant hazards (anoikis off or beta == 1) and t_max_s = inf")
    return sys
