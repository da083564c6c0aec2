"""One measurement per row of targets.toml, registered under the row's id (``MEASURES``).

Each runs what the row's ``measure`` says on the built-in scenarios (``sim.variant``) and
returns a ``Result``: the value in the row's unit with its interval, the units and horizon
it came from, and the facts of the measurement that say why it lands where it does.
A tumour counted at a time point (Fidler's lung tumours at 14 d) is a micro- or
macrometastasis present then; a metastasis over a human horizon (Aceto, lymph nodes, site
frequencies) is a micrometastasis formed by the horizon, whether it grew on or regressed: the
seeds that took, which is what a patient's history of sites records.
Measurements use only outcomes of the fate and event tables, so that they keep measuring
the same thing when mechanisms are added (release, passage, soil, lymph, horizons).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from .. import experiments, hazards, stats
from .. import scenario as sc
from ..compare import column, indicator
from . import blood, held_out
from .intervals import Estimate, fold_reduction, fraction, ratio
from .sim import DAY_S, Runs, horizon_text, human_horizon_s, variant

METASTASIS = ("micrometastasis", "macrometastasis")
HALF_LIFE_HORIZON_S = 12 * 3600.0   # 5 x Meng's longest half-life: a t_half up to 12 h is measured
# Units of the half-life: once units are released from arrest, each circulates for hours (thousands
# of steps); 20 000 put the share in blood at the crossing within +-0.7 % (95 %).
HALF_LIFE_UNITS = 20_000
ANTI_PLATELET = {"k_on_per_s": 0.0, "k_on_capillary_per_s": 0.0}
LYMPH_NODES = ("lymph_nodes", "regional_lymph_nodes")  # distant (blood-perfused) and regional (lymph-borne) nodes


@dataclasses.dataclass(frozen=True)
class Result:
    estimate: Estimate        # in the target's unit
    n: str                    # the units measured
    horizon: str
    why: tuple[str, ...] = ()
    verdict: str | None = None  # a row without a published range states its own criterion
    section: object = None      # extra detail for the dossier's sections (held-out series)


def _pct(e: Estimate) -> str:
    return f"{100 * e.value:.3g} % [{100 * e.low:.3g}, {100 * e.high:.3g}] ({e.counts})"


def _count(mask) -> int:
    return int(np.count_nonzero(mask))


def _metastasis(f) -> np.ndarray:
    """Micro- or macrometastases present at the horizon."""
    return np.isin(column(f, "post_arrest"), METASTASIS)


def _formed(f) -> np.ndarray:
    """Micrometastases formed by the horizon."""
    return np.isfinite(column(f, "micrometastasis_time_s").astype(float))


def _arm(f, name: str):
    return f.filter(np.asarray(column(f, "arm") == name)).sort_by("unit_id")


def half_life(runs: Runs) -> Result:
    s = variant("breast", t_max_s=HALF_LIFE_HORIZON_S, entry={"mode": "injection", "site": "systemic_veins"})
    n = min(runs.n, HALF_LIFE_UNITS)
    times, count = blood.blood_count(*runs.blood_changes("breast_iv_12h_events", s, n))
    e = blood.half_life(times, count, n)
    at_1h = blood.in_blood_at(times, count, n, 3600.0)
    hours = dataclasses.replace(e, value=e.value / 3600, low=e.low / 3600, high=e.high / 3600)
    return Result(hours, f"{n:,} units injected into the systemic veins", horizon_text(s.t_max_s),
                  (f"t_half = {e.value:.3g} s [{e.low:.3g}, {e.high:.3g}]", f"P(in blood at 1 h) = {_pct(at_1h)}"))


def _luzzi(name: str) -> Callable[[Runs], Result]:
    target = next(t for t in experiments.TARGETS if t.scenario == "luzzi1998" and t.name == name)

    def measure(runs: Runs) -> Result:
        s = sc.builtin_scenario("luzzi1998")
        f = runs.fates("luzzi1998", s)
        k = round(target.measure(f) * f.num_rows)
        return Result(fraction(k, f.num_rows), f"{f.num_rows:,} units", horizon_text(s.t_max_s),
                      (f"calibrated with {target.parameter}",))
    return measure


def _fidler_24h(runs: Runs):
    s = sc.builtin_scenario("fidler1970")
    return s, runs.fates("fidler1970", s)


def fidler_alive(runs: Runs) -> Result:
    s, f = _fidler_24h(runs)
    alive = indicator(f, "alive") == 1
    circulating = _count(alive & (column(f, "fate") == "censored"))
    return Result(fraction(_count(alive), f.num_rows), f"{f.num_rows:,} units", horizon_text(s.t_max_s),
                  (f"alive at 24 h: {circulating:,} still circulating, {_count(alive) - circulating:,} arrested",))


def fidler_lung_share(runs: Runs) -> Result:
    s, f = _fidler_24h(runs)
    alive = indicator(f, "alive") == 1
    lung = alive & (indicator(f, "organ:lung") == 1)
    organs = column(f, "organ")[alive]
    names, counts = np.unique(organs.astype(str), return_counts=True)
    top = ", ".join(f"{o} {c:,}" for o, c in sorted(zip(names, counts), key=lambda x: -x[1])[:4])
    return Result(fraction(_count(lung), _count(alive)), f"{f.num_rows:,} units", horizon_text(s.t_max_s),
                  (f"alive at 24 h by organ: {top}",))


def _fidler_14d(runs: Runs):
    s = variant("fidler1970", t_max_s=14 * DAY_S,
                arms=[{"name": "control"}, {"name": "anti_platelet", "multipliers": ANTI_PLATELET}])
    f = runs.fates("fidler1970_14d_antiplatelet", s)
    return s, _arm(f, "control"), _arm(f, "anti_platelet")


def _lung_outcomes(f) -> str:
    lung = column(f, "organ") == "lung"
    names, counts = np.unique(column(f, "post_arrest")[lung].astype(str), return_counts=True)
    ordered = sorted(zip(names, counts), key=lambda x: -x[1])
    return "lung arrests at 14 d: " + ", ".join(f"{o} {c:,}" for o, c in ordered)


def fidler_lung_cells(runs: Runs) -> Result:
    s, control, _ = _fidler_14d(runs)
    alive = (indicator(control, "alive") == 1) & (column(control, "organ") == "lung")
    return Result(fraction(_count(alive), control.num_rows), f"{control.num_rows:,} units",
                  horizon_text(s.t_max_s), (_lung_outcomes(control),))


def fidler_lung_tumours(runs: Runs) -> Result:
    s, control, _ = _fidler_14d(runs)
    tumours = _metastasis(control) & (column(control, "organ") == "lung")
    return Result(fraction(_count(tumours), control.num_rows), f"{control.num_rows:,} units",
                  horizon_text(s.t_max_s), (_lung_outcomes(control),))


def _alive_at(f, t_s: float) -> np.ndarray:
    """Alive at time t_s (a fate table observed to a later horizon): neither dead in the blood
    nor gone after arrest by then (final post-arrest outcomes carry their time)."""
    dead = np.isin(column(f, "fate"), hazards.DEAD_FATES) & (column(f, "fate_time_s") <= t_s)
    gone = np.isin(column(f, "post_arrest"), hazards.GONE) & (column(f, "post_arrest_time_s") <= t_s)
    return ~(dead | gone)


def _change(arm, control) -> str:
    """arm / control - 1 in % with its matched-pairs 95 % interval."""
    ka, kc = _count(arm), _count(control)
    if not (ka and kc):
        return f"{ka:,} vs {kc:,}"
    c = stats.paired_contrast(ka, kc, _count(arm & control), len(arm))
    lo, hi = c["rr_ci95"]
    return f"{100 * (c['relative_risk'] - 1):+.2g} % [{100 * (lo - 1):+.2g}, {100 * (hi - 1):+.2g}]"


def _shielded_at_arrest(f) -> str:
    arrested = column(f, "fate") == "arrested"
    shielded = np.asarray(column(f, "shielded_at_fate"), bool) & arrested
    return _pct(fraction(_count(shielded), _count(arrested)))


def breast_antiplatelet(runs: Runs) -> str:
    """The issue's own anti-platelet figures: built-in breast_antiplatelet (k_on x 0.1), paired."""
    s = variant("breast_antiplatelet", t_max_s=human_horizon_s("breast_antiplatelet"))
    f = runs.fates("breast_antiplatelet_horizon", s)
    control, arm = _arm(f, "control"), _arm(f, "anti_platelet")
    alive = _change(_alive_at(arm, DAY_S), _alive_at(control, DAY_S))
    return (f"breast_antiplatelet (k_on x 0.1): alive at 24 h {alive}, micrometastases formed by "
            f"{horizon_text(s.t_max_s)} {_change(_formed(arm), _formed(control))}, "
            f"arrested carrying platelets {_shielded_at_arrest(control)}")


