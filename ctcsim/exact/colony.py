"""Exact answers for a birth-death colony (DESIGN 2.4): extinction before the
micrometastasis, the time to reach it, and the micrometastasis stage's growth time.

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
regularized gamma).  These are closed forms given the time the stage started
(``Growth``); ``post_arrest`` integrates them over that start time.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy import special, stats
from scipy.integrate import solve_ivp

RTOL, ATOL = 1e-10, 1e-13  # default forward-equation tolerances after arrest (ATOL absolute, on probabilities)


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


def time_to_micrometastasis_cdf(birth: float, death: float, n0: int, micro: int, times, *, rtol: float = RTOL,
                                atol: float = ATOL) -> np.ndarray:
    """P(the colony reaches ``micro`` cells by time t | it reaches it), for t in ``times``.

    The exact finite chain (colony sizes 1..micro-1, absorbing at 0 and micro), by its
    forward equation: Radau with the sparse Jacobian at the caller's ``rtol`` and ``atol``
    (default RTOL, ATOL: observed errors ~1e-11 against expm_multiply, which is 2-6x slower
    here: the chain's norm grows with micro).  Any ``micro`` works, e.g. for the exact
    hitting time of a macrometastasis."""
    _check_colony(birth, death, n0, micro)
    t = times_of(times)
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
    grid, back = np.unique(t, return_inverse=True)
    if grid[-1] == 0:
        return np.zeros(len(t))
    QT = Q.T.tocsr()
    res = solve_ivp(lambda _, y: QT @ y, (0.0, grid[-1]), y0, method="Radau", t_eval=grid, rtol=rtol, atol=atol,
                    jac=QT)
    if not res.success:
        raise RuntimeError(f"colony forward equation failed: {res.message}")
    hit = res.y[-1, back]
    return np.clip(hit / (1.0 - colony_extinction_probability(birth, death, n0, micro)), 0.0, 1.0)


def grow_time_cdf(birth: float, death: float, n0: int, macro: float, times) -> np.ndarray:
    """P(T <= t) for the large-colony approximation's growth time T of ``reference.grow_time``
    from n0 cells to ``macro`` (T = inf, i.e. no growth, with probability 1 - the limit)."""
    return Growth(birth, death, n0, macro, 0.0).growth_cdf(times_of(times))


def _check_colony(birth, death, n0, micro):
    if not (math.isfinite(birth) and math.isfinite(death) and birth >= 0 and death >= 0):
        raise ValueError(f"birth and death must be finite rates >= 0, got {birth!r}, {death!r}")
    if int(n0) != n0 or int(micro) != micro or n0 < 0 or micro < 1:
        raise ValueError(f"n0 must be an integer >= 0 and micro an integer >= 1, got {n0!r}, {micro!r}")
    if birth + death == 0 and 0 < n0 < micro:
        raise ValueError("birth and death are both 0: the colony never changes")


def times_of(times) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or not len(t) or (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("times must be a non-empty 1-d sequence of finite times >= 0")
    return t


class Growth:
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
