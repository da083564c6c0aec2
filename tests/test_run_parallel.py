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
column ``releases``): every file's bytes changed, the summaries did not.  Re-pinned when the
run metadata and the summary gained the horizon (``horizon_s``, ``horizon``): every file's bytes
and the summaries changed, the simulated values did not.
"""
import collections
import dataclasses
import hashlib
import json
import pickle
import sys
import threading
import time

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
from ctcsim.rundir import chunks, jobs, parts
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
        'events/arm=anti_platelet/part-00000.parquet': '7c0519cf9ffed7b1ee9c1e7d2b2890922610dfa20f8a55583a4478f084efe14b',
        'events/arm=anti_platelet/part-00001.parquet': 'd25a2d4173b304fba25d527144c0669a0e47c6bb2050456c75632d54ce609ffb',
        'events/arm=anti_platelet/part-00002.parquet': '9082db954e6dc58e58015526b333937680d8915958ce6301357c47d65415ff4e',
        'events/arm=anti_platelet/part-00003.parquet': 'b6d62b9d349778db5a5bc94f3bfa35bac7ecf1cec03e81bc64b40844c5fe1f2f',
        'events/arm=anti_platelet/part-00004.parquet': '02f4ba6f7ee39389ead99abb2b6661fab61750da28f7d90b20588bb513778c57',
        'events/arm=control/part-00000.parquet': '3a857df26c7edcf51acdbcd8ddaac13cb68aa3091299c52b4ec53ffa563d9bf0',
        'events/arm=control/part-00001.parquet': '9b039df1b27d35355f249b54e9b3345d9d6f9c1f1e3ed377004476eab5b5f6a0',
        'events/arm=control/part-00002.parquet': 'ca22abb6950c454498b864fb067b8e188e15a046bb1ce0a421802902bf80052f',
        'events/arm=control/part-00003.parquet': 'f3fc48d1404a00aecd0b2b7c7f0a171aa09be354ab5e32bad8b3894fac2635cc',
        'events/arm=control/part-00004.parquet': '31b6cc2cbb894dd74e9050ee9bdf7b6c81b7081d098605d68febc46e500e2b85',
        'fates/arm=anti_platelet/part-00000.parquet': '48a7d12f838bf84f758e54f3e6039337286f10832324a01abc061c5835e565ac',
        'fates/arm=anti_platelet/part-00001.parquet': 'a9fd34d271e6696ef85166936ce8d13ebb1c5e8e84e014dccd5a9ee722ce4aa8',
        'fates/arm=anti_platelet/part-00002.parquet': '109aa3949a3f7e67bf6af1585796f289c23d4ea158843e3d73f9fca80934ed38',
        'fates/arm=anti_platelet/part-00003.parquet': 'c169a50e4a973dc6a32ff918a795e8423aa94ef84d88316377e4cc2c978c0719',
        'fates/arm=anti_platelet/part-00004.parquet': '68bb00bc1f00e62327b55293fbd0ecd73069ee3552b5dfbb3eaad933d0a0488f',
        'fates/arm=control/part-00000.parquet': '79a1b612d2457b58ab029cd7da229ad86d9c40c8655008b9f1eed055e835a52e',
        'fates/arm=control/part-00001.parquet': '657186c6e843c886c65204bad8c01a9e0a79cc290036a399699f645b782e71b9',
        'fates/arm=control/part-00002.parquet': '05a4e827b7ad77851863427ca52964a5a85e1bc3ba89a71fdcbc944efca7982e',
        'fates/arm=control/part-00003.parquet': '4926d40d92e901b98b913d8ca0f69316c4e2d9ecd78fc3afa2cbd1ac4aa37939',
        'fates/arm=control/part-00004.parquet': 'e3859faf6e39dc07d4793367c71e317ca6ce92301ccdd9bded85fc80ddf4360b',
        'summary': '5bcee49d1a0ef132bd9567e5c76f3522a2c173e8926ff94bdd76fd83902b11dd',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': 'f521305e41c9e28c059357090afe1aa2606555fec57f88f415d42eaea8f6e25f',
        'fates/arm=control/part-00000.parquet': '1b85bb314e9ad21e6207a4cab5f324302f18c7c82e0923c698f76bdbfc42e098',
        'summary': '9d19ad71cae2123ca486e09b2715f28213cf142d5e9a7e2050a6e04721e32019',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '272a15e4cb10a4242d21e075e1f03c5d3957cd6853de5c37df4a52f184844ce8',
        'fates/arm=anti_platelet/part-00001.parquet': 'f483ef1f4c33dcf6594434e4b3d88e794bcf53ffa924ac5feb0be59586f5b69b',
        'fates/arm=anti_platelet/part-00002.parquet': '409eb2321504eaaed88ce9e942b753d1d7214d4e5ae36d3d528584e1dc96cba6',
        'fates/arm=anti_platelet/part-00003.parquet': 'bec2dba2c4b691f69baf6b67c181064b33601e020f3d4c75ab0abe1c0a53ad4f',
        'fates/arm=anti_platelet/part-00004.parquet': 'eb5436b8beafcb0d1d5bf092c8f4e9a7f1da7fcbb56fb23e0262f2b761db9515',
        'fates/arm=anti_platelet/part-00005.parquet': '8a4504be8197f6100faab94db80165d522aec72cf585ba035a88bc26b712e9ea',
        'fates/arm=control/part-00000.parquet': '4b1a2522d61e0791ed6a8df7a76ce5c146af0ea2befdc72cd57287927c2addc2',
        'fates/arm=control/part-00001.parquet': '71344dc83e9bcd12dd0094374b4d53594c3b5ca3a8933c84f416f18428ac9873',
        'fates/arm=control/part-00002.parquet': '0010e029314f9508ef7e369982ffb8e85c98c3e83c85ba5c948d2de9218194c1',
        'fates/arm=control/part-00003.parquet': '6ae8460a30b3e608f1e411a7902b70fb86c5612e6781f8e6c2fc1edab2622b40',
        'fates/arm=control/part-00004.parquet': '2ddd8be98cb535d403a3ae6d1d52b44a263ab27d494f1f2df4b699bd81b838e0',
        'fates/arm=control/part-00005.parquet': '33a15eaa96468da2df710654d4a12ddc3f27e4d3ec92d8557d46d133d584fb7d',
        'summary': 'bbccd5c0b34dd630649ad6cb55b63bbd6d81f775e2d1c8f77bdb553da10867e2',
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

    def fails_at_unit_5000(arm, key, start, stop, events, fates=None):
        if start == 5000 and arm.name == "control":
            raise SimulationError(5000, 99, "a test's failure")
        return run_units(arm, key, start, stop, events, fates)

    monkeypatch.setattr(chunks, "run_units", fails_at_unit_5000)
    with pytest.raises(SimulationError, match="unit 5000: a test's failure"):
        rundir.execute(plan, threads=2)
    assert not list(plan.path.rglob("*.tmp"))
    done = rundir.prepare_resume(plan.path).done_parts()
    assert ("control", 2) not in done and {("control", 0), ("control", 1)} & done, done
    monkeypatch.setattr(chunks, "run_units", run_units)
    assert digests(rundir.execute(rundir.prepare_resume(plan.path))) == PINNED[name]


@pytest.mark.parametrize("threads", [2, 3])
def test_a_run_of_fewer_parts_than_threads_simulates_on_every_thread_with_the_same_bytes(tmp_path, monkeypatch,
                                                                                         threads):
    """One part on 2 or 3 threads: its chunks are simulated ahead on helper threads, in slices
    (here 16 units, so each chunk of 50 is cut in four) written into the chunk's columns, while
    the part's thread writes; the files and summary are the pinned ones."""
    name = "one arm, events, 2 row groups, chunks of 50"
    monkeypatch.setattr(chunks, "SLICE_UNITS", 16)
    where, original = set(), chunks.run_units

    def run_units_here(*args):
        where.add(threading.current_thread().name.split("_")[0])
        return original(*args)

    monkeypatch.setattr(chunks, "run_units", run_units_here)
    assert digests(make(tmp_path / "r", name, threads, monkeypatch)) == PINNED[name]
    assert "ctcsim-chunk" in where and where <= {"ctcsim-chunk", "ctcsim-part"}, where


