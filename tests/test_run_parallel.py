"""Parts written in parallel (issue 13): each part file is written by the thread that simulated
it, in any order, and holds the same bytes as the sequential writer made before: same part
boundaries, row groups, dictionaries and metadata, for the same seed, threads and chunk size.

PINNED holds the sha256 of every part file of three small runs, made by the sequential writer
(one writer thread per table, chunks consumed in unit order) before parts were written in
parallel (main at 34c5c20: file schemas with field descriptions; the summaries' digests are
those of 8c6418a too; re-pinned since where the model changed, CHANGELOG.md).  The run
metadata every file carries is fixed (``FIXED``: run id, date, versions, platform), so the digests depend on nothing but the simulated values (x86-64 glibc libm, as
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
        'events/arm=anti_platelet/part-00000.parquet': 'b5dbc41f0584a6de9eeed7b07a0582cd418c015ca92a5cbf9df14230a7cb2533',
        'events/arm=anti_platelet/part-00001.parquet': '4ecc1e200ea6829d74e31d10e403fcc84afb7bc43b37b5613ed6a45dcd511d4a',
        'events/arm=anti_platelet/part-00002.parquet': 'db162ced2eb6cee46d004c0dc6af76ac8b33923a510d496cc116527297d781f0',
        'events/arm=anti_platelet/part-00003.parquet': 'af85a0007304266a3aadf11ff7491cc0ff5eb1f7fc411dc197c0d02bf63f3b1d',
        'events/arm=anti_platelet/part-00004.parquet': 'ff20cfeedecb86a181f6e88abf8ba05a73132020b81ab4655c69278fc336242a',
        'events/arm=control/part-00000.parquet': 'a53f1634248352d04f9859f4a4395a428f978cfc0d1a4b78d9d545d73665d6a4',
        'events/arm=control/part-00001.parquet': '374ec3128872ad5baed4baa0ef17a8a4dd5e1b0b993b9836287bee8fd60e1fc7',
        'events/arm=control/part-00002.parquet': 'aeb2bd570bf2f8e78a09cda94168fa21517de9b797f7e2f819f8cc329c316ef8',
        'events/arm=control/part-00003.parquet': '99b42a43b8eecafddda54ebdde7bd889f734537340d2bf1ea4847743e9a85825',
        'events/arm=control/part-00004.parquet': 'c199f35b28301a56955d4f7f5ac6cd5756d160bef824554b9e77fb8f5c604acb',
        'fates/arm=anti_platelet/part-00000.parquet': '9889df0912c520bbc5a0f30d3fada0e425870e6005af5c511a2d419e2a6c3f74',
        'fates/arm=anti_platelet/part-00001.parquet': '683a88dba1b2541d6fd3c7a4d5c5de39e5d4778545fc2ef10a14121a3dc631e2',
        'fates/arm=anti_platelet/part-00002.parquet': '2469b13e681b7d0db36324f03fc56215f1334466103b2bca60951aee22f5d1ff',
        'fates/arm=anti_platelet/part-00003.parquet': 'cf3968829c5281a97e4b68e625df576d94b4c17a546cdce37ecc3cc2ee01d742',
        'fates/arm=anti_platelet/part-00004.parquet': '3532f252562d56b52c2f45f3a350fe12ef2f7adf065ad0eb9005a76d2813c18e',
        'fates/arm=control/part-00000.parquet': 'add1928e8ba002c5581eb9154d7765d8c3253b0d09362c39ed7fe4e7a4ec3187',
        'fates/arm=control/part-00001.parquet': 'fc6e59da3411eb984cab5ba73f92e2872669126e5ac90d75cceac3f598239fc7',
        'fates/arm=control/part-00002.parquet': '2b8364d0804fae47294d48ad41a7ef8efd33bea8e101a282a936db3b47c6940d',
        'fates/arm=control/part-00003.parquet': '48f808b61df582db27987120b170349646a73c8928fdfeeb609480386b3d394b',
        'fates/arm=control/part-00004.parquet': 'c9695bc88a9da1a6b57e412d4229d8d7006f0927e9e930a90bff756cb06c416c',
        'summary': 'a0bbd14d60c079f290d4ec4eef182d374254218bf06ab5969d16b9e532bdd0ab',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': 'c50f7484100c16ed4f6e0a7382d4eaa06e2f1d1e925a6b51748ec4fa1cc5ab94',
        'fates/arm=control/part-00000.parquet': 'af29e7247f727f3fa32e37dd0d9096fc5e7bac0fc5ed3af349f4b3d5d79d997c',
        'summary': 'b387a801f82177c40b67caad021deb10a5931182d2efefacdbdeb4dfeaf9bda5',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '5600ed8583f74c83dafb049e3fc7e21f3b785270d6d1454ff397f8665ab7249e',
        'fates/arm=anti_platelet/part-00001.parquet': 'e0212e1ac0591713230f9f0aa07a64c16a332916be50aed731b786347ee4c900',
        'fates/arm=anti_platelet/part-00002.parquet': '8661481339694c906169e13c2044cc75a198f862239ceee20707373f4b569395',
        'fates/arm=anti_platelet/part-00003.parquet': '66fd589bd79b3fcf49504bd98cde5d7723d0418abc55696416c0de03d1453d94',
        'fates/arm=anti_platelet/part-00004.parquet': '609674f063627a24857728526b033f4449066442be0de2dc689bc6ab1f8848a4',
        'fates/arm=anti_platelet/part-00005.parquet': 'db6da47073379ba26681bed06734c70199569ba9fd4f9e3078cf16ddef114feb',
        'fates/arm=control/part-00000.parquet': '35d5e78668576ec34129231e384aaee4701f6ab3fb09fb8169979726413d3958',
        'fates/arm=control/part-00001.parquet': '59ca904a3c8c910d5e146de85ea35aeccfc9fff25d7e643b6319166737e97492',
        'fates/arm=control/part-00002.parquet': '5e2622179240cab11befb4491941b01c66711463d1c61ac4a8638b950293bf9f',
        'fates/arm=control/part-00003.parquet': '64e45eb4d1d5bfe0a2178de92feac688df41017ab5621821b9e1e27ae2440129',
        'fates/arm=control/part-00004.parquet': '083339ddd43156df68205c4a2a9cf909a48ba27b4b905888f199b75f05da7b0f',
        'fates/arm=control/part-00005.parquet': '44b80c7e8a3bc18f979e5e0b8a518e402da27e56a6b03d18240f0611e4a726ed',
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
