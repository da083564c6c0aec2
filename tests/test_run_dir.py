"""Run directories (ctcsim.rundir) and summaries (ctcsim.analysis): layout, metadata, readers,
interruption and resume, replay of one unit.

The scenario is the small inline RICH anatomy of conftest with two arms, so every
mechanism and the arm partition are exercised in well under a second per run.
"""
import dataclasses
import json
import math
import platform

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import scipy
from conftest import RICH

import ctcsim
from ctcsim import _core, analysis, rundir, stats, tropism
from ctcsim.biology import SOIL_FACTORS
from ctcsim.rundir import format as fmt
from ctcsim import scenario as sc
from ctcsim.compile import compile_model
from ctcsim.runner import simulate

ARMS = '\n[[arms]]\nname = "control"\n\n[[arms]]\nname = "anti_platelet"\nmultipliers = { k_on_per_s = 0.1 }\n'
SEED = 2**127 + 12345  # needs all 128 bits: checks the seed survives JSON and Parquet metadata


@pytest.fixture(scope="module")
def two_arms():
    return sc.loads(RICH + ARMS, "rich_two_arms.toml")


def plain(table: pa.Table) -> pa.Table:
    """A table to compare bit for bit: categories as strings, floats as their bits (NaN
    equals NaN), columns by name, rows by (arm, unit, time)."""
    def value(c):
        if pa.types.is_dictionary(c.type):
            return pc.cast(c, pa.string())
        if pa.types.is_floating(c.type):
            return pa.array(c.to_numpy().view(np.int64))
        return c
    cols = {n: value(c) for n, c in zip(table.column_names, table.columns)}
    keys = [k for k in ("arm", "unit_id") if k in cols]
    # Sorting is stable: a unit's events stay in their order.
    return pa.table({n: cols[n] for n in sorted(cols)}).sort_by([(k, "ascending") for k in keys])


def test_layout_is_hive_partitioned_parts_with_run_json_last(tmp_path, two_arms):
    """A run writes fates/ and events/ as arm=NAME/part-NNNNN.parquet, no temporary files
    remain, plan.json gives way to run.json, and the arm lives in the path, not the files."""
    run = rundir.write_run(tmp_path / "r", two_arms, 3000, SEED, events=True, chunk_size=1000)
    names = sorted(str(p.relative_to(tmp_path / "r")) for p in (tmp_path / "r").rglob("*") if p.is_file())
    assert names == ["events/arm=anti_platelet/part-00000.parquet", "events/arm=control/part-00000.parquet",
                     "fates/arm=anti_platelet/part-00000.parquet", "fates/arm=control/part-00000.parquet",
                     "run.json"]
    body = pq.read_schema(tmp_path / "r" / "fates" / "arm=control" / "part-00000.parquet")
    assert "arm" not in body.names
    assert run.complete and run.metadata["counts"]["units"] == {"control": 3000, "anti_platelet": 3000}


def test_every_parquet_file_carries_the_run_metadata(tmp_path, two_arms):
    """One versioned JSON document under the key 'ctcsim' in each file: format, versions,
    the resolved scenario, the full 128-bit seed, units, arms, chunking."""
    run = rundir.write_run(tmp_path / "r", two_arms, 2000, SEED, events=True)
    for f in (tmp_path / "r").rglob("*.parquet"):
        md = rundir.file_metadata(f)
        assert (md["format"], md["format_version"]) == (rundir.FORMAT, rundir.FORMAT_VERSION)
        assert md["ctcsim_version"] == ctcsim.__version__
        assert int(md["seed"]) == SEED == run.seed
        assert md["n_units"] == 2000 and md["arms"] == ["control", "anti_platelet"]
        assert set(md["versions"]) == {"python", "numpy", "pyarrow", "scipy"}
        assert same_model(compile_model(sc.loads(md["scenario"])), compile_model(two_arms))


def test_files_hold_what_simulate_returns_in_memory(tmp_path, two_arms):
    """Fates and events read back from disk equal ctcsim.simulate's tables, value for value."""
    run = rundir.write_run(tmp_path / "r", two_arms, 2500, SEED, events=True, chunk_size=600)
    mem = simulate(two_arms, 2500, SEED, events=True)
    assert plain(run.fates.to_table()).equals(plain(mem.fates))
    assert plain(run.events.to_table()).equals(plain(mem.events))


