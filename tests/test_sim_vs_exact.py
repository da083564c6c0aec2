"""Simulated fates agree with the master equation solved independently (ctcsim.exact).

Each statistical test has a false-alarm rate of 1e-3 under a correct simulator (the tests
use fixed seeds, so a given build either passes or fails for ever; 1e-3 per test keeps the
chance that a correct build fails any of the ~12 tests of this file near 1%).
"""
import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from ctcsim import exact
from ctcsim import scenario as sc
from ctcsim.compile import compile_model
from ctcsim.runner import simulate
from pathlib import Path

ALPHA = 1e-3
N = 200_000
WORKLOAD = Path(__file__).resolve().parents[1] / "bench" / "reference_workload.toml"


def outcome_counts(model, fates):
    """Counts of the simulated units in each of exact.outcomes(model)."""
    f = fates.select(["fate", "organ", "arrest_mode"]).to_pandas()
    keys = list(zip(f.fate.astype(str), f.organ.astype(object).where(f.organ.notna(), None),
                    f.arrest_mode.astype(str)))
    index = {o: i for i, o in enumerate(exact.outcomes(model))}
    return np.bincount([index[k] for k in keys], minlength=len(index))


def chi_square_p(counts, probs):
    """Pearson chi-square p-value, pooling outcomes expected fewer than 5 times into one cell."""
    expected = probs * counts.sum()
    small = expected < 5
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
        assert counts[small].sum() == 0, "an outcome of probability 0 happened"
    return stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue


def scenarios(rich):
    b = rich.biology
    yield "reference workload", sc.load(WORKLOAD)
    # Weibull anoikis (beta 1.7), shielding, Erlang stages, trapping, clusters, phenotypes, t_max.
    yield "rich", rich
    yield "rich, early anoikis (beta 0.6), no censoring", dataclasses.replace(
        rich, t_max_s=math.inf, biology=dataclasses.replace(b, anoikis_beta=0.6))
    yield "rich, constant hazards", dataclasses.replace(
        rich, t_max_s=math.inf, biology=dataclasses.replace(b, anoikis_on=False))


@pytest.mark.parametrize("which", range(4))
def test_outcome_and_organ_probabilities_chi_square(rich, which):
    name, s = list(scenarios(rich))[which]
    model = compile_model(s)
    res = simulate(s, N, seed=20261127 + which)
    p = chi_square_p(outcome_counts(model, res.fates), exact.outcome_probabilities(model))
    assert p > ALPHA, f"{name}: chi-square p = {p:.2e}"


@pytest.mark.parametrize("which", range(4))
def test_fate_time_distribution_ks(rich, which):
    """KS test of the age at fate among units not censored, against exact.absorption_cdf."""
    name, s = list(scenarios(rich))[which]
    model = compile_model(s)
    res = simulate(s, 20_000, seed=777 + which)
    f = res.fates.to_pandas()
    ages = (f.fate_time_s - f.entry_time_s)[f.fate != "censored"].to_numpy()
    grid = np.linspace(0.0, ages.max() * 1.0001, 4001)
    cens = exact.outcomes(model).index(("censored", None, "none"))
    cdf = np.delete(exact.absorption_cdf(model, grid), cens, axis=1).sum(axis=1)
    cdf /= cdf[-1]  # conditional on absorption before t_max (and before the largest sample)
    p = stats.kstest(ages, lambda a: np.interp(a, grid, cdf)).pvalue
    assert p > ALPHA, f"{name}: KS p = {p:.2e}"


def test_reference_workload_means_z():
    """Mean time to absorption and mean events per unit, z-tested against the exact means."""
    s = sc.load(WORKLOAD)
    model = compile_model(s)
    f = simulate(s, N, seed=5).fates.to_pandas()
    z_crit = stats.norm.isf(ALPHA / 2)
    for name, x, mu in (("time", f.fate_time_s, exact.mean_absorption_time_s(model)),
                        ("steps", f.n_steps, exact.mean_steps(model))):
        z = (x.mean() - mu) / (x.std() / math.sqrt(len(x)))
        assert abs(z) < z_crit, f"mean {name}: z = {z:.2f}"
    # The published answers, to the digits it prints (half a unit of the last digit).
    assert exact.mean_steps(model) == pytest.approx(11.6047, abs=5e-5)
    assert exact.mean_absorption_time_s(model) == pytest.approx(10.60, abs=5e-3)


def test_verify_command_agrees_on_the_reference_workload_and_refuses_shedding():
    """`ctcsim verify` prints exact beside simulated and passes (exit 0) on a correct build;
    a shedding scenario (entry times spread over days) is refused with one line."""
    from click.testing import CliRunner

    from ctcsim.cli import main
    res = CliRunner().invoke(main, ["verify", str(WORKLOAD), "-n", "50000", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "0.46977" in res.stdout and "agrees" in res.stdout
    res = CliRunner().invoke(main, ["verify", "breast_shedding", "-n", "10"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "entry time" in res.stderr
