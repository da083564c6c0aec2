"""Benchmark `ctcsim run` end to end: the default scenario, fates only, at 1e6, 1e7 and 1e8
units, each as its own process; then one --events run.

Measures, per run: wall time of the whole process (start-up included), units/s, the
child's peak RSS (os.wait4), and bytes per unit on disk; for the events run, event rows
written per second end to end, and the Parquet writer's rate by itself (same settings,
events simulated beforehand), since on two cores simulation and writing share the CPUs.  Prints the machine, a Markdown table for bench/RESULTS.md and the
issue's goals beside the figures.

    python bench/bench_run.py                      # 1e6, 1e7, 1e8 (minutes) and events at 2e6
    python bench/bench_run.py --sizes 1e6 1e7 --events-units 1e6
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
GOAL_1E8_S = 120.0
GOAL_RSS_GIB = 1.5
GOAL_RSS_FLAT = 0.20
GOAL_EVENT_ROWS_S = 10e6


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return (f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; python "
            f"{platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}")


def run(units: int, workdir: Path, events: bool, threads: int | None) -> dict:
    """One `ctcsim run` process; its figures, and its run directory deleted afterwards."""
    out = workdir / f"run-{units}"
    cmd = [sys.executable, "-m", "ctcsim.cli", "run", "-n", str(units), "--seed", "1", "-o", str(out), "-q", "--json"]
    cmd += ["--events"] if events else []
    cmd += ["--threads", str(threads)] if threads else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, in KiB on Linux
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            sys.exit(f"bench_run: `{' '.join(cmd)}` failed with exit code {proc.returncode}")
        stdout.seek(0)
        record = json.load(stdout)
    shutil.rmtree(out)
    fates_bytes = record["counts"]["bytes"]["fates"]
    return {"units": units, "wall_s": wall, "units_per_s": units / wall, "rss_mib": usage.ru_maxrss / 1024,
            "fates_bytes_per_unit": fates_bytes / units, "event_rows": sum((record["counts"]["event_rows"] or {}).values()),
            "events_bytes": record["counts"]["bytes"].get("events", 0), "run_s": record["timings"]["wall_s"]}


def writer_alone(units: int, workdir: Path) -> tuple[int, float]:
    """Event rows/s of the run format's Parquet writer by itself (one thread, no simulation
    competing for the cores): the events of ``units`` units simulated in memory first."""
    sys.path.insert(0, str(REPO))
    from ctcsim.rundir.format import ROW_GROUP_ROWS
    from ctcsim.rundir.writer import parquet_writer
    from ctcsim.runner import simulate
    from ctcsim.scenario import DEFAULT_SCENARIO, load

    events = simulate(load(DEFAULT_SCENARIO), units, seed=1, events=True).events.drop_columns(["arm"])
    events = events.combine_chunks()
    schema = events.schema
    t0 = time.perf_counter()
    writer = parquet_writer(workdir / "events.parquet", schema)
    writer.write_table(events, row_group_size=ROW_GROUP_ROWS)
    writer.close()
    return events.num_rows, time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7, 1e8], help="units per fates-only run")
    parser.add_argument("--events-units", type=float, default=2e6, help="units of the --events run (0: skip)")
    parser.add_argument("--threads", type=int, help="threads [default: all cores]")
    parser.add_argument("--dir", type=Path, help="where run directories go while measured [default: system temp]")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"command: python bench/bench_run.py {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="ctcsim-bench-") as tmp:
        rows = []
        print("\n| units | wall s | units/s | peak RSS MiB | fates bytes/unit |\n|---:|---:|---:|---:|---:|")
        for units in map(int, args.sizes):
            r = run(units, Path(tmp), events=False, threads=args.threads)
            rows.append(r)
            print(f"| {units:.0e} | {r['wall_s']:.1f} | {r['units_per_s']:,.0f} | {r['rss_mib']:,.0f} "
                  f"| {r['fates_bytes_per_unit']:.1f} |", flush=True)
        ev = run(int(args.events_units), Path(tmp), events=True, threads=args.threads) if args.events_units else None
        alone = writer_alone(int(args.events_units), Path(tmp)) if args.events_units else None

    rss = [r["rss_mib"] for r in rows]
    print(f"\npeak RSS spread: max/min = {max(rss) / min(rss):.2f} (goal: within {1 + GOAL_RSS_FLAT:.2f}); "
          f"max {max(rss) / 1024:.2f} GiB (goal < {GOAL_RSS_GIB} GiB)")
    big = [r for r in rows if r["units"] >= 1e8]
    if big:
        print(f"1e8 units: {big[0]['wall_s']:.0f} s (goal <= {GOAL_1E8_S:.0f} s)")
    if ev:
        rate = ev["event_rows"] / ev["wall_s"]
        print(f"\nevents: {ev['units']:,} units, {ev['event_rows']:,} event rows in {ev['wall_s']:.1f} s "
              f"(run {ev['run_s']:.1f} s): {rate / 1e6:.1f} M event rows/s written end to end "
              f"({ev['event_rows'] / ev['run_s'] / 1e6:.1f} M/s excluding start-up; goal >= {GOAL_EVENT_ROWS_S / 1e6:.0f} M/s), "
              f"{ev['events_bytes'] / ev['event_rows']:.1f} bytes/row, peak RSS {ev['rss_mib']:,.0f} MiB")
        rows, seconds = alone
        print(f"events writer alone (one thread, no simulation running): {rows:,} rows in {seconds:.2f} s, "
              f"{rows / seconds / 1e6:.1f} M event rows/s")


if __name__ == "__main__":
    main()
