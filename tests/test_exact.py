"""ctcsim.exact against closed forms.

Tolerances: linear solves are exact to rounding (~1e-15 relative on these tiny
systems), so they are checked to 1e-12.  The forward equation is integrated with
rtol 1e-10 / atol 1e-12; its observed errors against these closed forms are
below 1e-11, and it is checked to 1e-9 (the local tolerance compounds over a
few hundred steps).  The reference workload's published figures are checked to
their printed digits.
"""
import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit

from ctcsim import exact
from ctcsim import stats as ctcsim_stats
from ctcsim import hazards
from ctcsim.model import CompiledModel

LINEAR, ODE = 1e-12, 1e-9


def make_model(edges, *, transit=math.inf, stages=1, beds=(), cap=8.0, shear=0.0, nk=0.0, adhesion=0.0,
               toggle=0.0, anoikis=(0.0, 0.0), eta=1.0, beta=1.0, trap=(0.0, 1.0, 0.1), entry=((0, 1.0),),
               cluster=(1.0,), phenotype=(1.0, 0.0, 0.0), diameter=(10.0, 0.0), entry_time=0.0,
               cluster_factor=None, phenotype_factor=None, trap_scale=None, t_max=math.inf):
    """A CompiledModel over compartments 0..C-1; ``edges[c]`` lists (target, fraction);
    per-compartment values broadcast to [C] or [C, 2] (by shield state); each bed is its own organ."""
    C = len(edges)
    def per_c(x): return np.broadcast_to(np.asarray(x, dtype=float), (C,)).copy()
    def per_cs(x): return np.broadcast_to(np.asarray(x, dtype=float), (C, 2)).copy()
    is_bed = np.isin(np.arange(C), beds).astype(np.int8)
    organ = np.full(C, -1, dtype=np.int32)
    organ[list(beds)] = np.arange(len(beds))
    n_stages = np.broadcast_to(np.asarray(stages, dtype=np.int32), (C,)).copy()
    K = len(cluster)
    return CompiledModel(
        compartment_names=tuple(f"c{c}" for c in range(C)), organ_names=tuple(f"organ{b}" for b in beds),
        is_bed=is_bed, organ=organ, n_stages=n_stages,
        rates={"stage": per_cs((n_stages / per_c(transit))[:, None]), "shear": per_cs(shear), "nk": per_cs(nk),
               "adhesion": per_cs(adhesion), "platelets": per_cs(toggle),
               "anoikis": per_cs(np.asarray(anoikis, dtype=float)[None, :])},
        capillary_diameter_um=np.where(is_bed == 1, per_c(cap), np.nan),
        edge_ptr=np.concatenate([[0], np.cumsum([len(e) for e in edges])]).astype(np.int64),
        edge_to=np.array([t for e in edges for t, _ in e], dtype=np.int32),
        edge_cum=np.array([x for e in edges for x in np.cumsum([f for _, f in e])]),
        anoikis_eta_s=eta, anoikis_beta=beta,
        trap_max=trap[0], trap_ratio50=trap[1], trap_width=trap[2],
        entry_compartment=np.array([c for c, _ in entry], dtype=np.int32),
        entry_cum=np.cumsum([w for _, w in entry]), cluster_cum=np.cumsum(cluster),
        phenotype_cum=np.cumsum(phenotype), diameter_median_um=diameter[0], diameter_sigma_log=diameter[1],
        entry_time_grid_s=np.atleast_1d(np.asarray(entry_time, dtype=float)),
        cluster_factor=hazard_rows(cluster_factor, K), phenotype_factor=hazard_rows(phenotype_factor, 3),
        trap_diameter_scale=np.ones(K) if trap_scale is None else np.asarray(trap_scale, dtype=float),
        t_max_s=t_max)


def hazard_rows(rows, width):
    """A factor table with one row per factor group of hazards.FACTORS: the rows given (those of the
    circulating phase) and ones for the rest."""
    given = np.ones((0, width)) if rows is None else np.asarray(rows, dtype=float)
    return np.vstack([given, np.ones((len(hazards.FACTORS) - len(given), width))])


def index(model, fate, organ=None, mode="none"):
    return exact.outcomes(model).index((fate, organ, mode))


