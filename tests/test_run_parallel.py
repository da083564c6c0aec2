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
        'events/arm=anti_platelet/part-00000.parquet': '707f16cd2fcfcb7ecee8765eba8b97704606ba3048371e08fb9139c39abd02fc',
        'events/arm=anti_platelet/part-00001.parquet': 'eef0da2acc15729bdbfd58628e882e0a4dc6bf0da9477c798389a57370f69eaa',
        'events/arm=anti_platelet/part-00002.parquet': '53e7afab90d9463bbd5b1ca470c1b79886e2e71c0e7c9a7f45d51a4d52b2575b',
        'events/arm=anti_platelet/part-00003.parquet': '470a62a3f7deafa889c6be0af3e6d1b9fbd75d21298214824b190ab160d4c9fe',
        'events/arm=anti_platelet/part-00004.parquet': '276389a83ac9df56b4e6af7c2396de0b6f4beb87c727d721f8992e107d452d3f',
        'events/arm=control/part-00000.parquet': '3a21108a870e51f38050c8f7a3f4a3f3b88944fc9e497843828638a70d5dbf38',
        'events/arm=control/part-00001.parquet': '4f270bed39514e1e2979d2f49cd0dd0934cb50cc56759a6c92e1cf8b9a1f7fcb',
        'events/arm=control/part-00002.parquet': '5f41d0507d4d6da4b6c497fef6da86e0f9bcfbd7a2215249a29ecde97c258245',
        'events/arm=control/part-00003.parquet': 'bca7059a71246067870e56493f385d51cd83c71489da40d88371fdd409cdb19b',
        'events/arm=control/part-00004.parquet': '5b8a9e7d80de86294c705840d4bb150a73427fbaee2a3a10c0258b9d9f803e89',
        'fates/arm=anti_platelet/part-00000.parquet': '1eb3d460bd28d780ab5154c86423c775a4c7bef4132a98bc26ca7b3670333cb6',
        'fates/arm=anti_platelet/part-00001.parquet': '756c0261dbfdd8188283ca50d7acde4987a23f3cc4419b7bcdcc3adeaedebe1d',
        'fates/arm=anti_platelet/part-00002.parquet': 'c85b939ea887f8139904b39d4950d287ea2ee71ae93b284e47e836e763805568',
        'fates/arm=anti_platelet/part-00003.parquet': '4c1598585271dfcc7439c25fd287059011e7a3f633a4232049f1438c403f22f2',
        'fates/arm=anti_platelet/part-00004.parquet': '6dad71dc1f46bb3c9b16f7af93fcb08e28b5e7ccc9848f99359c7f52451bdde7',
        'fates/arm=control/part-00000.parquet': '0f5cd1b08745a017386360329514d33323a3cd8dbdd13ab8dc215880af63ca42',
        'fates/arm=control/part-00001.parquet': '607936622b82fb3991c4ad0825fad92e7692c99048a4de95657cc702b00817e7',
        'fates/arm=control/part-00002.parquet': '7a72441410eb6eec523fa933f2fab1ac77487ad9aecdea91242db3b945f3422a',
        'fates/arm=control/part-00003.parquet': '9d2416a063008a70dc51f16023b2dbb096dbc3f1cd1f78bde04985af8dd2fc2a',
        'fates/arm=control/part-00004.parquet': '6e19d1d541f0957faea0d0acbb68c876fb10501980bdf6e3c83d5348d10c9a35',
        'summary': '6323ccabdd42b634ea1f29b9678713fda0bd37f9978532c4cf8febfd9c86dcdd',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '7fa2fc640ee1ac1552b4e74d3a10b3c5aaa49d166437d437fc3a5231d0498fd7',
        'fates/arm=control/part-00000.parquet': 'd1a8711d3e286a31517ca6ebd3fee8d4768de55e3b04a4086e73beb0f0b36758',
        'summary': '1774f7855bc7e67df71fbd1ada8219aac5733f753308a9d583c536c5e600c3c8',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '1b026e4cccff88a1970ed7a5a8f8d74630ee06932457a3f816972d864412b9dc',
        'fates/arm=anti_platelet/part-00001.parquet': 'f0ab80ca07ea68f6580f0e75ef40c543ae133a904be94063ea67e72e25d9d6de',
        'fates/arm=anti_platelet/part-00002.parquet': 'b9291a196b6966632649b26c3a18eff6be6337137c6bbd99ce0c03f956a75495',
        'fates/arm=anti_platelet/part-00003.parquet': 'b546518673415658c25a5475ed63032877a498116e0c7229cdfe91241299b232',
        'fates/arm=anti_platelet/part-00004.parquet': '7d892b19522480621c1db77f66443792d3957d956045e8348106ccecf17c7a49',
        'fates/arm=anti_platelet/part-00005.parquet': 'b21bff6571ba5a58a8d64f8cddc2b7176f62819c38f69883944e6b002142fc4d',
        'fates/arm=control/part-00000.parquet': '64c95e9ce21b24a9147b664b44185dfa77dcc5318aa278637d91bbeffadc0fe8',
        'fates/arm=control/part-00001.parquet': 'f5d02efb258c9fe768233bd5b6c06d54e4084d4cde80ce2b6d571e392fc23fa2',
        'fates/arm=control/part-00002.parquet': '00ea04eb23e6bf0965ca93bc1482dddf8ac88d1b06b927c37de9867a0b3ee976',
        'fates/arm=control/part-00003.parquet': 'a96abb47a87d8f02b5e8f2a44f2caeca9b146dc92e67853f309c96a7b1041e9e',
        'fates/arm=control/part-00004.parquet': 'ce6e06ac45d65750506b662070074dcefa2e6fbe17fbe72d0d268237e6ec68b3',
        'fates/arm=control/part-00005.parquet': '27f45c5d73ac6240c74d2108c8d061455d7fe4d54061643fd30d7db201d71ce9',
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
