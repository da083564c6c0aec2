"""Parts written in parallel (issue 13): each part file is written by the thread that simulated
it, in any order, and holds the same bytes as the sequential writer made before: same part
boundaries, row groups, dictionaries and metadata, for the same seed, threads and chunk size.

PINNED holds the sha256 of every part file of three small runs, made by the sequential writer
(one writer thread per table, chunks consumed in unit order) before parts were written in
parallel (main at 34c5c20: file schemas with field descriptions; the summaries' digests are
those of 8c6418a too), re-pinned when the run metadata and the summary gained the horizon
(``horizon_s``, ``horizon``: CHANGELOG.md).  The run metadata every file carries is fixed (``FIXED``: run id, date, versions,
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
        'events/arm=anti_platelet/part-00000.parquet': '57aac6daee44f1834e2b44ad233f0b7674af7a07720ec4528cced0bc86b95324',
        'events/arm=anti_platelet/part-00001.parquet': 'f1514b35f6831b8834428537913e4a389eb819d5722e39823494863afda72939',
        'events/arm=anti_platelet/part-00002.parquet': 'ad6e7679e9994bcafab86b1905b86acae76883286fd9129c96e0208cd31d22e8',
        'events/arm=anti_platelet/part-00003.parquet': '2e642c5db9abbe0e76a02293f72e7c600181c8140bcd858675b985739656c85e',
        'events/arm=anti_platelet/part-00004.parquet': 'cd5c7d7c085b2000a7e5a94c38d9c9d36fa4364073eca1b30a1402044f5d623b',
        'events/arm=control/part-00000.parquet': 'e4786da666189d373ff1bfc99af284f6352ff4d824c9b14d50d606f6fdb5a2e1',
        'events/arm=control/part-00001.parquet': '91548d0d7073b1c540a88dd488c2daf3a1a4bb6101a9e0b704f42ad1ad360d8b',
        'events/arm=control/part-00002.parquet': '2569632375b00f1ba3929d47f191ca0677e769663118a5c02962def3fa69a48e',
        'events/arm=control/part-00003.parquet': '068539a9d94b5209ac5839a5bb76b2e6a959cc8217dc6e156c54edec7a196ee6',
        'events/arm=control/part-00004.parquet': '25bda25617c602b1bb6bdbbdb7ce22d4c18c163b5fefa1f822a39ff6fb8766cb',
        'fates/arm=anti_platelet/part-00000.parquet': '4956185690bdebe7321841e04e4654d4df79685bc04e6ec4bea886cb7232e402',
        'fates/arm=anti_platelet/part-00001.parquet': '593b00118cf91af2e995c2024564bf0ea1e0928ac759fca57333be2e433be493',
        'fates/arm=anti_platelet/part-00002.parquet': 'b3c16b2fd49cf7f02bd44911dfe59d44684840a00e2d31e80242ed4c211e5fb1',
        'fates/arm=anti_platelet/part-00003.parquet': '311b3dc338211c3cba6bac262f7f36aec662dfe0e9573142b4d8120725666fcb',
        'fates/arm=anti_platelet/part-00004.parquet': '4dc07613c45d1007faf2563b5557efc31904e14521709b3c41a1297817c57597',
        'fates/arm=control/part-00000.parquet': 'b815084ba6c92a0b51659a72e51737971d407608f614698f58d92d5b94a88f40',
        'fates/arm=control/part-00001.parquet': 'bf7516be19412a68fa1cc82d397de87a3ae89201df57d70abec0efa7dbb510fa',
        'fates/arm=control/part-00002.parquet': '4a5b7abe527e1aa9967d7127aa4a098c11b3894b55958bd985e8a156e2fccafd',
        'fates/arm=control/part-00003.parquet': 'be54ad550c38d03cf2ed6e80d9422d1ad75e617d4dea2a6cae56e1085f6c7375',
        'fates/arm=control/part-00004.parquet': '84acf0936a7f18ca112861a7786f2e7eeaa65dae4c35406d7c80b11c79bcc05d',
        'summary': 'a975cba9a45f7ab625d30fcd5e66069e9045c850f99b4bc33c3902d192a668e5',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '0d3ea1da3523d55a19ada22348090e40af6dfe2a2d589b98c14330e7c6849b46',
        'fates/arm=control/part-00000.parquet': '7c9d72999fd12f44b9dc209d819594e0604b70df819cde7e1355dc96198bfa95',
        'summary': '13fde209bed35cf2a002e931ff3c488208e505cc11c539c8ec06e49e3815848f',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '78cd9d8d1e9a0b5be52104207588d21cf934b2d26376d04430e8bfbdf54597b5',
        'fates/arm=anti_platelet/part-00001.parquet': '24d7157695e9ef370a306ec9e38ec5a3765d5789c5cfb975aee31253972d6744',
        'fates/arm=anti_platelet/part-00002.parquet': '8863f8acf01ac238d91c67729d4ce49491bedcd1e3f955bc8d27b4705a79e39b',
        'fates/arm=anti_platelet/part-00003.parquet': '33f823a1b9510b714c7c7277823749fd2fbb7ea99af933c94702fd61cab41add',
        'fates/arm=anti_platelet/part-00004.parquet': '50296e016a4ac189f4560dfa9263925e485a23596e33217ed268e048e6ac80e2',
        'fates/arm=anti_platelet/part-00005.parquet': '48d2ff9633bf193526751ae85dabe71910129180f5c2376223d68230195d73ac',
        'fates/arm=control/part-00000.parquet': 'fbb59e3dbb376537385518a5efbb08b0de7b236a8e6cd3a3406d5bf1a3549696',
        'fates/arm=control/part-00001.parquet': '0051ce9635dc6478c1f574a8f3f1d147118966614da17304ff8fd581c5adb9bf',
        'fates/arm=control/part-00002.parquet': '08972f75a825f3e013cba40959393b9a8d42b3b3a1c2b8f559acf14cda4deba4',
        'fates/arm=control/part-00003.parquet': 'a9be81fed7df9fc43954c52a7345e2ec2fdef1711ca0081bdb0b5da3cac39291',
        'fates/arm=control/part-00004.parquet': '13a7c7d6c5a64cd65f57ca7cd6ce77260b2dfcf16ba4b6493199cfb5f8e31c46',
        'fates/arm=control/part-00005.parquet': 'cb3f8ddb2b52923367aaa16c5e66a51253773a8a5e70a6a44d320a51a39d103c',
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
