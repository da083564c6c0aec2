"""The joint calibration (issue 11): predictions never reach the fit, the fit recovers known
parameters from targets the model itself made, and the command's output is a function of
the declaration and the seed."""
import math

import numpy as np
import pytest
from click.testing import CliRunner

from ctcsim import scenario as sc
from ctcsim.checks import ScenarioError
from ctcsim.cli import main
from ctcsim.validation import calibrated, declaration, jointfit, measures
from ctcsim.validation.measures import MEASURES


def test_the_declared_fit_reads_calibration_targets_only():
    rows = declaration.target_rows()
    predictions = {r["id"] for r in rows if r["role"] == "prediction"}
    decl = declaration.load()
    ids = {t.id for t in decl.targets}
    assert predictions and not ids & predictions
    assert ids == {r["id"] for r in rows if r["role"] == "calibration"} - {"site_frequencies_fit_series"}
    assert not set(MEASURES) & predictions  # the fit's measurements: none of a prediction


def test_a_prediction_named_as_a_target_is_refused():
    data = {"parameters": [{"path": "biology.p_dormant", "scenarios": ["luzzi1998"], "low": 0.5, "high": 0.99}],
            "targets": ["luzzi1998_micro_d3", "aceto2014_cluster_advantage"], "units": {"luzzi1998": 10}}
    with pytest.raises(ScenarioError, match=r"^cal.toml: targets\[1\]: aceto2014_cluster_advantage has role "
                                            r"'prediction'.*only calibration targets"):
        declaration.from_dict(data, "cal.toml", declaration.target_rows())


def _synthetic(truth: dict, seed: int, units: int, rel_sd: float):
    """Targets measured on the model itself at ``truth``, with a seed of their own, read as
    published values with a relative sd ``rel_sd`` (their 95 % interval +- 1.96 sd)."""
    params = [{"path": "biology.p_dormant", "scenarios": ["luzzi1998"], "low": 0.5, "high": 0.995},
              {"path": "biology.k_dormant_death_per_s", "scenarios": ["luzzi1998"], "low": 1e-8, "high": 1e-5,
               "scale": "log"}]
    ids = ["luzzi1998_micro_d3", "luzzi1998_dormant_d13"]
    s = sc.builtin_scenario("luzzi1998")
    from ctcsim.runner import simulate
    from ctcsim.studies import paths
    run = simulate(measures.EXPERIMENTS["luzzi1998"].prepare(paths.with_values(s, truth, "truth")), units, seed=seed)
    rows = []
    for tid in ids:
        v, _ = MEASURES[tid].of(run)
        half = 1.96 * rel_sd * v
        rows.append({"id": tid, "role": "calibration", "low": v - half, "high": v + half})
    return params, ids, rows


def test_the_fit_recovers_known_parameters_within_its_interval():
    # Truth away from the built-in values (0.96, 6.9e-7), where the fit starts. The targets come
    # from an independent simulation (seed 99); the fit runs on seed 1. At confidence 0.999 per
    # parameter the chance that a correct interval misses one of the two truths is <= 0.2 %.
    truth = {"biology.p_dormant": 0.9, "biology.k_dormant_death_per_s": 2e-6}
    params, ids, rows = _synthetic(truth, seed=99, units=40_000, rel_sd=0.05)
    data = {"parameters": params, "targets": ids, "units": {"luzzi1998": 20_000}, "seed": 1, "confidence": 0.999}
    decl = declaration.from_dict(data, "synthetic.toml", rows)
    result = jointfit.fit(decl, threads=1)
    for p in result.parameters:
        x = truth[p["path"]]
        assert p["identified"] and p["ci_low"] <= x <= p["ci_high"], p
        assert p["ci_high"] / p["ci_low"] < (1.5 if p["scale"] == "log" else 1.2), p  # the targets constrain it
    assert all(t["met"] for t in result.targets)


def _tiny(tmp_path):
    path = tmp_path / "cal.toml"
    path.write_text('targets = ["luzzi1998_micro_d3"]\n'
                    'parameters = [{ path = "biology.p_dormant", scenarios = ["luzzi1998"], low = 0.5, high = 0.995 }]\n'
                    '[units]\nluzzi1998 = 4000\n[fit]\niterations = 4\n')
    return path


def test_the_command_writes_the_same_bytes_for_the_same_seed(tmp_path):
    path = _tiny(tmp_path)
    out = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        r = CliRunner().invoke(main, ["calibrate-all", str(path), "-o", str(tmp_path / f"{name}.toml"),
                                      "--seed", seed, "--threads", "1"])
        assert r.exit_code == 0, r.output
        assert "evaluation" in r.output and "luzzi1998_micro_d3" in r.output
        out.append((tmp_path / f"{name}.toml").read_bytes())
    assert out[0] == out[1] and out[0] != out[2]
    assert b"[[parameter]]" in out[0] and b"seed = 2" in out[2]


def test_a_bad_declaration_is_one_line(tmp_path):
    path = _tiny(tmp_path)
    path.write_text(path.read_text().replace("luzzi1998_micro_d3", "fidler1970_lung_tumours_d14"))
    r = CliRunner().invoke(main, ["calibrate-all", str(path)])
    assert r.exit_code == 2 and "has role 'prediction'" in r.output and len(r.output.strip().splitlines()) == 1


