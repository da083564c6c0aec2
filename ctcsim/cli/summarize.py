"""``ctcsim summarize``: what a run says, per arm, with its horizon, counts and 95% intervals."""
import json
import math

import click

from .. import rundir, units
from . import Failure, open_run
from .compare import difference_lines


@click.command("summarize")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--by-organ", is_flag=True, help="Also each arm's paired differences per organ of arrest.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summarize(run_dir, by_organ, as_json):
    """Summarize the run in DIR, stating its horizon first: per arm, the units per fate (with
    the median time to it) and per outcome after arrest, a table of organ of arrest x
    outcome, and per organ the units dormant, in micro- and macrometastases (...) at the
    horizon, all as counts and fractions with 95% Wilson intervals; with several arms, each
    arm's paired difference from the control (same units, same random numbers) and relative
    risk, with 95% intervals, for every outcome (--by-organ: and per organ); for the built-in
    experiments (luzzi1998, fidler1970), the published figures beside the simulated ones.
    The fates files are checked first, checksums included: an incomplete or damaged run
    (a part missing, truncated, changed, from another run or extra) is reported as
    such, with exit code 1, never summarised."""
    run = open_run(run_dir)
    try:
        run.verify(["fates"])  # what is summarised is read whole anyway: its checksums cost little more
    except rundir.DamagedRunError as e:
        raise Failure(str(e), exit_code=1) from None
    doc = collect(run)
    if as_json:
        click.echo(json.dumps(_finite({"path": str(run.path), "complete": run.complete, **doc}), indent=1))
        return
    click.echo(summary_text(doc, by_organ))


def collect(run) -> dict:
    """Everything summarize reports, as plain data (the JSON document)."""
    from .. import experiments
    from ..analysis import summarize as summarize_fates
    from ..report import content, tables

    tab = tables.tabulate(run)
    scenario, name = run.scenario, run.metadata["scenario_name"]
    unjudged = experiments.unjudged_note(name, scenario.t_max_s)
    return {"scenario": name, "seed": run.metadata["seed"], "horizon_s": scenario.t_max_s,
            "horizon": units.duration_s(scenario.t_max_s), "primary": scenario.resolved_primary().name,
            "notes": content.notes(scenario, tab["arms"]) + ([unjudged] if unjudged else []),
            "summary": summarize_fates(run.fates),
            "organ_table": {a: t.organ_table() for a, t in tab["arms"].items()},
            "organ_states": {a: t.organ_states() for a, t in tab["arms"].items()},
            "control": tab["control"], "paired": {a: p.differences() for a, p in tab["paired"].items()},
            "experiment": experiments.measure_run(run)}


def summary_text(doc: dict, by_organ: bool = False) -> str:
    h = units.duration(doc["horizon_s"])  # every table's header says when its outcomes hold
    lines = [f"{doc['scenario']} (primary {doc['primary']}), seed {doc['seed']}: every outcome below is "
             f"as of the horizon, {units.duration_s(doc['horizon_s'])} after the start"]
    lines += [f"note: {n}" for n in doc["notes"]]
    for arm, s in doc["summary"]["arms"].items():
        lines += ["", f"{arm}: {s['n']:,} units, at {h}",
                  f"  {'fate':<22}{'units':>11}{'fraction':>10}  {'95% interval':<22}median time to it"]
        for fate, x in s["fates"].items():
            lines.append(f"  {fate:<22}{_share(x)}  {units.duration_s(x['median_time_s'])}")
        after = {k: x for k, x in s.get("after_arrest", {}).items() if x["count"]}
        if after:
            lines.append(f"  after arrest, at {h}")
            lines += [f"    {outcome:<20}{_share(x)}".rstrip() for outcome, x in after.items()]
        lines += _organ_lines(doc["organ_table"].get(arm, []), h)
        lines += _state_lines(doc.get("organ_states", {}).get(arm, []), h, s["n"])
    for arm, rows in doc["paired"].items():
        n = rows[0]["n"] if rows else 0
        lines += ["", f"{arm} - {doc['control']} at {h} (paired: same units, same random numbers; {n:,} pairs)"]
        lines += difference_lines([r for r in rows if r["organ"] is None], doc["control"], arm)
        if by_organ:
            lines += ["  per organ of arrest"]
            lines += difference_lines([r for r in rows if r["organ"] is not None], doc["control"], arm)
        else:
            lines.append("  (per organ of arrest: ctcsim summarize --by-organ, or ctcsim report)")
    if doc["experiment"]:
        lines += format_targets(doc["experiment"], h)
    return "\n".join(lines)


def _organ_lines(rows: list[dict], h: str) -> list[str]:
    from ..report.tables import ORGAN_OUTCOMES

    if not rows:
        return []
    names = ["arrested", "extravasated (ever)", "micrometastasis (ever)", "macrometastasis", "alive at the end"]
    w = _organ_width(rows)
    out = [f"  arrested in, by {h} (units per organ of arrest and outcome)",
           "    " + f"{'organ':<{w}}" + "".join(f"{n:>{max(len(n), 9) + 2}}" for n in names)]
    for r in rows:
        out.append("    " + f"{r['organ']:<{w}}" + "".join(f"{r[o]:>{max(len(n), 9) + 2},}"
                                                           for o, n in zip(ORGAN_OUTCOMES, names)))
    return out


def _organ_width(rows: list[dict]) -> int:
    return max(18, 2 + max(len(r["organ"]) for r in rows))


def _state_lines(rows: list[dict], h: str, n: int) -> list[str]:
    """Organ x state at the horizon: units, and the 95% interval of their share of all n units."""
    from ..report.tables import states_shown

    if not rows:
        return []
    states, w, width = states_shown(rows), _organ_width(rows), 26
    out = [f"  by organ at {h}: units in each state [95% interval of their share of all {n:,} units]",
           "    " + f"{'organ':<{w}}" + "".join(f"{s:>{width}}" for s in states)]
    for r in rows:
        cells = (f"{r[s]['count']:,} [{r[s]['ci95'][0]:.2g}, {r[s]['ci95'][1]:.2g}]" for s in states)
        out.append("    " + f"{r['organ']:<{w}}" + "".join(f"{c:>{width}}" for c in cells))
    return out


def format_targets(targets: dict, h: str) -> list[str]:
    t0 = next(iter(targets.values()))
    lines = ["", f"published experiment at {h} (ok: the Monte Carlo interval, at confidence {t0['confidence']:.4g}, "
                 "meets the published one)",
             f"  {'target':<36}{'published':>10}  {'interval':<20}{'simulated':>10}  {'Monte Carlo interval':<22}"]
    for name, t in targets.items():
        lines.append(f"  {name:<36}{units.fraction(t['published']):>10}  {units.interval(*t['interval']):<20}"
                     f"{units.fraction(t['measured']):>10}  {units.interval(*t['mc_interval']):<22}{t['verdict']}")
    return lines


def _share(x: dict) -> str:
    return f"{x['count']:>11,}{units.fraction(x['fraction']):>10}  {units.interval(*x['ci95']):<22}"


def _finite(x):
    """NaN and infinities as null: JSON has no such numbers (a ratio without a control unit)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


commands = [summarize]
