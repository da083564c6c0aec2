"""The command line: ctcsim run / summarize / inspect / trace, driven through click's
CliRunner, and as a real process where signals matter (SIGKILL, Ctrl-C).

Scenario: conftest's RICH anatomy with two arms, written to a TOML file.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest
from click.testing import CliRunner
from conftest import RICH
from test_run_dir import ARMS, plain

import ctcsim
from ctcsim import rundir
from ctcsim import scenario as sc
from ctcsim.cli import main
from ctcsim.cli import run as run_command
from ctcsim.rundir import format as fmt

SEED = "340282366920938463463374607431768211455"  # 2**128 - 1
REPO = Path(ctcsim.__file__).resolve().parents[1]
# A real ctcsim process with parts of 4096 units instead of 2**20, so that a run of a few
# hundred thousand units has many parts to be interrupted between.
SMALL_PARTS = "import ctcsim.rundir.format as f; f.PART_UNITS = 4096; from ctcsim.cli import main; main()"
# Units per arm of the interrupted runs: 15 parts per arm, 30 in all, so a signal sent when the
# first is recorded lands with 29 to go (about a second of writing even on an idle machine,
# against the 5 ms the test takes to notice the part); 300,000 made the resumes 10 s of I/O.
INTERRUPTED_UNITS = 60_000


@pytest.mark.parametrize("chosen,backend", [(None, "system"), ("mimalloc", "mimalloc")])
def test_the_command_gives_arrow_the_system_allocator_unless_the_user_chose(chosen, backend):
    """pyarrow's default allocator (mimalloc) keeps what each writing thread frees, ~20 MiB more
    peak RSS with two parts in progress; the command sets the system one, a user's choice stays."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    out = subprocess.run([sys.executable, "-c", "import ctcsim.cli, pyarrow as pa; print(pa.default_memory_pool().backend_name)"],
                         env=env, cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == backend


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "rich.toml"
    path.write_text(RICH + ARMS)
    return str(path)


