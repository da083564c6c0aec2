"""The validation dossier (ctcsim.validation, ``ctcsim dossier``): every target has a row, --check
sees a changed value and a changed role, the committed dossier lists the committed split, and the
statistics it reports (Spearman's exact p, the half-life from the blood count, ratio intervals)
agree with scipy or with closed forms.  Everything here is exact or uses stub measurements:
the simulations themselves run in CI's ``ctcsim dossier --check``."""
import itertools
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import scipy.stats
from click.testing import CliRunner

from ctcsim.cli import main
from ctcsim.checks import ScenarioError
from ctcsim.validation import blood, dossier, measurements, misses, ranks, targets
from ctcsim.validation.intervals import Estimate, fold_reduction, fraction, ratio

REPO = Path(__file__).resolve().parents[1]


def test_every_target_has_a_measurement_and_the_committed_dossier_has_every_row_with_its_role():
    rows = targets.load()
    assert [t.id for t in rows] == list(measurements.MEASURES)  # one measurement per row, in the file's order
    committed = dossier.parse((REPO / "docs" / "VALIDATION.md").read_text(), "docs/VALIDATION.md")
    assert {i: role for i, (role, _) in committed.items()} == {t.id: t.role for t in rows}


def test_every_miss_of_the_committed_dossier_says_why():
    """Each MISS in docs/VALIDATION.md is listed under "Why each miss" with its diagnosis from
    misses.toml; the file names only target ids."""
    text = (REPO / "docs" / "VALIDATION.md").read_text()
    known = misses.load({t.id for t in targets.load()})
    table = text[:text.index("## Why each miss")]
    missed = [ln.split(" | ")[0].strip("| ") for ln in table.splitlines() if ln.startswith("| ") and "| MISS" in ln]
    assert missed, "the committed dossier has misses to explain"
    for i in missed:
        assert i in known and f"- **{i}** (" in text and known[i] in text, i


def test_a_diagnosis_of_no_target_or_without_text_is_one_line():
    with pytest.raises(ScenarioError, match="misses.toml: nope: not a target id"):
        misses.load({"a"}, '[nope]\ndiagnosis = "x"\n')
    with pytest.raises(ScenarioError, match="misses.toml: a: expected one key, diagnosis = a non-empty string"):
        misses.load({"a"}, '[a]\ndiagnosis = " "\n')


def _stub(monkeypatch, value=0.5):
    """Every measurement replaced by a fixed fraction (no simulation)."""
    def fake(runs):
        return measurements.Result(fraction(round(value * 1000), 1000), "1,000 units", "1 d", ("stub",))
    monkeypatch.setattr(dossier, "MEASURES", {t.id: fake for t in targets.load()})
    monkeypatch.setattr("ctcsim.validation.report._sites", lambda by_id: [])


def test_command_writes_a_row_per_target_and_check_sees_a_changed_value_and_a_changed_role(monkeypatch, tmp_path):
    _stub(monkeypatch)
    out = tmp_path / "VALIDATION.md"
    r = CliRunner().invoke(main, ["dossier", "--units", "1000", "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    rows = dossier.parse(text, "x")
    assert list(rows) == [t.id for t in targets.load()]
    assert "ctcsim dossier --units 1000 --seed 1" in text
    assert CliRunner().invoke(main, ["dossier", "--units", "1000", "-q", "--check", str(out)]).exit_code == 0

    changed = tmp_path / "changed.md"
    # 500 of 1000 (0.5 [0.469, 0.531]) committed as 700 of 1000: the 99.9 % intervals are apart
    changed.write_text(text.replace("| 0.5 [0.4691, 0.5309] |", "| 0.7 [0.6709, 0.7276] |", 1))
    r = CliRunner().invoke(main, ["dossier", "--units", "1000", "-q", "--check", str(changed)])
    assert r.exit_code == 1 and "meng2004_half_life: committed 0.7" in r.output, r.output
    # 520 of 1000 is within the Monte Carlo error of 500: agreement
    changed.write_text(text.replace("| 0.5 [0.4691, 0.5309] |", "| 0.52 [0.489, 0.5508] |", 1))
    assert CliRunner().invoke(main, ["dossier", "--units", "1000", "-q", "--check", str(changed)]).exit_code == 0

    changed.write_text(text.replace("| calibration |", "| prediction |", 1))
    r = CliRunner().invoke(main, ["dossier", "--units", "1000", "-q", "--check", str(changed)])
    assert r.exit_code == 1 and "meng2004_half_life: role 'prediction' committed, 'calibration'" in r.output

    changed.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("| koop1995")))
    r = CliRunner().invoke(main, ["dossier", "--units", "1000", "-q", "--check", str(changed)])
    assert r.exit_code == 1 and "koop1995_extravasation: not in the committed dossier" in r.output


def test_check_of_a_file_that_is_not_a_dossier_is_one_line(tmp_path):
    bad = tmp_path / "x.md"
    bad.write_text("# nothing\n")
    r = CliRunner().invoke(main, ["dossier", "--check", str(bad)])
    assert r.exit_code == 2 and r.output.startswith(f"ctcsim: error: {bad}: no dossier table") and r.output.count("\n") == 1


def test_verdicts_say_inside_or_how_far_off():
    t = next(t for t in targets.load() if t.id == "koop1995_extravasation")  # range 0.8-1
    def v(k, n):
        return dossier.verdict(t, measurements.Result(fraction(k, n), "", ""))
    assert v(90, 100) == "inside"
    assert v(2, 100).startswith("MISS: below, by ")
    assert v(0, 0) == "MISS: no value (undefined)"