def test_slices_no_helper_has_started_are_simulated_by_the_part_thread_with_the_same_bytes(tmp_path, monkeypatch):
    """Helpers slowed down (2 ms a slice): the part's thread, done writing a chunk, simulates
    the next chunk's slices no helper has started instead of waiting; the bytes are the
    pinned ones."""
    name = "one arm, events, 2 row groups, chunks of 50"
    monkeypatch.setattr(chunks, "SLICE_UNITS", 16)
    where, original = collections.Counter(), chunks.run_units

    def run_units_here(*args):
        thread = threading.current_thread().name.split("_")[0]
        where[thread] += 1
        if thread == "ctcsim-chunk":
            time.sleep(0.002)
        return original(*args)

    monkeypatch.setattr(chunks, "run_units", run_units_here)
    assert digests(make(tmp_path / "r", name, 2, monkeypatch)) == PINNED[name]
    assert where["ctcsim-part"] > 0 and where["ctcsim-chunk"] > 0, where
    assert sum(where.values()) == 400 * 4, where  # each slice once: 400 chunks of 50 cut 16, 16, 16, 2


@pytest.mark.parametrize("share, most", [(0.45, 1), (0.55, 2)])
def test_a_run_without_events_writes_a_part_per_two_threads_unless_writing_is_most_of_its_cpu(
        tmp_path, monkeypatch, share, most):
    """Fates only, 2 threads, 12 parts: one part is written at a time (one row group of rows
    held, not two) while the other thread simulates its next chunks; when the parts' writing
    took more than half their CPU (here: said to), each thread writes a part of its own from
    then on.  Either way the bytes are the pinned ones."""
    name = "two arms, fates only, parts of 999"
    lock, now, seen = threading.Lock(), [0], []

    class Counted(jobs.PartFile):  # a part is being written from its file's opening to its closing
        def __init__(self, *args):
            super().__init__(*args)
            with lock:
                now[0] += 1
                seen.append(now[0])

        def close(self):
            with lock:
                now[0] -= 1
            super().close()

    monkeypatch.setattr(jobs, "PartFile", Counted)
    monkeypatch.setattr(jobs, "_write_share", lambda cpu_s: share)
    monkeypatch.setattr(chunks, "AHEAD_UNITS", 333)  # a chunk ahead, less than a part, as in a run of 2**20-unit parts
    assert digests(make(tmp_path / "r", name, 2, monkeypatch)) == PINNED[name]
    assert max(seen) == most and len(seen) == 12, seen


