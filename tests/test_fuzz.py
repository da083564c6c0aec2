"""The scenario fuzzer in CI (issue 9): a fixed, seeded set of mutated scenario files from
bench/fuzz_scenarios.py, each through `ctcsim validate` and a run of a few units, in a worker
process killed if a file hangs.  Every file must be valid (exit 0 in both, nothing on stderr,
fates that make sense) or refused (exit 2 in both, one line naming the file, nothing written):
never a traceback, a hang, or a file that validates and then fails its run.

`python bench/fuzz_scenarios.py -n 2000 --seed 1` runs as many as you like; a failure here
names the file's index, and `--seed 20260511 --only INDEX --keep DIR` writes it out again.
"""
import collections
import importlib.util
import sys
from pathlib import Path

SEED = 20260511
FILES = 300  # 20-50 s on this 2-core machine, with the other engineers on it
BENCH = Path(__file__).resolve().parents[1] / "bench"


def fuzzer():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # for its fuzz_mutations
    spec = importlib.util.spec_from_file_location("fuzz_scenarios", BENCH / "fuzz_scenarios.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mutated_scenario_files_are_valid_or_refused_in_one_line():
    fz = fuzzer()
    results = list(fz.fuzz(SEED, range(FILES)))
    bad = [f"file {i}: {out}: {what}\n    {detail}" for i, what, out, detail in results if out not in fz.GOOD]
    assert not bad, "\n".join(bad)
    counts = collections.Counter(out for _, _, out, _ in results)
    # The set exercises both sides: enough files run, and enough are refused.
    assert counts["valid"] >= FILES // 10 and counts["refused"] >= FILES // 2, counts


def test_the_fuzzer_makes_each_kind_of_mutation_and_the_same_file_every_time():
    fz = fuzzer()
    bases = fz.bases()
    made = [fz.make(SEED, i, bases) for i in range(FILES)]
    assert made[:20] == [fz.make(SEED, i, bases) for i in range(20)]
    said = " ".join(what for what, _ in made)
    for word in ("delete", "rename", "retype", "set", "scale", "add", "drop", "arm", "byte", "truncate", "nested",
                 "UTF-16", "4 MB"):
        assert word in said, word


def test_a_file_that_never_answers_counts_as_a_hang(tmp_path):
    """A worker stuck on a file (here reading a FIFO nobody writes) is killed and reported."""
    import os
    fz = fuzzer()
    fifo = tmp_path / "stuck.toml"
    os.mkfifo(fifo)
    worker = fz.Worker(tmp_path)
    try:
        assert worker.check(str(fifo), timeout_s=0.5) is None
    finally:
        worker.close(kill=True)
