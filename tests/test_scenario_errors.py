"""Every mistake in a scenario gives one line naming the file and the key, never a traceback:
from ``load``, from ``ctcsim validate`` and ``ctcsim run`` (exit 2, nothing written), and from
``validate`` on a Scenario however it was built (issue 9, "Inputs that get a traceback, a hang
or nonsense")."""
import copy
import dataclasses
import math
import warnings

import pytest
import tomli_w
from click.testing import CliRunner
from conftest import RICH

from ctcsim import scenario as sc
from ctcsim._compat import tomllib
from ctcsim.checks import ScenarioError
from ctcsim.cli import main
from ctcsim.compile import compile_model

BASE = tomllib.loads(RICH)


def edit(fn):
    d = copy.deepcopy(BASE)
    fn(d)
    return d


def comps(d):
    return d["anatomy"]["compartments"]


def edges(d):
    return d["anatomy"]["edges"]


def arm(**multipliers):
    return lambda d: d.update(arms=[{"name": "treated", "multipliers": multipliers}])


# (what is wrong, the change, the key the error must name, a word the message must hold)
CASES = [
    ("negative rate", lambda d: d["biology"].update(k_nk_per_s=-1.0), "biology.k_nk_per_s", ">="),
    ("rate of the wrong type", lambda d: d["biology"].update(k_shear_per_s="fast"), "biology.k_shear_per_s", "number"),
    ("unknown biology key", lambda d: d["biology"].update(k_nk_per_sec=1.0), "biology.k_nk_per_sec", "k_nk_per_s"),
    ("unknown top-level key", lambda d: d.update(tmax_s=3.0), "tmax_s", "t_max_s"),
    ("flows that do not sum to 1", lambda d: edges(d)[2].update(fraction=0.4), "anatomy.edges", "arteries"),
    ("edge to an unknown compartment", lambda d: edges(d)[0].update(to="lungs"), "anatomy.edges[0].to", "lungs"),
    ("edge from an unknown compartment", lambda d: edges(d)[1].update({"from": "lug"}), "anatomy.edges[1].from", "lug"),
    ("bed without capillary diameter", lambda d: comps(d)[1].pop("capillary_diameter_um"),
     "anatomy.compartments[1].capillary_diameter_um", "lung"),
    ("zero transit time", lambda d: comps(d)[0].update(transit_s=0.0), "anatomy.compartments[0].transit_s", ">="),
    ("zero Erlang stages", lambda d: comps(d)[2].update(stages=0), "anatomy.compartments[2].stages", "[1, 1000]"),
    ("fractional Erlang stages", lambda d: comps(d)[2].update(stages=1.5), "anatomy.compartments[2].stages", "integer"),
    ("unknown compartment kind", lambda d: comps(d)[0].update(kind="vein"), "anatomy.compartments[0].kind", "pool"),
    ("duplicate compartment", lambda d: comps(d)[4].update(name="liver"), "anatomy.compartments[4].name", "duplicate"),
    ("compartment without name", lambda d: comps(d)[3].pop("name"), "anatomy.compartments[3].name", "missing"),
    ("negative shear", lambda d: comps(d)[3].update(shear_dyn_cm2=-2.0), "anatomy.compartments[3].shear_dyn_cm2", ">="),
    ("pool with a capillary diameter", lambda d: comps(d)[0].update(capillary_diameter_um=5.0),
     "anatomy.compartments[0]", "pool"),
    ("misspelt compartment key", lambda d: comps(d)[0].update(transit=3.0), "anatomy.compartments[0].transit", "transit_s"),
    ("negative edge fraction", lambda d: edges(d)[2].update(fraction=-0.3), "anatomy.edges[2].fraction", ">"),
    ("probability above 1", lambda d: d["biology"].update(p_nk=1.5), "biology.p_nk", "[0.0, 1.0]"),
    ("entry into an unknown compartment", lambda d: d["primary"]["entry"].update(vein=0.0),
     "primary.entry.vein", "unknown"),
    ("entry weights that do not sum to 1", lambda d: d["primary"].update(entry={"veins": 0.5}), "primary.entry", "sum"),
    ("cluster probabilities that do not sum to 1", lambda d: d["primary"].update(cluster_size_probs=[0.5, 0.2]),
     "primary.cluster_size_probs", "sum"),
    ("phenotype mix of the wrong length", lambda d: d["primary"].update(phenotype_mix=[0.5, 0.5]),
     "primary.phenotype_mix", "3"),
    ("negative diameter", lambda d: d["primary"].update(diameter_median_um=-8.0), "primary.diameter_median_um", ">"),
    ("unknown built-in anatomy", lambda d: d.update(anatomy="human_elf"), "anatomy", "human_elf"),
    ("adhesion for an unknown organ", lambda d: d["adhesion"].update(spleen=2.0), "adhesion.spleen", "organ"),
    ("injection without a site", lambda d: d.update(entry={"mode": "injection"}), "entry.site", "site"),
    ("injection into an unknown site", lambda d: d.update(entry={"mode": "injection", "site": "tail"}),
     "entry.site", "tail"),
    ("unknown entry mode", lambda d: d.update(entry={"mode": "shedding_fast"}), "entry.mode", "drainage"),
    ("arm multiplying an unknown parameter", arm(k_onn=2.0), "arms[0].multipliers.k_onn", "k_on_per_s"),
    ("duplicate arm", lambda d: d.update(arms=[{"name": "a"}, {"name": "a"}]), "arms[1].name", "duplicate"),
    ("arms not a list", lambda d: d.update(arms={"name": "a"}), "arms", "list"),
    ("unreachable compartment", lambda d: (comps(d).append(
        {"name": "island", "kind": "pool", "transit_s": 1.0}), edges(d).append(
        {"from": "island", "to": "veins", "fraction": 1.0})), "anatomy", "island"),
    ("negative t_max", lambda d: d.update(t_max_s=-5.0), "t_max_s", ">"),
    ("cluster exponents of the wrong length", lambda d: d["biology"].update(cluster_exponents=[0.0, 1.0]),
     "biology.cluster_exponents", "6 numbers"),
    ("sphere model beside the passage model", lambda d: d["biology"].update(cluster_trap_exponent=0.3,
                                                                             cluster_cell_trap=0.0),
     "biology.cluster_trap_exponent", "sphere model, which cluster_cell_trap replaces"),
    ("deformability of the wrong length", lambda d: d["biology"].update(trap_deformability=[1.0, 2.0]),
     "biology.trap_deformability", "3 positive numbers"),
    ("cluster exponent of an unknown group", lambda d: d["biology"].update(cluster_exponent={"shaer": 1.0}),
     "biology.cluster_exponent", "unknown factor group 'shaer'"),
    ("phenotype factors of the wrong length", lambda d: d["biology"].update(phenotype_factor={"nk": [1.0]}),
     "biology.phenotype_factor", "nk: expected 3 non-negative numbers"),
    ("soil for an unknown organ", lambda d: d.update(soil={"pancreas": {"niche": 2.0}}), "soil.pancreas", "organ"),
    ("unknown soil factor", lambda d: d.update(soil={"liver": {"nitche": 2.0}}), "soil.liver.nitche", "niche"),
    ("negative soil factor", lambda d: d.update(soil={"liver": {"macrophage": -1.0}}), "soil.liver.macrophage",
     "non-negative"),
    ("arm starting at a negative time", lambda d: d.update(arms=[{"name": "a", "start_s": -1.0}]),
     "arms[0].start_s", ">="),
    ("shedding from a zero-mass tumour", lambda d: d.update(entry={"mode": "shedding", "tumour_mass_g": 0.0}),
     "entry.tumour_mass_g", "nanogram"),
    ("micrometastasis of zero cells", lambda d: d["biology"].update(micro_cells=0), "biology.micro_cells", ">="),
    # Integers beyond what the core holds (int32), and what would make a unit take forever.
    ("2**31 Erlang stages", lambda d: comps(d)[2].update(stages=2**31), "anatomy.compartments[2].stages", "[1, 1000]"),
    ("micrometastasis of 2**31 cells", lambda d: d["biology"].update(micro_cells=2**31), "biology.micro_cells",
     "[1, 100000]"),
    ("a transit of 5e-324 s", lambda d: comps(d)[1].update(transit_s=5e-324), "anatomy.compartments[1].transit_s",
     "shortest blood transit"),
    # Numbers that are not finite where they make no sense.
    ("infinite rate", lambda d: d["biology"].update(k_shear_per_s=math.inf), "biology.k_shear_per_s", "at most 1e+12"),
    ("nan rate", lambda d: d["biology"].update(k_nk_per_s=math.nan), "biology.k_nk_per_s", "at most 1e+12"),
    ("infinite diameter", lambda d: d["primary"].update(diameter_median_um=math.inf), "primary.diameter_median_um",
     "at most 1e+12"),
    ("infinite transit", lambda d: comps(d)[0].update(transit_s=math.inf), "anatomy.compartments[0].transit_s",
     "at most 1e+12"),
    ("infinite entry time", lambda d: d.update(entry={"time_s": math.inf}), "entry.time_s", "at most 1e+12"),
    ("nan t_max", lambda d: d.update(t_max_s=math.nan), "t_max_s", "(or inf), got nan"),
    ("t_max beyond a double", lambda d: d.update(t_max_s=10**400), "t_max_s", "(or inf), got 1000"),
    # Sizes beyond any quantity in ctcsim's units, which would overflow the model's products.
    ("a shear far beyond any vessel", lambda d: comps(d)[1].update(shear_dyn_cm2=1e300), "anatomy.compartments[1]"
     ".shear_dyn_cm2", "at most 1e+12"),
    ("a positive number below 1e-12", lambda d: d["biology"].update(shear_ref_dyn_cm2=1e-300),
     "biology.shear_ref_dyn_cm2", ">= 1e-12"),
    ("a shear exponent of 50", lambda d: d["biology"].update(shear_exponent=50.0), "biology.shear_exponent",
     "[-10.0, 10.0]"),
    ("a Weibull shape of 1e6", lambda d: d["biology"].update(anoikis_beta=1e6), "biology.anoikis_beta", "[-10.0, 10.0]"),
    ("platelets switching a million times a second", lambda d: d["biology"].update(k_on_per_s=1e6),
     "biology.k_on_per_s", "bind or leave 1e+06 times per s"),
    ("stages of a microsecond", lambda d: comps(d)[0].update(transit_s=0.5, stages=1000), "anatomy.compartments[0]"
     ".stages", "transit_s / stages = 0.0005 s"),
    ("an integer too large for a number", lambda d: d["biology"].update(k_on_per_s=10**400), "biology.k_on_per_s",
     "at most 1e+12"),
    ("infinite cluster exponent", lambda d: d["biology"].update(cluster_exponent={"nk": math.inf}),
     "biology.cluster_exponent", "nk: expected a number"),
    ("a cluster exponent of 50", lambda d: d["biology"].update(cluster_exponent={"nk": 50.0}),
     "biology.cluster_exponent", "nk: expected a value in [-10.0, 10.0]"),
    ("a phenotype factor of 1e300", lambda d: d["biology"].update(phenotype_factor={"nk": [1.0, 1e300, 1.0]}),
     "biology.phenotype_factor", "nk: expected numbers of size at most 1e+12"),
    ("nan cluster probability", lambda d: d["primary"].update(cluster_size_probs=[1.0, math.nan]),
     "primary.cluster_size_probs", "non-negative numbers"),
    ("infinite adhesion factor", lambda d: d["adhesion"].update(liver=math.inf), "adhesion.liver", "at most 1e+12"),
    ("infinite soil factor", lambda d: d.update(soil={"liver": {"niche": math.inf}}), "soil.liver.niche", "at most 1e+12"),
    ("nan entry weight", lambda d: d["primary"].update(entry={"veins": math.nan}), "primary.entry.veins", "at most 1e+12"),
    # Arm multipliers, and the arm's resulting biology, checked like the base biology.
    ("nan multiplier", arm(k_on_per_s=math.nan), "arms[0].multipliers.k_on_per_s", "at most 1e+12"),
    ("infinite multiplier", arm(k_nk_per_s=math.inf), "arms[0].multipliers.k_nk_per_s", "at most 1e+12"),
    ("p_nk x 3", arm(p_nk=3.0), "arms[0].multipliers.p_nk", "biology.p_nk 0.8 x 3 = 2.4"),
    ("p_dormant x 5", arm(p_dormant=5.0), "arms[0].multipliers.p_dormant", "biology.p_dormant 0.9 x 5 = 4.5"),
    ("anoikis_eta_s x 0", arm(anoikis_eta_s=0.0), "arms[0].multipliers.anoikis_eta_s", "300 x 0 = 0: expected a value >"),
    ("trap_width x 0", arm(trap_width=0.0), "arms[0].multipliers.trap_width", "0.2 x 0 = 0: expected a value >"),
    ("shear_ref_dyn_cm2 x 0", arm(shear_ref_dyn_cm2=0.0), "arms[0].multipliers.shear_ref_dyn_cm2", "15 x 0 = 0"),
    ("a product beyond 1e12", lambda d: (d["biology"].update(k_nk_per_s=1e6), arm(k_nk_per_s=1e7)(d)),
     "arms[0].multipliers.k_nk_per_s", "1e+06 x 1e+07 = 1e+13: expected a number of size at most 1e+12"),
    ("platelets switching a million times a second in an arm", arm(k_off_per_s=1e8),
     "arms[0].multipliers.k_off_per_s", "0.03 x 1e+08 = 3e+06: platelets would bind or leave"),
    ("macrometastasis below micro_cells", arm(macro_cells=1e-6), "arms[0].multipliers.macro_cells", "micro_cells"),
    ("arm without a name", lambda d: d.update(arms=[{"name": ""}]), "arms[0].name", "empty"),
    ("arm starting at t_max", lambda d: d.update(arms=[{"name": "late", "start_s": 400.0}]), "arms[0].start_s",
     "change nothing"),
    # Entry times and shedding.
    ("drainage at t_max", lambda d: d.update(entry={"time_s": 400.0}), "entry.time_s", "after the end"),
    ("injection after t_max", lambda d: d.update(entry={"mode": "injection", "site": "veins", "time_s": 1e5}),
     "entry.time_s", "at or after t_max_s (400 s)"),
    ("shedding at 0 cells per gram", lambda d: d.update(entry={"mode": "shedding", "cells_per_g_per_day": 0.0}),
     "entry.cells_per_g_per_day", ">"),
    ("shedding next to nothing", lambda d: d.update(t_max_s=1.0, entry={
        "mode": "shedding", "cells_per_g_per_day": 1e-6, "carrying_capacity_g": 1.1}),
     "entry.cells_per_g_per_day", "nothing to simulate"),
    ("shedding beyond count", lambda d: d.update(t_max_s=1e12, entry={"mode": "shedding", "cells_per_g_per_day": 1e12}),
     "entry.cells_per_g_per_day", "9007199254740992"),
    ("shedding for ever", lambda d: d.update(t_max_s=math.inf, entry={"mode": "shedding"}), "t_max_s", "finite t_max_s"),
    ("shedding at a plateau below the mass", lambda d: d.update(entry={"mode": "shedding", "carrying_capacity_g": 0.5}),
     "entry.carrying_capacity_g", "exceed"),
    ("shedding tumour doubling in a second", lambda d: d.update(
        entry={"mode": "shedding", "doubling_time_days": 1e-5}), "entry.doubling_time_days", ">= 0.01"),
    ("a cluster of 1,001 cells", lambda d: d["primary"].update(cluster_size_probs=[1.0] + [0.0] * 1000),
     "primary.cluster_size_probs", "at most 1000"),
    ("diameters spread beyond sense", lambda d: d["primary"].update(diameter_sigma_log=50.0),
     "primary.diameter_sigma_log", "[0.0, 3.0]"),
]

