"""Designs of a sweep: the parameter values of every point.

- ``grid``: ``points`` values per parameter (evenly spaced on its scale, or its listed
  values), every combination; the first parameter varies slowest;
- ``lhs``: a Latin hypercube of ``points`` points (scipy.stats.qmc);
- ``sobol``: the first ``points`` points of a scrambled Sobol' sequence (a power of 2 keeps
  its balance properties).

LHS and Sobol' designs are drawn from the design's seed, so a study file gives the same
points every time.  Values are uniform on each parameter's scale (log-uniform on "log").
"""
from __future__ import annotations

import itertools

import numpy as np

from ..checks import ScenarioError


def points(study) -> np.ndarray:
    """The design of ``study``: values [points, parameters] in ``study.parameters`` order."""
    params, d = study.parameters, study.design
    if not params:
        raise ScenarioError(study.where, "parameters", "a sweep needs at least one [[parameters]] table")
    if d.kind == "grid":
        axes = [p.values if p.values is not None else
                [p.from_unit(u) for u in np.linspace(0.0, 1.0, d.points)] for p in params]
        return np.array(list(itertools.product(*axes)), dtype=float)
    for i, p in enumerate(params):
        if p.values is not None:
            raise ScenarioError(study.where, f"parameters[{i}].values", f"a {d.kind} design needs low and high")
    from scipy.stats import qmc  # here: only LHS and Sobol' designs need it

    seed = study.seed if d.seed is None else d.seed
    if d.kind == "lhs":
        u = qmc.LatinHypercube(len(params), seed=np.random.default_rng(seed)).random(d.points)
    else:
        if d.points & (d.points - 1):
            raise ScenarioError(study.where, "design.points", f"a Sobol' design takes a power of 2 points, got {d.points}")
        u = qmc.Sobol(len(params), scramble=True, seed=np.random.default_rng(seed)).random(d.points)
    return from_unit(params, u)


def from_unit(params, u: np.ndarray) -> np.ndarray:
    """Points of the unit cube [n, D] as parameter values on each parameter's scale."""
    return np.array([[p.from_unit(x) for p, x in zip(params, row)] for row in np.atleast_2d(u)], dtype=float)


def grid_sizes(study) -> list[int] | None:
    """Values per parameter of a grid design (None for the others)."""
    if study.design.kind != "grid":
        return None
    return [len(p.values) if p.values is not None else study.design.points for p in study.parameters]


def grid_neighbours(sizes: list[int]) -> list[tuple[int, int, int]]:
    """(point, next point, parameter index) for every pair of points of a grid of ``sizes``
    one step apart along one parameter (its next value, the others equal)."""
    index = np.arange(int(np.prod(sizes))).reshape(sizes)
    pairs = []
    for axis, size in enumerate(sizes):
        lo = np.take(index, range(size - 1), axis=axis).ravel()
        hi = np.take(index, range(1, size), axis=axis).ravel()
        pairs += [(int(a), int(b), axis) for a, b in zip(lo, hi)]
    return sorted(pairs)
