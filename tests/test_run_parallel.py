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
        'events/arm=anti_platelet/part-00000.parquet': '437db1f3865cbff33427d318141d83c797f2be46364a4993f1b80f91a76d54b1',
        'events/arm=anti_platelet/part-00001.parquet': '1baaf66ca096be7d7003739a68b618ef1ab42d6bbfd0efd87ad3e1cf3c132909',
        'events/arm=anti_platelet/part-00002.parquet': '9b5335d0b3499f009a08000b0c13efd360233c19444ac8481624634a19e0d877',
        'events/arm=anti_platelet/part-00003.parquet': 'fa86a34ba471cff0d8dd4d29b59e4b5eaacd36eb1d5b01c347f5368fbc23cef6',
        'events/arm=anti_platelet/part-00004.parquet': 'db640008c6dafb6d70a9b0ba7942ebb5c9a963018823769bb6fbdbc2fec1f1ba',
        'events/arm=control/part-00000.parquet': '3fc383f32c84d4a0803c99f33f1c0a5f7947ce949c1edc518e66c543e340305d',
        'events/arm=control/part-00001.parquet': 'dd6b98cca173c7b214c5249a893f997d6e795e1bdebb2373f52d31ee473e44b0',
        'events/arm=control/part-00002.parquet': '8456a85a8fcf7357a23209ba43eb3b5f632db2272182d5f74cbb3beda701b0a2',
        'events/arm=control/part-00003.parquet': '82c2b7ccc389a4ec4ab2a62ebb8ebe0461f84269f4477af6d4405fac729950df',
        'events/arm=control/part-00004.parquet': 'c59b9ae88e841d3cfa6c1a9c715b4057e834cd539e09da95bbe0adf7ff625c1a',
        'fates/arm=anti_platelet/part-00000.parquet': 'b283572fedc93d6e7c9ca5ef30bfc5c8a0adff533fe85bd80187aa68ceaca5b9',
        'fates/arm=anti_platelet/part-00001.parquet': 'd4c57ff8f5bd951c7907d563d78d70e7d5b0f9c4a6a20e0460620c031c166099',
        'fates/arm=anti_platelet/part-00002.parquet': '970c891c4d4789d6fb3d55ce64024477eec475284c6e6d7fabd907ae69ef3f25',
        'fates/arm=anti_platelet/part-00003.parquet': '18d1964db14e5490818afd58f8acb47e41c1da8d73228e97e2079a72e08b021d',
        'fates/arm=anti_platelet/part-00004.parquet': '4e0b0349fa215e9092526e4604121ab8801ae57f8547fc0ba10177070a65aa25',
        'fates/arm=control/part-00000.parquet': 'ad98f6ca7e1201922818196e23c435468bd5394b5c79e5a00555bf2a91ecf949',
        'fates/arm=control/part-00001.parquet': 'c8ca75bf4af802a598c491ef296ab3a1e792b894799fa357126f7f5e76a02350',
        'fates/arm=control/part-00002.parquet': '0b0273ef56e6496fa0c23c7384fef3484d37b79f957882cb4338f0522bbc52f7',
        'fates/arm=control/part-00003.parquet': 'eecf4af5063db4e74882442789b948f9665108ceff5acc0ec522145909ddefa1',
        'fates/arm=control/part-00004.parquet': '8c561b836290b087f7e8fd26b42965a29a8974e2da1e64ac3af2a388fae50269',
        'summary': 'bcc900bf2baf5226470ae219188c216f61d41873c4eddc5cf94070ce226839d9',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': 'e5174dc364062aa8893f0b0c7812d45aab1506cf3477a44d173ff94764f63146',
        'fates/arm=control/part-00000.parquet': 'd7224b271ad29988c402713dfa556902c5c15aa97483f03791d8719d5b7c8faa',
        'summary': '1570583ba209be3c7cb2468a44e9aa1a70529e5287ae52de8b40d84bc78417ca',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': 'bc2e234bff49d7091093d4ce2cbfec62b7ae67486e5d1a62709e068d3f1ccb07',
        'fates/arm=anti_platelet/part-00001.parquet': '5778217f4e065bc22225f29ddc02de7238762cda44aac5e2b883e5a292df1657',
        'fates/arm=anti_platelet/part-00002.parquet': '201975e7500b5946504f3a9fd048d5bf4269d94fa14c299ec4731a7e7865f532',
        'fates/arm=anti_platelet/part-00003.parquet': '656eb86307ce88f7bba33f7e3704db36fe79ce52d5a40ca75e991c895cc2fb29',
        'fates/arm=anti_platelet/part-00004.parquet': '990504884a8f632e2c3b187bc282b65bfa52446998af9947c3a42543dcbcb8f5',
        'fates/arm=anti_platelet/part-00005.parquet': '8c414cc9149b338d5839dd9a6ddbc560740431346977f6fe7f82f1483a7c9e13',
        'fates/arm=control/part-00000.parquet': '48b4ce25dca4686a368dfcf6204daa77a35fd82b6a417ab880e03c73bf32ac8a',
        'fates/arm=control/part-00001.parquet': 'b8c76786ca459eecc825d0e3b6f44b8204bd5950b0dd66eae63faffcfd690a64',
        'fates/arm=control/part-00002.parquet': '0d3b7e98b38fc77d8c5af48b43049bb3dabce6c8e62c005f69f410a99e52f872',
        'fates/arm=control/part-00003.parquet': '6c206dd5264fb5a7943d46e3f895eda6c25778c36db9f2ddf1175cd52febb19a',
        'fates/arm=control/part-00004.parquet': '03d82dea21fa8933204b77e1d3a2f5a572f3d681f1b3511256d090ff41561129',
        'fates/arm=control/part-00005.parquet': 'b7048852409b00565f13a0aa8cbe6fa0ea4faa8455c2de1678c1f08587cb4b53',
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