def test_outcome_order():
    m = make_model([[]] * 3, beds=(1, 2))
    assert exact.outcomes(m) == [
        ("died_shear", None, "none"), ("died_nk", None, "none"), ("died_anoikis", None, "none"),
        ("arrested", "organ1", "trapped"), ("arrested", "organ1", "adhered"),
        ("arrested", "organ2", "trapped"), ("arrested", "organ2", "adhered"), ("censored", None, "none")]


def test_competing_constant_hazards_are_ratios():
    """One bed, never left: each outcome's probability is its share of the total
    hazard, mixed over cluster size and phenotype with their factors; anoikis at
    beta = 1 is the constant hazard scale * F / eta."""
    cluster_factor = [[1.0, 2.0], [1.0, 0.5], [1.0, 3.0], [1.0, 3.0]]  # rows: shear, nk, anoikis, adhesion
    phenotype_factor = [[1.0, 1.5, 1.0], [1.0, 1.0, 1.0], [1.0, 0.5, 1.0], [1.0, 1.0, 1.0]]
    m = make_model([[]], beds=(0,), shear=0.3, nk=0.2, adhesion=0.5, anoikis=(0.4, 0.4), eta=2.0,
                   cluster=(0.7, 0.3), phenotype=(0.5, 0.5, 0.0),
                   cluster_factor=cluster_factor, phenotype_factor=phenotype_factor)
    expected, mean_time = np.zeros(len(exact.outcomes(m))), 0.0
    for k, wk in enumerate((0.7, 0.3)):
        for p, wp in enumerate((0.5, 0.5)):
            F = np.array(cluster_factor)[:, k] * np.array(phenotype_factor)[:, p]
            rates = {index(m, "died_shear"): 0.3 * F[0], index(m, "died_nk"): 0.2 * F[1],
                     index(m, "died_anoikis"): 0.4 / 2.0 * F[2], index(m, "arrested", "organ0", "adhered"): 0.5 * F[3]}
            total = sum(rates.values())
            for o, r in rates.items():
                expected[o] += wk * wp * r / total
            mean_time += wk * wp / total
    np.testing.assert_allclose(exact.outcome_probabilities(m), expected, rtol=0, atol=LINEAR)
    assert exact.mean_absorption_time_s(m) == pytest.approx(mean_time, rel=LINEAR)
    assert exact.mean_steps(m) == pytest.approx(1.0, rel=LINEAR)


def test_reference_workload():
    """Cycle A->B->C->D->A, transit 1 s, shear 0.05/s, arrest 0.2/s in C.  From A,
    with survival 1/1.05 per pool and a return to C with probability
    rho = 0.8/1.05**3, each figure is (first pass) / (1 - rho)."""
    m = make_model([[(1, 1.0)], [(2, 1.0)], [(3, 1.0)], [(0, 1.0)]], transit=1.0, beds=(2,), shear=0.05,
                   adhesion=[[0, 0], [0, 0], [0.2, 0.2], [0, 0]])
    rho = 0.8 / 1.05**3
    p_arrest = 0.16 / 1.05**2 / (1 - rho)
    mean_time = (1 / 1.05 + 1 / 1.05**2 + 0.8 / 1.05**2 + 0.8 / 1.05**3) / (1 - rho)
    steps = (1 + 1 / 1.05 + 1 / 1.05**2 + 0.8 / 1.05**2) / (1 - rho)
    probs = exact.outcome_probabilities(m)
    arrest = index(m, "arrested", "organ2", "adhered")
    assert round(probs[arrest], 5) == 0.46977 and probs[arrest] == pytest.approx(p_arrest, rel=LINEAR)
    assert probs[index(m, "died_shear")] == pytest.approx(1 - p_arrest, rel=LINEAR)
    assert round(exact.mean_absorption_time_s(m), 2) == 10.60
    assert exact.mean_absorption_time_s(m) == pytest.approx(mean_time, rel=LINEAR)
    assert round(exact.mean_steps(m), 4) == 11.6047
    assert exact.mean_steps(m) == pytest.approx(steps, rel=LINEAR)
    # The forward equation agrees with the linear solve once everything is absorbed
    # (after 1500 s at least 0.05/s has acted: mass left < exp(-75)).
    np.testing.assert_allclose(exact.absorption_cdf(m, [1500.0])[0], probs, rtol=0, atol=ODE)


