"""The joint calibration: every declared parameter fitted to every declared target at once.

One evaluation sets the parameters' values in the built-in scenarios that share them, runs
each experiment of ``measures.EXPERIMENTS`` once on the same unit ids with the same seed
(common random numbers: the likelihood surface is not re-drawn between evaluations) and
measures every target on it.  Each target's standardised residual is
(model - published middle) / sqrt(published sd^2 + Monte Carlo variance); the log-likelihood is
-1/2 their sum of squares, maximised by ``scipy.optimize.least_squares`` (trust region
reflective, bounded to the unit cube of the ranges, forward differences of ``fit.step``).

Uncertainty: the Fisher (Gauss-Newton) information J^T J of the standardised residuals at the
estimate, J the forward-difference Jacobian there, on the unit cube (so log-scale parameters
get intervals symmetric in the log).  The covariance is its inverse through its eigenvectors,
an eigenvalue below ``UNIDENTIFIED`` counting as that small, so that parameters the targets
constrain only in a combination get intervals spanning their ranges; a parameter whose step
moves no target at all (on common random numbers: not one unit changes) has no information.
Both are flagged "not identified" when the interval spans the whole range.  Interval ends outside the range are the range's ends, flagged.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import numpy as np
from scipy import optimize, stats

from ..runner import simulate
from ..studies import paths
from .declaration import Declaration
from .measures import EXPERIMENTS, MEASURES

UNIDENTIFIED = 1e-12  # eigenvalues of J^T J below this are treated as this (an sd of 1e6 ranges)


@dataclasses.dataclass(frozen=True)
class Result:
    parameters: list[dict]   # label, path, scenarios, estimate, ci_low, ci_high, open_low/high, identified, at_bound
    targets: list[dict]      # id, low, high, fitted, mc_se, z, met
    log_likelihood: float
    evaluations: int
    iterations: int
    status: str


class Objective:
    """Standardised residuals of the targets at points of the unit cube (cached)."""

    def __init__(self, decl: Declaration, threads: int | None = None, progress: Callable[[str], None] | None = None):
        self.decl, self.threads, self.progress = decl, threads, progress
        self.cache: dict[tuple, list[tuple[float, float]]] = {}
        self.t0, self.best = time.monotonic(), -math.inf

    def scenarios(self, z) -> dict:
        """The experiments' scenarios with the parameters at unit-cube point z."""
        out = {}
        for name, s in self.decl.scenarios.items():
            values = {p.path: p.from_unit(float(x)) for p, x in zip(self.decl.parameters, z) if name in p.scenarios}
            out[name] = paths.with_values(s, values, self.decl.where, "parameters") if values else s
        return out

    def measured(self, z) -> list[tuple[float, float]]:
        """(value, Monte Carlo variance) of every target at z."""
        z = np.clip(np.asarray(z, float), 0.0, 1.0)
        key = tuple(z.tolist())
        if key not in self.cache:
            scenarios, runs = self.scenarios(z), {}
            for e in self.decl.experiments:
                exp = EXPERIMENTS[e]
                events = any(MEASURES[t.id].events for t in self.decl.targets if t.experiment == e)
                runs[e] = simulate(exp.prepare(scenarios[exp.scenario]), self.decl.units[e], seed=self.decl.seed,
                                   events=events, threads=self.threads)
            self.cache[key] = [MEASURES[t.id].of(runs[t.experiment]) for t in self.decl.targets]
            self._report(key)
        return self.cache[key]

    def residuals(self, z) -> np.ndarray:
        return np.array([(v - t.mean) / math.sqrt(t.sd ** 2 + var)
                         for t, (v, var) in zip(self.decl.targets, self.measured(z))])

    def log_likelihood(self, z) -> float:
        return -0.5 * float(np.sum(self.residuals(z) ** 2))

    def _report(self, key):
        if self.progress is None:
            return
        ll = self.log_likelihood(key)
        self.best = max(self.best, ll)
        self.progress(f"evaluation {len(self.cache):4d}  log-likelihood {ll:12.4f}  best {self.best:12.4f}  "
                      f"{time.monotonic() - self.t0:6.1f} s")


def start(decl: Declaration) -> np.ndarray:
    """The unit-cube point of the declared starts (the middle of a range without one), kept a
    step inside the range so that the first differences stay inside it."""
    z = [p.to_unit(p.start) if p.start is not None else 0.5 for p in decl.parameters]
    return np.clip(z, 2 * decl.fit.step, 1 - 2 * decl.fit.step)


def fit(decl: Declaration, threads: int | None = None, progress: Callable[[str], None] | None = None) -> Result:
    obj = Objective(decl, threads, progress)
    res = optimize.least_squares(obj.residuals, start(decl), bounds=(0.0, 1.0), method="trf", jac="2-point",
                                 diff_step=decl.fit.step, x_scale=1.0, xtol=1e-3, ftol=1e-4,
                                 max_nfev=decl.fit.iterations)
    z_hat = np.clip(res.x, 0.0, 1.0)
    # The Jacobian at the estimate itself (least_squares' last one may be of an earlier point).
    r0, h = obj.residuals(z_hat), decl.fit.step
    jac = np.empty((len(r0), len(z_hat)))
    for j in range(len(z_hat)):
        z = z_hat.copy()
        sign = 1.0 if z[j] + h <= 1.0 else -1.0
        z[j] += sign * h
        jac[:, j] = (obj.residuals(z) - r0) / (sign * h)
    rows = _intervals(decl, z_hat, jac, res.active_mask)
    table = []
    for t, (v, var), z in zip(decl.targets, obj.measured(z_hat), r0):
        table.append({"id": t.id, "unit": t.unit, "low": t.low, "high": t.high, "fitted": v, "mc_se": math.sqrt(var),
                      "z": float(z), "met": bool(t.low <= v <= t.high), "source": t.source})
    return Result(rows, table, obj.log_likelihood(z_hat), len(obj.cache), int(res.nfev), res.message)


def _intervals(decl: Declaration, z_hat: np.ndarray, jac: np.ndarray, active) -> list[dict]:
    q = stats.norm.ppf(0.5 + decl.confidence / 2)
    moves = np.flatnonzero(np.abs(jac).sum(axis=0) > 0)  # a step that moves no target's units: no information
    lam, vec = np.linalg.eigh(jac[:, moves].T @ jac[:, moves])
    cov = np.full((len(z_hat), len(z_hat)), np.inf)
    cov[np.ix_(moves, moves)] = (vec / np.maximum(lam, UNIDENTIFIED)) @ vec.T
    rows = []
    for i, p in enumerate(decl.parameters):
        sd = math.sqrt(max(cov[i, i], 0.0))
        lo, hi = z_hat[i] - q * sd, z_hat[i] + q * sd
        rows.append({"label": p.label, "path": p.path, "scenarios": list(p.scenarios), "scale": p.scale,
                     "estimate": p.from_unit(z_hat[i]), "ci_low": p.from_unit(max(lo, 0.0)),
                     "ci_high": p.from_unit(min(hi, 1.0)), "open_low": bool(lo <= 0.0), "open_high": bool(hi >= 1.0),
                     "identified": not (lo <= 0.0 and hi >= 1.0), "at_bound": bool(active[i] != 0)})
    return rows
