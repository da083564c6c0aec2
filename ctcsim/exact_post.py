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

The micrometastasis stage is not Markov: the core draws the growth time T of the
large-colony approximation (``reference.grow_time``) once, against an exponential
regression time R.  With n0 = max(k, micro_cells) founders, q = death/birth,
r = birth - death, beta = birth/r, the colony's limit W is a sum of J ~ Binomial(n0, 1-q)
exponentials of mean beta, so W | J = j is Gamma(j, beta) and T = max(0, ln(macro/W)/r):

    P(T <= u)             = sum_j P(J=j) Q(j, macro e^{-r u}/beta)          (Q: upper regularized gamma)
    P(T < u, T <= R)      = sum_j P(J=j) [Q(j, x0) + C_j (P(j+a, x0) - P(j+a, x_u))]
    P(R < u, R < T)       = 1 - P(T < u, T <= R) - e^{-rho u} (1 - P(T <= u))

with rho the regression rate, a = rho/r, x0 = macro/beta, x_u = x0 e^{-r u},
C_j = (beta/macro)^a Gamma(j+a)/Gamma(j) (E[(W/macro)^a; W < macro] per j, P: lower
regularized gamma).  These are closed forms given the time the stage started.  Over
that start time tau, with density f(tau) = (p(tau) Q)[micrometastasis] from the chain,

    P(macro by H) = int_0^H f(tau) P(T < H - tau, T <= R) dtau     (likewise regressed);

the two integrals are integrated as two extra components of the chain's forward
equation (LSODA, rtol RTOL, atol ATOL; checked in tests/test_post_arrest.py against
adaptive quadrature over tau with the matrix exponential: they agree to ~1e-11).
At horizon inf the integral is P(micrometastasis) times the closed form at u = inf.

Horizons are times since arrest: a unit arrested at absolute time t_a is censored by
the core at t_max_s, i.e. at horizon t_max_s - t_a.  Arms with a switch time (two
CompiledModels, piecewise in time) are not covered: pass one CompiledModel; the
answers hold for an arm whose multipliers apply from t = 0.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy import special, stats
from scipy.integrate import solve_ivp
from scipy.sparse.linalg import splu

from .model import HAZARDS, POST_ARREST, CompiledModel

NK, EXTRAVASATION, PROLIFERATION = (HAZARDS.index(h) for h in ("nk", "extravasation", "proliferation"))
PA = {name: i for i, name in enumerate(POST_ARREST)}
RTOL, ATOL = 1e-10, 1e-13  # forward-equation tolerances (ATOL absolute, on probabilities)
DENSE_MAX = 256            # chains up to this size use dense linear solves


def colony_extinction_probability(birth: float, death: float, n0: int, micro: int) -> float:
    """P(a birth-death colony of n0 cells dies out before it reaches ``micro`` cells).

    Per-cell rates ``birth`` and ``death``; the jump chain is a random walk stepping up with
    probability birth/(birth+death), so by gambler's ruin, with rho = death/birth,
    P = (rho^n0 - rho^micro) / (1 - rho^micro)  (1 - n0/micro at rho = 1)."""
    _check_colony(birth, death, n0, micro)
    if n0 >= micro:
        return 0.0
    if n0 <= 0 or birth == 0:
        return 1.0
    if death == 0:
        return 0.0
    L = math.log(death / birth)
    if L == 0:
        return 1.0 - n0 / micro
    if L < 0:  # written with expm1 so that neither rho^micro nor its inverse overflows
        return math.exp(n0 * L) * math.expm1((micro - n0) * L) / math.expm1(micro * L)
    return math.expm1((n0 - micro) * L) / math.expm1(-micro * L)


def time_to_micrometastasis_cdf(birth: float, death: float, n0: int, micro: int, times) -> np.ndarray:
    """P(the colony reaches ``micro`` cells by time t | it reaches it), for t in ``times``.

    The exact finite chain (colony sizes 1..micro-1, absorbing at 0 and micro), by its
    forward equation; any ``micro`` works (the chain is sparse; a few seconds at 2000),
    e.g. for the exact hitting time of a macrometastasis."""
    _check_colony(birth, death, n0, micro)
    t = _times(times)
    if n0 >= micro:
        return np.ones(len(t))
    if n0 <= 0 or birth == 0:
        raise ValueError("the colony never reaches micro (n0 = 0 or birth = 0): the conditional CDF is undefined")
    n = np.arange(1, micro, dtype=float)  # state i = n - 1; the last state (index micro - 1) is micro
    rows = np.concatenate([n - 1, n[1:] - 1, n - 1])
    cols = np.concatenate([n, n[1:] - 2, n - 1])
    vals = np.concatenate([birth * n, death * n[1:], -(birth + death) * n])
    Q = sp.csr_matrix((vals, (rows.astype(int), cols.astype(int))), shape=(micro, micro))  # death at n=1: out
    y0 = np.zeros(micro)
    y0[n0 - 1] = 1.0
    hit = _forward(Q, y0, t)[:, -1]
    return np.clip(hit / (1.0 - colony_extinction_probability(birth, death, n0, micro)), 0.0, 1.0)


