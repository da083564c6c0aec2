"""``ctcsim report STUDY``: a sweep's response curves hold table.parquet's fractions and Wilson
intervals (over all units and per organ, the other parameters held on the grid's middle slice);
a sensitivity study shows Sobol' S1/ST or Morris mu*/sigma with their intervals; the page needs
no network; a study that cannot be reported is one line.  (tests/test_report_browser.py renders
a sweep's and a Sobol' study's report in Chromium.)"""
import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import SWEEP, SWEEP_DIAMETER, SWEEP_K_ON, TWO_HAZARDS

from ctcsim.cli import main
from ctcsim.report import study as study_report
from ctcsim.studies import study, sweep

K_ON, DIAMETER = SWEEP_K_ON, SWEEP_DIAMETER


def sensitivity_study(tmp_path, method: str, model: str, samples: int) -> str:
    (tmp_path / "two.toml").write_text(TWO_HAZARDS)
    (tmp_path / "s.toml").write_text(f"""
scenario = "two.toml"
units = 500
seed = 3
[[parameters]]
path = "biology.k_shear_per_s"
low = 1e-3
high = 5e-3
[[parameters]]
path = "biology.k_nk_per_s"
low = 1e-3
high = 2e-3
[[parameters]]
path = "biology.p_nk"
low = 0.1
high = 0.9
[sensitivity]
method = "{method}"
model = "{model}"
samples = {samples}
resamples = 100
[[outputs]]
outcome = "died_shear"
[[outputs]]
outcome = "died_nk"
""")
    return str(tmp_path / "s.toml")


def report(path) -> str:
    r = CliRunner().invoke(main, ["report", str(path)])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == str(path / "report.html")
    return (path / "report.html").read_text()


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'<figure class="plot" id="fig-([\w-]+)">(.*?)</figure>', html, re.S))


@pytest.fixture
def grid(sweep_report):
    """conftest's sweep, with its report (written by `ctcsim report`, which printed its path)."""
    return sweep_report


def test_a_sweep_report_has_one_response_figure_per_outcome_that_happened(grid):
    html = (grid / "report.html").read_text()
    t = pq.read_table(grid / "table.parquet").to_pylist()
    happened = {r["outcome"] for r in t if r["organ"] == "all" and r["count"] > 0}
    found = figures(html)
    assert set(found) == {f"response-{o}" for o in happened}
    # Over the scenario's 10 years some units reach a macrometastasis; the note says so only when none does.
    assert ("macrometastasis" in happened) == ("No unit reached a macrometastasis" not in html)
    for svg in found.values():  # a panel per parameter, a row per arm (and its organs): labels are text
        assert svg.count(f">{K_ON}<") >= 2 and svg.count(f">{DIAMETER}<") >= 2
        assert "control: all units" in svg and "anti_platelet: all units" in svg
    assert "by organ of arrest" in found["response-arrested"] and "by organ of arrest" not in found["response-died_nk"]
    assert not re.search(r'(src|href)="(?!#)', html), "self-contained: nothing loaded from elsewhere"
    assert "Horizon:</b> every unit is followed until 10 y (315,576,000 s)" in html


def test_response_curves_are_the_tables_fractions_and_intervals_on_the_grids_middle_slice(grid):
    c = study_report.collect(grid)
    t = pq.read_table(grid / "table.parquet").to_pandas()
    k_on = sorted(t[K_ON].unique())
    assert c.slices == {K_ON: {DIAMETER: 12.5}, DIAMETER: {K_ON: pytest.approx(k_on[1])}}
    arrested = next(r for r in c.responses if r.outcome == "arrested")
    for arm in ("control", "anti_platelet"):
        curves = arrested.panels[arm][K_ON]
        assert curves[0].label == "all units"
        rows = t[(t.arm == arm) & (t.outcome == "arrested") & (t[DIAMETER] == 12.5)].sort_values(K_ON)
        for curve in curves:
            r = rows[rows.organ == ("all" if curve.label == "all units" else curve.label)]
            assert list(curve.x) == pytest.approx(k_on)
            assert list(curve.y) == list(r.fraction) and list(curve.lo) == list(r.ci_low)
            assert list(curve.hi) == list(r.ci_high)
        # The organs drawn are those with the most units arrested (at any point), at most TOP_ORGANS
        # (organs with equal counts in either order).
        per_organ = t[(t.arm == arm) & (t.outcome == "arrested") & (t.organ != "all")].groupby("organ")["count"].max()
        ranked = per_organ[per_organ > 0].sort_values(ascending=False, kind="stable")
        assert [per_organ[cv.label] for cv in curves[1:]] == list(ranked.values[:study_report.TOP_ORGANS])
        assert len(ranked) > study_report.TOP_ORGANS
    organs_with_units = [(t[(t.arm == a) & (t.outcome == "arrested") & (t.organ != "all")]
                          .groupby("organ")["count"].max() > 0).sum() for a in ("control", "anti_platelet")]
    assert arrested.organs_left == max(organs_with_units) - study_report.TOP_ORGANS


