"""``ctcsim calibrate``: fit a study's parameters to its targets; write the fitted scenario.
``ctcsim calibrate-all``: the declared joint calibration of the built-in biology (ctcsim.validation)."""
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



@click.command("calibrate-all")
@click.argument("declaration", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Write the fitted values here [calibrated.toml beside the declaration].")
@click.option("--seed", type=int, help="The seed of every evaluation [the declaration's].")
@click.option("--units-scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Multiply every experiment's units (a quick look: 0.1).")
@click.option("--threads", type=click.IntRange(min=1), help="Threads of each simulation [all cores].")
@click.option("--apply", "apply_", is_flag=True,
              help="Also write the fitted values into the built-in scenario files, with [C] comments.")
@study_errors
def calibrate_all(declaration, out, seed, units_scale, threads, apply_):
    """Fit the declared [U] parameters of the mouse and human biology to the calibration targets
    of targets.toml at once (ctcsim/data/validation/calibration.toml by default).

    Maximum likelihood on common random numbers (every evaluation simulates the same unit ids
    with the same seed), with Fisher-information intervals; progress on stderr; the values go
    to calibrated.toml, and with --apply into the built-in scenarios.  Prediction targets are
    refused.  Default size: about 4 minutes on 2 cores.

    \b
    Example:
      ctcsim calibrate-all                    # the declared calibration
      ctcsim calibrate-all --units-scale 0.1 -o quick.toml   # a look in ~30 s
    """
    import dataclasses
    from importlib import resources

    from ..validation import calibrated, declaration as _decl, jointfit
    path = Path(declaration) if declaration else Path(str(_decl.DECLARATION))
    # What the scenario comments and calibrated.toml cite: the built-in declaration by its path in the package.
    name = str(path) if declaration else "ctcsim/data/validation/calibration.toml"
    decl = _decl.load(path)
    decl = dataclasses.replace(decl, seed=decl.seed if seed is None else seed,
                               units={k: max(1, round(n * units_scale)) for k, n in decl.units.items()})
    t0 = time.monotonic()
    result = jointfit.fit(decl, threads=threads, progress=lambda line: click.echo(line, err=True))
    wall = time.monotonic() - t0
    out = Path(out) if out else path.with_name("calibrated.toml")
    try:
        out.write_text(calibrated.to_toml(result, decl, name))
    except OSError as e:
        raise Failure(f"{out}: cannot write: {e.strerror}", exit_code=1) from None
    width = max(len(p["label"]) for p in result.parameters)
    click.echo(f"joint maximum likelihood, {100 * decl.confidence:g}% Fisher intervals ({result.status}):")
    for p in result.parameters:
        lo = f"{p['ci_low']:.4g}" + (" (end)" if p["open_low"] else "")
        hi = f"{p['ci_high']:.4g}" + (" (end)" if p["open_high"] else "")
        flags = ("" if p["identified"] else "  not identified") + ("  at a range end" if p["at_bound"] else "")
        click.echo(f"  {p['label']:<{width}}  {p['estimate']:.4g}  [{lo}, {hi}]{flags}")
    click.echo("targets (published [low, high]; fitted +- Monte Carlo se):")
    for t in result.targets:
        click.echo(f"  {t['id']:<28} [{t['low']:.4g}, {t['high']:.4g}] {t['unit']}: fitted {t['fitted']:.4g} "
                   f"+- {t['mc_se']:.2g}  z {t['z']:+.2f}  {'met' if t['met'] else 'MISSED'}")
    click.echo(f"log-likelihood {result.log_likelihood:.4f}; {result.evaluations} evaluations in {wall:.1f} s; "
               f"written to {out}")
    if apply_:
        scenarios = Path(str(resources.files("ctcsim") / "data" / "scenarios"))
        for f in calibrated.apply(result, decl, scenarios, name):
            click.echo(f"applied to {f}")
        for p in result.parameters:
            if not p["identified"]:
                click.echo(f"not applied (not identified): {p['label']}")


commands = [calibrate, calibrate_all]
