"""Organ tropism tables: the fit recovers what made the data, the built-in tables reproduce their
series, the generator remakes them byte for byte, and bad input gives one-line errors."""
import dataclasses
import pathlib
import shlex
from importlib import resources

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize, stats

from ctcsim import scenario as sc
from ctcsim import seed_soil
from ctcsim import tropism as tr
from ctcsim import tropism_fit as trf
from ctcsim.biology import SOIL_FACTORS
from ctcsim.checks import ScenarioError
from ctcsim.cli import main
from ctcsim.compile import compile_model
from ctcsim.runner import simulate
from ctcsim.site_frequencies import SHIPPED, read_sites

TABLES = pathlib.Path(str(resources.files("ctcsim"))) / "data" / "tropism"  # as installed
README = TABLES / "README.md"


def readme_commands():
    """(primary, argv) of every ``ctcsim tropism fit`` line in the tables' README."""
    out = []
    for line in README.read_text().splitlines():
        if line.startswith("ctcsim tropism fit "):
            argv = shlex.split(line)[1:]
            out.append((argv[argv.index("--primary") + 1], argv))
    return out


def fitted_series(primary):
    """The Series a built-in table was fitted to, read with its README command's options from
    the shipped site frequencies."""
    argv = dict(readme_commands())[primary]
    opt = {k: argv[argv.index(k) + 1] for k in ("--primary", "--label", "--series") if k in argv}
    return read_sites(None, opt.get("--label", opt["--primary"]), opt.get("--series"))


def arrest_counts(result, organs) -> np.ndarray:
    counts = result.fates.to_pandas().organ.value_counts()
    return np.array([counts.get(o, 0) for o in organs], dtype=float)


def model_arrests(scenario, organs, adhesion):
    model = trf.delivery_model(scenario)
    return trf.arrest_probabilities(model, organs, adhesion)[0]


# ---- the fit -------------------------------------------------------------------------------------

def test_fit_recovers_the_adhesion_factors_that_generated_the_frequencies():
    """Exact round trip: site frequencies made by the model itself from known adhesion factors
    are fitted back to those factors (relative 1e-6), with nothing left after arrest: efficiency 1,
    and growth 1 within 3 % (1.0 % on colon's 10-year biology; the series are arrest shares, the
    model's sites weigh each unit kind's arrests by its own P(macrometastasis | arrest): clusters
    trap in other proportions).

    The known factors are scaled so that they keep the observed organs' total of arrests, the
    convention that fixes the scale relative frequencies leave free (tropism_fit.fit, step 2)."""
    scenario = trf.default_scenario("colon")
    organs = ["liver", "lung", "bone", "brain"]
    shape = np.array([3.0, 0.5, 8.0, 1.5])
    delivered = model_arrests(scenario, organs, None).sum()
    c = optimize.brentq(lambda c: model_arrests(scenario, organs, c * shape).sum() - delivered,
                        0.2, 5.0, xtol=1e-13)
    known = c * shape
    p = model_arrests(scenario, organs, known)
    table = trf.fit(dict(zip(organs, p)), scenario)
    got = table.factors()
    for o, a in zip(organs, known):
        assert got[o] == pytest.approx(a, rel=1e-6), o
    assert all(r.efficiency == 1.0 and r.growth == pytest.approx(1.0, rel=3e-2) for r in table.rows if r.site)
    assert all(got[o] == 1.0 for o in got if o not in organs)


