"""The whole cascade at scale: a shedding tumour run end to end, and what paired arms buy.

1. `ctcsim run breast_shedding` (a 1 g breast tumour shedding for 30 days, fates only): every
   unit it sheds (a Poisson draw, ~1.2e8), as one process: wall time, units/s, peak RSS,
   bytes on disk, and the outcome fractions after arrest.
2. Control vs anti-platelet (breast_antiplatelet): the 95% CI half-width of the difference in
   the fraction alive, paired (one run, common random numbers) and from two independently
   seeded runs of the same size; their ratio is what common random numbers buy.
3. The cluster advantage (Aceto 2014 reports 23-50x the metastatic potential of single cells):
   P(micrometastasis or beyond | cluster) / P(same | single cell) in the shedding scenario.

    python bench/bench_cascade.py [--shedding-units N] [--arm-units 1000000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import ctcsim
from ctcsim import compare
from ctcsim import scenario as sc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_run import machine  # noqa: E402

GROWN = ["micrometastasis", "regressed", "macrometastasis"]


def shedding(units, workdir):
    out = Path(workdir) / "shedding"
    cmd = [sys.executable, "-m", "ctcsim.cli", "run", "breast_shedding", "--seed", "1", "-o", str(out), "-q", "--json"]
    cmd += ["-n", str(units)] if units else []
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"bench_cascade: {' '.join(cmd)} failed")
        stdout.seek(0)
        record = json.load(stdout)
    n = record["n_units"]
    print(f"shedding (breast_shedding, 30 days, fates only): {n:,} units in {wall:.1f} s "
          f"({n / wall:,.0f} units/s), peak RSS {usage.ru_maxrss / 1024:,.0f} MiB, "
          f"{record['counts']['bytes']['fates'] / n:.1f} bytes/unit on disk")
    after = record["summary"]["arms"]["control"]["after_arrest"]
    print("  after arrest: " + ", ".join(f"{k} {v['fraction']:.4g}" for k, v in after.items() if v["count"]))
    counts = np.zeros((2, 2))  # [cluster?, grown?], streamed batch by batch
    for batch in ctcsim.read_run(out).fates.to_batches(columns=["cluster_size", "post_arrest"]):
        cluster = pc.greater(batch["cluster_size"], 1).to_numpy(zero_copy_only=False)
        grown = pc.is_in(batch["post_arrest"].cast("string"), value_set=pa.array(GROWN)).to_numpy(zero_copy_only=False)
        counts += np.bincount(cluster * 2 + grown, minlength=4).reshape(2, 2)
    single, clustered = counts[0, 1] / counts[0].sum(), counts[1, 1] / counts[1].sum()
    print(f"cluster advantage: P(micrometastasis or beyond) clusters {clustered:.4g}, single cells {single:.4g}: "
          f"{clustered / single:.1f}x (Aceto 2014: 23-50x)")


def arms(n):
    r = compare.paired_vs_independent(sc.load("breast_antiplatelet"), "anti_platelet", "alive", n)
    print(f"anti-platelet - control, fraction alive at 24 h, {n:,} units per arm: paired "
          f"{r['paired']:+.5f} +- {r['paired_halfwidth']:.5f}; independent runs {r['independent']:+.5f} "
          f"+- {r['independent_halfwidth']:.5f}; CI {r['independent_halfwidth'] / r['paired_halfwidth']:.1f}x "
          "narrower paired")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shedding-units", type=int, help="simulate a sample of this many [default: all shed]")
    ap.add_argument("--arm-units", type=int, default=1_000_000)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python bench/bench_cascade.py {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory() as workdir:
        shedding(args.shedding_units, workdir)
    arms(args.arm_units)


if __name__ == "__main__":
    main()
