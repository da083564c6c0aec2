"""``ctcsim sensitivity``: Sobol' indices or Morris screening of a study's outputs."""
import time

import click

from .sweep import Progress, check_executor, executor_options, load_study, open_executor, resumable, study_errors


@click.command("sensitivity")
@click.argument("study_file", required=False, type=click.Path(dir_okay=False))
@click.option("--method", type=click.Choice(["sobol", "morris"]), help="Sobol' indices or Morris screening [default: sobol].")
@click.option("--samples", type=int, help="Sobol': base samples N, a power of 2; Morris: trajectories [default: 256].")
@click.option("--model", type=click.Choice(["simulation", "exact"]),
              help="Simulate (paired: every point on the same units and seed), or the exact solver's "
                   "probabilities (no Monte Carlo noise) [default: simulation].")
@click.option("-n", "--units", type=int, help="Simulation: units per arm and point [default: 10,000].")
@click.option("--seed", type=int, help="Seed of the design, the bootstrap and every point [default: 1].")
@click.option("-o", "--out", type=click.Path(file_okay=False), default="ctcsim-sensitivity", show_default=True,
              help="Study directory to create.")
@click.option("--overwrite", is_flag=True, help="Replace a previous study in --out.")
@click.option("--resume", type=click.Path(file_okay=False), metavar="DIR",
              help="Finish an interrupted (simulation) analysis in DIR.")
@executor_options
@click.option("-q", "--quiet", is_flag=True, help="No progress; the table only.")
@study_errors
def sensitivity(study_file, method, samples, model, units, seed, out, overwrite, resume, threads, workers, scheduler,
                quiet):
    """Global sensitivity of the outputs of STUDY_FILE ([[outputs]]: an outcome, an organ, an arm,
    or a paired arm difference with `versus`) over its [[parameters]] ranges, with SALib:
    Sobol' first and total indices (S1, ST) with bootstrap intervals, or Morris mu*, mu and
    sigma.  Writes indices.parquet and outputs.parquet into the study directory and prints the
    parameters ranked, most influential first.

    \b
    Example:
      ctcsim sensitivity study.toml --method morris --samples 10 -o screen
    """
    from ..studies import sensitivity as _sens
    from ..studies import sweep as _sweep
    t0 = time.monotonic()
    check_executor(threads, workers, scheduler)
    if resume:
        plan = _sweep.resume(resume)
    else:
        study = load_study(study_file, {"units": units, "seed": seed, "sensitivity.method": method,
                                        "sensitivity.samples": samples, "sensitivity.model": model})
        _sens.check(study)
    progress = None if quiet else Progress("sensitivity")
    with open_executor(threads, workers, scheduler) as executor:
        if resume:
            with resumable("sensitivity", plan.path):
                result = _sens.finish(plan, executor, progress)
        else:
            if not quiet:
                click.echo(f"ctcsim: sensitivity of {len(study.outputs)} output(s) to {len(study.parameters)} "
                           f"parameters: {study.sensitivity.method}, {study.sensitivity.model} model, on "
                           f"{executor.describe} -> {out}", err=True)
            with resumable("sensitivity", out):
                result = _sens.run(study, out, executor=executor, overwrite=overwrite, progress=progress)
    click.echo(format_indices(result.table))
    click.echo(f"\n{result.path}: {len(result.values):,} model evaluations in {time.monotonic() - t0:,.1f} s")


def format_indices(table) -> str:
    """Per output, the parameters ranked by total index (Sobol') or mu* (Morris)."""
    rows = table.to_pylist()
    lines = []
    for output in dict.fromkeys(r["output"] for r in rows):
        mine = [r for r in rows if r["output"] == output]
        indices = list(dict.fromkeys(r["index"] for r in mine))
        key = "ST" if "ST" in indices else "mu_star"
        by = {(r["parameter"], r["index"]): r for r in mine}
        params = sorted(dict.fromkeys(r["parameter"] for r in mine), key=lambda p: -by[p, key]["estimate"])
        cells = {(p, i): _cell(by[p, i]) for p in params for i in indices}
        width = {i: max(len(i), *(len(cells[p, i]) for p in params)) + 3 for i in indices}
        name = max(len("parameter"), *map(len, params))
        lines.append(f"{output}:")
        lines.append(f"  {'parameter':<{name}}" + "".join(f"{i:>{width[i]}}" for i in indices))
        lines += [f"  {p:<{name}}" + "".join(f"{cells[p, i]:>{width[i]}}" for i in indices) for p in params]
    return "\n".join(lines)


def _cell(r: dict) -> str:
    ci = "" if r["ci_low"] != r["ci_low"] else f" [{r['ci_low']:.3g}, {r['ci_high']:.3g}]"  # nan: no interval
    return f"{r['estimate']:.3g}{ci}"


commands = [sensitivity]
