"""Benchmark the studies: paired sweeps, sensitivity on the default scenario, and the executor.

1. `ctcsim sweep` of the default scenario over 2 parameters x 8 points: the paired intervals
   of neighbouring points' differences against those of independent runs of the same size
   (every point simulated again with its own seed).
2. `ctcsim sensitivity` of the default scenario (observed for a year) for micrometastases in
   bone: Morris screening, then Sobol' indices; the ranking and the time each took.
3. The executor: `ctcsim run` of the default scenario on 1 and 2 threads, and on local Dask
   clusters of 1, 2 and 4 worker processes (4 is more processes than this machine's cores);
   the 2-worker run's files against the 2-thread run's; the overhead per task (tiny chunks);
   the coordinator's CPU per unit; and what 1e10 units would take on 100 cores.

    python bench/bench_studies.py                  # everything (about 15 minutes on 2 cores)
    python bench/bench_studies.py --only sweep     # one part: sweep, sensitivity or executor
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
Z95 = 1.959963984540054
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def ctcsim(*args) -> float:
    """Run the ctcsim command; its wall time."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ctcsim.cli", *map(str, args)], check=True, env=ENV)
    return time.perf_counter() - t0


def bench_sweep(work: Path, units: int):
    from ctcsim.studies import sweep
    from ctcsim.studies.executor import local
    print(f"\n## 1. Paired sweep: breast, k_on_per_s 1e-4..1e-2 (log) x diameter 11..14 um, 8 x 8 points, "
          f"{units:,} units each\n")
    out = work / "sweep"
    wall = ctcsim("sweep", "-p", "biology.k_on_per_s=1e-4:1e-2:log", "-p", "primary.diameter_median_um=11:14",
                  "--points", 8, "-n", units, "--seed", 1, "-o", out, "-q")
    result = sweep.read(out)
    plan = sweep.resume(out)
    print(f"`ctcsim sweep` wall {wall:.1f} s ({64 * units / wall:,.0f} units/s, start-up included)")
    t0 = time.perf_counter()
    with local() as ex:  # the same points, each with its own seed: independent runs of the same size
        independent = [sweep.simulate_counts(plan.scenario(i), ["control"], units, 1000 + i, ex) for i in range(64)]
    print(f"independent runs of the 64 points: {time.perf_counter() - t0:.1f} s")
    table = result.table.to_pandas().set_index(["point", "outcome", "organ"])
    diffs = result.differences.to_pandas()
    rows = {}
    for d in diffs.itertuples():
        a, b = table.loc[(d.point, d.outcome, d.organ)], table.loc[(d.next_point, d.outcome, d.organ)]
        ka = independent[d.point].count("control", d.outcome, d.organ)
        kb = independent[d.next_point].count("control", d.outcome, d.organ)
        if min(a["count"], b["count"], ka, kb, units - max(a["count"], b["count"], ka, kb)) < 50:
            continue  # intervals of rare or near-certain outcomes are not normal
        pa, pb = ka / units, kb / units
        independent_half = Z95 * np.sqrt(pa * (1 - pa) / units + pb * (1 - pb) / units)
        paired_half = (d.ci_high - d.ci_low) / 2
        rows.setdefault(d.parameter, []).append(independent_half / paired_half if paired_half > 0 else np.inf)
    print("\n| parameter stepped | differences | median independent/paired CI width | 10th percentile |")
    print("|---|---:|---:|---:|")
    every = []
    for p, r in rows.items():
        every += r
        print(f"| {p} | {len(r)} | {np.median(r):.1f}x | {np.percentile(r, 10):.1f}x |")
    print(f"| all | {len(every)} | {np.median(every):.1f}x | {np.percentile(every, 10):.1f}x |")
    print("(outcomes counted >= 50 times at both points, in both the paired and the independent runs; "
          "the goal is >= 3x)")


SENSITIVITY = """
scenario = "breast"
units = {units}
seed = 1
[set]
t_max_s = 31557600.0   # a year: the default scenario observes one day, when no micrometastasis has formed
[[parameters]]
path = "biology.k_on_per_s"
low = 1e-4
high = 1e-2
scale = "log"
[[parameters]]
path = "biology.k_extravasation_per_s"
low = 3e-6
high = 3e-5
scale = "log"
[[parameters]]
path = "biology.p_dormant"
low = 0.7
high = 0.97
[[parameters]]
path = "biology.k_wake_per_s"
low = 3e-8
high = 3e-7
scale = "log"
[[parameters]]
path = "soil.bone.niche"
low = 0.5
high = 2.0
[[parameters]]
path = "biology.k_nk_per_s"
low = 1e-5
high = 1e-4
scale = "log"
[[outputs]]
outcome = "reached_micrometastasis"
organ = "bone"
"""


