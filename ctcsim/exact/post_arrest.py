"""Exact answers after arrest (DESIGN 2.4, 7): the post-arrest chain of one arrested unit.

From arrest in bed ``c`` with the shield ``s`` it arrived with, cluster size k and
phenotype p, the chain of ``chain.Chain`` (built from the hazard table) runs up to the
micrometastasis.  At horizon inf it is solved by a linear solve; at a finite horizon by
its forward equation.  States with no way out (all their rates 0) keep their
mass: it is reported as the censored state (in_capillary, dormant, proliferating).

The micrometastasis stage is not Markov (``colony``): the core draws its growth time once,
at the stage's start, under the model, shield and cell count then.  With f_i(tau) =
(p(tau) Q)[micro_i] the density of the stage's start in micrometastasis state i (its founding
cells and shield) and G_i its closed forms (``colony.Growth``),

    P(macro by H) = sum_i int_0^H f_i(tau) P(T < H - tau, T <= R) dtau     (likewise regressed);

these integrals (one per outcome of the stage) are integrated as extra components of the
chain's forward equation (LSODA at the caller's rtol and atol, default RTOL and ATOL; checked in
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

from ..model import POST_ARREST, CompiledModel
from .arms import post_arrest_pieces
from .chain import MICRO, STAGE_OUTCOMES, Chain, bed_index
from .colony import ATOL, RTOL

PA = {name: i for i, name in enumerate(POST_ARREST)}
DENSE_MAX = 256            # chains up to this size use dense linear solves


def post_arrest_probabilities(model: CompiledModel, bed, shield: int = 0, cluster_size: int = 1,
                              phenotype: int = 0, horizon_s=math.inf, *, after: CompiledModel | None = None,
                              switch_s: float = math.inf, arrest_time_s: float = 0.0, rtol: float = RTOL,
                              atol: float = ATOL) -> np.ndarray:
    """P(each post-arrest outcome of ``hazards.POST_ARREST``) for a unit arrested in
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
    unit = (bed_index(model, bed, shield, cluster_size, phenotype), shield, cluster_size, phenotype)
    out = np.array([_post_arrest_at(model, after, switch_s, arrest_time_s, unit, float(x), rtol, atol)
                    for x in np.atleast_1d(h)])
    return out[0] if h.ndim == 0 else out


def _post_arrest_at(model, after, switch_s, arrest_time_s, unit, horizon: float, rtol, atol) -> np.ndarray:
    """The outcome distribution at ``horizon``, piece by piece."""
    y = None
    for piece in post_arrest_pieces(model, after, switch_s, arrest_time_s, horizon):
        chain = Chain(piece.model, *unit)
        if y is None:  # the chain's states, then P(each of STAGE_OUTCOMES) so far
            y = np.zeros(len(chain.keys) + len(STAGE_OUTCOMES))
            y[chain.start] = 1.0
        y = (_absorb if math.isinf(piece.end) else _forward_with_stage)(chain, y, piece.start, piece.end, horizon,
                                                                        rtol, atol)
    return _outcomes(chain, y)


def extravasated_probabilities(model: CompiledModel, bed, shield: int = 0, cluster_size: int = 1,
                               phenotype: int = 0) -> np.ndarray:
    """P(each post-arrest outcome) at horizon inf for a unit that extravasates from ``bed`` with
    shield ``shield`` (as post_arrest_probabilities, but started at the extravasation: its k
    founders each draw dormancy, ``chain``).  For release from arrest, where the capillary phase
    is the circulation chain's (``exact.capillary``) and this chain takes over from its
    "extravasated" exit."""
    c = bed_index(model, bed, shield, cluster_size, phenotype)
    chain = Chain(model, c, shield, cluster_size, phenotype, extravasated=True)
    y = np.concatenate([chain.landing, np.zeros(len(STAGE_OUTCOMES))])
    return _outcomes(chain, _absorb(chain, y, 0.0, math.inf, math.inf, RTOL, ATOL))


def _outcomes(chain: Chain, y) -> np.ndarray:
    """P(each of POST_ARREST) from ``y``: the chain's states' mass, then the stage's outcomes."""
    n = len(chain.keys)
    x, stage = y[:n], y[n:]
    out = np.bincount(chain.labels, weights=np.clip(x, 0.0, 1.0), minlength=len(POST_ARREST))
    for o, v in zip(STAGE_OUTCOMES, stage):
        out[PA[o]] += v
    out[PA[MICRO]] = max(out[PA[MICRO]] - stage.sum(), 0.0)  # those still in the stage
    return out


def _absorb(chain: Chain, y, tau0, tau1, horizon, rtol, atol) -> np.ndarray:
    """``y`` once the chain has left every state with a way out (horizon inf): the
    absorption probabilities (-Q_live)^-1 Q_live,rest from the live mass; the
    micrometastases reached here end by the stage's closed forms at u = inf."""
    Q, n = chain.Q, len(chain.Q)
    live = np.diag(Q) < 0  # states with a way out; the others keep their mass for ever
    x = np.where(live, 0.0, y[:n])
    if live.any():
        x[~live] += Q[np.ix_(live, ~live)].T @ _solve(-Q[np.ix_(live, live)].T, y[:n][live])
    stage = y[n:] + sum((x[m] - y[m]) * chain.stage_weights(i, math.inf) for i, m in enumerate(chain.micro))
    return np.concatenate([x, stage])


def _solve(A, b):
    if len(A) <= DENSE_MAX:
        return np.linalg.solve(A, b)
    return splu(sp.csc_matrix(A)).solve(b)


def _forward_with_stage(chain: Chain, y, tau0, tau1, horizon: float, rtol, atol) -> np.ndarray:
    """``y`` (the chain's distribution, P(each stage outcome by horizon) so far) carried from
    time tau0 to tau1 since arrest.

    The forward equation dp/dtau = p Q, augmented with the micrometastasis-stage integrals
    dI/dtau = sum_i f_i(tau) G_i(horizon - tau): f_i = p Q[:, micro_i] is the density of the
    stage's start in micrometastasis state i (founding cells, shield), G_i its closed forms
    (Chain.stage_weights).  LSODA
    (stiff/non-stiff switching, no BLAS threads); its adaptive steps span the chain's and the
    growth's time scales however long the horizon."""
    Q, n, k = chain.Q, len(chain.Q), len(STAGE_OUTCOMES)
    if tau1 == tau0:
        return y
    into = Q[:, chain.micro].copy()  # [n, m]: the rates into each micrometastasis state
    into[chain.micro, :] = 0.0
    QT = np.ascontiguousarray(Q.T)

    def weights(tau):  # [m, k]
        return np.array([chain.stage_weights(i, horizon - tau) for i in range(len(chain.micro))])

    def rhs(tau, x):
        return np.concatenate([QT @ x[:n], (x[:n] @ into) @ weights(tau)])

    J = np.zeros((n + k, n + k))
    J[:n, :n] = QT

    def jac(tau, x):
        J[n:, :n] = (into @ weights(tau)).T
        return J

    res = solve_ivp(rhs, (tau0, tau1), y, method="LSODA", rtol=rtol, atol=atol, jac=jac)
    if not res.success:
        raise RuntimeError(f"post-arrest forward equation failed: {res.message}")
    return res.y[:, -1]