def test_fates_read_back_with_stable_dictionaries_and_arm_partition(tmp_path, two_arms):
    """read_run restores arm as a dictionary column in the scenario's arm order; categorical
    columns come back dictionary-encoded."""
    run = rundir.write_run(tmp_path / "r", two_arms, 500, SEED)
    table = run.fates.to_table()
    assert table.schema.field("arm").type == pa.dictionary(pa.int32(), pa.string())
    assert table.column("arm").chunk(0).dictionary.to_pylist() == ["control", "anti_platelet"]
    for name in ("fate", "organ", "phenotype", "entry_compartment", "arrest_mode"):
        assert pa.types.is_dictionary(table.schema.field(name).type), name
    assert run.events is None


def test_row_groups_are_whole_whatever_the_chunk_size(tmp_path, two_arms):
    """Rows are held back until ROW_GROUP_ROWS are ready (each write makes a row group):
    every row group but the last of a file is full, though chunks are 50,000 units."""
    rundir.write_run(tmp_path / "r", two_arms, 100_000, SEED, events=True, chunk_size=50_000, arms=["control"])
    meta = pq.read_metadata(tmp_path / "r" / "events" / "arm=control" / "part-00000.parquet")
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert len(sizes) > 1 and set(sizes[:-1]) == {fmt.ROW_GROUP_ROWS}


def test_a_directory_without_run_json_is_incomplete_to_readers(tmp_path, two_arms):
    """A started but unfinished run is refused by read_run, with the resume command in the
    message; allow_incomplete opens what is there and says it is incomplete."""
    rundir.prepare_run(tmp_path / "r", two_arms, 100, SEED)
    with pytest.raises(rundir.IncompleteRunError, match="incomplete run.*ctcsim run --resume"):
        rundir.read_run(tmp_path / "r")
    run = rundir.read_run(tmp_path / "r", allow_incomplete=True)
    assert not run.complete and run.fates.count_rows() == 0


def test_interrupted_run_keeps_finished_parts_and_resume_equals_an_uninterrupted_run(tmp_path, two_arms, monkeypatch):
    """Ctrl-C in the middle of a part: finished parts stay, the unfinished parts' temporary
    files are deleted, the run is incomplete; resuming simulates only the missing parts and
    gives fates and events equal to a run never interrupted.  Parts run two at a time and
    end in any order, so which parts are done is what the run directory says."""
    monkeypatch.setattr(fmt, "PART_UNITS", 2000)  # parts of 2 chunks of 1000 units
    plan = rundir.prepare_run(tmp_path / "r", two_arms, 9000, SEED, events=True, chunk_size=1000)

    def interrupt_after_5_chunks(done, total):
        if done >= 5000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rundir.execute(plan, progress=interrupt_after_5_chunks, threads=2)
    assert not list((tmp_path / "r").rglob("*.tmp"))
    done = rundir.prepare_resume(tmp_path / "r").done_parts()
    # 5 chunks on 2 threads: a part has ended (a third starts only then), and no part of the
    # second arm has started (its first is queued only once three parts have ended).
    assert {a for a, _ in done} == {"control"}, done
    with pytest.raises(rundir.IncompleteRunError):
        rundir.read_run(tmp_path / "r")

    seen = []
    resumed = rundir.execute(rundir.prepare_resume(tmp_path / "r"), progress=lambda done, total: seen.append(done))
    assert seen[0] == 2000 * len(done) and seen[-1] == 18000  # started after the finished parts
    assert resumed.metadata["timings"]["resumed"]
    assert resumed.metadata["timings"]["units_simulated"] == 18000 - 2000 * len(done)
    whole = rundir.write_run(tmp_path / "whole", two_arms, 9000, SEED, events=True, chunk_size=1000)
    assert plain(resumed.fates.to_table()).equals(plain(whole.fates.to_table()))
    assert plain(resumed.events.to_table()).equals(plain(whole.events.to_table()))
    assert resumed.metadata["summary"] == whole.metadata["summary"]
    assert resumed.metadata["counts"]["event_rows"] == whole.metadata["counts"]["event_rows"]


def test_overwrite_replaces_a_previous_run_but_never_other_files(tmp_path, two_arms):
    """Refused without overwrite; with it, a previous run is replaced, but a directory that
    holds anything else is left alone."""
    rundir.write_run(tmp_path / "r", two_arms, 100, 1)
    with pytest.raises(rundir.RunDirError, match="not empty"):
        rundir.prepare_run(tmp_path / "r", two_arms, 100, 2)
    assert rundir.write_run(tmp_path / "r", two_arms, 100, 2, overwrite=True).seed == 2
    (tmp_path / "r" / "notes.txt").write_text("mine")
    with pytest.raises(rundir.RunDirError, match="notes.txt.*refusing"):
        rundir.prepare_run(tmp_path / "r", two_arms, 100, 3, overwrite=True)
    assert rundir.read_run(tmp_path / "r").seed == 2


