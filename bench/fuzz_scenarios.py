"""Scenario fuzzer: mutated scenario files through `ctcsim validate` and a tiny `ctcsim run`.

Each file is a mutation of a built-in scenario (ctcsim/data/scenarios, as written and with its
anatomy and primary inlined) or of tests/conftest.py's RICH scenario (alone and with arms):
keys deleted, renamed and retyped; numbers made non-finite, extreme or scaled; list items
dropped or doubled; arms with extreme multipliers; bytes broken (not UTF-8, truncated, control
characters, UTF-16, a byte-order mark); nesting 1,000 deep; huge files.  File i of seed s is
the same on every machine.  Each file must give, in `ctcsim validate` and in `ctcsim run -n 3`:

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
import copy
import dataclasses
import importlib.util
import json
import math
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parents[1]
UNITS = 3
TIMEOUT_S = 10.0
DIFFERS = "refused, run's line differs"
GOOD = ("valid", "refused", DIFFERS)
EXTREMES = [0, -0.0, -1, 5e-324, 1e-300, 1e-9, 1e9, 1e300, 1.7976931348623157e308, 2**31 - 1, 2**31, 2**63 - 1,
            -2**63, 2**64, 10**30, math.nan, math.inf, -math.inf]
OTHER_TYPES = ["", "x", True, False, [], [1.0], {}, {"a": 1}, 1, 1.5, "1.0"]


def bases() -> list[tuple[str, dict]]:
    """(name, scenario table) of every scenario mutated."""
    from ctcsim import scenario as sc
    from ctcsim._compat import tomllib
    spec = importlib.util.spec_from_file_location("ctcsim_test_conftest", REPO / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    out = [("rich", tomllib.loads(conftest.RICH))]
    arms = [{"name": "control"}, {"name": "treated", "multipliers": {"k_on_per_s": 0.1, "k_nk_per_s": 2.0}},
            {"name": "late", "start_s": 100.0, "multipliers": {"anoikis_eta_s": 0.5}}]
    out.append(("rich+arms", {**out[0][1], "arms": arms}))
    for name in sc.builtin_scenario_names():
        s = sc.builtin_scenario(name)
        out.append((name, tomllib.loads((REPO / "ctcsim" / "data" / "scenarios" / f"{name}.toml").read_text())))
        resolved = dataclasses.replace(s, anatomy=s.resolved_anatomy(), primary=s.resolved_primary())
        out.append((f"{name}:resolved", tomllib.loads(sc.dumps(resolved))))
    return out


def paths(d, prefix=()):
    """Every key path in a table (list items by index), parents before children."""
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    for k, v in items:
        yield prefix + (k,)
        yield from paths(v, prefix + (k,))


def parent(d, path):
    for k in path[:-1]:
        d = d[k]
    return d


def _number_paths(d):
    """Number paths, those outside the anatomy first half the time (an inlined anatomy has
    hundreds, and would drown the biology)."""
    found = [p for p in paths(d) if isinstance(parent(d, p)[p[-1]], (int, float)) and not isinstance(
        parent(d, p)[p[-1]], bool)]
    model = [p for p in found if p[0] != "anatomy"]
    return found, model


def _name(path) -> str:
    return ".".join(str(k) for k in path)


def delete(rng, d):
    if not d:
        return unknown_key(rng, d)
    p = rng.choice(list(paths(d)))
    parent(d, p).pop(p[-1])
    return f"delete {_name(p)}"


def rename(rng, d):
    named = [p for p in paths(d) if isinstance(p[-1], str)]
    if not named:
        return unknown_key(rng, d)
    p = rng.choice(named)
    k = p[-1]
    new = rng.choice([k[:-1], k + "s", k.upper(), k.replace("_", ""), "x" + k, ""])
    t = parent(d, p)
    t[new] = t.pop(k)
    return f"rename {_name(p)} -> {new!r}"


def retype(rng, d):
    if not d:
        return unknown_key(rng, d)
    p = rng.choice(list(paths(d)))
    v = copy.deepcopy(rng.choice(OTHER_TYPES))
    parent(d, p)[p[-1]] = v
    return f"retype {_name(p)} = {v!r}"


def _number_path(rng, d):
    found, model = _number_paths(d)
    return rng.choice(model if model and rng.random() < 0.5 else found) if found else None


def extreme(rng, d):
    p = _number_path(rng, d)
    if p is None:
        return unknown_key(rng, d)
    v = rng.choice(EXTREMES)
    parent(d, p)[p[-1]] = v
    return f"set {_name(p)} = {v!r}"


def scale(rng, d):
    p = _number_path(rng, d)
    if p is None:
        return unknown_key(rng, d)
    f = rng.choice([0.0, -1.0, 1e-6, 1e6, 0.5, 2.0, 1e-300])
    t = parent(d, p)
    t[p[-1]] = t[p[-1]] * f
    return f"scale {_name(p)} x {f!r}"


def unknown_key(rng, d):
    tables = [()] + [p for p in paths(d) if isinstance(parent(d, p)[p[-1]], dict)]
    p = rng.choice(tables)
    (parent(d, p + ("",)) if p else d)["surprise"] = 1.0
    return f"add {_name(p + ('surprise',))}"


def list_item(rng, d):
    lists = [p for p in paths(d) if isinstance(parent(d, p)[p[-1]], list) and parent(d, p)[p[-1]]]
    if not lists:
        return delete(rng, d)
    p = rng.choice(lists)
    items = parent(d, p)[p[-1]]
    i = rng.randrange(len(items))
    if rng.random() < 0.5:
        items.pop(i)
        return f"drop {_name(p)}[{i}]"
    items.insert(i, copy.deepcopy(items[i]))
    return f"double {_name(p)}[{i}]"


def add_arm(rng, d):
    from ctcsim.scenario import MULTIPLIABLE
    k = rng.choice(MULTIPLIABLE)
    v = rng.choice(EXTREMES + [0.0, 3.0, 5.0, 1e-3])
    arm = {"name": rng.choice(["arm", "control", "x y", ""]), "multipliers": {k: v}}
    if rng.random() < 0.3:
        arm["start_s"] = rng.choice([1.0, 100.0, 1e6, 1e300])
    d.setdefault("arms", [])
    if isinstance(d["arms"], list):
        d["arms"].append(arm)
    return f"arm {arm}"


def swap(rng, d):
    if len(list(paths(d))) < 2:
        return unknown_key(rng, d)
    p, q = rng.sample(list(paths(d)), 2)
    a, b = parent(d, p), parent(d, q)
    try:
        a[p[-1]], b[q[-1]] = copy.deepcopy(b[q[-1]]), copy.deepcopy(a[p[-1]])
    except (KeyError, IndexError, TypeError):  # one path inside the other
        return delete(rng, d)
    return f"swap {_name(p)} <-> {_name(q)}"


TABLE_MUTATIONS = [(delete, 3), (rename, 2), (retype, 3), (extreme, 5), (scale, 2), (unknown_key, 1), (list_item, 2),
                   (add_arm, 2), (swap, 1)]


def not_utf8(rng, data):
    i = rng.randrange(len(data) + 1)
    b = bytes([rng.randrange(0x80, 0x100)])
    return f"byte {b.hex()} at {i}", data[:i] + b + data[i:]


def truncate(rng, data):
    i = rng.randrange(len(data))
    return f"truncate at {i}", data[:i]


def control(rng, data):
    i = rng.randrange(len(data) + 1)
    c = rng.choice([b"\x00", b"\x07", b"\x1b", b"\r", b"\x7f"])
    return f"control {c!r} at {i}", data[:i] + c + data[i:]


def flip(rng, data):
    i = rng.randrange(len(data))
    return f"flip byte {i}", data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]


def utf16(rng, data):
    return "UTF-16", data.decode("utf-8").encode("utf-16")


def bom(rng, data):
    return "byte-order mark", b"\xef\xbb\xbf" + data


def deep(rng, data):
    n = rng.choice([50, 400, 1000, 5000])
    if rng.random() < 0.5:
        return f"tables nested {n} deep", data + b"\ndeep = " + b"{a = " * n + b"1" + b"}" * n + b"\n"
    return f"lists nested {n} deep", data + b"\ndeep = " + b"[" * n + b"]" * n + b"\n"


def huge(rng, data):
    kind = rng.choice(["string", "comment", "list", "keys"])
    if kind == "string":
        return "a 4 MB description", data.replace(b'name = ', b'description = "' + b"x" * (4 << 20) + b'"\nname = ', 1)
    if kind == "comment":
        return "4 MB of comments", b"# " + b"y" * (4 << 20) + b"\n" + data
    if kind == "list":
        return "a list of 200,000 numbers", b"big = [" + b"1.0, " * 200_000 + b"]\n" + data
    return "100,000 keys", b"".join(b"k%d = 1\n" % i for i in range(100_000)) + data


BYTE_MUTATIONS = [(not_utf8, 3), (truncate, 2), (control, 2), (flip, 2), (utf16, 1), (bom, 1), (deep, 2), (huge, 1)]


def _pick(rng, weighted):
    return rng.choices([f for f, _ in weighted], [w for _, w in weighted])[0]


def make(seed: int, i: int, base_list) -> tuple[str, bytes]:
    """File ``i`` of ``seed``: (what was done, its bytes)."""
    rng = random.Random(f"{seed}:{i}")
    name, table = rng.choice(base_list)
    d = copy.deepcopy(table)
    done = [name]
    if rng.random() < 0.8:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            done.append(_pick(rng, TABLE_MUTATIONS)(rng, d))
    data = tomli_w.dumps(d).encode()
    if rng.random() < 0.25:
        what, data = _pick(rng, BYTE_MUTATIONS)(rng, data)
        done.append(what)
    return "; ".join(done), data


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


def fuzz(seed: int, indices, timeout_s: float = TIMEOUT_S, keep: Path | None = None):
    """Yield (index, mutations, outcome, detail) for each file."""
    base_list = bases()
    with tempfile.TemporaryDirectory(prefix="ctcsim-fuzz-") as tmp:
        work = Path(tmp)
        worker = Worker(work)
        try:
            for i in indices:
                what, data = make(seed, i, base_list)
                path = work / f"f{i}.toml"
                path.write_bytes(data)
                r = worker.check(str(path), timeout_s)
                if r is None or r["validate"]["code"] is None:
                    worker.close(kill=r is None)
                    worker = Worker(work)
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