@pytest.mark.parametrize("primary", tr.list_tables())
def test_builtin_table_reproduces_its_series_with_the_rest_of_preference_in_growth(primary):
    """Exact, no sampling: the model's predicted site frequencies (seed_soil: arrests x
    P(macrometastasis | arrest) under the table's soil), normalised over the fitted organs, equal
    the series' shares to 5e-4 (the tables' 6 digits are rounded: F is steep in growth near the
    default biology's critical colony, and the rounding moves the shares by up to 1.2e-4, lung_nsclc's
    brain); arrests x efficiency do too, to 1e-5.  Every fitted organ has
    adhesion inside the range and efficiency 1, or sits at a bound with efficiency on that
    bound's side relative to the reference organ; the reference organ (the liver) keeps every
    soil factor 1; unobserved organs are "no data" with every factor 1."""
    table, series = tr.load(primary), fitted_series(primary)
    rows = [r for r in table.rows if r.site]
    organs = [r.organ for r in rows]
    shares = [series.shares()[o] for o in organs]
    scenario = trf.default_scenario(primary)
    predicted = seed_soil.predicted_site_frequencies(scenario, table, organs)
    np.testing.assert_allclose([predicted[o] for o in organs], shares, rtol=5e-4)
    arrests = model_arrests(scenario, organs, [r.adhesion for r in rows])
    weighted = arrests * [r.efficiency for r in rows]
    np.testing.assert_allclose(weighted / weighted.sum(), shares, rtol=1e-5)
    by_organ = {r.organ: r for r in table.rows}
    reference = by_organ[trf.REFERENCE_ORGAN]
    assert reference.data == "reference" and reference.efficiency == 1.0
    assert all(getattr(reference, f) == 1.0 for f in SOIL_FACTORS)
    lo, hi = trf.ADHESION_RANGE
    for r in table.rows:
        if not r.site:
            assert r.data == "no data" and r.adhesion == 1.0 and all(getattr(r, f) == 1.0 for f in SOIL_FACTORS), r
            continue
        assert r.data in ("fitted", "reference") and (r.niche, r.inflammation, r.macrophage) == (1.0, 1.0, 1.0)
        inside = lo < r.adhesion < hi
        assert inside or r.adhesion in (lo, hi), r


def test_default_breast_units_do_not_die_at_the_instant_of_arrest():
    """Chambers 2002, Koop 1995: most arrested cells survive and extravasate.  No compatibility
    draw is left: no arrested unit of the default breast scenario dies at its arrest time."""
    f = simulate(sc.builtin_scenario("breast"), 6_000, seed=5).fates.to_pandas()  # ~35 us of CPU a breast unit (bench/RESULTS.md)
    arrested = f[f.fate == "arrested"]
    assert len(arrested) > 5_000
    assert not ((arrested.post_arrest == "died_in_capillary") & (arrested.post_arrest_time_s == arrested.fate_time_s)).any()


def test_a_recorded_scenario_with_compatibility_is_refused_in_one_line(tmp_path):
    """ctcsim 0.1.0 recorded soil.ORGAN.compatibility inline; such runs (and scenarios) are
    refused, not replayed with a silently different model."""
    text = sc.dumps(sc.builtin_scenario("breast")) + "\n[soil.lung]\ncompatibility = 0.012\n"
    with pytest.raises(ScenarioError, match=r"^old\.toml: soil\.lung\.compatibility: no longer exists: nothing dies "
                                            r"at the instant of arrest.*are refused by this version") as e:
        sc.loads(text, "old.toml")
    assert "\n" not in str(e.value)
    (tmp_path / "old.toml").write_text(text)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "old.toml")])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "soil.lung.compatibility: no longer exists" in lines[0]


def test_compiled_soil_comes_from_inline_then_table_then_one():
    """Division in each bed is birth x the organ's growth: the breast table's, an inline value
    over it, and 1 for a primary without a table."""
    s = sc.builtin_scenario("breast")
    growth = tr.load("breast").factors("growth")

    def factors(scenario):
        m = compile_model(scenario)
        bed = m.organ >= 0
        return dict(zip((m.organ_names[o] for o in m.organ[bed]), m.rates["division"][bed, 0] / s.biology.birth_per_s))

    assert factors(s) == pytest.approx({o: growth[o] for o in factors(s)}, rel=1e-12)
    assert len(set(growth.values())) > 2  # the table does set growth
    inline = factors(dataclasses.replace(s, soil={"bone": {"growth": 2.5}}))
    assert inline["bone"] == pytest.approx(2.5) and inline["lung"] == pytest.approx(growth["lung"])
    assert set(factors(dataclasses.replace(s, primary="melanoma")).values()) == {1.0}