def test_a_measurement_on_the_real_model_lands_in_its_row():
    """One cheap measurement end to end (luzzi1998, 2000 units): a fraction with its Wilson interval."""
    from ctcsim.validation.sim import Runs
    r = measurements.MEASURES["luzzi1998_dormant_d13"](Runs(2000, 3, threads=1, quiet=True))
    e = r.estimate
    assert 0 < e.low < e.value < e.high < 1 and r.horizon == "13 d" and r.n == "2,000 units"


@pytest.mark.parametrize("x, y", [([1, 2, 3, 4], [10, 30, 20, 40]), ([3, 1, 2], [1, 1, 2]), ([5, 1], [2, 9]),
                                  ([0.3, 0.1, 0.1, 0.5, 0.2], [4, 1, 2, 5, 3])])
def test_spearman_rho_and_exact_p_agree_with_scipy(x, y):
    ours = ranks.spearman(x, y)
    assert ours["rho"] == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=1e-12)
    # The exact one-sided p by brute force with scipy's rho (scipy's permutation_test takes ~20 s for n = 5)
    observed = scipy.stats.spearmanr(x, y).statistic
    null = [scipy.stats.spearmanr(x, [y[i] for i in p]).statistic for p in itertools.permutations(range(len(y)))]
    assert ours["p"] == pytest.approx(sum(r >= observed - 1e-9 for r in null) / len(null), abs=1e-12)


def test_pooled_p_is_the_share_of_joint_orderings_with_a_sum_of_rhos_at_least_the_observed():
    strata = [([1, 2, 3], [1, 3, 2]), ([2, 1], [5, 7]), ([4, 1, 3, 2], [4, 2, 3, 1]), ([1], [1])]
    got = ranks.pooled(strata)
    used = strata[:3]
    observed = sum(ranks.rho(x, y) for x, y in used)
    sums = [sum(ranks.rho(x, [y[i] for i in p]) for (x, y), p in zip(used, ps))
            for ps in itertools.product(*(itertools.permutations(range(len(y))) for _, y in used))]
    assert got["strata"] == 3 and got["orderings"] == 6 * 2 * 24
    assert got["p"] == pytest.approx(sum(s >= observed - 1e-9 for s in sums) / len(sums), abs=1e-15)


def test_blood_count_and_half_life_from_events_with_a_release(monkeypatch):
    """Unit i (of n = 100) enters at 0 and is trapped at time i + 1; unit 0 is released at 30.5
    and trapped again at 200: the count is n - t, one more from 30.5 to 200.  The release's
    event is the model's ("released": hazards.py's release hazard, where the model has it)."""
    monkeypatch.setattr(blood, "INTO_BLOOD", ("enter", "released"))
    n = 100
    ev, t = ["enter"] * n + ["trapped"] * n + ["released", "trapped"], [0.0] * n + [i + 1.0 for i in range(n)] + [30.5, 200.0]
    times, count = blood.blood_count(*blood.changes(pa.table({"time_s": t, "event": ev})))
    assert count[0] == n and count[np.searchsorted(times, 31.0)] == n - 31 + 1
    e = blood.half_life(times, count, n)
    # B(t) = n - floor(t) + 1 on [30.5, 200): B <= 50 first at t = 51
    assert e.value == 51.0
    inside = [k for k in range(n + 1) if fraction(k, n).low <= 0.5 <= fraction(k, n).high]
    assert e.low == n + 1 - max(inside) and e.high == n + 1 - min(inside) + 1
    assert blood.in_blood_at(times, count, n, 250.0).value == 0.0


def test_ratio_intervals():
    r = ratio(40, 1000, 20, 1000)
    half = 1.959963984540054 * math.sqrt(1 / 40 - 1 / 1000 + 1 / 20 - 1 / 1000)  # Katz
    assert r.value == pytest.approx(2.0) and r.low == pytest.approx(2 * math.exp(-half)) and r.high == pytest.approx(2 * math.exp(half))
    z = ratio(0, 1000, 0, 1000)
    assert math.isnan(z.value) and (z.low, z.high) == (0.0, math.inf)
    over_zero = fold_reduction(12, 0, 0, 1000)
    assert over_zero.value == math.inf and over_zero.high == math.inf and over_zero.low > 1
    paired = fold_reduction(30, 10, 10, 1000)  # 20 discordant units, all lost in the arm
    assert paired.value == pytest.approx(3.0) and paired.low > 1


def test_widened_keeps_no_information_and_stretches_each_side():
    assert Estimate(math.nan, 0.0, math.inf, "").widened(2) == Estimate(math.nan, 0.0, math.inf, "")
    w = Estimate(1.0, 0.5, 3.0, "").widened(2)
    assert (w.low, w.high) == (0.0, 5.0)


def test_alive_at_an_earlier_time_from_fates_observed_later():
    f = pa.table({"fate": ["died_nk", "arrested", "arrested", "censored"], "fate_time_s": [5.0, 1.0, 1.0, 100.0],
                  "post_arrest": ["none", "died_in_capillary", "dormant", "none"],
                  "post_arrest_time_s": [float("nan"), 50.0, 100.0, float("nan")]})
    assert measurements._alive_at(f, 10.0).tolist() == [False, True, True, True]
    assert measurements._alive_at(f, 60.0).tolist() == [False, False, True, True]


def test_every_site_series_reads_and_a_fitted_one_reads_as_the_fit_reads_it():
    from ctcsim.site_frequencies import read_sites
    from ctcsim.validation import held_out
    for table, ((label, part), others) in held_out.SERIES.items():
        fit = held_out.read_series(label, part, table)
        assert fit.values == {s.organ: s.value for s in read_sites(None, label, part).sites}
        for lab, p, _ in others:
            assert held_out.read_series(lab, p, table).values
    assert held_out.read_series("breast", "Newton").values == {"bone": 35.0, "brain": 5.0}  # "<5" ranked as 5
