"""Events per second of the compiled core on the reference workload, beside the C floor.

Runs the reference workload (bench/reference_workload.toml: issue 2) through the core on
one thread, and in the same run a minimal C loop (bench/floor.c: one exponential and one
uniform per event from the same Philox streams), compiled now with the system C compiler.
The ratio of the two is what to compare across machines; the absolute rates are noisy.  Both
are timed in CPU time (this thread's for the core, the floor process's), in interleaved rounds.

    python bench/bench_core.py [--units 1000000] [--repeats 5]
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ctcsim
from ctcsim import _core, exact
from ctcsim import scenario as sc
from ctcsim.compile import compile_model

HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}; numpy {np.__version__}; "
            f"ctcsim {ctcsim.__version__}")


def core_round(core, n, fates):
    """Events per second of one core pass over n units (CPU time of this thread)."""
    t = time.thread_time()
    _core.run_chunk(core, 1, 2, 0, n, fates)
    return fates["n_steps"].sum() / (time.thread_time() - t)


def build_floor() -> Path:
    exe = Path(tempfile.mkdtemp()) / "floor"
    subprocess.run([os.environ.get("CC", "cc"), "-O3", "-o", str(exe), str(HERE / "floor.c"),
                    "-I", str(HERE.parent / "ext"), "-lm"], check=True)
    return exe


def floor_round(exe, n, p_end):
    events, seconds, _ = subprocess.run([str(exe), str(n), str(p_end)], check=True, capture_output=True,
                                        text=True).stdout.split()
    return int(events) / float(seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5, help="best of this many (the machine is shared)")
    args = ap.parse_args()
    model = compile_model(sc.load(HERE / "reference_workload.toml"))
    steps = exact.mean_steps(model)
    # Rounds interleave core and floor, so that both see the same machine load; best of each.
    core_model, fates, exe = _core.CoreModel(model), _core.new_fate_buffers(args.units), build_floor()
    rounds = [(core_round(core_model, args.units, fates), floor_round(exe, args.units, 1.0 / steps))
              for _ in range(args.repeats)]
    core, floor = max(r[0] for r in rounds), max(r[1] for r in rounds)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"reference workload, {args.units} units, best of {args.repeats} interleaved rounds, one thread")
    print("  rounds (core, floor) M events/s: " + ", ".join(f"({c / 1e6:.1f}, {f / 1e6:.1f})" for c, f in rounds))
    print(f"  events/unit: simulated {fates['n_steps'].mean():.4f}, exact {steps:.4f}")
    print(f"  P(arrest): simulated {np.mean(fates['fate'] == 4):.5f}, exact 0.46977")
    print(f"  core : {core / 1e6:6.1f} M events/s")
    print(f"  floor: {floor / 1e6:6.1f} M events/s (C, same RNG, 1 exponential + 1 uniform per event)")
    print(f"  core/floor time ratio: {floor / core:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