# False-alarm rates.  Per-organ z tests: 1e-3 for the whole family of (primary, organ) pairs,
# Bonferroni-split, so each two-sided test uses z = Phi^-1(1 - 1e-3 / (2 K)); K = 26 gives z = 4.1.
# The chi-square test: 1e-3 per primary.
FAMILY_ALPHA, CHI2_ALPHA = 1e-3, 1e-3
N_UNITS = 100_000  # per simulation; the tolerances below are derived from it
# Breast units circulate for hours (~35 us of CPU each, ~13x a colorectal unit): fewer of them. Their error
# then stays far below the series' (share se ~0.005 at 2e4 units, ~1e4 arrests in the fitted organs, against 0.03 at n = 276).
UNITS = {"breast": 20_000}


def test_simulated_builtin_scenarios_reproduce_the_site_frequencies():
    """Simulate each table's scenario as a user runs it (anoikis on, t_max as in the scenario) and
    compare what the table promises with the series it was fitted to.

    The comparison is over the fitted organs only: arrests per organ, weighted by efficiency (1
    where adhesion carries the whole preference), normalised over those organs.  Tolerance per
    organ: z * sqrt(t(1-t)/n + var_MC), n the series' patients (its own sampling error; for the
    SEER rows the file's n is all lung cancers, larger than the isolated-site subsets, which only
    tightens the test) and var_MC the delta-method variance of the weighted share.  The fit's model
    has anoikis off and no censoring: breast units circulate for hours (Meng's half-life), and
    anoikis then moves breast's shares by ~2 % relative (bone 0.359 against the fit's 0.367 at
    1e5 units), far below the series' own error (0.03 at n = 276).  A chi-square test of the raw
    arrest counts of the fit's own model (the table's scenario without anoikis or censoring,
    ``seed_soil.neutral_scenario``), simulated, against its exact arrest probabilities checks the
    pipeline more sharply."""
    cases = []
    for primary in tr.list_tables():
        rows = [r for r in tr.load(primary).rows if r.site]
        if len(rows) > 1:  # a single site (pancreas) is matched by anything
            cases.append((primary, rows))
    z_tol = stats.norm.isf(FAMILY_ALPHA / (2 * sum(len(rows) for _, rows in cases)))
    for primary, rows in cases:
        scenario, series = trf.default_scenario(primary), fitted_series(primary)
        organs = [r.organ for r in rows]
        # Chi-square: the fit's model simulated, fitted organs and everything else, against its
        # exact arrest probabilities.
        anatomy_organs = scenario.resolved_anatomy().organs()
        adhesion = {r.organ: r.adhesion for r in tr.load(primary).rows if r.organ in anatomy_organs}
        fits_model = seed_soil.neutral_scenario(scenario, adhesion, {o: dict.fromkeys(SOIL_FACTORS, 1.0) for o in anatomy_organs})
        n = UNITS.get(primary, N_UNITS)
        c = arrest_counts(simulate(fits_model, n, seed=20260302, threads=2), organs)
        p = model_arrests(scenario, organs, [r.adhesion for r in rows])
        obs = np.append(c, n - c.sum())
        assert stats.chisquare(obs, np.append(p, 1 - p.sum()) * n).pvalue > CHI2_ALPHA, primary
        c = arrest_counts(simulate(scenario, n, seed=20260301, threads=2), organs)
        # Weighted shares against the series.
        w = np.array([r.efficiency for r in rows])
        share = c * w / (c * w).sum()
        q = c / n  # categories: each fitted organ, and elsewhere (weight 0)
        mean_w = q @ w
        influence = (w[:, None] * (np.eye(len(rows)) - share[None, :])) / mean_w   # [category, organ]
        var_mc = (q @ influence ** 2 - (q @ influence) ** 2) / n
        t = np.array([series.shares()[o] for o in organs])
        var_obs = t * (1 - t) / series.n
        z = (share - t) / np.sqrt(var_obs + var_mc)
        assert np.abs(z).max() < z_tol, (primary, dict(zip(organs, np.round(z, 2))))


