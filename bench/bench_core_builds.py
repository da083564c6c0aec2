"""The core of this checkout against the core of another built checkout, interleaved.

    git worktree add ../before REV && (cd ../before && python setup.py build_ext --inplace)
    python bench/bench_core_builds.py ../before [--rounds 6] [--units 300000] [--workload FILE]

Each round runs the reference workload (bench/reference_workload.toml, or --workload: say
bench/run_workload.toml, whose units arrest and run the post-arrest chain) once in each checkout,
each in its own process (best of 7 passes, this thread's CPU time), and prints M events/s; the
paired ratios this/other are what to read on a shared machine.
"""
import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ONE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from ctcsim import _core, scenario as sc
from ctcsim.compile import compile_model
core = _core.CoreModel(compile_model(sc.load(sys.argv[2])))
n = int(sys.argv[3])
f = _core.new_fate_buffers(n)
best = 0.0
for _ in range(7):
    t = time.thread_time()
    _core.run_chunk(core, 1, 2, 0, n, f)
    best = max(best, f["n_steps"].sum() / (time.thread_time() - t))
print(best / 1e6)
"""


def rate(checkout: Path, units: int, workload: Path) -> float:
    out = subprocess.run([sys.executable, "-c", ONE, str(checkout), str(workload), str(units)],
                         check=True, capture_output=True, text=True).stdout
    return float(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", type=Path, help="another checkout with its core built in place")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--units", type=int, default=300_000)
    ap.add_argument("--workload", type=Path, default=HERE / "reference_workload.toml", help="scenario file")
    args = ap.parse_args()
    this = HERE.parent
    workload = args.workload.resolve()
    pairs = [(rate(this, args.units, workload), rate(args.other, args.units, workload)) for _ in range(args.rounds)]
    ratios = [a / b for a, b in pairs]
    print(f"load average {os.getloadavg()[0]:.2f}; {args.workload.name}, {args.units} units, best of 7 per round")
    print("  rounds (this, other) M events/s: " + ", ".join(f"({a:.1f}, {b:.1f})" for a, b in pairs))
    print(f"  this/other: median {statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    sys.exit(main())