def test_a_latin_hypercube_sweep_draws_every_point_against_each_parameter(tmp_path):
    out = tmp_path / "lhs"
    # On colorectal (one arm; arrest within a minute): the page draws half the panels of
    # breast_antiplatelet's two arms.
    args = [{"3": "5", "breast_antiplatelet": "colorectal"}.get(a, a) for a in SWEEP]
    args += ["--design", "lhs", "-o", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    c = study_report.collect(out)
    assert c.slices == {}
    points = np.array(c.metadata["points"])
    for r in c.responses:
        for j, p in enumerate(c.metadata["parameters"]):
            assert list(r.panels["control"][p][0].x) == sorted(points[:, j])
    assert "Every point of the lhs design is drawn: the other parameters vary too." in report(out)


def test_a_sobol_study_report_has_s1_and_st_bars_with_their_intervals(tmp_path):
    out = tmp_path / "sobol"
    r = CliRunner().invoke(main, ["sensitivity", sensitivity_study(tmp_path, "sobol", "simulation", 4), "-o", str(out),
                                  "-q"])
    assert r.exit_code == 0, r.output
    html = report(out)
    assert set(figures(html)) == {"sobol-0", "sobol-1", "outputs"}
    indices = pq.read_table(out / "indices.parquet").to_pylist()
    assert {i["index"] for i in indices} == {"S1", "ST"}
    for i in indices:  # every index in the page's table, with its interval
        assert (f"<td>{i['output']}</td><td>{i['parameter']}</td><td>{i['index']}</td><td>{i['estimate']:.4g}</td>"
                f"<td>[{i['ci_low']:.4g}, {i['ci_high']:.4g}]</td>") in html
    svg = figures(html)["sobol-0"]
    assert "first order S1" in svg and "total ST" in svg and "biology.k_shear_per_s" in svg
    c = study_report.collect(out)
    shear = dict(c.outputs)["died_shear (control)"]["biology.p_nk"]
    assert shear.lo is not None and (shear.lo <= shear.y).all() and (shear.y <= shear.hi).all()
    assert "bars: 95% Wilson intervals of the simulated fractions" in html


def test_a_morris_study_on_the_exact_model_shows_mu_star_and_sigma(tmp_path):
    out = tmp_path / "morris"
    r = CliRunner().invoke(main, ["sensitivity", sensitivity_study(tmp_path, "morris", "exact", 6), "-o", str(out),
                                  "-q"])
    assert r.exit_code == 0, r.output
    html = report(out)
    found = figures(html)
    assert set(found) == {"morris-0", "morris-1", "outputs"}
    assert "Morris mu*" in found["morris-0"] and "mu* against sigma" in found["morris-0"]
    mu_star = [i for i in pq.read_table(out / "indices.parquet").to_pylist() if i["index"] == "mu_star"]
    for i in mu_star:
        assert f"<td>mu_star</td><td>{i['estimate']:.4g}</td><td>[{i['ci_low']:.4g}, {i['ci_high']:.4g}]</td>" in html
    c = study_report.collect(out)
    assert all(curve.lo is None for _, by in c.outputs for curve in by.values()), "exact: no Monte Carlo interval"
    assert "exact probabilities, no Monte Carlo interval" in html and "exact probabilities (master equation)" in html


def test_a_study_that_cannot_be_reported_is_one_line(tmp_path, grid):
    half = tmp_path / "half"
    sweep.prepare(study.from_dict({"parameters": [{"path": K_ON, "values": [1e-4, 1e-3]}], "units": 10}), half)
    for args, says in (([str(half)], f"{half}: incomplete study; finish it with --resume {half}"),
                       ([str(grid), "--exact"], f"{grid}: --exact checks a run; a study directory has no run")):
        r = CliRunner().invoke(main, ["report", *args])
        assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1 and says in r.output, r.output
