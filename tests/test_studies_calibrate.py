"""Calibration: maximum likelihood recovers the parameters that made the targets, its
profile-likelihood intervals cover them at their nominal rate, and the fitted scenario is
written out."""
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize, stats

from ctcsim import scenario as sc
from ctcsim.cli import main
from ctcsim.studies import calibrate, paths, study

from test_studies_sensitivity import TWO_HAZARDS

K_NK = 2e-3
TRUE_K_SHEAR = 1e-3  # P(died_shear) = k_shear / (k_shear + k_nk) = 1/3


def one_parameter_study(tmp_path, model="exact", units=1000):
    (tmp_path / "two.toml").write_text(TWO_HAZARDS)
    (tmp_path / "targets.toml").write_text('[[targets]]\noutcome = "died_shear"\ncounts = [70, 200]\nsource = "synthetic"\n')
    (tmp_path / "fit.toml").write_text(f"""
scenario = "two.toml"
units = {units}
seed = 3
[set]
"biology.k_nk_per_s" = {K_NK}
[[parameters]]
path = "biology.k_shear_per_s"
low = 1e-4
high = 1e-1
scale = "log"
[calibration]
targets = "targets.toml"
model = "{model}"
""")
    return tmp_path / "fit.toml"


def binomial_lr_interval(k: int, n: int, level: float) -> tuple[float, float]:
    """The likelihood-ratio interval of p from k of n, solved apart from ctcsim: the p where
    2 (l(k/n) - l(p)) equals the chi-square (1 df) quantile of ``level``."""
    def excess(p):
        return 2 * (stats.binom.logpmf(k, n, k / n) - stats.binom.logpmf(k, n, p)) - stats.chi2.ppf(level, 1)
    return optimize.brentq(excess, 1e-12, k / n, xtol=1e-15), optimize.brentq(excess, k / n, 1 - 1e-12, xtol=1e-15)


def test_profile_intervals_cover_the_true_parameter_at_their_nominal_rate(tmp_path):
    """Exact coverage instead of a sample of fits.  The 95% profile interval from k of 200 units
    (targets drawn at the true shear rate) is a function of k alone, so its coverage is the
    binomial probability of the k whose interval holds the truth: 0.949 for the likelihood-ratio
    interval, within 0.005 of nominal (a discrete outcome cannot do better).  The fitter is held to
    that interval where coverage is decided: at the first and last k that cover and their
    neighbours that do not, its ends equal the likelihood-ratio ends (rel 1e-4; the fit's xtol
    of 1e-6 on a log range of 1e3 is rel 7e-6) and its estimate is the MLE of k/n.  (Before: 100
    fits of random k, coverage >= 87 of 100; the boundary k decide every such draw.)"""
    st = study.load(one_parameter_study(tmp_path))
    n, p = 200, TRUE_K_SHEAR / (TRUE_K_SHEAR + K_NK)
    k = np.arange(1, n)
    g = 2 * (stats.binom.logpmf(k, n, k / n) - stats.binom.logpmf(k, n, p))
    covering = k[g <= stats.chi2.ppf(0.95, 1)]
    assert np.array_equal(covering, np.arange(covering[0], covering[-1] + 1)), "the covering k are one run"
    assert stats.binom.pmf(covering, n, p).sum() == pytest.approx(0.95, abs=0.005)
    to_rate = lambda q: K_NK * q / (1 - q)  # noqa: E731  p = k_shear / (k_shear + k_nk), inverted
    for kk in (covering[0] - 1, covering[0], covering[-1], covering[-1] + 1):
        target = calibrate.Target(outcome="died_shear", arm="control", counts=[int(kk), n])
        fit = calibrate.fit(st, [target]).parameters[0]
        assert fit["estimate"] == pytest.approx(K_NK * kk / (n - kk), rel=1e-4), "the MLE of k/n"
        low, high = binomial_lr_interval(int(kk), n, 0.95)
        assert (fit["ci_low"], fit["ci_high"]) == pytest.approx((to_rate(low), to_rate(high)), rel=1e-4), kk
        assert (fit["ci_low"] <= TRUE_K_SHEAR <= fit["ci_high"]) == (kk in covering), kk


