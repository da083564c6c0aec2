"""``ctcsim run``: simulate a scenario into a run directory, or resume an unfinished one."""
import json
import logging
import sys
import time
from pathlib import Path

import click
from click.core import ParameterSource

from .. import rundir, seeding
from ..units import duration_s, horizon, parse_duration
from ..runner import DEFAULT_CHUNK
from ..seeding import DEFAULT_UNITS
from ..scenario import DEFAULT_SCENARIO, load, loads
from ..scenario.notes import notes
from . import Failure
from .summarize import collect, summary_text
from .sweep import check_executor, open_executor

DEFAULT_OUT = "ctcsim-run"
PLAIN_EVERY_S = 10.0  # progress line interval when stderr is not a terminal
# What a resumed run takes from its directory, so it must not be given again.
RUN_SETTINGS = ("scenario", "units", "primary", "seed", "out", "events", "arms", "t_max", "chunk_size", "overwrite")
log = logging.getLogger("ctcsim")


class Duration(click.ParamType):
    """A duration with a unit (ctcsim.units.parse_duration), as seconds."""
    name = "duration"

    def convert(self, value, param, ctx):
        try:
            return parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


@click.command("run")
@click.argument("scenario", required=False)
@click.option("-n", "--units", type=int,
              help=f"Units per arm [default: {DEFAULT_UNITS:,}; for a shedding scenario, the number it sheds, "
                   "a Poisson draw from the seed].")
@click.option("--primary", metavar="NAME", help="Replace the scenario's primary tumour by a built-in one.")
@click.option("--seed", type=int, help="Seed, an integer below 2**128 [default: fresh from the OS, recorded].")
@click.option("-o", "--out", type=click.Path(file_okay=False),
              help=f"Run directory to create [default: ./{DEFAULT_OUT}, or ./{DEFAULT_OUT}-2, ... if taken].")
@click.option("--events", is_flag=True, help="Also write every event (events/).")
@click.option("-t", "--threads", type=int, help="Worker threads [default: all cores]; output does not depend on it.")
@click.option("--workers", type=int, metavar="N",
              help="Run the chunks on a local Dask cluster of N processes (loopback; needs ctcsim[dask]).")
@click.option("--scheduler", metavar="ADDRESS", help="Run the chunks on an existing Dask cluster (docs/STUDIES.md).")
@click.option("--arm", "arms", multiple=True, metavar="NAME", help="Run only this arm (repeatable) [default: all].")
@click.option("--t-max", "--horizon", "t_max", type=Duration(), metavar="DURATION",
              help="End of observation (the horizon), overriding the scenario's: 6h, 14d, 10y, 90min, or seconds.")
@click.option("--chunk-size", type=int, default=DEFAULT_CHUNK, show_default=True,
              help="Units per work item; output does not depend on it.")