def test_apply_replaces_adds_to_and_adds_the_table():
    text = "name = 'x'\n[biology]\nk_a = 1.0  # U: old\n\n[soil.lung]\nmacrophage = 43.0\n"
    once = calibrated.set_value(text, "biology", "k_a", 2.5, "C: new")
    assert "k_a = 2.5  # C: new" in once and "old" not in once
    added = calibrated.set_value(once, "biology", "k_b", 3.0, "C: b")
    assert added.index("k_b = 3") < added.index("[soil.lung]")
    table = calibrated.set_value(text, "soil.liver", "niche", 0.5, "C: n")
    assert table.endswith("[soil.liver]\nniche = 0.5  # C: n\n")


def test_the_half_life_is_when_the_circulation_first_holds_half_the_units():
    # 4 units enter at 0; unit 0 is trapped at 1 h, released at 2 h, trapped at 5 h; units 1, 2
    # leave at 3 h and 4 h; unit 3 is censored at 6 h. Occupancy 4 -> 3 (1 h) -> 4 (2 h) -> 3
    # (3 h) -> 2 (4 h): half first at 4 h, later than the median of first exits (3 h).
    import pyarrow as pa
    from ctcsim.runner import Result
    h = 3600.0
    events = pa.table({"unit_id": [0, 1, 2, 3, 0, 0, 1, 2, 0, 3], "time_s": [0, 0, 0, 0, h, 2 * h, 3 * h, 4 * h, 5 * h, 6 * h],
                       "event": ["enter"] * 4 + ["trapped", "released", "died_nk", "adhered", "trapped", "censored"]})
    fates = pa.table({"unit_id": [0, 1, 2, 3], "fate_time_s": [5 * h, 3 * h, 4 * h, 6 * h]})
    v, var = measures.meng2004_half_life(Result(fates, events, 1))
    assert v == 4.0 and var > 0
    events = events.set_column(2, "event", pa.array(["enter"] * 4 + ["trapped", "released", "move", "move", "trapped",
                                                                     "censored"]))
    assert measures.meng2004_half_life(Result(fates, events, 1)) == (6.0, 0.0)  # above half until the end


def test_apply_writes_identified_values_and_settings_only(tmp_path):
    (tmp_path / "luzzi1998.toml").write_text(sc.builtin_scenario_text("luzzi1998"))
    row = {"path": "biology.p_dormant", "scenarios": ["luzzi1998"], "estimate": 0.93, "ci_low": 0.92, "ci_high": 0.94,
           "open_low": False, "open_high": False, "identified": True}
    flat = {**row, "path": "biology.k_wake_per_s", "estimate": 5e-5, "identified": False}
    result = jointfit.Result([row, flat], [], 0.0, 1, 1, "")
    decl = declaration.from_dict({"parameters": [{k: row[k] for k in ("path", "scenarios")} | {"low": 0.5, "high": 0.99}],
                                  "targets": ["luzzi1998_micro_d3"], "units": {"luzzi1998": 10},
                                  "set": [{"path": "biology.k_wake_per_s", "scenarios": ["luzzi1998"], "value": 2e-8,
                                           "why": "a test"}]},
                                 "cal.toml", declaration.target_rows())
    assert calibrated.apply(result, decl, tmp_path, "cal.toml") == [tmp_path / "luzzi1998.toml"]
    s = sc.load(tmp_path / "luzzi1998.toml")
    assert s.biology.p_dormant == 0.93 and s.biology.k_wake_per_s == 2e-8  # the flat estimate is not written
    text = (tmp_path / "luzzi1998.toml").read_text()
    assert "p_dormant = 0.93  # C: joint fit" in text and "k_wake_per_s = 2e-08  # U: a test (set by cal.toml)" in text


def test_a_shared_parameter_takes_one_value_in_every_scenario_it_names():
    data = {"parameters": [{"path": "biology.p_dormant", "scenarios": ["luzzi1998", "fidler1970"], "low": 0.5,
                            "high": 0.9},
                           {"path": "soil.lung.macrophage", "scenarios": ["fidler1970"], "low": 1.0, "high": 100.0,
                            "scale": "log"}],
            "targets": ["luzzi1998_micro_d3", "fidler1970_alive_24h"], "units": {"luzzi1998": 10, "fidler1970": 10},
            "set": [{"path": "biology.trap_max", "scenarios": ["luzzi1998"], "value": 0.95, "why": "a test"}]}
    decl = declaration.from_dict(data, "cal.toml", declaration.target_rows())
    s = jointfit.Objective(decl).scenarios([0.5, 0.5])
    assert s["luzzi1998"].biology.p_dormant == s["fidler1970"].biology.p_dormant == pytest.approx(0.7)
    assert s["fidler1970"].soil["lung"]["macrophage"] == pytest.approx(10.0)
    assert s["luzzi1998"].soil["lung"]["macrophage"] != pytest.approx(10.0)  # not named there: its own value
    assert s["luzzi1998"].biology.trap_max == 0.95 and s["fidler1970"].biology.trap_max != 0.95