LOOP = """
name = "loop"
anatomy.name = "loop"
[[anatomy.compartments]]
name = "blood"
kind = "pool"
transit_s = 10.0
shear_dyn_cm2 = 15.0
nk_rel = 0.0
[[anatomy.compartments]]
name = "tissue"
kind = "bed"
transit_s = 5.0
capillary_diameter_um = 100.0
[[anatomy.edges]]
from = "blood"
to = "tissue"
fraction = 1.0
[[anatomy.edges]]
from = "tissue"
to = "blood"
fraction = 1.0
[primary]
name = "cells"
entry = { blood = 1.0 }
diameter_median_um = 10.0
[biology]
anoikis_on = false
k_on_per_s = 0.0
k_nk_per_s = 0.004
trap_max = 0.0
"""


def test_two_parameters_are_recovered_from_two_experiments(tmp_path):
    """Shear death (blood) and adhesion (tissue) compete with NK killing (tissue): the fraction
    dying of shear in one experiment and the fraction arrested in another identify both rates.
    Targets are the exact fractions at the true rates as counts of 100,000: the estimates land
    on the truth and their intervals hold it."""
    from ctcsim.studies import outputs
    truth = {"biology.k_shear_per_s": 2e-3, "biology.k_adh_per_s": 1e-2}
    s = paths.with_values(sc.loads(LOOP), truth, "truth")
    n = 100_000
    targets = []
    for outcome, organ in (("died_shear", None), ("arrested", "tissue")):
        o = outputs.Output(outcome=outcome, organ=organ, arm="control")
        targets.append(calibrate.Target(outcome=outcome, organ=organ, arm="control",
                                        counts=[round(n * outputs.exact_value(o, s)), n]))
    st = study.from_dict({"parameters": [{"path": p, "low": 1e-4, "high": 1e-1, "scale": "log"} for p in truth]})
    st = study.Study(**{**st.__dict__, "scenario": sc.loads(LOOP)})
    fit = calibrate.fit(st, targets)
    for row in fit.parameters:
        assert row["estimate"] == pytest.approx(truth[row["path"]], rel=2e-3)
        assert row["ci_low"] < truth[row["path"]] < row["ci_high"] and not row["open_low"] and not row["open_high"]
        assert row["ci_high"] / row["ci_low"] < 1.1, "100,000 units pin each rate within a few per cent"


def test_calibrate_by_paired_simulation_writes_a_fitted_scenario(tmp_path):
    """With the simulation model (5,000 units, the same seed at every evaluation) the fit of
    70 of 200 targets lands where the exact fit does, within the simulation's resolution, and
    the fitted scenario file loads with the estimate in it."""
    exact = CliRunner().invoke(main, ["calibrate", str(one_parameter_study(tmp_path)), "--json"])
    assert exact.exit_code == 0, exact.output
    import json
    k_exact = json.loads(exact.output)["parameters"][0]["estimate"]
    assert k_exact == pytest.approx(K_NK * 70 / 130, rel=1e-4)
    out = tmp_path / "fitted.toml"
    r = CliRunner().invoke(main, ["calibrate", str(tmp_path / "fit.toml"), "--model", "simulation", "-n", "5000",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "biology.k_shear_per_s" in r.output and "profile-likelihood" in r.output
    fitted = sc.load(out)
    k_sim = paths.value(fitted, "biology.k_shear_per_s")
    assert k_sim == pytest.approx(k_exact, rel=0.05)
    assert out.read_text().startswith("# Fitted by ctcsim calibrate from ")


@pytest.mark.parametrize("targets, key, message", [
    ('[[targets]]\noutcome = "died_shear"', "targets[0]", "give counts = [k, n], or a value with its interval"),
    ('[[targets]]\noutcome = "died_shear"\ncounts = [3, 2]', "targets[0].counts", "expected [k, n]"),
    ('[[targets]]\noutcome = "died_shear"\nvalue = 0.3\ninterval = [0.4, 0.5]', "targets[0].interval",
     "expected [low, high] around the value 0.3"),
    ('[[targets]]\noutcome = "alive"\ncounts = [1, 2]', "targets[0].outcome", "alive has no exact probability"),
    ('[[target]]\noutcome = "died_shear"', "targets", "expected [[targets]] tables"),
])
def test_bad_targets_are_one_line_naming_the_targets_file_and_key(tmp_path, targets, key, message):
    path = one_parameter_study(tmp_path)
    (tmp_path / "targets.toml").write_text(targets)
    r = CliRunner().invoke(main, ["calibrate", str(path)])
    assert r.exit_code == 2 and r.output.strip().startswith(f"ctcsim: error: {tmp_path / 'targets.toml'}: {key}: ")
    assert message in r.output and len(r.output.strip().splitlines()) == 1, r.output
