"""Simulated post-arrest outcomes agree with the exact post-arrest chain (ctcsim.exact).

Each statistical test has a false-alarm rate of ALPHA = 1e-3 under a correct simulator and
a correct exact solution (Pearson chi-square by ctcsim.stats.pearson, binomial or KS p-value
> ALPHA); the seeds are fixed, so a given build passes or fails for ever.  The exact side is accurate to ~1e-10
(linear solves, matrix exponentials, quadrature at 1e-13 absolute), far below what 200 000
units resolve.  To isolate the post-arrest chain, most scenarios inject every unit into the
liver bed with sure trapping (trap_max 1, a step at a tiny diameter ratio): every unit
arrests at t = 0 with shield 0, so the post-arrest horizon is t_max_s itself.
"""
import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as sps

from conftest import FAST

from ctcsim import exact, hazards, seed_soil, stats
from ctcsim import scenario as sc
from ctcsim.compile import compile_model
from ctcsim.model import PHENOTYPES, POST_ARREST
from ctcsim.runner import simulate

ALPHA = 1e-3
N = 200_000
BED = "liver"
FINAL = hazards.FINAL


def arrest_at_once(rich, *, cluster=(1.0,), phenotype=(1.0, 0.0, 0.0), t_max=math.inf, **biology):
    """RICH with FAST post-arrest rates, every unit injected into BED and trapped there at t = 0."""
    d = rich.to_dict()
    d["t_max_s"] = t_max
    d["entry"] = {"mode": "injection", "site": BED}
    d["primary"].update(cluster_size_probs=list(cluster), phenotype_mix=list(phenotype))
    d["biology"].update(FAST, trap_max=1.0, trap_ratio50=1e-6, trap_width=1e-6)
    d["biology"].update(biology)
    return sc.from_dict(d)


def post_counts(fates):
    codes = fates.column("post_arrest").to_pylist()
    return np.array([codes.count(x) for x in POST_ARREST])


@pytest.mark.parametrize("case", ["single cell", "cluster of 3, hybrid", "cluster of 3 >= micro_cells"])
def test_outcome_probabilities_chi_square(rich, case):
    """Outcome of the whole chain (no censoring) for a single cell and a cluster; the cluster
    case has cluster and phenotype factors on cap death (F_nk), extravasation and proliferation;
    the last case starts at micro_cells, so the colony stage is skipped."""
    kw = {}
    if case != "single cell":
        kw = dict(cluster=(0.0, 0.0, 1.0), phenotype=(0.0, 1.0, 0.0),
                  cluster_exponent=dict(shear=0.0, nk=-1.0, anoikis=-1.0, adhesion=0.5, extravasation=0.5, proliferation=-0.3))
    if case == "cluster of 3 >= micro_cells":
        kw["micro_cells"] = 3
    s = arrest_at_once(rich, **kw)
    k, p = (1, 0) if case == "single cell" else (3, 1)
    probs = exact.post_arrest_probabilities(compile_model(s), BED, 0, k, p)
    fates = simulate(s, N, seed=101).fates
    assert set(fates.column("cluster_size").to_pylist()) == {k}
    pv = stats.pearson(post_counts(fates), probs).pvalue
    assert pv > ALPHA, f"{case}: chi-square p = {pv:.2e}"