# Files that are not a readable TOML table: (what, content, the start of the problem)
RAW = [
    ("not UTF-8", RICH.encode() + b'description = "caf\xe9"\n', "not UTF-8 text (TOML files are UTF-8): byte 0xe9"),
    ("tables nested 1,000 deep", ("name = 'x'\ndescription = " + "{a = " * 1000 + "1" + "}" * 1000).encode(),
     "not valid TOML here: tables or lists nested too deeply (line 2)"),
    ("lists nested 1,000 deep", ("name = 'x'\narms = " + "[" * 1000 + "]" * 1000).encode(),
     "not valid TOML here: tables or lists nested too deeply (line 2)"),
    ("an integer of 5,000 digits", ("name = 'x'\nt_max_s = " + "9" * 5000).encode(), "not valid TOML here"),
    ("not TOML", b"name = \n", "not valid TOML"),
]


def write(tmp_path, content) -> str:
    path = tmp_path / "bad.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(tomli_w.dumps(content))
    return str(path)


def one_line(res, code=2) -> str:
    assert res.exit_code == code, (res.output, res.exception)
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0].removeprefix("ctcsim: error: ")


ALL = [(what, edit(change), f"{key}:", word) for what, change, key, word in CASES] + \
      [(what, content, problem, "") for what, content, problem in RAW]


