"""The CTC biology of a scenario: rates and factors, each default beside its source.

Rates have units in their names.  Factors that scale hazards per unit (cluster size,
phenotype) are tables keyed by the factor groups of ``hazards.FACTORS``, so a scenario
stays loadable when a hazard is added.  Arms multiply the number fields (``MULTIPLIABLE``).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import hazards
from .checks import ScenarioError, at_least, build, non_negative, positive, probability, spec

# Positional lists of the first scenario format, in their order (still read, as tables).
_LEGACY_GROUPS = ("shear", "nk", "anoikis", "adhesion", "extravasation", "proliferation")
# The passage model's keys: a scenario that has them is not of the sphere model's format.
_PASSAGE = ("cluster_diameter_exponent", "cluster_cell_trap", "trap_deformability")


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _three(x):
    return isinstance(x, list) and len(x) == 3 and all(_number(v) and v >= 0 for v in x)


def _per_group(ok, expected):
    def check(table):
        for group, x in table.items():
            if group not in hazards.FACTORS:
                return f"unknown factor group {group!r}; groups: {', '.join(hazards.FACTORS)}"
            if not ok(x):
                return f"{group}: expected {expected}, got {x!r}"
        return None
    return check


@dataclasses.dataclass(frozen=True)
class Biology:
    """Rates and factors of the circulating phase (DESIGN 2.3).  [U]: order-of-magnitude
    assumption to calibrate; [D]: derived from the cited number; see ctcsim/data/reference/SOURCES.md.
    Per-hazard factors are tables keyed by factor group (hazards.FACTORS)."""
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
    cluster_exponent: dict = spec(dict, {"shear": 0.0, "nk": -1.0, "anoikis": -1.0, "adhesion": 0.5},
                                  check=_per_group(_number, "a number"),
                                  doc="factor group -> x in the cluster factor k^x; groups not named: 0 [U; "
                                      "proliferation: a cluster stemness effect, Gkountela 2019, no number: 0]")
    # Passage (DESIGN 2.2; model.py): a cell is held entering a bed with q = trap_max * logistic((d /
    # d_cap - trap_ratio50 * deformability[p]) / trap_width); a cluster unfolds into single file
    # behind its leading cell and is held at each further cell with cluster_cell_trap * q.
    trap_deformability: list = spec(list, [1.0, 1.1, 1.2], check=lambda x: None if _three(x) and min(x) > 0 else
                                    f"expected 3 positive numbers (epithelial, hybrid, mesenchymal), got {x!r}",
                                    doc="factors of trap_ratio50 by phenotype (epithelial, hybrid, mesenchymal): a "
                                        "softer cell deforms through a narrower capillary [U: the direction from Cross "
                                        "2007 (metastatic cells >70 % softer) and Swaminathan 2011 (the most invasive "
                                        "5x softer); the size unknown]")
    cluster_diameter_exponent: float = spec(float, 0.0, check=non_negative,
                                            doc="a cluster's leading cell meets the capillary at diameter d k^x: 0, "
                                                "single file (Au 2016); 1/3, the volume-equivalent sphere")
    cluster_cell_trap: float = spec(float, 1.0 - 0.9 ** (1.0 / 19.0), check=probability,
                                    doc="a cluster is held at each cell behind its leading one with this times the "
                                        "cell's own trapping probability [D: Au 2016, >90 % of clusters of up to 20 "
                                        "cells pass 5-10 um constrictions: 1 - 0.9^(1/19), at which a 20-cell chain "
                                        "passes with at least 0.9 of its leading cell's chance]")
    phenotype_factor: dict = spec(dict, {"anoikis": [1.0, 0.7, 0.5], "adhesion": [1.0, 1.0, 0.8],
                                         "extravasation": [1.0, 1.2, 1.5], "proliferation": [1.0, 0.9, 0.6]},
                                  check=_per_group(_three, "3 non-negative numbers (epithelial, hybrid, mesenchymal)"),
                                  doc="factor group -> factors of (epithelial, hybrid, mesenchymal); groups not "
                                      "named: 1.  EMT resists anoikis [U], invades [U]; MET is needed to grow [U]")
    # After arrest (DESIGN 2.4).  Organ soil factors (see Scenario.soil) scale these.
    k_cap_nk_per_s: float = spec(float, 1.0e-5, check=non_negative,
                                 doc="killing of an arrested unit, times the bed's nk_rel and macrophage [U]")
    k_extravasation_per_s: float = spec(float, 1.16e-5, check=non_negative,
                                        doc="extravasation, times niche [U: ~1 day, Chambers 2002]")
    k_on_capillary_per_s: float = spec(float, 0.0, check=non_negative,
                                       doc="platelet binding of an arrested unit at platelet_rel 1 (stasis and "
                                           "activated endothelium: Labelle 2011, Palumbo 2005) [U: off until calibrated]")
    k_release_per_s: float = spec(float, 0.0, check=non_negative,
                                  doc="release of an arrested unit back into the blood, leaving its bed by flow "
                                      "(Fidler 1970: arrested emboli recirculate) [U: off until calibrated]")
    p_release: float = spec(float, 0.0, check=probability,
                            doc="shield's reduction of release (platelets stabilise the arrest) [U]")
    p_dormant: float = spec(float, 0.9, check=probability,
                            doc="P(dormant) of each extravasated cell; a cluster's colony starts from the rest [U]")
    k_wake_per_s: float = spec(float, 1.0e-7, check=non_negative, doc="dormant cells wake, times inflammation [U]")
    k_dormant_death_per_s: float = spec(float, 1.0e-7, check=non_negative,
                                        doc="dormant cells die [U]")
    birth_per_s: float = spec(float, 1.16e-5, check=non_negative, doc="division per cell, times growth [U: ~1/day]")
    death_per_s: float = spec(float, 0.93e-5, check=non_negative, doc="cell death per cell [U]")
    k_regression_per_s: float = spec(float, 1.0e-6, check=non_negative,
                                     doc="micrometastasis regression [U]")
    micro_cells: int = spec(int, 16, check=at_least(1), doc="cells of a micrometastasis (Luzzi 1998: 4-16)")
    macro_cells: float = spec(float, 1.0e6, check=positive, doc="cells of a macrometastasis (~1 mm^3) [U]")


# Organ soil factors (Scenario.soil; hazards.HAZARDS names which each scales): the niche scales
# extravasation, inflammation waking, macrophage the killing of arrested units in the vessel (NK
# cells and resident macrophages act within 12-24 h of arrest, Hanna & Fidler 1980: not on cells
# that have extravasated), and growth the colony's divisions, where the tropism tables put organ
# preference (seed and soil, Paget 1889).
SOIL_FACTORS = ("niche", "inflammation", "macrophage", "growth")
MULTIPLIABLE = tuple(f.name for f in dataclasses.fields(Biology) if f.metadata["kind"] is float)


def build_biology(data, where: str, key: str) -> Biology:
    """A Biology from a TOML table; factor tables merge onto the defaults group by group."""
    if isinstance(data, dict):
        data = _upgrade(dict(data), where, key)
        for name in ("cluster_exponent", "phenotype_factor"):
            if isinstance(data.get(name), dict):
                data[name] = {**getattr(Biology(), name), **data[name]}
    return build(Biology, data, where, key)


def _upgrade(data: dict, where: str, key: str) -> dict:
    """Read the first format's positional factor lists as tables, and its sphere model of a
    cluster's trapping as the passage model's special case (recorded runs stay replayable)."""
    if "cluster_trap_exponent" in data:
        mixed = [k for k in _PASSAGE if k in data]
        if mixed:
            raise ScenarioError(where, f"{key}.cluster_trap_exponent", f"the earlier format's sphere model, which "
                                f"{mixed[0]} replaces; better: cluster_diameter_exponent")
        data.update(cluster_diameter_exponent=data.pop("cluster_trap_exponent"), cluster_cell_trap=0.0,
                    trap_deformability=[1.0, 1.0, 1.0])
    if "cluster_exponents" in data:
        x = data.pop("cluster_exponents")
        if not isinstance(x, list) or len(x) != len(_LEGACY_GROUPS):
            raise ScenarioError(where, f"{key}.cluster_exponents", f"expected {len(_LEGACY_GROUPS)} numbers "
                                f"({', '.join(_LEGACY_GROUPS)}); better: a table cluster_exponent")
        data.setdefault("cluster_exponent", dict(zip(_LEGACY_GROUPS, x)))
    for group in _LEGACY_GROUPS:
        if f"phenotype_{group}" in data:
            data.setdefault("phenotype_factor", {})[group] = data.pop(f"phenotype_{group}")
    return data


def unit_factor_tables(b: Biology, n_cluster: int) -> tuple[np.ndarray, np.ndarray]:
    """(cluster_factor [G, K], phenotype_factor [G, 3]) in hazards.FACTORS order."""
    sizes = np.arange(1, n_cluster + 1, dtype=float)
    exponents = np.array([float(b.cluster_exponent.get(g, 0.0)) for g in hazards.FACTORS])
    pheno = np.array([b.phenotype_factor.get(g, [1.0, 1.0, 1.0]) for g in hazards.FACTORS], dtype=float)
    return sizes[None, :] ** exponents[:, None], pheno
