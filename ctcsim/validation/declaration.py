"""The declared joint calibration (ctcsim/data/validation/calibration.toml) read and checked.

Parameters name a path, the built-in scenarios that share its one value, and a range; ``set``
entries fix a value the fit needs but the targets cannot separate from another; targets
name rows of targets.toml by id, and only rows with role = "calibration" are accepted: the
check that keeps predictions out of every fit.  Every mistake is one line naming the file and
the key (``ScenarioError``).
"""
from __future__ import annotations

import dataclasses
import math
from importlib import resources
from pathlib import Path

from .. import scenario as _scenario
from ..checks import ScenarioError, at_least, build, one_of, positive, probability, read_toml, spec
from ..stats import Z95
from ..studies import paths
from .measures import EXPERIMENTS, MEASURES

DATA = resources.files("ctcsim") / "data" / "validation"
DECLARATION = DATA / "calibration.toml"
TARGETS = DATA / "targets.toml"


@dataclasses.dataclass(frozen=True)
class Parameter:
    path: str = spec(str)
    scenarios: list = spec(list, doc="built-in scenarios that take this one value")
    low: float = spec(float)
    high: float = spec(float)
    scale: str = spec(str, "linear", check=one_of("linear", "log"))
    start: float | None = spec(float, None, doc="where the fit starts [the middle of the range]")

    @property
    def label(self) -> str:
        return f"{self.path} ({', '.join(self.scenarios)})"

    def from_unit(self, u: float) -> float:
        if self.scale == "log":
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def to_unit(self, x: float) -> float:
        if self.scale == "log":
            return (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)


@dataclasses.dataclass(frozen=True)
class Setting:
    path: str = spec(str)
    scenarios: list = spec(list, doc="built-in scenarios that take this value")
    value: float = spec(float)
    why: str = spec(str, doc="the value's source or reason, written beside it by --apply")


@dataclasses.dataclass(frozen=True)
class Target:
    """A calibration row of targets.toml: the published [low, high] read as a normal
    likelihood, mean the middle and 95 % inside (sd = (high - low) / (2 z_0.975))."""
    id: str
    low: float
    high: float
    unit: str
    source: str

    @property
    def experiment(self) -> str:
        return MEASURES[self.id].experiment

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def sd(self) -> float:
        return (self.high - self.low) / (2 * Z95)


@dataclasses.dataclass(frozen=True)
class Fitting:
    step: float = spec(float, 0.02, check=lambda x: None if 0 < x < 0.5 else "expected a step in (0, 0.5)")
    iterations: int = spec(int, 25, check=at_least(1))


@dataclasses.dataclass(frozen=True)
class _File:
    parameters: list = spec(list)
    targets: list = spec(list)
    units: dict = spec(dict, doc="experiment -> units per evaluation")
    set: list = spec(list, [], doc="values fixed before the fit")
    seed: int = spec(int, 1, check=at_least(0))
    confidence: float = spec(float, 0.95, check=probability)
    fit: Fitting = spec(dict, Fitting())


@dataclasses.dataclass(frozen=True)
class Declaration:
    where: str
    seed: int
    confidence: float
    parameters: list[Parameter]
    settings: list[Setting]
    targets: list[Target]
    units: dict[str, int]
    fit: Fitting
    scenarios: dict[str, _scenario.Scenario]  # the built-in scenarios the experiments simulate

    @property
    def experiments(self) -> list[str]:
        return list(dict.fromkeys(t.experiment for t in self.targets))


def target_rows(path=TARGETS) -> list[dict]:
    """The [[target]] rows of targets.toml (every role: the caller filters)."""
    rows = read_toml(Path(str(path))).get("target")
    if not isinstance(rows, list):
        raise ScenarioError(str(path), "target", "expected [[target]] tables")
    return rows


def load(path=DECLARATION, targets=TARGETS) -> Declaration:
    return from_dict(read_toml(Path(str(path))), str(path), target_rows(targets), str(targets))


