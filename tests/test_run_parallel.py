"""Parts written in parallel (issue 13): each part file is written by the thread that simulated
it, in any order, and holds the same bytes as the sequential writer made before: same part
boundaries, row groups, dictionaries and metadata, for the same seed, threads and chunk size.

PINNED holds the sha256 of every part file of three small runs, made by the sequential writer
(one writer thread per table, chunks consumed in unit order) before parts were written in
parallel (main at 34c5c20: file schemas with field descriptions; the summaries' digests are
those of 8c6418a too).  The run metadata every file carries is fixed (``FIXED``: run id, date, versions,
platform), so the digests depend on nothing but the simulated values (x86-64 glibc libm, as
tests/test_known_answers.py) and pyarrow's Parquet writer (its version is in each file's
footer): a pyarrow upgrade changes them, and then CHANGELOG.md says so with the new digests
(``python tests/test_run_parallel.py`` prints them).  Re-pinned for run format 1.2 (the fates
column ``releases``): every file's bytes changed, the summaries did not.
"""
import dataclasses
import hashlib
import json
import pickle
import sys
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import RICH
from test_run_dir import ARMS

from ctcsim import analysis, rundir
from ctcsim import scenario as sc
from ctcsim.errors import SimulationError
from ctcsim.rundir import format as fmt
from ctcsim.rundir import jobs, parts
from ctcsim.runner import Arm, fate_batch, run_units, seed_key

FIXED = {"run_id": "0" * 32, "created": "2026-12-01T00:00:00+00:00",
         "versions": {"python": "3", "numpy": "2", "pyarrow": "26", "scipy": "1"},
         "platform": {"system": "Linux", "machine": "x86_64", "libc": "glibc", "compiler": "gcc"}}
