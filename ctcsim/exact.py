"""The single-unit master equation, solved without simulating (DESIGN 7).

One unit is a continuous-time Markov chain over the transient states
(compartment c, Erlang stage j, shield s), indexed ``offset[c] + 2*j + s``, and
the absorbing ``outcomes``.  The entry draws (cluster size k, phenotype p,
diameter d) fix the generator, so every (k, p, d) node of the entry
distribution gets its own generator block; the blocks are stacked block-
diagonally with the node weights folded into the initial vector, and one solve
of the stacked system gives the mixture.  Entry compartments need no block:
the answer is linear in the initial vector.  Semantics: ``ctcsim.model``.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import solve_ivp
from scipy.sparse.linalg import splu
from scipy.special import expit

from .model import HAZARDS, CompiledModel

SHEAR, NK, ANOIKIS, ADHESION = (HAZARDS.index(h) for h in ("shear", "nk", "anoikis", "adhesion"))
RTOL, ATOL = 1e-10, 1e-12  # solve_ivp tolerances; ATOL is absolute on mixture probabilities
MASS_LEFT = 1e-12          # without t_max, integrate until this much mass is still circulating
# Gauss-Hermite: double the nodes n until E[trap probability] moves by less than
# GH_TOL; that bounds the n-node error, and the 2n nodes used converge much further.
# Outcomes are smooth functions of the trap probabilities with the same complex
# singularities in z (the logistic's poles), so they converge at the same rate.
GH_TOL, GH_MAX = 1e-10, 256  # numpy's hermegauss overflows beyond 256 nodes


def outcomes(model: CompiledModel) -> list[tuple[str, str | None, str]]:
    """Absorbing outcomes as (fate, organ, arrest_mode): died_shear, died_nk,
    died_anoikis, then (trapped, adhered) per organ in ``organ_names`` order, then censored."""
    out: list[tuple[str, str | None, str]] = [
        ("died_shear", None, "none"), ("died_nk", None, "none"), ("died_anoikis", None, "none")]
    for organ in model.organ_names:
        out += [("arrested", organ, "trapped"), ("arrested", organ, "adhered")]
    return out + [("censored", None, "none")]


def _trap_probability(model: CompiledModel, k: int, d: np.ndarray) -> np.ndarray:
    """P(trapped on entering c) for diameters d: shape d.shape + (C,), 0 in pools."""
    r = np.multiply.outer(d * model.trap_diameter_scale[k - 1], 1.0 / model.capillary_diameter_um)
    q = model.trap_max * expit((r - model.trap_ratio50) / model.trap_width)
    return np.where(model.is_bed == 1, q, 0.0)  # pools have nan diameters


def _diameter_nodes(model: CompiledModel) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights (summing to 1) for the standard normal of the diameter."""
    if model.diameter_sigma_log == 0 or model.trap_max == 0 or not model.is_bed.any():
        return np.zeros(1), np.ones(1)  # the diameter only matters through trapping
    sizes = range(1, len(model.cluster_cum) + 1)
    last = None
    for n in (16, 32, 64, 128, GH_MAX):
        z, w = hermegauss(n)
        d = model.diameter_median_um * np.exp(model.diameter_sigma_log * z)
        mean_q = np.array([w @ _trap_probability(model, k, d) for k in sizes]) / math.sqrt(2 * math.pi)
        if last is not None and np.abs(mean_q - last).max() < GH_TOL:
            break
        last = mean_q
    else:
        warnings.warn(f"diameter quadrature not converged at {GH_MAX} nodes (trap_width too sharp?)")
    return z, w / math.sqrt(2 * math.pi)