def test_fit_command_regenerates_every_builtin_table_byte_for_byte(tmp_path):
    """Each README command, run again on the shipped site frequencies (no file given), writes
    exactly the shipped table; and every shipped table has its command."""
    commands = readme_commands()
    assert sorted(p for p, _ in commands) == tr.list_tables()
    runner = CliRunner()
    for primary, argv in commands:
        out = tmp_path / f"{primary}.csv"
        argv = argv[:argv.index("-o")] + ["-o", str(out)]
        result = runner.invoke(main, argv)
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == (TABLES / f"{primary}.csv").read_bytes(), primary


# ---- tables in the model -----------------------------------------------------------------------

def test_compiled_adhesion_comes_from_inline_then_table_then_one():
    """The breast scenario's beds get the breast table's factors, an inline entry overrides one
    organ, and a primary without a table gets 1 everywhere."""
    s = sc.builtin_scenario("breast")
    table = tr.load("breast").factors()
    b = s.biology

    def factors(scenario):
        m = compile_model(scenario)
        bed = m.organ >= 0
        f = m.rates["adhesion"][bed, 0] / b.k_adh_per_s
        return {m.organ_names[o]: x for o, x in zip(m.organ[bed], f)}

    assert factors(s) == pytest.approx({o: table[o] for o in factors(s)}, rel=1e-12)
    inline = factors(dataclasses.replace(s, adhesion={"bone": 2.5}))
    assert inline["bone"] == pytest.approx(2.5) and inline["lung"] == pytest.approx(table["lung"])
    assert set(factors(dataclasses.replace(s, primary="melanoma")).values()) == {1.0}


def test_every_organ_of_every_builtin_anatomy_has_an_entry_with_a_source():
    from ctcsim import anatomy
    organs = {o for name in anatomy.builtin_names() for o in anatomy.builtin(name).organs()}
    for primary in tr.list_tables():
        rows = tr.load(primary).rows
        assert {r.organ for r in rows} >= organs, primary
        assert all(r.source.strip() and r.series for r in rows), primary


def test_an_organ_without_a_tropism_entry_is_an_error_naming_the_table_and_the_organ():
    s = sc.loads('name = "x"\nprimary = "breast"\nentry = { mode = "injection", site = "veins" }\n'
                 '[anatomy]\nname = "tiny"\n'
                 '[[anatomy.compartments]]\nname = "veins"\nkind = "pool"\ntransit_s = 1.0\n'
                 '[[anatomy.compartments]]\nname = "marrow"\nkind = "bed"\ntransit_s = 1.0\ncapillary_diameter_um = 30.0\n'
                 '[[anatomy.edges]]\nfrom = "veins"\nto = "marrow"\nfraction = 1.0\n'
                 '[[anatomy.edges]]\nfrom = "marrow"\nto = "veins"\nfraction = 1.0\n', "tiny.toml")
    with pytest.raises(ScenarioError, match=r"^ctcsim/data/tropism/breast\.csv: marrow: no tropism entry"):
        compile_model(s)
    # Inline factors fill the gap: adhesion, and every soil factor.
    compile_model(dataclasses.replace(s, adhesion={"marrow": 1.0}, soil={"marrow": dict.fromkeys(SOIL_FACTORS, 1.0)}))


