"""Study files: a scenario, the parameters that vary, and what a sweep, a sensitivity analysis
or a calibration does with them (docs/STUDIES.md has the format).

    scenario = "breast"            # built-in name, or a scenario file relative to this one
    units = 100000                 # per arm and point
    seed = 1
    [set]                          # fixed changes to the scenario, by parameter path
    t_max_s = 3.15e7
    [[parameters]]
    path = "biology.k_on_per_s"
    low = 1e-4
    high = 1e-2
    scale = "log"                  # or "linear"; a grid may list its values instead
    [design]                       # sweeps: grid (points per parameter), lhs or sobol (points)
    kind = "grid"
    points = 8
    [[outputs]]                    # sensitivity: what the indices are of
    outcome = "reached_micrometastasis"
    organ = "bone"

Every mistake is one line naming the file and the key (``ScenarioError``).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from .._compat import tomllib
from .. import scenario as _scenario
from ..checks import ScenarioError, at_least, build, one_of, positive, probability, spec
from . import outputs as _outputs
from . import paths

DESIGNS = ("grid", "lhs", "sobol")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A scenario number that varies: its path and range (or, on a grid, its values)."""
    path: str = spec(str)
    low: float | None = spec(float, None)
    high: float | None = spec(float, None)
    scale: str = spec(str, "linear", check=one_of("linear", "log"))
    values: list | None = spec(list, None, doc="grid: the values, instead of low and high")
    start: float | None = spec(float, None, doc="calibration: where the fit starts")

    def from_unit(self, u):
        """The values at u in [0, 1] along the range (log-uniform on a log scale)."""
        if self.scale == "log":
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)


@dataclasses.dataclass(frozen=True)
class Design:
    kind: str = spec(str, "grid", check=one_of(*DESIGNS))
    points: int = spec(int, 8, check=at_least(1), doc="grid: values per parameter; lhs, sobol: points")
    seed: int | None = spec(int, None, check=at_least(0), doc="lhs, sobol: the design's own seed [the study's]")


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    method: str = spec(str, "sobol", check=one_of("sobol", "morris"))
    samples: int = spec(int, 256, check=at_least(2), doc="Sobol': base samples N (a power of 2); Morris: trajectories")
    model: str = spec(str, "simulation", check=one_of("simulation", "exact"))
    levels: int = spec(int, 4, check=at_least(2), doc="Morris: grid levels")
    resamples: int = spec(int, 1000, check=at_least(10), doc="bootstrap resamples of the intervals")
    confidence: float = spec(float, 0.95, check=probability)


@dataclasses.dataclass(frozen=True)
class Calibration:
    targets: str = spec(str, doc="targets file, relative to the study file")
    model: str = spec(str, "exact", check=one_of("exact", "simulation"))
    confidence: float = spec(float, 0.95, check=probability)


@dataclasses.dataclass(frozen=True)
class _File:
    name: str = spec(str, "study")
    description: str = spec(str, "")
    scenario: str = spec(str, _scenario.DEFAULT_SCENARIO)
    units: int = spec(int, 10_000, check=at_least(1), doc="units per arm and point")
    seed: int = spec(int, 1, check=at_least(0))
    arms: list | None = spec(list, None, doc="arms to run [all]")
    set: dict = spec(dict, {}, doc="parameter path -> value, applied before the design")
    parameters: list = spec(list, [])
    design: Design = spec(dict, Design())
    outputs: list = spec(list, [])
    sensitivity: Sensitivity = spec(dict, Sensitivity())
    calibration: Calibration | None = spec(dict, None)


@dataclasses.dataclass(frozen=True)
class Study:
    """A study read and checked: the scenario with ``set`` applied, and the rest as given."""
    where: str
    name: str
    scenario: _scenario.Scenario
    parameters: list[Parameter]
    units: int
    seed: int
    arms: list[str]
    design: Design
    outputs: list
    sensitivity: Sensitivity
    calibration: Calibration | None
    base: Path  # the directory that relative file names in the study start from


def load(path) -> Study:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ScenarioError(str(path), "", f"cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(str(path), "", f"not valid TOML: {e}") from None
    return from_dict(data, str(path), path.parent)


def from_dict(data: dict, where: str = "<study>", base: Path = Path(".")) -> Study:
    """A study from its TOML table; every check names ``where`` and the key."""
    def table_list(cls):
        def read(x, w, k):
            if not isinstance(x, list):
                raise ScenarioError(w, k, "expected a list of tables ([[...]])")
            return [build(cls, item, w, f"{k}[{i}]") for i, item in enumerate(x)]
        return read

    f = build(_File, data, where, "", parameters=table_list(Parameter), outputs=table_list(_outputs.Output),
              design=lambda x, w, k: build(Design, x, w, k),
              sensitivity=lambda x, w, k: build(Sensitivity, x, w, k),
              calibration=lambda x, w, k: build(Calibration, x, w, k))
    ref = f.scenario
    try:
        s = _scenario.load(base / ref if ref.endswith(".toml") else ref)
    except ScenarioError as e:
        raise ScenarioError(where, "scenario", str(e)) from None
    s = paths.with_values(s, f.set, where, "set") if f.set else s
    arms = list(f.arms or s.arm_names())
    for i, arm in enumerate(arms):
        if arm not in s.arm_names():
            raise ScenarioError(where, f"arms[{i}]", f"unknown arm {arm!r}; the scenario has: {', '.join(s.arm_names())}")
    seen = set()
    for i, p in enumerate(f.parameters):
        _check_parameter(s, p, where, f"parameters[{i}]")
        if p.path in seen:
            raise ScenarioError(where, f"parameters[{i}].path", f"{p.path} is given twice")
        seen.add(p.path)
    for i, o in enumerate(f.outputs):
        _outputs.check(o, s, arms, where, f"outputs[{i}]")
    return Study(where, f.name, s, list(f.parameters), f.units, f.seed, arms, f.design, list(f.outputs),
                 f.sensitivity, f.calibration, base)


def _check_parameter(s, p: Parameter, where: str, key: str):
    paths.check(s, p.path, where, f"{key}.path")
    if p.values is not None:
        if not p.values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p.values):
            raise ScenarioError(where, f"{key}.values", "expected a non-empty list of numbers")
        if p.low is not None or p.high is not None:
            raise ScenarioError(where, key, "give either values or low and high, not both")
        probe = list(p.values)
    else:
        for end in ("low", "high"):
            if getattr(p, end) is None:
                raise ScenarioError(where, f"{key}.{end}", "missing (required without values)")
        if not p.low < p.high:
            raise ScenarioError(where, f"{key}.high", f"expected high > low, got low {p.low:g}, high {p.high:g}")
        if p.scale == "log" and positive(p.low):
            raise ScenarioError(where, f"{key}.low", f"a log scale needs low > 0, got {p.low:g}")
        probe = [p.low, p.high]
    for v in probe:  # the ends of the range must make valid scenarios
        paths.with_values(s, {p.path: v}, where, key)
