"""The scenario's dataclasses: every TOML key with its type, default, range and meaning.

Every default lives here, next to its source; ``ctcsim scenario show`` prints them all.
A range stated here is checked wherever a scenario comes from (``validation.py``).
"""
from __future__ import annotations

import dataclasses
import math
from importlib import resources

from .. import anatomy as _anatomy
from ..checks import (MAX_MAGNITUDE, NUMBER, ScenarioError, all_of, at_least, between, build, is_number, non_negative,
                      one_of, positive, probability, read_toml, spec, to_dict)

MAX_EXPONENT = 10.0
EXPONENT_WHY = "a larger power of the model's ratios (up to 1e24) leaves double precision"
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


def _factors(x):
    if not _numbers(x, 3, 0.0):
        return f"expected 3 non-negative numbers (epithelial, hybrid, mesenchymal), each a {NUMBER}"
    return None


def _exponents(x):
    if not _numbers(x, 6, -MAX_EXPONENT, MAX_EXPONENT):
        return f"expected 6 numbers (shear, nk, anoikis, adhesion, extravasation, proliferation) " \
               f"in [-{MAX_EXPONENT:g}, {MAX_EXPONENT:g}] ({EXPONENT_WHY})"
    return None


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
class Biology:
    """Rates and factors of the circulating phase (DESIGN 2.3).  [U]: order-of-magnitude
    assumption to calibrate; [D]: derived from the cited number; see ../shared/data/SOURCES.md."""
    k_shear_per_s: float = spec(float, 1.0e-5, check=non_negative,
                                doc="shear death hazard at shear_ref [D: ~90% dead in 4 h at 60 dyn/cm2, Regmi 2017]")
    shear_ref_dyn_cm2: float = spec(float, 15.0, check=positive, doc="reference shear [Regmi 2017 resting arterial]")
    shear_exponent: float = spec(float, 2.0, check=non_negative, doc="n in (tau/tau_ref)^n [U]")
    k_nk_per_s: float = spec(float, 2.0e-5, check=non_negative, doc="NK kill hazard in blood [U]")
    anoikis_eta_s: float = spec(float, 86400.0, check=positive,
                                doc="Weibull scale [U: CTC anoikis half-life 12-24 h, SOURCES 2.5]")
    anoikis_beta: float = spec(float, 1.5, check=positive, doc="Weibull shape; > 1 rises with time [U]")
    anoikis_on: bool = spec(bool, True, doc="false switches anoikis off")
    k_on_per_s: float = spec(float, 1.0e-3, check=non_negative, doc="platelet binding at platelet_rel 1 [U]")
    k_off_per_s: float = spec(float, 1.0e-4, check=non_negative, doc="platelet loss [U: cloak lasts hours, Borsig 2001]")
    p_shear: float = spec(float, 0.5, check=probability, doc="shield's reduction of shear death [U]")
    p_nk: float = spec(float, 0.8, check=probability, doc="shield's reduction of NK killing [U: 0.5-0.9, SOURCES 2.7]")
    p_anoikis: float = spec(float, 0.3, check=probability, doc="shield's reduction of anoikis [U]")
    p_adh: float = spec(float, 1.0, check=non_negative, doc="shield's increase of adhesion [U]")
    k_adh_per_s: float = spec(float, 0.05, check=non_negative, doc="adhesion hazard in beds at tropism 1 [U]")
    trap_max: float = spec(float, 0.99, check=probability, doc="trapping probability of a unit far larger than the capillary")
    trap_ratio50: float = spec(float, 1.5, check=positive, doc="diameter/capillary ratio trapped with trap_max/2 [U]")
    trap_width: float = spec(float, 0.25, check=positive, doc="logistic width in the ratio [U]")
    cluster_exponents: list = spec(list, [0.0, -1.0, -1.0, 0.5, 0.0, 0.0], check=_exponents,
                                   doc="x_h in factor k^x_h for (shear, nk, anoikis, adhesion, "
                                       "extravasation, proliferation) [U]")
    cluster_trap_exponent: float = spec(float, 1.0 / 3.0, check=non_negative,
                                        doc="effective diameter d k^x (1/3: volume-equivalent sphere)")
    phenotype_shear: list = spec(list, [1.0, 1.0, 1.0], check=_factors)
    phenotype_nk: list = spec(list, [1.0, 1.0, 1.0], check=_factors)
    phenotype_anoikis: list = spec(list, [1.0, 0.7, 0.5], check=_factors, doc="EMT resists anoikis [U]")
    phenotype_adhesion: list = spec(list, [1.0, 1.0, 0.8], check=_factors)
    phenotype_extravasation: list = spec(list, [1.0, 1.2, 1.5], check=_factors, doc="EMT invades [U]")
    phenotype_proliferation: list = spec(list, [1.0, 0.9, 0.6], check=_factors,
                                         doc="MET needed to grow: mesenchymal cells divide less [U]")
    # After arrest (DESIGN 2.4).  Organ soil factors (see Scenario.soil) scale these.
    k_cap_nk_per_s: float = spec(float, 1.0e-5, check=non_negative,
                                 doc="killing of an arrested unit, times the bed's nk_rel and macrophage [U]")
    k_extravasation_per_s: float = spec(float, 1.16e-5, check=non_negative,
                                        doc="extravasation, times niche [U: ~1 day, Chambers 2002]")
    p_dormant: float = spec(float, 0.9, check=probability, doc="P(dormant) after extravasation [U]")
    k_wake_per_s: float = spec(float, 1.0e-7, check=non_negative, doc="dormant cells wake, times inflammation [U]")
    k_dormant_death_per_s: float = spec(float, 1.0e-7, check=non_negative,
                                        doc="dormant cells die, times macrophage [U]")
    birth_per_s: float = spec(float, 1.16e-5, check=non_negative, doc="division per cell, times niche [U: ~1/day]")
    death_per_s: float = spec(float, 0.93e-5, check=non_negative, doc="cell death per cell, times macrophage [U]")
    k_regression_per_s: float = spec(float, 1.0e-6, check=non_negative,
                                     doc="micrometastasis regression, times macrophage [U]")
    micro_cells: int = spec(int, 16, check=at_least(1), doc="cells of a micrometastasis (Luzzi 1998: 4-16)")
    macro_cells: float = spec(float, 1.0e6, check=positive, doc="cells of a macrometastasis (~1 mm^3) [U]")


SOIL_FACTORS = ("niche", "inflammation", "macrophage")
MULTIPLIABLE = tuple(f.name for f in dataclasses.fields(Biology) if f.metadata["kind"] is float)


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


@dataclasses.dataclass(frozen=True)
class Arm:
    """A named set of multipliers on biology parameters (DESIGN 2.5), from ``start_s`` on."""
    name: str = spec(str)
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
    path = resources.files("ctcsim") / "data" / "primaries.toml"
    where = "<built-in primaries.toml>"
    data = read_toml(path, where)
    return {p["name"]: build(Primary, p, where, f"primaries[{i}]") for i, p in enumerate(data["primaries"])}


def builtin_primary(name: str) -> Primary:
    table = builtin_primaries()
    if name not in table:
        raise ScenarioError("primary", "name", f"unknown primary {name!r}; built-in: {', '.join(table)}")
    return table[name]
