"""Bounds a run keeps whatever it is asked (issue 9): memory flat in -n and --chunk-size,
unit ids within int64, a summary that does not depend on chunking or resuming, and
signals that end any run within 2 s, mid-unit included, leaving a resumable directory.

Scenarios: conftest's RICH with two arms; for the signals, RICH with no hazard at all and
t_max 1e300, so that its one unit circulates until the core's step budget (1e9 steps,
about 25 s), far longer than any test waits.
"""
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RICH
from test_run_dir import ARMS

import ctcsim
from ctcsim import rundir, runner
from ctcsim import scenario as sc
from ctcsim.cli import main
from ctcsim.rundir import format as fmt

REPO = Path(ctcsim.__file__).resolve().parents[1]
# One unit that runs ~1e12 s of circulation (one shear death in 1e12 s, nothing else ends it):
# valid, but it would take the whole step budget (~25 s) to fail.
ENDLESS = (RICH.replace("t_max_s = 400.0", "t_max_s = 1e300")
           .replace("k_shear_per_s = 0.002", "k_shear_per_s = 1e-12").replace("k_nk_per_s = 0.004", "k_nk_per_s = 0.0")
           .replace("k_adh_per_s = 0.02", "k_adh_per_s = 0.0").replace("trap_max = 0.8", "trap_max = 0.0")
           .replace("[biology]\n", "[biology]\nanoikis_on = false\n"))


@pytest.fixture(scope="module")
def two_arms():
    return sc.loads(RICH + ARMS, "rich_two_arms.toml")


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def process(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "ctcsim.cli", *map(str, args)], env=env, cwd=cwd or REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def peak_traced_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_trillion_units_start_at_once_in_little_memory(two_arms):
    """Chunks are made as they are submitted, not listed first: the first batch of a run of
    1e12 units comes at once and takes no more memory than that of a run of 1,000 units
    (the job list alone was 2.5 GB)."""
    def first_batch(n):
        def go():
            batches = runner.iter_batches(two_arms, n, 1, chunk_size=1000, threads=1)
            arm, chunk, fates, _ = next(batches)
            batches.close()
            assert (arm, chunk, fates.num_rows) == ("control", 0, 1000)
        return go

    small = peak_traced_bytes(first_batch(1000))
    t0 = time.monotonic()
    huge = peak_traced_bytes(first_batch(10**12))
    assert huge < small + 2e6 and time.monotonic() - t0 < 10, (huge, small)