@pytest.mark.parametrize("beta", [0.7, 2.0])
def test_weibull_anoikis(beta):
    """Anoikis alone, factor 1.5: CDF = 1 - exp(-1.5 (a/eta)**beta); beta = 0.7
    has an infinite hazard at a = 0.  Without t_max everything dies (to MASS_LEFT)."""
    eta, ages = 50.0, np.array([0.0, 1e-3, 1.0, 10.0, 50.0, 200.0])
    m = make_model([[]], anoikis=(1.0, 1.0), eta=eta, beta=beta, cluster_factor=[[1], [1], [1.5], [1]])
    cdf = exact.absorption_cdf(m, ages)
    np.testing.assert_allclose(cdf[:, index(m, "died_anoikis")], 1 - np.exp(-1.5 * (ages / eta) ** beta),
                               rtol=0, atol=ODE)
    assert np.abs(np.delete(cdf, index(m, "died_anoikis"), axis=1)).max() < ODE
    probs = exact.outcome_probabilities(m)
    assert probs[index(m, "died_anoikis")] == pytest.approx(1.0, abs=ODE)
    assert 0 <= probs[index(m, "censored")] < 2 * exact.MASS_LEFT  # the stop is root-found at MASS_LEFT
    censored = make_model([[]], anoikis=(1.0, 1.0), eta=eta, beta=beta, cluster_factor=[[1], [1], [1.5], [1]],
                          t_max=100.0, entry_time=20.0)
    assert exact.outcome_probabilities(censored)[index(m, "censored")] == pytest.approx(
        math.exp(-1.5 * (80.0 / eta) ** beta), abs=ODE)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_erlang_stages(k):
    """A pool of k stages (mean transit 2 s, so rate k/2 per stage) then death at
    rate h in the next compartment: the time to leave is Gamma(k, k/2) and the
    time to death its convolution with Exp(h), whose CDF is
    G_lam(t) - exp(-h t) (lam/(lam-h))**k G_{lam-h}(t)."""
    lam, h, ages = k / 2.0, 0.4, np.array([0.0, 0.5, 1.0, 2.0, 4.0, 10.0, 30.0])
    m = make_model([[(1, 1.0)], []], transit=[2.0, math.inf], stages=[k, 1], shear=[[0, 0], [h, h]])
    gamma = stats.gamma(k, scale=1 / lam).cdf
    expected = gamma(ages) - np.exp(-h * ages) * (lam / (lam - h)) ** k * stats.gamma(k, scale=1 / (lam - h)).cdf(ages)
    np.testing.assert_allclose(exact.absorption_cdf(m, ages)[:, index(m, "died_shear")], expected, rtol=0, atol=ODE)
    assert exact.mean_absorption_time_s(m) == pytest.approx(2.0 + 1 / h, rel=LINEAR)
    assert exact.mean_steps(m) == pytest.approx(k + 1, rel=LINEAR)  # k-1 stages, 1 move, 1 death
    # Trapped for sure on entering a bed (r = 10/8 is 750 widths above r50: expit = 1.0):
    # the trapping time is the leaving time itself, and costs no step of its own.  (The
    # bed's shear is never used; without it the bed's state would be a dead end.)
    m = make_model([[(1, 1.0)], []], transit=[2.0, math.inf], stages=[k, 1], beds=(1,), trap=(1.0, 0.5, 1e-3),
                   shear=[[0, 0], [1, 1]])
    trapped = exact.absorption_cdf(m, ages)[:, index(m, "arrested", "organ1", "trapped")]
    np.testing.assert_allclose(trapped, gamma(ages), rtol=0, atol=ODE)
    assert exact.mean_steps(m) == pytest.approx(k, rel=LINEAR)


