"""Where blood flow alone sends units: the anatomies' flow fractions, and which bed comes first."""
import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from ctcsim import anatomy, exact
from ctcsim import scenario as sc
from ctcsim.compile import compile_model
from ctcsim.runner import simulate

ALPHA = 1e-3  # false-alarm rate of each chi-square test


def flow_only(anatomy_name, site):
    """Injection at ``site`` with every hazard off, and every bed trapping every unit: each
    unit is caught by the first bed it enters, so arrests per organ are first-pass shares."""
    b = dataclasses.replace(sc.Biology(), k_shear_per_s=0.0, k_nk_per_s=0.0, anoikis_on=False, k_adh_per_s=0.0,
                            k_on_per_s=0.0, trap_max=1.0, trap_ratio50=1e-6, trap_width=1e-3)
    return sc.Scenario(name="flow_only", anatomy=anatomy_name, primary="breast", biology=b,
                       entry=sc.Entry(mode="injection", site=site))


def arterial_shares(a):
    """Flow fraction from the arterial pool into each organ's beds, from the anatomy data."""
    shares = dict.fromkeys(a.organs(), 0.0)
    beds = {c.name: a.organ_of(c) for c in a.compartments if c.kind == "bed"}
    for e in a.edges:
        if e.src == "arterial" and e.dst in beds:
            shares[beds[e.dst]] += e.fraction
    return shares


@pytest.mark.parametrize("name", anatomy.builtin_names())
def test_first_arterial_pass_equals_flow_fractions(name):
    """Exact: P(first bed = organ) equals the anatomy's arterial flow fraction to it; and the
    simulation agrees with the exact probabilities (chi-square)."""
    s = flow_only(name, "left_ventricle")
    model = compile_model(s)
    outs = exact.outcomes(model)
    p = exact.outcome_probabilities(model)
    shares = arterial_shares(s.resolved_anatomy())
    for organ, share in shares.items():
        assert p[outs.index(("arrested", organ, "trapped"))] == pytest.approx(share, abs=1e-12), organ
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    f = simulate(s, 200_000, seed=9).fates.to_pandas()
    counts = f.organ.value_counts()
    organs = [o for o in shares if shares[o] > 0]
    obs = np.array([counts.get(o, 0) for o in organs])
    expected = np.array([shares[o] for o in organs]) * len(f)
    assert stats.chisquare(obs, expected).pvalue > ALPHA


@pytest.mark.parametrize("primary,first", [("colon", "liver"), ("pancreas", "liver"), ("breast", "lung"),
                                           ("kidney", "lung")])
def test_portal_primaries_meet_the_liver_before_the_lung(primary, first):
    """Every unit's first capillary bed, read from the event log, is the liver for
    portal-drained primaries and the lung for caval ones, among the units that enter the blood
    (those that enter the lymph meet the regional nodes first: tests/test_lymph.py)."""
    s = dataclasses.replace(flow_only("human_female", "portal_vein"), primary=primary,
                            entry=sc.Entry(mode="drainage"))
    ev = simulate(s, 2000, seed=3, events=True).events.to_pandas()
    blood = set(ev.unit_id[(ev.event == "enter") & (ev.compartment != "afferent_lymph")])
    beds = {c.name for c in s.resolved_anatomy().compartments if c.kind == "bed"}
    first_bed = ev[ev.compartment.isin(beds) & ev.unit_id.isin(blood)].groupby("unit_id").compartment.first()
    assert len(first_bed) == len(blood) > 0 and (first_bed == first).all()


def trap_probability_on_entry(model, bed):
    """E over the entry distribution (cluster size, phenotype, log-normal diameter) of the
    probability of being trapped on entering ``bed``: the mechanical share of the first bed,
    computed here from the CTC and capillary diameters, the phenotype's deformability and the
    chain behind a cluster's leading cell (Gauss-Hermite over the log diameter)."""
    z, w = np.polynomial.hermite_e.hermegauss(64)
    w = w / w.sum()
    c = list(model.compartment_names).index(bed)
    sizes = np.diff(model.cluster_cum, prepend=0.0)
    kinds = np.diff(model.phenotype_cum, prepend=0.0)
    d = model.diameter_median_um * np.exp(model.diameter_sigma_log * z)
    total = 0.0
    for k, pk in enumerate(sizes, start=1):
        for p, pp in enumerate(kinds):
            r = d * model.trap_diameter_scale[k - 1] / model.capillary_diameter_um[c]
            r50 = model.trap_ratio50 * model.trap_deformability[p]
            q = model.trap_max / (1 + np.exp(-(r - r50) / model.trap_width))
            total += pk * pp * w @ (q + (1 - q) * (1 - (1 - model.cluster_cell_trap * q) ** (k - 1)))
    return total


@pytest.mark.parametrize("primary,first", [("breast", "lung"), ("melanoma", "lung"), ("kidney", "lung"),
                                           ("ovary", "lung"), ("bladder", "lung"), ("colon", "liver"),
                                           ("pancreas", "liver")])
def test_first_bed_of_the_drainage_takes_most_arrests(primary, first):
    """Chambers 2002: most CTCs arrest in the first capillary bed they meet. For each built-in
    primary with one drainage route, that bed takes the largest share of arrests, and at least
    the share that trapping alone predicts from the CTC diameter (Mendelaar 2021) against the
    capillary diameter (the rest is adhesion, which the tropism table sets). Among the units
    that enter the blood: those that enter the lymph meet the regional nodes first
    (tests/test_lymph.py). Tolerance: 4 binomial standard errors (false-alarm rate 6e-5 per
    comparison). On the default biology, which traps by size, observed for a day (arrest takes
    seconds): the calibrated breast biology does not (trap_max 0: its units circulate for hours,
    Meng 2004, ctcsim/data/validation/calibration.toml), so its first bed has no such share."""
    s = dataclasses.replace(sc.load("breast"), primary=primary, biology=sc.Biology(), t_max_s=86400.0)
    model = compile_model(s)
    f = simulate(s, 100_000, seed=17).fates.to_pandas()
    f = f[f.entry_compartment != "afferent_lymph"]
    shares = f[f.fate == "arrested"].organ.value_counts(normalize=True)
    assert shares.index[0] == first, shares.head(3).to_dict()
    trapped = trap_probability_on_entry(model, first)
    n = (f.fate == "arrested").sum()
    assert shares[first] >= trapped - 4 * math.sqrt(trapped * (1 - trapped) / n), (shares[first], trapped)
