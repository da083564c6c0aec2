"""Simulated fates agree with the master equation solved independently (ctcsim.exact).

Each statistical test has a false-alarm rate of ALPHA = 1e-3 under a correct simulator (the
seeds are fixed, so a given build either passes or fails for ever; tests/README.md counts
the suite's tests and what to do when one fails after a change of draw order).

The exact side is asked for the accuracy each sample resolves, no more:
- chi-square at N units: ``verification.solver_tolerances(N)`` (its docstring derives it:
  the solver's errors shift the statistic by a non-centrality below 0.01);
- KS at n = 20,000: the critical distance is 1.95 / sqrt(n) = 0.014; rtol 1e-5 and atol 1e-7
  give CDF errors of ~5e-6 (measured against rtol 1e-10), 1/3000 of it.
"""
import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as sps

from ctcsim import exact, stats
from ctcsim import scenario as sc
from ctcsim.compile import compile_arm, compile_model
from ctcsim.runner import simulate
from ctcsim import verification
from ctcsim.verification import solver_tolerances
from pathlib import Path

ALPHA = 1e-3
N = 200_000
N_KS = 20_000
N_DELAYED = 100_000  # the arms change outcomes by > 0.01, 30 standard errors at this size
CHI2_TOL = dict(zip(("rtol", "atol"), solver_tolerances(N)))
DELAYED_TOL = dict(zip(("rtol", "atol"), solver_tolerances(N_DELAYED)))
KS_TOL = dict(rtol=1e-5, atol=1e-7)
WORKLOAD = Path(__file__).resolve().parents[1] / "bench" / "reference_workload.toml"


def outcome_counts(model, fates):
    """Counts of the simulated units in each of exact.outcomes(model); no unit elsewhere."""
    keys, counts = verification.outcome_counts(fates, exact.outcomes(model))
    assert keys == exact.outcomes(model), f"outcomes exact does not know: {keys[len(exact.outcomes(model)):]}"
    return counts


def scenarios(rich):
    b = rich.biology
    return {
        "reference workload": sc.load(WORKLOAD),
        # Weibull anoikis (beta 1.7), shielding, Erlang stages, trapping, clusters, phenotypes, t_max.
        "rich": rich,
        "rich, early anoikis (beta 0.6), no censoring": dataclasses.replace(
            rich, t_max_s=math.inf, biology=dataclasses.replace(b, anoikis_beta=0.6)),
        "rich, constant hazards": dataclasses.replace(
            rich, t_max_s=math.inf, biology=dataclasses.replace(b, anoikis_on=False)),
    }


NAMES = ["reference workload", "rich", "rich, early anoikis (beta 0.6), no censoring", "rich, constant hazards"]


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_outcome_and_organ_probabilities_chi_square(rich, name):
    s = scenarios(rich)[name]
    model = compile_model(s)
    res = simulate(s, N, seed=20261127 + NAMES.index(name))
    r = stats.pearson(outcome_counts(model, res.fates), exact.outcome_probabilities(model, **CHI2_TOL))
    assert r.pvalue > ALPHA, f"{name}: {r}"