def test_shielding_two_state_chain():
    """One compartment; platelets bind at kon and leave at koff; NK (and anoikis,
    beta = 1) are lower when shielded.  First-step analysis from s = 0 gives a
    2x2 system with determinant D = L0 L1 - kon koff (L_s: total rate out of s):
    P(o) = (r_o(0) L1 + kon r_o(1)) / D, mean time (L1 + kon) / D,
    mean steps (L0 L1 + kon L1) / D."""
    kon, koff, shear, nk, anoikis = 0.3, 0.2, 0.1, (0.5, 0.05), (0.1, 0.04)
    m = make_model([[]], shear=shear, nk=[nk], toggle=[[kon, koff]], anoikis=(1.0, 0.4), eta=10.0)
    rates = {index(m, "died_shear"): (shear, shear), index(m, "died_nk"): nk, index(m, "died_anoikis"): anoikis}
    L0 = shear + nk[0] + anoikis[0] + kon
    L1 = shear + nk[1] + anoikis[1] + koff
    D = L0 * L1 - kon * koff
    expected = np.zeros(len(exact.outcomes(m)))
    for o, (r0, r1) in rates.items():
        expected[o] = (r0 * L1 + kon * r1) / D
    probs = exact.outcome_probabilities(m)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=LINEAR)
    assert exact.mean_absorption_time_s(m) == pytest.approx((L1 + kon) / D, rel=LINEAR)
    assert exact.mean_steps(m) == pytest.approx((L0 * L1 + kon * L1) / D, rel=LINEAR)
    # The forward equation, by age 400 s (mass left < exp(-0.19 * 400)), agrees.
    np.testing.assert_allclose(exact.absorption_cdf(m, [400.0])[0], expected, rtol=0, atol=ODE)


@pytest.mark.parametrize("entry", [((0, 1.0),), ((1, 1.0),), ((0, 0.4), (1, 0.6))],
                         ids=["entering the pool", "entering the bed", "entering either"])
def test_trapping_lognormal_mixture(entry):
    """Trapping in bed 1, entered at entry or by a move from pool 0 (or either, by
    the entry distribution); clusters of 2
    trap as if 1.6 times larger.  P(trapped) = E[q(d)] over the lognormal diameter,
    computed here by adaptive quadrature (to 1e-14) instead of Gauss-Hermite;
    ctcsim.exact.entry's node count targets 1e-10."""
    median, sigma, (q_max, r50, width), cap = 9.0, 0.25, (0.9, 1.1, 0.1), 8.0
    m = make_model([[(1, 1.0)], []], transit=[1.0, math.inf], beds=(1,), cap=cap, shear=[[0, 0], [0.1, 0.1]],
                   trap=(q_max, r50, width), entry=entry, cluster=(0.8, 0.2), trap_scale=(1.0, 1.6), diameter=(median, sigma))
    expected = 0.0
    for w, scale in ((0.8, 1.0), (0.2, 1.6)):
        def q(z): return stats.norm.pdf(z) * q_max * expit((median * np.exp(sigma * z) * scale / cap - r50) / width)
        expected += w * integrate.quad(q, -12, 12, epsabs=1e-14, epsrel=1e-14, limit=200)[0]  # pdf(12) < 1e-31
    probs = exact.outcome_probabilities(m)
    trapped = index(m, "arrested", "organ1", "trapped")
    assert probs[trapped] == pytest.approx(expected, abs=1e-10)
    assert probs[index(m, "died_shear")] == pytest.approx(1 - expected, abs=1e-10)
    # Trapping at entry happens at age 0; after a move it cannot.
    at_bed = sum(w for c, w in entry if c == 1)
    assert exact.absorption_cdf(m, [0.0])[0, trapped] == pytest.approx(at_bed * expected, abs=1e-10)


def test_censoring():
    """Constant hazard h, entry at 30 s, t_max 100 s: censored at age 70 with
    probability exp(-70 h); the censored CDF steps there."""
    h = 0.02
    m = make_model([[]], shear=h, t_max=100.0, entry_time=30.0)
    probs = exact.outcome_probabilities(m)
    assert probs[index(m, "censored")] == pytest.approx(math.exp(-70 * h), abs=ODE)
    assert probs[index(m, "died_shear")] == pytest.approx(1 - math.exp(-70 * h), abs=ODE)
    cdf = exact.absorption_cdf(m, [200.0, 10.0, 69.9, 70.0])
    np.testing.assert_allclose(cdf[:, index(m, "censored")], [math.exp(-70 * h), 0, 0, math.exp(-70 * h)],
                               rtol=0, atol=ODE)
    np.testing.assert_allclose(cdf[:, index(m, "died_shear")], 1 - np.exp(-h * np.array([70, 10, 69.9, 70])),
                               rtol=0, atol=ODE)
    # Entering at or after t_max: censored at once.
    late = make_model([[]], shear=h, t_max=100.0, entry_time=100.0)
    assert exact.outcome_probabilities(late)[index(m, "censored")] == 1.0