def antiplatelet(runs: Runs) -> Result:
    s, control, arm = _fidler_14d(runs)
    yc = _metastasis(control) & (column(control, "organ") == "lung")
    ya = _metastasis(arm) & (column(arm, "organ") == "lung")
    return Result(fold_reduction(_count(yc), _count(ya), _count(yc & ya), control.num_rows),
                  f"{control.num_rows:,} units per arm (paired)", horizon_text(s.t_max_s),
                  (f"lung metastases: control {_count(yc):,}, anti-platelet {_count(ya):,}",
                   f"arrested carrying platelets (control): {_shielded_at_arrest(control)}",
                   breast_antiplatelet(runs)))


def _arrested_breakdown(f) -> tuple[np.ndarray, str]:
    arrested = column(f, "fate") == "arrested"
    instant = arrested & (column(f, "post_arrest") == "died_in_capillary") & \
        (column(f, "post_arrest_time_s") == column(f, "fate_time_s"))
    return arrested, f"died at the instant of arrest: {_pct(fraction(_count(instant), _count(arrested)))}"


def koop(runs: Runs) -> Result:
    s = variant("fidler1970", times={"k_nk_per_s": 0.0, "k_cap_nk_per_s": 0.0, "k_shear_per_s": 0.0})
    f = runs.fates("fidler1970_no_nk_no_shear", s)
    arrested, instant = _arrested_breakdown(f)
    out = arrested & np.isfinite(column(f, "extravasation_time_s").astype(float))
    return Result(fraction(_count(out), _count(arrested)), f"{f.num_rows:,} units ({_count(arrested):,} arrested)",
                  horizon_text(s.t_max_s), (instant, "NK killing (blood and capillary) and shear death x 0"))


