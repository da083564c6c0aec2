"""The shipped physiological data: every number has a source, and every anatomy is a sound circulation.

Reads the TOML files under ctcsim/data/ with plain tomllib (no ctcsim loader), so a broken loader
cannot hide a broken data file and vice versa.
"""
import csv
import glob
import math
import pathlib
import re
from importlib import resources

import pytest

from ctcsim._compat import tomllib

# The installed package (CI installs ctcsim before running the tests; PYTHONPATH=. reads the checkout).
PACKAGE = pathlib.Path(str(resources.files("ctcsim")))
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]
DATA = PACKAGE / "data"
REFERENCE = DATA / "reference"
ANATOMY_FILES = sorted((DATA / "anatomies").glob("*.toml"))
HUMAN_FILES = [p for p in ANATOMY_FILES if p.stem.startswith("human")]
FLOW_TOLERANCE = 1e-9


def load(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def graph(anatomy):
    succ = {c["name"]: [] for c in anatomy["compartments"]}
    for e in anatomy["edges"]:
        succ[e["from"]].append(e["to"])
    return succ


def reach(succ, start):
    seen, todo = {start}, [start]
    while todo:
        for nxt in succ[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def has_source(row):
    return isinstance(row.get("source"), str) and row["source"].strip() != ""


def test_the_shipped_data_exists():
    """Both human sexes, the mouse and the primaries table are shipped."""
    assert {p.stem for p in ANATOMY_FILES} >= {"human_female", "human_male", "mouse"}
    assert (DATA / "primaries.toml").is_file()


def test_every_toml_file_under_data_parses():
    for path in DATA.rglob("*.toml"):
        load(path)


@pytest.mark.parametrize("path", ANATOMY_FILES, ids=lambda p: p.stem)
def test_every_anatomy_row_names_its_source(path):
    """No compartment or edge without a citation or a stated derivation; the file itself too."""
    a = load(path)
    assert has_source(a), f"{path.name}: top-level source"
    missing = [c.get("name") for c in a["compartments"] if not has_source(c)]
    missing += [f"{e.get('from')}->{e.get('to')}" for e in a["edges"] if not has_source(e)]
    assert not missing, f"{path.name}: rows without a source: {missing}"


@pytest.mark.parametrize("path", ANATOMY_FILES, ids=lambda p: p.stem)
def test_anatomy_rows_are_complete_and_physical(path):
    """Unique names; beds carry an organ and a capillary diameter; times, stages and levels are sane."""
    a = load(path)
    names = [c["name"] for c in a["compartments"]]
    assert len(names) == len(set(names)), f"{path.name}: duplicate compartment names"
    for c in a["compartments"]:
        assert c["kind"] in ("pool", "bed"), c["name"]
        assert c["transit_s"] > 0 and isinstance(c["stages"], int) and c["stages"] >= 1, c["name"]
        for key in ("shear_dyn_cm2", "nk_rel", "platelet_rel"):
            assert c[key] >= 0, (c["name"], key)
        if c["kind"] == "bed":
            assert isinstance(c.get("organ"), str) and c["organ"], f"{c['name']}: bed without organ"
            assert c.get("capillary_diameter_um", 0) > 0, f"{c['name']}: bed without capillary diameter"
        else:
            assert "organ" not in c and "capillary_diameter_um" not in c, c["name"]
    assert a["cardiac_output_l_min"] > 0 and a["blood_volume_l"] > 0


@pytest.mark.parametrize("path", ANATOMY_FILES, ids=lambda p: p.stem)
def test_edges_join_known_compartments_and_flows_sum_to_one(path):
    a = load(path)
    names = {c["name"] for c in a["compartments"]}
    out = dict.fromkeys(names, 0.0)
    for e in a["edges"]:
        assert e["from"] in names and e["to"] in names, f"{path.name}: edge {e['from']}->{e['to']}"
        assert e["fraction"] > 0
        out[e["from"]] += e["fraction"]
    bad = {n: s for n, s in out.items() if abs(s - 1.0) > FLOW_TOLERANCE}
    assert not bad, f"{path.name}: outflow fractions not summing to 1: {bad}"


@pytest.mark.parametrize("path", ANATOMY_FILES, ids=lambda p: p.stem)
def test_the_circulation_is_closed_with_no_dead_ends(path):
    """From every entry point the whole blood circulation is reachable, every compartment is reachable
    from some entry point (the lymphatic route only from its own: lymph entry weights, the
    'lymphatic' injection site), and every compartment reaches a bed."""
    a = load(path)
    succ = graph(a)
    names = set(succ)
    beds = {c["name"] for c in a["compartments"] if c["kind"] == "bed"}
    sites = a.get("injection_sites", {})
    assert set(sites.values()) <= names, f"{path.name}: injection site to an unknown compartment"
    starts = set(sites.values())
    if path in HUMAN_FILES:
        starts |= {c for p in load(DATA / "primaries.toml")["primaries"] for c in p["entry"]}
    blood = reach(succ, "systemic_veins")
    for s in sorted(starts):
        assert reach(succ, s) >= blood, f"{path.name}: unreachable from {s}: {blood - reach(succ, s)}"
    reached = set().union(*(reach(succ, s) for s in starts))
    assert reached == names, f"{path.name}: unreachable from every entry point: {names - reached}"
    for n in sorted(names):
        assert succ[n], f"{path.name}: {n} has no outflow"
        downstream = set().union(*(reach(succ, x) for x in succ[n]))
        assert downstream & beds, f"{path.name}: {n} reaches no bed"


def test_the_mouse_has_the_classic_injection_sites():
    sites = load(DATA / "anatomies" / "mouse.toml")["injection_sites"]
    assert sites["tail_vein"] == "systemic_veins"
    assert sites["portal_vein"] == "portal_vein"
    assert sites["left_ventricle"] == "arterial"


def test_every_primary_names_its_source_and_probabilities_sum_to_one():
    primaries = load(DATA / "primaries.toml")["primaries"]
    names = [p["name"] for p in primaries]
    assert len(names) == len(set(names))
    assert set(names) >= {"breast", "lung_nsclc", "lung_sclc", "colon", "rectum", "prostate",
                          "pancreas", "melanoma", "kidney", "ovary"}
    for p in primaries:
        assert has_source(p), f"primary {p['name']} has no source"
        for key in ("cluster_size_probs", "phenotype_mix"):
            assert all(x >= 0 for x in p[key]) and math.isclose(sum(p[key]), 1.0, abs_tol=FLOW_TOLERANCE), (p["name"], key)
        assert len(p["phenotype_mix"]) == 3, p["name"]
        assert all(w > 0 for w in p["entry"].values()), p["name"]
        assert math.isclose(sum(p["entry"].values()), 1.0, abs_tol=FLOW_TOLERANCE), p["name"]
        assert p["diameter_median_um"] > 0 and p["diameter_sigma_log"] >= 0, p["name"]


@pytest.mark.parametrize("path", HUMAN_FILES, ids=lambda p: p.stem)
def test_primary_entry_compartments_exist_in_the_human_anatomies(path):
    names = {c["name"] for c in load(path)["compartments"]}
    for p in load(DATA / "primaries.toml")["primaries"]:
        assert set(p["entry"]) <= names, f"{p['name']}: {set(p['entry']) - names} not in {path.stem}"


@pytest.mark.parametrize("path", ANATOMY_FILES, ids=lambda p: p.stem)
def test_transit_times_hold_the_whole_blood_volume(path):
    """Little's law: sum over compartments of flow x transit equals the blood volume (to rounding).

    Flow through each compartment is found by propagating cardiac output along the edges, so this
    also checks that the derivation in README.md was carried into the file consistently.
    """
    a = load(path)
    co_l_s = a["cardiac_output_l_min"] / 60.0
    # Flow through each compartment (fraction of CO): solve f = inflow by fixed-point over the DAG
    # obtained by cutting the edge into the lung (the only place all flow passes once per circuit).
    flow = {c["name"]: 0.0 for c in a["compartments"]}
    flow["lung"] = 1.0
    order = ["lung"]
    pending = {n: sum(1 for e in a["edges"] if e["to"] == n and e["to"] != "lung") for n in flow}
    while order:
        n = order.pop()
        for e in a["edges"]:
            if e["from"] == n and e["to"] != "lung":
                flow[e["to"]] += flow[n] * e["fraction"]
                pending[e["to"]] -= 1
                if pending[e["to"]] == 0:
                    order.append(e["to"])
    assert math.isclose(flow["systemic_veins"], 1.0, rel_tol=1e-9)
    volume_l = sum(flow[c["name"]] * co_l_s * c["transit_s"] for c in a["compartments"])
    assert math.isclose(volume_l, a["blood_volume_l"], rel_tol=1e-3), volume_l


# ---- citations: every file the package cites is shipped in it ---------------------------------------

CITATION = re.compile(r"[\w./-]*[\w-]\.(?:csv|md|toml)\b")
OUTSIDE = re.compile(r"[\w./-]*shared/[\w./-]*\w")  # the research notes' folder, which an installed ctcsim does not have


def shipped_text_files():
    """(path relative to the package, text) of every shipped file that can cite: modules, data, documents."""
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".toml", ".csv", ".md") and "__pycache__" not in path.parts:
            yield path.relative_to(PACKAGE), path.read_text(encoding="utf-8")


def resolves(rel, token):
    """A cited file exists in the package: ``ctcsim/...`` from the package's parent, anything else
    from the citing file's folder, as a README's links are read."""
    base = PACKAGE.parent if token.startswith("ctcsim/") else PACKAGE / rel.parent
    target = (base / token).resolve()
    return target.is_relative_to(PACKAGE.resolve()) and target.is_file()


def broken_citations(rel, text):
    """The file names in ``text`` that do not resolve in the installed package, and any mention of
    the research notes' folder.  A module also names user files (my.toml, SITES.csv): there only
    package paths and the reference tables' names count, and those must be package paths."""
    reference = {p.name for p in REFERENCE.iterdir()}
    for token in CITATION.findall(text):
        cites_data = token.startswith("ctcsim/") or pathlib.PurePosixPath(token).name in reference
        if (rel.suffix != ".py" or cites_data) and not resolves(rel, token):
            yield token
    yield from OUTSIDE.findall(text)


def test_every_file_a_source_or_document_cites_is_in_the_installed_package():
    """Source strings, docstrings, help texts and the data's READMEs cite the reference tables by
    their path in the package (ctcsim/data/reference/NAME), and every file they name is there."""
    broken = {(str(rel), token) for rel, text in shipped_text_files() for token in broken_citations(rel, text)}
    assert not broken, sorted(broken)


def test_the_reference_tables_are_shipped_and_every_row_names_its_source():
    """SOURCES.md and each table it lists (checked above: its citations resolve) are in the package,
    and each table is rectangular with a source on every row."""
    tables = sorted(REFERENCE.glob("*.csv"))
    assert (REFERENCE / "SOURCES.md").is_file() and len(tables) == 7
    for path in tables:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
        assert rows, path.name
        for i, row in enumerate(rows, start=2):
            assert None not in row and None not in row.values(), f"{path.name}: line {i} has the wrong width"
            assert row["source"].strip(), f"{path.name}: line {i} has no source"


def test_every_data_file_is_in_the_package_data_a_wheel_ships():
    """pyproject's package-data globs take every file under ctcsim/data/, so a wheel or an
    install holds what the checkout holds (setuptools expands them as glob does here)."""
    patterns = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ctcsim"]
    root = CHECKOUT / "ctcsim"
    packaged = {f for pattern in patterns for f in glob.glob(pattern, root_dir=root)}
    present = {str(p.relative_to(root)) for p in (root / "data").rglob("*") if p.is_file()}
    assert present - packaged == set()
