"""``ctcsim verify``: a scenario's simulated outcomes beside the master equation's exact ones."""
import click
import numpy as np

from ..checks import ScenarioError
from ..compile import compile_model
from ..scenario import DEFAULT_SCENARIO, load
from ..runner import simulate
from . import Failure

ALPHA = 1e-3


@click.command("verify")
@click.argument("scenario", required=False)
@click.option("-n", "--units", type=int, default=100_000, show_default=True, help="Units to simulate.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the simulation.")
@click.option("--arm", help="The arm to verify [default: the first].")
def verify(scenario, units, seed, arm):
    """Simulate SCENARIO and set the fraction of units in each outcome of the circulating
    phase (fate, organ, arrest mode) beside its exact probability from the master equation
    (ctcsim.exact), with a chi-square test. Exit code 0 if the test passes at a false-alarm
    rate of 1e-3, 1 if not.

    The exact solution needs a single entry time (not a shedding scenario); with anoikis it
    integrates the forward equation, which takes seconds for the human anatomies.
    """
    from scipy import stats  # here: every other command starts faster without scipy

    from .. import exact
    if units < 1:
        raise Failure(f"--units: expected a positive integer, got {units}")
    try:
        s = load(scenario or DEFAULT_SCENARIO)
        arm = arm or s.arm_names()[0]
        model = compile_model(s, arm)
        probs = exact.outcome_probabilities(model)
    except (ScenarioError, ValueError) as e:
        raise Failure(str(e)) from None
    fates = simulate(s, units, seed=seed, arms=[arm]).fates
    index = {o: i for i, o in enumerate(exact.outcomes(model))}
    keys = zip(fates["fate"].to_pylist(), fates["organ"].to_pylist(), fates["arrest_mode"].to_pylist())
    counts = np.bincount([index[k] for k in keys], minlength=len(index))
    click.echo(f"{s.name}, arm {arm}: {units:,} units, seed {seed}")
    click.echo(f"  {'outcome':<34}{'exact':>10}{'simulated':>11}{'z':>7}")
    for (fate, organ, mode), p, c in zip(exact.outcomes(model), probs, counts):
        if p < 1e-6 and c == 0:
            continue
        z = (c / units - p) / np.sqrt(p * (1 - p) / units) if 0 < p < 1 else 0.0
        name = fate if organ is None else f"{fate} {organ} ({mode})"
        click.echo(f"  {name:<34}{p:>10.5f}{c / units:>11.5f}{z:>7.2f}")
    expected = probs * units
    small = expected < 5  # pooled into one cell, as usual for Pearson's test
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    p_value = stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue
    verdict = "agrees" if p_value > ALPHA else "DISAGREES"
    click.echo(f"chi-square over {int(keep.sum())} cells: p = {p_value:.3g}: the simulation {verdict} "
               f"with the exact solution (false-alarm rate {ALPHA:g})")
    if p_value <= ALPHA:
        raise SystemExit(1)


commands = [verify]
