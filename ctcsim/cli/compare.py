"""``ctcsim compare``: two runs, outcome by outcome, paired when they can be."""
import json

import click

from . import Failure


@click.command("compare")
@click.argument("run_a", metavar="RUN_A", type=click.Path(file_okay=False))
@click.argument("run_b", metavar="RUN_B", type=click.Path(file_okay=False))
@click.option("--arm-a", help="Arm of RUN_A [default: its first].")
@click.option("--arm-b", help="Arm of RUN_B [default: its first].")
@click.option("--by-organ", is_flag=True, help="Also per organ of arrest.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(run_a, run_b, arm_a, arm_b, by_organ, as_json):
    """RUN_B - RUN_A for every outcome: both fractions with their counts, the difference with
    its 95% interval and the relative risk with its 95% interval.  Paired unit by unit when
    both runs have the same seed and number of units (each unit then has the same random
    numbers in both, whatever else differs), independent otherwise; it says which."""
    from .. import read_run
    from ..report.two_runs import compare_runs

    try:
        result = compare_runs(read_run(run_a), read_run(run_b), arm_a, arm_b)
    except ValueError as e:
        raise Failure(str(e)) from None
    if as_json:
        click.echo(json.dumps(result, indent=1, allow_nan=True))
        return
    click.echo(format_comparison(result, by_organ))


def format_comparison(r: dict, by_organ: bool = False) -> str:
    from .. import units

    def side(s):
        return (f"{s['path']} (scenario {s['scenario']}, arm {s['arm']}, {s['n']:,} units, seed {s['seed']}, "
                f"horizon {units.duration_s(s['t_max_s'])})")

    a, b = r["a"], r["b"]
    lines = [f"B: {side(b)}", f"A: {side(a)}",
             f"{'paired' if r['paired'] else 'independent'}: {r['why']}"]
    if a["t_max_s"] != b["t_max_s"]:
        lines.append("note: the runs have different horizons; outcomes after the shorter one differ for that reason")
    rows = [x for x in r["rows"] if x["organ"] is None]
    lines += [""] + difference_lines(rows, "A", "B")
    if by_organ:
        lines += ["", "per organ of arrest"] + difference_lines([x for x in r["rows"] if x["organ"] is not None],
                                                                "A", "B")
    else:
        lines.append("(per organ of arrest: --by-organ)")
    return "\n".join(lines)


def difference_lines(rows: list[dict], control: str, arm: str) -> list[str]:
    """Rows of differences (report.tables) as text: counts and fractions of both sides, the
    difference arm - control and the relative risk arm / control, each with its 95% interval."""
    from ..units import fraction, interval

    def share(k, n):
        return f"{k:,} ({fraction(k / n)})"

    width = max([len(_name(x)) for x in rows] + [20]) + 2
    out = [f"  {'outcome':<{width}}{control:>20}{arm:>20}  {'difference':>10}  {'95% interval':<24}"
           f"{'rel. risk':>9}  95% interval"]
    for x in rows:
        out.append(f"  {_name(x):<{width}}{share(x['control_count'], x['n_control']):>20}"
                   f"{share(x['arm_count'], x['n']):>20}  {fraction(x['difference'], True):>10}  "
                   f"{interval(*x['ci95'], True):<24}{fraction(x['relative_risk']):>9}  {interval(*x['rr_ci95'])}")
    return out


def _name(x: dict) -> str:
    return x["outcome"] if x["organ"] is None else f"{x['organ']}: {x['outcome']}"


commands = [compare]