# name: (units per arm, arms, events, chunk size, units per part); chosen to cover many parts
# per arm and a short last part, two row groups in one file (288,572 event rows > 2**18), and
# small chunks whose batches are merged while a row group fills.
RUNS = {
    "two arms, events, 5 parts per arm": (9000, None, True, 1000, 2000),
    "one arm, events, 2 row groups, chunks of 50": (20000, ["control"], True, 50, fmt.PART_UNITS),
    "two arms, fates only, parts of 999": (5000, None, False, 333, 999),
}
PINNED = {
    'two arms, events, 5 parts per arm': {
        'events/arm=anti_platelet/part-00000.parquet': '49200a496aa811c612484c2dcc16aad8c48b784b1e1321bab1b1b573cb1251ab',
        'events/arm=anti_platelet/part-00001.parquet': 'e234f58b11b28c14afc6ea58a50a9ec934c135a789704289e28deea4315c7437',
        'events/arm=anti_platelet/part-00002.parquet': '8685662bd37408c101612f3f48ec7ba9b59d0a60e846a724e581415372978d29',
        'events/arm=anti_platelet/part-00003.parquet': 'c3ac4e0e01ec5004997f259aa52966672b81b8a5cd1f515394739248f3866c75',
        'events/arm=anti_platelet/part-00004.parquet': '4a5e21f60ac15549f632a56ad263cbb1dc2596e0182b2d5f3157acadac6f5608',
        'events/arm=control/part-00000.parquet': '34d02b77840237d19f78d36d5e7564f464cbd47ba496082cdae47006c0662947',
        'events/arm=control/part-00001.parquet': '7cbb952108f83a3d4a27d84bf92f09b93cf34ccefb51c315654289cdd5787086',
        'events/arm=control/part-00002.parquet': '9924e4c542acb8891c5452b01134d218f1cb94a046f81bc024ae27b965fce143',
        'events/arm=control/part-00003.parquet': '2a18d06fe9d18c4c7fcbc97394bbe55411578d097b0c23dcd94e04bc1d99c880',
        'events/arm=control/part-00004.parquet': 'd835a16e434e0a3ef04c426c94691dd5b4138a4611150a4565a0e3ade456362d',
        'fates/arm=anti_platelet/part-00000.parquet': 'f557afcf3776135ba00998c9fffffdf53370bbb81e111f375b0e58638f9e1578',
        'fates/arm=anti_platelet/part-00001.parquet': '52c998d99acca5b872a3d631594faf3f026e361657d46dcb0fad1edbf5506a60',
        'fates/arm=anti_platelet/part-00002.parquet': 'e56fc9c0a9b26f64abbd1c2d3f06ef591fa185a24c91711a47eb7ffce140a4ba',
        'fates/arm=anti_platelet/part-00003.parquet': 'ec314ac0eed0f7bc7d1b5974e6f1d23e092dcaad916135a1618db7912f51f2d9',
        'fates/arm=anti_platelet/part-00004.parquet': '9d67c3a3f1f74a18a66eac26081221d5b64610e99c8eeff95a57bd230e834fe9',
        'fates/arm=control/part-00000.parquet': '5100d8ae768c52da8ad9d3f5a4473fa55366b25f780617cd399bc219fe5346e1',
        'fates/arm=control/part-00001.parquet': 'a0bd7c1461ce39d153d2da990702e1e03f125af9178c2e67b01d07c12ba0a80a',
        'fates/arm=control/part-00002.parquet': 'ab46109e5ba7668952a272f220c7ac8adc0141077419fba1159a9b7ebe286683',
        'fates/arm=control/part-00003.parquet': 'e811f71458239cbaa49eab6998006a67da78e0551ab8be533d0ac52bbe6ff5eb',
        'fates/arm=control/part-00004.parquet': '62566f6d4d174e7d6316d275c794c946a9fbb13ac09d049f48d6d8fc67dd125f',
        'summary': '62cb4c1789d509159e810c26e75a2921883eb720cf590f863dec8a6097b29b40',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '6b32dfe593e6920c712d9a35a7011bbffe4e0ecc04b9d38b27156297eda41416',
        'fates/arm=control/part-00000.parquet': '610d4e007ee805b0aa95d67620747563c138db883b51271a988221705236f10d',
        'summary': '45ce12b6ae3e2c544642add719103df9abe1a0b437ab5bf248fa1d6b84e35862',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': 'dc6e75d8c1635bea651846eaa741d72234b8fc8e24df8736b62cb5d629194058',
        'fates/arm=anti_platelet/part-00001.parquet': '5a8bb219780a7af13adf01b924b8d65956c1fcb39136ef06ae5c9c992b8db0d2',
        'fates/arm=anti_platelet/part-00002.parquet': 'fd870cfd6c7e5a9d7daefc24b50febc2c33a951936aa3b4543a32dbed6061b1f',
        'fates/arm=anti_platelet/part-00003.parquet': 'cf585847aef462c507d2c0b70c57bd895d22fc7a1774c37c8a1a2d850c4428b2',
        'fates/arm=anti_platelet/part-00004.parquet': 'cf57a9151e7d6a986174f583496512425fd3b90997a8af4362cb748e35831cf0',
        'fates/arm=anti_platelet/part-00005.parquet': 'ae8311d92d08987d87bfc5ed5b72c2b7f64fadb48d436ee1cc0984c61a1910c1',
        'fates/arm=control/part-00000.parquet': '27515d6f11916ff9f59f1a3880c0449496162c46a6ad421ebf7565045e777c1d',
        'fates/arm=control/part-00001.parquet': '0f2ad2cdd95c401a966f2ff5bbef3820ad0461ec475ca019acd66175b782ba7a',
        'fates/arm=control/part-00002.parquet': '517789a410e6f6009c5471d20135453235437670cb204cb4c6620a1f74822281',
        'fates/arm=control/part-00003.parquet': '033ff8ce6be93329b54e7444fcadf326dce80e2ef1e73ff07ce8aa65373062e8',
        'fates/arm=control/part-00004.parquet': '5e530169467d80da9103322ccc42994776f750a46e41691eb9c2e621cf401b05',
        'fates/arm=control/part-00005.parquet': '6e9e77c8c289df473f7c3ed0b3e20640af31532f1376ce4e5e8c85b07bfb1b02',
        'summary': 'fad9a968e459323dfd7f2d6366f57b74bcdcf4e3253d9f669ecc7c05de6261b2',
    },
}