def test_a_failing_slice_on_a_helper_thread_ends_the_run_and_leaves_nothing_running(tmp_path, monkeypatch):
    """The core's error in a slice simulated ahead ends a one-part run with that error; no
    temporary file is left and no helper thread outlives the run."""
    name = "one arm, events, 2 row groups, chunks of 50"
    monkeypatch.setattr(chunks, "SLICE_UNITS", 16)

    def fails_at_unit_7216(arm, key, start, stop, events, fates=None):
        if start == 7216:
            raise SimulationError(7216, 99, "a test's failure")
        return run_units(arm, key, start, stop, events, fates)

    monkeypatch.setattr(chunks, "run_units", fails_at_unit_7216)
    with pytest.raises(SimulationError, match="unit 7216: a test's failure"):
        make(tmp_path / "r", name, 2, monkeypatch)
    assert not list((tmp_path / "r").rglob("*.tmp"))
    assert not [t for t in threading.enumerate() if t.name.startswith("ctcsim-chunk")]


def test_a_part_job_that_cannot_see_the_run_directory_refuses_in_one_line(tmp_path, monkeypatch):
    """A Dask worker on another machine without the shared filesystem: the job says so, naming
    the directory, instead of writing the part where the run will never find it."""
    plan = prepared(tmp_path / "r", "two arms, fates only, parts of 999", monkeypatch)
    elsewhere = dataclasses.replace(plan, path=tmp_path / "not-here")
    with pytest.raises(rundir.RunDirError, match=r"not-here: no run directory here, where part 3 of control runs"):
        jobs.write_part(elsewhere, "control", 3)
    assert not (tmp_path / "not-here").exists()


def test_parts_run_off_the_main_thread_and_timings_record_their_cpu_per_stage(tmp_path, monkeypatch):
    """Every part is written on a worker thread (simulation, batches, Parquet, tally and
    checksums all off the caller's thread); run.json's timings give the CPU seconds of each."""
    threads = []

    class Opened(jobs.PartFile):
        def __init__(self, *args):
            threads.append(threading.current_thread())
            super().__init__(*args)

    monkeypatch.setattr(jobs, "PartFile", Opened)
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


