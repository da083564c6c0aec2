"""ctcsim compare RUN_A RUN_B (issue 12, friction 5, and task (b): "change the CTC diameter and
NK activity and compare with the default"): paired when the runs share seed and size, independent
otherwise, and saying which; each difference checked against a per-unit computation."""
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import ctcsim
from ctcsim import compare
from ctcsim.cli import main
from ctcsim.report.two_runs import compare_runs

N = 3000
# Two scenarios of the default biology (arrest within a minute, so a unit's fate is settled in
# a few draws and common random numbers pair it well), one with NK killing 500x faster. The
# built-in breast circulates for hours (Meng's half-life): against it, pairing buys little here.
BASE = """
name = "breast_base"
anatomy = "human_female"
primary = "breast"
t_max_s = 86400.0
"""
MINE = BASE.replace("breast_base", "breast_mine") + """[biology]
k_nk_per_s = 0.01
"""


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    (root / "base.toml").write_text(BASE)
    (root / "mine.toml").write_text(MINE)
    out = {}
    for name, scenario, seed in (("default", root / "base.toml", 8), ("mine", root / "mine.toml", 8),
                                 ("mine_other_seed", root / "mine.toml", 9)):
        assert cli("run", scenario, "-n", N, "--seed", seed, "-o", root / name, "-q").exit_code == 0
        out[name] = ctcsim.read_run(root / name)
    return out


def both(a, b) -> pd.DataFrame:
    fa, fb = (r.fates.to_table().to_pandas() for r in (a, b))
    fa["arm"], fb["arm"] = "control", "mine"
    return pd.concat([fa, fb])


def test_same_seed_and_size_are_paired_unit_by_unit(runs):
    r = compare_runs(runs["default"], runs["mine"])
    assert r["paired"] and "same seed and units" in r["why"]
    f = both(runs["default"], runs["mine"])
    rows = {(x["organ"], x["outcome"]): x for x in r["rows"]}
    for outcome in ("died_nk", "arrested", "dormant", "alive"):
        ref = compare.paired_differences(f, outcome)["mine"]
        assert rows[(None, outcome)]["difference"] == pytest.approx(ref["difference"], abs=1e-15)
        np.testing.assert_allclose(rows[(None, outcome)]["ci95"], ref["ci95"], rtol=1e-9)
    ref = compare.paired_differences(f, "organ:lung")["mine"]
    assert rows[("lung", "arrested")]["difference"] == pytest.approx(ref["difference"], abs=1e-15)


def test_other_seeds_are_independent_with_the_wald_interval(runs):
    r = compare_runs(runs["default"], runs["mine_other_seed"])
    assert not r["paired"] and r["why"] == "different seeds"
    fa, fb = (x.fates.to_table().to_pandas() for x in (runs["default"], runs["mine_other_seed"]))
    row = next(x for x in r["rows"] if x["organ"] is None and x["outcome"] == "died_nk")
    pa, pb = (fa.fate == "died_nk").mean(), (fb.fate == "died_nk").mean()
    half = 1.959963984540054 * math.sqrt(pa * (1 - pa) / N + pb * (1 - pb) / N)
    assert row["difference"] == pytest.approx(pb - pa)
    np.testing.assert_allclose(row["ci95"], [pb - pa - half, pb - pa + half])


def test_pairing_narrows_the_interval(runs):
    """What common random numbers buy: the paired interval of the change in alive units is
    narrower than the independent one at the same size."""
    def width(r):
        x = next(x for x in r["rows"] if x["organ"] is None and x["outcome"] == "alive")
        return x["ci95"][1] - x["ci95"][0]
    assert width(compare_runs(runs["default"], runs["mine"])) < 0.8 * width(
        compare_runs(runs["default"], runs["mine_other_seed"]))


def test_compare_command_says_which_and_states_horizons(runs):
    r = cli("compare", runs["default"].path, runs["mine"].path, "--by-organ")
    assert r.exit_code == 0, r.output
    assert "paired: same seed and units" in r.output and "horizon 1 d (86,400 s)" in r.output
    assert "lung: arrested" in r.output
    r = cli("compare", runs["default"].path, runs["mine_other_seed"].path)
    assert "independent: different seeds" in r.output
    r = cli("compare", runs["default"].path, runs["mine"].path, "--arm-b", "nope")
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "no arm 'nope'" in r.output
