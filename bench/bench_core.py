"""Events per second of the compiled core on the reference workload, beside the C floor.

Runs the reference workload (bench/reference_workload.toml: issue 2) through the core on
one thread, and in the same run a minimal C loop (bench/floor.c: one exponential and one
uniform per event from the same Philox streams), compiled now with the system C compiler.
The ratio of the two is what to compare across machines; the absolute rates are noisy.

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


def core_rate(model, n, repeats):
    core = _core.CoreModel(model)
    fates = _core.new_fate_buffers(n)
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        _core.run_chunk(core, 1, 2, 0, n, fates)
        best = max(best, fates["n_steps"].sum() / (time.perf_counter() - t))
    return best, fates


def floor_rate(n, p_end, repeats):
    exe = Path(tempfile.mkdtemp()) / "floor"
    subprocess.run([os.environ.get("CC", "cc"), "-O3", "-o", str(exe), str(HERE / "floor.c"),
                    "-I", str(HERE.parent / "ext"), "-lm"], check=True)
    best = 0.0
    for _ in range(repeats):
        events, seconds, _ = subprocess.run([str(exe), str(n), str(p_end)], check=True, capture_output=True,
                                            text=True).stdout.split()
        best = max(best, int(events) / float(seconds))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5, help="best of this many (the machine is shared)")
    args = ap.parse_args()
    model = compile_model(sc.load(HERE / "reference_workload.toml"))
    steps = exact.mean_steps(model)
    # Interleave core and floor so that both see the same machine load.
    core, fates = core_rate(model, args.units, args.repeats)
    floor = floor_rate(args.units, 1.0 / steps, args.repeats)
    print(f"machine: {machine()}")
    print(f"reference workload, {args.units} units, best of {args.repeats}, one thread")
    print(f"  events/unit: simulated {fates['n_steps'].mean():.4f}, exact {steps:.4f}")
    print(f"  P(arrest): simulated {np.mean(fates['fate'] == 4):.5f}, exact 0.46977")
    print(f"  core : {core / 1e6:6.1f} M events/s")
    print(f"  floor: {floor / 1e6:6.1f} M events/s (C, same RNG, 1 exponential + 1 uniform per event)")
    print(f"  core/floor time ratio: {floor / core:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
