"""Calibration: fit a study's parameters to targets by maximum likelihood, with profile-
likelihood intervals, and write the fitted scenario.

Targets (a TOML file, ``[calibration] targets = "FILE"``)::

    [[targets]]
    outcome = "died_shear"          # an output (outcome, organ, arm, versus, horizon_s)
    counts = [312, 1000]            # k of n units: a binomial likelihood
    source = "Smith 2020, table 2"
    [[targets]]
    outcome = "arrested"
    organ = "liver"
    value = 0.12                    # or a value with its 95% interval: a normal likelihood
    interval = [0.08, 0.16]

The model is the master equation (``exact``: probabilities, a smooth likelihood, fitted by
L-BFGS-B) or simulation (``simulation``: fractions of the study's units, every evaluation
on the same unit ids and seed, so the likelihood surface is not re-drawn at each step;
fitted by Nelder-Mead, which needs no gradient of that step-wise surface).  Parameters are
fitted on the unit cube of their ranges (log scales become log-uniform) and stay inside.

Uncertainty: the profile likelihood of each parameter (the others re-fitted at every step);
the interval holds the values whose likelihood ratio to the maximum is within the chi-square
(1 df) quantile of the confidence level.  An end that reaches the range's bound is reported
as the bound, flagged open.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize, stats

from .._compat import tomllib
from .. import scenario as _scenario
from ..checks import ScenarioError, build, spec
from . import outputs, paths, sweep
from .executor import local

Z95 = stats.norm.ppf(0.975)
# Accuracy of estimates and interval ends on the unit cube: fine for the exact model; for
# simulation, fractions of n units move in steps of 1/n, so finer steps only chase them.
XTOL = {"exact": 1e-6, "simulation": 1e-3}


@dataclasses.dataclass(frozen=True)
class Target(outputs.Output):
    counts: list | None = spec(list, None, doc="[k, n]: k of n units")
    value: float | None = spec(float, None)
    interval: list | None = spec(list, None, doc="[low, high]: the value's 95% interval")
    source: str = spec(str, "")


@dataclasses.dataclass(frozen=True)
class Fit:
    """Estimates with their profile-likelihood intervals; the fitted scenario; each target
    beside the fitted model's value; the maximum log-likelihood."""
    parameters: list[dict]
    scenario: _scenario.Scenario
    targets: list[dict]
    log_likelihood: float
    confidence: float
    evaluations: int


def load_targets(study) -> list[Target]:
    cal = study.calibration
    if cal is None:
        raise ScenarioError(study.where, "calibration", "missing: a [calibration] table naming the targets file")
    path = study.base / cal.targets
    where = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ScenarioError(study.where, "calibration.targets", f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(where, "", f"not valid TOML: {e}") from None
    items = data.get("targets")
    if not isinstance(items, list) or not items or set(data) - {"targets"}:
        raise ScenarioError(where, "targets", "expected [[targets]] tables, and nothing else")
    targets = [build(Target, t, where, f"targets[{i}]") for i, t in enumerate(items)]
    for i, t in enumerate(targets):
        _check_target(t, study, where, f"targets[{i}]")
    return [outputs.resolved(t, study.arms) for t in targets]


def _check_target(t: Target, study, where: str, key: str):
    outputs.check(t, study.scenario, study.arms, where, key)
    if study.calibration.model == "exact":
        outputs.check_exact(outputs.resolved(t, study.arms), study.scenario, where, key)
    if (t.counts is None) == (t.value is None):
        raise ScenarioError(where, key, "give counts = [k, n], or a value with its interval")
    if t.counts is not None:
        c = t.counts
        if len(c) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in c) or not 0 <= c[0] <= c[1] \
                or c[1] < 1:
            raise ScenarioError(where, f"{key}.counts", f"expected [k, n], integers with 0 <= k <= n, n >= 1, got {c!r}")
    else:
        iv = t.interval
        if iv is None or len(iv) != 2 or not all(isinstance(x, (int, float)) for x in iv) or not iv[0] < t.value < iv[1]:
            raise ScenarioError(where, f"{key}.interval", f"expected [low, high] around the value {t.value!r}, got {iv!r}")


def log_likelihood(targets: list[Target], model_values) -> float:
    """The targets' log-likelihood given the model's value of each (constants dropped)."""
    total = 0.0
    for t, p in zip(targets, model_values):
        if t.counts is not None:
            k, n = t.counts
            p = min(max(p, 1e-300), 1.0 - 1e-16)
            total += k * math.log(p) + (n - k) * math.log1p(-p)
        else:
            sd = (t.interval[1] - t.interval[0]) / (2 * Z95)
            total -= 0.5 * ((p - t.value) / sd) ** 2
    return total