@pytest.mark.parametrize("args,says", [
    (["-n", str(2**63)], "units: expected an integer from 1 to 2**63 - 1 (unit ids are int64)"),
    (["-n", str(2**64)], "units: expected an integer from 1 to 2**63 - 1"),
    (["--chunk-size", str(2**21)], "chunk size: expected an integer from 1 to 1,048,576"),
    (["-o", ""], "--out: expected a directory, got an empty string"),
], ids=["units 2**63", "units 2**64", "chunk size 2**21", "empty out"])
def test_units_beyond_int64_ids_huge_chunks_and_empty_paths_are_refused_in_one_line(tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    result = cli("run", *args)
    assert result.exit_code == 2 and result.stderr.startswith(f"ctcsim: error: {says}"), result.stderr
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_empty_scenario_name_is_refused_instead_of_meaning_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("run", "")
    assert result.exit_code == 2 and "SCENARIO: expected a file or built-in name, got an empty string" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_simulate_refuses_sizes_out_of_range_too(two_arms):
    for kwargs, says in (({"n_units": -1}, "n_units"), ({"n_units": 2**63}, "n_units"),
                         ({"n_units": 10, "chunk_size": 0}, "chunk_size")):
        with pytest.raises(ValueError, match=says):
            runner.simulate(two_arms, **kwargs)


def test_event_memory_does_not_grow_as_chunks_shrink(tmp_path, two_arms):
    """An events run in chunks of 7 units holds no more than one in chunks of 3,000 (Arrow's
    allocations and Python's, sampled as the run goes, after a first run has warmed the
    caches): small batches are merged while a row group fills, so what is held is rows, not
    per-batch arrays and dictionaries; and a chunk's event buffer is sized by the chunk and
    copied out when mostly empty, so a chunk of 7 units does not keep a 22 MB buffer alive
    (together: 18 GB at chunk 7 before)."""
    import pyarrow as pa

    def peak_while_running(chunk: int) -> float:
        peak = [0]

        def sample(done, total):
            peak[0] = max(peak[0], pa.total_allocated_bytes() + tracemalloc.get_traced_memory()[0])
        tracemalloc.start()
        try:
            rundir.write_run(tmp_path / f"c{chunk}", two_arms, 12_000, 1, events=True, chunk_size=chunk, threads=1,
                             arms=["control"], progress=sample)
        finally:
            tracemalloc.stop()
        return peak[0]

    rundir.write_run(tmp_path / "warm", two_arms, 100, 1, events=True, chunk_size=7, threads=1)
    small, large = peak_while_running(7), peak_while_running(3000)
    assert small < 1.2 * large, (small, large)
    _, parts = runner.run_units(runner.Arm.of(two_arms, "control"), runner.seed_key(1), 0, 7, events=True)
    held = max(v.base.nbytes if v.base is not None else v.nbytes for p in parts for v in p.values())
    assert held < 100_000, held


def test_summary_is_the_same_to_the_last_digit_whatever_the_chunking_or_a_resume(tmp_path, two_arms, monkeypatch):
    """run.json's summary, as JSON text, is identical for chunk sizes 1000, 333 and 4096 and
    after an interrupted run is resumed: the tally does not depend on the order units come in."""
    monkeypatch.setattr(fmt, "PART_UNITS", 2000)
    texts = [json.dumps(rundir.write_run(tmp_path / f"c{c}", two_arms, 9000, 3, chunk_size=c).metadata["summary"])
             for c in (1000, 333, 4096)]
    plan = rundir.prepare_run(tmp_path / "resumed", two_arms, 9000, 3, chunk_size=1000)

    def interrupt(done, total):
        if done >= 7000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rundir.execute(plan, progress=interrupt)
    texts.append(json.dumps(rundir.execute(rundir.prepare_resume(plan.path)).metadata["summary"]))
    assert len(set(texts)) == 1


def test_ctrl_c_during_start_up_prints_one_line_and_no_traceback(tmp_path):
    """SIGINT at moments through start-up (modules loading, the scenario compiling, the
    directory being made, the first chunks): `ctcsim: interrupted...`, exit 130, never a
    traceback, and no half-made directory.  Each signal is sent once ctcsim's own code runs
    (numpy, which the commands import after ctcsim's handler is set, is mapped): what comes
    before is the interpreter's own start."""
    for i, delay in enumerate((0.0, 0.05, 0.1, 0.2, 0.35, 0.5)):
        out = tmp_path / f"r{i}"
        proc = process("run", "-n", 20000, "-o", out, "-q")
        deadline = time.monotonic() + 60
        while "_multiarray_umath" not in Path(f"/proc/{proc.pid}/maps").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert "Traceback" not in stderr, (delay, stderr)
        assert proc.returncode in (0, 130), (delay, proc.returncode, stderr)
        if proc.returncode == 130:
            assert stderr.splitlines()[-1].startswith("ctcsim: interrupted"), stderr
            assert not out.exists() or (out / "plan.json").exists(), sorted(out.rglob("*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_a_run_stuck_in_one_long_unit_within_2_s_leaving_a_resumable_directory(tmp_path, sig):
    """One unit with no hazard and t_max 1e300 circulates until the step budget (~25 s): a
    signal mid-unit asks the core to stop (it looks every 4096 steps), and the run ends
    within 2 s with exit 130 and the resume command; the directory is resumable."""
    scenario = tmp_path / "endless.toml"
    scenario.write_text(ENDLESS)
    out = tmp_path / "r"
    proc = process("run", scenario, "-n", 1, "-o", out, "--threads", 1)
    deadline = time.monotonic() + 60
    while not (out / "plan.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(1.5)  # the unit is well into its circulation
    assert proc.poll() is None, proc.communicate()
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 2.0, stderr
    assert proc.returncode == 130 and f"Resume with: ctcsim run --resume {out}" in stderr, stderr
    assert "Traceback" not in stderr
    plan = rundir.prepare_resume(out)
    assert plan.metadata["n_units"] == 1 and plan.done_parts() == set() and not list(out.rglob("*.tmp"))
