"""Scenarios: what is simulated, as validated dataclasses read from and written to TOML.

A scenario names an anatomy (built-in or inline), a primary tumour (built-in or
inline), the CTC biology, how units enter the blood, tropism factors and arms.
Every default lives in the dataclasses below, next to its source; ``ctcsim
scenario show`` prints them all.  ``load``/``dump`` round-trip exactly.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
from importlib import resources
from pathlib import Path

import tomli_w

from . import anatomy as _anatomy
from .biology import MULTIPLIABLE, SOIL_FACTORS, Biology, build_biology  # noqa: F401  (re-exported)
from .checks import ScenarioError, at_least, build, non_negative, one_of, positive, probability, spec, to_dict, unknown_keys


def _probs(n=None):
    def check(x):
        if not x or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in x):
            return "expected a list of non-negative numbers"
        if n is not None and len(x) != n:
            return f"expected {n} numbers, got {len(x)}"
        if abs(sum(x) - 1.0) > 1e-9:
            return f"expected numbers summing to 1, got sum {sum(x):.12g}"
        return None
    return check


@dataclasses.dataclass(frozen=True)
class Primary:
    """Where a primary tumour's cells enter the blood, and what they are like."""
    name: str = spec(str)
    entry: dict = spec(dict, doc="compartment -> weight of the venous drainage")
    diameter_median_um: float = spec(float, check=positive)
    diameter_sigma_log: float = spec(float, 0.0, check=non_negative, doc="sd of log diameter")
    cluster_size_probs: list = spec(list, [1.0], check=_probs(), doc="P(cluster size = 1, 2, ...)")
    phenotype_mix: list = spec(list, [1.0, 0.0, 0.0], check=_probs(3), doc="epithelial, hybrid E/M, mesenchymal")
    description: str = spec(str, "")
    source: str = spec(str, "")


@dataclasses.dataclass(frozen=True)
class Entry:
    """How units enter: the primary's venous drainage at one time, by shedding from a
    growing tumour (also through the drainage), or an injection."""
    mode: str = spec(str, "drainage", check=one_of("drainage", "shedding", "injection"))
    site: str | None = spec(str, None, doc="injection: an injection site or compartment name")
    time_s: float = spec(float, 0.0, check=non_negative, doc="drainage and injection: entry time of every unit")
    tumour_mass_g: float = spec(float, 1.0, check=positive, doc="shedding: tumour mass at t = 0")
    doubling_time_days: float = spec(float, 51.0, check=positive,
                                     doc="shedding: initial doubling time [Coumans 2013: 1.7 months, breast]")
    carrying_capacity_g: float = spec(float, 1000.0, check=positive, doc="shedding: Gompertz plateau [U]")
    cells_per_g_per_day: float = spec(float, 3.2e6, check=non_negative,
                                      doc="shedding rate, a calibration parameter [Butler & Gullino 1975, rat]")


@dataclasses.dataclass(frozen=True)
class Arm:
    """A named set of multipliers on biology parameters (DESIGN 2.5), from ``start_s`` on."""
    name: str = spec(str)
    multipliers: dict = spec(dict, {})
    start_s: float = spec(float, 0.0, check=non_negative, doc="absolute time the multipliers start")
    description: str = spec(str, "")


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str = spec(str)
    anatomy: object = spec(str, "human_female", doc="built-in name or inline table")
    primary: object = spec(str, "breast", doc="built-in name or inline table")
    description: str = spec(str, "")
    t_max_s: float = spec(float, math.inf, check=positive, doc="end of observation (absolute time)")
    biology: Biology = spec(dict, Biology())
    entry: Entry = spec(dict, Entry())
    adhesion: dict = spec(dict, {}, doc="organ -> adhesion (tropism) factor; overrides the tropism table")
    soil: dict = spec(dict, {}, doc="organ -> {niche, inflammation, macrophage, compatibility} after arrest")
    arms: list = spec(list, [])

    def resolved_anatomy(self) -> _anatomy.Anatomy:
        return self.anatomy if isinstance(self.anatomy, _anatomy.Anatomy) else _anatomy.builtin(self.anatomy)

    def resolved_primary(self) -> Primary:
        return self.primary if isinstance(self.primary, Primary) else builtin_primary(self.primary)

    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms] or ["control"]

    def to_dict(self) -> dict:
        d = to_dict(self)
        if isinstance(self.anatomy, _anatomy.Anatomy):
            d["anatomy"] = self.anatomy.to_dict()
        return d


def builtin_primaries() -> dict[str, Primary]:
    path = resources.files("ctcsim") / "data" / "primaries.toml"
    where = "<built-in primaries.toml>"
    data = tomllib.loads(path.read_text())
    return {p["name"]: build(Primary, p, where, f"primaries[{i}]") for i, p in enumerate(data["primaries"])}


def builtin_primary(name: str) -> Primary:
    table = builtin_primaries()
    if name not in table:
        raise ScenarioError("primary", "name", f"unknown primary {name!r}; built-in: {', '.join(table)}")
    return table[name]


