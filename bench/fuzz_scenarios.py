"""Scenario fuzzer: mutated scenario files through `ctcsim validate` and a tiny `ctcsim run`.

Each file is a mutation (bench/fuzz_mutations.py) of a built-in scenario (as written and with
its anatomy and primary inlined) or of tests/conftest.py's RICH scenario (alone and with arms):
keys deleted, renamed and retyped; numbers made non-finite, extreme or scaled; list items
dropped or doubled; arms with extreme multipliers; bytes broken (not UTF-8, truncated, control
characters, UTF-16, a byte-order mark); nesting up to 5,000 deep; huge files.  File i of seed s
is the same on every machine.  Each file must give, in `ctcsim validate` and `ctcsim run -n 3`:

- exit 0 in both, with nothing on stderr and no warning, and fates that make sense (times
  finite, from entry to t_max; a positive diameter): the file is valid; or
- exit 2 in both, with one line naming the file, and no run directory written (the run's
  line should be validate's: where it is not, the file counts as refused and is listed as
  a note, for the run's checks beyond the scenario's, e.g. arm names a directory can hold);

never a traceback, never a hang (TIMEOUT_S of CPU time per file, or five times that of wall
time, in a worker process killed when it hangs; CPU time, so a busy machine is not a hang),
and never "validates but fails the run".  tests/test_fuzz.py runs a fixed set in CI.

    python bench/fuzz_scenarios.py -n 2000 --seed 1        # 2,000 files: outcomes, and every bad one
    python bench/fuzz_scenarios.py --seed 1 --only 17 --keep fuzz-out   # file 17 again, kept
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from fuzz_mutations import bases, make

UNITS = 3
TIMEOUT_S = 10.0
DIFFERS = "refused, run's line differs"
GOOD = ("valid", "refused", DIFFERS)
def check(path: str) -> dict:
    """`ctcsim validate` and `ctcsim run` on one file, in this process (the worker's)."""
    from click.testing import CliRunner

    from ctcsim.cli import main
    out = Path(path).with_suffix(".run")
    result = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step, args in (("validate", ["validate", path]),
                           ("run", ["run", path, "-n", str(UNITS), "--seed", "1", "-o", str(out), "-q", "-t", "1"])):
            res = CliRunner().invoke(main, args)
            crash = res.exception if res.exception and not isinstance(res.exception, SystemExit) else None
            result[step] = {"code": res.exit_code, "stderr": res.stderr, "stdout": res.stdout,
                            "crash": f"{type(crash).__name__}: {crash}" if crash else None}
    result["wrote"] = out.exists()
    result["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    result["nonsense"] = nonsense(out) if result["run"]["code"] == 0 else []
    shutil.rmtree(out, ignore_errors=True)
    return result


def nonsense(out: Path) -> list[str]:
    """What is impossible in a run's fates: every unit of every arm, times finite and in order
    (entry < t_max, entry <= fate <= t_max, shielded no longer than it circulated), diameters > 0."""
    import numpy as np

    from ctcsim import read_run
    run = read_run(out)
    t_max = run.scenario.t_max_s
    table = run.fates.to_table(columns=["entry_time_s", "fate_time_s", "diameter_um", "time_shielded_s"])
    f = {k: table.column(k).to_numpy() for k in table.column_names}
    entry, fate, shielded = f["entry_time_s"], f["fate_time_s"], f["time_shielded_s"]
    checks = {
        f"{UNITS} units in every arm": len(entry) == UNITS * len(run.metadata["arms"]),
        "entry times finite, in [0, t_max)": bool(np.all(np.isfinite(entry) & (entry >= 0) & (entry < t_max))),
        "fate times in [entry, t_max]": bool(np.all((fate >= entry) & (fate <= t_max) & ~np.isnan(fate))),
        "diameters finite and positive": bool(np.all(np.isfinite(f["diameter_um"]) & (f["diameter_um"] > 0))),
        "time shielded in [0, fate - entry]": bool(np.all((shielded >= 0) & (shielded <= (fate - entry) * (1 + 1e-9)))),
    }
    return [what for what, ok in checks.items() if not ok]


def outcome(path: str, r: dict) -> tuple[str, str]:
    """(outcome, detail) of one file's result."""
    v, run = r["validate"], r["run"]
    if v["crash"] or run["crash"] or "Traceback" in v["stderr"] + run["stderr"]:
        return "traceback", v["crash"] or run["crash"] or "Traceback on stderr"
    if v["code"] == 0:
        if run["code"] != 0:
            return "validates but fails", run["stderr"].strip()
        if v["stderr"] or run["stderr"] or r["warnings"]:
            return "noise", (v["stderr"] + run["stderr"]).strip() or r["warnings"][0]
        if r["nonsense"]:
            return "nonsense", "not: " + "; ".join(r["nonsense"])
        return "valid", ""
    lines = v["stderr"].strip().splitlines()
    if v["code"] != 2 or run["code"] != 2:
        return "bad exit", f"validate {v['code']}, run {run['code']}: {v['stderr'].strip()[:200]}"
    if len(lines) != 1 or not lines[0].startswith(f"ctcsim: error: {path}: "):
        return "bad message", v["stderr"].strip()[:300]
    if len(run["stderr"].strip().splitlines()) != 1 or r["wrote"]:
        return "bad message", f"run said {run['stderr'].strip()[:200]!r}, wrote {r['wrote']}"
    if run["stderr"] != v["stderr"]:
        return DIFFERS, f"validate: {lines[0]}\n    run:      {run['stderr'].strip()}"
    return "refused", lines[0]


class Worker:
    """A process that checks files one at a time; killed and replaced when one hangs."""

    def __init__(self, workdir: Path):
        import ctcsim
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(ctcsim.__file__).parents[1]),
                                                            os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=workdir, env=env, text=True)

    def check(self, path: str, timeout_s: float) -> dict | None:
        """The file's result, or None if it took ``timeout_s`` of CPU time (5x that of wall time)."""
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        cpu, wall = self.cpu_s(), time.monotonic()
        while not select.select([self.proc.stdout], [], [], 0.2)[0]:
            if self.cpu_s() - cpu >= timeout_s or time.monotonic() - wall >= 5 * timeout_s:
                return None
        line = self.proc.stdout.readline()
        if not line:  # the process died (a crash in the core)
            crash = {"code": None, "stderr": "", "stdout": "", "crash": f"worker died ({self.proc.wait()})"}
            return {"validate": crash, "run": crash, "wrote": False, "warnings": [], "nonsense": []}
        return json.loads(line)

    def cpu_s(self) -> float:
        """The worker's CPU time so far (0 where /proc does not exist: wall time decides)."""
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def close(self, kill=False):
        if kill:
            self.proc.kill()
        else:
            self.proc.stdin.close()
        self.proc.wait()


