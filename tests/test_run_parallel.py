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
(``python tests/test_run_parallel.py`` prints them).
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
        'events/arm=anti_platelet/part-00000.parquet': 'ddc217d37d2cb5c990126ca4429e9daf2e236101b6efb0801260667b4e34acb4',
        'events/arm=anti_platelet/part-00001.parquet': 'eb14ab54c9377b9f571ea542793fd52ca84339836f2e2667ea70c65913db0483',
        'events/arm=anti_platelet/part-00002.parquet': '9bf6bc678d1f663a012154e62bb46e3b90ea05fbdb0d20752b028ecc41b14487',
        'events/arm=anti_platelet/part-00003.parquet': '3d1085e175352cefeed7ba720d0aa1e1af8fad280d4eabf05b68353e55e49a63',
        'events/arm=anti_platelet/part-00004.parquet': 'f5b45fb2f03b37fa2c1bd5706e0c8696dab4cade86dcb5f27272dbe3de673bef',
        'events/arm=control/part-00000.parquet': 'ed48e8af0f8b4d3c8bcbebeb9d9d0406ada3bbf863a3e06c4897245490d7fd92',
        'events/arm=control/part-00001.parquet': 'cad302f7e01232057737dad88d2fd572a24b77250ffc966f45d66cc0a6313477',
        'events/arm=control/part-00002.parquet': '3f4736db2b1957f9501844c7f1b5f5227fdcae76c98b5be4958632916c9af161',
        'events/arm=control/part-00003.parquet': '88d9dc78494d4708c79cb24945e00bda0853dbe093a9ce73cbd9345331347b4a',
        'events/arm=control/part-00004.parquet': 'd07caad81d0b27820573595e8078448a2b8d6c736f01cc5a46b84db600192a57',
        'fates/arm=anti_platelet/part-00000.parquet': '79573dea01755a9aac8780cc55f91a8956f7351fc5a71a64d00188d57c6d501c',
        'fates/arm=anti_platelet/part-00001.parquet': 'cb6e971fe31c0a74c4fcab60d08b6830b0f97ee9e0de09719c684f9c4bbb64e4',
        'fates/arm=anti_platelet/part-00002.parquet': '3e2981feae5ef3c03528cdfe30d20385d024176d60be34319eb652a75f809300',
        'fates/arm=anti_platelet/part-00003.parquet': 'eb677e91491e3e13efeb55a9e6ae3a8ece4e12cba8a8e0a163739d5357c931dd',
        'fates/arm=anti_platelet/part-00004.parquet': 'efc696b464ca1451dc9420bc893fec05697774751f397de35fee6ceb2b163e78',
        'fates/arm=control/part-00000.parquet': '811d3f3570be00131c621f31a35eb21bee247b0e60923f37c45404be8e3efee9',
        'fates/arm=control/part-00001.parquet': '0373a6c3c6eae5d819b30711afa30dc1b7f2d5468d1e3e6c1fc586b69e95fe1a',
        'fates/arm=control/part-00002.parquet': '465cfdbe73e3ff5b4e4b8d0227f9059fceee0c6d0ce874f0c4ce7142c6e0341f',
        'fates/arm=control/part-00003.parquet': '35fce5faed3ae8ef2774106c5595f683b1bfb14336749f99c3564b91ae87adc5',
        'fates/arm=control/part-00004.parquet': 'f9a2f0da45c786eb054e9c45eff57e493e07f9b255811559b5587654325702c6',
        'summary': '62cb4c1789d509159e810c26e75a2921883eb720cf590f863dec8a6097b29b40',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '2010896f72f5261441683cd8fe17f5ffa35356f8cc6c211e5987d82bc838fefe',
        'fates/arm=control/part-00000.parquet': '49904c2d74036442c79c70b807d6f42a47767c8f88c79c6f3a0bd58c5d9d764c',
        'summary': '45ce12b6ae3e2c544642add719103df9abe1a0b437ab5bf248fa1d6b84e35862',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '2db4bbaaa7bbc9b9001a68c6f05ec7aea3c763822999bd9e0fcfb60f3b9354c2',
        'fates/arm=anti_platelet/part-00001.parquet': '6a6abd5ebe855c2f697cf47033ac72b4af33e677c996b801fd3cac69d9103598',
        'fates/arm=anti_platelet/part-00002.parquet': '36cbf7021dd387a8ecdc3dfbecd786bd9219f5b8348f943e4b57aae202e2132e',
        'fates/arm=anti_platelet/part-00003.parquet': '83342b53ec907bbacfe2eef92c3440ed3a076b75ec63e6fc4e315b9c92c522ac',
        'fates/arm=anti_platelet/part-00004.parquet': '4c9bd3ea82c27a4b6af8093da27df2d043344e42703714e5008e0a978c85f7bc',
        'fates/arm=anti_platelet/part-00005.parquet': '357982f2d0c01f96b9d8c2e778c5dd2a5b2b4e7a8ccea0da39900323d7398baa',
        'fates/arm=control/part-00000.parquet': '471adfd1d3dcf6b4eaa9885c55cdf2cadf34648c17936c2f1ff8de945763f1b9',
        'fates/arm=control/part-00001.parquet': 'fc80353189e9dfe8663df5da8cefe245fcb0baacc5268b02b6ff452d4625c22a',
        'fates/arm=control/part-00002.parquet': '84e8f7687423606f6f3889a7b59c852f53c101883274cc4bfba6a850265d3fed',
        'fates/arm=control/part-00003.parquet': 'c09289dcc2007a8b27214b8d8da44ad8fea14f0a6eef98c224a8318d1f34fddf',
        'fates/arm=control/part-00004.parquet': 'bec402fc3d1e45787804c951d5b1b001f4f96067e01dc151529ea3179d80c9b7',
        'fates/arm=control/part-00005.parquet': '045f7523f565dfe22f68b9653c2b2b7a98b1261bbd9e305a007837fc2778d3e0',
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
