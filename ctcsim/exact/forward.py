"""The forward (Kolmogorov) equation dy/da = y Q(a) of one piece of the circulating phase.

y holds the transient mass and the cumulative outcome mass.  With constant hazards (no
time-dependent hazard, or beta == 1) y(a) = y(a0) expm(Q (a - a0)), to double precision, so
``rtol``/``atol`` do not apply: Q is block-diagonal over the entry nodes (each block with its
columns into the outcomes), so the exponential of a step is one batched dense exponential of
the blocks (``block_expm``), and a grid of ages costs a small matrix product per age (a
4001-age CDF of the 20,736-state system: ~3 s, against 20-40 s for expm_multiply's grid mode
or for Radau at rtol 1e-10).  With time-dependent anoikis the equation is integrated by Radau
at the caller's ``rtol`` and ``atol`` (absolute, on probabilities).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.integrate import Radau
from scipy.sparse.linalg import splu

from .generator import System

RTOL, ATOL = 1e-10, 1e-12  # default tolerances; ATOL is absolute on mixture probabilities
MASS_LEFT = 1e-12          # without t_max, integrate until this much mass is still circulating
# A grid's steps differ by rounding (1e-13 s at 3000 s): reuse a step's exponential for
# steps within this relative distance (a shift of the age by at most 1e-9 of a step).
STEP_REUSE = 1e-9
TAYLOR_NORM, TAYLOR_ORDER = 0.5, 16  # remainder of exp(X) at ||X|| <= 0.5: 0.5**17 / 17! < 1e-19


def block_expm(A: np.ndarray) -> np.ndarray:
    """expm of each matrix of the stack A [..., m, m]: Taylor series of A / 2**s, ||A / 2**s||_1 <=
    TAYLOR_NORM, squared s times.  (scipy.linalg.expm takes 1 s per 100 blocks of 31 x 31;
    this takes 0.5-0.8 s for 1152.)  Generators are safe to square: the powers stay
    substochastic, so no cancellation grows."""
    norm = float(np.abs(A).sum(axis=-2).max()) if A.size else 0.0
    s = max(0, math.ceil(math.log2(norm / TAYLOR_NORM))) if norm > 0 else 0
    X = A / 2.0**s
    E = np.broadcast_to(np.eye(A.shape[-1]), A.shape).copy()
    term = E.copy()
    for k in range(1, TAYLOR_ORDER + 1):
        term = term @ X / k
        E += term
    for _ in range(s):
        E = E @ E
    return E


def expm_at(sys: System, y: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y expm(Q t) for each of ``times`` (sorted, >= 0), as ``propagate`` returns it, block by block: with
    Q_b = [[T_b, R_b], [0, 0]], expm(Q_b t) = [[expm(T_b t), Phi_b(t)], [0, I]], so the transient
    mass p_b goes to p_b expm(T_b t) and the outcome mass gains p_b Phi_b(t).  Each change of
    the step between ages costs one batched exponential (a uniform grid: one or two)."""
    B, b = sys.n // sys.block, sys.block
    A = np.zeros((B, b + sys.n_out, b + sys.n_out))
    T, R = sys.T.tocoo(), sys.R.tocoo()  # block-diagonal T; R from each block into the outcomes
    A[T.row // b, T.row % b, T.col % b] = T.data
    A[R.row // b, R.row % b, b + R.col] = R.data
    p, e = y[:sys.n].reshape(B, b), y[sys.n:].copy()
    out, t_last, step = np.empty((sys.n_out + 1, len(times))), 0.0, (math.nan, None, None)
    for i, t in enumerate(times):
        dt = float(t - t_last)
        if dt > 0:
            if not abs(dt - step[0]) <= STEP_REUSE * dt:  # (nan at first: compute)
                E = block_expm(A * dt)
                step = (dt, np.ascontiguousarray(E[:, :b, :b]), np.ascontiguousarray(E[:, :b, b:]))
            p, e = np.matmul(p[:, None, :], step[1])[:, 0], e + np.tensordot(p, step[2], axes=2)
        out[:-1, i], out[-1, i], t_last = e, p.sum(), t
    return out[:-1], out[-1], np.concatenate([p.ravel(), e])


def absorb(sys: System, y: np.ndarray) -> np.ndarray:
    """Outcome mass once everything is absorbed, from mass y (constant hazards):
    e + p (-T)^-1 R, the transient mass p's expected occupation times times the rates out."""
    return y[sys.n:] + occupation(sys, y[:sys.n]) @ sys.R


def occupation(sys: System, p: np.ndarray) -> np.ndarray:
    """Expected time in each transient state from mass p: p (-T)^-1."""
    try:
        return splu((-sys.T).T.tocsc()).solve(p)
    except RuntimeError as error:  # SuperLU: "Factor is exactly singular"
        raise ValueError("some transient state is never absorbed") from error


def propagate(sys: System, y: np.ndarray, a0: float, ages: np.ndarray, rtol: float = RTOL,
              atol: float = ATOL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From mass y at age a0 to each of ``ages`` (sorted, unique, >= a0): (outcome mass
    [n_out, len(ages)], circulating mass [len(ages)], y at the last age).  Only these are
    kept per age: the whole y of a 20,000-state system at 4001 ages would take 650 MB.
    With time-dependent anoikis ``ages`` may be [inf]: integrate until MASS_LEFT circulates."""
    ages = np.asarray(ages, dtype=float)
    if math.isinf(ages[-1]) and (len(ages) > 1 or not sys.time_dependent):
        raise ValueError("propagate: age inf is only for time-dependent anoikis, alone")
    if not sys.time_dependent:
        return expm_at(sys, y, ages - a0)
    m, n = sys.model, sys.n
    eta, beta = m.anoikis_eta_s, m.anoikis_beta
    # For beta < 1 the Weibull hazard is infinite at a = 0, so integrate in the clock
    # u = (a/eta)**beta (the anoikis cumulative hazard per unit alpha): there the anoikis rate
    # is the constant alpha and the other rates get the factor da/du = (eta/beta) u**(1/beta - 1),
    # which is bounded.  Otherwise the clock is a.
    if beta < 1:
        def clock(a): return (a / eta) ** beta
        def g0(u): return eta / beta * u ** (1 / beta - 1)
        def g1(u): return 1.0
    else:
        def clock(a): return a
        def g0(a): return 1.0
        def g1(a): return beta / eta * (a / eta) ** (beta - 1)
    # y' = g0 * M y + g1 * M1 y, M1: the Weibull hazard, -alpha on the diagonal and +alpha into its outcome.
    idx = np.arange(n)
    M1 = sp.csr_matrix((np.concatenate([-sys.alpha, sys.alpha]), (np.concatenate([idx, idx]),
                        np.concatenate([idx, n + np.broadcast_to(sys.timed_col, n)]))), shape=(len(y), len(y))).T.tocsr()
    until_absorbed, a_end = math.isinf(ages[-1]), ages[-1]
    if until_absorbed:  # P(circulating at a) <= P(at a0) exp(-min(alpha) ((a/eta)**beta - (a0/eta)**beta))
        if sys.alpha.min() <= 0:
            raise ValueError("without t_max_s, anoikis must act in every state to guarantee absorption")
        a_end = eta * ((a0 / eta) ** beta + 1.01 * math.log(1 / MASS_LEFT) / sys.alpha.min()) ** (1 / beta)
    u_ages = np.array([clock(a_end)]) if until_absorbed else clock(ages)
    out, done = np.empty((sys.n_out + 1, len(u_ages))), 0

    def keep(x, upto):  # the columns of x (states x times) that are kept
        out[:-1, done:upto], out[-1, done:upto] = x[n:], x[:n].sum(axis=0)

    while done < len(u_ages) and u_ages[done] <= clock(a0):
        keep(y[:, None], done + 1)
        done += 1
    if done < len(u_ages):
        solver = Radau(lambda t, x: g0(t) * (sys.M @ x) + g1(t) * (M1 @ x), clock(a0), y, clock(a_end),
                       rtol=rtol, atol=atol, jac=lambda t, x: g0(t) * sys.M + g1(t) * M1)
        while done < len(u_ages):
            if solver.step() is not None:  # a message: the step failed
                raise RuntimeError(f"forward equation failed: {solver.status}")
            y = solver.y
            if until_absorbed and y[:n].sum() < MASS_LEFT:
                keep(y[:, None], done + 1)
                break
            upto = done + int(np.searchsorted(u_ages[done:], solver.t, side="right"))
            if upto > done:
                keep(solver.dense_output()(u_ages[done:upto]).reshape(len(y), -1), upto)
                done = upto
    return out[:-1], out[-1], y
