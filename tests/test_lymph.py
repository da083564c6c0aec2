"""The lymphatic route (issue 11, item 5): primary -> afferent lymph -> regional lymph nodes ->
thoracic duct -> systemic veins, entered by the primaries' lymph weights or the 'lymphatic'
injection site.

The statistical test has a false-alarm rate of ALPHA = 1e-3 (tests/README.md); the others are exact.
"""
import dataclasses
import math

import pytest

from ctcsim import anatomy, exact, stats, verification
from ctcsim.checks import ScenarioError
from ctcsim import scenario as sc
from ctcsim.compile import compile_model
from ctcsim.runner import simulate
from ctcsim.site_frequencies import read_sites

ALPHA = 1e-3
N = 50_000
CHI2_TOL = dict(zip(("rtol", "atol"), verification.solver_tolerances(N)))
ROUTE = ["afferent_lymph", "regional_lymph_nodes", "thoracic_duct", "systemic_veins"]
HUMANS = ("human_female", "human_male")
LYMPH_PRIMARIES = [p for p, prim in sc.builtin_primaries().items() if "afferent_lymph" in prim.entry]


def lymph_injection(anatomy_name="human_female", primary="breast", **changes):
    return sc.from_dict({"name": "lymph", "anatomy": anatomy_name, "primary": primary,
                         "entry": {"mode": "injection", "site": "lymphatic"}, **changes})


@pytest.mark.parametrize("name", HUMANS + ("mouse",))
def test_the_route_is_a_chain_from_afferent_lymph_to_the_systemic_veins(name):
    """Afferent lymph empties into the regional nodes, they into the thoracic duct, it into the
    systemic veins, each with all its flow; no blood compartment leads back into the lymph; the
    node bed is its own organ, apart from the blood-perfused lymph_nodes."""
    a = anatomy.builtin(name)
    out = {}
    for e in a.edges:
        out.setdefault(e.src, []).append((e.dst, e.fraction))
    for src, dst in zip(ROUTE, ROUTE[1:]):
        assert out[src] == [(dst, 1.0)], (src, out[src])
    assert not {e.dst for e in a.edges if e.src not in ROUTE} & set(ROUTE[:3])
    assert a.injection_sites["lymphatic"] == "afferent_lymph"
    beds = {c.name: c for c in a.compartments if c.kind == "bed"}
    assert a.organ_of(beds["regional_lymph_nodes"]) == "regional_lymph_nodes"
    assert "lymph_nodes" not in beds or a.organ_of(beds["lymph_nodes"]) == "lymph_nodes"
    assert anatomy.reachable(a, ["systemic_veins"]).isdisjoint(ROUTE[:3])


def test_the_lymph_weights_are_the_sourced_ones():
    """The primaries with a lymph share of vessel invasion (lymph_physiology.csv) enter the lymph
    with it; prostate and lung with the even odds marked [U]."""
    weights = {p: sc.builtin_primary(p).entry["afferent_lymph"] for p in LYMPH_PRIMARIES}
    assert weights == {"breast": 0.69, "melanoma": 0.87, "colon": 0.43, "rectum": 0.43,
                       "prostate": 0.5, "lung_nsclc": 0.5, "lung_sclc": 0.5}


@pytest.mark.parametrize("name", HUMANS)
@pytest.mark.parametrize("primary", LYMPH_PRIMARIES)
def test_every_lymph_primary_reaches_the_veins_through_its_node(primary, name):
    """Each primary's units that enter by lymph pass the node and the duct to the systemic veins,
    or arrest in the node; the route is taken in that order, by some units each way."""
    s = sc.from_dict({"name": primary, "anatomy": name, "primary": primary})
    model = compile_model(s)
    entry = dict(zip((model.compartment_names[i] for i in model.entry_compartment),
                     [model.entry_cum[0], *(model.entry_cum[1:] - model.entry_cum[:-1])]))
    assert math.isclose(entry["afferent_lymph"], s.resolved_primary().entry["afferent_lymph"])
    res = simulate(s, 300, seed=11, events=True)
    ev, fates = res.events.to_pandas(), res.fates.to_pandas()
    lymph = set(ev.unit_id[(ev.event == "enter") & (ev.compartment == "afferent_lymph")])
    moves = ev[ev.unit_id.isin(lymph) & ev.event.isin(["enter", "move"])]
    passed = 0
    for _, path in moves.groupby("unit_id").compartment:
        path = list(path)
        assert path[:len(ROUTE)] == ROUTE[:len(path)], path
        passed += len(path) >= len(ROUTE)
    arrested = int(((fates.organ == "regional_lymph_nodes") & fates.unit_id.isin(lymph)).sum())
    assert passed > 0 and arrested > 0
    assert not ((fates.organ == "regional_lymph_nodes") & ~fates.unit_id.isin(lymph)).any()


