"""``ctcsim trace``: replay one unit of a run and print its event history."""
import click

from ..units import duration, duration_s
from . import Failure, open_run

# Events after which the colony's size is shown (a single founder's; a cluster's founders share it).
GROWTH = ("woke", "division", "cell_death", "colony_extinct", "micrometastasis")


@click.command("trace")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("-u", "--unit", "unit_id", type=int, required=True, help="Unit id (0 to units - 1).")
@click.option("--arm", help="Arm [default: the run's first].")
@click.option("--exact-times", is_flag=True, help="Seconds in full precision (the shortest text that reads back "
                                                  "as the same float: equal to events/ bit for bit).")
def trace(run_dir, unit_id, arm, exact_times):
    """Replay unit ID of the run in DIR from the run's scenario and seed, and print every
    event of its history: the same rows an --events run writes for it, with each time in
    seconds (9 significant digits; --exact-times: all of them) and in readable units, and a colony's size as it grows.
    Works on incomplete runs and runs written without events."""
    run = open_run(run_dir, allow_incomplete=True)
    try:
        events = run.trace(unit_id, arm)
    except ValueError as e:
        raise Failure(str(e)) from None
    md = run.metadata
    arm = arm or md["arms"][0]
    click.echo(f"# unit {unit_id}, arm {arm}: scenario {md['scenario_name']}, seed {md['seed']}, "
               f"horizon {duration_s(run.scenario.t_max_s)}")
    rows = events.select(["time_s", "event", "compartment", "shielded"]).to_pylist()
    table = [("time_s", "time", "event", "compartment", "shielded", "colony cells")]
    cells = None  # a colony's size: from 1 at its start (extravasated into growth, or woke), by its own events
    for r in rows:
        if r["event"] in ("woke",) or (r["event"] == "extravasated" and cells is None):
            cells = 1
        elif r["event"] == "dormant":
            cells = None
        elif r["event"] in ("division", "cell_death") and cells is not None:
            cells += 1 if r["event"] == "division" else -1
        table.append((repr(r["time_s"]) if exact_times else f"{r['time_s']:.9g}", duration(r["time_s"]), r["event"], r["compartment"],
                      str(r["shielded"]).lower(), "" if cells is None or r["event"] not in GROWTH else str(cells)))
    widths = [max(len(row[i]) for row in table) + 2 for i in range(len(table[0]))]
    for row in table:
        click.echo("".join(f"{c:<{w}}" for c, w in zip(row, widths)).rstrip())


commands = [trace]
