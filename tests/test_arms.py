"""Arms share random numbers unit by unit, so paired differences are far more precise."""
import dataclasses

import pytest

from ctcsim import compare
from ctcsim import scenario as sc
from ctcsim.runner import simulate

N = 100_000


def test_paired_ci_at_least_twice_narrower_than_independent_runs():
    """Control vs anti-platelet on the breast scenario, outcome 'alive at t_max'.

    The paired CI comes from one common-random-number run; the independent one from two
    runs of the same size with different seeds. The factor is measured at 6.1 with 1e6 units
    (bench/bench_cascade.py, bench/RESULTS.md); the issue asks for at least 2, which is what
    is asserted. Observed 24 h, as that measurement was (the scenario's own horizon is 10 years).
    With arrest as the default biology has it (adhesion 0.05 /s, size trapping), as that
    measurement had it: a unit's fate is then settled in a few draws. The calibrated breast
    circulates for hours (Meng's half-life, ~1000 draws a unit), and the anti-platelet arm then
    changes 19 % of the units' fates: pairing buys 1.26x (20,000 units), and no coupling could
    buy 2x (alive 79 % and 60 %: per-unit differences have variance at least
    0.193 x 0.807 = 0.156 against 0.404 for independent runs, a ratio of at most 1.61)."""
    base = sc.load("breast_antiplatelet")
    arrest = dataclasses.replace(base.biology, k_adh_per_s=sc.Biology().k_adh_per_s, trap_max=sc.Biology().trap_max)
    s = dataclasses.replace(base, biology=arrest, t_max_s=86400.0)
    r = compare.paired_vs_independent(s, "anti_platelet", "alive", N)
    assert r["independent_halfwidth"] / r["paired_halfwidth"] >= 2.0
    # Both estimate the same difference: the independent estimate lies within 3.29 of its
    # standard errors of the paired one (false-alarm rate 1e-3; the paired error is negligible).
    assert abs(r["independent"] - r["paired"]) < r["independent_halfwidth"] * 3.29 / compare.Z95


def test_paired_difference_of_identical_arms_is_exactly_zero():
    s = sc.load("breast_antiplatelet")
    s = sc.from_dict({**s.to_dict(), "arms": [{"name": "control"}, {"name": "same"}]})
    d = compare.paired_differences(simulate(s, 2000, seed=4).fates, "alive")["same"]
    assert d["difference"] == 0 and d["ci95"] == [0.0, 0.0]


def test_unknown_outcome_and_missing_control_are_clear_errors():
    f = simulate(sc.load("breast_antiplatelet"), 100, seed=5).fates
    with pytest.raises(ValueError, match="unknown outcome 'immortal'"):
        compare.paired_differences(f, "immortal")
    with pytest.raises(ValueError, match="no arm 'placebo'"):
        compare.paired_differences(f, "alive", control="placebo")


def test_summarize_reports_paired_differences_streamed_from_a_run(tmp_path):
    """`ctcsim summarize` of a two-arm run: the paired differences computed part by part from
    the run directory equal those computed in memory from the same fates."""
    from click.testing import CliRunner

    import ctcsim
    from ctcsim.cli import main
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", "breast_antiplatelet", "-n", "5000", "--seed", "8", "-o", str(out),
                                    "--chunk-size", "1000", "-q"])
    assert res.exit_code == 0, res.output
    run = ctcsim.read_run(out)
    streamed = compare.run_paired_differences(run)["arms"]["anti_platelet"]
    fates = run.fates.to_table()
    for outcome in ("alive", "died_in_capillary", "dormant"):
        d = compare.paired_differences(fates, outcome)["anti_platelet"]
        assert streamed[outcome]["difference"] == pytest.approx(d["difference"], abs=1e-12)
        assert streamed[outcome]["ci95"] == pytest.approx(d["ci95"], abs=1e-12)
    text = CliRunner().invoke(main, ["summarize", str(out)]).stdout
    assert "anti_platelet - control at 10 y (paired" in text and "alive" in text


def test_summarize_shows_the_published_experiment_beside_the_simulation(tmp_path):
    from click.testing import CliRunner

    from ctcsim.cli import main
    out = tmp_path / "luzzi"
    assert CliRunner().invoke(main, ["run", "luzzi1998", "-n", "20000", "--seed", "1", "-o", str(out),
                                     "-q"]).exit_code == 0
    text = CliRunner().invoke(main, ["summarize", str(out)]).stdout
    assert "published experiment" in text and "extravasated by day 3" in text


def test_pandas_and_pyarrow_fates_give_the_same_differences():
    res = simulate(sc.load("breast_antiplatelet"), 3000, seed=6)
    assert compare.paired_differences(res.fates, "dormant") == \
        compare.paired_differences(res.fates.to_pandas(), "dormant")


def test_summary_counts_the_units_alive_in_each_organ():
    """summarize's "alive at the end, arrested in" equals a direct count on the fates."""
    from ctcsim.analysis import summarize
    fates = simulate(sc.load("breast"), 3_000, seed=9).fates  # an identity: any size will do
    alive_in = summarize(fates)["arms"]["control"]["alive_in"]
    alive = compare.indicator(fates, "alive").astype(bool) & (compare.column(fates, "fate") == "arrested")
    organs = compare.column(fates, "organ")[alive]
    assert {o: x["count"] for o, x in alive_in.items()} == {o: int((organs == o).sum()) for o in set(organs)}


def test_paired_differences_are_keyed_by_plain_strings():
    """Issue 12, friction 10: np.str_ keys print as np.str_('control') in a notebook."""
    s = sc.load("breast_antiplatelet")
    d = compare.paired_differences(simulate(s, 500, seed=4).fates, "alive")
    assert all(type(k) is str for k in d)