def _breast(runs: Runs):
    s = variant("breast", t_max_s=human_horizon_s("breast"))
    return s, runs.fates("breast_horizon", s)


def chambers(runs: Runs) -> Result:
    s, f = _breast(runs)
    arrested, instant = _arrested_breakdown(f)
    out = arrested & np.isfinite(column(f, "extravasation_time_s").astype(float))
    return Result(fraction(_count(out), _count(arrested)), f"{f.num_rows:,} units ({_count(arrested):,} arrested)",
                  horizon_text(s.t_max_s), (instant,))


def lymph_nodes(runs: Runs) -> Result:
    s, f = _breast(runs)
    nodes = np.isin(column(f, "organ"), LYMPH_NODES)
    arrested = column(f, "fate") == "arrested"
    met = _formed(f)
    return Result(fraction(_count(met & nodes), _count(met)), f"{f.num_rows:,} units", horizon_text(s.t_max_s),
                  (f"arrests in lymph nodes: {_pct(fraction(_count(arrested & nodes), _count(arrested)))}",
                   f"metastases anywhere: {_count(met):,}"))


def cluster_advantage(runs: Runs) -> Result:
    probs = sc.builtin_primary("breast").cluster_size_probs
    clustered = [0.0] + [p / sum(probs[1:]) for p in probs[1:]]
    t = human_horizon_s("breast")
    singles = runs.fates("breast_singles", variant("breast", t_max_s=t, primary={"cluster_size_probs": [1.0]}))
    clusters = runs.fates("breast_clusters", variant("breast", t_max_s=t, primary={"cluster_size_probs": clustered}))
    kc, ks = _count(_formed(clusters)), _count(_formed(singles))
    return Result(ratio(kc, clusters.num_rows, ks, singles.num_rows),
                  f"{clusters.num_rows:,} clusters (sizes 2-{len(probs)} as the primary's) and "
                  f"{singles.num_rows:,} single cells",
                  horizon_text(t), (f"metastases: clusters {kc:,}, single cells {ks:,}",))


def site_frequencies(held: bool) -> Callable[[Runs], Result]:
    def measure(runs: Runs) -> Result:
        report = held_out.report(runs, held)
        return Result(report.estimate, report.n, report.horizon, report.why, report.verdict, report)
    return measure


MEASURES: dict[str, Callable[[Runs], Result]] = {
    "meng2004_half_life": half_life,
    "luzzi1998_extravasated_d3": _luzzi("extravasated by day 3"),
    "luzzi1998_micro_d3": _luzzi("micrometastases started by day 3"),
    "luzzi1998_macro_d13": _luzzi("macrometastases at day 13"),
    "luzzi1998_dormant_d13": _luzzi("solitary dormant cells at day 13"),
    "fidler1970_alive_24h": fidler_alive,
    "fidler1970_lung_share_24h": fidler_lung_share,
    "site_frequencies_fit_series": site_frequencies(held=False),
    "aceto2014_cluster_advantage": cluster_advantage,
    "jain2007_antiplatelet": antiplatelet,
    "fidler1970_lung_cells_d14": fidler_lung_cells,
    "fidler1970_lung_tumours_d14": fidler_lung_tumours,
    "koop1995_extravasation": koop,
    "chambers2002_losses": chambers,
    "breast_lymph_nodes": lymph_nodes,
    "site_frequencies_held_out": site_frequencies(held=True),
}
