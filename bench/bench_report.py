"""Benchmark `ctcsim report` on large runs: the default scenario (one arm) at 1e7 units, and
optionally breast_antiplatelet (two arms, paired) at the same size per arm.

Each run is simulated once (fates only) into a scratch directory, or taken from --run DIR; the
report is then timed as its own process (`ctcsim report DIR`, start-up and imports included),
which is what a user waits for.  Prints the machine, the times and the issue's goal (30 s).

    python bench/bench_report.py                         # default scenario, 1e7 units
    python bench/bench_report.py --units 1e6 --two-arms  # both runs, smaller
    python bench/bench_report.py --run DIR               # time the report of an existing run
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 30.0


def ctcsim(*args) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, all threads) of one ctcsim process.  On a shared
    machine the wall time includes waiting for the cores; the CPU time does not."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ctcsim", *map(str, args)], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, args
    return time.monotonic() - t0, usage.ru_utime + usage.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--units", type=float, default=1e7)
    p.add_argument("--two-arms", action="store_true", help="also breast_antiplatelet (two arms)")
    p.add_argument("--run", type=Path, help="an existing run directory: time only its report")
    a = p.parse_args()
    from bench_run import machine  # same directory

    print(machine())
    with tempfile.TemporaryDirectory() as scratch:
        runs = [("given run", a.run)] if a.run else []
        for name in (["breast"] + (["breast_antiplatelet"] if a.two_arms else [])) if not a.run else []:
            out = Path(scratch) / name
            s, _ = ctcsim("run", name, "-n", int(a.units), "--seed", 1, "-o", out, "-q")
            print(f"simulated {name}: {int(a.units):,} units per arm in {s:.1f} s")
            runs.append((name, out))
        for name, out in runs:
            t, cpu = ctcsim("report", out, "-o", Path(scratch) / f"{name}.html")
            size = (Path(scratch) / f"{name}.html").stat().st_size
            print(f"| report of {name} | {t:.1f} s wall | {cpu:.1f} s CPU | {size / 1e3:.0f} kB | goal < {GOAL_S:.0f} s: "
                  f"{'met' if t < GOAL_S else 'NOT met'} | load {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
