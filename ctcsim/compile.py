"""Scenario -> CompiledModel: resolve names and parameters into the arrays the core reads."""
from __future__ import annotations

import dataclasses

import numpy as np

from .checks import ScenarioError
from .model import CompiledModel
from .scenario import Biology, Scenario


def arm_biology(scenario: Scenario, arm: str) -> Biology:
    """The biology of one arm: the scenario's, times the arm's multipliers."""
    if arm not in scenario.arm_names():
        raise ScenarioError(scenario.name, "arm", f"unknown arm {arm!r}; arms: {', '.join(scenario.arm_names())}")
    mult = next((a.multipliers for a in scenario.arms if a.name == arm), {})
    b = scenario.biology
    return dataclasses.replace(b, **{k: getattr(b, k) * v for k, v in mult.items()})


def compile_model(scenario: Scenario, arm: str | None = None) -> CompiledModel:
    """The compiled model of ``arm`` (default: the first arm, or the only one)."""
    b = arm_biology(scenario, arm or scenario.arm_names()[0])
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
    nk = b.k_nk_per_s * np.array([c.nk_rel for c in comps])
    adh_factor = np.array([scenario.adhesion.get(anat.organ_of(c), 1.0) if c.kind == "bed" else 0.0 for c in comps])
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
    cluster = np.asarray(prim.cluster_size_probs, dtype=float)
    cluster = cluster[: np.flatnonzero(cluster)[-1] + 1]
    sizes = np.arange(1, len(cluster) + 1, dtype=float)

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
        phenotype_cum=_cum(np.asarray(prim.phenotype_mix, dtype=float)),
        diameter_median_um=prim.diameter_median_um,
        diameter_sigma_log=prim.diameter_sigma_log,
        entry_time_grid_s=np.array([scenario.entry.time_s]),
        cluster_factor=sizes[None, :] ** np.asarray(b.cluster_exponents, dtype=float)[:, None],
        phenotype_factor=np.array([b.phenotype_shear, b.phenotype_nk, b.phenotype_anoikis, b.phenotype_adhesion],
                                  dtype=float),
        trap_diameter_scale=sizes ** b.cluster_trap_exponent,
        t_max_s=scenario.t_max_s,
    )
    _check_absorbing(model, scenario)
    return model


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
        raise ScenarioError(scenario.name, "t_max_s",
                            f"units in {stuck} can circulate forever (no death, arrest or anoikis "
                            "reachable): set t_max_s or a hazard")