def prepared(root, name, monkeypatch) -> rundir.Plan:
    n, arms, events, chunk, part_units = RUNS[name]
    monkeypatch.setattr(fmt, "PART_UNITS", part_units)
    plan = rundir.prepare_run(root, sc.loads(RICH + ARMS, "rich_two_arms.toml"), n, 20261201, arms=arms,
                              events=events, chunk_size=chunk)
    return dataclasses.replace(plan, metadata={**plan.metadata, **FIXED})


def make(root, name, threads=None, monkeypatch=None) -> rundir.Run:
    return rundir.execute(prepared(root, name, monkeypatch), threads=threads)


def summary_digest(summary: dict) -> str:
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


def digests(run) -> dict[str, str]:
    """Every part file's sha256, as read from disk, checked against what run.json records; and
    that of run.json's summary as JSON text (the tally's, to the last digit)."""
    recorded = run.metadata["parts"]
    found = {rel: parts.sha256(run.path / rel) for rel in parts.listing(run.path)}
    assert found == {rel: e["sha256"] for rel, e in recorded.items()}
    assert all(e["bytes"] == (run.path / rel).stat().st_size for rel, e in recorded.items())
    return {**found, "summary": summary_digest(run.metadata["summary"])}


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("name", list(RUNS))
def test_part_files_hold_the_bytes_the_sequential_writer_made(tmp_path, monkeypatch, name, threads):
    assert pa.__version__ == "26.0.1", "the pinned digests were made with pyarrow 26.0.1 (see the docstring)"
    assert digests(make(tmp_path / "r", name, threads, monkeypatch)) == PINNED[name]


def test_a_part_job_is_a_plain_function_of_plan_arm_and_part(tmp_path, monkeypatch):
    """What a Dask worker would do: write_part called on its own for each part, last part
    first, with a plan and a result that survive pickling; the files hold the pinned bytes,
    each PartDone says what run.json records, and the tallies merged in that order give the
    pinned summary."""
    name = "two arms, events, 5 parts per arm"
    plan = pickle.loads(pickle.dumps(prepared(tmp_path / "r", name, monkeypatch)))
    tally, files = analysis.Tally(plan.metadata["arms"]), {}
    for arm, part in reversed([(a, p) for a in plan.metadata["arms"] for p in range(5)]):
        done = pickle.loads(pickle.dumps(jobs.write_part(plan, arm, part)))
        assert (done.arm, done.part, done.units) == (arm, part, 2000 if part < 4 else 1000)
        assert done.event_rows == pq.read_metadata(plan.path / parts.relative("events", arm, part)).num_rows
        tally.merge(done.tally)
        files.update(done.files)
    assert files == {rel: parts.describe(plan.path / rel, pq.read_metadata(plan.path / rel).num_rows)
                     for rel in parts.listing(plan.path)}
    assert {**{rel: e["sha256"] for rel, e in files.items()}, "summary": summary_digest(tally.summary())} \
        == PINNED[name]


def test_a_failing_part_stops_the_run_keeps_finished_parts_and_resume_completes_it(tmp_path, monkeypatch):
    """A part that fails (here: the core's error for one chunk) ends the run with that error;
    the parts under way stop before their next chunk, no temporary file is left, the parts
    that ended are recorded, and a resume gives the pinned files and summary."""
    name = "two arms, events, 5 parts per arm"
    plan = prepared(tmp_path / "r", name, monkeypatch)

    def fails_at_unit_5000(arm, key, start, stop, events):
        if start == 5000 and arm.name == "control":
            raise SimulationError(5000, 99, "a test's failure")
        return run_units(arm, key, start, stop, events)

    monkeypatch.setattr(jobs, "run_units", fails_at_unit_5000)
    with pytest.raises(SimulationError, match="unit 5000: a test's failure"):
        rundir.execute(plan, threads=2)
    assert not list(plan.path.rglob("*.tmp"))
    done = rundir.prepare_resume(plan.path).done_parts()
    assert ("control", 2) not in done and {("control", 0), ("control", 1)} & done, done
    monkeypatch.setattr(jobs, "run_units", run_units)
    assert digests(rundir.execute(rundir.prepare_resume(plan.path))) == PINNED[name]