@pytest.mark.parametrize("horizon", [math.inf, 120.0], ids=["to the end", "censored at 120 s"])
def test_a_cluster_is_its_founders_under_soil_factors(rich, horizon):
    """Clusters of 8 cells arrest in a bed with every soil factor set: each cell draws its own
    dormancy (p_dormant 0.4), and the colony starts from the j ~ Binomial(8, 0.6) that proliferate
    (j >= micro_cells = 5 is a micrometastasis at once; j = 0 a dormant unit).  Chi-square against
    the exact mixture over j, at the end and censored mid-way; and nothing dies at the instant of
    arrest (no compatibility draw: every capillary death comes after a hazard's time)."""
    s = dataclasses.replace(arrest_at_once(rich, cluster=(0.0,) * 7 + (1.0,), t_max=horizon),
                            soil={BED: {"niche": 0.7, "inflammation": 2.0, "macrophage": 1.5, "growth": 1.3}})
    probs = exact.post_arrest_probabilities(compile_model(s), BED, 0, 8, 0, horizon_s=horizon)
    single = exact.post_arrest_probabilities(compile_model(s), BED, 0, 1, 0, horizon_s=horizon)
    assert abs(probs - single).max() > 0.1  # founders matter, so the test tells sizes apart
    f = simulate(s, N // 4, seed=102).fates
    pv = stats.pearson(post_counts(f), probs).pvalue
    assert pv > ALPHA, f"chi-square p = {pv:.2e}"
    f = f.to_pandas()
    assert not ((f.post_arrest == "died_in_capillary") & (f.post_arrest_time_s == f.fate_time_s)).any()


@pytest.mark.parametrize("shield", [0, 1], ids=["unshielded", "shielded"])
def test_shielded_and_unshielded_arrival(rich, shield):
    """Units that circulate (RICH, t_max inf) and arrive in the lung shielded or not: the shield
    cuts capillary death by p_nk = 0.8, and each group follows its own exact chain."""
    s = dataclasses.replace(rich, t_max_s=math.inf, biology=dataclasses.replace(rich.biology, **FAST))
    m = compile_model(s)
    f = simulate(s, N, seed=202).fates.to_pandas()
    pick = f[(f.organ == "lung") & (f.shielded_at_fate == bool(shield)) & (f.cluster_size == 1)
             & (f.phenotype == "epithelial")]
    probs = exact.post_arrest_probabilities(m, "lung", shield, 1, 0)
    other = exact.post_arrest_probabilities(m, "lung", 1 - shield, 1, 0)
    assert abs(probs - other).max() > 0.1  # the shield matters, so the test tells them apart
    counts = pick.post_arrest.astype(str).value_counts().reindex(POST_ARREST, fill_value=0).to_numpy()
    pv = stats.pearson(counts, probs).pvalue
    assert pv > ALPHA, f"shield {shield}: {len(pick)} units, chi-square p = {pv:.2e}"


def test_every_organ_shield_cluster_and_phenotype(rich):
    """All arrested units of RICH (3 organs x shield x 3 cluster sizes x 3 phenotypes = 54
    groups), each group against its own exact outcome probabilities: one chi-square over the
    groups, the group sizes taken as given."""
    b = dataclasses.replace(rich.biology, **FAST, cluster_exponent=dict(shear=0.0, nk=-1.0, anoikis=-1.0, adhesion=0.5, extravasation=0.5, proliferation=-0.3))
    s = dataclasses.replace(rich, t_max_s=math.inf, biology=b,
                            soil={"liver": {"niche": 1.5, "macrophage": 2.0}, "marrow": {"inflammation": 3.0}})
    m = compile_model(s)
    f = simulate(s, N, seed=303).fates.to_pandas()
    f = f[f.fate == "arrested"]
    counts, probs = [], []
    for (organ, shield, k, p), g in f.groupby(["organ", "shielded_at_fate", "cluster_size", "phenotype"],
                                              observed=True):
        counts.append(g.post_arrest.astype(str).value_counts().reindex(POST_ARREST, fill_value=0).to_numpy())
        probs.append(exact.post_arrest_probabilities(m, str(organ), int(shield), int(k), PHENOTYPES.index(p)))
    assert len(counts) == 54
    pv = stats.pearson(np.array(counts), np.array(probs)).pvalue
    assert pv > ALPHA, f"chi-square over 54 groups: p = {pv:.2e}"


def test_finite_horizon_with_censored_states(rich):
    """t_max = 60 s after arrest: the censored states (in_capillary, dormant, proliferating,
    micrometastasis) hold mass, and macrometastases and regressions reached by then come from
    the micrometastasis-stage quadrature."""
    s = arrest_at_once(rich, t_max=60.0)
    probs = exact.post_arrest_probabilities(compile_model(s), BED, 0, 1, 0, horizon_s=60.0)
    for state in ("in_capillary", "dormant", "proliferating", "micrometastasis", "regressed", "macrometastasis"):
        assert probs[POST_ARREST.index(state)] > 0.005, state  # each cell of the test is well filled
    pv = stats.pearson(post_counts(simulate(s, N, seed=404).fates), probs).pvalue
    assert pv > ALPHA, f"chi-square p = {pv:.2e}"


def test_clusters_of_50_cells(rich):
    """Aceto 2014 saw clusters of up to ~50 cells: cluster_size_probs of length 50 compile, run
    and agree with the exact chain (50 founders; with p_dormant 0.1 nearly every colony starts
    above micro_cells, and a low growth makes regression compete with growth)."""
    s = dataclasses.replace(arrest_at_once(rich, cluster=(0.0,) * 49 + (1.0,), p_dormant=0.1),
                            soil={BED: {"growth": 0.7}})
    probs = exact.post_arrest_probabilities(compile_model(s), BED, 0, 50, 0)
    f = simulate(s, N // 20, seed=105).fates
    assert set(f.column("cluster_size").to_pylist()) == {50}
    pv = stats.pearson(post_counts(f), probs).pvalue
    assert pv > ALPHA, f"chi-square p = {pv:.2e}"


def test_predicted_site_frequencies_are_where_simulated_macrometastases_form(rich):
    """seed_soil.predicted_site_frequencies (arrests by unit kind x P(macrometastasis | arrest)
    under each organ's soil), against where the simulated units' macrometastases form: RICH with
    no platelets (the prediction assumes unshielded arrivals), anoikis off and no censoring, as
    the prediction's model; soil and growth differ by organ.  Chi-square of the organs of the
    macrometastases against the predicted shares (ALPHA)."""
    b = dataclasses.replace(rich.biology, **FAST, k_on_per_s=0.0, anoikis_on=False)
    s = dataclasses.replace(rich, t_max_s=math.inf, biology=b,
                            soil={"liver": {"growth": 1.3, "niche": 0.6}, "marrow": {"growth": 1.5, "macrophage": 1.2}})
    predicted = seed_soil.predicted_site_frequencies(s)
    f = simulate(s, N // 4, seed=106).fates.to_pandas()
    macro = f[f.post_arrest == "macrometastasis"].organ.astype(str).value_counts()
    organs = list(predicted)
    counts = np.array([macro.get(o, 0) for o in organs])
    assert counts.min() > 200  # every organ well filled
    pv = stats.pearson(counts, np.array([predicted[o] for o in organs])).pvalue
    assert pv > ALPHA, f"chi-square p = {pv:.2e}"


def test_outcome_times_chi_square(rich):
    """Joint distribution of the final outcome and its time (6 time bins): the exact
    P(outcome by h) at the bin edges h, differenced."""
    s = arrest_at_once(rich)
    edges = np.array([0.0, 10.0, 25.0, 50.0, 100.0, 200.0, math.inf])
    by = exact.post_arrest_probabilities(compile_model(s), BED, 0, 1, 0, horizon_s=edges)  # [7, 10]
    cols = [POST_ARREST.index(o) for o in FINAL]
    probs = np.diff(by[:, cols], axis=0).T.ravel()  # outcome-major, then time bin
    assert by[-1, cols].sum() == pytest.approx(1.0, abs=1e-12)
    f = simulate(s, N, seed=505).fates.to_pandas()
    outcome = np.array([FINAL.index(x) for x in f.post_arrest.astype(str)])
    time_bin = np.searchsorted(edges, f.post_arrest_time_s.to_numpy(), side="right") - 1  # by h: time < h
    counts = np.bincount(outcome * (len(edges) - 1) + time_bin, minlength=len(probs))
    pv = stats.pearson(counts, probs).pvalue
    assert pv > ALPHA, f"chi-square p = {pv:.2e}"


def colony_scenario(rich):
    """Every unit extravasates or dies in the capillary; no dormancy, so the colony starts at
    the extravasation time with k = 2 cells; micro_cells 8."""
    return arrest_at_once(rich, cluster=(0.0, 1.0), p_dormant=0.0, micro_cells=8,
                          cluster_exponent=dict(shear=0.0, nk=-1.0, anoikis=-1.0, adhesion=0.5, extravasation=0.0, proliferation=0.3))


def colony_rates(m, c, k=2, p=0):
    """(birth, death) per cell of a colony of cluster size k, phenotype p in compartment c (shield 0)."""
    f = m.unit_factors(k, p)
    return tuple(m.rates[h][c, 0] * f[hazards.index(h)] for h in ("division", "cell_death"))


def test_colony_extinction_probability_binomial(rich):
    s = colony_scenario(rich)
    m = compile_model(s)
    c = m.compartment_names.index(BED)
    birth, death = colony_rates(m, c)
    q = exact.colony_extinction_probability(birth, death, 2, 8)
    f = simulate(s, N, seed=606).fates.to_pandas()
    grew = f[f.extravasation_time_s.notna()]
    extinct = int((grew.post_arrest == "colony_extinct").sum())
    assert extinct + int(grew.micrometastasis_time_s.notna().sum()) == len(grew)
    pv = sps.binomtest(extinct, len(grew), q).pvalue
    assert pv > ALPHA, f"{extinct}/{len(grew)} extinct vs {q:.5f}: p = {pv:.2e}"


def test_time_to_micrometastasis_ks(rich):
    s = colony_scenario(rich)
    m = compile_model(s)
    c = m.compartment_names.index(BED)
    birth, death = colony_rates(m, c)
    f = simulate(s, 50_000, seed=707).fates.to_pandas()
    dt = (f.micrometastasis_time_s - f.extravasation_time_s).dropna().to_numpy()
    grid = np.linspace(0.0, dt.max() * 1.0001, 2001)
    cdf = exact.time_to_micrometastasis_cdf(birth, death, 2, 8, grid)
    pv = sps.kstest(dt, lambda t: np.interp(t, grid, cdf)).pvalue
    assert pv > ALPHA, f"{len(dt)} colonies: KS p = {pv:.2e}"


# -- the exact side against itself and closed forms (deterministic) ----------------------------


def test_extinction_closed_form_equals_chain():
    """Gambler's ruin against the chain's linear solve (post_arrest_probabilities with the
    colony alone: extravasation at once to proliferation), on both sides of birth = death."""
    for birth, death, n0, micro in ((0.2, 0.12, 1, 5), (0.12, 0.2, 3, 9), (1.0, 1.0, 2, 7), (1.0, 0.0, 1, 4),
                                    (0.0, 1.0, 2, 4), (3.0, 0.5, 4, 4), (1.0, 3.0, 5, 400)):
        q = exact.colony_extinction_probability(birth, death, n0, micro)
        Qm = np.zeros((micro + 1, micro + 1))
        for n in range(1, micro):
            Qm[n, n + 1], Qm[n, n - 1] = birth * n, death * n
        A = Qm - np.diag(Qm.sum(axis=1))
        if n0 < micro:
            live = np.arange(1, micro)
            x = np.linalg.solve(-A[np.ix_(live, live)], A[np.ix_(live, [0])])[n0 - 1, 0]
        else:
            x = 0.0
        assert q == pytest.approx(x, abs=1e-12), (birth, death, n0, micro)
    assert exact.colony_extinction_probability(1.0, 1.0, 2, 7) == pytest.approx(5 / 7, abs=1e-15)
    assert exact.colony_extinction_probability(1e3, 1.0, 1, 10**6) == pytest.approx(1e-3, rel=1e-12)


def test_time_to_micrometastasis_cdf_limits():
    t = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    cdf = exact.time_to_micrometastasis_cdf(0.2, 0.12, 1, 5, t)
    assert cdf[0] == 0.0 and np.all(np.diff(cdf) >= 0) and cdf[-1] == pytest.approx(1.0, abs=1e-9)
    # Pure birth from 1 to 2 cells: an exponential of rate birth.
    # (The forward equation's tolerances are rtol 1e-10, atol 1e-13: checked to 1e-9, as in test_exact.py.)
    assert exact.time_to_micrometastasis_cdf(0.5, 0.0, 1, 2, t) == pytest.approx(1 - np.exp(-0.5 * t), abs=1e-9)
    assert (exact.time_to_micrometastasis_cdf(0.5, 0.1, 3, 3, t) == 1.0).all()


def test_post_arrest_horizon_limits(rich):
    m = compile_model(arrest_at_once(rich))
    inf = exact.post_arrest_probabilities(m, BED, 0, 1, 0)
    assert inf.sum() == pytest.approx(1.0, abs=1e-12)
    assert exact.post_arrest_probabilities(m, BED, 0, 1, 0, horizon_s=1e6) == pytest.approx(inf, abs=1e-10)
    zero = exact.post_arrest_probabilities(m, BED, 0, 1, 0, horizon_s=0.0)
    assert zero[POST_ARREST.index("in_capillary")] == 1.0 and zero.sum() == 1.0
    by = exact.post_arrest_probabilities(m, BED, 0, 1, 0, horizon_s=[5.0, 50.0, 500.0])
    assert by.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-10)
    final = [POST_ARREST.index(o) for o in FINAL]
    assert np.all(np.diff(by[:, final], axis=0) >= -1e-12)  # final outcomes only accumulate
    # No regression: a micrometastasis whose 5 founders' lineages all die out in the
    # approximation (W = 0, probability (death/birth)^5) stays one for ever; the rest grow.
    stuck = m.with_rates(regression=np.zeros((m.n_compartments, 2)))
    p = exact.post_arrest_probabilities(stuck, BED, 0, 1, 0)
    reached = inf[POST_ARREST.index("micrometastasis"):].sum()
    assert p[POST_ARREST.index("regressed")] == 0.0 and p.sum() == pytest.approx(1.0, abs=1e-12)
    assert p[POST_ARREST.index("micrometastasis")] == pytest.approx(reached * 0.6 ** 5, abs=1e-12)


def test_stage_integral_equals_quadrature(rich):
    """The finite-horizon micrometastasis stage, integrated inside the forward equation,
    against an independent computation: adaptive quadrature over the stage's start time tau,
    f(tau) from the matrix exponential, times the closed forms at horizon - tau (agreement
    to 1e-9; observed ~1e-11)."""
    from scipy.integrate import quad
    from scipy.linalg import expm

    from ctcsim.exact.chain import Chain

    m = compile_model(arrest_at_once(rich, cluster=(0.0, 1.0), micro_cells=6))
    chain = Chain(m, m.compartment_names.index(BED), 0, 2, 0)
    Q, start, micro, growth = chain.Q, chain.start, chain.micro[0], chain.growth[0][0]  # shield 0 throughout
    for horizon in (15.0, 300.0):
        def f(tau): return expm(Q * tau)[start] @ Q[:, micro] if tau > 0 else 0.0
        points = horizon * np.concatenate([4.0 ** -np.arange(1, 8), 1 - 4.0 ** -np.arange(1, 8)])
        macro, regressed = (quad(lambda tau: f(tau) * g(horizon - tau), 0.0, horizon, points=points, limit=2000,
                                 epsabs=1e-13, epsrel=1e-11)[0] for g in (growth.macro_by, growth.regressed_by))
        p = exact.post_arrest_probabilities(m, BED, 0, 2, 0, horizon_s=horizon)
        assert p[POST_ARREST.index("macrometastasis")] == pytest.approx(macro, abs=1e-9)
        assert p[POST_ARREST.index("regressed")] == pytest.approx(regressed, abs=1e-9)


def test_edge_cases_and_errors(rich):
    m = compile_model(dataclasses.replace(rich, t_max_s=math.inf))
    idle = m.with_rates(capillary_death=np.zeros((m.n_compartments, 2)),
                        extravasation=np.zeros((m.n_compartments, 2)))
    for h in (math.inf, 100.0):  # nothing leaves the capillary: the unit stays there
        p = exact.post_arrest_probabilities(idle, "lung", 1, 2, 2, horizon_s=h)
        assert p[POST_ARREST.index("in_capillary")] == 1.0 and p.sum() == 1.0
    with pytest.raises(ValueError, match="bed"):
        exact.post_arrest_probabilities(m, "veins")
    with pytest.raises(ValueError, match="cluster_size"):
        exact.post_arrest_probabilities(m, "lung", 0, 4)
    with pytest.raises(ValueError, match="horizon"):
        exact.post_arrest_probabilities(m, "lung", horizon_s=-1.0)
    with pytest.raises(ValueError, match="never reaches"):
        exact.time_to_micrometastasis_cdf(0.0, 1.0, 1, 5, [1.0])


# -- delayed arms after arrest (ctcsim.exact.arms) ---------------------------------------------


def test_delayed_arm_after_arrest_closed_form(rich):
    """In the capillary, death c and extravasation e (then dormant for ever) switch from
    (c1, e1) to (c2, e2) at 30 s after an arrest at t = 10 s (switch_s 40): with L = c + e,
    P(died by h) = c1/L1 (1 - exp(-L1 30)) + exp(-L1 30) c2/L2 (1 - exp(-L2 (h - 30)))."""
    m = compile_model(arrest_at_once(rich, p_dormant=1.0, k_wake_per_s=0.0, k_dormant_death_per_s=0.0))
    c = m.compartment_names.index(BED)
    def scaled(cap, ext):
        return m.with_rates(capillary_death=m.rates["capillary_death"] * cap, extravasation=m.rates["extravasation"] * ext)
    before, after = scaled(1.0, 1.0), scaled(4.0, 0.5)
    (c1, e1), (c2, e2) = ((x.rates["capillary_death"][c, 0], x.rates["extravasation"][c, 0]) for x in (before, after))
    L1, L2 = c1 + e1, c2 + e2
    for h in (20.0, 30.0, 100.0, math.inf):
        u = max(h - 30.0, 0.0)
        died = c1 / L1 * (1 - math.exp(-L1 * min(h, 30.0))) + (
            math.exp(-L1 * 30) * c2 / L2 * (1 - math.exp(-L2 * u)) if h > 30 else 0.0)
        stay = math.exp(-L1 * min(h, 30.0) - L2 * u)
        p = exact.post_arrest_probabilities(before, BED, horizon_s=h, after=after, switch_s=40.0, arrest_time_s=10.0)
        assert p[POST_ARREST.index("died_in_capillary")] == pytest.approx(died, abs=1e-9), h
        assert p[POST_ARREST.index("in_capillary")] == pytest.approx(stay, abs=1e-9), h
        assert p[POST_ARREST.index("dormant")] == pytest.approx(1 - died - stay, abs=1e-9), h
    # A switch at or before the arrest: the arm's chain throughout.
    np.testing.assert_allclose(exact.post_arrest_probabilities(before, BED, after=after, switch_s=10.0, arrest_time_s=10.0),
                               exact.post_arrest_probabilities(after, BED), rtol=0, atol=1e-12)


def test_delayed_arm_after_arrest_chi_square(rich):
    """Every unit arrests at t = 0; an arm from t = 20 s changes capillary death, extravasation,
    growth, regression and the macrometastasis size: simulated outcomes against the chain
    solved in two pieces, each micrometastasis growing as the model it started under."""
    from ctcsim.compile import compile_arm

    s = arrest_at_once(rich)
    s = sc.from_dict({**s.to_dict(), "arms": [{"name": "control"}, {"name": "late", "start_s": 20.0, "multipliers": {
        "k_cap_nk_per_s": 0.3, "k_extravasation_per_s": 3.0, "birth_per_s": 1.5, "k_regression_per_s": 2.0,
        "macro_cells": 2.0}}]})
    before, after, switch_s = compile_arm(s, "late")
    probs = exact.post_arrest_probabilities(before, BED, after=after, switch_s=switch_s)
    for other in (before, after):  # the switch matters beyond what N resolves
        assert np.abs(probs - exact.post_arrest_probabilities(other, BED)).max() > 0.01
    pv = stats.pearson(post_counts(simulate(s, N, seed=808, arms=["late"]).fates), probs).pvalue
    assert pv > ALPHA, f"chi-square p = {pv:.2e}"


def test_platelets_bind_in_the_capillary(rich):
    """Platelets bind an arrested unit at k_on_capillary (the shield then cuts capillary death by
    p_nk and is not lost there).  With extravasation e, death d0 unshielded and d1 = d0 (1 - p_nk)
    shielded: P(died in capillary) = (d0 + k d1 / (d1 + e)) / (d0 + k + e).  The exact solver
    (built from the hazard table) must give that, and 20,000 simulated units must agree with it
    within 3.29 standard errors (two-sided false-alarm rate 1e-3)."""
    k_on = 0.02
    s = arrest_at_once(rich, k_on_capillary_per_s=k_on)
    m = compile_model(s)
    bed = m.compartment_names.index(BED)
    plt = s.resolved_anatomy().compartments[bed].platelet_rel
    d0 = FAST["k_cap_nk_per_s"] * s.resolved_anatomy().compartments[bed].nk_rel
    d1, e, k = d0 * (1 - s.biology.p_nk), FAST["k_extravasation_per_s"], k_on * plt
    assert k > 0
    closed = (d0 + k * d1 / (d1 + e)) / (d0 + k + e)
    probs = exact.post_arrest_probabilities(m, BED, 0, 1, 0)
    assert probs[POST_ARREST.index("died_in_capillary")] == pytest.approx(closed, rel=1e-9)
    n = 20_000
    f = simulate(s, n, seed=5).fates.to_pandas()
    got = (f.post_arrest == "died_in_capillary").mean()
    assert abs(got - closed) < 3.29 * math.sqrt(closed * (1 - closed) / n), (got, closed)
    without = exact.post_arrest_probabilities(compile_model(arrest_at_once(rich)), BED, 0, 1, 0)
    assert without[POST_ARREST.index("died_in_capillary")] == pytest.approx(d0 / (d0 + e), rel=1e-9)