def test_the_tallys_time_bins_minima_and_maxima_are_the_logarithms():
    """The summary's time bins, read by the tally from a table on the doubles' top bits (the
    others by the logarithm), equal those of the logarithm for every time: at each bin's edge and
    one and two ulps either side, at the table's limits, for zero, negative, infinite and NaN
    times, across 20 decades, and either side of where the table's cells are split between
    two bins; each cell's least and greatest time are numpy's (NaN none)."""
    first, table = analysis._bin_table()
    unit = analysis._CELL_SHIFT - analysis._UNIT_BITS
    split = np.flatnonzero((table >= 0) & ((table >> analysis._UNIT_BITS) & analysis._ALL != analysis._ALL))
    base = (first + split) << analysis._CELL_SHIFT
    after_lo = base + ((((table[split] >> analysis._UNIT_BITS) & analysis._ALL) + 1) << unit)
    at_hi = base + ((table[split] & analysis._ALL) << unit)
    assert len(split) > 10_000  # most cells hold an edge
    splits = np.concatenate([(x + d).view(np.float64) for x in (after_lo, at_hi) for d in (-2, -1, 0, 1)])
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
    for t in (np.concatenate(near), special, logs, -logs, splits):
        tally = analysis.Tally(["a"])
        fate = np.arange(len(t), dtype=np.int8) % 2  # two fates, so cells of both are checked
        tally.add_codes("a", ["lung"], fate, np.full(len(t), -1, np.int32), np.zeros(len(t), np.int8), t,
                        np.zeros(len(t)))
        cell = fate.astype(np.int64) * analysis.N_BINS + analysis._time_bins(t)
        assert np.array_equal(tally.hist["a"], np.bincount(cell, minlength=tally.hist["a"].size))
        lo, hi, real = np.full(tally.hist["a"].size, np.inf), np.full(tally.hist["a"].size, -np.inf), ~np.isnan(t)
        np.minimum.at(lo, cell[real], t[real])
        np.maximum.at(hi, cell[real], t[real])
        assert np.array_equal(tally.lo["a"], lo) and np.array_equal(tally.hi["a"], hi)



@pytest.mark.parametrize("column,code", [("fate", 5), ("fate", -1), ("organ", 1), ("organ", -2), ("after", 10)])
def test_the_tally_refuses_a_code_out_of_range_and_counts_nothing(column, code):
    """The C pass indexes its counts by the codes: one out of range is an error naming the
    ranges, raised before anything is counted (an unchecked code would write out of bounds)."""
    n = 1000
    cols = {"fate": np.full(n, 4, np.int8), "organ": np.zeros(n, np.int32), "after": np.zeros(n, np.int8)}
    cols[column][n - 1] = code
    tally = analysis.Tally(["a"])
    with pytest.raises(ValueError, match=r"tally: a code out of range \(fates 0..4, organs -1..0, post-arrest 0..9\)"):
        tally.add_codes("a", ["lung"], cols["fate"], cols["organ"], cols["after"], np.ones(n), np.zeros(n))
    assert tally.n() == {"a": 0} and not tally.after["a"].any()


def test_the_bin_table_is_built_once_in_blocks():
    """Parts' threads ask for the table at once: they get one table, and its build holds a few
    MiB of temporaries, not the 24 MiB of the whole-table build (two threads' peak RSS)."""
    import tracemalloc

    analysis._build_bin_table.cache_clear()
    tracemalloc.start()
    try:
        tables = []
        workers = [threading.Thread(target=lambda: tables.append(analysis._bin_table())) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(tables) == 4 and all(t[1] is tables[0][1] for t in tables)
    assert peak < 4 * 2**20, f"the table's build peaked at {peak / 2**20:.1f} MiB"

if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        for i, name in enumerate(RUNS):
            print(f"    {name!r}: {{")
            for rel, digest in digests(make(f"{tmp}/{i}", name, None, mp)).items():
                print(f"        {rel!r}: {digest!r},")
            print("    },")
    sys.exit(0)


def test_the_share_of_writing_is_of_all_cpu_but_simulating():
    """The share that decides on more writer loops (run_parts sums it over the parts so far)."""
    cpu_s = {**dict.fromkeys(jobs.STAGES, 0.0), "simulate": 7.0, "parquet": 5.5, "tally": 0.5}
    assert jobs._write_share(cpu_s) == pytest.approx(6.0 / 13.0)
    assert jobs._write_share(dict.fromkeys(jobs.STAGES, 0.0)) == 0.0
