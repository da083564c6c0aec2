"""Horizons of a disease (issue 11, item 6): the human scenarios observe 10 years, every summary
states its horizon, the default's summary shows the disease by organ, a built-in experiment is
judged only at its own time point, and a shedding primary can be resected before the horizon."""
import dataclasses
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

import ctcsim
from ctcsim import compile as cp
from ctcsim import scenario as sc
from ctcsim.analysis import summarize
from ctcsim.checks import ScenarioError
from ctcsim.cli import main

YEAR_S = 365.25 * 86400
HUMAN = ("breast", "breast_antiplatelet", "breast_shedding", "colorectal", "lung", "melanoma", "prostate")


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def breast(tmp_path_factory):
    out = tmp_path_factory.mktemp("horizon") / "b"
    r = cli("run", "-n", 3000, "--seed", 3, "-o", out)
    assert r.exit_code == 0, r.output
    return out, r.stdout


def test_human_scenarios_observe_ten_years_and_the_mouse_their_experiments():
    for name in HUMAN:
        s = sc.load(name)
        assert s.t_max_s == 10 * YEAR_S, name
        b = s.biology  # dormancy on years (mean 20 y), colonies doubling in months
        assert 1 / (b.k_wake_per_s + b.k_dormant_death_per_s) == pytest.approx(20 * YEAR_S, rel=0.01), name
        assert 60 * 86400 < math.log(2) / (b.birth_per_s - b.death_per_s) < 200 * 86400, name
    assert sc.load("fidler1970").t_max_s == 86400 and sc.load("luzzi1998").t_max_s == 13 * 86400


def test_every_table_states_the_horizon_and_the_disease_is_shown_by_organ(breast):
    out, text = breast
    headers = [line for line in text.splitlines() if line.startswith("control:") or line.strip().startswith(
        ("after arrest", "arrested in", "by organ"))]
    assert len(headers) == 4 and all("10 y" in h for h in headers), headers
    doc = json.loads(cli("summarize", out, "--json").stdout)
    rows = doc["organ_states"]["control"]
    arrests = ctcsim.read_run(out).fates.to_table().to_pandas().organ.value_counts()
    assert [r["organ"] for r in rows] == list(arrests[arrests > 0].index)  # by arrests, most first
    after = doc["summary"]["arms"]["control"]["after_arrest"]
    for state in ("dormant", "micrometastasis", "macrometastasis"):
        assert sum(r[state]["count"] for r in rows) == after[state]["count"], state
        for r in rows:  # each count's 95% Wilson interval of its share of all units
            lo, hi = r[state]["ci95"]
            assert lo <= r[state]["count"] / 3000 <= hi and hi > 0
    lung = next(line for line in text.splitlines() if line.strip().startswith("lung ") and "[" in line)
    assert lung.count("[") >= 3  # dormant, micrometastasis, macrometastasis at least, each with its interval


def test_the_horizon_is_in_the_run_metadata_and_the_json(breast):
    out, _ = breast
    run = ctcsim.read_run(out)
    assert run.metadata["horizon_s"] == 10 * YEAR_S and run.metadata["horizon"] == "10 y"
    s = summarize(run.fates)  # from the metadata every file of the run carries
    assert (s["horizon_s"], s["horizon"]) == (10 * YEAR_S, "10 y")
    assert summarize(run.fates, horizon_s=86400.0)["horizon"] == "1 d"
    r = cli("run", "fidler1970", "-n", 50, "--seed", 1, "--horizon", "14d", "-o", out.parent / "f", "--json")
    doc = json.loads(r.stdout)
    assert (doc["horizon_s"], doc["horizon"], doc["summary"]["horizon"]) == (14 * 86400, "14 d", "14 d")


def test_an_experiment_is_judged_only_at_its_own_time_point(tmp_path):
    """fidler1970 observed 14 d (--horizon) is not judged against the 24 h figure; at 24 h it is."""
    for horizon, judged in (("14d", False), ("24h", True)):
        out = tmp_path / horizon
        assert cli("run", "fidler1970", "-n", 300, "--seed", 1, "--horizon", horizon, "-o", out, "-q").exit_code == 0
        doc = json.loads(cli("summarize", out, "--json").stdout)
        assert bool(doc["experiment"]) == judged
        assert any("published figures of fidler1970 are at 1 d" in n for n in doc["notes"]) != judged


def test_shedding_stops_at_resection_and_what_was_shed_is_followed_to_the_horizon():
    s = sc.load("breast_shedding")
    e = s.entry
    assert e.resection_s == 2 * YEAR_S < s.t_max_s
    grid = cp.entry_time_grid(s)
    assert grid[0] == 0.0 and grid[-1] == pytest.approx(e.resection_s) and np.all(np.diff(grid) >= 0)
    # Shedding until resection is shedding until a horizon at the resection.
    cut = dataclasses.replace(s, t_max_s=e.resection_s, entry=dataclasses.replace(e, resection_s=math.inf))
    assert cp.expected_units(s) == cp.expected_units(cut)
    assert 1e7 < cp.expected_units(s) < 1e8  # simulable whole: the scenario file says ~5e7
    r = ctcsim.simulate(s, 200, seed=4)
    entry = r.fates.column("entry_time_s").to_numpy()
    assert entry.max() <= e.resection_s and entry.min() >= 0
    assert np.nanmax(r.fates.column("post_arrest_time_s").to_numpy()) <= s.t_max_s


def test_a_resection_must_be_a_positive_time():
    d = sc.load("breast_shedding").to_dict()
    d["entry"]["resection_s"] = 0.0
    with pytest.raises(ScenarioError, match=r"entry\.resection_s"):
        sc.from_dict(d, "test")


def test_the_report_shows_the_disease_by_organ_at_the_horizon(breast, tmp_path):
    out, _ = breast
    assert cli("report", out, "-o", tmp_path / "r.html").exit_code == 0
    html = (tmp_path / "r.html").read_text()
    i = html.index("control: by organ at 10 y, units in each state")
    assert all(f"<th>{s}</th>" in html[i:i + 600] for s in ("dormant", "micrometastasis", "macrometastasis"))


def test_paired_differences_of_a_run_state_its_horizon(tmp_path):
    from ctcsim import compare

    out = tmp_path / "ap"
    assert cli("run", "breast_antiplatelet", "-n", 200, "--seed", 1, "--horizon", "30d", "-o", out, "-q").exit_code == 0
    d = compare.run_paired_differences(ctcsim.read_run(out))
    assert (d["horizon_s"], d["horizon"]) == (30 * 86400, "30 d") and "anti_platelet" in d["arms"]


def test_the_scenario_list_gives_each_horizon():
    rows = {line.split()[0]: line.split()[1:3] for line in cli("scenarios").stdout.splitlines()}
    assert rows["breast"] == ["10", "y"] and rows["fidler1970"] == ["1", "d"] and rows["luzzi1998"] == ["13", "d"]