def ctcsim_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def process(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # cwd: the directory that holds the ctcsim being tested, not the test's cwd, where
    # `python -c` would import an unbuilt source tree first.
    return subprocess.Popen([sys.executable, "-c", SMALL_PARTS, *map(str, args)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_part(out: Path, proc, timeout_s=60.0):
    """Until plan.json records a finished part (what a resume keeps)."""
    deadline = time.monotonic() + timeout_s
    while not _recorded(out):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no part written"
        time.sleep(0.005)


def _recorded(out: Path) -> bool:
    try:
        return bool(json.loads((out / "plan.json").read_text())["parts"])
    except (OSError, ValueError, KeyError):
        return False


def test_version_and_help_in_a_real_process():
    """`python -m ctcsim.cli` (what the ctcsim console script runs) answers --version and
    lists the commands in --help."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "ctcsim.cli", "--version"], capture_output=True, text=True, env=env,
                         cwd=REPO)
    assert (out.returncode, out.stdout.strip()) == (0, f"ctcsim {ctcsim.__version__}")
    helped = ctcsim_cli("--help")
    assert helped.exit_code == 0
    for command in ("run", "summarize", "inspect", "trace"):
        assert f"  {command} " in helped.stdout


def test_run_of_the_default_scenario_prints_a_summary_into_a_fresh_directory(tmp_path, monkeypatch):
    """Without SCENARIO and --out, `ctcsim run` simulates the built-in default into
    ./ctcsim-run, then ./ctcsim-run-2 (never over an earlier run), and prints fractions
    per fate and per organ."""
    monkeypatch.chdir(tmp_path)
    first = ctcsim_cli("run", "-n", 2000, "--seed", 1)
    assert first.exit_code == 0, first.output
    assert "arrested" in first.stdout and "arrested in" in first.stdout and "lung" in first.stdout
    assert ctcsim_cli("run", "-n", 2000, "--seed", 1).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctcsim-run", "ctcsim-run-2"]
    a, b = (rundir.read_run(tmp_path / d) for d in ("ctcsim-run", "ctcsim-run-2"))
    assert a.metadata["scenario_name"] == sc.DEFAULT_SCENARIO
    assert plain(a.fates.to_table()).equals(plain(b.fates.to_table()))


def test_threads_and_chunk_sizes_do_not_change_the_output(tmp_path, scenario_file):
    """--threads 1 and --threads 2, with different chunk sizes, write identical fates and
    events: each unit's random numbers depend only on the seed and its id."""
    for name, threads, chunk in (("a", 1, 1000), ("b", 2, 4099), ("c", 2, 333)):
        result = ctcsim_cli("run", scenario_file, "-n", 6000, "--seed", SEED, "--events", "-o", tmp_path / name,
                            "--threads", threads, "--chunk-size", chunk, "-q")
        assert result.exit_code == 0, result.output
    runs = [rundir.read_run(tmp_path / name) for name in "abc"]
    for other in runs[1:]:
        assert plain(other.fates.to_table()).equals(plain(runs[0].fates.to_table()))
        assert plain(other.events.to_table()).equals(plain(runs[0].events.to_table()))


def test_sigkill_mid_run_leaves_an_incomplete_run_that_resume_completes(tmp_path, scenario_file):
    """A run killed with SIGKILL after its first parts is incomplete to read_run and to
    `ctcsim summarize` (exit 1); `ctcsim run --resume` finishes it to fates and events
    equal to an uninterrupted run with the same seed."""
    out = tmp_path / "killed"
    proc = process("run", scenario_file, "-n", INTERRUPTED_UNITS, "--seed", SEED, "--events", "-o", out,
                   "--chunk-size", 2048, "--threads", 2)
    wait_for_first_part(out, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "run.json").exists()
    with pytest.raises(rundir.IncompleteRunError):
        rundir.read_run(out)
    summary = ctcsim_cli("summarize", out)
    assert summary.exit_code == 1 and "incomplete" in summary.stderr

    resumed = ctcsim_cli("run", "--resume", out, "--threads", 2)
    assert resumed.exit_code == 0, resumed.output
    assert not list(out.rglob("*.tmp")) and not (out / "plan.json").exists()
    whole = rundir.write_run(tmp_path / "whole", sc.load(scenario_file), INTERRUPTED_UNITS, int(SEED), events=True)
    done = rundir.read_run(out)
    assert done.metadata["timings"]["resumed"]
    assert plain(done.fates.to_table()).equals(plain(whole.fates.to_table()))
    assert done.events.count_rows() == whole.events.count_rows()
    unit = pc.field("unit_id") >= INTERRUPTED_UNITS - 1000  # the last part: simulated after the resume
    assert plain(done.events.to_table(filter=unit)).equals(plain(whole.events.to_table(filter=unit)))


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, scenario_file):
    """SIGINT (Ctrl-C) mid-run: exit 130, finished parts kept, no temporary file left, and
    the message gives the resume command, which then completes the run."""
    out = tmp_path / "stopped"
    proc = process("run", scenario_file, "-n", INTERRUPTED_UNITS, "--seed", 5, "-o", out, "--chunk-size", 2048)
    wait_for_first_part(out, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"Resume with: ctcsim run --resume {out}" in stderr
    assert list(out.rglob("part-*.parquet")) and not list(out.rglob("*.tmp"))
    assert not (out / "run.json").exists()
    assert ctcsim_cli("run", "--resume", out, "-q").exit_code == 0
    assert rundir.read_run(out).fates.count_rows() == 2 * INTERRUPTED_UNITS


def test_trace_prints_exactly_the_units_rows_of_an_events_run(tmp_path, scenario_file):
    """`ctcsim trace DIR --unit ID --arm NAME` replays a unit from the recorded scenario and
    seed; its printed history equals the unit's rows in events/, times to the last bit."""
    out = tmp_path / "r"
    assert ctcsim_cli("run", scenario_file, "-n", 800, "--seed", SEED, "--events", "-o", out, "-q").exit_code == 0
    run = rundir.read_run(out)
    for arm in ("control", "anti_platelet"):
        for unit in (0, 1, 417, 799):
            result = ctcsim_cli("trace", out, "--unit", unit, "--arm", arm, "--exact-times")
            assert result.exit_code == 0, result.output
            printed = [line.split() for line in result.stdout.splitlines()[2:]]
            # time_s, the time in readable units (number and unit), event, compartment, shielded[, cells]
            printed = [(float(t[0]), t[3], t[4], t[5] == "true") for t in printed]
            rows = run.events.to_table(filter=(pc.field("unit_id") == unit) & (pc.field("arm") == arm))
            expected = list(zip(*(rows.column(n).to_pylist() for n in ("time_s", "event", "compartment", "shielded"))))
            assert printed == expected, (arm, unit)
    assert ctcsim_cli("trace", out, "--unit", 800).exit_code == 2


def test_json_output_parses_and_summarize_recomputes_the_same_summary(tmp_path, scenario_file):
    """`run --json` prints one JSON document (seed, counts, timings, summary); `summarize
    --json` re-reads the files and finds the same summary as the run tallied while writing."""
    out = tmp_path / "r"
    ran = ctcsim_cli("run", scenario_file, "-n", 5000, "--seed", SEED, "-o", out, "--json")
    assert ran.exit_code == 0, ran.output
    doc = json.loads(ran.stdout)
    assert doc["seed"] == SEED and doc["counts"]["units"] == {"control": 5000, "anti_platelet": 5000}
    summarized = json.loads(ctcsim_cli("summarize", out, "--json").stdout)
    assert summarized["complete"] and summarized["summary"] == doc["summary"]
    text = ctcsim_cli("summarize", out)
    assert text.exit_code == 0 and "anti_platelet: 5,000 units" in text.stdout


def test_inspect_shows_status_metadata_schema_and_counts(tmp_path, scenario_file):
    """`ctcsim inspect` on a run directory and on one of its files; --scenario prints the
    recorded scenario, which loads back to the one that ran."""
    out = tmp_path / "r"
    assert ctcsim_cli("run", scenario_file, "-n", 1000, "--seed", 9, "-o", out, "--arm", "control", "-q").exit_code == 0
    shown = ctcsim_cli("inspect", out).stdout
    assert "complete run" in shown and "seed         9" in shown
    assert "fates/: 1 file(s), 1,000 rows (control 1,000)" in shown and "fate_time_s" in shown
    part = next(out.rglob("*.parquet"))
    assert "Parquet file" in ctcsim_cli("inspect", part).stdout
    toml = ctcsim_cli("inspect", out, "--scenario").stdout
    assert sc.loads(toml).to_dict() == fmt.replayable(sc.load(scenario_file))[1].to_dict()


def test_plain_progress_lines_when_stderr_is_not_a_terminal(tmp_path, scenario_file, monkeypatch):
    """Not on a terminal (logs, CI), progress is plain lines with units, rate and time to go."""
    monkeypatch.setattr(run_command, "PLAIN_EVERY_S", 0.0)
    result = ctcsim_cli("run", scenario_file, "-n", 3000, "--chunk-size", 1000, "-o", tmp_path / "r")
    assert result.exit_code == 0
    assert "ctcsim: 1,000 of 6,000 units (16.7%)" in result.stderr and "units/s" in result.stderr


BAD = {
    "negative units": (["-n", "-5"], "units"),
    "zero units": (["-n", "0"], "units"),
    "unknown arm": (["--arm", "placebo"], "unknown arm 'placebo'"),
    "non-empty out dir": (["-o", "full"], "not empty"),
    "out dir under a file": (["-o", "afile/out"], "cannot write"),
    "out dir is a file": (["-o", "afile"], "is a file"),
    "zero threads": (["--threads", "0"], "--threads"),
    "negative t-max": (["--t-max", "-1"], "--t-max"),
    "seed beyond 128 bits": (["--seed", str(2**128)], "seed"),
    "units not a number": (["-n", "many"], "many"),
    "unknown option": (["--fast"], "--fast"),
    "resume with settings": (["--resume", "full", "-n", "5"], "do not also give --units"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, scenario_file, monkeypatch, case):
    """Each mistake gives `ctcsim: error: ...` on one line naming it, exit code 2, and no
    file or directory appears."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "data.csv").write_text("x\n")
    (tmp_path / "afile").write_text("")
    args, says = BAD[case]
    before = sorted(map(str, tmp_path.rglob("*")))
    result = ctcsim_cli("run", scenario_file, *args) if "--resume" not in args else ctcsim_cli("run", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("ctcsim: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert says in result.stderr
    assert sorted(map(str, tmp_path.rglob("*"))) == before


@pytest.mark.parametrize("text,says", [("name = 'x'\nspeed = 3\n", "speed: unknown key"),
                                       ("name = \n", "not valid TOML")])
def test_bad_scenario_file_exits_2_naming_the_file_and_key(tmp_path, monkeypatch, text, says):
    """A scenario that cannot be used is one line naming the file and the key, exit 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text(text)
    result = ctcsim_cli("run", "bad.toml")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "bad.toml" in result.stderr and says in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_summarize_inspect_and_trace_reject_a_directory_that_is_not_a_run(tmp_path):
    """Pointed at anything but a run, each reader says so on one line, exit 2."""
    for args in (["summarize", tmp_path], ["inspect", tmp_path], ["trace", tmp_path, "--unit", 0]):
        result = ctcsim_cli(*args)
        assert result.exit_code == 2 and "not a ctcsim run directory" in result.stderr, args