def bench_sensitivity(work: Path, units: int, trajectories: int, base: int):
    print(f"\n## 2. Sensitivity: breast over a year, micrometastases in bone, 6 parameters, {units:,} units a point\n")
    study = work / "sensitivity.toml"
    study.write_text(SENSITIVITY.format(units=units))
    for method, n in (("morris", trajectories), ("sobol", base)):
        out = work / f"sens-{method}"
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "ctcsim.cli", "sensitivity", study, "--method", method, "--samples",
                            str(n), "-o", out, "-q"], check=True, env=ENV, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        print(f"`ctcsim sensitivity --method {method} --samples {n}`: {wall:.0f} s\n")
        print("```\n" + r.stdout.strip() + "\n```\n")


def bench_executor(work: Path, units: int, tiny_tasks: int):
    from ctcsim import rundir, scenario
    from ctcsim.studies.executor import ChunkJob, dask, local, outcome_chunk
    from test_studies_executor import same_run_files
    print(f"\n## 3. The executor: `ctcsim run` of the default scenario, {units:,} units, fates only\n")
    print("| how | wall s | units/s |")
    print("|---|---:|---:|")
    walls = {}
    for label, how in (("1 thread", ["--threads", 1]), ("2 threads", ["--threads", 2]),
                       ("Dask, 1 worker process", ["--workers", 1]), ("Dask, 2 worker processes", ["--workers", 2]),
                       ("Dask, 4 worker processes (on 2 cores)", ["--workers", 4])):
        out = work / label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
        walls[label] = ctcsim("run", "-n", units, "--seed", 1, "-o", out, "-q", *how)
        print(f"| {label} | {walls[label]:.1f} | {units / walls[label]:,.0f} |")
    n = same_run_files(work / "2_threads", work / "Dask_2_worker_processes")
    print(f"\n2 Dask worker processes against 2 threads: {n} part files, pages and Parquet metadata identical "
          "(only run_id and created differ, as between any two runs).")
    text = scenario.dumps(scenario.load("breast"))
    jobs = [ChunkJob(text, "control", 1, i * 16, i * 16 + 16) for i in range(tiny_tasks)]
    for name, make in (("threads (2)", lambda: local(2)), ("Dask (2 processes)", lambda: dask(workers=2))):
        with make() as ex:
            list(ex.ordered(outcome_chunk, jobs[:50]))  # warm: workers compiled the scenario
            t0 = time.perf_counter()
            list(ex.ordered(outcome_chunk, jobs))
            print(f"overhead per task, {name}: {(time.perf_counter() - t0) / tiny_tasks * 1e3:.2f} ms "
                  f"({tiny_tasks} tasks of 16 units)")
    with dask(workers=2) as ex:  # the coordinator's own CPU: the workers are other processes
        start = time.perf_counter()
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        rundir.write_run(work / "coordinator", scenario.load("breast"), units, 1, executor=ex)
        c2 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - start
    cpu = (c2.ru_utime + c2.ru_stime) - (c1.ru_utime + c1.ru_stime)
    print(f"coordinator (receives the chunks, writes the parts): {cpu / units * 1e9:.0f} ns CPU per unit "
          f"({units / cpu:,.0f} units per CPU second) during a {wall:.1f} s run on 2 workers")
    per_core = units / walls["1 thread"]
    print(f"\n1e10 units on 100 cores: at {per_core:,.0f} units/s per core (1 thread, start-up included) the "
          f"simulation takes {1e10 / (100 * per_core):,.0f} s; one coordinator receiving and writing every part "
          f"at {units / cpu:,.0f} units/s takes {1e10 / (units / cpu):,.0f} s, so the coordinator bounds it.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["sweep", "sensitivity", "executor"])
    ap.add_argument("--sweep-units", type=int, default=20_000)
    ap.add_argument("--sensitivity-units", type=int, default=100_000)
    ap.add_argument("--trajectories", type=int, default=10)
    ap.add_argument("--base", type=int, default=32)
    ap.add_argument("--run-units", type=float, default=1e7)
    ap.add_argument("--tiny-tasks", type=int, default=2000)
    args = ap.parse_args()
    import platform
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="bench-studies-"))
    try:
        if args.only in (None, "sweep"):
            bench_sweep(work, args.sweep_units)
        if args.only in (None, "sensitivity"):
            bench_sensitivity(work, args.sensitivity_units, args.trajectories, args.base)
        if args.only in (None, "executor"):
            bench_executor(work, int(args.run_units), args.tiny_tasks)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