def from_dict(data: dict, where: str, rows: list[dict], rows_where: str = "<targets>") -> Declaration:
    """A declaration from its table; ``rows``: the target rows (targets.toml's) it names."""
    f = build(_File, data, where, "", fit=lambda x, w, k: build(Fitting, x, w, k))
    targets = _targets(f.targets, rows, where, rows_where)
    units = _units(f.units, targets, where)
    used = {EXPERIMENTS[t.experiment].scenario for t in targets}
    settings = [build(Setting, x, where, f"set[{i}]") for i, x in enumerate(f.set)]
    for i, x in enumerate(settings):
        _check_scenarios(x.scenarios, where, f"set[{i}].scenarios")
    scenarios = {}
    for name in sorted(used):
        values = {x.path: x.value for x in settings if name in x.scenarios}
        scenarios[name] = paths.with_values(_scenario.load(name), values, where, "set")
    parameters = []
    for i, p in enumerate(f.parameters):
        key = f"parameters[{i}]"
        p = build(Parameter, p, where, key)
        _check_parameter(p, where, key)
        if not used & set(p.scenarios):
            raise ScenarioError(where, f"{key}.scenarios", f"{p.path}: none of {', '.join(p.scenarios)} is "
                                f"simulated by a target's experiment ({', '.join(sorted(used))}): nothing constrains it")
        if any(q.path == p.path and set(q.scenarios) & set(p.scenarios) for q in [*parameters, *settings]):
            raise ScenarioError(where, f"{key}.path", f"{p.path} is fitted twice, or fitted and set, in the same scenario")
        parameters.append(p)
    if not parameters:
        raise ScenarioError(where, "parameters", "name at least one parameter to fit")
    return Declaration(where, f.seed, f.confidence, parameters, settings, targets, units, f.fit, scenarios)


def _targets(ids: list, rows: list[dict], where: str, rows_where: str) -> list[Target]:
    by_id = {r.get("id"): r for r in rows}
    out = []
    for i, tid in enumerate(ids):
        key = f"targets[{i}]"
        if not isinstance(tid, str):
            raise ScenarioError(where, key, f"expected a target id (a string), got {tid!r}")
        row = by_id.get(tid)
        if row is None:
            raise ScenarioError(where, key, f"no target {tid!r} in {rows_where}")
        if row.get("role") != "calibration":
            raise ScenarioError(where, key, f"{tid} has role {row.get('role')!r} in {rows_where}: "
                                            "only calibration targets may be fitted")
        if tid not in MEASURES:
            raise ScenarioError(where, key, f"{tid}: no measurement in ctcsim/validation/measures.py; "
                                            f"measured: {', '.join(MEASURES)}")
        if tid in (t.id for t in out):
            raise ScenarioError(where, key, f"{tid} is given twice")
        low, high = row.get("low"), row.get("high")
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (low, high)) or not low < high:
            raise ScenarioError(rows_where, f"{tid}.low", f"expected numbers low < high, got {low!r}, {high!r}")
        out.append(Target(tid, float(low), float(high), str(row.get("unit", "")), str(row.get("source", ""))))
    if not out:
        raise ScenarioError(where, "targets", "name at least one calibration target")
    return out


def _units(units: dict, targets: list[Target], where: str) -> dict[str, int]:
    for name, n in units.items():
        if name not in EXPERIMENTS:
            raise ScenarioError(where, f"units.{name}", f"unknown experiment; experiments: {', '.join(EXPERIMENTS)}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ScenarioError(where, f"units.{name}", f"expected a number of units >= 1, got {n!r}")
    for t in targets:
        if t.experiment not in units:
            raise ScenarioError(where, "units", f"missing {t.experiment} (the experiment of {t.id})")
    return dict(units)


def _check_scenarios(names: list, where: str, key: str) -> None:
    if not names or not all(isinstance(s, str) for s in names):
        raise ScenarioError(where, key, "expected a non-empty list of built-in scenario names")
    for name in names:
        if name not in _scenario.builtin_scenario_names():
            raise ScenarioError(where, key, f"no built-in scenario {name!r}; built-in: "
                                f"{', '.join(_scenario.builtin_scenario_names())}")


def _check_parameter(p: Parameter, where: str, key: str) -> None:
    _check_scenarios(p.scenarios, where, f"{key}.scenarios")
    if not p.low < p.high:
        raise ScenarioError(where, f"{key}.high", f"expected high > low, got low {p.low:g}, high {p.high:g}")
    if p.scale == "log" and positive(p.low):
        raise ScenarioError(where, f"{key}.low", f"a log scale needs low > 0, got {p.low:g}")
    if p.start is not None and not p.low <= p.start <= p.high:
        raise ScenarioError(where, f"{key}.start", f"expected a start in [{p.low:g}, {p.high:g}], got {p.start:g}")
    for name in p.scenarios:
        s = _scenario.builtin_scenario(name)
        for x in (p.low, p.high):  # both ends of the range must make valid scenarios
            paths.with_values(s, {p.path: x}, where, f"{key}.path")
