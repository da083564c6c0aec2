"""The executor: chunks as tasks on threads or on Dask, and the same files either way."""
import json
import struct

import pyarrow.parquet as pq
from click.testing import CliRunner

from ctcsim.cli import main
from ctcsim.studies import executor


def same_run_files(a, b) -> int:
    """Assert that two run directories hold the same part files, page for page, with the same
    Parquet metadata (row groups, column chunks, offsets, sizes); only the run's identity
    (run_id, created: in every file's schema metadata) may differ, as between any two runs.
    Returns the number of files compared."""
    names = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert names == sorted(p.relative_to(b) for p in b.rglob("*.parquet")) and names
    for name in names:
        x, y = (a / name).read_bytes(), (b / name).read_bytes()
        pages = [data[:len(data) - 8 - struct.unpack("<I", data[-8:-4])[0]] for data in (x, y)]
        assert pages[0] == pages[1], name
        assert pq.read_metadata(a / name).to_dict() == pq.read_metadata(b / name).to_dict(), name
        ma, mb = (json.loads(pq.read_schema(d / name).metadata[b"ctcsim"]) for d in (a, b))
        assert {k for k in ma if ma[k] != mb[k]} <= {"run_id", "created"}, name
    return len(names)


def test_a_run_on_two_dask_worker_processes_writes_the_files_two_threads_write(tmp_path):
    """1,100,000 units: 2 part files (a full one of 2**20 units and a short one) and 34 chunks
    as tasks; bench/bench_studies.py compares 1e7 units the same way (10 part files).  On the
    colorectal built-in (a few core steps a unit): the default breast circulates for hours
    (Meng's half-life), ~13x the CPU a unit (bench/RESULTS.md)."""
    for name, how in (("threads", ["--threads", "2"]), ("dask", ["--workers", "2"])):
        r = CliRunner().invoke(main, ["run", "colorectal", "-n", "1100000", "--chunk-size", "32768", "--seed", "5",
                                      "-o", str(tmp_path / name), "-q"] + how)
        assert r.exit_code == 0, r.output
        assert r.output == ""
    assert same_run_files(tmp_path / "threads", tmp_path / "dask") == 2
    record = json.loads((tmp_path / "dask" / "run.json").read_text())
    assert record["timings"]["threads"] == 2


def test_events_too_are_the_same_on_dask(tmp_path):
    for name, how in (("threads", ["--threads", "1"]), ("dask", ["--workers", "2"])):
        r = CliRunner().invoke(main, ["run", "colorectal", "-n", "30000", "--seed", "2", "--events", "--chunk-size", "4096",
                                      "-o", str(tmp_path / name), "-q"] + how)
        assert r.exit_code == 0, r.output
    assert same_run_files(tmp_path / "threads", tmp_path / "dask") == 2


def test_an_unreachable_scheduler_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1)
    r = CliRunner().invoke(main, ["run", "-n", "10", "-o", str(tmp_path / "r"), "-q", "--scheduler", "tcp://127.0.0.1:9"])
    assert r.exit_code == 2 and r.output.startswith("ctcsim: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert len(r.output.strip().splitlines()) == 1


def test_results_come_in_job_order_and_an_early_close_waits_for_running_tasks():
    import threading
    import time
    started, finished = [], []

    def job(i):
        started.append(i)
        time.sleep(0.05 * (3 - i % 3))  # later jobs finish first
        finished.append(i)
        return i * i

    with executor.local(3) as ex:
        assert [r for _, r in ex.ordered(job, range(9))] == [i * i for i in range(9)]
        started.clear(), finished.clear()
        results = ex.ordered(job, range(100))
        next(results)
        results.close()
        assert sorted(started) == sorted(finished), "no task still at work after close"
        assert len(started) < 100 and threading.active_count() >= 1
