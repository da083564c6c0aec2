"""Issue 12's frictions that a summary showed a first session: a hidden horizon (1), rare outcomes
printed as zero (2), a primary without a tropism table said nowhere (4, summary part), and the
smaller ones of run's output (10: the primary it runs, paired differences after a run)."""
import json
import re

import pytest
from click.testing import CliRunner

import ctcsim
from ctcsim.cli import main

TEN_YEARS_S = 10 * 365.25 * 86400


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def two_arms(tmp_path_factory):
    out = tmp_path_factory.mktemp("answers") / "ap"
    r = cli("run", "breast_antiplatelet", "-n", 3000, "--seed", 2, "--t-max", "30d", "-o", out)
    assert r.exit_code == 0, r.output
    return out, r


def test_t_max_takes_units_and_every_summary_states_the_horizon(tmp_path):
    out = tmp_path / "long"
    r = cli("run", "breast", "-n", 500, "--seed", 1, "--t-max", "10y", "-o", out, "-q")
    assert r.exit_code == 0, r.output
    assert ctcsim.read_run(out).scenario.t_max_s == TEN_YEARS_S
    text = cli("summarize", out).stdout
    assert text.splitlines()[0].endswith("every outcome below is as of the horizon, 10 y (315,576,000 s) after "
                                         "the start")
    doc = json.loads(cli("summarize", out, "--json").stdout)
    assert doc["horizon_s"] == doc["summary"]["horizon_s"] == TEN_YEARS_S and doc["summary"]["horizon"] == "10 y"


def test_a_bad_duration_is_one_line(tmp_path):
    r = cli("run", "breast", "-n", 10, "--t-max", "10 parsecs", "-o", tmp_path / "x")
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert "expected a duration such as 6h" in r.output and not (tmp_path / "x").exists()


def test_counts_beside_fractions_and_no_rare_outcome_rounded_to_zero(two_arms):
    """Every outcome line of the summary gives its count; a fraction is printed as 0 only for a
    count of 0, and otherwise matches count / n to its three significant digits."""
    out, _ = two_arms
    text = cli("summarize", out).stdout
    lines = re.findall(r"^ {2,4}(\w+) +([\d,]+) +([-+.\de]+) +\[", text, re.M)
    assert len(lines) > 10
    for name, count, fraction in lines:
        k = int(count.replace(",", ""))
        assert (fraction == "0") == (k == 0), (name, count, fraction)
        if k:
            assert float(fraction) == pytest.approx(k / 3000, rel=5e-3), (name, count, fraction)


def test_paired_differences_carry_counts_and_relative_risks(two_arms):
    out, ran = two_arms
    for text in (ran.stdout, cli("summarize", out).stdout):  # run prints what summarize prints
        block = text[text.index("anti_platelet - control at 30 d (paired"):]
        assert "rel. risk" in block and "+0.00000" not in block and "0.0000 [" not in block
        alive = next(line for line in block.splitlines() if line.strip().startswith("alive "))
        assert re.search(r"[\d,]+ \([\d.e-]+\)\s+[\d,]+ \([\d.e-]+\)", alive), alive
    by_organ = cli("summarize", out, "--by-organ").stdout
    assert "lung: arrested" in by_organ and "liver: alive" in by_organ


def test_primary_without_tropism_table_is_said_in_the_summary(tmp_path):
    out = tmp_path / "mel"
    assert cli("run", "melanoma", "-n", 300, "--seed", 1, "-o", out, "-q").exit_code == 0
    text = cli("summarize", out).stdout
    assert "note: The primary 'melanoma' has no tropism table" in text


def test_run_names_the_primary_it_runs(tmp_path):
    # click 8.1 mixes stderr into output unless told; 8.2 keeps them apart and has no such option.
    separate = {"mix_stderr": False} if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else {}
    r = CliRunner(**separate).invoke(main, ["run", "--primary", "colon", "-n", "200", "--seed", "1",
                                            "-o", str(tmp_path / "c")])
    assert r.exit_code == 0
    assert "running breast (primary colon, horizon 10 y (315,576,000 s))" in r.stderr
    assert "breast (primary colon)" in r.stdout


def test_trace_aligns_its_columns_and_counts_the_colony(two_arms):
    """Friction 10: columns sized to their contents (no 'died_in_capillarylung'), times in
    readable units beside 9-digit seconds, and a colony's cells: 1 at its start, +1 per
    division, -1 per cell death, 0 when it dies out."""
    out, _ = two_arms
    fates = ctcsim.read_run(out).fates.to_table(columns=["unit_id", "post_arrest", "arm"]).to_pandas()
    unit = fates[(fates.arm == "control") & (fates.post_arrest == "colony_extinct")].unit_id.iloc[0]
    lines = cli("trace", out, "--unit", unit).stdout.splitlines()
    header, rows = lines[1], lines[2:]
    start = header.index("compartment")
    for line in rows:
        assert line[start - 2:start] == "  " and line[start] != " ", line
    counted = [line for line in rows if line.split()[3] in ("division", "cell_death", "woke")
               or "colony_extinct" in line]
    cells = [int(line.split()[-1]) for line in counted]
    # A woken cell starts the colony at 1; a cell that proliferates at once (no dormancy) starts
    # it at extravasation, uncounted, so its first event leaves 1 + 1 or 1 - 1.
    assert cells[0] == 1 if " woke " in counted[0] else cells[0] in (0, 2)
    assert cells[-1] == 0 and all(abs(a - b) <= 1 for a, b in zip(cells, cells[1:]))
    assert all(len(line.split()[0].replace(".", "")) <= 10 for line in rows)


def test_progress_of_a_resumed_run_starts_where_it_is_and_a_log_gets_its_last_line(capsys):
    """Friction 8: resume's progress counted from 0 % of the remainder; a batch job's log (stderr
    not a terminal) now says where the run starts and how long it took."""
    from ctcsim.cli.run import _Progress

    p = _Progress()
    p(500, 1000)
    p(1000, 1000)
    p.close()
    err = capsys.readouterr().err
    assert "500 of 1,000 units (50.0%) done before" in err and "1,000 of 1,000 units after" in err