def same_model(a, b) -> bool:
    """Two compiled models equal field by field (arrays bit for bit, NaN equal to NaN)."""
    def same(x, y):
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            return np.array_equal(x, y, equal_nan=True)
        return x == y or (x != x and y != y)
    return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))


def test_recorded_scenario_inlines_every_number_so_replays_never_read_built_in_tables(tmp_path, monkeypatch):
    """The built-in default's anatomy, primary and the tropism factors its table resolves to
    (adhesion, and niche, inflammation, macrophage and growth of every organ) are
    written inline: the recorded text compiles to the same model, and with every built-in
    tropism table unreadable, trace and resume still reproduce the run."""
    default = sc.load(sc.DEFAULT_SCENARIO)
    monkeypatch.setattr(fmt, "PART_UNITS", 1000)
    run = rundir.write_run(tmp_path / "r", default, 2000, SEED, events=True, chunk_size=500)
    recorded = sc.loads(run.metadata["scenario"])
    organs = recorded.resolved_anatomy().organs()
    assert isinstance(recorded.anatomy, type(default.resolved_anatomy())) and not isinstance(recorded.primary, str)
    assert set(recorded.adhesion) == set(organs) == set(recorded.soil)
    assert all(set(f) == set(SOIL_FACTORS) for f in recorded.soil.values())
    assert same_model(compile_model(recorded), compile_model(default))

    def no_table(primary):
        raise AssertionError(f"the tropism table of {primary!r} was read")
    monkeypatch.setattr(tropism, "load", no_table)
    rows = run.events.to_table(filter=pc.field("unit_id") == 1234)
    assert plain(run.trace(1234)).equals(plain(rows))
    (run.path / "fates" / "arm=control" / "part-00001.parquet").unlink()
    resumed = rundir.execute(rundir.prepare_resume(run.path))
    assert plain(resumed.fates.to_table()).equals(plain(run.fates.to_table()))


def test_provenance_records_versions_platform_libc_and_the_compiler_of_the_core(tmp_path, two_arms):
    md = rundir.write_run(tmp_path / "r", two_arms, 100, SEED).metadata
    assert md["versions"]["scipy"] == scipy.__version__ and md["versions"]["numpy"] == np.__version__
    where = md["platform"]
    assert where["compiler"] == _core.COMPILER and where["compiler"]
    assert where["libc"] == " ".join(filter(None, platform.libc_ver())) and where["system"] == platform.platform()


def test_trace_replays_one_unit_identical_to_its_event_rows(tmp_path, two_arms):
    """Run.trace replays a unit alone from the seed; its events equal that unit's rows in
    the events run, in both arms (common random numbers make the arms' histories differ
    only through the arm's parameters)."""
    run = rundir.write_run(tmp_path / "r", two_arms, 1000, SEED, events=True, chunk_size=300)
    for arm in ("control", "anti_platelet"):
        for unit in (0, 299, 300, 777, 999):
            rows = run.events.to_table(filter=(pc.field("unit_id") == unit) & (pc.field("arm") == arm))
            assert plain(run.trace(unit, arm)).equals(plain(rows)), (arm, unit)
    with pytest.raises(ValueError, match="not in this run"):
        run.trace(1000)


def test_pandas_polars_and_duckdb_read_fates_and_events_with_the_arm(tmp_path, two_arms):
    """The recipes of docs/RUNS.md: each reader sees every row and the arm partition column,
    and the ctcsim metadata survives in the files."""
    import duckdb  # the test extra's readers: imported here, where they are used
    import pandas as pd
    import polars as pl
    root = tmp_path / "r"
    run = rundir.write_run(root, two_arms, 1500, SEED, events=True)
    for table, n in (("fates", 3000), ("events", run.events.count_rows())):
        df = pd.read_parquet(root / table)
        assert len(df) == n and sorted(df.arm.unique()) == ["anti_platelet", "control"]
        counts = pl.scan_parquet(root / table / "**" / "*.parquet", hive_partitioning=True).group_by("arm").len().collect()
        assert counts["len"].sum() == n and sorted(counts["arm"]) == ["anti_platelet", "control"]
        con = duckdb.connect()
        glob = f"{root}/{table}/*/*.parquet"
        assert con.sql(f"select count(*), count(distinct arm) from read_parquet('{glob}', hive_partitioning = true)"
                       ).fetchall() == [(n, 2)]
        kv = con.sql(f"select value from parquet_kv_metadata('{glob}') where key = 'ctcsim'").fetchall()
        assert kv and all(int(json.loads(v[0])["seed"]) == SEED for v in kv)
    f = pl.read_parquet_metadata(next((root / "fates").rglob("*.parquet")))
    assert json.loads(f["ctcsim"])["format"] == rundir.FORMAT
    pandas_fates = pd.read_parquet(root / "fates", filters=[("arm", "=", "control")])
    assert (pandas_fates.fate.value_counts()["arrested"]
            == run.metadata["summary"]["arms"]["control"]["fates"]["arrested"]["count"])


