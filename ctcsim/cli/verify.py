"""``ctcsim verify``: a scenario's simulated outcomes beside the master equation's exact ones."""
import click

from ..checks import ScenarioError
from ..scenario import DEFAULT_SCENARIO, load
from . import Failure

SHOW_BELOW = 1e-6  # outcomes less likely than this, and never simulated, are not listed


@click.command("verify")
@click.argument("scenario", required=False)
@click.option("-n", "--units", type=int, default=100_000, show_default=True, help="Units to simulate.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the simulation.")
@click.option("--arm", help="The arm to verify [default: the first].")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def verify(scenario, units, seed, arm, quiet):
    """Simulate SCENARIO and set the fraction of units in each outcome of the circulating
    phase (fate, organ, arrest mode) beside its exact probability from the master equation
    (ctcsim.exact), with a chi-square test. Exit code 0 if the test passes at a false-alarm
    rate of 1e-3, 1 if not. A unit in an outcome of exact probability 0 fails it by itself.

    The exact solution needs a single entry time (not a shedding scenario); with anoikis it
    integrates the forward equation, which takes seconds for the human anatomies (progress
    on stderr).
    """
    from .. import verification
    if units < 1:
        raise Failure(f"--units: expected a positive integer, got {units}")
    try:
        v = verification.verify(load(scenario or DEFAULT_SCENARIO), units, seed, arm,
                                progress=None if quiet else lambda m: click.echo(f"ctcsim: {m}", err=True))
    except (ScenarioError, ValueError) as e:
        raise Failure(str(e)) from None
    click.echo(f"{v.scenario}, arm {v.arm}: {v.n_units:,} units, seed {v.seed}")
    click.echo(f"  {'outcome':<34}{'exact':>10}{'simulated':>11}{'z':>7}")
    for o in v.outcomes:
        if o.probability >= SHOW_BELOW or o.count:
            click.echo(f"  {o.label:<34}{o.probability:>10.5f}{o.count / v.n_units:>11.5f}{o.z:>7.2f}")
    t = v.test
    for o in v.impossible:
        click.echo(f"{o.count:,} units ended {o.label}, an outcome of exact probability 0")
    verdict = "agrees" if v.agrees else "DISAGREES"
    click.echo(f"chi-square over {t.cells} cells: p = {t.pvalue:.3g}: the simulation {verdict} "
               f"with the exact solution (false-alarm rate {v.alpha:g})")
    if not v.agrees:
        raise SystemExit(1)


commands = [verify]
