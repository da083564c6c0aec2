"""Every mistake in a scenario file gives one line naming the file and the key, never a traceback."""
import copy
import math

import pytest
import tomli_w

from conftest import RICH

from ctcsim import scenario as sc
from ctcsim.checks import ScenarioError, tomllib
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
    ("zero transit time", lambda d: comps(d)[0].update(transit_s=0.0), "anatomy.compartments[0].transit_s", ">"),
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
    ("arm multiplying an unknown parameter", lambda d: d.update(arms=[{"name": "x", "multipliers": {"k_onn": 2.0}}]),
     "arms[0].multipliers.k_onn", "k_on_per_s"),
    ("duplicate arm", lambda d: d.update(arms=[{"name": "a"}, {"name": "a"}]), "arms[1].name", "duplicate"),
    ("arms not a list", lambda d: d.update(arms={"name": "a"}), "arms", "list"),
    ("unreachable compartment", lambda d: (comps(d).append(
        {"name": "island", "kind": "pool", "transit_s": 1.0}), edges(d).append(
        {"from": "island", "to": "veins", "fraction": 1.0})), "anatomy", "island"),
    ("negative t_max", lambda d: d.update(t_max_s=-5.0), "t_max_s", ">"),
    ("cluster exponents of the wrong length", lambda d: d["biology"].update(cluster_exponents=[0.0, 1.0]),
     "biology.cluster_exponents", "6 finite numbers"),
    ("soil for an unknown organ", lambda d: d.update(soil={"pancreas": {"niche": 2.0}}), "soil.pancreas", "organ"),
    ("unknown soil factor", lambda d: d.update(soil={"liver": {"nitche": 2.0}}), "soil.liver.nitche", "niche"),
    ("negative soil factor", lambda d: d.update(soil={"liver": {"macrophage": -1.0}}), "soil.liver.macrophage",
     "non-negative"),
    ("arm starting at a negative time", lambda d: d.update(arms=[{"name": "a", "start_s": -1.0}]),
     "arms[0].start_s", ">="),
    ("shedding from a zero-mass tumour", lambda d: d.update(entry={"mode": "shedding", "tumour_mass_g": 0.0}),
     "entry.tumour_mass_g", "nanogram"),
    ("micrometastasis of zero cells", lambda d: d["biology"].update(micro_cells=0), "biology.micro_cells", ">="),
]


@pytest.mark.parametrize("what,change,key,word", CASES, ids=[c[0] for c in CASES])
def test_malformed_scenario_file_names_file_and_key(tmp_path, what, change, key, word):
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(edit(change)))
    with pytest.raises(ScenarioError) as err:
        sc.load(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: {key}"), msg
    assert word in msg, msg


def test_not_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ScenarioError, match="broken.toml: not valid TOML"):
        sc.load(path)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ScenarioError, match="no built-in scenario"):
        sc.load(tmp_path / "nothing")


def test_model_that_circulates_forever_is_refused():
    """No death, no arrest, no anoikis and no t_max: a unit could circulate for ever."""
    d = edit(lambda d: d.update(t_max_s=math.inf))
    d["biology"].update(k_shear_per_s=0.0, k_nk_per_s=0.0, anoikis_on=False, k_adh_per_s=0.0, trap_max=0.0)
    s = sc.from_dict(d, "forever.toml")
    with pytest.raises(ScenarioError, match="t_max_s: units in .* can circulate forever"):
        compile_model(s)


def test_load_dump_round_trip(rich):
    again = sc.loads(sc.dumps(rich), "again.toml")
    assert again == rich
    assert sc.dumps(again) == sc.dumps(rich)


@pytest.mark.parametrize("what,change,key,word", CASES, ids=[c[0] for c in CASES])
def test_validate_exits_2_with_one_line(tmp_path, what, change, key, word):
    """`ctcsim validate` on each malformed file: exit code 2, one line naming the file and key."""
    from click.testing import CliRunner

    from ctcsim.cli import main
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(edit(change)))
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ctcsim: error: {path}: {key}"), res.stderr
    assert "Traceback" not in res.output


def test_validate_accepts_every_builtin_scenario():
    from click.testing import CliRunner

    from ctcsim.cli import main
    names = sc.builtin_scenario_names()
    res = CliRunner().invoke(main, ["validate", *names])
    assert res.exit_code == 0, res.output
    assert res.stdout.count(": ok (") == len(names)
