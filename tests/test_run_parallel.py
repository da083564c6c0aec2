"""Parts written in parallel (issue 13): each part file is written by the thread that simulated
it, in any order, and holds the same bytes as the sequential writer made before: same part
boundaries, row groups, dictionaries and metadata, for the same seed, threads and chunk size.

PINNED holds the sha256 of every part file of three small runs, made by the sequential writer
(one writer thread per table, chunks consumed in unit order) before parts were written in
parallel (main at 34c5c20: file schemas with field descriptions; the summaries' digests are
those of 8c6418a too; re-pinned since where the model changed, CHANGELOG.md).  The run metadata every file carries is fixed (``FIXED``: run id, date, versions,
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
        'events/arm=anti_platelet/part-00000.parquet': '84d9e89c1cf20bda6c3db0f796b0536624c030230b8d98eb93f3af5f96f2448b',
        'events/arm=anti_platelet/part-00001.parquet': '5c0a627675505f854da2206481ff5c94e13b2ab2dc623c398413fb16e6a585f3',
        'events/arm=anti_platelet/part-00002.parquet': 'b66a2176d7401c1e41553dd028b56e081dbf912449b1ac38e9c9ce7ebb352be1',
        'events/arm=anti_platelet/part-00003.parquet': 'b4b74d2ad2120bdf2508d4eb00845246071a7f08fb3f66307c33633ae3c9ba31',
        'events/arm=anti_platelet/part-00004.parquet': 'fec1e76b200caf78cc8af16f69bf0807344b71a8e77c6e7ed6168dd8749cd582',
        'events/arm=control/part-00000.parquet': 'de538bba72579a547d5d29c9260360e4a771048579152eba9dc9c16df1a9f94f',
        'events/arm=control/part-00001.parquet': '2a8f007f9816d63fd57d1030c83a29435e2b97447371e36355bb8ed774140877',
        'events/arm=control/part-00002.parquet': '04509bc2f5fa97aec97802e2e5abf21c9ca7e0f7e570aaebbba6cf2094870e7f',
        'events/arm=control/part-00003.parquet': '133cb655158775e8f4b706860baa45389e3b6bc36db1ba32d429d49b740f2c62',
        'events/arm=control/part-00004.parquet': '58757a75d85c1f7f987c728959ce9ebe8d0ab60dbcac84a8e609945401a5d602',
        'fates/arm=anti_platelet/part-00000.parquet': '013f1c5a4612c821ffdabac67c56b8a543f99c2ecd268cc896d580aabbb89272',
        'fates/arm=anti_platelet/part-00001.parquet': '225cc8f075c686cd0d0dbcd7814ba3fd45ff718cbeb7dc4e5e48d1faeae7b2ab',
        'fates/arm=anti_platelet/part-00002.parquet': 'e68e96b22c3b1521506748eed43fe34dd693828ae3d1dde7191e7de69b910816',
        'fates/arm=anti_platelet/part-00003.parquet': '5cf7cc2aab88cc297922a844cab55b14963368b0d49acca238cdfa9bc86d4feb',
        'fates/arm=anti_platelet/part-00004.parquet': '7059539d4703edd692c352cc7d6a67a66af8f927ed6335921a61dd54dfab08cf',
        'fates/arm=control/part-00000.parquet': '366ace2c1d6a301988fe38d57507a3ddb6de517de8089a3d902c8d9af9ba1ec4',
        'fates/arm=control/part-00001.parquet': '0826c17a44fa4cb2c85b8aa5a06533e9aba35755816f0e7d7aa4691775d56899',
        'fates/arm=control/part-00002.parquet': 'fe55a7432cd656dc7108c0cc2d3ea29dc4cf66546eecf17291f585a520e328c1',
        'fates/arm=control/part-00003.parquet': 'ffccc8ba8243637b842a3906fe4a968c21db57a42ad4cea3911ebc74ab841d90',
        'fates/arm=control/part-00004.parquet': '792dabefc73003bf041bce4277dfa54e81fcf4f68c5423bceea72e895500cd80',
        'summary': 'a0bbd14d60c079f290d4ec4eef182d374254218bf06ab5969d16b9e532bdd0ab',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '775fccfe73e7e654a4f2d595db098db39b0ea121499d8b7930885ae3993d6e75',
        'fates/arm=control/part-00000.parquet': 'da42b49c9c6bedb98a470fa4c67598cc0a0fd0dd8856fe424429b3e556e80d02',
        'summary': 'b387a801f82177c40b67caad021deb10a5931182d2efefacdbdeb4dfeaf9bda5',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '6046bd82445f95ae9c228d674f84eb7f556683b060219c83833df6b234344623',
        'fates/arm=anti_platelet/part-00001.parquet': '9cf3e6ce507a91c3fa087ba05c012f6afcd84cabdcd1999ab7b8378055d2086d',
        'fates/arm=anti_platelet/part-00002.parquet': '9f6a6eda5681a16e85adfb2170cfeaafb9ca967bf5c3b078ca962a218bba6fbd',
        'fates/arm=anti_platelet/part-00003.parquet': 'e651da79817b4677b8ed7267ea1316b3f90b2e583c426fde3ce2cf0b565cd686',
        'fates/arm=anti_platelet/part-00004.parquet': '9ab2afda7875f2a5e5e561096bb1b07c9188f060f33c0766b26d449f8a182c04',
        'fates/arm=anti_platelet/part-00005.parquet': 'baa2b7eab25572ddf538908727637d1014113eed109db947cc2532ccc32e63db',
        'fates/arm=control/part-00000.parquet': 'a5275fa0e585b53cd2184947fde214aae2e3da9123d3a865be36a7a3ba58bc8f',
        'fates/arm=control/part-00001.parquet': 'a4952a9b3395a2ae67fc9793ca7675dd4897fd100c5ccfeb05247201adf1b64e',
        'fates/arm=control/part-00002.parquet': '44566849fe9956aaed245bfbcccecf3db3e745fdcdf0e0adf22b0edcfa449534',
        'fates/arm=control/part-00003.parquet': 'ce161122bcf0675daec20955925995abbde66a0e05d6aa76bb32f4de45abe533',
        'fates/arm=control/part-00004.parquet': '82740ff2ec4f66454abef039a8ff4242f0b245d3145bac2931c29909be1c07ed',
        'fates/arm=control/part-00005.parquet': '9a285b047b66314443d3c8cf78129200fb6a50bd27d55acc3ea73238899b7fd1',
        'summary': '8c9fe6d3e4ec3870cb8c841b0aab347ee326be0de4fe3eaff796956e146a684a',
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