def test_a_malformed_table_names_the_line_and_column():
    text = "organ,adhesion,niche,inflammation,macrophage,growth,source\nlung,-1,1,1,1,1,x\n"
    with pytest.raises(ScenarioError, match=r"^t\.csv: line 2 \(lung\)\.adhesion: expected a non-negative"):
        tr.read_table(text, "p", "t.csv")
    with pytest.raises(ScenarioError, match=r"^t\.csv: source: missing column"):
        tr.read_table("organ,adhesion,niche,inflammation,macrophage,growth\n", "p", "t.csv")
    with pytest.raises(ScenarioError, match=r"^t\.csv: line 2 \(lung\)\.data: expected one of reference, fitted"):
        tr.read_table("organ,adhesion,niche,inflammation,macrophage,growth,data,source\nlung,1,1,1,1,1,some,x\n",
                      "p", "t.csv")


# ---- bad input to `ctcsim tropism fit` -----------------------------------------------------------

HEADER = "primary,site,percent,denominator,source,n\n"


def bad(tmp_path, text):
    path = tmp_path / "sites.csv"
    path.write_text(text)
    return str(path)


def bad_bytes(tmp_path, data):
    path = tmp_path / "sites.csv"
    path.write_bytes(data)
    return str(path)


BAD = [  # (what is wrong, scratch folder -> argv, words the one line must hold)
    ("missing file", lambda d: ["nope.csv", "--primary", "breast"], ["nope.csv", "cannot read"]),
    ("not UTF-8", lambda d: [bad_bytes(d, HEADER.encode() + b"breast,bone,40,pts,S\xe9 2001,10\n"), "--primary", "breast"],
     ["sites.csv", "not UTF-8"]),
    ("a label the shipped table lacks", lambda d: ["--primary", "breast", "--label", "braest"],
     [SHIPPED, "primary", "'breast'"]),
    ("missing column", lambda d: [bad(d, "primary,site,denominator,source\nbreast,bone,x,y\n"), "--primary", "breast"],
     ["sites.csv", "percent", "missing column"]),
    ("unknown primary in the file", lambda d: [bad(d, HEADER + "breast,bone,40,pts,S 2001,10\n"), "--primary", "breast",
                                               "--label", "braest"], ["sites.csv", "primary", "'breast'"]),
    ("unknown built-in primary", lambda d: [bad(d, HEADER + "brest,bone,40,pts,S 2001,10\n"), "--primary", "brest"],
     ["primary", "unknown primary 'brest'"]),
    ("unknown site", lambda d: [bad(d, HEADER + "breast,bnoe,40,pts,S 2001,10\nbreast,lung,20,same,same,\n"),
                                "--primary", "breast"], ["sites.csv", "line 2 (bnoe).site", "nearest: 'bone'"]),
    ("a bound, not a frequency", lambda d: [bad(d, HEADER + "breast,bone,<5,pts,S 2001,10\n"), "--primary", "breast"],
     ["sites.csv", "line 2 (bone).percent", "<5"]),
    ("several series, none chosen", lambda d: [bad(d, HEADER + "breast,bone,40,pts,A 2001,10\nbreast,lung,20,pts,B 2002,9\n"),
                                               "--primary", "breast"], ["sites.csv", "series", "A 2001", "B 2002"]),
    ("mixed denominators", lambda d: [bad(d, HEADER + "breast,bone,40,pts,A 2001,10\nbreast,lung,20,first sites,same,\n"),
                                      "--primary", "breast"], ["sites.csv", "denominator", "mixes"]),
]


@pytest.mark.parametrize("what,argv,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_one_line_naming_file_and_key_and_exit_2(tmp_path, what, argv, words):
    result = CliRunner().invoke(main, ["tropism", "fit"] + argv(tmp_path))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctcsim: error: "), result.output
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_show_and_list():
    runner = CliRunner()
    listed = runner.invoke(main, ["tropism", "list"])
    assert listed.exit_code == 0 and all(p in listed.output for p in tr.list_tables())
    shown = runner.invoke(main, ["tropism", "show", "breast", "--csv"])
    assert shown.exit_code == 0 and shown.output == tr.load("breast").to_csv()
    missing = runner.invoke(main, ["tropism", "show", "braest"])
    assert missing.exit_code == 2 and "did you mean 'breast'" in missing.output
