"""``ctcsim dossier``: regenerate docs/VALIDATION.md from targets.toml, or check a committed one."""
from __future__ import annotations

import time
from pathlib import Path

import click

from . import Failure

DEFAULT_UNITS = 100_000


@click.command("dossier")
@click.option("-n", "--units", type=click.IntRange(min=100), default=DEFAULT_UNITS, show_default=True,
              help="Units per measurement (per arm; the site-frequency simulations use 10x).")
@click.option("--seed", type=click.IntRange(min=0, max=(1 << 128) - 1), default=1, show_default=True,
              help="Seed of the whole dossier (each simulation adds a fixed offset of its name).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the dossier here [default: stdout].")
@click.option("--check", "check_path", metavar="PATH", type=click.Path(dir_okay=False),
              help="Regenerate at --units and compare with the dossier at PATH: the same rows and roles, "
                   "each value agreeing within the combined intervals (at 99.9 %); exit 1 if not.")
@click.option("--threads", type=click.IntRange(min=1), help="Threads per simulation [default: all cores].")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def dossier(units, seed, output, check_path, threads, quiet):
    """Measure every row of ctcsim/data/validation/targets.toml on the built-in scenarios and
    write the validation dossier (Markdown): each published number, its source and role
    (calibration or prediction), ctcsim's value with its 95 % interval and the verdict, the
    issue-11 table recomputed, and the held-out site frequencies against blood flow alone.
    Deterministic for a seed.

    \b
    Examples:
      ctcsim dossier -o docs/VALIDATION.md
      ctcsim dossier --units 10000 --check docs/VALIDATION.md
    """
    from ..checks import ScenarioError
    from ..validation import dossier as ds
    from ..validation import report, targets
    from ..validation.sim import Runs

    committed = None
    if check_path:
        try:
            committed = ds.parse(Path(check_path).read_text(encoding="utf-8"), check_path)
        except OSError as e:
            raise Failure(f"{check_path}: cannot read: {e.strerror}") from None
        except (UnicodeDecodeError, ValueError) as e:
            raise Failure(f"{check_path}: {e}" if isinstance(e, UnicodeDecodeError) else str(e)) from None
    start = time.perf_counter()
    runs = Runs(units, seed, threads, quiet)
    try:
        rows = ds.build(targets.load(), runs)
    except (ScenarioError, ValueError) as e:
        raise Failure(str(e)) from None
    runs.say(f"measured {len(rows)} targets in {time.perf_counter() - start:.1f} s")
    if committed is not None:
        problems = ds.check(rows, committed)
        for p in problems:
            click.echo(f"{check_path}: {p}")
        if problems:
            raise Failure(f"{check_path}: {len(problems)} row(s) disagree with a fresh dossier at "
                          f"{units:,} units, seed {seed}", exit_code=1)
        click.echo(f"{check_path}: {len(rows)} rows agree with a fresh dossier at {units:,} units, seed {seed}")
        return
    command = f"ctcsim dossier --units {units} --seed {seed}" + (f" -o {output}" if output else "")
    text = report.render(rows, runs, command)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise Failure(f"{output}: cannot write: {e.strerror}", exit_code=1) from None
        runs.say(f"wrote {output}")
    else:
        click.echo(text, nl=False)


commands = [dossier]
