"""Where blood flow alone sends units: the anatomies' flow fractions, and which bed comes first."""
import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from ctcsim import anatomy, exact
from ctcsim import scenario as sc
from ctcsim.compile import compile_model
from ctcsim.simulate import simulate

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
    portal-drained primaries and the lung for caval ones."""
    s = dataclasses.replace(flow_only("human_female", "portal_vein"), primary=primary,
                            entry=sc.Entry(mode="drainage"))
    ev = simulate(s, 2000, seed=3, events=True).events.to_pandas()
    beds = {c.name for c in s.resolved_anatomy().compartments if c.kind == "bed"}
    first_bed = ev[ev.compartment.isin(beds)].groupby("unit_id").compartment.first()
    assert len(first_bed) == 2000 and (first_bed == first).all()