def fit(study, targets: list[Target] | None = None, executor=None) -> Fit:
    """Maximum likelihood estimates of ``study.parameters`` and their profile intervals."""
    targets = load_targets(study) if targets is None else targets
    if not study.parameters:
        raise ScenarioError(study.where, "parameters", "name the [[parameters]] to fit")
    for i, p in enumerate(study.parameters):
        if p.values is not None:
            raise ScenarioError(study.where, f"parameters[{i}].values", "a fit searches a range: give low and high")
    own = executor is None and study.calibration is not None and study.calibration.model == "simulation"
    model = _Model(study, targets, local() if own else executor)
    try:
        z0 = np.array([_to_unit(p, p.start) if p.start is not None else 0.5 for p in study.parameters])
        z_hat, ll_hat = model.maximise(z0, range(len(z0)))
        conf = study.calibration.confidence if study.calibration else 0.95
        drop = stats.chi2.ppf(conf, 1) / 2
        rows = []
        for i, p in enumerate(study.parameters):
            ends = [_interval_end(model, z_hat, ll_hat - drop, i, side) for side in (0.0, 1.0)]
            rows.append({"path": p.path, "estimate": p.from_unit(z_hat[i]), "ci_low": p.from_unit(ends[0][0]),
                         "ci_high": p.from_unit(ends[1][0]), "open_low": ends[0][1], "open_high": ends[1][1]})
    finally:
        if own:
            model.executor.close()
    values = {r["path"]: r["estimate"] for r in rows}
    fitted = paths.with_values(study.scenario, values, study.where, "parameters")
    at_fit = model.values(z_hat)
    table = [{"target": t.label, "source": t.source, "observed": t.counts[0] / t.counts[1] if t.counts else t.value,
              "fitted": v} for t, v in zip(targets, at_fit)]
    return Fit(rows, fitted, table, ll_hat, conf, model.evaluations)


def _interval_end(model: "_Model", z_hat, level: float, i: int, bound: float) -> tuple[float, bool]:
    """The unit-cube value of parameter i where the profile log-likelihood falls to ``level``,
    between the estimate and ``bound``; (bound, True) if it stays above it all the way."""
    others = [j for j in range(len(z_hat)) if j != i]

    def excess(x):
        z = z_hat.copy()
        z[i] = x
        return model.maximise(z, others)[1] - level if others else model.log_likelihood(z) - level

    if abs(z_hat[i] - bound) < model.xtol or excess(bound) >= 0:
        return bound, True
    lo, hi = sorted((z_hat[i], bound))
    return optimize.brentq(excess, lo, hi, xtol=model.xtol), False


class _Model:
    """Target values at unit-cube points: exact probabilities or paired simulation (cached)."""

    def __init__(self, study, targets, executor):
        self.study, self.targets, self.executor = study, targets, executor
        kind = study.calibration.model if study.calibration else "exact"
        self.exact, self.xtol = kind == "exact", XTOL[kind]
        self.cache, self.evaluations = {}, 0

    def values(self, z) -> list[float]:
        z = np.clip(np.asarray(z, float), 0.0, 1.0)
        key = tuple(z)
        if key not in self.cache:
            self.evaluations += 1
            values = {p.path: p.from_unit(x) for p, x in zip(self.study.parameters, z)}
            s = paths.with_values(self.study.scenario, values, self.study.where, "parameters")
            if self.exact:
                self.cache[key] = outputs.exact_values(self.targets, s)
            else:
                counts = sweep.simulate_counts(s, self.study.arms, self.study.units, self.study.seed, self.executor)
                self.cache[key] = [counts.fraction(t) for t in self.targets]
        return self.cache[key]

    def log_likelihood(self, z) -> float:
        return log_likelihood(self.targets, self.values(z))

    def maximise(self, z0, free) -> tuple[np.ndarray, float]:
        """Maximise over the coordinates ``free`` from z0 (the others held)."""
        free = list(free)
        if not free:
            return z0, self.log_likelihood(z0)

        def minus(x):
            z = z0.copy()
            z[free] = x
            return -self.log_likelihood(z)

        method = "L-BFGS-B" if self.exact else "Nelder-Mead"
        result = optimize.minimize(minus, z0[free], method=method, bounds=[(0.0, 1.0)] * len(free),
                                   options={} if self.exact else {"xatol": self.xtol, "fatol": 1e-3})
        z = z0.copy()
        z[free] = np.clip(result.x, 0.0, 1.0)
        return z, -minus(z[free])


def _to_unit(p, x: float) -> float:
    if p.scale == "log":
        return (math.log(x) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
    return (x - p.low) / (p.high - p.low)


def fitted_toml(f: Fit, study_where: str) -> str:
    """The fitted scenario as TOML, headed by comments saying how it was fitted."""
    lines = [f"# Fitted by ctcsim calibrate from {study_where}: maximum likelihood, "
             f"{100 * f.confidence:g}% profile-likelihood intervals"]
    for r in f.parameters:
        lines.append(f"#   {r['path']} = {r['estimate']:.6g} [{r['ci_low']:.6g}{' (bound)' if r['open_low'] else ''}, "
                     f"{r['ci_high']:.6g}{' (bound)' if r['open_high'] else ''}]")
    return "\n".join(lines) + "\n" + _scenario.dumps(f.scenario)
