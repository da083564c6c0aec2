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
        'events/arm=anti_platelet/part-00000.parquet': 'c46b00cef945446581158dd45e3cfe1214786b27a104b8f0162ab37ea3085545',
        'events/arm=anti_platelet/part-00001.parquet': 'fd404f2b1a419ea9f26bf48689e0d3235b926ae575b51127f09bd5a95b49a35d',
        'events/arm=anti_platelet/part-00002.parquet': '7876a27967d7c7941fc6508454223eac3db29c3aa20c1895d4ef0a68ac6e9870',
        'events/arm=anti_platelet/part-00003.parquet': '26f2ea9cd95ea86b39e9d418e1e86a46894d9d0e73e9d2c5ad9cffb361e4be60',
        'events/arm=anti_platelet/part-00004.parquet': 'b5b420f63157ac93604fdcf2a6eb3a0ecdf317c2ea4020953c35622bb8c32f41',
        'events/arm=control/part-00000.parquet': 'c168e58c4ee37f4ade4bb487d6d46fa2b173724942fe4893b34227249b1bc279',
        'events/arm=control/part-00001.parquet': 'ce069993d424e5fb1b8fb04c533fcedfb53bbb579758f9cad79639909b13c88c',
        'events/arm=control/part-00002.parquet': 'd4c501658dd3169f7252a724fb26aac8f2c9ed05da5c50df7ad4b087bed2d42d',
        'events/arm=control/part-00003.parquet': 'be210147505766cd7126382654242917b6b24d9c864ac57d59a958769f04bf37',
        'events/arm=control/part-00004.parquet': '2ba5a0a214879bd77f08139be515dd5a0ef2d9bf16d84e5140932ae970276656',
        'fates/arm=anti_platelet/part-00000.parquet': '04ba7f0bed05e294ef4bed39d2d60d5150fdd1b5874b642876b0a15993a7a4a4',
        'fates/arm=anti_platelet/part-00001.parquet': '6a04de0a9752892dd045c2bb922dfb631dee1e784894be55c0a42fc91273ae02',
        'fates/arm=anti_platelet/part-00002.parquet': '9883f1c57545e0145d9dc874d145ad578ffcf5b4a27a3ff53eea796a2eab9612',
        'fates/arm=anti_platelet/part-00003.parquet': 'a5a5a97a38da7d815403ac24e80065d56cb67fb74b5977de2046cdc953b729c5',
        'fates/arm=anti_platelet/part-00004.parquet': '17209f1fa1299e6bb4cfa0d9c8f723596a9ac54014599bf82af5562a93b44833',
        'fates/arm=control/part-00000.parquet': '0189df19658ae4ba3e6309b50058f30d636b4b75716e9459df7cd2acec3ef8cc',
        'fates/arm=control/part-00001.parquet': 'e72138621cb57d32162641522684ecba3819437a0c8482b3ac23405bc3f3801b',
        'fates/arm=control/part-00002.parquet': '1d90e7282d149f86731c5c8e6d3971d80c8d4b02e743cf602348ed11f1ba35de',
        'fates/arm=control/part-00003.parquet': '808fbd2c6102a8012419e32f5e1bb7b6733a2f2441c125609f0c44a2acb0e729',
        'fates/arm=control/part-00004.parquet': 'a07ef4800dd888fab00800ef0f2d88b71b38c3901cd7315078cbe99dba33453e',
        'summary': 'bcc900bf2baf5226470ae219188c216f61d41873c4eddc5cf94070ce226839d9',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': '98d2f7ef657b292ef7d00069854173e73e5e67ab6fb307eb476a94db2490d385',
        'fates/arm=control/part-00000.parquet': '691e7a9de45cce4392b19abba4e597a04fadc18aa446bed46fa2866f5ed67c68',
        'summary': '1570583ba209be3c7cb2468a44e9aa1a70529e5287ae52de8b40d84bc78417ca',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': 'e764fad531bc2012d4d11efda578359abf55941852a3186d652087537a2dd0a3',
        'fates/arm=anti_platelet/part-00001.parquet': 'c3304bfb33e0d5a1d3f6723c65f315923035beddebb132f2091d97a3f66ffec8',
        'fates/arm=anti_platelet/part-00002.parquet': '3aa597ec845df704d84c624dd9286e1bd1de479077e3a50672d58427faeb897e',
        'fates/arm=anti_platelet/part-00003.parquet': 'b39fa147d7cea48f96a4f074f0633c3b2369ccdffcfc3429d1df177d086f8fc9',
        'fates/arm=anti_platelet/part-00004.parquet': 'a013a276ec1781b8c1c378e7f939fd190846535701dffb40ff0fc1be9f559f3c',
        'fates/arm=anti_platelet/part-00005.parquet': 'a8d92c891b6628939964e9a1a83be8dc82f508d6cf3fec4843f731ec55301795',
        'fates/arm=control/part-00000.parquet': '87caa0c376c8c4a190214109e61f0c7e3e9ed8f1b709d514fd12d179420965bf',
        'fates/arm=control/part-00001.parquet': 'aa901f621b0dd518f8091fc49a71cccf7501c17ed0f0722177017f4c37d9107f',
        'fates/arm=control/part-00002.parquet': '1b6fdf16a0c3ff592624868ba74615410a4576dd616a9a17d49f826d422fdaea',
        'fates/arm=control/part-00003.parquet': '95c6f03233d61a50221ed9df7dcb9bb34475703912179c9c7376f13ad7c50df8',
        'fates/arm=control/part-00004.parquet': 'c7b37c2c5efb6c737aeba1f4e3d6a36f0dedfd5bcafe5b4d14e6224e0f326f61',
        'fates/arm=control/part-00005.parquet': 'abfb3628b688719514a7c5a3ca7a10f70c3eac16913a8d5de6224ae6dbb16720',
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
