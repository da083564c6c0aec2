"""``ctcsim summarize``: fractions per fate and per organ of arrest, per arm, with 95% CIs."""
import json

import click

from .. import compare, experiments, rundir
from ..analysis import summarize as summarize_fates
from . import Failure, open_run


@click.command("summarize")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summarize(run_dir, as_json):
    """Summarize the fates of the run in DIR: per arm, the fraction of units per fate, per
    organ of arrest and per outcome after arrest, with 95% Wilson intervals, and the median
    time to each fate; with several arms, each arm's paired difference from the control
    (common random numbers) with its 95% CI; for the built-in experiments (luzzi1998,
    fidler1970), the published figures beside the simulated ones.
    The fates files are checked first, checksums included: an incomplete or damaged run
    (a part missing, truncated, changed, from another run or extra) is reported as
    such, with exit code 1, never summarised."""
    run = open_run(run_dir)
    try:
        run.verify(["fates"])  # what is summarised is read whole anyway: its checksums cost little more
    except rundir.DamagedRunError as e:
        raise Failure(str(e), exit_code=1) from None
    summary = summarize_fates(run.fates)
    paired = compare.run_paired_differences(run)
    targets = experiments.measure_run(run)
    if as_json:
        click.echo(json.dumps({"path": str(run.path), "complete": run.complete, "summary": summary,
                               "paired_differences": paired, "experiment": targets}, indent=1))
        return
    click.echo(format_summary(summary))
    if paired:
        click.echo(format_paired(paired, summary))
    if targets:
        click.echo(format_targets(targets))


def format_paired(paired: dict, summary: dict) -> str:
    """Each arm's paired difference from the control, for the outcomes either arm has."""
    lines = []
    for arm, diffs in paired["arms"].items():
        lines += ["", f"{arm} - {paired['control']} (paired: same units, same random numbers)",
                  f"  {'outcome':<20}{'difference':>11}  95% CI"]
        for outcome, d in diffs.items():
            here = [summary["arms"][a] for a in (arm, paired["control"])]
            if d["difference"] == 0 and all(_fraction(x, outcome) == 0 for x in here):
                continue
            lo, hi = d["ci95"]
            lines.append(f"  {outcome:<20}{d['difference']:>+11.5f}  [{lo:+.5f}, {hi:+.5f}]")
    return "\n".join(lines)


def format_targets(targets: dict) -> str:
    lines = ["", "published experiment", f"  {'target':<36}{'published':>10}{'simulated':>11}  interval"]
    for name, t in targets.items():
        lo, hi = t["interval"]
        ok = "ok" if lo <= t["measured"] <= hi else "OUTSIDE"
        lines.append(f"  {name:<36}{t['published']:>10.4g}{t['measured']:>11.4g}  [{lo:g}, {hi:g}] {ok}")
    return "\n".join(lines)


def _fraction(arm_summary: dict, outcome: str) -> float:
    for table in ("fates", "after_arrest"):
        if outcome in arm_summary[table]:
            return arm_summary[table][outcome]["fraction"]
    return 1.0  # "alive": always shown


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
        after = {k: x for k, x in s.get("after_arrest", {}).items() if x["count"]}
        if after:
            lines.append("  after arrest")
            for outcome, x in after.items():
                lines.append(f"    {outcome:<18}{_share(x)}")
        if s.get("alive_in"):
            lines.append("  alive at the end, arrested in")
            for organ, x in s["alive_in"].items():
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
