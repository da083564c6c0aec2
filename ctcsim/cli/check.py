"""``ctcsim check``: every byte of a run directory's files against what the run recorded."""
import click

from .. import rundir
from ..rundir import parts, reader
from . import Failure


@click.command("check")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
def check(run_dir):
    """Check the run in DIR file by file: its part files are exactly the ones it records,
    with their sizes, row counts, run metadata and sha256 checksums (every byte is read;
    summarize, inspect and trace check all but the checksums of what they do not read).
    Lists each file missing, truncated, damaged, from another run or extra, and exits 1;
    exits 0 when all is as recorded.  Works on incomplete runs (their finished parts).
    `ctcsim run --resume DIR` re-creates missing, truncated and damaged parts."""
    try:
        run, problems = reader.problems(run_dir)
    except rundir.DamagedRunError as e:
        raise Failure(str(e), exit_code=1) from None
    except rundir.RunDirError as e:
        raise Failure(str(e)) from None
    for p in problems:
        click.echo(f"{run.path / p.file}: {p.detail}")
    if problems:
        raise Failure(f"{run.path}: {len(problems)} problem(s); resume to re-create the run's own parts: "
                      f"ctcsim run --resume {run.path}", exit_code=1)
    files = parts.recorded(run.path, run.metadata, run.complete)
    size = sum((run.path / rel).stat().st_size for rel in files)
    what = "sizes, row counts, metadata and sha256 checksums" if run.checksummed else \
        "sizes, row counts and metadata (format 1.0 recorded no checksums)"
    click.echo(f"{run.path}: {'complete' if run.complete else 'INCOMPLETE'} run, {len(files)} part file(s), "
               f"{size:,} bytes: {what} as recorded")


commands = [check]
