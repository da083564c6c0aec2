"""Benchmark `ctcsim run` end to end, every run its own process (wall time includes start-up).

1. Fates only, bench/run_workload.toml (issue 13's workload: the default breast with the arrest
   it had then; --scenario for another), at each of --sizes on --threads threads.
2. Scaling: --rounds rounds of the same run at --scaling-units on 1 and on 2 threads,
   interleaved (1, 2, then 2, 1, ...) so that drift in the machine's load hits both alike;
   a round's ratio is its 1-thread wall time over its 2-thread wall time.  Its 2-thread runs
   stand for that size in 1.
3. One --events run, and the Parquet writer alone writing events (one thread, nothing else
   running), the format's own cost per event row.

For every run: wall and CPU time (the child's user + system, os.wait4), the cores it got
(CPU / wall), peak RSS, and where the CPU went: the parts' stages from run.json (simulate,
Parquet, tally + batches, checksums) and the rest (start-up imports, main thread, exit).
The machine is shared: its load average is printed before and after, and the ratios,
measured side by side in one run, are what to compare, not rates across runs.

    python bench/bench_run.py                          # minutes: 1e6, 1e7, 2 rounds at 1e8, events at 1e7
    python bench/bench_run.py --sizes 1e6 1e7 --scaling-units 1e7 --rounds 1 --events-units 1e6
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
GOALS = {"1e8 units, 2 threads, s": 25.0, "speed-up 1 -> 2 threads": 1.8, "tally + batches, % of CPU": 3.0,
         "peak RSS max/min": 1.20, "event rows/s": 10e6}
WRITER_ALONE_UNITS = 1_000_000  # events of this many units (~5 M rows) held in memory for the writer alone


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return (f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; python "
            f"{platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}")


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


def run(units: int | None, workdir: Path, events: bool, threads: int, scenario: str,
        keep: bool = False, repo: Path = REPO) -> dict:
    """One `ctcsim run` process of the checkout ``repo`` (``units`` None: the scenario's own
    number); its figures, with its run.json as ``record``, and its run directory deleted
    afterwards unless ``keep``."""
    out = workdir / f"run-{Path(scenario).stem}-{units}-{threads}"
    cmd = [sys.executable, "-m", "ctcsim.cli", "run", scenario, "--seed", "1", "-o", str(out),
           "-q", "--json", "--threads", str(threads)] + (["-n", str(units)] if units else []) \
        + (["--events"] if events else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, env=env, cwd=repo)  # cwd: `-m` imports from it first
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak RSS (KiB on Linux)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"bench_run: `{' '.join(cmd)}` failed with exit code {os.waitstatus_to_exitcode(status)}")
        stdout.seek(0)
        record = json.load(stdout)
    if not keep:
        shutil.rmtree(out)
    units = record["n_units"] * len(record["arms"])
    cpu = usage.ru_utime + usage.ru_stime
    stages = record["timings"].get("cpu_s")  # a baseline from before issue 13 records none
    split = dict.fromkeys(("simulate", "parquet", "tally + batches", "checksums", "start-up, main, exit"), 0.0)
    if stages:
        split = {"simulate": stages["simulate"], "parquet": stages["parquet"],
                 "tally + batches": stages["tally"] + stages["batches"], "checksums": stages["checksums"]}
        split["start-up, main, exit"] = cpu - sum(split.values())
    return {"units": units, "threads": threads, "wall_s": wall, "cpu_s": cpu, "rss_mib": usage.ru_maxrss / 1024,
            "path": out, "record": record, "repo": repo,
            "split": {k: 100 * v / cpu for k, v in split.items()} if stages else None,
            "tally_ns": 1e9 * split["tally + batches"] / units,
            "fates_bytes_per_unit": record["counts"]["bytes"]["fates"] / units,
            "event_rows": sum((record["counts"]["event_rows"] or {}).values()),
            "events_bytes": record["counts"]["bytes"].get("events", 0)}


def row(r: dict) -> str:
    split = " | ".join(f"{v:.1f}" for v in r["split"].values()) if r["split"] else " | ".join("-" * 5)
    return (f"| {r['units']:.0e} | {r['threads']} | {r['wall_s']:.1f} | {r['units'] / r['wall_s']:,.0f} | "
            f"{r['cpu_s']:.1f} | {r['cpu_s'] / r['wall_s']:.2f} | {r['rss_mib']:,.0f} | {split} |")


HEADER = ("| units | threads | wall s | units/s | CPU s | cores used | peak RSS MiB | simulate % | Parquet % "
          "| tally + batches % | checksums % | start-up, main, exit % |\n|" + "---:|" * 12)


def writer_alone(units: int, workdir: Path, scenario: str) -> tuple[int, float]:
    """Event rows/s of the run format's Parquet writer by itself (one thread, no simulation
    competing for the cores): the events of ``units`` units simulated in memory first."""
    sys.path.insert(0, str(REPO))
    from ctcsim.rundir.format import ROW_GROUP_ROWS
    from ctcsim.rundir.writer import parquet_writer
    from ctcsim.runner import simulate
    from ctcsim.scenario import load as load_scenario

    events = simulate(load_scenario(scenario), units, seed=1, events=True).events.drop_columns(["arm"])
    events = events.combine_chunks()
    t0 = time.thread_time()
    writer = parquet_writer(workdir / "events.parquet", events.schema)
    writer.write_table(events, row_group_size=ROW_GROUP_ROWS)
    writer.close()
    return events.num_rows, time.thread_time() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=str(REPO / "bench" / "run_workload.toml"),
                        help="scenario of every run [default: bench/run_workload.toml]")
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7, 1e8], help="units per fates-only run")
    parser.add_argument("--threads", type=int, default=2, help="threads of the sized and events runs [default: 2]")
    parser.add_argument("--scaling-units", type=float, default=1e8, help="units of the 1- vs 2-thread runs")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of 1- and 2-thread runs (0: none)")
    parser.add_argument("--events-units", type=float, default=1e7, help="units of the --events run (0: skip)")
    parser.add_argument("--dir", type=Path, help="where run directories go while measured [default: system temp]")
    parser.add_argument("--baseline", type=Path, help="another checkout (core built): its 2-thread run joins each "
                                                        "round, for the ratios of this one to it")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"command: python bench/bench_run.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"before: {load()}\n\n{HEADER}", flush=True)
    scaling_units = int(args.scaling_units)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="ctcsim-bench-") as tmp:
        tmp = Path(tmp)
        rounds = []
        for r in range(args.rounds):
            pair = {}
            order = [1, 2] + (["baseline"] if args.baseline else [])
            for which in order if r % 2 == 0 else order[::-1]:
                pair[which] = run(scaling_units, tmp, False, 2 if which == "baseline" else which, args.scenario,
                                  repo=args.baseline.resolve() if which == "baseline" else REPO)
                print(row(pair[which]) + (f" ({args.baseline})" if which == "baseline" else ""), flush=True)
            rounds.append(pair)
        sizes = list(dict.fromkeys(map(int, args.sizes)))
        sized = [p[args.threads] for p in rounds if args.threads in p][:1] if scaling_units in sizes else []
        for units in sizes:
            if not (units == scaling_units and sized):
                sized.append(run(units, tmp, False, args.threads, args.scenario))
                print(row(sized[-1]), flush=True)
        ev = run(int(args.events_units), tmp, True, args.threads, args.scenario) if args.events_units else None
        if ev:
            print(row(ev) + " (--events)", flush=True)
        alone = writer_alone(min(int(args.events_units), WRITER_ALONE_UNITS), tmp, args.scenario) if ev else None
    print(f"\nafter: {load()}")

    sized.sort(key=lambda r: r["units"])
    rss = [r["rss_mib"] for r in sized]
    print(f"peak RSS over sizes {sized[0]['units']:.0e}..{sized[-1]['units']:.0e}: max/min {max(rss) / min(rss):.2f} "
          f"(goal <= {GOALS['peak RSS max/min']:.2f}); fates {sized[-1]['fates_bytes_per_unit']:.1f} bytes/unit")
    big = sized[-1]
    print(f"tally + batches at {big['units']:.0e}: {big['split']['tally + batches']:.1f}% of the process's CPU "
          f"(goal < {GOALS['tally + batches, % of CPU']:.0f}%), {big['tally_ns']:.1f} ns a unit")
    if rounds:
        walls = [p[2]["wall_s"] for p in rounds]
        ratios = [p[1]["wall_s"] / p[2]["wall_s"] for p in rounds]
        cpu = [p[2]["cpu_s"] / p[1]["cpu_s"] for p in rounds]
        cores = [p[2]["cpu_s"] / p[2]["wall_s"] for p in rounds]
        print(f"{scaling_units:.0e} units on 2 threads: {min(walls):.1f} s best of {len(walls)} "
              f"(goal <= {GOALS['1e8 units, 2 threads, s']:.0f} s at 1e8)")
        print(f"speed-up 1 -> 2 threads, per round: {', '.join(f'{x:.2f}x' for x in ratios)}; median "
              f"{statistics.median(ratios):.2f}x (goal >= {GOALS['speed-up 1 -> 2 threads']}x); CPU time on 2 "
              f"threads / on 1: {', '.join(f'{x:.2f}' for x in cpu)}; cores used on 2 threads: "
              f"{', '.join(f'{x:.2f}' for x in cores)}")
        best = min((p[2] for p in rounds), key=lambda r: r["wall_s"])
        if best["split"]:
            # What the wall time could be were the simulation free: the rest of the run's CPU
            # (Parquet, checksums, tally, start-up) spread over both cores.
            rest = best["cpu_s"] * (1 - best["split"]["simulate"] / 100)
            parquet = best["cpu_s"] * best["split"]["parquet"] / 100
            print(f"  its CPU: {best['cpu_s']:.1f} s, so >= {best['cpu_s'] / 2:.1f} s on 2 cores; of which not "
                  f"simulation {rest:.1f} CPU-s, >= {rest / 2:.1f} s even if simulating cost nothing; Parquet alone "
                  f"{parquet / 2:.1f} s")
    if rounds and args.baseline:
        ratios = {k: ", ".join(f"{p[2][k] / p['baseline'][k]:.2f}" for p in rounds) for k in ("wall_s", "cpu_s", "rss_mib")}
        print(f"this checkout / {args.baseline}, 2 threads, per round: wall {ratios['wall_s']}; CPU {ratios['cpu_s']}; "
              f"peak RSS {ratios['rss_mib']}")
        if all(p["baseline"]["split"] for p in rounds):
            print("tally + batches, ns a unit, this checkout / baseline, per round: " + ", ".join(
                f"{p[2]['tally_ns']:.1f} / {p['baseline']['tally_ns']:.1f}" for p in rounds))
    if ev:
        rate = ev["event_rows"] / ev["wall_s"]
        rows, seconds = alone
        print(f"events: {ev['units']:,} units, {ev['event_rows']:,} event rows in {ev['wall_s']:.1f} s: "
              f"{rate / 1e6:.1f} M event rows/s end to end (goal >= {GOALS['event rows/s'] / 1e6:.0f} M/s), "
              f"{ev['events_bytes'] / ev['event_rows']:.1f} bytes/row, peak RSS {ev['rss_mib']:,.0f} MiB; "
              f"{ev['event_rows'] / ev['cpu_s'] / 1e6:.1f} M rows per CPU second")
        budget = args.threads / GOALS["event rows/s"]  # CPU seconds a row may cost, all in, at the goal
        print(f"events writer alone (one thread, nothing else running): {rows:,} rows in {seconds:.2f} s of CPU, "
              f"{rows / seconds / 1e6:.1f} M event rows per CPU second: {1e9 * seconds / rows:.0f} ns a row of "
              f"the goal's {1e9 * budget:.0f} ns a row on {args.threads} cores, before any simulation")


if __name__ == "__main__":
    main()
