"""Exact answers after arrest (DESIGN 2.4, 7): the post-arrest chain of one arrested unit.

From arrest in bed ``c`` with the shield ``s`` it arrived with, cluster size k and
phenotype p, the chain of ``ctcsim.model`` is a finite continuous-time Markov chain
up to the micrometastasis:

    in_capillary -> died_in_capillary | extravasated; extravasated -> dormant (dormancy_prob)
    or a colony of n = k cells; dormant -> died_dormant | colony of k cells; colony n ->
    n + 1 (birth * n) | n - 1 (death * n), until n = 0 (colony_extinct) or n = micro_cells

with states (in_capillary, dormant, colony n = 1..micro-1) and the absorbing outcomes
(died_in_capillary, died_dormant, colony_extinct, micrometastasis); k >= micro_cells
skips the colony.  At horizon inf it is solved by a linear solve; at a finite horizon
by its forward equation.  States with no way out (all their rates 0) keep their
mass: it is reported as the censored state (in_capillary, dormant, proliferating).

The micrometastasis stage is not Markov (``colony``): the core draws its growth time once,
at the stage's start, under the model in force then.  With f(tau) = (p(tau) Q)[micrometastasis]
the density of the stage's start and G the closed forms of ``colony.Growth``,

    P(macro by H) = int_0^H f(tau) P(T < H - tau, T <= R) dtau     (likewise regressed);

the two integrals are integrated as two extra components of the chain's forward
equation (LSODA at the caller's rtol and atol, default RTOL and ATOL; checked in
tests/test_post_arrest.py against adaptive quadrature over tau with the matrix
exponential: they agree to ~1e-11).  At horizon inf the integral is P(micrometastasis)
times the closed form at u = inf.

Horizons are times since arrest: a unit arrested at absolute time t_a is censored by
the core at t_max_s, i.e. at horizon t_max_s - t_a.  A delayed arm (``after`` from absolute
time ``switch_s``, ``arms``) switches the chain's rates at ``switch_s - arrest_time_s`` after
the arrest: the chain is solved in two pieces, and a micrometastasis stage keeps the growth
of the model it started under (as the core draws it).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from scipy.sparse.linalg import splu

from ..model import HAZARDS, POST_ARREST, CompiledModel
from .arms import post_arrest_pieces
from .colony import ATOL, RTOL, Growth

NK, EXTRAVASATION, PROLIFERATION = (HAZARDS.index(h) for h in ("nk", "extravasation", "proliferation"))
PA = {name: i for i, name in enumerate(POST_ARREST)}
DENSE_MAX = 256            # chains up to this size use dense linear solves


def post_arrest_probabilities(model: CompiledModel, bed, shield: int = 0, cluster_size: int = 1,
                              phenotype: int = 0, horizon_s=math.inf, *, after: CompiledModel | None = None,
                              switch_s: float = math.inf, arrest_time_s: float = 0.0, rtol: float = RTOL,
                              atol: float = ATOL) -> np.ndarray:
    """P(each post-arrest outcome of ``model.POST_ARREST``) for a unit arrested in
    compartment ``bed`` (index or name) with shield ``shield``, cluster size and phenotype
    (index into PHENOTYPES), by ``horizon_s`` after arrest (a scalar: shape [10]; a 1-d
    sequence: shape [len, 10], one row per horizon).  Final outcomes (died_in_capillary,
    died_dormant, colony_extinct, regressed, macrometastasis) are those reached by the
    horizon; in_capillary, dormant, proliferating and micrometastasis hold the mass still
    there at the horizon (or for ever, when no rate leaves it).  "none" is 0.
    ``after``, ``switch_s``: a delayed arm, ``after`` governing from absolute time switch_s,
    for a unit arrested at absolute time ``arrest_time_s``."""
    h = np.asarray(horizon_s, dtype=float)
    if h.ndim > 1 or (h < 0).any() or np.isnan(h).any():
        raise ValueError("horizon_s must be a time >= 0 or a 1-d sequence of them")
    _rates(model, bed, shield, cluster_size, phenotype)  # refuse bad arguments before any work
    out = np.array([_post_arrest_at(model, after, switch_s, arrest_time_s, (bed, shield, cluster_size, phenotype),
                                    float(x), rtol, atol) for x in np.atleast_1d(h)])
    # Seed and soil: an incompatible organ kills the unit at arrest, before the chain starts.
    q = _rates(model, bed, shield, cluster_size, phenotype)["compatibility"]
    out *= q
    out[:, PA["died_in_capillary"]] += 1.0 - q
    return out[0] if h.ndim == 0 else out


# -- internals ---------------------------------------------------------------------------------


def _rates(model: CompiledModel, bed, shield, k, p) -> dict:
    c = model.compartment_names.index(bed) if isinstance(bed, str) else int(bed)
    if not 0 <= c < model.n_compartments or not model.is_bed[c]:
        raise ValueError(f"bed must be a bed compartment of the model, got {bed!r}")
    if shield not in (0, 1):
        raise ValueError(f"shield must be 0 or 1, got {shield!r}")
    if not 1 <= k <= model.cluster_factor.shape[1] or not 0 <= p < model.phenotype_factor.shape[1]:
        raise ValueError(f"cluster_size must be in 1..{model.cluster_factor.shape[1]} and phenotype in "
                         f"0..{model.phenotype_factor.shape[1] - 1}, got {k!r}, {p!r}")
    F = model.cluster_factor[:, k - 1] * model.phenotype_factor[:, p]
    return dict(cap_death=model.cap_death_per_s[c, shield] * F[NK],
                extravasation=model.extravasation_per_s[c] * F[EXTRAVASATION],
                dormancy=min(max(float(model.dormancy_prob[c]), 0.0), 1.0), wake=model.wake_per_s[c],
                dormant_death=model.dormant_death_per_s[c], birth=model.birth_per_s[c] * F[PROLIFERATION],
                death=model.death_per_s[c], regression=model.regression_per_s[c],
                compatibility=float(model.compatibility[c]),
                micro=int(model.micro_cells), macro=float(model.macro_cells), k=int(k))


def _chain(r: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """(dense generator Q, POST_ARREST label of each state, start state) of the chain up to the
    micrometastasis.  States: in_capillary, dormant, colony n = 1..M-1, then the absorbing
    died_in_capillary, died_dormant, colony_extinct, micrometastasis."""
    M, k = r["micro"], r["k"]
    cap, dorm, dc, dd, ext, mic = 0, 1, M + 1, M + 2, M + 3, M + 4
    def col(n): return ext if n == 0 else mic if n >= M else 1 + n
    Q = np.zeros((M + 5, M + 5))
    Q[cap, dc] += r["cap_death"]
    Q[cap, dorm] += r["extravasation"] * r["dormancy"]
    Q[cap, col(k)] += r["extravasation"] * (1.0 - r["dormancy"])
    Q[dorm, dd] += r["dormant_death"]
    Q[dorm, col(k)] += r["wake"]
    for n in range(1, M):
        Q[1 + n, col(n + 1)] += r["birth"] * n
        Q[1 + n, col(n - 1)] += r["death"] * n
    Q[np.diag_indices_from(Q)] -= Q.sum(axis=1)
    labels = np.array([PA["in_capillary"], PA["dormant"]] + [PA["proliferating"]] * (M - 1) + [
        PA["died_in_capillary"], PA["died_dormant"], PA["colony_extinct"], PA["micrometastasis"]])
    return Q, labels, cap


def _post_arrest_at(model, after, switch_s, arrest_time_s, unit, horizon: float, rtol, atol) -> np.ndarray:
    """The outcome distribution at ``horizon`` (before seed and soil), piece by piece."""
    y = None
    for piece in post_arrest_pieces(model, after, switch_s, arrest_time_s, horizon):
        r = _rates(piece.model, *unit)
        Q, labels, start = _chain(r)
        growth = Growth(r["birth"], r["death"], max(unit[2], r["micro"]), r["macro"], r["regression"])
        if y is None:
            y = np.zeros(len(Q) + 2)  # the chain's states, then P(macro), P(regressed) so far
            y[start] = 1.0
        y = (_absorb if math.isinf(piece.end) else _forward_with_stage)(Q, y, piece.start, piece.end, growth,
                                                                        horizon, rtol, atol)
    n = len(y) - 2
    x, macro, regressed = y[:n], y[n], y[n + 1]
    out = np.bincount(labels, weights=np.clip(x, 0.0, 1.0), minlength=len(POST_ARREST))
    out[PA["macrometastasis"]], out[PA["regressed"]] = macro, regressed
    out[PA["micrometastasis"]] = max(x[n - 1] - macro - regressed, 0.0)
    return out


def _absorb(Q, y, tau0, tau1, growth: Growth, horizon, rtol, atol) -> np.ndarray:
    """``y`` once the chain has left every state with a way out (horizon inf): the
    absorption probabilities (-Q_live)^-1 Q_live,rest from the live mass; the
    micrometastases reached here grow or regress by the closed forms at u = inf."""
    n = len(Q)
    live = np.diag(Q) < 0  # states with a way out; the others keep their mass for ever
    x = np.where(live, 0.0, y[:n])
    if live.any():
        x[~live] += Q[np.ix_(live, ~live)].T @ _solve(-Q[np.ix_(live, live)].T, y[:n][live])
    new_micro = x[n - 1] - y[n - 1]
    return np.concatenate([x, [y[n] + new_micro * growth.macro_by(math.inf),
                               y[n + 1] + new_micro * growth.regressed_by(math.inf)]])


def _solve(A, b):
    if len(A) <= DENSE_MAX:
        return np.linalg.solve(A, b)
    return splu(sp.csc_matrix(A)).solve(b)


def _forward_with_stage(Q, y, tau0, tau1, growth: Growth, horizon: float, rtol, atol) -> np.ndarray:
    """``y`` (the chain's distribution, P(macro by horizon), P(regressed by horizon) so far)
    carried from time tau0 to tau1 since arrest.

    The forward equation dp/dtau = p Q, augmented with the micrometastasis-stage integrals
    dI/dtau = f(tau) G(horizon - tau): f = p Q[:, micrometastasis] is the density of the
    stage's start, G its closed forms (macro_by, regressed_by).  LSODA (stiff/non-stiff
    switching, no BLAS threads); its adaptive steps span the chain's and the growth's time
    scales however long the horizon."""
    n = len(Q)
    if tau1 == tau0:
        return y
    into_micro = Q[:, -1].copy()
    into_micro[-1] = 0.0
    QT = np.ascontiguousarray(Q.T)

    def rhs(tau, x):
        f = x[:n] @ into_micro
        u = horizon - tau
        return np.concatenate([QT @ x[:n], [f * growth.macro_by(u), f * growth.regressed_by(u)]])

    J = np.zeros((n + 2, n + 2))
    J[:n, :n] = QT

    def jac(tau, x):
        J[n, :n] = into_micro * growth.macro_by(horizon - tau)
        J[n + 1, :n] = into_micro * growth.regressed_by(horizon - tau)
        return J

    res = solve_ivp(rhs, (tau0, tau1), y, method="LSODA", rtol=rtol, atol=atol, jac=jac)
    if not res.success:
        raise RuntimeError(f"post-arrest forward equation failed: {res.message}")
    return res.y[:, -1]
