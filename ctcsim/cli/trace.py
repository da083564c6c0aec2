"""``ctcsim trace``: replay one unit of a run and print its event history."""
import click

from ..units import duration, duration_s
from . import Failure, open_run

# Events after which the colony's size is shown.
GROWTH = ("woke", "division", "cell_death", "colony_extinct", "micrometastasis")
STEP = {"division": 1, "cell_death": -1}


def colony_cells(rows, k: int, micro: int) -> list:
    """The colony's cells after each event (None outside a colony).  A woken unit grows from its
    k cells; at extravasation a colony starts from the j of k cells that are not dormant (one
    for a single cell).  j is not logged: for a cluster it is read back from how the colony
    ends (0 cells when it dies out, micro_cells at the micrometastasis it divides into), else the
    size is shown from it, as "j+2"."""
    out = [None] * len(rows)
    for i, r in enumerate(rows):
        dormant_next = i + 1 < len(rows) and rows[i + 1]["event"] == "dormant"
        if r["event"] == "woke" or (r["event"] == "extravasated" and not dormant_next):
            start = k if r["event"] == "woke" else 1 if k == 1 else None
            j, d = i + 1, 0
            while j < len(rows) and rows[j]["event"] in STEP:
                d += STEP[rows[j]["event"]]
                j += 1
            end = rows[j]["event"] if j < len(rows) else None
            if start is None and end == "colony_extinct":
                start = -d
            elif start is None and end == "micrometastasis" and j > i + 1:
                start = micro - d
            n = 0
            for m in range(i if r["event"] == "woke" else i + 1, min(j + 1, len(rows))):
                n += STEP.get(rows[m]["event"], 0)
                out[m] = (str(start + n) if start is not None else f"j{n:+d}" if n else "j")
    return out


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
        fate, events = run.trace(unit_id, arm, with_fate=True)
    except ValueError as e:
        raise Failure(str(e)) from None
    md = run.metadata
    arm = arm or md["arms"][0]
    click.echo(f"# unit {unit_id}, arm {arm}: scenario {md['scenario_name']}, seed {md['seed']}, "
               f"horizon {duration_s(run.scenario.t_max_s)}")
    rows = events.select(["time_s", "event", "compartment", "shielded"]).to_pylist()
    table = [("time_s", "time", "event", "compartment", "shielded", "colony cells")]
    cells = colony_cells(rows, fate["cluster_size"], run.scenario.biology.micro_cells)
    for r, n in zip(rows, cells):
        table.append((repr(r["time_s"]) if exact_times else f"{r['time_s']:.9g}", duration(r["time_s"]), r["event"], r["compartment"],
                      str(r["shielded"]).lower(), "" if n is None or r["event"] not in GROWTH else n))
    widths = [max(len(row[i]) for row in table) + 2 for i in range(len(table[0]))]
    for row in table:
        click.echo("".join(f"{c:<{w}}" for c, w in zip(row, widths)).rstrip())


commands = [trace]
