"""Parameter paths and study files: every scenario number by name, validated by the scenario's
own rules, and every mistake one line naming the file and the key."""
import pytest
from click.testing import CliRunner

from ctcsim import scenario as sc
from ctcsim.checks import ScenarioError
from ctcsim.cli import main
from ctcsim.studies import paths, study


@pytest.fixture(scope="module")
def arms():
    return sc.load("breast_antiplatelet")


@pytest.mark.parametrize("path, before", [
    ("biology.k_on_per_s", 1e-3),
    ("primary.diameter_median_um", 12.4),
    ("anatomy.lung.nk_rel", 1.0),
    ("soil.liver.niche", 1.0),
    ("adhesion.liver", None),
    ("arms.anti_platelet.multipliers.k_on_per_s", 0.1),
    ("arms.anti_platelet.multipliers.k_nk_per_s", 1.0),
    ("arms.anti_platelet.start_s", 0.0),
    ("entry.time_s", 0.0),
    ("t_max_s", 315576000.0),
    ("biology.cluster_exponent.nk", -1.0),
    ("biology.phenotype_factor.anoikis.1", 0.7),
])
def test_every_kind_of_path_reads_and_sets_a_number(arms, path, before):
    assert paths.value(arms, path) == before
    changed = paths.with_values(arms, {path: 0.25}, "study.toml")
    assert paths.value(changed, path) == 0.25
    assert paths.value(arms, path) == before, "the original scenario must not change"
    assert isinstance(changed, sc.Scenario) and changed is not arms


def test_a_set_value_reaches_the_compiled_model(arms):
    from ctcsim.compile import compile_model
    lung = compile_model(arms).compartment_names.index("lung")
    base = compile_model(arms).rates["nk"][lung, 0]
    doubled = compile_model(paths.with_values(arms, {"anatomy.lung.nk_rel": 2.0}, "s")).rates["nk"][lung, 0]
    assert doubled == pytest.approx(2 * base)


def test_integer_fields_take_the_nearest_integer(arms):
    assert paths.value(paths.with_values(arms, {"biology.micro_cells": 7.6}, "s"), "biology.micro_cells") == 8


@pytest.mark.parametrize("path, value, message", [
    ("biology.k_onn_per_s", 1.0, "study.toml: parameters[0]: biology.k_onn_per_s: unknown key 'k_onn_per_s'; "
                                 "did you mean 'k_on_per_s'?"),
    ("anatomy.lungg.nk_rel", 1.0, "unknown compartment 'lungg'; did you mean 'lung'?"),
    ("soil.liver.nich", 1.0, "unknown key 'nich'; did you mean 'niche'?"),
    ("soil.livr.niche", 1.0, "soil.livr: unknown organ"),
    ("arms.antiplatelet.start_s", 1.0, "unknown arm 'antiplatelet'; did you mean 'anti_platelet'?"),
    ("arms.anti_platelet.multipliers.k_foo", 1.0, "arms[1].multipliers.k_foo: unknown key"),
    ("biology.k_on_per_s", -1.0, "biology.k_on_per_s = -1: biology.k_on_per_s: expected a value >= 0.0"),
    ("biology.p_nk", 2.0, "expected a value in [0.0, 1.0], got 2.0"),
    ("biology.k_on_per_s", float("nan"), "expected a finite number, got nan"),
    ("biology.anoikis_on", 1.0, "names true or false, not a number"),
    ("biology", 1.0, "names a table, not a number"),
    ("t_max_s.x", 1.0, "t_max_s is a number; nothing is below it"),
    ("biology.phenotype_factor.anoikis.5", 1.0, "has 3 entries; expected an index from 0 to 2"),
    ("", 1.0, "expected a parameter path"),
])
def test_bad_paths_and_values_are_one_line_naming_file_and_key(arms, path, value, message):
    with pytest.raises(ScenarioError) as e:
        paths.with_values(arms, {path: value}, "study.toml", "parameters[0]")
    text = str(e.value)
    assert "\n" not in text and text.startswith("study.toml: parameters[0]: ") and message in text


GOOD = """
scenario = "breast"
units = 1000
[[parameters]]
path = "biology.k_on_per_s"
low = 1e-4
high = 1e-2
scale = "log"
"""


@pytest.mark.parametrize("extra, key, message", [
    ("unit = 3", "unit", "unknown key; did you mean 'units'?"),
    ("[design]\nkind = 'random'", "design.kind", "expected one of 'grid', 'lhs', 'sobol'"),
    ("[[parameters]]\npath = 'biology.k_nk'\nlow = 1\nhigh = 2", "parameters[1].path", "unknown key 'k_nk'"),
    ("[[parameters]]\npath = 'biology.k_nk_per_s'\nlow = 2\nhigh = 1", "parameters[1].high", "expected high > low"),
    ("[[parameters]]\npath = 'biology.k_nk_per_s'\nlow = 0\nhigh = 1\nscale = 'log'", "parameters[1].low",
     "a log scale needs low > 0"),
    ("[[parameters]]\npath = 'biology.p_nk'\nlow = 0.5\nhigh = 3", "parameters[1]", "expected a value in [0.0, 1.0]"),
    ("[[parameters]]\npath = 'biology.k_on_per_s'\nlow = 1\nhigh = 2", "parameters[1].path", "given twice"),
    ("[[outputs]]\noutcome = 'dead'", "outputs[0].outcome", "unknown outcome 'dead'"),
    ("[[outputs]]\noutcome = 'died_nk'\norgan = 'lung'", "outputs[0].organ", "happens before arrest"),
    ("[[outputs]]\noutcome = 'dormant'\norgan = 'moon'", "outputs[0].organ", "unknown organ 'moon'"),
    ("[[outputs]]\noutcome = 'dormant'\nversus = 'nothing'", "outputs[0].versus", "unknown arm"),
    ("[set]\n'biology.k_on' = 1.0", "set", "unknown key 'k_on'"),
    ("arms = ['treated']", "arms[0]", "unknown arm 'treated'"),
])
def test_bad_study_files_are_one_line_naming_file_and_key(tmp_path, extra, key, message):
    f = tmp_path / "study.toml"
    f.write_text(GOOD + "\n" + extra + "\n" if not extra.startswith(("unit =", "arms =")) else extra + "\n" + GOOD)
    with pytest.raises(ScenarioError) as e:
        study.load(f)
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"{f}: {key}: ") and message in text, text


def test_the_commands_report_a_bad_study_file_in_one_line_with_exit_code_2(tmp_path):
    f = tmp_path / "study.toml"
    f.write_text(GOOD.replace("biology.k_on_per_s", "biology.k_on_per_sec"))
    for command in (["sweep", str(f), "-o", str(tmp_path / "out")], ["sensitivity", str(f)], ["calibrate", str(f)]):
        r = CliRunner().invoke(main, command)
        assert r.exit_code == 2, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"ctcsim: error: {f}: parameters[0].path: "), r.output
    assert not (tmp_path / "out").exists(), "nothing is written for a bad study"
    f.write_text("units = [")
    r = CliRunner().invoke(main, ["sweep", str(f)])
    assert r.exit_code == 2 and r.output.startswith(f"ctcsim: error: {f}: not valid TOML")
    r = CliRunner().invoke(main, ["sweep", "-p", "biology.k_on_per_s=1:x", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--param biology.k_on_per_s=1:x: expected PATH=LOW:HIGH" in r.output
