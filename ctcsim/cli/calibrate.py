"""``ctcsim calibrate``: fit a study's parameters to its targets; write the fitted scenario."""
import json
import time
from pathlib import Path

import click

from . import Failure
from .sweep import check_executor, executor_options, load_study, study_errors


@click.command("calibrate")
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--model", type=click.Choice(["exact", "simulation"]),
              help="Exact probabilities, or paired simulation of the study's units [default: the study's, else exact].")
@click.option("-n", "--units", type=int, help="Simulation: units per arm and evaluation.")
@click.option("--seed", type=int, help="Simulation: the seed of every evaluation.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write the fitted scenario here (TOML).")
@executor_options
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON.")
@study_errors
def calibrate(study_file, model, units, seed, out, threads, workers, scheduler, as_json):
    """Fit the [[parameters]] of STUDY_FILE to the targets its [calibration] table names, by
    maximum likelihood (binomial for counts, normal for a value with its interval), with
    profile-likelihood intervals at the study's confidence level [0.95].

    \b
    Example:
      ctcsim calibrate fit.toml -o fitted.toml
    """
    from ..studies import calibrate as _cal
    from .sweep import open_executor
    check_executor(threads, workers, scheduler)
    study = load_study(study_file, {"units": units, "seed": seed, "calibration.model": model})
    if study.calibration is None:
        raise Failure(f"{study_file}: calibration: missing: a [calibration] table naming the targets file")
    t0 = time.monotonic()
    with open_executor(threads, workers, scheduler) as executor:
        fit = _cal.fit(study, executor=executor)
    wall = time.monotonic() - t0
    if out:
        try:
            Path(out).write_text(_cal.fitted_toml(fit, study_file))
        except OSError as e:
            raise Failure(f"{out}: cannot write: {e.strerror}", exit_code=1) from None
    if as_json:
        click.echo(json.dumps({"parameters": fit.parameters, "targets": fit.targets, "log_likelihood": fit.log_likelihood,
                               "confidence": fit.confidence, "evaluations": fit.evaluations, "wall_s": wall}, indent=1))
        return
    width = max(len(p["path"]) for p in fit.parameters)
    click.echo(f"maximum likelihood, {100 * fit.confidence:g}% profile-likelihood intervals "
               f"({study.calibration.model} model):")
    for p in fit.parameters:
        lo = f"{p['ci_low']:.4g}" + (" (bound)" if p["open_low"] else "")
        hi = f"{p['ci_high']:.4g}" + (" (bound)" if p["open_high"] else "")
        click.echo(f"  {p['path']:<{width}}  {p['estimate']:.4g}  [{lo}, {hi}]")
    click.echo("targets:")
    for t in fit.targets:
        click.echo(f"  {t['target']}: observed {t['observed']:.4g}, fitted {t['fitted']:.4g}"
                   + (f"  ({t['source']})" if t["source"] else ""))
    click.echo(f"log-likelihood {fit.log_likelihood:.4f}; {fit.evaluations} model evaluations in {wall:.1f} s"
               + (f"; fitted scenario in {out}" if out else ""))


commands = [calibrate]
