"""``ctcsim trace``: replay one unit of a run and print its event history."""
import click

from . import Failure, open_run


@click.command("trace")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("-u", "--unit", "unit_id", type=int, required=True, help="Unit id (0 to units - 1).")
@click.option("--arm", help="Arm [default: the run's first].")
def trace(run_dir, unit_id, arm):
    """Replay unit ID of the run in DIR from the run's scenario and seed, and print every
    event of its history: the same rows an --events run writes for it, with times in
    full precision.  Works on incomplete runs and runs written without events."""
    run = open_run(run_dir, allow_incomplete=True)
    try:
        events = run.trace(unit_id, arm)
    except ValueError as e:
        raise Failure(str(e)) from None
    md = run.metadata
    click.echo(f"# unit {unit_id}, arm {arm or md['arms'][0]}: scenario {md['scenario_name']}, seed {md['seed']}")
    click.echo(f"{'time_s':<24}{'event':<14}{'compartment':<20}shielded")
    for row in events.select(["time_s", "event", "compartment", "shielded"]).to_pylist():
        click.echo(f"{row['time_s']!r:<24}{row['event']:<14}{row['compartment']:<20}{str(row['shielded']).lower()}")


commands = [trace]
