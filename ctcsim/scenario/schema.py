"""The scenario's dataclasses: every TOML key with its type, default, range and meaning.

Every default lives here or in ``biology.py``, next to its source; ``ctcsim scenario show``
prints them all.
A range stated here is checked wherever a scenario comes from (``validation.py``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from importlib import resources

from .. import anatomy as _anatomy
from ..biology import MULTIPLIABLE, SOIL_FACTORS, Biology, build_biology  # noqa: F401  (re-exported)
from ..checks import (MAX_MAGNITUDE, NUMBER, ScenarioError, all_of, at_least, between, build, is_number, non_negative,
                      one_of, positive, read_toml, spec, to_dict)

MAX_CLUSTER_CELLS = 1000  # observed CTC clusters hold 2 to ~100 cells (Aceto 2014)
_DIAMETER = between(0.0, 1000.0, "um; a millimetre is larger than any cell or cluster")
_SIGMA_LOG = between(0.0, 3.0, "a factor of 20 per standard deviation; CTC diameters vary by ~0.2")
_MASS_G = between(1e-9, 1e6, "g; one cell weighs about a nanogram; a tonne is more than any patient")
_DOUBLING_DAYS = at_least(0.01, why="days; no tumour doubles faster than its cells divide (hours)")


def _numbers(x, n, lo=-MAX_MAGNITUDE, hi=MAX_MAGNITUDE) -> bool:
    """Whether ``x`` is a list of ``n`` (any n if None) numbers in [lo, hi]."""
    return bool(x) and (n is None or len(x) == n) and all(is_number(v) and lo <= v <= hi for v in x)


def _probs(n=None, most=None):
    def check(x):
        if not _numbers(x, n, 0.0):
            return f"expected {n or 'a list of'} non-negative numbers, each a {NUMBER}"
        if most is not None and len(x) > most:
            return f"expected at most {most} numbers (clusters of up to {most} cells), got {len(x)}"
        if abs(sum(x) - 1.0) > 1e-9:
            return f"expected numbers summing to 1, got sum {sum(x):.12g}"
        return None
    return check


@dataclasses.dataclass(frozen=True)
class Primary:
    """Where a primary tumour's cells enter the blood, and what they are like."""
    name: str = spec(str)
    entry: dict = spec(dict, doc="compartment -> weight of the venous drainage")
    diameter_median_um: float = spec(float, check=all_of(positive, _DIAMETER))
    diameter_sigma_log: float = spec(float, 0.0, check=_SIGMA_LOG, doc="sd of log diameter")
    cluster_size_probs: list = spec(list, [1.0], check=_probs(most=MAX_CLUSTER_CELLS),
                                    doc="P(cluster size = 1, 2, ...)")
    phenotype_mix: list = spec(list, [1.0, 0.0, 0.0], check=_probs(3), doc="epithelial, hybrid E/M, mesenchymal")
    description: str = spec(str, "")
    source: str = spec(str, "")


@dataclasses.dataclass(frozen=True)
class Entry:
    """How units enter: the primary's venous drainage at one time, by shedding from a
    growing tumour (also through the drainage), or an injection."""
    mode: str = spec(str, "drainage", check=one_of("drainage", "shedding", "injection"))
    site: str | None = spec(str, None, doc="injection: an injection site or compartment name")
    time_s: float = spec(float, 0.0, check=non_negative,
                         doc="drainage and injection: entry time of every unit, before t_max_s")
    tumour_mass_g: float = spec(float, 1.0, check=_MASS_G,
                                doc="shedding: tumour mass at t = 0")
    doubling_time_days: float = spec(float, 51.0, check=_DOUBLING_DAYS,
                                     doc="shedding: initial doubling time [Coumans 2013: 1.7 months, breast]")
    carrying_capacity_g: float = spec(float, 1000.0, check=_MASS_G,
                                      doc="shedding: Gompertz plateau, above tumour_mass_g [U]")
    cells_per_g_per_day: float = spec(float, 3.2e6, check=positive,
                                      doc="shedding rate, a calibration parameter [Butler & Gullino 1975, rat]")
    resection_s: float = spec(float, math.inf, check=positive, infinite=True,
                              doc="shedding: absolute time the primary is removed; it sheds until then "
                                  "(or t_max_s), and what it shed is followed to t_max_s")


@dataclasses.dataclass(frozen=True)
class Arm:
    """A named set of multipliers on biology parameters (DESIGN 2.5), from ``start_s`` on."""
    name: str = spec(str, check=lambda x: None if x else "expected a name, got an empty string")
    multipliers: dict = spec(dict, {})
    start_s: float = spec(float, 0.0, check=non_negative, doc="absolute time the multipliers start, before t_max_s")
    description: str = spec(str, "")


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str = spec(str)
    anatomy: object = spec(str, "human_female", doc="built-in name or inline table")
    primary: object = spec(str, "breast", doc="built-in name or inline table")
    description: str = spec(str, "")
    t_max_s: float = spec(float, math.inf, check=positive, infinite=True, doc="end of observation (absolute time)")
    biology: Biology = spec(dict, Biology())
    entry: Entry = spec(dict, Entry())
    adhesion: dict = spec(dict, {}, doc="organ -> adhesion (tropism) factor; overrides the tropism table")
    soil: dict = spec(dict, {}, doc="organ -> {niche, inflammation, macrophage, compatibility} after arrest")
    arms: list = spec(list, [])
    # Where the scenario was read from, for errors; not TOML, not compared, and kept by
    # dataclasses.replace (a changed scenario still came from that file).
    origin: str = dataclasses.field(default="", compare=False, repr=False, kw_only=True)

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


def origin(s: Scenario) -> str:
    """Where a scenario came from, as its errors name it: the file it was read from (kept
    through ``dataclasses.replace``), else its name."""
    return s.origin or f"<scenario {s.name}>"


def builtin_primaries() -> dict[str, Primary]:
    return dict(_builtin_primaries())


@functools.lru_cache(maxsize=1)  # read for every inline primary (files.from_dict): parse the file once
def _builtin_primaries() -> dict[str, Primary]:
    path = resources.files("ctcsim") / "data" / "primaries.toml"
    where = "<built-in primaries.toml>"
    data = read_toml(path, where)
    return {p["name"]: build(Primary, p, where, f"primaries[{i}]") for i, p in enumerate(data["primaries"])}


def builtin_primary(name: str) -> Primary:
    table = builtin_primaries()
    if name not in table:
        raise ScenarioError("primary", "name", f"unknown primary {name!r}; built-in: {', '.join(table)}")
    return table[name]