@click.option("--overwrite", is_flag=True, help="Replace a previous run in --out.")
@click.option("--resume", type=click.Path(file_okay=False), metavar="DIR",
              help="Finish an interrupted run in DIR, with the settings it was started with.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; errors only.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.pass_context
def run(ctx, scenario, units, primary, seed, out, events, threads, workers, scheduler, arms, t_max, chunk_size,
        overwrite, resume, quiet, as_json):
    """Simulate SCENARIO (a TOML file or a built-in name; default: the built-in default) and
    write its fates (and events) as Parquet into a run directory.

    \b
    Examples:
      ctcsim run                                  the default scenario, 100,000 units
      ctcsim run colorectal -n 1000000 --seed 1   a built-in scenario, reproducibly
      ctcsim run --primary prostate               the default scenario with another primary
      ctcsim run my.toml --events -o my-run       every event too, into ./my-run
      ctcsim run breast_shedding -n 1000000       a sample of a shedding tumour's units
      ctcsim run fidler1970 --horizon 14d         a built-in experiment observed 14 days

    Interrupted (Ctrl-C, SIGTERM, a crash), a run keeps its finished parts:
    `ctcsim run --resume DIR` completes it to the same output as an uninterrupted run.
    """
    check_executor(threads, workers, scheduler)
    for name, value in (("SCENARIO", scenario), ("--out", out), ("--resume", resume)):
        if value == "":
            raise Failure(f"{name}: expected a {'file or built-in name' if name == 'SCENARIO' else 'directory'}, "
                          "got an empty string")
    try:
        if resume is not None:
            given = [p.opts[-1] if isinstance(p, click.Option) else p.human_readable_name
                     for p in ctx.command.params
                     if p.name in RUN_SETTINGS and ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE]
            if given:
                raise Failure(f"--resume takes every setting from {resume}; do not also give {', '.join(given)}")
            try:
                plan = rundir.prepare_resume(resume)
            except rundir.CompleteRunError as e:
                click.echo(f"ctcsim: {e}", err=True)
                return report(rundir.read_run(resume).metadata, Path(resume), quiet, as_json)
        else:
            s = seeding.with_settings(load(scenario or DEFAULT_SCENARIO), primary=primary, t_max_s=t_max)
            plan = rundir.prepare_run(out or _fresh_dir(), s, units, seed, arms=list(arms), events=events,
                                      chunk_size=chunk_size, overwrite=overwrite)
    except rundir.DamagedRunError as e:
        raise Failure(str(e), exit_code=1) from None
    except ValueError as e:
        raise Failure(str(e)) from None
    if plan.repairs and not quiet:
        shown = "; ".join(map(str, plan.repairs[:3])) + (f"; and {len(plan.repairs) - 3} more" if len(plan.repairs) > 3 else "")
        click.echo(f"ctcsim: {plan.path}: re-creating {len(plan.repairs)} part file(s): {shown}", err=True)
    md = plan.metadata
    if not quiet:
        click.echo(f"ctcsim: {'resuming' if resume is not None else 'running'} {md['scenario_name']} (primary "
                   f"{plan.scenario.resolved_primary().name}, horizon {duration_s(plan.scenario.t_max_s)}): "
                   f"{md['n_units']:,} units x {len(md['arms'])} arm(s) ({', '.join(md['arms'])}), seed {md['seed']} "
                   f"-> {plan.path}", err=True)
        for note in notes(plan.scenario):
            click.echo(f"ctcsim: note: {note}", err=True)
    progress = None if quiet else _Progress()
    executor = open_executor(threads, workers, scheduler)
    try:  # SIGTERM (a scheduler's) stops cleanly, like Ctrl-C: the driver turns both into KeyboardInterrupt
        result = rundir.execute(plan, threads=threads, progress=progress, executor=executor)
    except KeyboardInterrupt:
        if progress:
            progress.close()
        click.echo(f"ctcsim: interrupted; finished parts are kept in {plan.path}. "
                   f"Resume with: ctcsim run --resume {plan.path}", err=True)
        ctx.exit(130)
    except Exception as e:
        log.info("run failed", exc_info=True)
        raise Failure(f"run failed: {e}; finished parts are kept in {plan.path}", exit_code=1) from None
    finally:
        executor.close()
    if progress:
        progress.close()
    report(result.metadata, result.path, quiet, as_json)


def report(record: dict, path: Path, quiet: bool, as_json: bool):
    """The result on stdout: the summary of ``ctcsim summarize`` (paired differences included), or JSON."""
    if as_json:
        click.echo(json.dumps({"path": str(path), "seed": record["seed"], **_horizon(record),
                               "n_units": record["n_units"],
                               "arms": record["arms"], "counts": record["counts"], "timings": record["timings"],
                               "summary": record["summary"]}, indent=1))
    elif not quiet:
        t = record["timings"]
        click.echo(summary_text(collect(rundir.read_run(path))))
        click.echo(f"\n{path}: {sum(record['counts']['units'].values()):,} units; "
                   f"{t['units_simulated']:,} simulated in {t['wall_s']:.1f} s on {t['threads']} thread(s)")


def _horizon(record: dict) -> dict:
    """The run's horizon_s and horizon (runs recorded before they were stated: from the scenario)."""
    if "horizon" in record:
        return {"horizon_s": record["horizon_s"], "horizon": record["horizon"]}
    return horizon(loads(record["scenario"]).t_max_s)


class _Progress:
    """Progress on stderr: a bar with rate and ETA on a terminal, a plain line every
    PLAIN_EVERY_S seconds otherwise (logs, batch jobs)."""

    def __init__(self):
        self.bar = None
        self.start = self.last_line = time.monotonic()
        self.first = None

    def __call__(self, done: int, total: int):
        if self.first is None:  # a resumed run starts part-way: the bar too; rate and ETA count this session
            self.first, self.done, self.total = done, done, total
            if sys.stderr.isatty():
                self.bar = click.progressbar(length=total, file=sys.stderr, show_eta=False, show_percent=True,
                                             item_show_func=lambda text: text)
                self.bar.__enter__()
                self.bar.update(done, "resumed" if done else "")
            elif done:
                click.echo(f"ctcsim: {done:,} of {total:,} units ({100 * done / total:.1f}%) done before", err=True)
            return
        rate = (done - self.first) / max(time.monotonic() - self.start, 1e-9)
        eta = (total - done) / rate if rate else float("inf")
        if self.bar:
            self.bar.update(done - self.done, f"{rate:,.0f} units/s, {eta:,.0f} s to go")
        elif time.monotonic() - self.last_line >= PLAIN_EVERY_S:
            self.last_line = time.monotonic()
            click.echo(f"ctcsim: {done:,} of {total:,} units ({100 * done / total:.1f}%), "
                       f"{rate:,.0f} units/s, about {eta:,.0f} s to go", err=True)
        self.done = done

    def close(self):
        if self.bar:
            self.bar.__exit__(None, None, None)
            self.bar = None
        elif self.first is not None and not sys.stderr.isatty():  # a log's last line: how long it took
            click.echo(f"ctcsim: {self.done:,} of {self.total:,} units after "
                       f"{time.monotonic() - self.start:,.1f} s", err=True)


def _fresh_dir() -> Path:
    """./ctcsim-run, or the first of ./ctcsim-run-2, -3, ... not yet taken."""
    path, i = Path(DEFAULT_OUT), 1
    while path.exists():
        i += 1
        path = Path(f"{DEFAULT_OUT}-{i}")
    return path


commands = [run]
