"""Global sensitivity: on a compartment model whose outcome is an analytic function of its
parameters, the exact solver as the model recovers the analytic Sobol' indices within their
bootstrap intervals; Morris finds a parameter without effect; simulation is a resumable sweep."""
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import TWO_HAZARDS

from ctcsim.cli import main
from ctcsim.studies import sensitivity, study, sweep

# One pool that returns into itself: the only hazards are shear (rate a = k_shear, at the
# reference shear) and NK killing (b = k_nk); no platelets, no anoikis, no beds.  So
# P(died_shear) = a / (a + b), and p_nk (the shield's effect, with no shield) does nothing.
A, B = (1e-3, 5e-3), (1e-3, 2e-3)  # uniform ranges of k_shear_per_s and k_nk_per_s


def analytic_indices():
    """S1 and ST of f(a, b) = a / (a + b), a ~ U(A), b ~ U(B), by Gauss-Legendre quadrature
    (200 nodes: exact to rounding for this smooth integrand).  With two parameters and no
    third effect, ST_a = 1 - S1_b and ST_b = 1 - S1_a."""
    x, w = np.polynomial.legendre.leggauss(200)
    a = (A[0] + A[1]) / 2 + (A[1] - A[0]) / 2 * x
    b = (B[0] + B[1]) / 2 + (B[1] - B[0]) / 2 * x
    w = w / 2
    f = a[:, None] / (a[:, None] + b[None, :])
    mean = w @ f @ w
    var = w @ (f - mean) ** 2 @ w
    s1a, s1b = w @ (f @ w - mean) ** 2 / var, w @ (w @ f - mean) ** 2 / var
    return {"biology.k_shear_per_s": (s1a, 1 - s1b), "biology.k_nk_per_s": (s1b, 1 - s1a), "biology.p_nk": (0.0, 0.0)}


def write_study(tmp_path, method="sobol", samples=512, model="exact", confidence=0.999, units=None):
    (tmp_path / "two.toml").write_text(TWO_HAZARDS)
    (tmp_path / "study.toml").write_text(f"""
scenario = "two.toml"
seed = 5
{f"units = {units}" if units else ""}
[[parameters]]
path = "biology.k_shear_per_s"
low = {A[0]}
high = {A[1]}
[[parameters]]
path = "biology.k_nk_per_s"
low = {B[0]}
high = {B[1]}
[[parameters]]
path = "biology.p_nk"
low = 0.1
high = 0.9
[sensitivity]
method = "{method}"
samples = {samples}
model = "{model}"
confidence = {confidence}
[[outputs]]
outcome = "died_shear"
""")
    return tmp_path / "study.toml"


def test_exact_sobol_indices_of_a_two_hazard_model_contain_the_analytic_ones(tmp_path):
    """The model is exact, so the intervals hold the design's sampling error alone.  Each of the
    four non-zero indices is checked against a 99.9% bootstrap interval: a family-wise
    false-alarm rate of at most 0.4% if the intervals have their nominal level.  The indices of
    p_nk are exactly 0 (it changes no probability), and the intervals are narrow enough to rank."""
    r = CliRunner().invoke(main, ["sensitivity", str(write_study(tmp_path)), "-o", str(tmp_path / "out"), "-q"])
    assert r.exit_code == 0, r.output
    table = sensitivity.read(tmp_path / "out").table.to_pylist()
    assert len(table) == 6
    truth = analytic_indices()
    for row in table:
        value = truth[row["parameter"]][("S1", "ST").index(row["index"])]
        assert row["ci_low"] <= value <= row["ci_high"], row
        assert row["ci_high"] - row["ci_low"] < 0.4, row
        if row["parameter"] == "biology.p_nk":
            assert row["estimate"] == 0.0 and row["ci_low"] == row["ci_high"] == 0.0
    st = {row["parameter"]: row for row in table if row["index"] == "ST"}
    assert st["biology.k_nk_per_s"]["ci_high"] < st["biology.k_shear_per_s"]["ci_low"]
    lines = r.output.splitlines()
    assert lines[0] == "died_shear (control):" and "biology.k_shear_per_s" in lines[2], "ranked, the largest first"


def test_morris_screens_out_the_parameter_without_effect(tmp_path):
    st = study.load(write_study(tmp_path, method="morris", samples=8, confidence=0.95))
    table = sensitivity.run(st, tmp_path / "out").table.to_pylist()
    mu_star = {r["parameter"]: r["estimate"] for r in table if r["index"] == "mu_star"}
    assert mu_star["biology.p_nk"] == 0.0
    assert mu_star["biology.k_shear_per_s"] > mu_star["biology.k_nk_per_s"] > 0


def test_simulated_sensitivity_is_a_paired_sweep_that_resumes(tmp_path):
    """With the simulation model the SALib design runs as a sweep (every point on the same units
    and seed); interrupted, it resumes to the same indices.  Sobol' on 2,000 units per point:
    the shear rate still comes out as the larger total index."""
    st = study.load(write_study(tmp_path, samples=16, model="simulation", confidence=0.95, units=2000))
    whole = sensitivity.run(st, tmp_path / "whole")

    def stop(done, total, units):
        if done == 10:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        sensitivity.run(st, tmp_path / "cut", progress=stop)
    r = CliRunner().invoke(main, ["sensitivity", "--resume", str(tmp_path / "cut"), "-q"])
    assert r.exit_code == 0, r.output
    assert sensitivity.read(tmp_path / "cut").table.equals(whole.table)
    assert len(whole.values) == 16 * (3 + 2) and sweep.read(tmp_path / "whole").table.num_rows > 0
    st_ = {r["parameter"]: r["estimate"] for r in whole.table.to_pylist() if r["index"] == "ST"}
    assert st_["biology.k_shear_per_s"] > st_["biology.k_nk_per_s"]


def test_exact_outputs_must_have_exact_probabilities(tmp_path):
    path = write_study(tmp_path)
    path.write_text(path.read_text().replace('outcome = "died_shear"', 'outcome = "alive"'))
    r = CliRunner().invoke(main, ["sensitivity", str(path), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.output.startswith(f"ctcsim: error: {path}: outputs[0].outcome: alive has no exact "
                                                    "probability"), r.output
    path.write_text(path.read_text().replace("samples = 512", "samples = 100"))
    r = CliRunner().invoke(main, ["sensitivity", str(path), "--model", "simulation", "-o", str(tmp_path / "p")])
    assert r.exit_code == 2 and "sensitivity.samples: Sobol' indices take a power of 2 base samples, got 100" in r.output
