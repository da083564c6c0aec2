"""Derive tests/test_fuzz.py's CI set: the fewest of the first FILES fuzz files that reach all
that the FILES reach, by a greedy set cover.

Each file goes through bench/fuzz_scenarios.py's ``check`` (validate, then a run of a few units)
in a worker process traced with sys.settrace.  What a file covers:

- every line of ctcsim that its validate and run execute;
- its base scenario, and each kind of mutation on each kind of base (rich, built-in, built-in
  with anatomy and primary inlined);
- among the valid files, each kind of mutation and each base;
- its outcome, and the key its refusal names (list indices written [i]).

The greedy cover takes, while something is uncovered, the file that covers the most of it (the
lowest index on a tie).  Re-run it when the mutations, the base scenarios (built-ins, anatomies,
primaries, conftest's RICH) or the validation code change, and paste the tuple it prints into
tests/test_fuzz.py:

    python bench/fuzz_ci_set.py                     # seed and FILES of tests/test_fuzz.py
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import fuzz_scenarios as fs

REPO = Path(__file__).resolve().parents[1]
TRACED_TIMEOUT_S = 120.0  # tracing makes a file's check some tens of times slower


class TracedWorker(fs.Worker):
    """fuzz_scenarios' worker, whose results also list the ctcsim lines each file executed."""

    def __init__(self, workdir: Path):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=workdir, env=env, text=True)


def serve():
    package = str(REPO / "ctcsim")
    for line in sys.stdin:
        lines = set()

        def tracer(frame, event, arg):
            name = frame.f_code.co_filename
            if not name.startswith(package):
                return None  # no line events in other code: tracing only ctcsim is what keeps it quick
            if event == "line":
                lines.add((name[len(package) + 1:], frame.f_lineno))
            return tracer

        sys.settrace(tracer)
        try:
            result = fs.check(line.rstrip("\n"))
        finally:
            sys.settrace(None)
        result["lines"] = sorted(lines)
        print(json.dumps(result), flush=True)


def base_kind(name: str) -> str:
    return "rich" if name.startswith("rich") else "resolved" if name.endswith(":resolved") else "built-in"


def features(name: str, what: str, out: str, r: dict | None) -> set:
    """What one file (``name``, its outcome ``out``, its worker result ``r``) covers (module docstring)."""
    parts = what.split("; ")
    base, kinds = parts[0], {p.split(" ", 1)[0] for p in parts[1:]}
    found = {("base", base), ("outcome", out)} | {("mutation", base_kind(base), k) for k in kinds}
    if r is not None:
        found |= {("line", f, n) for f, n in r["lines"]}
    if out == "valid":
        found |= {("valid base", base)} | {("valid mutation", k) for k in kinds}
    if out in ("refused", fs.DIFFERS):
        said = r["validate"]["stderr"].strip().splitlines()[0]
        key = said.split(f"{name}: ", 1)[1].split(": ", 1)[0]  # the key, or the first words of the problem
        found.add(("refusal key", re.sub(r"\[\d+\]", "[i]", key)))
    return found


def cover(covers: dict[int, set]) -> list[int]:
    left, chosen = set().union(*covers.values()), []
    while left:
        best = max(covers, key=lambda i: (len(covers[i] & left), -i))
        chosen.append(best)
        left -= covers[best]
    return sorted(chosen)


def main():
    sys.path.insert(0, str(REPO / "tests"))
    import test_fuzz
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=test_fuzz.SEED)
    ap.add_argument("-n", type=int, default=test_fuzz.FILES, help="files to choose from")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return serve()
    start, covers, outcomes, raw = time.monotonic(), {}, {}, {}
    for i, what, out, _ in fs.fuzz(args.seed, range(args.n), TRACED_TIMEOUT_S, worker_class=TracedWorker, raw=raw):
        covers[i], outcomes[i] = features(f"f{i}.toml", what, out, raw.pop(i)), out
    chosen = cover(covers)
    counts = collections.Counter(outcomes[i] for i in chosen)
    print(f"# {len(chosen)} of {args.n} files (seed {args.seed}) reach all {len(set().union(*covers.values()))} "
          f"features; {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}; {time.monotonic() - start:.0f} s")
    print(f"CI_FILES = {tuple(chosen)}")
    bad = {i: o for i, o in outcomes.items() if o not in fs.GOOD}
    if bad:
        print(f"bad outcomes (fix them first): {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