def test_summary_counts_intervals_and_medians(two_arms):
    """summarize counts every fate and organ exactly; intervals are Wilson's; medians are
    within a histogram bin of the lower median; Tables and Datasets give the same summary."""
    fates = simulate(two_arms, 20_000, SEED).fates
    s = analysis.summarize(fates)
    df = fates.to_pandas()
    for arm, g in df.groupby("arm", observed=True):
        got = s["arms"][arm]
        assert got["n"] == len(g)
        for fate, x in got["fates"].items():
            sel = g[g.fate == fate]
            assert x["count"] == len(sel)
            if len(sel):
                # The lower median, which the summary reports (analysis._median): numpy's median
                # of an even count averages two samples that may lie bins apart.
                t = np.sort((sel.fate_time_s - sel.entry_time_s).to_numpy())
                exact = t[(len(t) + 1) // 2 - 1]
                assert abs(x["median_time_s"] / exact - 1) <= analysis.MEDIAN_RESOLUTION
        arrested = g[g.fate == "arrested"].organ.astype(str).value_counts()
        assert {o: x["count"] for o, x in got["organs"].items()} == arrested.to_dict()
        assert list(got["organs"]) == list(arrested.index)  # most frequent first
    lo, hi = stats.wilson(5, 10)  # textbook value: 0.2366, 0.7634
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert stats.wilson(0, 10)[0] == 0.0 and math.isnan(stats.wilson(0, 0)[0])
    assert analysis.summarize(pa.Table.from_batches(fates.to_batches(max_chunksize=777))) == s


def test_simulate_is_a_function_and_no_module_of_that_name_shadows_it():
    """`ctcsim.simulate` is the function; the module that runs chunks is ctcsim.runner, and
    importing ctcsim.simulate as a module fails instead of replacing the function."""
    import importlib.util

    from ctcsim import runner
    assert ctcsim.simulate is runner.simulate and callable(ctcsim.simulate)
    assert importlib.util.find_spec("ctcsim.simulate") is None


def test_units_default_to_the_shedding_scenarios_own_count_drawn_from_the_seed(tmp_path, two_arms):
    """prepare_run without n_units: a shedding scenario runs the Poisson number it sheds
    (reproducible from the seed), any other scenario runs seeding.DEFAULT_UNITS."""
    from ctcsim import seeding
    shedding = sc.load("breast_shedding")
    plan = rundir.prepare_run(tmp_path / "s", shedding, seed=7)
    assert plan.metadata["n_units"] == seeding.shed_units(shedding, 7) == seeding.default_units(shedding, 7)
    assert rundir.prepare_run(tmp_path / "i", two_arms, seed=7).metadata["n_units"] == seeding.DEFAULT_UNITS


def test_primary_and_t_max_settings_give_a_validated_scenario_naming_the_setting(two_arms):
    """seeding.with_settings (what `ctcsim run --primary/--t-max` call) replaces the primary by
    a built-in one and t_max; a bad value is a ScenarioError naming the setting and key."""
    from ctcsim import seeding
    default = sc.load(sc.DEFAULT_SCENARIO)
    s = seeding.with_settings(default, primary="prostate", t_max_s=3600.0)
    assert (s.primary, s.t_max_s) == ("prostate", 3600.0)
    assert seeding.with_settings(default) is default
    with pytest.raises(ctcsim.ScenarioError, match="--primary nowhere: primary: unknown primary 'nowhere'"):
        seeding.with_settings(default, primary="nowhere")
    with pytest.raises(ctcsim.ScenarioError, match="--t-max -1.0: t_max_s"):
        seeding.with_settings(two_arms, t_max_s=-1.0)
