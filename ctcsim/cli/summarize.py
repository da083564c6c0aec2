"""``ctcsim summarize``: fractions per fate and per organ of arrest, per arm, with 95% CIs."""
import json

import click

from .. import io
from ..analysis import summarize as summarize_fates
from . import Failure


@click.command("summarize")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summarize(run_dir, as_json):
    """Summarize the fates of the run in DIR: per arm, the fraction of units per fate and
    per organ of arrest with 95% Wilson intervals, and the median time to each fate.
    An incomplete run (no run.json) is reported as such, with exit code 1."""
    try:
        run = io.read_run(run_dir)
    except io.IncompleteRunError as e:
        raise Failure(str(e), exit_code=1) from None
    except io.RunDirError as e:
        raise Failure(str(e)) from None
    summary = summarize_fates(run.fates)
    if as_json:
        click.echo(json.dumps({"path": str(run.path), "complete": run.complete, "summary": summary}, indent=1))
    else:
        click.echo(format_summary(summary))


def format_summary(summary: dict) -> str:
    """The summary as a plain-text table, one block per arm."""
    lines = []
    for arm, s in summary["arms"].items():
        lines += [f"{arm}: {s['n']:,} units",
                  f"  {'fate':<20}{'fraction':>9}  {'95% CI':<18}{'median time':>12}"]
        for fate, x in s["fates"].items():
            lines.append(f"  {fate:<20}{_share(x)}{_time(x['median_time_s']):>12}")
        lines.append("  arrested in")
        for organ, x in s["organs"].items():
            lines.append(f"    {organ:<18}{_share(x)}")
    return "\n".join(lines)


def _share(x: dict) -> str:
    lo, hi = x["ci95"]
    return f"{x['fraction']:>9.4f}  [{lo:.4f}, {hi:.4f}]"


def _time(t) -> str:
    if t is None:
        return "-"
    for unit, s in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if t >= 2 * s:
            return f"{t / s:.3g} {unit}"
    return f"{t:.3g} s"


commands = [summarize]
