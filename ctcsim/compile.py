"""Scenario -> CompiledModel: resolve names and parameters into the arrays the core reads."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import tropism
from .checks import ScenarioError
from .model import CompiledModel
from .scenario import SOIL_FACTORS, Biology, Scenario, origin

SECONDS_PER_DAY = 86400.0
ENTRY_GRID_POINTS = 4097  # inverse-CDF points of the shedding entry time: error << 1e-6 of the span


def gompertz_mass_g(entry, t_s):
    """Tumour mass under Gompertz growth dV/dt = a V ln(K/V), a from the initial doubling time."""
    k_g, m0 = entry.carrying_capacity_g, entry.tumour_mass_g
    a = math.log(2.0) / (entry.doubling_time_days * SECONDS_PER_DAY * math.log(k_g / m0))
    return k_g * np.exp(np.log(m0 / k_g) * np.exp(-a * np.asarray(t_s)))


def _shedding_curve(scenario: Scenario):
    """Times over [0, t_max] and the expected number of units shed by each of them."""
    e = scenario.entry
    if not math.isfinite(scenario.t_max_s):
        raise ScenarioError(origin(scenario), "t_max_s", "shedding needs a finite t_max_s (the duration)")
    if e.carrying_capacity_g <= e.tumour_mass_g:
        raise ScenarioError(origin(scenario), "entry.carrying_capacity_g", "must exceed entry.tumour_mass_g")
    t = np.linspace(0.0, scenario.t_max_s, 20001)
    rate = e.cells_per_g_per_day / SECONDS_PER_DAY * gompertz_mass_g(e, t)
    cum = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(t))])  # trapezoid
    return t, cum


def expected_units(scenario: Scenario) -> float:
    """The expected number of units a shedding scenario sheds over [0, t_max] (Poisson mean)."""
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
    return _compile(scenario, scenario.biology), treated, spec.start_s


def compile_model(scenario: Scenario, arm: str | None = None) -> CompiledModel:
    """The compiled model of ``arm`` (default: the first arm), its multipliers applied from t = 0."""
    return _compile(scenario, arm_biology(scenario, arm or scenario.arm_names()[0]))


def _compile(scenario: Scenario, b: Biology) -> CompiledModel:
    anat = scenario.resolved_anatomy()
    prim = scenario.resolved_primary()
    idx = anat.index()
    organs = anat.organs()
    comps = anat.compartments
    n = len(comps)
    beds = np.array([c.kind == "bed" for c in comps])
    shield = np.array([0.0, 1.0])

    tau = np.array([c.shear_dyn_cm2 for c in comps])
    shear = b.k_shear_per_s * (tau / b.shear_ref_dyn_cm2) ** b.shear_exponent
    nk_rel = np.array([c.nk_rel for c in comps])
    nk = b.k_nk_per_s * nk_rel
    adhesion = tropism.adhesion_factors(scenario, anat)  # inline, else the primary's tropism table, else 1
    adh_factor = np.array([adhesion[anat.organ_of(c)] if c.kind == "bed" else 0.0 for c in comps])
    toggle = np.stack([b.k_on_per_s * np.array([c.platelet_rel for c in comps]), np.full(n, b.k_off_per_s)], axis=1)

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
    sizes = np.arange(1, len(cluster) + 1, dtype=float)
    soil = {f: np.array([scenario.soil.get(anat.organ_of(c), {}).get(f, 1.0) for c in comps])
            for f in SOIL_FACTORS}
    compat = tropism.compatibility(scenario, anat)

    model = CompiledModel(
        compartment_names=tuple(c.name for c in comps),
        organ_names=tuple(organs),
        is_bed=beds.astype(np.int8),
        organ=np.array([organs.index(anat.organ_of(c)) if c.kind == "bed" else -1 for c in comps], np.int32),
        stage_rate_per_s=np.array([c.stages / c.transit_s for c in comps]),
        n_stages=np.array([c.stages for c in comps], np.int32),
        shear_per_s=np.outer(shear, 1.0 - b.p_shear * shield),
        nk_per_s=np.outer(nk, 1.0 - b.p_nk * shield),
        adhesion_per_s=np.outer(b.k_adh_per_s * adh_factor, 1.0 + b.p_adh * shield),
        shield_toggle_per_s=toggle,
        capillary_diameter_um=np.array([c.capillary_diameter_um if c.kind == "bed" else np.nan for c in comps]),
        edge_ptr=edge_ptr,
        edge_to=np.array([idx[e.dst] for e in edges], np.int32),
        edge_cum=cum,
        anoikis_eta_s=b.anoikis_eta_s,
        anoikis_beta=b.anoikis_beta,
        anoikis_scale=(1.0 - b.p_anoikis * shield) * float(b.anoikis_on),
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
        cluster_factor=sizes[None, :] ** np.asarray(b.cluster_exponents, dtype=float)[:, None],
        phenotype_factor=np.array([b.phenotype_shear, b.phenotype_nk, b.phenotype_anoikis, b.phenotype_adhesion,
                                   b.phenotype_extravasation, b.phenotype_proliferation], dtype=float),
        trap_diameter_scale=sizes ** b.cluster_trap_exponent,
        t_max_s=scenario.t_max_s,
        # Arrested cells are killed by NK cells and by resident macrophages (Kupffer cells,
        # alveolar macrophages): the bed's NK level times the organ's macrophage activity.
        cap_death_per_s=np.outer(b.k_cap_nk_per_s * nk_rel * soil["macrophage"] * beds, 1.0 - b.p_nk * shield),
        extravasation_per_s=b.k_extravasation_per_s * soil["niche"] * beds,
        dormancy_prob=np.full(n, b.p_dormant) * beds,
        wake_per_s=b.k_wake_per_s * soil["inflammation"] * beds,
        dormant_death_per_s=b.k_dormant_death_per_s * soil["macrophage"] * beds,
        birth_per_s=b.birth_per_s * soil["niche"] * beds,
        death_per_s=b.death_per_s * soil["macrophage"] * beds,
        regression_per_s=b.k_regression_per_s * soil["macrophage"] * beds,
        compatibility=np.array([compat[anat.organ_of(c)] if c.kind == "bed" else 1.0 for c in comps]),
        micro_cells=b.micro_cells,
        macro_cells=b.macro_cells,
    )
    _check_absorbing(model, scenario)
    return model


def _trim(p: np.ndarray) -> np.ndarray:
    """Drop trailing zero probabilities: a table of one category costs the core no draw."""
    return p[: np.flatnonzero(p)[-1] + 1]


def _cum(w: np.ndarray) -> np.ndarray:
    c = np.cumsum(w) / w.sum()
    c[-1] = 1.0
    return c


def _check_absorbing(m: CompiledModel, scenario: Scenario):
    """Refuse a model in which a unit could circulate forever (no t_max to stop it)."""
    if np.isfinite(m.t_max_s) or m.anoikis_scale.max() > 0:
        return
    absorbing = (m.shear_per_s.max(1) > 0) | (m.nk_per_s.max(1) > 0) | (m.adhesion_per_s.max(1) > 0)
    absorbing |= (m.is_bed > 0) & (m.trap_max > 0)
    # Which compartments can reach an absorbing one, by backward search on the edges.
    can = absorbing.copy()
    changed = True
    while changed:
        changed = False
        for c in np.flatnonzero(~can):
            if can[m.edge_to[m.edge_ptr[c]:m.edge_ptr[c + 1]]].any():
                can[c] = changed = True
    if not can.all():
        stuck = ", ".join(m.compartment_names[c] for c in np.flatnonzero(~can))
        raise ScenarioError(origin(scenario), "t_max_s",
                            f"units in {stuck} can circulate forever (no death, arrest or anoikis "
                            "reachable): set t_max_s or a hazard")
