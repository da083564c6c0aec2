"""ctcsim report: its tables against independent computations from the fates, its HTML
(self-contained, stating the horizon and what the reader must know), and the command.

Runs: breast_antiplatelet (two arms, events) and melanoma (no tropism table), a few thousand
units each, made once per module through the command line as a user makes them.
"""
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

import ctcsim
from ctcsim import compare, units
from ctcsim.cli import main
from ctcsim.hazards import FATES, GONE, POST_ARREST
from ctcsim.report import content, paired, tables

N = 3000


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def two_arms(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "ap"
    # Observed one day (not the scenario's 10 years): the report must say that no metastasis has formed yet.
    assert cli("run", "breast_antiplatelet", "-n", N, "--seed", 5, "--events", "--horizon", "1d", "-o", out,
               "-q").exit_code == 0
    return ctcsim.read_run(out)


@pytest.fixture(scope="module")
def page(two_arms, tmp_path_factory):
    """`ctcsim report RUN -o FILE`, once for the tests of the page and of the command (drawing
    the figures is most of a second of CPU each): the command's result and the file."""
    path = tmp_path_factory.mktemp("page") / "x.html"
    return cli("report", two_arms.path, "-o", path), path


@pytest.fixture(scope="module")
def fates(two_arms):
    return two_arms.fates.to_table().to_pandas()


@pytest.fixture(scope="module")
def tab(two_arms):
    return tables.tabulate(two_arms)


def test_cascade_and_organ_table_count_what_the_fates_hold(tab, fates):
    """Every stage and every organ x outcome cell equals a count made with pandas."""
    for arm, t in tab["arms"].items():
        f = fates[fates.arm == arm]
        arrested = f[f.fate == "arrested"]
        alive = ~f.fate.isin([x for x in FATES if x.startswith("died_")]) & ~f.post_arrest.isin(GONE)
        expected = [len(f), len(arrested), f.extravasation_time_s.notna().sum(),
                    f.micrometastasis_time_s.notna().sum(), (f.post_arrest == "macrometastasis").sum()]
        assert t.stages.tolist() == expected and t.alive == alive.sum()
        for row in t.organ_table():
            here = arrested[arrested.organ == row["organ"]]
            assert row["arrested"] == len(here) and row["extravasated"] == here.extravasation_time_s.notna().sum()
            assert row["alive"] == (~here.post_arrest.isin(GONE)).sum()
            assert row["post_arrest"] == {k: v for k, v in here.post_arrest.value_counts().items() if v}
        assert sum(r["arrested"] for r in t.organ_table()) == len(arrested)


def test_paired_differences_per_organ_match_compare(tab, fates):
    """Arrest in each organ: the paired difference and its interval equal those of
    ctcsim.compare.paired_differences (mean per-unit difference +- 1.96 se), computed per unit."""
    rows = {(r["organ"], r["outcome"]): r for r in tab["paired"]["anti_platelet"].differences()}
    for organ in ("lung", "liver", "bone"):
        ref = compare.paired_differences(fates, f"organ:{organ}")["anti_platelet"]
        got = rows[(organ, "arrested")]
        assert got["difference"] == pytest.approx(ref["difference"], abs=1e-15)
        np.testing.assert_allclose(got["ci95"], ref["ci95"], rtol=1e-9)
    for outcome in ("alive", "died_in_capillary", "dormant"):
        ref = compare.paired_differences(fates, outcome)["anti_platelet"]
        assert rows[(None, outcome)]["difference"] == pytest.approx(ref["difference"], abs=1e-15)
        np.testing.assert_allclose(rows[(None, outcome)]["ci95"], ref["ci95"], rtol=1e-9)


def test_relative_risk_interval_is_the_matched_pairs_delta_method():
    """Two parts accumulate as one; RR = (a + b) / (a + c), var log RR = (b + c) / ((a + b)(a + c))."""
    organs = ["lung"]

    class U:  # the fields Paired reads
        def __init__(self, hit):
            self.n, self.unit_id = len(hit), np.arange(len(hit))
            self.organ = np.where(hit, 0, -1)
            self.outcome = {o: np.array(hit, bool) for o in tables.ORGAN_OUTCOMES}
            self.unit_outcome = {o: np.array(hit, bool) for o in tables.UNIT_OUTCOMES}

    arm = [1] * 30 + [1] * 10 + [0] * 5 + [0] * 55     # a = 30 both, b = 10 arm only, c = 5 control only
    ctl = [1] * 30 + [0] * 10 + [1] * 5 + [0] * 55
    p = paired.Paired(organs)
    p.add(U(arm[:50]), U(ctl[:50]))
    p.add(U(arm[50:]), U(ctl[50:]))
    r = next(r for r in p.differences() if r["organ"] == "lung" and r["outcome"] == "arrested")
    assert r["relative_risk"] == pytest.approx(40 / 35)
    half = 1.959963984540054 * math.sqrt(15 / (40 * 35))
    np.testing.assert_allclose(r["rr_ci95"], [40 / 35 * math.exp(-half), 40 / 35 * math.exp(half)])
    assert r["difference"] == pytest.approx(5 / 100)


def test_time_courses_end_at_each_outcomes_fraction(tab, fates):
    """The cumulative incidence ends at the fraction of units with the outcome; the circulating
    population at 1 ms (the first bin's right edge) is every unit (all enter at 0) less those whose
    circulation ended by then, and it ends at those censored in circulation."""
    t = tab["arms"]["control"]
    f = fates[fates.arm == "control"]
    curves = t.cumulative_incidence()
    assert curves["arrested"][-1] == pytest.approx((f.fate == "arrested").mean())
    assert curves["died_in_capillary"][-1] == pytest.approx((f.post_arrest == "died_in_capillary").mean())
    n = t.circulating()
    ended = (f.fate != "censored") & (f.fate_time_s < tables.EDGES_S[1])
    assert n[0] == N - ended.sum() and n[-1] == (f.fate == "censored").sum()


def test_circulating_time_by_compartment_adds_up_to_the_fates(two_arms, tab):
    """The events' circulating unit-seconds over all compartments equal the fates' sum of
    (end of circulation - entry)."""
    spent = tables.time_by_compartment(two_arms, "control")
    assert sum(spent.values()) == pytest.approx(tab["arms"]["control"].circulating_s, rel=1e-9)
    lymph = ("afferent_lymph", "regional_lymph_nodes", "thoracic_duct")
    # Breast units circulate for hours (Meng's half-life): the veins hold them longest; in the
    # lymph, the afferent vessels where 69 % of them spend ~2 min first.
    assert max(spent, key=spent.get) == "systemic_veins"
    assert max((c for c in spent if c in lymph), key=spent.get) == "afferent_lymph"


def test_report_is_self_contained_and_states_the_horizon(page):
    text = page[1].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text), "a resource from the network"
    assert "<link" not in text and "<script src" not in text
    assert "every unit is followed until 1 d (86,400 s)" in text
    assert "No unit reached a macrometastasis by the horizon" in text
    for fig in ("cascade", "organs", "times", "forest", "spent"):
        assert f'id="fig-{fig}"' in text
    assert "Iran J Med Sci" in text  # the clinical series the breast table came from