def test_refusals():
    with pytest.raises(ValueError, match="never absorbed"):
        exact.outcome_probabilities(make_model([[]]))
    with pytest.raises(ValueError, match="no outgoing edge"):
        exact.outcome_probabilities(make_model([[]], transit=1.0, shear=0.1))
    with pytest.raises(ValueError, match="in a pool"):
        exact.outcome_probabilities(make_model([[]], adhesion=0.1))
    with pytest.raises(ValueError, match="single entry time"):
        exact.outcome_probabilities(make_model([[]], shear=0.1, t_max=100.0, entry_time=[0.0, 50.0]))
    with pytest.raises(ValueError, match="linear solves"):
        exact.mean_steps(make_model([[]], shear=0.1, t_max=100.0))
    with pytest.raises(ValueError, match="linear solves"):
        exact.mean_absorption_time_s(make_model([[]], anoikis=(1.0, 1.0), beta=0.7))


def test_agrees_with_reference_simulator():
    """The one sim-vs-exact check here (the statistical suite is elsewhere): every
    mechanism at once (Erlang-free cycle through a bed, shield, beta = 0.7
    anoikis, lognormal trapping, censoring).  Pearson chi-square over
    outcome x (absorbed by age 15 s or later); the seed is fixed, so the test is
    deterministic, and a correct oracle would fail it for 1 seed in 10^4."""
    from ctcsim import reference
    m = make_model([[(1, 1.0)], [(0, 1.0)]], transit=[2.0, 1.0], beds=(1,), cap=9.0, shear=0.02, nk=[[0.05, 0.01]],
                   adhesion=[[0, 0], [0.05, 0.1]], toggle=[[0.1, 0.05]], anoikis=(1.0, 0.3), eta=30.0, beta=0.7,
                   trap=(0.3, 1.2, 0.25), diameter=(10.0, 0.3), cluster=(0.9, 0.1), trap_scale=(1.0, 1.5), t_max=40.0)
    early = exact.absorption_cdf(m, [15.0])[0]
    expected = np.concatenate([early, exact.outcome_probabilities(m) - early])
    column = {o: i for i, o in enumerate(exact.outcomes(m))}
    counts = np.zeros(len(expected))
    n = 10000  # the pure-Python reference takes ~0.4 ms a unit
    for unit in range(n):
        row = reference.simulate_unit(m, (2024, 7), unit)[0]
        fate, mode = hazards.FATES[row["fate"]], hazards.ARREST_MODES[row["arrest_mode"]]
        organ = m.organ_names[row["organ"]] if fate == "arrested" else None
        counts[column[(fate, organ, mode)] + len(early) * (row["fate_time_s"] - row["entry_time_s"] > 15.0)] += 1
    assert ctcsim_stats.pearson(counts, expected).pvalue > 1e-4


# -- delayed arms: the master equation in two pieces (ctcsim.exact.arms) ---------------------


def test_delayed_arm_of_the_issue():
    """Issue 8, defect 1: anoikis the only hazard (beta 1, eta 1000 s), t_max 200 s, and an arm
    with anoikis_eta_s x 0.1 from t = 50 s: P(died_anoikis) = 1 - exp(-(50/1000 + 150/100))."""
    control = make_model([[]], anoikis=(1.0, 1.0), eta=1000.0, t_max=200.0)
    arm = make_model([[]], anoikis=(1.0, 1.0), eta=100.0, t_max=200.0)
    p = exact.outcome_probabilities(control, after=arm, switch_s=50.0)
    assert p[index(control, "died_anoikis")] == pytest.approx(1 - math.exp(-(50 / 1000 + 150 / 100)), abs=1e-12)
    assert round(p[index(control, "died_anoikis")], 4) == 0.7878
    assert p[index(control, "censored")] == pytest.approx(math.exp(-1.55), abs=1e-12)
    ages = np.array([10.0, 50.0, 120.0, 200.0])
    H = np.minimum(ages, 50) / 1000 + np.maximum(ages - 50, 0) / 100
    cdf = exact.absorption_cdf(control, ages, after=arm, switch_s=50.0)
    np.testing.assert_allclose(cdf[:, index(control, "died_anoikis")], 1 - np.exp(-H), rtol=0, atol=1e-12)


