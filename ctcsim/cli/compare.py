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
    header = f"  {'outcome':<28}{'A':>22}{'B':>22}  {'B - A':>10}  {'95% interval':<24}{'B / A':>7}  95% interval"
    rows = [x for x in r["rows"] if x["organ"] is None]
    lines += ["", header] + [_line(x, x["outcome"]) for x in rows]
    if by_organ:
        lines += ["", "per organ of arrest", header]
        lines += [_line(x, f"{x['organ']}: {x['outcome']}") for x in r["rows"] if x["organ"] is not None]
    else:
        lines.append("(per organ of arrest: --by-organ)")
    return "\n".join(lines)


def _line(x: dict, name: str) -> str:
    from ..units import fraction, interval

    def share(k, n):
        return f"{k:,} ({fraction(k / n)})"

    return (f"  {name:<28}{share(x['control_count'], x['n_control']):>22}{share(x['arm_count'], x['n']):>22}  "
            f"{fraction(x['difference'], True):>10}  {interval(*x['ci95'], True):<24}"
            f"{fraction(x['relative_risk']):>7}  {interval(*x['rr_ci95'])}")


commands = [compare]