def test_primary_without_tropism_table_is_said(tmp_path):
    out = tmp_path / "mel"
    assert cli("run", "melanoma", "-n", 500, "--seed", 1, "-o", out, "-q").exit_code == 0
    c = content.collect(ctcsim.read_run(out))
    assert c.clinical is None and any("no tropism table" in n for n in c.notes)
    assert c.differences == {} and c.compartments is None


def test_report_command(page, tmp_path):
    r, path = page
    assert r.exit_code == 0 and r.output.strip() == str(path)
    r = CliRunner().invoke(main, ["report", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "ctcsim: error:" in r.output


@pytest.mark.parametrize("x, text", [(0, "0"), (1, "1"), (1.5e-5, "1.50e-05"), (0.0215, "0.0215"),
                                     (0.99981, "0.9998"), (0.5, "0.500"), (-0.00162, "-0.00162")])
def test_fractions_keep_their_digits(x, text):
    """Issue 12, friction 2: no rare outcome printed as 0, no near-certain one as 1."""
    assert units.fraction(x) == text


@pytest.mark.parametrize("text, seconds", [("6h", 21600), ("365d", 365 * 86400), ("10y", 10 * 365.25 * 86400),
                                           ("90 min", 5400), ("3600", 3600), ("1.5e3s", 1500), ("inf", math.inf)])
def test_durations_read_with_units(text, seconds):
    assert units.parse_duration(text) == seconds


def test_bad_duration_is_one_clear_error():
    with pytest.raises(ValueError, match=r"expected a duration such as 6h.*got '10 parsecs'"):
        units.parse_duration("10 parsecs")


def test_durations_print_in_readable_units_beside_seconds():
    assert units.duration_s(86400) == "1 d (86,400 s)"
    assert units.duration_s(36 * 3600) == "1.5 d (129,600 s)"
    assert units.duration(math.inf) == "no end" and units.duration(0.25) == "0.25 s"


def test_post_arrest_outcomes_are_the_hazard_tables():
    assert set(tables.TIMED) <= set(FATES) | set(POST_ARREST) | {"extravasated"}


def test_notebook_api_short_reprs_tables_and_figures_on_demand(two_arms, tab):
    """Issue 12: Run and Result print one short line (the Run repr was all of run.json, 50 kB);
    run.summary() holds pyarrow tables equal to the report's; figures come as SVG when asked."""
    assert len(repr(two_arms)) < 200 and "breast_antiplatelet" in repr(two_arms)
    result = ctcsim.simulate(ctcsim.load_scenario("breast"), 50, seed=1)
    assert repr(result) == "Result(50 fates in arm(s) control, no events, seed 1)"
    s = two_arms.summary()
    fates = s.fates.to_pandas().set_index(["arm", "outcome"])
    assert fates.loc[("control", "arrested"), "count"] == tab["arms"]["control"].fates[FATES.index("arrested")]
    assert set(s.organs.column("arm").to_pylist()) == {"control", "anti_platelet"}
    assert s.paired.num_rows == len(tab["paired"]["anti_platelet"].differences())
    assert s.plot("forest")._repr_svg_().startswith("<svg")
    assert "<table>" in s._repr_html_()
    with pytest.raises(ValueError, match="no figure 'pie'; figures: cascade"):
        s.plot("pie")


def test_no_discordant_unit_does_not_claim_certainty():
    """14 units with the outcome in both arms and none in one only: the difference is 0 but its
    interval is +-(Wilson upper bound of 0 in n), not [0, 0]; the ratio's interval contains 1."""
    r = paired.paired_row("liver", "macrometastasis", 14, 14, 14, 200_000)
    u = 1.959963984540054 ** 2 / (200_000 + 1.959963984540054 ** 2)
    assert r["difference"] == 0 and r["ci95"] == pytest.approx([-u, u])
    assert r["rr_ci95"][0] < 1 < r["rr_ci95"][1]
    assert r["rr_ci95"] == pytest.approx([14 / (14 + u * 200_000), (14 + u * 200_000) / 14])
