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
        'events/arm=anti_platelet/part-00000.parquet': 'a349f8177e042c2b8aeee71af3871057b33577a5e29e38ac18883c6d1059afa3',
        'events/arm=anti_platelet/part-00001.parquet': 'ad0782ba3462394b401ca5d65db46f9ddc171e378ce93a8610d90979a4ba8895',
        'events/arm=anti_platelet/part-00002.parquet': '99919c78a0c6ee62f5d8f1f63e51420419c7ecb0697fccd03bee1dee72d1a630',
        'events/arm=anti_platelet/part-00003.parquet': '7a6ebf91b87f20d54a7e7b4d367fa5366bbb15883748e2f6ce1d85dd32ac45c9',
        'events/arm=anti_platelet/part-00004.parquet': 'aa2ea443a0690369ab6dfbb30896c0bf7dea15291e78dd0b6a605352297df8ce',
        'events/arm=control/part-00000.parquet': '8b5e90ccecdf0bec3605329daa6aa100521d4218983c382e71977c2c9fa53f35',
        'events/arm=control/part-00001.parquet': '8ce1bcd6e2a2295f9d7c4fa4b23e670371b12a86f702ecea31d6db741683d413',
        'events/arm=control/part-00002.parquet': '32b6f2dcf152b78ba75ecd9473e669ca661fb189b78667bf343d177805759934',
        'events/arm=control/part-00003.parquet': 'd427e80ce727df499b87a743c86d3f947c518688beb42c5086b354b6523f63d9',
        'events/arm=control/part-00004.parquet': '1209e5554c49c34d7bcdcbfc014e5eb2eb8002df0cddccfa3414e65eee4804f9',
        'fates/arm=anti_platelet/part-00000.parquet': '589e3272a9bc19042ce21260f25909772324aa265087c72ffc007c58b71ffdc2',
        'fates/arm=anti_platelet/part-00001.parquet': 'f1cce6007462bdb69319dbab6c90aa3d341d3c2b0365bfada5808fc5dcd0da9b',
        'fates/arm=anti_platelet/part-00002.parquet': 'a90030a7a0b2ab8085fdbd53821352df70f1a9eb9e62568f58d5febdfdf81fd8',
        'fates/arm=anti_platelet/part-00003.parquet': '67d6a80f5c2de73e2c9c36eb7b237f21800842a4a861e04429db4f081904edcc',
        'fates/arm=anti_platelet/part-00004.parquet': '0e19213db2a65848969c50a8f3baa8495e673e2b500c17c1cb6453e07a50a758',
        'fates/arm=control/part-00000.parquet': '7e38f7b9be4d8db72a607648505186baa1f8ea23453793d2eef82b4693881b6e',
        'fates/arm=control/part-00001.parquet': 'ef9c814f2edde008190bb763f120af9a4c9c5e1d0690bad85edc121e682c637a',
        'fates/arm=control/part-00002.parquet': '880c7291896c3ecf0d47b36595bb6628551867a66ae8541999f97a6ee970c2d5',
        'fates/arm=control/part-00003.parquet': 'b33fd25a03e45223c13883c4874fc404f76ac815643fc9ab1f0e4eea05cbd114',
        'fates/arm=control/part-00004.parquet': '165642464df9acde53ccc2862a3bf2d3ce2c9216de2e720a2a511263a138f6e1',
        'summary': '0c7cb398847a24f51c04fd2e0f2a0e0964dae5fd826e15cd2f0f848f17eea581',
    },
    'one arm, events, 2 row groups, chunks of 50': {
        'events/arm=control/part-00000.parquet': 'da30f9a962f33739d09cf8a97fee6ee5c88e834f7313aa3f080a5ea4bc850996',
        'fates/arm=control/part-00000.parquet': 'fadc0a21bfe06c1e874391e188381df45145bc97773eb9680d19eabc7800429f',
        'summary': '2d5acf6994a032e152c2cce7b04f3d34a740e19f8d501ecac8944187b8e79711',
    },
    'two arms, fates only, parts of 999': {
        'fates/arm=anti_platelet/part-00000.parquet': '75da7637b3b7c4cda5d35a631fd8205e17793c740a38e611728831924ef0c1b1',
        'fates/arm=anti_platelet/part-00001.parquet': '24bbb028952a48838eb486d5bcd88c5af120b1dae3a3a99c22c25e5490e48089',
        'fates/arm=anti_platelet/part-00002.parquet': '588950a13cff8014004d6a32208ad2d4a91fb622cb15b3b149b1e384e6bfa464',
        'fates/arm=anti_platelet/part-00003.parquet': '6e6457ad373a7dee65820d0c7135ea1b782598c05dcaa1d0aa7a823aeaac576c',
        'fates/arm=anti_platelet/part-00004.parquet': '6ce0a59ea38ed2afb95ee0c811ed6aa56c00ad2ce5ac217c988c636ffe94a1d3',
        'fates/arm=anti_platelet/part-00005.parquet': '3ce87068885a17485813475e7390d536a17e3ef8164e25f812bcf0d578d4527f',
        'fates/arm=control/part-00000.parquet': '628244250328e07d8076e6013d275fc45e02c3534e6d0042aa8ba2938e530df5',
        'fates/arm=control/part-00001.parquet': '0a9b2194a17292d853945ac5899202b2a0866fee3ebd0a71174382ed31e7aa42',
        'fates/arm=control/part-00002.parquet': '1c763d5705268dce5049302c0823630f644beec867741f483a5508e1fb82597a',
        'fates/arm=control/part-00003.parquet': '62fe65c4662ccfabed759281158fc6c608bf763ee83212bcd56511e882fa8edc',
        'fates/arm=control/part-00004.parquet': 'a8deee4359ab8f9105265c1ba62c20ddde4f8d83ed403bb75c8e4c5127e45d49',
        'fates/arm=control/part-00005.parquet': '1c38547e2fde0708b09ace4b017109ca5510bd61d2665c540a0db70db6c3b0c3',
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