@pytest.mark.parametrize("what,change,key,word", CASES, ids=[c[0] for c in CASES])
def test_malformed_scenario_file_names_file_and_key(tmp_path, what, change, key, word):
    path = write(tmp_path, edit(change))
    with pytest.raises(ScenarioError) as err:
        sc.load(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: {key}: "), msg
    assert word in msg, msg


@pytest.mark.parametrize("what,content,start,word", ALL, ids=[c[0] for c in ALL])
def test_validate_and_run_exit_2_with_one_line_and_write_nothing(tmp_path, what, content, start, word):
    """`ctcsim validate` and `ctcsim run` on each bad file: exit 2, the same one line naming
    the file and the key; the run creates no directory."""
    path = write(tmp_path, content)
    said = one_line(CliRunner().invoke(main, ["validate", path]))
    assert said.startswith(f"{path}: {start}") and word in said, said
    out = tmp_path / "run"
    assert one_line(CliRunner().invoke(main, ["run", path, "-n", "2", "-o", str(out), "-q"])) == said
    assert not out.exists()


def test_byte_order_mark_and_infinite_t_max_are_accepted(tmp_path):
    """Some editors start UTF-8 files with a byte-order mark; t_max_s may be inf (anoikis ends
    every unit), or any size (a long unit then meets the core's step budget)."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + tomli_w.dumps(edit(lambda d: d.update(t_max_s=math.inf))).encode())
    assert sc.load(path).t_max_s == math.inf
    for t_max in (10**13, 1e300):
        assert sc.from_dict(edit(lambda d: d.update(t_max_s=t_max)), "long.toml").t_max_s == t_max


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ScenarioError, match="no built-in scenario"):
        sc.load(tmp_path / "nothing")


def test_model_that_circulates_forever_is_refused_naming_the_file():
    """No death, no arrest, no anoikis and no t_max: a unit could circulate for ever.  The
    error is found compiling, and names the file the scenario came from, not its name."""
    d = edit(lambda d: d.update(t_max_s=math.inf))
    d["biology"].update(k_shear_per_s=0.0, k_nk_per_s=0.0, anoikis_on=False, k_adh_per_s=0.0, trap_max=0.0)
    s = sc.from_dict(d, "forever.toml")
    with pytest.raises(ScenarioError, match=r"^forever.toml: t_max_s: units in .* can circulate forever"):
        compile_model(s)


def test_load_dump_round_trip(rich):
    again = sc.loads(sc.dumps(rich), "again.toml")
    assert again == rich
    assert sc.dumps(again) == sc.dumps(rich)


def test_origin_is_the_file_and_survives_replace(tmp_path, rich):
    path = write(tmp_path, BASE)
    s = sc.load(path)
    assert sc.origin(s) == path
    assert sc.origin(dataclasses.replace(s, t_max_s=5.0)) == path
    assert sc.origin(sc.builtin_scenario("breast")) == "<built-in scenario breast>"
    assert sc.origin(sc.Scenario(name="made")) == "<scenario made>"
    assert "origin" not in sc.dumps(s)


def replaced(rich, **change):
    return dataclasses.replace(rich, **change)


# Scenarios built in Python, which nothing checked on the way: (what, make, key, word)
BUILT = [
    ("p_nk = 5", lambda s: replaced(s, biology=dataclasses.replace(s.biology, p_nk=5.0)), "biology.p_nk", "[0.0, 1.0]"),
    ("a negative hazard", lambda s: replaced(s, biology=dataclasses.replace(s.biology, k_nk_per_s=-1.0)),
     "biology.k_nk_per_s", ">="),
    ("t_max_s = nan", lambda s: replaced(s, t_max_s=math.nan), "t_max_s", "nan"),
    ("two arms of one name", lambda s: replaced(s, arms=[sc.Arm("a"), sc.Arm("a")]), "arms[1].name", "duplicate"),
    ("an arm that is not an Arm", lambda s: replaced(s, arms=[{"name": "a"}]), "arms[0]", "expected a Arm"),
    ("a biology that is not a Biology", lambda s: replaced(s, biology={}), "biology", "expected a Biology"),
    ("an anatomy of the wrong type", lambda s: replaced(s, anatomy=3), "anatomy", "built-in name"),
    ("an inline compartment changed", lambda s: replaced(s, anatomy=dataclasses.replace(s.anatomy, compartments=[
        dataclasses.replace(s.anatomy.compartments[0], transit_s=0.0), *s.anatomy.compartments[1:]])),
     "anatomy.compartments[0].transit_s", ">="),
    ("an inline primary changed", lambda s: replaced(s, primary=dataclasses.replace(s.primary, phenotype_mix=[2, 0, 0])),
     "primary.phenotype_mix", "sum"),
    ("an arm multiplier of nan", lambda s: replaced(s, arms=[sc.Arm("a", {"k_on_per_s": math.nan})]),
     "arms[0].multipliers.k_on_per_s", "at most 1e+12"),
    ("an entry of the wrong type", lambda s: replaced(s, entry=sc.Entry(time_s="soon")), "entry.time_s", "number"),
]


@pytest.mark.parametrize("what,make,key,word", BUILT, ids=[b[0] for b in BUILT])
def test_validate_checks_a_scenario_however_it_was_built(rich, what, make, key, word):
    s = make(rich)
    with pytest.raises(ScenarioError) as err:
        sc.validate(s)
    assert str(err.value).startswith(f"rich.toml: {key}: ") and word in str(err.value), str(err.value)


def test_validate_passes_every_builtin_and_refuses_what_is_not_a_scenario(rich):
    for name in sc.builtin_scenario_names():
        sc.validate(sc.builtin_scenario(name))
    sc.validate(rich)
    with pytest.raises(ScenarioError, match="expected a Scenario"):
        sc.validate({"name": "x"})


def test_accepted_files_validate_and_run_without_a_warning(tmp_path):
    """Every built-in scenario and conftest's RICH: exit 0, nothing on stderr (no numpy
    RuntimeWarning either), in `validate` and in a run of a few units."""
    path = write(tmp_path, BASE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, name in enumerate([path, *sc.builtin_scenario_names()]):
            res = CliRunner().invoke(main, ["validate", name])
            assert (res.exit_code, res.stderr) == (0, ""), res.output
            res = CliRunner().invoke(main, ["run", name, "-n", "3", "-o", str(tmp_path / f"run{i}"), "-q", "-t", "1"])
            assert (res.exit_code, res.stderr) == (0, ""), res.output
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_validate_names_the_scenario_file_before_a_tropism_table_that_lacks_an_organ(tmp_path):
    """A bed whose organ the primary's tropism table lacks (here the breast primary's, after
    the bronchial bed lost its `organ = "lung"`): compiling blames the table and the organ;
    `ctcsim validate` names the scenario file first."""
    s = sc.builtin_scenario("breast")
    d = tomllib.loads(sc.dumps(dataclasses.replace(s, anatomy=s.resolved_anatomy(), primary=s.resolved_primary())))
    i = next(i for i, c in enumerate(d["anatomy"]["compartments"]) if c["name"] == "bronchial")
    del d["anatomy"]["compartments"][i]["organ"]
    path = write(tmp_path, d)
    said = one_line(CliRunner().invoke(main, ["validate", path]))
    assert said.startswith(f"{path}: ctcsim/data/tropism/breast.csv: bronchial: no tropism entry"), said


def test_validate_refuses_an_arm_a_run_directory_cannot_name(tmp_path):
    """A run directory holds each arm as a partition `arm=NAME`, so `ctcsim validate` refuses
    what `ctcsim run` would; the library simulates such an arm in memory."""
    path = write(tmp_path, edit(lambda d: d.update(arms=[{"name": "faster anoikis"}])))
    said = one_line(CliRunner().invoke(main, ["validate", path]))
    assert said.startswith(f"{path}: arms[0].name: an arm names a directory of a run"), said
    out = tmp_path / "run"
    one_line(CliRunner().invoke(main, ["run", path, "-n", "2", "-o", str(out), "-q"]))
    assert not out.exists()
    sc.validate(sc.load(path))
