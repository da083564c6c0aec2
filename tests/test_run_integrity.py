"""A run directory that cannot lie (issue 9): every part recorded with its rows, bytes and
sha256; readers and `ctcsim summarize / inspect / trace / check` name the part that is
missing, truncated, damaged, foreign or extra in one line (exit 1), never a traceback;
`ctcsim run --resume` re-creates the run's own damaged parts to output identical to an
uninterrupted run, and refuses files that are not the run's.

The run: conftest's RICH anatomy with two arms and events, 6,000 units per arm in parts
of 2,000 (three parts per arm), so that every case has a part to spoil.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import RICH
from test_run_dir import ARMS, plain

from ctcsim import rundir
from ctcsim import scenario as sc
from ctcsim.cli import main
from ctcsim.rundir import format as fmt
from ctcsim.rundir.writer import parquet_writer

SEED = 11
N = 6000
PART = "fates/arm=control/part-00001.parquet"


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    monkeypatch.setattr(fmt, "PART_UNITS", 2000)


@pytest.fixture(scope="module")
def scenario():
    return sc.loads(RICH + ARMS, "rich_two_arms.toml")


@pytest.fixture()
def whole(tmp_path, scenario):
    """An uninterrupted run, the reference every repaired run must equal."""
    return rundir.write_run(tmp_path / "whole", scenario, N, SEED, events=True, chunk_size=1000)


@pytest.fixture()
def run(tmp_path, whole):
    """A copy of the whole run, to spoil."""
    shutil.copytree(whole.path, tmp_path / "r")
    return tmp_path / "r"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line(result, code, *says):
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("ctcsim: error: ") and result.stderr.count("\n") == 1, result.stderr
    for s in says:
        assert s in result.stderr, result.stderr


def assert_resumes_to(path, whole):
    resumed = cli("run", "--resume", path, "-q")
    assert resumed.exit_code == 0, resumed.output
    done = rundir.read_run(path)
    done.verify()
    assert plain(done.fates.to_table()).equals(plain(whole.fates.to_table()))
    assert plain(done.events.to_table()).equals(plain(whole.events.to_table()))
    assert done.metadata["summary"] == whole.metadata["summary"]
    assert done.metadata["parts"] == whole.metadata["parts"]  # re-created files are byte for byte the same
    return done


def test_run_json_records_every_part_file_with_its_rows_bytes_and_sha256(whole):
    """Format 1.1: run.json lists exactly the files on disk, each with its footer's row count,
    its size and the sha256 of its bytes (what `sha256sum` prints)."""
    md = whole.metadata
    assert md["format_version"] == "1.2" and md["run_id"]
    on_disk = sorted(str(p.relative_to(whole.path)) for p in whole.path.rglob("*.parquet"))
    assert sorted(md["parts"]) == on_disk and len(on_disk) == 12
    for rel, e in md["parts"].items():
        data = (whole.path / rel).read_bytes()
        assert e == {"rows": pq.read_metadata(whole.path / rel).num_rows, "bytes": len(data),
                     "sha256": hashlib.sha256(data).hexdigest()}
    assert md["counts"]["bytes"]["fates"] == sum(e["bytes"] for r, e in md["parts"].items() if r.startswith("fates"))
    assert cli("check", whole.path).exit_code == 0


def test_flipped_bytes_are_caught_by_summarize_and_check_and_resume_recreates_the_part(run, whole):
    """64 random bytes written at 90 % of a fates part's data pages (ahead of its footer,
    which in a large part is where 90 % of the file lands), size unchanged: summarize and
    check say the part's checksum differs (exit 1, one line) instead of summarising changed
    values; resume re-creates it, identical to the uninterrupted run."""
    data = bytearray((run / PART).read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    at = int((len(data) - footer) * 0.9)
    data[at:at + 64] = os.urandom(64)
    (run / PART).write_bytes(bytes(data))
    assert_one_line(cli("summarize", run, "--json"), 1, PART, "checksum differs", "--resume")
    checked = cli("check", run)
    assert checked.exit_code == 1 and PART in checked.stdout and "1 problem" in checked.stderr
    assert_resumes_to(run, whole)


def test_a_missing_part_is_named_by_every_reader_and_resume_recreates_it(run, whole):
    """A deleted fates part: read_run, summarize, inspect and trace each name it (exit 1)
    rather than reporting the units of a smaller run."""
    (run / PART).unlink()
    with pytest.raises(rundir.DamagedRunError, match=f"{PART}: missing"):
        rundir.read_run(run)
    for args in (["summarize", run], ["inspect", run], ["trace", run, "--unit", 3]):
        assert_one_line(cli(*args), 1, PART, "missing", f"ctcsim run --resume {run}")
    assert_resumes_to(run, whole)


def test_a_truncated_part_is_named_without_a_traceback_and_resume_recreates_it(run, whole):
    """A part cut to half its size: summarize and inspect say it is truncated (exit 1, no
    pyarrow traceback), and resume, which used to answer "already complete", re-creates it."""
    events = "events/arm=anti_platelet/part-00002.parquet"
    for rel in (PART, events):
        size = (run / rel).stat().st_size
        with open(run / rel, "r+b") as f:
            f.truncate(size // 2)
    for args in (["summarize", run], ["inspect", run]):
        assert_one_line(cli(*args), 1, "truncated", "(and 1 more")
    resumed = cli("run", "--resume", run)
    assert "re-creating 2 part file(s)" in resumed.stderr and PART in resumed.stderr
    assert_resumes_to(run, whole)


def test_an_extra_copy_of_a_part_is_refused_by_readers_and_left_alone_by_resume(run):
    """A copy of a part under another name would double units: readers call it extra, and
    resume refuses to run (exit 1) without deleting it: it is not provably the run's."""
    extra = run / "fates" / "arm=control" / "part-00007.parquet"
    shutil.copy(run / PART, extra)
    assert_one_line(cli("summarize", run), 1, "fates/arm=control/part-00007.parquet", "extra")
    assert_one_line(cli("run", "--resume", run), 1, "cannot resume", "part-00007.parquet", "extra")
    assert extra.exists() and (run / "run.json").exists()


