"""The whole cascade at scale: a shedding tumour run end to end, and what paired arms buy.

1. `ctcsim run breast_shedding` (a 1 g breast tumour shedding for 30 days, fates only): every
   unit it sheds (a Poisson draw, ~1.2e8), as one process: wall time, units/s, peak RSS,
   bytes on disk, and the outcome fractions after arrest.
2. Control vs anti-platelet (breast_antiplatelet): the 95% CI half-width of the difference in
   the fraction alive, paired (one run, common random numbers) and from two independently
   seeded runs of the same size; their ratio is what common random numbers buy.
3. The cluster advantage (Aceto 2014 reports 23-50x the metastatic potential of single cells):
   P(micrometastasis or beyond | cluster) / P(same | single cell) in the shedding scenario.

    python bench/bench_cascade.py [--shedding-units N] [--arm-units 1000000] [--threads 2]
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import ctcsim
from ctcsim import compare
from ctcsim import scenario as sc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_run import load, machine, run  # noqa: E402

GROWN = ["micrometastasis", "regressed", "macrometastasis"]


def shedding(units, workdir, threads):
    r = run(units, Path(workdir), False, threads, "breast_shedding", keep=True)
    n, record = r["units"], r["record"]
    print(f"shedding (breast_shedding, 30 days, fates only, {threads} threads): {n:,} units in {r['wall_s']:.1f} s "
          f"({n / r['wall_s']:,.0f} units/s), {r['cpu_s']:.1f} s of CPU ({r['cpu_s'] / r['wall_s']:.2f} cores used), "
          f"peak RSS {r['rss_mib']:,.0f} MiB, {r['fates_bytes_per_unit']:.1f} bytes/unit on disk; CPU: "
          + ", ".join(f"{k} {v:.1f}%" for k, v in r["split"].items()))
    after = record["summary"]["arms"]["control"]["after_arrest"]
    print("  after arrest: " + ", ".join(f"{k} {v['fraction']:.4g}" for k, v in after.items() if v["count"]))
    counts = np.zeros((2, 2))  # [cluster?, grown?], streamed batch by batch
    for batch in ctcsim.read_run(r["path"]).fates.to_batches(columns=["cluster_size", "post_arrest"]):
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
    ap.add_argument("--threads", type=int, default=2, help="threads of the shedding run [default: 2]")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python bench/bench_cascade.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory() as workdir:
        shedding(args.shedding_units, workdir, args.threads)
    arms(args.arm_units)
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