def fuzz(seed: int, indices, timeout_s: float = TIMEOUT_S, keep: Path | None = None, worker_class=None,
         raw: dict | None = None):
    """Yield (index, mutations, outcome, detail) for each file; ``raw`` (a dict) gets each
    file's result as the worker sent it (None for a hang); ``worker_class``: Worker's
    (bench/fuzz_ci_set.py traces the lines each file runs)."""
    base_list, worker_class = bases(), worker_class or Worker
    with tempfile.TemporaryDirectory(prefix="ctcsim-fuzz-") as tmp:
        work = Path(tmp)
        worker = worker_class(work)
        try:
            for i in indices:
                what, data = make(seed, i, base_list)
                path = work / f"f{i}.toml"
                path.write_bytes(data)
                r = worker.check(str(path), timeout_s)
                if raw is not None:
                    raw[i] = r
                if r is None or r["validate"]["code"] is None:
                    worker.close(kill=r is None)
                    worker = worker_class(work)
                if r is None:
                    result = ("hang", f"no answer within {timeout_s:g} s of CPU time")
                else:
                    result = outcome(str(path), r)
                if keep is not None and result[0] not in GOOD:
                    keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, keep / path.name)
                path.unlink()
                yield i, what, *result
        finally:
            worker.close()


def serve():
    """The worker: a path per line on stdin, a JSON result per line on stdout."""
    for line in sys.stdin:
        print(json.dumps(check(line.rstrip("\n"))), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=2000, help="number of files")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", type=int, nargs="*", help="just these file indices")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per file before it counts as a hang")
    ap.add_argument("--keep", type=Path, help="copy every file with a bad outcome here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return serve()
    start = time.monotonic()
    counts, bad = collections.Counter(), []
    for i, what, out, detail in fuzz(args.seed, args.only or range(args.n), args.timeout, args.keep):
        counts[out] += 1
        if out not in GOOD:
            bad.append((i, what, out, detail))
        if out not in ("valid", "refused"):
            print(f"file {i}: {out}{'' if out in GOOD else ' (bad)'}: {what}\n    {detail}", flush=True)
    total = sum(counts.values())
    print(f"\n{total} files, seed {args.seed}, {time.monotonic() - start:.0f} s: " +
          ", ".join(f"{k} {counts[k]}" for k in ("valid", "refused", DIFFERS, "traceback", "hang",
                                                  "validates but fails", "bad exit", "bad message", "noise",
                                                  "nonsense")))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