def grow_time_cdf(birth: float, death: float, n0: int, macro: float, times) -> np.ndarray:
    """P(T <= t) for the large-colony approximation's growth time T of ``reference.grow_time``
    from n0 cells to ``macro`` (T = inf, i.e. no growth, with probability 1 - the limit)."""
    return _Growth(birth, death, n0, macro, 0.0).growth_cdf(_times(times))


def post_arrest_probabilities(model: CompiledModel, bed, shield: int = 0, cluster_size: int = 1,
                              phenotype: int = 0, horizon_s=math.inf) -> np.ndarray:
    """P(each post-arrest outcome of ``model.POST_ARREST``) for a unit arrested in
    compartment ``bed`` (index or name) with shield ``shield``, cluster size and phenotype
    (index into PHENOTYPES), by ``horizon_s`` after arrest (a scalar: shape [10]; a 1-d
    sequence: shape [len, 10], one row per horizon).  Final outcomes (died_in_capillary,
    died_dormant, colony_extinct, regressed, macrometastasis) are those reached by the
    horizon; in_capillary, dormant, proliferating and micrometastasis hold the mass still
    there at the horizon (or for ever, when no rate leaves it).  "none" is 0."""
    r = _rates(model, bed, shield, cluster_size, phenotype)
    Q, labels, start = _chain(r)
    growth = _Growth(r["birth"], r["death"], max(cluster_size, r["micro"]), r["macro"], r["regression"])
    h = np.asarray(horizon_s, dtype=float)
    if h.ndim > 1 or (h < 0).any() or np.isnan(h).any():
        raise ValueError("horizon_s must be a time >= 0 or a 1-d sequence of them")
    out = np.array([_post_arrest_at(Q, labels, start, growth, float(x)) for x in np.atleast_1d(h)])
    # Seed and soil: an incompatible organ kills the unit at arrest, before the chain starts.
    q = r["compatibility"]
    out *= q
    out[:, PA["died_in_capillary"]] += 1.0 - q
    return out[0] if h.ndim == 0 else out


# -- internals ---------------------------------------------------------------------------------


def _check_colony(birth, death, n0, micro):
    if not (math.isfinite(birth) and math.isfinite(death) and birth >= 0 and death >= 0):
        raise ValueError(f"birth and death must be finite rates >= 0, got {birth!r}, {death!r}")
    if int(n0) != n0 or int(micro) != micro or n0 < 0 or micro < 1:
        raise ValueError(f"n0 must be an integer >= 0 and micro an integer >= 1, got {n0!r}, {micro!r}")
    if birth + death == 0 and 0 < n0 < micro:
        raise ValueError("birth and death are both 0: the colony never changes")