def test_a_part_job_that_cannot_see_the_run_directory_refuses_in_one_line(tmp_path, monkeypatch):
    """A Dask worker on another machine without the shared filesystem: the job says so, naming
    the directory, instead of writing the part where the run will never find it."""
    plan = prepared(tmp_path / "r", "two arms, fates only, parts of 999", monkeypatch)
    elsewhere = dataclasses.replace(plan, path=tmp_path / "not-here")
    with pytest.raises(rundir.RunDirError, match=r"not-here: no run directory here, where part 3 of control runs"):
        jobs.write_part(elsewhere, "control", 3)
    assert not (tmp_path / "not-here").exists()


def test_parts_run_off_the_main_thread_and_timings_record_their_cpu_per_stage(tmp_path, monkeypatch):
    """Every part job runs on a worker thread (simulation, batches, Parquet, tally and
    checksums all off the caller's thread); run.json's timings give the CPU seconds of each."""
    threads, original = [], jobs.write_part

    def write_part(*args):
        threads.append(threading.current_thread())
        return original(*args)

    monkeypatch.setattr(jobs, "write_part", write_part)
    run = make(tmp_path / "r", "two arms, fates only, parts of 999", 2, monkeypatch)
    assert len(threads) == 12 and threading.main_thread() not in threads
    cpu = run.metadata["timings"]["cpu_s"]
    assert set(cpu) == set(jobs.STAGES) and all(s >= 0 for s in cpu.values()) and cpu["simulate"] > 0


@pytest.mark.parametrize("column,code", [("fate", 99), ("fate", -1), ("post_arrest", 120), ("organ", 10**6),
                                         ("organ", -2)])
def test_a_code_the_core_should_never_write_is_refused_when_batches_are_made(column, code):
    """Batches skip Arrow's own index check (10x its cost): one max per column catches a code
    beyond the dictionary, negative ones included, naming the column."""
    arm = Arm.of(sc.loads(RICH + ARMS, "rich_two_arms.toml"), "control")
    fates, _ = run_units(arm, seed_key(1), 0, 100, False)
    fates[column][7] = code
    with pytest.raises(ValueError, match=f"the core wrote a {column.replace('_', '-')} code outside"):
        fate_batch(arm, None, fates)


def test_time_bins_by_table_are_the_logarithms_bins():
    """The summary's time bins, read from a table on the doubles' top bits, equal those of the
    logarithm for every time: at each bin's edge and one and two ulps either side, at the
    table's limits, for zero, negative, infinite and NaN times, and across 20 decades."""
    edges = 10.0 ** ((np.arange(analysis.N_BINS + 1) - 1) / analysis.BINS_PER_DECADE + np.log10(analysis.T_MIN_S))
    near = [edges]
    for direction in (np.inf, -np.inf):
        x = edges
        for _ in range(2):
            x = np.nextafter(x, direction)
            near.append(x)
    special = np.array([0.0, -0.0, -1.0, np.nan, -np.nan, np.inf, -np.inf, 5e-324, 1e-300, 2.0 ** -21, 2.0 ** 34,
                        np.finfo(float).max, 1e10, 1e-6])
    logs = 10.0 ** np.random.default_rng(7).uniform(-8, 12, 1_000_000)
    for t in (np.concatenate(near), special, logs, -logs):
        assert np.array_equal(analysis.time_bins(t), analysis._time_bins(t))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        for i, name in enumerate(RUNS):
            print(f"    {name!r}: {{")
            for rel, digest in digests(make(f"{tmp}/{i}", name, None, mp)).items():
                print(f"        {rel!r}: {digest!r},")
            print("    },")
    sys.exit(0)
