"""Global sensitivity: Sobol' indices (first and total order, with bootstrap intervals) and
Morris screening of a study's outputs over its parameters' ranges, with SALib's designs and
estimators.

Each parameter is sampled uniformly on its scale (log-uniform on "log"): SALib works on the
unit cube and ``Parameter.from_unit`` maps it.  The model is either

- ``simulation``: the SALib design as a sweep (``sweep.prepare(values=...)``: every point on
  the same unit ids and seed, so the estimators' differences f(A_B^i) - f(A) are paired;
  resumable like any sweep), outputs counted from each point's units; or
- ``exact``: the master equation's probabilities (``outputs.exact_value``), which removes the
  Monte Carlo noise: what is left in the intervals is the design's sampling error alone.

The result is a table: output, parameter, index (S1, ST; or mu, mu_star, sigma), estimate,
and the interval at the study's confidence level (SALib's bootstrap: estimate +- the
half-width it reports).  SALib is the ``studies`` extra (``pip install 'ctcsim[studies]'``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..checks import ScenarioError
from . import designs, outputs, sweep, tables
from .executor import Executor, local

INDICES = "indices.parquet"
VALUES = "outputs.parquet"


@dataclasses.dataclass(frozen=True)
class Result:
    """Indices (``table``: output, parameter, index, estimate, ci_low, ci_high), the output
    values at every point (``values`` [points, outputs]), and the study directory."""
    table: pa.Table
    values: np.ndarray
    path: Path


def design(study) -> np.ndarray:
    """The SALib design in the unit cube [points, parameters] (Saltelli's scheme for Sobol':
    N (D + 2) points; Morris: trajectories x (D + 1))."""
    problem = _problem([p.path for p in study.parameters])
    m = study.sensitivity
    if m.method == "sobol":
        from SALib.sample import sobol
        return sobol.sample(problem, m.samples, calc_second_order=False, scramble=True, seed=study.seed)
    from SALib.sample import morris
    return morris.sample(problem, m.samples, num_levels=m.levels, seed=study.seed)


def run(study, out, *, executor: Executor | None = None, overwrite: bool = False, progress=None) -> Result:
    """Sensitivity indices of ``study``'s outputs, into the study directory ``out``."""
    check(study)
    u = design(study)
    values = designs.from_unit(study.parameters, u)
    extra = {"sensitivity": dataclasses.asdict(study.sensitivity), "unit_design": u.tolist(),
             "outputs": [dataclasses.asdict(o) for o in _outputs(study)]}
    if study.sensitivity.model == "simulation":
        plan = sweep.prepare(study, out, values=values, kind="sensitivity", overwrite=overwrite, extra=extra)
        return finish(plan, executor, progress)
    # The points' scenarios, made (and so validated) once: every exact point is quick, and
    # validating each twice was most of an exact analysis's time.
    scenarios = sweep.point_scenarios(study, values)
    plan = sweep.prepare(study, out, values=values, kind="sensitivity-exact", overwrite=overwrite, extra=extra,
                         checked=True)
    own = executor is None
    executor = executor or local()
    try:
        outs = tuple(outputs.Output(**o) for o in extra["outputs"])
        jobs = ((s, outs) for s in scenarios)
        y = np.array([values for _, values in executor.ordered(_exact_point, jobs)])
    finally:
        if own:
            executor.close()
    return _analyse(plan, y)


def finish(plan: sweep.Plan, executor: Executor | None = None, progress=None) -> Result:
    """Simulate the points not yet done (also after an interruption) and compute the indices."""
    sweep.execute(plan, executor, progress)
    outs = [outputs.Output(**o) for o in plan.metadata["outputs"]]
    y = np.array([[tables.point_counts(plan, i).fraction(o) for o in outs] for i in range(plan.n_points)])
    return _analyse(plan, y)


def _exact_point(job) -> list[float]:
    s, outs = job  # a Scenario pickles as it is (to a Dask worker)
    return outputs.exact_values(outs, s)


def _analyse(plan: sweep.Plan, y: np.ndarray) -> Result:
    md = plan.metadata
    m, outs = md["sensitivity"], [outputs.Output(**o) for o in md["outputs"]]
    problem = _problem(md["parameters"])
    u = np.array(md["unit_design"])
    seed = int(md["seed"])
    rows = {c: [] for c in ("output", "parameter", "index", "estimate", "ci_low", "ci_high")}
    for k, o in enumerate(outs):
        if m["method"] == "sobol":
            from SALib.analyze import sobol
            s = sobol.analyze(problem, y[:, k], calc_second_order=False, num_resamples=m["resamples"],
                              conf_level=m["confidence"], seed=seed)
            found = [("S1", s["S1"], s["S1_conf"]), ("ST", s["ST"], s["ST_conf"])]
        else:
            from SALib.analyze import morris
            s = morris.analyze(problem, u, y[:, k], num_resamples=m["resamples"], conf_level=m["confidence"],
                               num_levels=m["levels"], seed=seed)
            nan = np.full(len(md["parameters"]), np.nan)
            found = [("mu_star", s["mu_star"], s["mu_star_conf"]), ("mu", s["mu"], nan), ("sigma", s["sigma"], nan)]
        for index, est, half in found:
            for name, e, h in zip(md["parameters"], np.asarray(est, float), np.asarray(half, float)):
                for c, x in zip(rows, (o.label, name, index, e, e - h, e + h)):
                    rows[c].append(x)
    table = pa.table(rows)
    pq.write_table(table, plan.path / INDICES)
    pq.write_table(pa.table({o.label: y[:, k] for k, o in enumerate(outs)}), plan.path / VALUES)
    if not plan.metadata["complete"]:
        plan.metadata.update(complete=True)
        sweep.write_json(plan.path / sweep.STUDY, plan.metadata)
    return Result(table, y, plan.path)


def read(path) -> Result:
    path = Path(path)
    md = sweep.read_metadata(path)
    if not (path / INDICES).is_file():
        raise sweep.StudyDirError(f"{path}: no {INDICES}; finish the study with --resume {path}")
    values = pq.read_table(path / VALUES)
    return Result(pq.read_table(path / INDICES), np.column_stack([c.to_numpy() for c in values.columns]), path)


def _outputs(study) -> list:
    return [outputs.resolved(o, study.arms) for o in study.outputs]


def _problem(names: list[str]) -> dict:
    """SALib's problem: the unit cube (each parameter's scale is applied by from_unit)."""
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def check(study):
    """Refuse a study this analysis cannot run (one line naming the file and key)."""
    m = study.sensitivity
    if m.method == "sobol" and m.samples & (m.samples - 1):
        raise ScenarioError(study.where, "sensitivity.samples", f"Sobol' indices take a power of 2 base samples, "
                                                                f"got {m.samples}")
    if len(study.parameters) < 2:
        raise ScenarioError(study.where, "parameters", "sensitivity needs at least two [[parameters]]")
    for i, p in enumerate(study.parameters):
        if p.values is not None:
            raise ScenarioError(study.where, f"parameters[{i}].values", "sensitivity samples ranges: give low and high")
    if not study.outputs:
        raise ScenarioError(study.where, "outputs", "name at least one [[outputs]] table (outcome, organ, arm)")
    try:
        __import__("SALib")
    except ImportError:
        raise ScenarioError(study.where, "sensitivity", "needs SALib: pip install 'ctcsim[studies]'") from None
    if study.sensitivity.model == "exact":
        for i, o in enumerate(_outputs(study)):
            outputs.check_exact(o, study.scenario, study.where, f"outputs[{i}]")
