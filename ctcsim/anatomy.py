"""Anatomies: compartments (pools and capillary beds) joined by flow-weighted edges.

Built-in anatomies are TOML files in ``ctcsim/data/anatomies/``, with a source
for every number (see ``ctcsim/data/README.md``).  A scenario may also hold
an anatomy inline, in the same format.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from importlib import resources

from .checks import (ScenarioError, at_least, between, build, check_fields, join, non_negative, one_of,
                     positive, read_toml, show, spec, unknown_keys)

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
FLOW_TOLERANCE = 1e-9  # flows out of a compartment must sum to 1 within this
# A unit takes one step of the core per Erlang stage: a stage lasts at least MIN_STAGE_S on
# average, so that a unit takes at most ~1,000 steps per second of blood time.
MIN_STAGE_S = 1e-3
_WHY_STAGE = "s; the shortest blood transit is ~0.1 s, and a shorter one only makes a unit take more steps than a " \
             "run can finish"
_TRANSIT = at_least(MIN_STAGE_S, why=_WHY_STAGE)
MAX_STAGES = 1000
_STAGES = between(1, MAX_STAGES, "a transit time with a coefficient of variation of 3 %, as regular as any in blood")


def _name_check(x):
    return None if _NAME.fullmatch(x) else f"expected letters, digits, '_', '.' or '-', got {show(x)}"


@dataclasses.dataclass(frozen=True)
class Compartment:
    name: str = spec(str, check=_name_check)
    kind: str = spec(str, check=one_of("pool", "bed"), doc="pool (large vessels) or bed (capillaries)")
    transit_s: float = spec(float, check=_TRANSIT, doc="mean residence time")
    stages: int = spec(int, 1, check=_STAGES, doc="Erlang stages of the residence time")
    shear_dyn_cm2: float = spec(float, 0.0, check=non_negative, doc="wall shear stress")
    nk_rel: float = spec(float, 1.0, check=non_negative, doc="NK activity relative to blood")
    platelet_rel: float = spec(float, 1.0, check=non_negative, doc="platelet level relative to blood")
    organ: str | None = spec(str, None, check=_name_check, doc="organ of a bed (default: its name)")
    capillary_diameter_um: float | None = spec(float, None, check=positive, doc="beds: capillary lumen")
    source: str = spec(str, "", doc="where the numbers come from")


@dataclasses.dataclass(frozen=True)
class Edge:
    src: str = spec(str)
    dst: str = spec(str)
    fraction: float = spec(float, check=at_least(0.0, strict=True))
    source: str = spec(str, "")


@dataclasses.dataclass(frozen=True)
class Anatomy:
    name: str = spec(str)
    compartments: list = spec(list)
    edges: list = spec(list)
    description: str = spec(str, "")
    source: str = spec(str, "")
    cardiac_output_l_min: float | None = spec(float, None, check=positive)
    blood_volume_l: float | None = spec(float, None, check=positive)
    injection_sites: dict = spec(dict, {}, doc="site name -> compartment")

    def index(self) -> dict[str, int]:
        return {c.name: i for i, c in enumerate(self.compartments)}

    def organ_of(self, c: Compartment) -> str | None:
        return (c.organ or c.name) if c.kind == "bed" else None

    def organs(self) -> list[str]:
        """Organ names of the beds, in first-appearance order."""
        return list(dict.fromkeys(self.organ_of(c) for c in self.compartments if c.kind == "bed"))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["compartments"] = [{k: v for k, v in c.items() if v is not None} for c in d["compartments"]]
        d["edges"] = [{"from": e.pop("src"), "to": e.pop("dst"), **e} for e in d["edges"]]
        return {k: v for k, v in d.items() if v is not None and v != {}}


def _edge(data, where, key):
    if isinstance(data, dict):
        data = dict(data)
        unknown_keys(data, ("from", "to", "fraction", "source"), where, key)
        data = {("src" if k == "from" else "dst" if k == "to" else k): v for k, v in data.items()}
        for k in ("src", "dst"):
            if k not in data:
                raise ScenarioError(where, f"{key}.{'from' if k == 'src' else 'to'}", "missing (required)")
    return build(Edge, data, where, key)


def _items(builder):
    def read(data, where, key):
        if not isinstance(data, list):
            raise ScenarioError(where, key, "expected a list of tables ([[...]])")
        return [builder(d, where, f"{key}[{i}]") for i, d in enumerate(data)]
    return read


def from_dict(data, where: str, path: str = "anatomy") -> Anatomy:
    """Read and validate an anatomy table; errors name ``where`` and the key."""
    a = build(Anatomy, data, where, path,
              compartments=_items(lambda d, w, k: build(Compartment, d, w, k)),
              edges=_items(_edge))
    validate(a, where, path)
    return a


def validate(a: Anatomy, where: str, path: str = "anatomy"):
    """Check an anatomy however it was made: every field, names, edges and flows."""
    check_fields(a, Anatomy, where, path, skip=("compartments", "edges"))
    for name, cls in (("compartments", Compartment), ("edges", Edge)):
        for i, part in enumerate(getattr(a, name)):
            check_fields(part, cls, where, join(path, f"{name}[{i}]"))
    if not a.compartments:
        raise ScenarioError(where, join(path, "compartments"), "expected at least one compartment")
    idx = {}
    for i, c in enumerate(a.compartments):
        key = join(path, f"compartments[{i}]")
        if c.name in idx:
            raise ScenarioError(where, f"{key}.name", f"duplicate compartment name {show(c.name)}")
        idx[c.name] = i
        stage_s = c.transit_s / c.stages
        if stage_s < MIN_STAGE_S:
            raise ScenarioError(where, f"{key}.stages", f"stages of transit_s / stages = {stage_s:.3g} s: expected "
                                                        f"at least {MIN_STAGE_S:g} ({_WHY_STAGE})")
        if c.kind == "bed" and c.capillary_diameter_um is None:
            raise ScenarioError(where, f"{key}.capillary_diameter_um", f"bed {show(c.name)} needs a capillary diameter")
        if c.kind == "pool" and (c.organ is not None or c.capillary_diameter_um is not None):
            raise ScenarioError(where, key, f"pool {show(c.name)} cannot have an organ or a capillary diameter")
    out = {name: 0.0 for name in idx}
    for i, e in enumerate(a.edges):
        for end, name in (("from", e.src), ("to", e.dst)):
            if name not in idx:
                near = [n for n in idx if n.startswith(name[:3])][:1]
                hint = f"; did you mean {show(near[0])}?" if near else ""
                raise ScenarioError(where, join(path, f"edges[{i}].{end}"), f"unknown compartment {show(name)}{hint}")
        out[e.src] += e.fraction
    for name, total in out.items():
        if abs(total - 1.0) > FLOW_TOLERANCE:
            raise ScenarioError(where, join(path, "edges"),
                                f"flows out of {show(name)} sum to {total:.12g}, expected 1")
    for site, comp in a.injection_sites.items():
        if not isinstance(comp, str) or comp not in idx:
            raise ScenarioError(where, join(path, f"injection_sites.{site}"), f"unknown compartment {show(comp)}")


def reachable(a: Anatomy, starts) -> set[str]:
    """Names of the compartments reachable from ``starts`` along edges."""
    nxt: dict[str, list[str]] = {}
    for e in a.edges:
        nxt.setdefault(e.src, []).append(e.dst)
    seen, todo = set(starts), list(starts)
    while todo:
        for m in nxt.get(todo.pop(), []):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def builtin_names() -> list[str]:
    files = resources.files("ctcsim") / "data" / "anatomies"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def builtin(name: str) -> Anatomy:
    """A built-in anatomy by name (``ctcsim.anatomy.builtin_names()`` lists them)."""
    if name not in builtin_names():
        raise ScenarioError("anatomy", "builtin",
                            f"unknown anatomy {show(name)}; built-in: {', '.join(builtin_names())}")
    return _read_builtin(name)


# Resolved at every validation, so for every point of a study (paths.with_values): parsing the
# file each time was 95 % of a breast point's cost.  Anatomies are frozen and nothing changes
# their lists, so one object per name serves every caller (as scenario.builtin_primaries).
@functools.lru_cache(maxsize=None)
def _read_builtin(name: str) -> Anatomy:
    path = resources.files("ctcsim") / "data" / "anatomies" / f"{name}.toml"
    where = f"<built-in anatomy {name}>"
    return from_dict(read_toml(path, where), where, "")