def test_a_part_from_a_run_with_another_seed_is_foreign_to_readers_and_to_resume(tmp_path, run, scenario):
    """A part from a run of the same scenario with another seed, under a recorded name: its
    own metadata says so, and readers and resume name it and its seed; nothing is mixed."""
    other = rundir.write_run(tmp_path / "other", scenario, N, SEED + 1, events=True, chunk_size=1000)
    os.remove(run / PART)
    shutil.copy(other.path / PART, run / PART)
    assert_one_line(cli("inspect", run), 1, PART, "from another run", f'its seed is "{SEED + 1}"')
    assert_one_line(cli("run", "--resume", run), 1, "cannot resume", PART, "from another run")
    assert (run / PART).read_bytes() == (other.path / PART).read_bytes()


def test_a_part_renamed_but_not_recorded_when_the_run_was_killed_is_redone(run, whole):
    """Killed after renaming a part but before recording it in plan.json: the file carries
    this run's metadata, so resume knows it for the run's own and redoes it."""
    doc = json.loads((run / "run.json").read_text())
    md = {k: v for k, v in doc.items() if k not in fmt.RECORD_KEYS}
    recorded = {rel: e for rel, e in doc["parts"].items() if "part-00002" not in rel}
    (run / "plan.json").write_text(json.dumps({**md, "parts": recorded}))
    (run / "run.json").unlink()
    (run / "events/arm=control/.part-00002.parquet.tmp").write_bytes(b"half a file")
    incomplete = rundir.read_run(run, allow_incomplete=True)  # unrecorded files are not read
    assert incomplete.fates.count_rows() == 2 * 4000
    done = assert_resumes_to(run, whole)
    assert done.metadata["timings"]["units_simulated"] == 2 * 2000


def test_a_complete_run_whose_run_json_was_deleted_is_rebuilt_by_resume(run, whole):
    """run.json gone: readers say the part files remain and how to rebuild; resume takes the
    run's metadata from its files, simulates nothing, and writes the same summary."""
    (run / "run.json").unlink()
    assert_one_line(cli("summarize", run), 1, "run.json and plan.json are missing", "--resume")
    done = assert_resumes_to(run, whole)
    assert done.metadata["timings"]["units_simulated"] == 0
    assert done.metadata["run_id"] == whole.metadata["run_id"]


def test_resume_of_an_intact_complete_run_checks_every_file_and_changes_nothing(run):
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    resumed = cli("run", "--resume", run, "-q")
    assert resumed.exit_code == 0 and "already complete (every file checked)" in resumed.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_resume_removes_a_complete_runs_stray_temporary_file_and_keeps_its_record(run):
    """A writer's temporary file in a complete run is the run's own: removed, and run.json
    (timings included) is left as it was."""
    record = (run / "run.json").read_bytes()
    (run / "fates/arm=control/.part-00001.parquet.tmp").write_bytes(b"left by a killed writer")
    assert_one_line(cli("summarize", run), 1, ".part-00001.parquet.tmp", "extra")
    assert cli("run", "--resume", run, "-q").exit_code == 0
    assert not list(run.rglob("*.tmp")) and (run / "run.json").read_bytes() == record


