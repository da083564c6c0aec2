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
column ``releases``): every file's bytes changed, the summaries did not.  Re-pinned when the
run metadata and the summary gained the horizon (``horizon_s``, ``horizon``): every file's bytes
and the summaries changed, the simulated values did not.
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
        'events/arm=anti_platelet/part-00000.parquet': '4ca76326ea69035fa81f8dd4af391451842794e9afafe00e87e81c859dd16c61',
        'events/arm=anti_platelet/part-00001.parquet': '02b89440e6e18d659b1fd4f699ed11abb354088d3583e2303aefb353169a8dc2',
        'events/arm=anti_platelet/part-00002.parquet': '9d032e53a864d1252d1465c8a3f1d0fe756705c363a151e627f581cf1c1c73bf',
        'events/arm=anti_platelet/part-00003.parquet': '438bc233f3477f1472ab52d408860b4ca9a1989c813fef09329f3598e35ead42',
        'events/arm=anti_platelet/part-00004.parquet': 'd39df055285824d23ea7de2507cfc6d6d5b4809ce8c6870db713c32ddcd78a04',
        'events/arm=control/part-00000.parquet': '3dc795adfd20ba91cf8d200ae26981f1c7c996ea38bf70a2ecb2deb0d2a98238',
        'events/arm=control/part-00001.parquet': 'dc0487cbd311ac37c9214f9aab98e2391b7f66aa1e69a449b45c793df6e1eabe',
        'events/arm=control/part-00002.parquet': '2e8562b24d2ea9fc6230f4136bc8eb5312e6d6fe8fc7c6a5136230638c989fad',
        'events/arm=control/part-00003.parquet': '987c1f70e1ea019004d9264e4a5d820048f6c3edc05cea7ba322142cd0683030',
        'events/arm=control/part-00004.parquet': '7410520ead089b0dd43e211b1b4d958c58ffe47b2df5b535e7d90c8c5afd7ca2',
        'fates/arm=anti_platelet/part-00000.parquet': 'cddf6bc8d50e26434d45c67b8feb748139d65c6028a5e608aac6164a1dbce446',
        'fates/arm=anti_platelet/part-00001.parquet': 'd5eeb78687f05f436429639bcb6002d207085f616374bc5cb05d8f14c04fecc7',
        'fates/arm=anti_platelet/part-00002.parquet': '7a8cdd00917350fbda5bd6301fc2b6c6325217d58dfcaab834fa0f4160d3eff1',
        'fates/arm=anti_platelet/part-00003.parquet': '7ec433df1b610a4153f3b3a24fdab0ed9b80a6971b297690f098e1b8ba4bca33',
        'fates/arm=anti_platelet/part-00004.parquet': '7de3b5fe439a14299d8b3b884bc3c3294d31a808e0a5d8e3dcdf89772ea880e4',
        'fates/arm=control/part-00000.parquet': 'ca302f3ab3b5425dec32154a6432031a6dfef14a2b859d1cd04035f0fda2437d',
        'fates/arm=control/part-00001.parquet': '48952b3d4e95d4fea8d2bc45531d5579060191227ba3d6004d2ea823f2db62cf',
        'fates/arm=control/part-00002.parquet': '980c61bbdc575ec748ec8dd0992eb908fae45f4cac9dd5ecbfc9cb581fc1bdba',
        'fates/arm=control/part-00003.parquet': '3d1fa63da936ac03c89855020bf3624d33859543b9197cc8d2cdf706900c5a2e',
        'fates/arm=control/part-00004.parquet': 'f1c7d95737c6158ab77b814102dcf8a0179559599b802c5b66d29740b1f769e5',
        'summary': 'a975cba9a45f7ab625d30fcd5e66069e9045c850f99b4bc33c3902d192a668e5',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '5952c82f96558ecf2ae8e0b569dd836f1a77941189dda5604328106ccd9d2c1a',
        'fates/arm=control/part-00000.parquet': '5adba888139186267f23addf86e7f6ae04f1fef2602e3ffc07244c355d3cbfd9',
        'summary': '13fde209bed35cf2a002e931ff3c488208e505cc11c539c8ec06e49e3815848f',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '3763ae9b5638f1961c9b15ec734b9861eb19d96be47e3301a68b93179564b260',
        'fates/arm=anti_platelet/part-00001.parquet': 'aec0073ef6c29c4e21736d1f862a96bb36cdb6a8e253ee4fb2f0da25d18ea561',
        'fates/arm=anti_platelet/part-00002.parquet': 'ede5b623688dd8d2516bf17558cb8abe73f2daa72ceb9bcbc9ec8c4a1a087bf7',
        'fates/arm=anti_platelet/part-00003.parquet': '7299a2bdf8bd6ffe16e2635d09160081a13216aba77f8147c38b6701c3cf9495',
        'fates/arm=anti_platelet/part-00004.parquet': '17a893220352256aa37cabc4400fa38f981dda077e9c2fe6d98efd17e4f34b1f',
        'fates/arm=anti_platelet/part-00005.parquet': 'fc4562a7dbace956f79fab43481d91d47b780d2caed5fba945270f39902b2fdc',
        'fates/arm=control/part-00000.parquet': '2b30818e4c34e1671b15a18a75bd1b9e67838f9d8cdb0d4adb2163e6cbde7baf',
        'fates/arm=control/part-00001.parquet': '4799409bd4deeec289179c4f0d6a99de2710e4dc5c8e0ad68250ba2d5e73f9a5',
        'fates/arm=control/part-00002.parquet': 'e5281c99de643ccaf8e91c40c9fe56f3d6c8998f80dc5ee4c267f8b282810733',
        'fates/arm=control/part-00003.parquet': '62a2561db5016c4ea854cc4a6cfb4c9eeb6d88985b15bf6051073e804a292c16',
        'fates/arm=control/part-00004.parquet': '4d6f2e37932f86833bf7654b6cc3afe34b060fd1633bc988360b702ba83e2c2d',
        'fates/arm=control/part-00005.parquet': '754f65ca3dbdc67f9839e7dedb1c1f2ed724439c699b06801aa1f938cc2949b1',
        'summary': 'c503eb3df71d31111e53751c3dd6095d00a8de31d55d2c8dadcda1f9387e8b0f',
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
    tally, files = analysis.Tally(plan.metadata["arms"], plan.scenario.t_max_s), {}  # as the driver
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
