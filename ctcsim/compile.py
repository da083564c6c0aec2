"""Scenario -> CompiledModel: resolve names and parameters into the arrays the core reads."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import hazards, model_checks, tropism
from .biology import SOIL_FACTORS, Biology, unit_factor_tables
from .checks import ScenarioError
from .model import CompiledModel
from .scenario import Scenario, origin, validate

SECONDS_PER_DAY = 86400.0
ENTRY_GRID_POINTS = 4097  # inverse-CDF points of the shedding entry time: error << 1e-6 of the span


def gompertz_mass_g(entry, t_s):
    """Tumour mass under Gompertz growth dV/dt = a V ln(K/V), a from the initial doubling time."""
    k_g, m0 = entry.carrying_capacity_g, entry.tumour_mass_g
    a = math.log(2.0) / (entry.doubling_time_days * SECONDS_PER_DAY * math.log(k_g / m0))
    return k_g * np.exp(np.log(m0 / k_g) * np.exp(-a * np.asarray(t_s)))


def shedding_end_s(scenario: Scenario) -> float:
    """When the primary stops shedding: its resection, or the end of observation."""
    return min(scenario.entry.resection_s, scenario.t_max_s)


def _shedding_curve(scenario: Scenario):
    """Times over the shedding period [0, shedding_end_s] and the expected number of units
    shed by each of them."""
    e = scenario.entry
    if not math.isfinite(shedding_end_s(scenario)):
        raise ScenarioError(origin(scenario), "t_max_s", "shedding needs a finite t_max_s or entry.resection_s "
                                                         "(the duration)")
    if e.carrying_capacity_g <= e.tumour_mass_g:
        raise ScenarioError(origin(scenario), "entry.carrying_capacity_g", "must exceed entry.tumour_mass_g")
    t = np.linspace(0.0, shedding_end_s(scenario), 20001)
    rate = e.cells_per_g_per_day / SECONDS_PER_DAY * gompertz_mass_g(e, t)
    cum = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(t))])  # trapezoid
    return t, cum


def expected_units(scenario: Scenario) -> float:
    """The expected number of units a shedding scenario sheds (Poisson mean)."""
    return float(_shedding_curve(scenario)[1][-1])


def entry_time_grid(scenario: Scenario) -> np.ndarray:
    """The inverse CDF of the entry time at u = 0, 1/(M-1), ..., 1 (one point: a fixed time)."""
    if scenario.entry.mode != "shedding":
        return np.array([scenario.entry.time_s])
    t, cum = _shedding_curve(scenario)
    return np.interp(np.linspace(0.0, 1.0, ENTRY_GRID_POINTS), cum / cum[-1], t)


def arm_biology(scenario: Scenario, arm: str) -> Biology:
    """The biology of one arm: the scenario's, times the arm's multipliers."""
    if arm not in scenario.arm_names():
        raise ScenarioError(origin(scenario), "arm", f"unknown arm {arm!r}; arms: {', '.join(scenario.arm_names())}")
    mult = next((a.multipliers for a in scenario.arms if a.name == arm), {})
    b = scenario.biology
    return dataclasses.replace(b, **{k: getattr(b, k) * v for k, v in mult.items()})


def compile_arm(scenario: Scenario, arm: str) -> tuple[CompiledModel, CompiledModel | None, float]:
    """(model before the arm starts, model after it or None, start time) for one arm."""
    spec = next((a for a in scenario.arms if a.name == arm), None)
    treated = compile_model(scenario, arm)
    if spec is None or spec.start_s == 0.0 or not spec.multipliers:
        return treated, None, math.inf
    before = _compile(scenario, scenario.biology)
    model_checks.check(before, origin(scenario), "biology")
    return before, treated, spec.start_s


def compile_model(scenario: Scenario, arm: str | None = None) -> CompiledModel:
    """The compiled model of ``arm`` (default: the first arm), its multipliers applied from t = 0,
    checked (model_checks) as the core will receive it."""
    validate(scenario)  # however it was built: what is simulated is validated
    arm = arm or scenario.arm_names()[0]
    model = _compile(scenario, arm_biology(scenario, arm))
    names = [a.name for a in scenario.arms]
    model_checks.check(model, origin(scenario), f"arms[{names.index(arm)}]" if arm in names else "biology")
    return model


class _Context:
    """What the rate functions read: the biology and the anatomy, per compartment."""

    def __init__(self, scenario: Scenario, b: Biology):
        self.b = b
        self.anatomy = anat = scenario.resolved_anatomy()
        comps = anat.compartments
        self.n = len(comps)
        self.beds = np.array([c.kind == "bed" for c in comps], dtype=float)
        self.transit_s = np.array([c.transit_s for c in comps])
        self.stages = np.array([c.stages for c in comps])
        self.shear_dyn_cm2 = np.array([c.shear_dyn_cm2 for c in comps])
        self.nk_rel = np.array([c.nk_rel for c in comps])
        self.platelet_rel = np.array([c.platelet_rel for c in comps])
        adhesion = tropism.adhesion_factors(scenario, anat)  # inline, else the primary's table, else 1
        self.adhesion = np.array([adhesion[anat.organ_of(c)] if c.kind == "bed" else 0.0 for c in comps])
        soil = tropism.soil_factors(scenario, anat)  # inline, else the primary's table, else 1
        self.soil = {f: np.array([soil[anat.organ_of(c)][f] if c.kind == "bed" else 1.0 for c in comps])
                     for f in SOIL_FACTORS}


# Each hazard's rate per compartment ([C], or [C, 2] by shield where the shield does more than
# scale it), before the shield and soil factors that hazards.HAZARDS declares for it.
RATES = {
    "stage": lambda x: x.stages / x.transit_s,
    "shear": lambda x: x.b.k_shear_per_s * (x.shear_dyn_cm2 / x.b.shear_ref_dyn_cm2) ** x.b.shear_exponent,
    "nk": lambda x: x.b.k_nk_per_s * x.nk_rel,
    "anoikis": lambda x: np.full(x.n, float(x.b.anoikis_on)),  # the Weibull's scale; its clock is eta, beta
    "adhesion": lambda x: x.b.k_adh_per_s * x.adhesion,
    "platelets": lambda x: np.stack([x.b.k_on_per_s * x.platelet_rel, np.full(x.n, x.b.k_off_per_s)], axis=1),
    # Arrested cells are killed by NK cells and by resident macrophages (Kupffer cells,
    # alveolar macrophages): the bed's NK level times the organ's macrophage activity.
    "capillary_death": lambda x: x.b.k_cap_nk_per_s * x.nk_rel * x.beds,
    "extravasation": lambda x: x.b.k_extravasation_per_s * x.beds,
    "capillary_platelets": lambda x: np.stack([x.b.k_on_capillary_per_s * x.platelet_rel * x.beds, np.zeros(x.n)],
                                              axis=1),
    "release": lambda x: x.b.k_release_per_s * x.beds,
    "dormant_death": lambda x: x.b.k_dormant_death_per_s * x.beds,
    "wake": lambda x: x.b.k_wake_per_s * x.beds,
    "cell_death": lambda x: x.b.death_per_s * x.beds,
    "division": lambda x: x.b.birth_per_s * x.beds,
    "regression": lambda x: x.b.k_regression_per_s * x.beds,
}


def hazard_rates(x: _Context) -> dict[str, np.ndarray]:
    """rates[name] [C, 2] for every hazard: RATES, times soil, times the declared shield effect."""
    out = {}
    for h in hazards.HAZARDS:
        r = np.asarray(RATES[h.name](x), dtype=float)
        if h.soil:
            r = (r.T * x.soil[h.soil]).T
        if r.ndim == 1:
            shield = np.ones(2)
            if h.shield:
                p = getattr(x.b, h.shield)
                shield = 1.0 - p * np.array([0.0, 1.0]) if h.shield_effect == "reduce" else \
                    1.0 + p * np.array([0.0, 1.0])
            r = np.outer(r, shield)
        out[h.name] = r
    return out


def _compile(scenario: Scenario, b: Biology) -> CompiledModel:
    x = _Context(scenario, b)
    anat, prim = x.anatomy, scenario.resolved_primary()
    idx = anat.index()
    organs = anat.organs()
    comps = anat.compartments
    n = x.n

    order = sorted(range(len(anat.edges)), key=lambda i: idx[anat.edges[i].src])  # CSR by source
    edges = [anat.edges[i] for i in order]
    edge_ptr = np.searchsorted([idx[e.src] for e in edges], np.arange(n + 1)).astype(np.int64)
    frac = np.array([e.fraction for e in edges])
    cum = np.empty(len(edges))
    for c in range(n):
        lo, hi = edge_ptr[c], edge_ptr[c + 1]
        part = np.cumsum(frac[lo:hi])
        cum[lo:hi] = part / part[-1]
        cum[hi - 1] = 1.0  # exact, so a uniform below 1 always finds an edge

    if scenario.entry.mode == "injection":
        site = scenario.entry.site
        entries = {anat.injection_sites.get(site, site): 1.0}
    else:
        entries = {k: v for k, v in prim.entry.items() if v > 0}
    entry_w = np.array(list(entries.values()), dtype=float)
    cluster = _trim(np.asarray(prim.cluster_size_probs, dtype=float))
    cluster_factor, phenotype_factor = unit_factor_tables(b, len(cluster))

    model = CompiledModel(
        compartment_names=tuple(c.name for c in comps),
        organ_names=tuple(organs),
        is_bed=x.beds.astype(np.int8),
        organ=np.array([organs.index(anat.organ_of(c)) if c.kind == "bed" else -1 for c in comps], np.int32),
        n_stages=x.stages.astype(np.int32),
        capillary_diameter_um=np.array([c.capillary_diameter_um if c.kind == "bed" else np.nan for c in comps]),
        edge_ptr=edge_ptr,
        edge_to=np.array([idx[e.dst] for e in edges], np.int32),
        edge_cum=cum,
        rates=hazard_rates(x),
        anoikis_eta_s=b.anoikis_eta_s,
        anoikis_beta=b.anoikis_beta,
        trap_max=b.trap_max,
        trap_ratio50=b.trap_ratio50,
        trap_width=b.trap_width,
        entry_compartment=np.array([idx[k] for k in entries], np.int32),
        entry_cum=_cum(entry_w),
        cluster_cum=_cum(cluster),
        phenotype_cum=_cum(_trim(np.asarray(prim.phenotype_mix, dtype=float))),
        diameter_median_um=prim.diameter_median_um,
        diameter_sigma_log=prim.diameter_sigma_log,
        entry_time_grid_s=entry_time_grid(scenario),
        cluster_factor=cluster_factor,
        phenotype_factor=phenotype_factor,
        trap_diameter_scale=np.arange(1, len(cluster) + 1, dtype=float) ** b.cluster_diameter_exponent,
        t_max_s=scenario.t_max_s,
        dormancy_prob=np.full(n, b.p_dormant) * x.beds,
        micro_cells=b.micro_cells,
        macro_cells=b.macro_cells,
        trap_deformability=np.array(b.trap_deformability, dtype=float),
        cluster_cell_trap=b.cluster_cell_trap,
    )
    return model


def _trim(p: np.ndarray) -> np.ndarray:
    """Drop trailing zero probabilities: a table of one category costs the core no draw."""
    return p[: np.flatnonzero(p)[-1] + 1]


def _cum(w: np.ndarray) -> np.ndarray:
    c = np.cumsum(w) / w.sum()
    c[-1] = 1.0
    return c