EDITS = {
    "n_units -1": ("n_units", -1, "expected an integer from 1"),
    "n_units text": ("n_units", "many", "expected an integer"),
    "seed not decimal": ("seed", "0x10", "expected a decimal integer"),
    "no arms": ("arms", [], "expected a list of distinct arm names"),
    "chunk size 0": ("chunk_size", 0, "expected an integer from 1"),
    "events not a boolean": ("events", "yes", "expected true or false"),
    "missing key": ("n_units", None, "missing"),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_an_edited_plan_json_is_refused_naming_the_key(tmp_path, scenario, case):
    """A plan.json edited by hand: resume and inspect refuse it in one line naming plan.json
    and the key (exit 2), instead of "completing" with 0 units or failing as a run."""
    plan = rundir.prepare_run(tmp_path / "r", scenario, N, SEED)
    key, value, says = EDITS[case]
    doc = json.loads((plan.path / "plan.json").read_text())
    if value is None:
        del doc[key]
    else:
        doc[key] = value
    (plan.path / "plan.json").write_text(json.dumps(doc))
    for args in (["run", "--resume", plan.path], ["inspect", plan.path], ["trace", plan.path, "-u", 0]):
        assert_one_line(cli(*args), 2, f"plan.json: {key}: {says}")
    assert not list(plan.path.rglob("*.parquet"))


def test_overwrite_deletes_only_the_runs_own_files(run):
    """--overwrite replaces a previous run, but a file inside fates/ that ctcsim did not
    write (notes, someone's Parquet file) makes it refuse, and nothing is deleted."""
    for name, data in (("notes.txt", b"mine"), ("mine.parquet", None)):
        path = run / "fates" / "arm=control" / name
        if data is None:
            pq.write_table(pa.table({"x": [1]}), path)
        else:
            path.write_bytes(data)
        before = sorted(run.rglob("*"))
        result = cli("run", "-n", 100, "-o", run, "--overwrite", "-q")
        assert_one_line(result, 2, "not from a ctcsim run", name, "refusing to overwrite")
        assert sorted(run.rglob("*")) == before
        path.unlink()
    assert cli("run", "-n", 100, "-o", run, "--overwrite", "-q").exit_code == 0


def test_a_fates_symlink_is_refused_before_anything_changes(tmp_path, run):
    """fates/ as a symbolic link: --overwrite and --resume refuse it in one line (no
    "cannot write the output directory: None", no half-deleted run)."""
    shutil.move(run / "fates", tmp_path / "elsewhere")
    (run / "fates").symlink_to(tmp_path / "elsewhere")
    before = sorted(p.name for p in run.rglob("*"))
    assert_one_line(cli("run", "-n", 100, "-o", run, "--overwrite"), 2, "fates", "refusing to overwrite")
    assert_one_line(cli("run", "--resume", run), 2, "fates: is a symbolic link")
    assert sorted(p.name for p in run.rglob("*")) == before


def as_format_1_0(path):
    """Rewrite a run as format 1.0 wrote it: no run_id, no parts, in run.json and in every file."""
    doc = json.loads((path / "run.json").read_text())
    for key in ("run_id", "parts"):
        del doc[key]
    doc["format_version"] = "1.0"
    md = json.dumps({k: v for k, v in doc.items() if k not in fmt.RECORD_KEYS}).encode()
    for f in path.rglob("*.parquet"):
        table = pq.read_table(f)
        table = table.replace_schema_metadata({fmt.METADATA_KEY: md})
        with parquet_writer(f, table.schema) as w:
            w.write_table(table)
    (path / "run.json").write_text(json.dumps(doc))


def test_runs_of_format_1_0_stay_readable_and_checked_without_checksums(run, whole):
    """A 1.0 run (no per-file record) reads as before; its fates parts and row counts follow
    from the plan, so a missing part is still named; `check` says it has no checksums; and
    resume repairs it."""
    as_format_1_0(run)
    old = rundir.read_run(run)
    assert not old.checksummed and plain(old.fates.to_table()).equals(plain(whole.fates.to_table()))
    checked = cli("check", run)
    assert checked.exit_code == 0 and "format 1.0 recorded no checksums" in checked.stdout
    (run / PART).unlink()
    assert_one_line(cli("summarize", run), 1, PART, "missing")
    resumed = cli("run", "--resume", run, "-q")
    assert resumed.exit_code == 0, resumed.output
    assert plain(rundir.read_run(run).fates.to_table()).equals(plain(whole.fates.to_table()))


def test_stdout_on_a_full_device_or_a_closed_pipe_is_one_line_not_a_traceback(whole):
    """`ctcsim summarize DIR > /dev/full`: one line saying so, exit 1; into a pipe closed
    before it is written: nothing on stderr, exit 1.  No traceback either way."""
    # Run from the directory that holds the ctcsim under test: `python -m` imports from its
    # working directory first, and a checkout's source tree has no built core in CI.
    here = str(fmt.Path(rundir.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "ctcsim.cli", "summarize", str(whole.path)]
    with open("/dev/full", "w") as full:
        out = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, env=env, cwd=here)
    assert out.returncode == 1 and out.stderr == "ctcsim: error: cannot write standard output: No space left on device\n"
    read, write = os.pipe()
    os.close(read)
    out = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, text=True, env=env, cwd=here)
    os.close(write)
    assert out.returncode == 1 and out.stderr == ""