def test_delayed_arm_weibull_ages_go_on_across_the_switch():
    """Weibull (beta 0.7, eta 50 s) before the switch at age 30 s, (beta 2, eta 20 s) after it,
    factor 1.5: the hazard after the switch is the new one at the unit's age since entry, so
    the cumulative hazard is 1.5 [(30/50)**0.7 + (a/20)**2 - (30/20)**2] for a > 30."""
    kw = dict(anoikis=(1.0, 1.0), cluster_factor=[[1], [1], [1.5], [1]], t_max=60.0, entry_time=10.0)
    before, after = make_model([[]], eta=50.0, beta=0.7, **kw), make_model([[]], eta=20.0, beta=2.0, **kw)
    ages = np.array([0.0, 5.0, 30.0, 31.0, 40.0, 50.0])
    a = np.minimum(ages, 30.0)
    H = 1.5 * ((a / 50) ** 0.7 + np.where(ages > 30, (ages / 20) ** 2 - (30 / 20) ** 2, 0.0))
    cdf = exact.absorption_cdf(before, ages, after=after, switch_s=40.0)
    np.testing.assert_allclose(cdf[:, index(before, "died_anoikis")], 1 - np.exp(-H), rtol=0, atol=ODE)
    p = exact.outcome_probabilities(before, after=after, switch_s=40.0)
    assert p[index(before, "censored")] == pytest.approx(math.exp(-H[-1]), abs=ODE)


def test_delayed_arm_switch_before_entry_after_t_max_and_refusals():
    before = make_model([[]], shear=0.01, t_max=100.0, entry_time=20.0)
    after = make_model([[]], shear=0.05, t_max=100.0, entry_time=20.0)
    died = index(before, "died_shear")
    # Switch before entry: the arm throughout; at or after t_max: never (as in the core).
    assert exact.outcome_probabilities(before, after=after, switch_s=10.0)[died] == pytest.approx(
        1 - math.exp(-0.05 * 80), abs=1e-12)
    assert exact.outcome_probabilities(before, after=after, switch_s=100.0)[died] == pytest.approx(
        1 - math.exp(-0.01 * 80), abs=1e-12)
    assert exact.outcome_probabilities(before, after=after, switch_s=60.0)[died] == pytest.approx(
        1 - math.exp(-0.01 * 40 - 0.05 * 40), abs=1e-12)
    with pytest.raises(ValueError, match="n_stages differs"):
        exact.outcome_probabilities(before, after=make_model([[]], stages=2, shear=0.05, t_max=100.0,
                                                             entry_time=20.0), switch_s=60.0)
    spread = make_model([[]], shear=0.01, entry_time=[0.0, 50.0])
    with pytest.raises(ValueError, match="single entry time"):
        exact.outcome_probabilities(spread, after=spread, switch_s=60.0)


def test_block_exponentials_equal_scipy_expm_multiply(rich):
    """Constant hazards go through exact.forward's block exponentials (Taylor and squaring of
    each entry node's block); scipy's expm_multiply on the whole stacked generator is an
    independent computation.  RICH with anoikis off (32 diameter nodes: 5,184 states): they
    agree to 1e-12 at ages from 0.5 s to 100 s, on an even grid (one exponential reused) and
    an uneven one."""
    import dataclasses

    from scipy.sparse.linalg import expm_multiply

    from ctcsim.compile import compile_model
    from ctcsim.exact import forward
    from ctcsim.exact.entry import EntryNodes
    from ctcsim.exact.generator import System

    s = dataclasses.replace(rich, biology=dataclasses.replace(rich.biology, anoikis_on=False))
    m = compile_model(s)
    sys = System(m, EntryNodes.of([m], 1e-2))
    for ages in (np.linspace(0.0, 100.0, 5), np.array([0.5, 3.0, 40.0])):
        e, circulating, y = forward.expm_at(sys, sys.y0, ages)
        for j, a in enumerate(ages):
            ref = expm_multiply(sys.M * a, sys.y0)
            np.testing.assert_allclose(e[:, j], ref[sys.n:], rtol=0, atol=1e-12)
            assert circulating[j] == pytest.approx(ref[:sys.n].sum(), abs=1e-12)
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)