def _entry_nodes(model: CompiledModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entry distribution's (k, p, z) nodes: weights [B], hazard factors F [B, 4]
    and trap probabilities on entering each compartment [B, C]."""
    z, wz = _diameter_nodes(model)
    d = model.diameter_median_um * np.exp(model.diameter_sigma_log * z)
    weights, factors, traps = [], [], []
    for k, wk in enumerate(np.diff(model.cluster_cum, prepend=0.0), start=1):
        for p, wp in enumerate(np.diff(model.phenotype_cum, prepend=0.0)):
            live = wk * wp * wz > 0
            weights.append((wk * wp * wz)[live])
            factors.append(np.tile(model.cluster_factor[:, k - 1] * model.phenotype_factor[:, p], (live.sum(), 1)))
            traps.append(_trap_probability(model, k, d[live]))
    return np.concatenate(weights), np.concatenate(factors), np.concatenate(traps)


class _System:
    """The stacked generator.  Rates out of transient state i: ``T`` (transient,
    diagonal included), ``R`` (into outcomes), ``alpha[i] * w(a)`` into died_anoikis
    when anoikis is time-dependent (beta != 1; at beta == 1 it is in T and R).
    ``steps[i]`` is the total rate of constant-hazard events, self-loops included.
    ``p0``/``e0``: initial transient and outcome (trapped at entry) mass."""

    def __init__(self, model: CompiledModel):
        if (model.adhesion_per_s[model.is_bed == 0] != 0).any():
            raise ValueError("adhesion_per_s is non-zero in a pool: arrest there has no organ")
        if ((model.stage_rate_per_s > 0) & (np.diff(model.edge_ptr) == 0)).any():
            raise ValueError("a compartment with a finite transit has no outgoing edge")
        self.n_out = len(outcomes(model))
        ns = model.n_stages.astype(np.int64)
        offset = np.concatenate([[0], np.cumsum(2 * ns)])
        n = int(offset[-1])
        i = np.arange(n)
        comp, shield = np.repeat(np.arange(model.n_compartments), 2 * ns), i % 2
        stage = (i - offset[comp]) // 2
        rate, toggle = model.stage_rate_per_s[comp], model.shield_toggle_per_s[comp, shield]
        arrest_col = np.where(model.is_bed[comp] == 1, 3 + 2 * model.organ[comp], 0)  # trapped; +1 adhered
        # One unit's transitions, as (rows, cols, rates): stage advances, shield toggles,
        # and moves after the last stage into (c', 0, s) by flow fraction.
        inner = np.flatnonzero(stage < ns[comp] - 1)
        fixed = np.concatenate([inner, i]), np.concatenate([inner + 2, i ^ 1]), np.concatenate([rate[inner], toggle])
        moves = np.array([(j, offset[c] + shield[j], rate[j] * f) for j in np.flatnonzero(stage == ns[comp] - 1)
                          for c, f in model.successors(int(comp[j]))]).reshape(-1, 3).T
        m_from, m_to = moves[0].astype(np.int64), moves[1].astype(np.int64)
        # Constant hazards into outcomes: (factor, rate per state before factors, outcome column).
        self.time_dependent = bool(model.anoikis_scale.any()) and model.anoikis_beta != 1
        channels = [(SHEAR, model.shear_per_s[comp, shield], 0), (NK, model.nk_per_s[comp, shield], 1),
                    (ADHESION, model.adhesion_per_s[comp, shield], arrest_col + 1)]
        if not self.time_dependent:  # beta == 1: the constant hazard scale * F / eta
            channels.append((ANOIKIS, model.anoikis_scale[shield] / model.anoikis_eta_s, 2))

        weight, F, Q = _entry_nodes(model)
        B = len(weight)
        hazard = F[:, [h for h, _, _ in channels], None] * np.array([r for _, r, _ in channels])  # [B, H, n]
        total = rate + toggle + hazard.sum(axis=1)                                                   # [B, n]
        q_to = Q[:, comp[m_to]]  # trapped on entering the move's target
        shift = np.arange(B)[:, None] * n

        def stacked(parts, n_cols, block_cols):
            """The B blocks down the rows (and along the columns if block_cols) of a sparse
            matrix, from one unit's entries (rows [m], cols [m], values [m] or [B, m])."""
            def flat(x, m): return np.broadcast_to(x, (B, m)).ravel()
            rows = np.concatenate([flat(shift + r, len(r)) for r, _, _ in parts])
            cols = np.concatenate([flat(shift * block_cols + c, len(r)) for r, c, _ in parts])
            vals = np.concatenate([flat(v, len(r)) for r, _, v in parts])
            return sp.csr_matrix((vals, (rows, cols)), shape=(B * n, n_cols))

        self.T = stacked([fixed, (m_from, m_to, moves[2] * (1 - q_to)), (i, i, -total)], B * n, True)
        self.R = stacked([(m_from, arrest_col[m_to], moves[2] * q_to)] + [
            (i, np.broadcast_to(col, n), hazard[:, h]) for h, (_, _, col) in enumerate(channels)], self.n_out, False)
        self.alpha = (F[:, [ANOIKIS]] * model.anoikis_scale[shield] * self.time_dependent).ravel()
        self.steps = total.ravel()
        p0, self.e0 = np.zeros((B, n)), np.zeros(self.n_out)
        for c, pc in zip(model.entry_compartment, np.diff(model.entry_cum, prepend=0.0)):
            p0[:, offset[c]] += weight * pc * (1 - Q[:, c])
            self.e0[3 + 2 * model.organ[c]] += pc * weight @ Q[:, c]  # Q = 0 in pools
        self.p0 = p0.ravel()


def _censor_age(model: CompiledModel) -> float:
    """The age at which a unit still circulating is censored (a unit entering after
    t_max_s can only be trapped at entry, as in the core)."""
    if math.isinf(model.t_max_s):
        return math.inf
    if len(model.entry_time_grid_s) != 1:
        raise ValueError("exact solutions with censoring (finite t_max_s) need a single entry time, "
                         f"but entry_time_grid_s has {len(model.entry_time_grid_s)} points")
    return max(0.0, model.t_max_s - float(model.entry_time_grid_s[0]))


def _occupation(model: CompiledModel, sys: _System) -> np.ndarray:
    """Expected time in each transient state, x = p0 (-T)^-1 (constant hazards, no censoring)."""
    if sys.time_dependent or not math.isinf(model.t_max_s):
        raise ValueError("linear solves need constant hazards (anoikis off or beta == 1) and t_max_s = inf")
    try:
        return splu((-sys.T).T.tocsc()).solve(sys.p0)
    except RuntimeError as error:  # SuperLU: "Factor is exactly singular"
        raise ValueError("some transient state is never absorbed") from error


def _propagate(model: CompiledModel, sys: _System, age_end: float, ages: np.ndarray | None = None):
    """Integrate the forward equation dy/da = y Q(a), y = (transient mass,
    cumulative outcome mass), from age 0 to age_end (inf: until MASS_LEFT is left).

    For beta < 1 the Weibull hazard is infinite at a = 0, so integrate in the
    clock u = (a/eta)**beta (the anoikis cumulative hazard per unit alpha): there
    the anoikis rate is the constant alpha and the other rates get the factor
    da/du = (eta/beta) u**(1/beta - 1), which is bounded.  Otherwise the clock is a.
    Returns y at ``ages`` (sorted, unique), or at the end as one column."""
    eta, beta = model.anoikis_eta_s, model.anoikis_beta
    if sys.time_dependent and beta < 1:
        def clock(a): return (a / eta) ** beta
        def g0(u): return eta / beta * u ** (1 / beta - 1)
        def g1(u): return 1.0
    else:
        def clock(a): return a
        def g0(a): return 1.0
        def g1(a): return beta / eta * (a / eta) ** (beta - 1) if sys.time_dependent else 0.0
    n, size = len(sys.p0), len(sys.p0) + sys.n_out
    # y' = g0 * y @ [[T, R], [0, 0]] + g1 * y @ (anoikis: -alpha on the diagonal, +alpha to died_anoikis)
    M0 = sp.vstack([sp.hstack([sys.T, sys.R]), sp.csr_matrix((sys.n_out, size))]).T.tocsr()
    idx = np.arange(n)
    M1 = sp.csr_matrix((np.concatenate([-sys.alpha, sys.alpha]), (np.concatenate([idx, idx]),
                        np.concatenate([idx, np.full(n, n + 2)]))), shape=(size, size)).T.tocsr()
    events = None
    if math.isinf(age_end):  # only with time-dependent anoikis, which bounds the survival:
        if sys.alpha.min() <= 0:  # P(circulating at a) <= exp(-min(alpha) (a/eta)**beta)
            raise ValueError("without t_max_s, anoikis must act in every state to guarantee absorption")
        age_end = eta * (1.01 * math.log(1 / MASS_LEFT) / sys.alpha.min()) ** (1 / beta)
        def events(t, y): return y[:n].sum() - MASS_LEFT
        events.terminal = True
    y0 = np.concatenate([sys.p0, sys.e0])
    if age_end == 0:  # solve_ivp returns nothing for an empty span
        return np.repeat(y0[:, None], 1 if ages is None else len(ages), axis=1)
    result = solve_ivp(lambda t, y: g0(t) * (M0 @ y) + g1(t) * (M1 @ y), (0.0, clock(age_end)), y0,
                       method="Radau", rtol=RTOL, atol=ATOL, jac=lambda t, y: g0(t) * M0 + g1(t) * M1,
                       events=events, t_eval=None if ages is None else clock(ages))
    if not result.success:
        raise RuntimeError(f"forward equation failed: {result.message}")
    return result.y if ages is not None else result.y[:, -1:]


def outcome_probabilities(model: CompiledModel) -> np.ndarray:
    """P(each of ``outcomes(model)``) for one unit drawn from the entry distribution."""
    sys = _System(model)
    age_end = _censor_age(model)
    if not sys.time_dependent and math.isinf(age_end):
        return sys.e0 + _occupation(model, sys) @ sys.R
    y = _propagate(model, sys, age_end)[:, -1]
    probs = y[len(sys.p0):].copy()
    probs[-1] = y[:len(sys.p0)].sum()  # still circulating (<= MASS_LEFT when t_max_s = inf)
    return probs


def absorption_cdf(model: CompiledModel, ages_s) -> np.ndarray:
    """P(absorbed into each outcome by age a), shape [len(ages_s), n_outcomes];
    age = time since entry.  Trapping at entry counts at age 0; censoring at
    the censoring age t_max_s - entry time."""
    ages = np.asarray(ages_s, dtype=float)
    if ages.ndim != 1 or not len(ages) or (ages < 0).any():
        raise ValueError("ages_s must be a non-empty 1-d sequence of ages >= 0")
    sys, censor = _System(model), _censor_age(model)
    grid, back = np.unique(np.minimum(ages, censor), return_inverse=True)  # t_eval must be increasing
    y = _propagate(model, sys, grid[-1], grid)[:, back]
    n = len(sys.p0)
    cdf = y[n:].T.copy()
    cdf[:, -1] = np.where(ages >= censor, y[:n].sum(axis=0), 0.0)
    return cdf


def mean_absorption_time_s(model: CompiledModel) -> float:
    """Mean age at absorption (constant hazards, t_max_s = inf; else ValueError)."""
    return float(_occupation(model, _System(model)).sum())


def mean_steps(model: CompiledModel) -> float:
    """Mean number of Gillespie steps (constant-hazard events, the absorbing one
    included; trapping is part of the move that led to it, and costs nothing at entry)."""
    sys = _System(model)
    return float(_occupation(model, sys) @ sys.steps)


# The post-arrest chain (DESIGN 2.4) is in exact_post.py; its public API is re-exported here.
from .exact_post import (colony_extinction_probability, grow_time_cdf, post_arrest_probabilities,  # noqa: E402, F401
                         time_to_micrometastasis_cdf)
