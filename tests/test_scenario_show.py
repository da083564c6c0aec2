"""Scenarios a user edits (issue 12, frictions 3, 4 and 6): ``ctcsim scenario show NAME`` prints
TOML that runs as the built-in does and survives editing (an arm appended, a diameter
changed); a partial [primary] named like a built-in starts from it, and validate and run say
what it changed; a primary without a tropism table is said at validate and run time."""
import re

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ctcsim import read_run
from ctcsim import scenario as sc
from ctcsim.cli import main
from ctcsim.checks import toml_fields

UNITS = ["-n", "300", "--seed", "4", "-q"]
NEW_ARM = '\n[[arms]]\nname = "nk_boost"\ndescription = "NK activity x 2"\nmultipliers = { k_nk_per_s = 2.0 }\n'


def invoke(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


def fates(path, arm):
    return pq.read_table(path / "fates" / f"arm={arm}").select(["unit_id", "fate", "organ", "post_arrest"])


@pytest.mark.parametrize("name", sc.builtin_scenario_names())
def test_show_edit_run_for_every_builtin(name, tmp_path):
    """The printed scenario is the built-in (same fates for the same seed), begins with no
    `arms = []`, keeps the built-in file's comments; appending an arm and changing the diameter
    in [primary] runs, with that arm and that diameter."""
    text = invoke("scenario", "show", name).output
    assert not re.search(r"^arms\s*=", text, re.M), "arms come as [[arms]] tables, last"
    original = sc.builtin_scenario_text(name)
    for comment in re.findall(r"#[^\n]*", original):  # the built-in's own comments, every one
        assert comment.lstrip("# ").strip() in text, comment
    shown = tmp_path / "shown.toml"
    shown.write_text(text)
    s, base = sc.load(shown), sc.builtin_scenario(name)
    assert isinstance(s.primary, sc.Primary) and s.primary == base.resolved_primary()
    organs = base.resolved_anatomy().organs()
    assert set(s.adhesion) == set(organs) and set(s.soil) == set(organs), "every organ's factors written out"
    invoke("run", name, *UNITS, "-o", tmp_path / "builtin")
    invoke("run", shown, *UNITS, "-o", tmp_path / "as-shown")
    for arm in base.arm_names():
        assert fates(tmp_path / "as-shown", arm).equals(fates(tmp_path / "builtin", arm)), arm

    diameter = s.primary.diameter_median_um + 1.5
    edited_text = re.sub(r"^diameter_median_um = [^\n]*", f"diameter_median_um = {diameter}", text, count=1,
                         flags=re.M)
    added = ('\n[[arms]]\nname = "control"\n' if not base.arms else "") + NEW_ARM
    edited = tmp_path / "edited.toml"
    edited.write_text(edited_text + added)
    assert "ok" in invoke("validate", edited).output
    invoke("run", edited, *UNITS, "-o", tmp_path / "edited")
    run = read_run(tmp_path / "edited")
    assert run.metadata["arms"] == [a.name for a in base.arms or [sc.Arm("control")]] + ["nk_boost"]
    assert run.scenario.resolved_primary().diameter_median_um == diameter
    assert run.scenario.arms[-1].multipliers == {"k_nk_per_s": 2.0}


def test_every_key_has_a_comment_in_the_printed_default(tmp_path):
    text = invoke("scenario", "show", "breast").output
    lines = {m.group(1): m.group(2) for m in re.finditer(r"^(\w+) = [^\n#]*(#.*)?$", text, re.M)}
    for cls in (sc.Biology, sc.Entry):
        for key, field in toml_fields(cls).items():
            if field.metadata["doc"] and getattr(getattr(sc.builtin_scenario("breast"), cls.__name__.lower()), key) \
                    is not None:  # None (an entry's site, for drainage) is not written
                assert lines.get(key), key
    assert "# 10 years" in text and "[primary]" in text and "[adhesion]" in text


def test_resolved_also_writes_the_anatomy_inline(tmp_path):
    text = invoke("scenario", "show", "breast", "--resolved").output
    assert "[[anatomy.compartments]]" in text and not re.search(r"^anatomy = ", text, re.M)
    (tmp_path / "r.toml").write_text(text + NEW_ARM)
    assert sc.load(tmp_path / "r.toml").resolved_anatomy() == sc.builtin_scenario("breast").resolved_anatomy()


def test_a_partial_primary_named_like_a_builtin_starts_from_it_and_is_said(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('name = "mine"\n[primary]\nname = "breast"\ndiameter_median_um = 14.0\n')
    s, breast = sc.load(f), sc.builtin_primary("breast")
    assert s.primary.diameter_median_um == 14.0
    assert (s.primary.cluster_size_probs, s.primary.phenotype_mix, s.primary.diameter_sigma_log, s.primary.entry) == \
        (breast.cluster_size_probs, breast.phenotype_mix, breast.diameter_sigma_log, breast.entry)
    said = "[primary] 'breast' is the built-in primary with diameter_median_um = 14.0 (built-in: 12.4)"
    assert f"{f}: note: {said}" in invoke("validate", f).output
    r = CliRunner().invoke(main, ["run", str(f), "-n", "200", "--seed", "1", "-o", str(tmp_path / "run")])
    assert r.exit_code == 0 and f"ctcsim: note: {said}" in r.output
    assert "note:" not in invoke("validate", "breast").output, "an unchanged built-in needs no note"


def test_a_primary_without_a_tropism_table_is_said_at_validate_and_run(tmp_path):
    said = "The primary 'melanoma' has no tropism table: every organ's adhesion factor"
    assert f"melanoma: note: {said}" in invoke("validate", "melanoma").output
    r = CliRunner().invoke(main, ["run", "melanoma", "-n", "200", "--seed", "1", "-o", str(tmp_path / "run")])
    assert r.exit_code == 0 and f"ctcsim: note: {said}" in r.output
    (tmp_path / "given.toml").write_text(invoke("scenario", "show", "melanoma").output.replace(
        "liver = 1.0", "liver = 3.0"))
    assert "note:" not in invoke("validate", tmp_path / "given.toml").output, "factors given: nothing to say"