def test_passage_chi_square(rich):
    """Trapping by size and deformability, with clusters held behind their leading cell
    (model.py), on RICH's clusters and phenotypes: simulated outcomes against the master
    equation (ALPHA above).  Each passage parameter moves the outcomes by more than N resolves
    (> 0.01, ~10 standard errors): a core that ignored the phenotypes, the chain or the cluster's
    diameter fails."""
    b = dataclasses.replace(rich.biology, trap_deformability=[0.8, 1.3, 2.0], cluster_cell_trap=1.0,
                            cluster_diameter_exponent=0.2)
    s = dataclasses.replace(rich, biology=b)
    model = compile_model(s)
    probs = exact.outcome_probabilities(model, **CHI2_TOL)
    for other in ({"trap_deformability": [1.0] * 3}, {"cluster_cell_trap": 0.0}, {"cluster_diameter_exponent": 0.0}):
        m = compile_model(dataclasses.replace(s, biology=dataclasses.replace(b, **other)))
        assert np.abs(probs - exact.outcome_probabilities(m, rtol=1e-4, atol=1e-6)).max() > 0.01
    res = simulate(s, N, seed=20261201)
    r = stats.pearson(outcome_counts(model, res.fates), probs)
    assert r.pvalue > ALPHA, f"passage: {r}"


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_fate_time_distribution_ks(rich, name):
    """KS test of the age at fate among units not censored, against exact.absorption_cdf."""
    s = scenarios(rich)[name]
    model = compile_model(s)
    f = simulate(s, N_KS, seed=777 + NAMES.index(name)).fates.to_pandas()
    ages = (f.fate_time_s - f.entry_time_s)[f.fate != "censored"].to_numpy()
    grid = np.linspace(0.0, ages.max() * 1.0001, 4001)
    cens = exact.outcomes(model).index(("censored", None, "none"))
    cdf = np.delete(exact.absorption_cdf(model, grid, **KS_TOL), cens, axis=1).sum(axis=1)
    cdf /= cdf[-1]  # conditional on absorption before t_max (and before the largest sample)
    p = sps.kstest(ages, lambda a: np.interp(a, grid, cdf)).pvalue
    assert p > ALPHA, f"{name}: KS p = {p:.2e}"


def test_reference_workload_means_z():
    """Mean time to absorption and mean events per unit, z-tested against the exact means."""
    s = sc.load(WORKLOAD)
    model = compile_model(s)
    f = simulate(s, N, seed=5).fates.to_pandas()
    z_crit = sps.norm.isf(ALPHA / 2)
    for name, x, mu in (("time", f.fate_time_s, exact.mean_absorption_time_s(model)),
                        ("steps", f.n_steps, exact.mean_steps(model))):
        z = (x.mean() - mu) / (x.std() / math.sqrt(len(x)))
        assert abs(z) < z_crit, f"mean {name}: z = {z:.2f}"
    # The published answers, to the digits it prints (half a unit of the last digit).
    assert exact.mean_steps(model) == pytest.approx(11.6047, abs=5e-5)
    assert exact.mean_absorption_time_s(model) == pytest.approx(10.60, abs=5e-3)


# Delayed arms: the circulating-phase parameters an arm can scale, from t = 30 s (RICH's
# units enter at t = 0, so about half of them are still circulating then).  "rates" holds
# multipliers the core applied after a switch before issue 8, on RICH with anoikis off (both
# pieces constant: matrix exponentials); "anoikis" those it ignored (defect 1: the Weibull
# scale and shape were read from the model before the switch), on RICH itself (Radau).
DELAYED = {
    "rates": ({"anoikis_on": False}, {"k_nk_per_s": 3.0, "k_on_per_s": 0.2, "k_adh_per_s": 2.5, "trap_max": 0.5,
                                      "p_nk": 0.5, "k_shear_per_s": 2.0}),
    "anoikis": ({}, {"anoikis_eta_s": 0.3, "anoikis_beta": 0.7, "p_anoikis": 2.0}),
}


def delayed_scenario(rich, which):
    biology, multipliers = DELAYED[which]
    d = rich.to_dict()
    d["biology"].update(biology)
    d["arms"] = [{"name": "control"}, {"name": "late", "multipliers": multipliers, "start_s": 30.0}]
    return sc.from_dict(d)


@pytest.mark.parametrize("which", list(DELAYED), ids=[f"delayed arm: {w}" for w in DELAYED])
def test_delayed_arm_chi_square(rich, which):
    """Outcomes of an arm whose multipliers start at t = 30 s, against the master equation
    solved in two pieces (ctcsim.exact.arms)."""
    s = delayed_scenario(rich, which)
    before, after, switch_s = compile_arm(s, "late")
    assert switch_s == 30.0 and after is not None
    probs = exact.outcome_probabilities(before, after=after, switch_s=switch_s, **DELAYED_TOL)
    # The arm changes the outcomes by far more than N_DELAYED resolves, so an arm simulated as
    # the control (or as its multipliers from t = 0) fails; this check needs 1e-4, no more.
    for other in (exact.outcome_probabilities(before, rtol=1e-4, atol=1e-6),
                  exact.outcome_probabilities(after, rtol=1e-4, atol=1e-6)):
        assert np.abs(probs - other).max() > 0.01
    res = simulate(s, N_DELAYED, seed=31 + list(DELAYED).index(which), arms=["late"])
    r = stats.pearson(outcome_counts(before, res.fates), probs)
    assert r.pvalue > ALPHA, f"{which}: {r}"