def from_dict(data: dict, where: str = "<scenario>") -> Scenario:
    """Read and validate a scenario table; every error names ``where`` and the key."""
    def anatomy(x, w, k):
        return x if isinstance(x, str) else _anatomy.from_dict(x, w, k)

    def primary(x, w, k):
        return x if isinstance(x, str) else build(Primary, x, w, k)

    def arms(x, w, k):
        if not isinstance(x, list):
            raise ScenarioError(w, k, "expected a list of tables ([[arms]])")
        return [build(Arm, a, w, f"{k}[{i}]") for i, a in enumerate(x)]

    s = build(Scenario, data, where, "", anatomy=anatomy, primary=primary, arms=arms,
              biology=build_biology,
              entry=lambda x, w, k: build(Entry, x, w, k))
    _validate(s, where)
    return s


def _validate(s: Scenario, where: str):
    try:
        anat = s.resolved_anatomy()
    except ScenarioError as e:
        raise ScenarioError(where, "anatomy", e.problem) from None
    names = anat.index()
    if s.entry.mode == "injection":
        if s.entry.site is None:
            raise ScenarioError(where, "entry.site", "injection needs a site (injection site or compartment)")
        if s.entry.site not in anat.injection_sites and s.entry.site not in names:
            options = sorted(anat.injection_sites) or sorted(names)
            raise ScenarioError(where, "entry.site", f"unknown site {s.entry.site!r}; expected one of {', '.join(options)}")
        starts = [anat.injection_sites.get(s.entry.site, s.entry.site)]
    else:
        try:
            prim = s.resolved_primary()
        except ScenarioError as e:
            raise ScenarioError(where, "primary", e.problem) from None
        for comp, w in prim.entry.items():
            if comp not in names:
                raise ScenarioError(where, f"primary.entry.{comp}", f"unknown compartment in anatomy {anat.name!r}")
            if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
                raise ScenarioError(where, f"primary.entry.{comp}", f"expected a non-negative weight, got {w!r}")
        if abs(sum(prim.entry.values()) - 1.0) > 1e-9:
            raise ScenarioError(where, "primary.entry", "weights must sum to 1")
        starts = [c for c, w in prim.entry.items() if w > 0]
    try:
        s.resolved_primary()
    except ScenarioError as e:
        raise ScenarioError(where, "primary", e.problem) from None
    organs = anat.organs()
    for organ, factors in s.soil.items():
        if organ not in organs:
            raise ScenarioError(where, f"soil.{organ}", f"unknown organ; organs: {', '.join(organs)}")
        if not isinstance(factors, dict):
            raise ScenarioError(where, f"soil.{organ}", "expected a table of niche, inflammation, macrophage")
        unknown_keys(factors, SOIL_FACTORS + ("compatibility",), where, f"soil.{organ}")
        for k, v in factors.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ScenarioError(where, f"soil.{organ}.{k}", f"expected a non-negative number, got {v!r}")
            if k == "compatibility" and v > 1:
                raise ScenarioError(where, f"soil.{organ}.{k}", f"expected a probability in [0, 1], got {v!r}")
    for organ, f in s.adhesion.items():
        if organ not in organs:
            raise ScenarioError(where, f"adhesion.{organ}", f"unknown organ; organs: {', '.join(organs)}")
        if not isinstance(f, (int, float)) or isinstance(f, bool) or f < 0:
            raise ScenarioError(where, f"adhesion.{organ}", f"expected a non-negative number, got {f!r}")
    reach = _anatomy.reachable(anat, starts)
    unreachable = [c.name for c in anat.compartments if c.name not in reach]
    if unreachable:
        raise ScenarioError(where, "anatomy", f"compartments unreachable from the entry: {', '.join(unreachable)}")
    seen = set()
    for i, arm in enumerate(s.arms):
        if arm.name in seen:
            raise ScenarioError(where, f"arms[{i}].name", f"duplicate arm {arm.name!r}")
        seen.add(arm.name)
        unknown_keys(arm.multipliers, MULTIPLIABLE, where, f"arms[{i}].multipliers")
        for k, v in arm.multipliers.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ScenarioError(where, f"arms[{i}].multipliers.{k}", f"expected a non-negative number, got {v!r}")


def loads(text: str, where: str = "<string>") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(where, "", f"not valid TOML: {e}") from None
    return from_dict(data, where)


def load(path_or_name) -> Scenario:
    """A scenario from a TOML file, or a built-in one by name."""
    p = Path(path_or_name)
    if p.suffix == ".toml" or p.exists():
        try:
            text = p.read_text()
        except OSError as e:
            raise ScenarioError(str(p), "", f"cannot read: {e.strerror}") from None
        return loads(text, str(p))
    return builtin_scenario(str(path_or_name))


def dumps(s: Scenario) -> str:
    return tomli_w.dumps(s.to_dict())


def builtin_scenario_names() -> list[str]:
    files = resources.files("ctcsim") / "data" / "scenarios"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def builtin_scenario(name: str) -> Scenario:
    if name not in builtin_scenario_names():
        raise ScenarioError(name, "", f"no such file, and no built-in scenario of that name; "
                                      f"built-in: {', '.join(builtin_scenario_names())}")
    path = resources.files("ctcsim") / "data" / "scenarios" / f"{name}.toml"
    return loads(path.read_text(), f"<built-in scenario {name}>")


DEFAULT_SCENARIO = "breast"