def test_node_retention_is_the_documented_half():
    """Adhesion during the 20 s sinus residence retains k T / (1 + k T) = 0.5 of an unshielded
    epithelial single cell per pass (lymph_physiology.csv), exactly, as the master equation says."""
    s = lymph_injection(t_max_s=math.inf, primary={
        "name": "single", "entry": {"afferent_lymph": 1.0}, "diameter_median_um": 10.0,
        "diameter_sigma_log": 0.0, "cluster_size_probs": [1.0], "phenotype_mix": [1.0, 0.0, 0.0]})
    b = s.biology
    s = dataclasses.replace(s, biology=dataclasses.replace(
        b, anoikis_on=False, k_on_per_s=0.0, k_shear_per_s=0.0, k_nk_per_s=0.0, trap_max=0.0))
    model = compile_model(s)
    p = dict(zip(exact.outcomes(model), exact.outcome_probabilities(model)))
    assert math.isclose(p[("arrested", "regional_lymph_nodes", "adhered")], 0.5, rel_tol=1e-9)


def test_simulation_entering_by_lymph_agrees_with_the_master_equation():
    """Outcome-by-organ counts of units injected into the afferent lymph against ctcsim.exact
    (Pearson chi-square, false-alarm rate ALPHA); constant hazards, so one linear solve."""
    s = lymph_injection(t_max_s=math.inf)
    s = dataclasses.replace(s, biology=dataclasses.replace(s.biology, anoikis_on=False))
    model = compile_model(s)
    keys, counts = verification.outcome_counts(simulate(s, N, seed=20261201).fates, exact.outcomes(model))
    assert keys == exact.outcomes(model)
    probs = exact.outcome_probabilities(model, **CHI2_TOL)
    assert probs[keys.index(("arrested", "regional_lymph_nodes", "adhered"))] > 0.4  # the route is used
    r = stats.pearson(counts, probs)
    assert r.pvalue > ALPHA, r


def test_a_blood_only_entry_still_validates_and_an_island_still_fails():
    """Compartments reached only from an injection site (the lymph) are not an error for a
    blood-only primary; a compartment reached from nowhere still is."""
    sc.validate(sc.from_dict({"name": "k", "anatomy": "human_female", "primary": "kidney"}))
    a = anatomy.builtin("human_female").to_dict()
    a["compartments"].append({"name": "island", "kind": "pool", "transit_s": 1.0})
    a["edges"].append({"from": "island", "to": "systemic_veins", "fraction": 1.0})
    with pytest.raises(ScenarioError, match="island"):
        sc.validate(sc.from_dict({"name": "k", "anatomy": a, "primary": "kidney"}))


def test_regional_lymph_node_sites_map_to_the_node_organ(tmp_path):
    """A series' "regional lymph nodes" is the lymph-reached node organ, its "distant lymph nodes"
    the blood-perfused one."""
    path = tmp_path / "sites.csv"
    path.write_text("primary,site,percent,denominator,source\n"
                    "breast,regional lymph nodes,60,patients,a study 2020\n"
                    "breast,distant lymph nodes (M1),10,same,same\n")
    assert {s.name: s.organ for s in read_sites(path, "breast").sites} == {
        "regional lymph nodes": "regional_lymph_nodes", "distant lymph nodes (M1)": "lymph_nodes"}