def test_verify_solves_a_delayed_arm_in_two_pieces(rich):
    """verify compares a delayed arm with the two-piece solution, not with its multipliers from
    t = 0 (which the simulation would fail: test_delayed_arm_chi_square shows they differ)."""
    from ctcsim import verification

    s = delayed_scenario(rich, "rates")
    before, after, switch_s = compile_arm(s, "late")
    v = verification.verify(s, 20_000, seed=4, arm="late")
    probs = exact.outcome_probabilities(before, after=after, switch_s=switch_s)
    # verify solves at the accuracy 20,000 units resolve (solver_tolerances: atol 5e-8); the
    # answer from t = 0 differs by more than 0.01.
    assert [o.probability for o in v.outcomes] == pytest.approx(list(probs), abs=1e-6)
    assert v.agrees and v.arm == "late" and not v.impossible


def test_outcome_counts_keep_outcomes_exact_does_not_know():
    """Counting on dictionary codes: nulls are organ None, and an outcome outside the known
    list is appended with its count (verify then gives it probability 0: a disagreement)."""
    import pyarrow as pa

    def col(values):
        return pa.chunked_array([pa.array(values[:2]).dictionary_encode(), pa.array(values[2:]).dictionary_encode()])

    fates = pa.table({"fate": col(["died_nk", "arrested", "arrested", "died_nk", "arrested"]),
                      "organ": col([None, "lung", "lung", None, "moon"]),
                      "arrest_mode": col(["none", "trapped", "trapped", "none", "adhered"])})
    known = [("died_nk", None, "none"), ("arrested", "lung", "trapped"), ("censored", None, "none")]
    keys, counts = verification.outcome_counts(fates, known)
    assert keys == known + [("arrested", "moon", "adhered")] and list(counts) == [2, 2, 0, 1]


def test_verify_command_agrees_on_the_reference_workload_and_refuses_shedding():
    """`ctcsim verify` prints exact beside simulated and passes (exit 0) on a correct build;
    a shedding scenario (entry times spread over days) is refused with one line."""
    from click.testing import CliRunner

    from ctcsim.cli import main
    res = CliRunner().invoke(main, ["verify", str(WORKLOAD), "-n", "50000", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "0.46977" in res.stdout and "agrees" in res.stdout
    assert "solving the master equation" in res.stderr  # progress goes to stderr
    res = CliRunner().invoke(main, ["verify", "breast_shedding", "-n", "10", "-q"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "entry time" in res.stderr


def test_verify_sees_units_in_outcomes_of_probability_zero(monkeypatch):
    """Defect 4: verify dropped outcomes of exact probability 0 together with their units, so
    units there read "agrees".  With an exact solution that (wrongly) gives died_shear
    probability 0, the simulated units that died of shear make it disagree: p = 0, exit 1,
    and a line naming the outcome."""
    from click.testing import CliRunner

    from ctcsim.cli import main
    real = exact.outcome_probabilities

    def without_shear(model, **kw):
        p = real(model, **kw)
        trapped = exact.outcomes(model).index(("arrested", "C", "trapped"))
        p[trapped], p[0] = p[0], 0.0  # its mass moved to an outcome nothing reaches
        return p

    monkeypatch.setattr(exact, "outcome_probabilities", without_shear)
    res = CliRunner().invoke(main, ["verify", str(WORKLOAD), "-n", "2000", "--seed", "3", "-q"])
    assert res.exit_code == 1, res.output
    assert "units ended died_shear, an outcome of exact probability 0" in res.stdout
    assert "p = 0:" in res.stdout and "DISAGREES" in res.stdout and "agrees" not in res.stdout