def _times(times) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or not len(t) or (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("times must be a non-empty 1-d sequence of finite times >= 0")
    return t


def _forward(Q: sp.csr_matrix, y0: np.ndarray, times: np.ndarray) -> np.ndarray:
    """y(t) = y0 expm(Q t) at each of ``times`` (rows): the forward equation, Radau with the
    sparse Jacobian (tolerances RTOL, ATOL; observed errors ~1e-11 against expm_multiply)."""
    grid, back = np.unique(times, return_inverse=True)
    if grid[-1] == 0:
        return np.repeat(y0[None, :], len(times), axis=0)
    QT = Q.T.tocsr()
    res = solve_ivp(lambda t, y: QT @ y, (0.0, grid[-1]), y0, method="Radau", t_eval=grid, rtol=RTOL,
                    atol=ATOL, jac=QT)
    if not res.success:
        raise RuntimeError(f"colony forward equation failed: {res.message}")
    return res.y.T[back]


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


def _post_arrest_at(Q, labels, start, growth: "_Growth", horizon: float) -> np.ndarray:
    mic = len(Q) - 1
    if math.isinf(horizon):
        live = np.diag(Q) < 0  # states with a way out; the others keep their mass for ever
        x = np.zeros(len(Q))
        if live[start]:  # absorption probabilities: the start's row of (-Q_live)^-1 Q_live,rest
            e = (np.flatnonzero(live) == start).astype(float)
            x[~live] = Q[np.ix_(live, ~live)].T @ _solve(-Q[np.ix_(live, live)].T, e)
        else:
            x[start] = 1.0
        macro, regressed = x[mic] * growth.macro_by(math.inf), x[mic] * growth.regressed_by(math.inf)
    else:
        x, macro, regressed = _forward_with_stage(Q, start, growth, horizon)
    out = np.bincount(labels, weights=np.clip(x, 0.0, 1.0), minlength=len(POST_ARREST))
    out[PA["macrometastasis"]], out[PA["regressed"]] = macro, regressed
    out[PA["micrometastasis"]] = max(x[mic] - macro - regressed, 0.0)
    return out


def _solve(A, b):
    if len(A) <= DENSE_MAX:
        return np.linalg.solve(A, b)
    return splu(sp.csc_matrix(A)).solve(b)


def _forward_with_stage(Q, start, growth: "_Growth", horizon: float):
    """(distribution of the chain at ``horizon``, P(macro by horizon), P(regressed by horizon)).

    The forward equation dp/dtau = p Q, augmented with the micrometastasis-stage integrals
    dI/dtau = f(tau) G(horizon - tau): f = p Q[:, micrometastasis] is the density of the
    stage's start, G its closed forms (macro_by, regressed_by).  LSODA (stiff/non-stiff
    switching, no BLAS threads), tolerances RTOL and ATOL; its adaptive steps span the
    chain's and the growth's time scales however long the horizon."""
    n = len(Q)
    into_micro = Q[:, -1].copy()
    into_micro[-1] = 0.0
    QT = np.ascontiguousarray(Q.T)
    y0 = np.zeros(n + 2)
    y0[start] = 1.0
    if horizon == 0:
        return y0[:n], 0.0, 0.0

    def rhs(tau, y):
        f = y[:n] @ into_micro
        u = horizon - tau
        return np.concatenate([QT @ y[:n], [f * growth.macro_by(u), f * growth.regressed_by(u)]])

    J = np.zeros((n + 2, n + 2))
    J[:n, :n] = QT

    def jac(tau, y):
        J[n, :n] = into_micro * growth.macro_by(horizon - tau)
        J[n + 1, :n] = into_micro * growth.regressed_by(horizon - tau)
        return J

    res = solve_ivp(rhs, (0.0, horizon), y0, method="LSODA", rtol=RTOL, atol=ATOL, jac=jac)
    if not res.success:
        raise RuntimeError(f"post-arrest forward equation failed: {res.message}")
    y = res.y[:, -1]
    return y[:n], float(y[n]), float(y[n + 1])


class _Growth:
    """The micrometastasis stage (see the module docstring): the approximation's growth time T
    from n0 cells to ``macro`` against regression at rate ``regression``."""

    def __init__(self, birth, death, n0, macro, regression):
        self.rho, self.grows = float(regression), birth > death
        if self.grows:
            r, q = birth - death, death / birth
            self.j = np.arange(1, n0 + 1, dtype=float)
            self.w = stats.binom.pmf(self.j, n0, 1.0 - q)  # P(J = j surviving lineages)
            self.r, self.x0 = r, macro * r / birth         # x0 = macro / beta
            self.a = self.rho / r
            self.log_c = self.a * math.log(1.0 / self.x0) + special.gammaln(self.j + self.a) - special.gammaln(self.j)

    def growth_cdf(self, u):
        """P(T <= u), u >= 0."""
        u = np.asarray(u, dtype=float)
        if not self.grows:
            return np.zeros(u.shape)
        x = self.x0 * np.exp(-self.r * u[..., None])
        return special.gammaincc(self.j, x) @ self.w

    def macro_by(self, u: float) -> float:
        """P(T < u and T <= R): macrometastasis within u of the stage's start."""
        if u <= 0 or not self.grows:
            return 0.0
        xu = self.x0 * math.exp(-self.r * u) if math.isfinite(u) else 0.0
        with np.errstate(divide="ignore"):
            part = np.exp(self.log_c + np.log(np.maximum(
                special.gammainc(self.j + self.a, self.x0) - special.gammainc(self.j + self.a, xu), 0.0)))
        return float(min((special.gammaincc(self.j, self.x0) + part) @ self.w, 1.0))

    def regressed_by(self, u: float) -> float:
        """P(R < u and R < T): regression within u of the stage's start."""
        if u <= 0 or self.rho == 0:
            return 0.0
        survive = math.exp(-self.rho * u) * (1.0 - float(self.growth_cdf(u))) if math.isfinite(u) else 0.0
        return max(1.0 - self.macro_by(u) - survive, 0.0)
