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
FILES = 300  # the set the CI subset is drawn from; `make` alone is cheap, so all 300 are made below
# The files run in CI: 118 of the first 300 that together reach everything the 300 reach (the
# other 182 add nothing to it).  Chosen by bench/fuzz_ci_set.py, a
# greedy set cover, over the 300 files' outcomes, of: every line of ctcsim that validate and run
# execute (traced with sys.settrace), every base scenario, every kind of mutation on each kind
# of base (rich, built-in, built-in inlined), every kind of mutation and every base among the
# valid files, every outcome, and every key a refusal names (indices as [i]).  22 of them are
# valid, 94 refused, 2 refused with the run's line differing.  File i changes when the
# mutations or the base scenarios (built-ins, anatomies, primaries, RICH) change, and new
# validation code is reached only if some file reaches it: then run `python
# bench/fuzz_ci_set.py` (about 50 s of CPU) and paste the tuple it prints here;
# `python bench/fuzz_scenarios.py -n 2000` runs any number.
CI_FILES = (0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 15, 17, 18, 19, 20, 24, 27, 28, 31, 32, 34, 35, 37, 38, 40, 41, 42,
            43, 44, 45, 46, 48, 49, 52, 57, 61, 62, 63, 73, 79, 80, 81, 82, 84, 85, 87, 93, 94, 95, 96, 98, 99,
            100, 105, 111, 115, 119, 121, 122, 123, 126, 128, 130, 132, 134, 135, 137, 138, 139, 143, 145, 147,
            149, 150, 151, 160, 166, 167, 171, 172, 173, 177, 182, 188, 190, 192, 198, 203, 205, 207, 223, 225,
            230, 231, 235, 236, 237, 244, 245, 246, 252, 254, 255, 257, 262, 263, 264, 266, 269, 276, 280, 283,
            285, 286, 287, 288, 295, 297)
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
    results = list(fz.fuzz(SEED, CI_FILES))
    bad = [f"file {i}: {out}: {what}\n    {detail}" for i, what, out, detail in results if out not in fz.GOOD]
    assert not bad, "\n".join(bad)
    counts = collections.Counter(out for _, _, out, _ in results)
    # The set exercises both sides: enough files run, and enough are refused.
    n = len(CI_FILES)
    assert counts["valid"] >= n // 10 and counts["refused"] >= n // 2, counts


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
