"""Parts written in parallel (issue 13): each part file is written by the thread that simulated
it, in any order, and holds the same bytes as the sequential writer made before: same part
boundaries, row groups, dictionaries and metadata, for the same seed, threads and chunk size.

PINNED holds the sha256 of every part file of three small runs, made by the sequential writer
(one writer thread per table, chunks consumed in unit order) before parts were written in
parallel.  The run metadata every file carries is fixed (``FIXED``: run id, date, versions,
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
from ctcsim.runner import run_units

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
        'events/arm=anti_platelet/part-00000.parquet': 'f12214f5d7d6f361526f6843fbc2c0dd9406899acf7fcb9f93df48a68f5e2052',
        'events/arm=anti_platelet/part-00001.parquet': 'b0141ed5df9da56b967181bb501e42773ea261ee90829921fa6dfa7d73b80b1a',
        'events/arm=anti_platelet/part-00002.parquet': '2816af633d493ceb410db199d9e7800020821c2e17dd187d0379e6e949600ee2',
        'events/arm=anti_platelet/part-00003.parquet': 'b076c28adea3b4fdeffa31e82a1936d115936840a070f06954e2ca8971c7bfcc',
        'events/arm=anti_platelet/part-00004.parquet': '69e5f18271bc328ea2603b0f8e5f6c56abb989e4d626dbcb20c8c258741a890d',
        'events/arm=control/part-00000.parquet': '6275b807337d321de42cf3f75b786f239e31eaff1b80561a3e3e7269d10e6ca3',
        'events/arm=control/part-00001.parquet': '7ff4b357313bdcc868f52e7e3779b164124f762a3e7e2e878cdf21d308c6ce11',
        'events/arm=control/part-00002.parquet': 'a5826519c0c39f9459f56ca8d2d86ff11969538ac7ceaf59018034c17827bf74',
        'events/arm=control/part-00003.parquet': '15207cbcd78255c9a964c100de4a02d2633dd9a25394e6e9370cce3ee612932c',
        'events/arm=control/part-00004.parquet': 'de3734ada357d359fe460d8b2cb2c639e253d79ced6bf7de121ecd0d37b75161',
        'fates/arm=anti_platelet/part-00000.parquet': 'd5985d09c4d57b23c9e77c2ada7a4440fcedcba27fcb75b6df1f2ada2fa4f840',
        'fates/arm=anti_platelet/part-00001.parquet': '2a34d4f35478c89c491b8fb9aa5c0d9696c76a239f2509e091774f03d7228a6e',
        'fates/arm=anti_platelet/part-00002.parquet': 'c493190a0c3ed5930fd09278d436dd0c13487e90bad0acdb46f46f5a92b2190d',
        'fates/arm=anti_platelet/part-00003.parquet': 'f4152071d9526ce8f7b64f009fa705317931c1ad7a4ab78db056650ebf7fc89a',
        'fates/arm=anti_platelet/part-00004.parquet': '29366affb5640884749be31dfe1607b137eec829456f8b970eb0c8e1a9a87c5f',
        'fates/arm=control/part-00000.parquet': 'adf161ab01f1821b5f895e322dacddb973f7d46937e8e5cd46c44cc70c7d5317',
        'fates/arm=control/part-00001.parquet': 'cb9e635511c2ebec89bec510f9c0d6de00740a1eaaf8d6475ffa08cfe122df81',
        'fates/arm=control/part-00002.parquet': 'af913bc54f35a21aaf43f9171b3c2b926270f390c3bd99d49916460eb35969d1',
        'fates/arm=control/part-00003.parquet': '6a44ac843e11e7d7da643992481fa77756f80438b61022ea9ade3d36690755ec',
        'fates/arm=control/part-00004.parquet': '09ac0a0854cffd2da7a9eb1db4cc1a512f618ce9da01c3d30ac6bc23be8819b7',
        'summary': 'bcc900bf2baf5226470ae219188c216f61d41873c4eddc5cf94070ce226839d9',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '00b67574f2a8255e143051feefd131aee8ea67fbc2279ccd9ce6f6376679a5d2',
        'fates/arm=control/part-00000.parquet': '955c3c467b59d526edd94e6fa20fb1ece9ea017a1e39cbed5d9a105365367c73',
        'summary': '1570583ba209be3c7cb2468a44e9aa1a70529e5287ae52de8b40d84bc78417ca',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': 'd048c2a49ae5cd525a889ee28356a7289d528991e995e3f90cda55f9008e361b',
        'fates/arm=anti_platelet/part-00001.parquet': '7ea6ccaba74bb164d629bf86641dca6f13ad5603e9660b9ed1ac5ed9533c79b8',
        'fates/arm=anti_platelet/part-00002.parquet': '800ae1a8b1ba7d68efceb8835f18b9e1745122cfa5b29cb4780e122222872491',
        'fates/arm=anti_platelet/part-00003.parquet': 'ff696e802ad05df9aa5219714dacdc594b5eb0f33d2724079aff7aa6aa9aa9a5',
        'fates/arm=anti_platelet/part-00004.parquet': 'f33f2ce16eec8db6e9720603aa7e6c2c497fd6c3e4c60560fa886c9b1481e154',
        'fates/arm=anti_platelet/part-00005.parquet': 'cff739c2a213bdb8b6a511283cc3ffc23b0e191bdd11869cde3b3ce7e1b61dc2',
        'fates/arm=control/part-00000.parquet': '973d7fc0a1654fdaeb12c171d39cad23f318e0e0c59947e26854afe4e8a33667',
        'fates/arm=control/part-00001.parquet': 'a8dad754bb25c0b5cb84b38dbf8a3f5371644228d412261b305b30c59599b148',
        'fates/arm=control/part-00002.parquet': '9e23a92160499f9b5ba9a68ed0aca135908d74179cbb55a90eebb82a3a8c94b6',
        'fates/arm=control/part-00003.parquet': '9f390cd69ea23e81c3bed6a1954512896d9a15a9f1ff5c6c1aa69e81a5d4f2ac',
        'fates/arm=control/part-00004.parquet': '52dcd12ac337dbb1c5f4125efc0fb7082296ebece1db772cc868b0c07e8259e9',
        'fates/arm=control/part-00005.parquet': 'ba533a03dbf285f9bb859651299acfef1e5e2bb93205a8f00e41cd158bfa92c5',
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
