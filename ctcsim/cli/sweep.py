"""``ctcsim sweep``: a scenario at every point of a design, every point on the same units and
seed, into a study directory.  Also the options the study commands share (executor, study)."""
import contextlib
import functools
import signal
import sys
import time
from pathlib import Path

import click

from .._compat import tomllib
from ..checks import ScenarioError
from . import Failure

PLAIN_EVERY_S = 10.0  # progress line interval on stderr


def executor_options(command):
    """--threads, --workers, --scheduler: where the chunks run (the output does not depend on it)."""
    for option in reversed([
        click.option("-t", "--threads", type=int, help="Worker threads on this machine [default: all cores]."),
        click.option("--workers", type=int, metavar="N",
                     help="A local Dask cluster of N worker processes (loopback only; needs ctcsim[dask])."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="An existing Dask cluster, e.g. tcp://10.0.0.5:8786 (docs/STUDIES.md)."),
    ]):
        command = option(command)
    return command


def check_executor(threads, workers, scheduler):
    """Refuse bad executor options before anything is written."""
    from ..studies.executor import ExecutorError, check_options
    try:
        check_options(threads, workers, scheduler)
    except ExecutorError as e:
        raise Failure(str(e)) from None


def open_executor(threads, workers, scheduler):
    from ..studies.executor import ExecutorError
    from ..studies.executor import open_executor as open_
    try:
        return open_(threads, workers, scheduler)
    except ExecutorError as e:
        raise Failure(str(e)) from None


def load_study(path, overrides: dict):
    """The study file (or none: options only) with the command line's settings on top."""
    from ..studies import study
    data, where, base = {}, "<command line>", Path(".")
    if path:
        where, base = path, Path(path).parent
        try:
            data = tomllib.loads(Path(path).read_text())
        except OSError as e:
            raise Failure(f"{path}: cannot read: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise Failure(f"{path}: not valid TOML: {e}") from None
    for key, x in overrides.items():
        if x is None or x == ():
            continue
        table, _, name = key.rpartition(".")
        (data.setdefault(table, {}) if table else data)[name] = x
    return study.from_dict(data, where, base)


def parse_parameter(text: str) -> dict:
    """PATH=LOW:HIGH[:log] or PATH=V1,V2,... as a [[parameters]] table."""
    path, eq, spec = text.partition("=")
    try:
        if not eq:
            raise ValueError
        if "," in spec:
            return {"path": path, "values": [float(v) for v in spec.split(",")]}
        parts = spec.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "linear")):
            raise ValueError
        return {"path": path, "low": float(parts[0]), "high": float(parts[1]),
                **({"scale": parts[2]} if len(parts) == 3 else {})}
    except ValueError:
        raise Failure(f"--param {text}: expected PATH=LOW:HIGH, PATH=LOW:HIGH:log or PATH=V1,V2,...") from None


class Progress:
    """A line on stderr every PLAIN_EVERY_S seconds, and when the last point is done."""

    def __init__(self, what: str):
        self.what, self.start, self.last, self.first = what, time.monotonic(), 0.0, None

    def __call__(self, done: int, total: int, units: int):
        now = time.monotonic()
        self.first = done if self.first is None else self.first
        if done < total and now - self.last < PLAIN_EVERY_S:
            return
        self.last = now
        rate = units / max(now - self.start, 1e-9)
        left = (now - self.start) / max(done - self.first, 1) * (total - done) if done > self.first else float("nan")
        click.echo(f"ctcsim: {self.what}: {done} of {total} points, {rate:,.0f} units/s"
                   + (f", about {left:,.0f} s to go" if done < total and left == left else ""), err=True)


def study_errors(fn):
    """Bad input as one line (exit 2); SIGTERM (a batch scheduler) stops like Ctrl-C."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return fn(*args, **kwargs)
        except (ScenarioError, ValueError) as e:
            raise Failure(str(e)) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
    return run


@contextlib.contextmanager
def resumable(command: str, path):
    """An interrupt ends with one line saying how to resume, and exit code 130."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(f"ctcsim: interrupted; finished points are kept in {path}. "
                   f"Resume with: ctcsim {command} --resume {path}", err=True)
        sys.exit(130)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@click.command("sweep")
@click.argument("study_file", required=False, type=click.Path(dir_okay=False))
@click.option("--scenario", help="Scenario (built-in name or file) [default: the study file's, else breast].")
@click.option("-p", "--param", "params", multiple=True, metavar="PATH=LOW:HIGH[:log]",
              help="A parameter to vary, replacing the study file's (repeatable); PATH=V1,V2,... lists grid values.")
@click.option("--design", type=click.Choice(["grid", "lhs", "sobol"]), help="Design [default: grid].")
@click.option("--points", type=int, help="Grid: values per parameter; lhs, sobol: points [default: 8].")
@click.option("-n", "--units", type=int, help="Units per arm and point [default: 10,000].")
@click.option("--seed", type=int, help="Seed of every point [default: 1].")
@click.option("-o", "--out", type=click.Path(file_okay=False), default="ctcsim-sweep", show_default=True,
              help="Study directory to create.")
@click.option("--runs", is_flag=True, help="Also keep each point's run directory (runs/point-NNNNN).")
@click.option("--overwrite", is_flag=True, help="Replace a previous study in --out.")
@click.option("--resume", type=click.Path(file_okay=False), metavar="DIR", help="Finish an interrupted sweep in DIR.")
@executor_options
@click.option("-q", "--quiet", is_flag=True, help="No progress; errors only.")
@study_errors
def sweep(study_file, scenario, params, design, points, units, seed, out, runs, overwrite, resume, threads, workers,
          scheduler, quiet):
    """Simulate a scenario at every point of a design (STUDY_FILE, or the options) into a study
    directory: one Parquet table of counts and fractions with 95% intervals per point, arm,
    outcome and organ, and for a grid the paired differences between neighbouring points.

    \b
    Examples:
      ctcsim sweep study.toml -o my-sweep
      ctcsim sweep -p biology.k_on_per_s=1e-4:1e-2:log -p primary.diameter_median_um=10:15 -n 100000
      ctcsim sweep --resume my-sweep
    """
    from ..studies import sweep as _sweep
    check_executor(threads, workers, scheduler)
    if resume:
        plan = _sweep.resume(resume)
    else:
        overrides = {"scenario": scenario, "units": units, "seed": seed, "design.kind": design, "design.points": points,
                     "parameters": [parse_parameter(p) for p in params] or None}
        plan = _sweep.prepare(load_study(study_file, overrides), out, runs=runs, overwrite=overwrite)
    md = plan.metadata
    with open_executor(threads, workers, scheduler) as executor:
        if not quiet:
            click.echo(f"ctcsim: sweep {md['name']}: {plan.n_points} points x {len(md['arms'])} arm(s) x "
                       f"{md['units']:,} units, seed {md['seed']}, on {executor.describe} -> {plan.path}", err=True)
        with resumable("sweep", plan.path):
            result = _sweep.execute(plan, executor, None if quiet else Progress("sweep"))
    diff = f"; {result.differences.num_rows:,} paired differences in {_sweep.DIFFERENCES}" \
        if result.differences is not None else ""
    click.echo(f"{result.path}: {plan.n_points} points; {result.table.num_rows:,} rows in {_sweep.TABLE}{diff}")


commands = [sweep]
