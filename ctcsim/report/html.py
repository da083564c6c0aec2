"""The report as one self-contained HTML file: inline CSS, inline SVG figures, no network.

Each figure is a ``<figure class="plot" id=...>`` holding its SVG.  A few lines of script
(inline, like everything else) mark each figure once the browser has laid it out: its box in
``data-box`` and ``data-rendered="yes"`` when its SVG has a non-empty size and drawn content,
else ``"no"`` and a visible message, so neither a reader nor a test can miss a blank panel.
"""
from __future__ import annotations

import html
import json

from .. import units
from ..experiments import FAMILY_ALPHA
from ..hazards import POST_ARREST
from . import figures
from .content import Content
from .tables import ORGAN_OUTCOMES, STAGES, states_shown

CSS = """
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: #222; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem;
     border-bottom: 1px solid #ddd; } .lead { color: #555; margin-top: 0; }
.horizon { background: #eef4fb; border-left: 4px solid #3572b0; padding: 0.5rem 0.8rem; }
.note { background: #fff6e5; border-left: 4px solid #d99a00; padding: 0.5rem 0.8rem; margin: 0.5rem 0; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 12.5px; }
th, td { padding: 0.15rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f6f6; }
.wide { overflow-x: auto; } .kv td { text-align: left; }
figure.plot { margin: 1rem 0; } figure.plot svg { max-width: 100%; height: auto; }
figure.plot[data-rendered="no"]::after { content: "this figure did not render"; color: #b00; font-weight: bold; }
figcaption { color: #555; font-size: 12.5px; } pre { background: #f8f8f8; padding: 0.6rem; overflow-x: auto;
             font-size: 12px; } details { margin: 0.6rem 0; } .muted { color: #777; }
"""
CHECK = """
window.addEventListener("load", function () {
  var figs = document.querySelectorAll("figure.plot");
  figs.forEach(function (f) {
    var svg = f.querySelector("svg"), r = f.getBoundingClientRect();
    var box = svg ? svg.getBoundingClientRect() : null;
    var drawn = svg ? svg.querySelectorAll("path, text, rect, use").length : 0;
    f.dataset.box = [box ? box.left : 0, box ? box.top + window.scrollY : 0,
                     box ? box.width : 0, box ? box.height : 0].map(Math.round).join(",");
    f.dataset.rendered = (box && box.width > 50 && box.height > 50 && drawn > 10) ? "yes" : "no";
  });
  document.body.dataset.height = Math.ceil(document.documentElement.scrollHeight);
  document.body.dataset.figures = figs.length;
});
"""


def esc(x) -> str:
    return html.escape(str(x))


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def figure(name: str, svg: str, caption: str) -> str:
    return f'<figure class="plot" id="fig-{name}">{svg}<figcaption>{esc(caption)}</figcaption></figure>'


def _share(x: dict) -> list[str]:
    return [f"{x['count']:,}", units.fraction(x["fraction"]), units.interval(*x["ci95"])]


def render(c: Content) -> str:
    md, s = c.run.metadata, c.scenario
    arms = list(c.tallies)
    parts = [f"<h1>{esc(s.name)}</h1>", f'<p class="lead">{esc(s.description)}</p>',
             f'<p class="horizon"><b>Horizon:</b> every unit is followed until {esc(units.duration_s(s.t_max_s))} '
             f"after the start; outcomes later than that are not in these numbers. "
             f"{md['n_units']:,} units per arm; arms: {esc(', '.join(arms))}; seed {esc(md['seed'])}.</p>"]
    parts += [f'<p class="note">{esc(n)}</p>' for n in c.notes]
    parts += _cascade(c) + _organs(c) + _times(c) + _differences(c) + _spent(c) + _checks(c) + _provenance(c)
    return page(s.name, parts)


def page(title: str, parts: list[str]) -> str:
    """The HTML document: the style, the parts, and the script that marks each figure."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>ctcsim report: {esc(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + f"<script>{CHECK}</script></body></html>\n")


def _cascade(c: Content) -> list[str]:
    out = ["<h2>From entry to macrometastasis</h2>",
           figure("cascade", figures.cascade(c.tallies), "Units reaching each stage, per arm (log scale); "
                   "every unit that reaches a stage has reached the ones above it.")]
    for arm, t in c.tallies.items():
        rows, previous = [], None
        for r in t.cascade():
            step = units.fraction(r["count"] / previous) if previous and r["stage"] in STAGES else "-"
            rows.append([r["stage"], *_share(r), step])
            previous = r["count"] if r["stage"] in STAGES else previous
        out += [f"<h3>{esc(arm)}: {t.n:,} units</h3>",
                table(["stage", "units", "fraction", "95% interval", "of the stage above"], rows)]
    return out


def _organs(c: Content) -> list[str]:
    out = ["<h2>Outcomes by organ</h2>"]
    if c.clinical:
        rows = c.clinical["rows"]
        measures = list(rows[0]["simulated"])
        out.append(figure("organs", figures.organs_vs_clinic(rows, c.clinical["series"]),
                           f"Arm {c.control}: the organs of the clinical series {c.clinical['series']} (the "
                           "source of the primary's tropism table), each share normalised over these organs; "
                           "bars are 95% intervals of the simulated shares."))
        out.append(table(["organ", "clinical site", "clinical share"] + [f"{m} (share)" for m in measures],
                          [[r["organ"], r["site"], units.fraction(r["clinical"])] +
                           [f"{r['simulated'][m]['count']:,} ({units.fraction(r['simulated'][m]['share'])})"
                            for m in measures] for r in rows]))
    shown = [p for p in POST_ARREST if p != "none" and any(t.post[POST_ARREST.index(p)] for t in c.tallies.values())]
    for arm, t in c.tallies.items():
        rows = [[r["organ"]] + [f"{r[o]:,}" for o in ORGAN_OUTCOMES] + [f"{r['post_arrest'].get(p, 0):,}" for p in shown]
                for r in t.organ_table()]
        out += [f"<h3>{esc(arm)}: units per organ of arrest and outcome (of {t.n:,})</h3>",
                table(["organ"] + [f"{o} (ever)" if o in ("extravasated", "micrometastasis") else o
                                    for o in ORGAN_OUTCOMES] + [f"at the end: {p.replace('_', ' ')}" for p in shown], rows)]
        rows = t.organ_states()
        cols = states_shown(rows)
        out += [f"<h3>{esc(arm)}: by organ at {esc(units.duration(c.scenario.t_max_s))}, units in each state "
                f"and the 95% interval of their share of all {t.n:,}</h3>",
                table(["organ"] + [s.replace("_", " ") for s in cols],
                      [[r["organ"]] + [f"{r[s]['count']:,} {units.interval(*r[s]['ci95'])}" for s in cols]
                       for r in rows])]
    return out


def _times(c: Content) -> list[str]:
    return ["<h2>Time courses</h2>",
            figure("times", figures.time_courses(c.tallies, c.t_max_s),
                    "Left: fraction of units that reached each outcome by each time after their entry (lines: "
                    f"{_line_styles(c)}). Right: units in circulation. The dashed vertical line is the horizon.")]


def _line_styles(c: Content) -> str:
    styles = ("solid", "dashed", "dotted", "dash-dot")
    return ", ".join(f"{a} {styles[i % 4]}" for i, a in enumerate(c.tallies))


def _differences(c: Content) -> list[str]:
    if not c.differences:
        return ["<h2>Arm differences</h2>", '<p class="muted">One arm: nothing to compare. A scenario with '
                "[[arms]] runs every arm on the same units and seed, and this section then shows paired "
                "differences per organ.</p>"]
    out = ["<h2>Arm differences, paired per organ</h2>",
           figure("forest", figures.forest(c.differences, c.control),
                   "Each arm minus the control, as a fraction of all units, per organ of arrest and outcome, with "
                   "95% intervals: paired unit by unit (same units, same random numbers), so the interval "
                   "reflects only the units whose outcome the arm changed.")]
    for arm, rows in c.differences.items():
        whole = [r for r in rows if r["organ"] is None]
        per_organ = [r for r in rows if r["organ"] is not None]
        out += [f"<h3>{esc(arm)} - {esc(c.control)} ({rows[0]['n']:,} paired units)</h3>" if rows else "",
                difference_table(whole, c.control, arm),
                f"<details><summary>Per organ of arrest ({len(per_organ)} rows)</summary>"
                + difference_table(per_organ, c.control, arm) + "</details>"]
    return out


def difference_table(rows: list[dict], control: str, arm: str) -> str:
    return table(["organ", "outcome", control, arm, "difference", "95% interval", "relative risk", "95% interval"],
                  [[r["organ"] or "-", r["outcome"], f"{r['control_count']:,}", f"{r['arm_count']:,}",
                    units.fraction(r["difference"], signed=True), units.interval(*r["ci95"], signed=True),
                    units.fraction(r["relative_risk"]), units.interval(*r["rr_ci95"])] for r in rows])


def _spent(c: Content) -> list[str]:
    caption = f"Arm {c.control}. Left, from the fates: unit-time circulating, arrested in a capillary, and in " \
              "tissue after extravasation, per organ, until the outcome or the horizon."
    if c.compartments:
        caption += " Right, from the events: circulating unit-time per compartment."
    else:
        caption += " Run with --events to see the circulating time per compartment."
    return ["<h2>Where units spend their time</h2>",
            figure("spent", figures.time_spent(c.phases, c.compartments), caption)]


def _checks(c: Content) -> list[str]:
    out = ["<h2>Checks</h2>"]
    if c.exact:
        e = c.exact
        out.append(f"<p>Arm {esc(e['arm'])}: the circulating phase's outcomes of {e['n']:,} units beside the master "
                   f"equation's exact probabilities (ctcsim.exact). Pearson's chi-square over {e['cells']} cells: "
                   f"p = {e['p_value']:.3g}.</p>")
        out.append(table(["outcome", "exact", "simulated", "units", "z"],
                          [[r["outcome"], units.fraction(r["exact"]), units.fraction(r["simulated"]),
                            f"{r['count']:,}", f"{r['z']:+.2f}"] for r in e["rows"]]))
    else:
        out.append('<p class="muted">Exact check not computed: <code>ctcsim report --exact</code> sets the '
                   "simulated outcomes of circulation beside the master equation's (as ctcsim verify).</p>")
    if c.targets:
        t0 = next(iter(c.targets.values()))
        out.append(f"<p>The published experiment: each simulated fraction with its Monte Carlo interval "
                   f"(confidence {t0['confidence']:.4g}, so that all {len(c.targets)} targets together raise "
                   f"a false alarm at most {FAMILY_ALPHA:.0%} of the time), judged ok when it meets the published interval.</p>")
        out.append(table(["target", "published", "interval", "simulated", "units", "Monte Carlo interval",
                           "verdict", "source"],
                          [[k, units.fraction(t["published"]), units.interval(*t["interval"]),
                            units.fraction(t["measured"]), f"{t['count']:,} / {t['n']:,}",
                            units.interval(*t["mc_interval"]), t["verdict"], t["source"]]
                           for k, t in c.targets.items()]))
    return out


def _provenance(c: Content) -> list[str]:
    md = c.run.metadata
    arms = [[a.name, ", ".join(f"{k} x {v:g}" for k, v in a.multipliers.items()) or "-",
             units.duration_s(a.start_s), a.description] for a in c.scenario.arms]
    rows = [["scenario", md["scenario_name"]], ["primary", c.scenario.resolved_primary().name],
            ["anatomy", c.scenario.resolved_anatomy().name], ["entry", c.scenario.entry.mode],
            ["horizon (t_max)", units.duration_s(c.scenario.t_max_s)], ["units per arm", f"{md['n_units']:,}"],
            ["seed", md["seed"]], ["events recorded", "yes" if md["events"] else "no"],
            ["ctcsim", md["ctcsim_version"]], ["created", md["created"]],
            ["versions", ", ".join(f"{k} {v}" for k, v in md.get("versions", {}).items())]]
    timings = md.get("timings")
    if timings:
        rows.append(["simulated in", f"{units.duration(timings['wall_s'])} on {timings['threads']} thread(s)"])
    doc = {k: v for k, v in md.items() if k != "scenario"}
    return ["<h2>Scenario and provenance</h2>", table(["", ""], rows).replace("<table>", '<table class="kv">'),
            table(["arm", "multipliers", "from", "description"], arms) if arms else "",
            "<details><summary>The resolved scenario (TOML: save it and run it with ctcsim run FILE)</summary>"
            f"<pre>{esc(md['scenario'])}</pre></details>",
            f'<script type="application/json" id="ctcsim-metadata">{metadata_json(doc)}</script>']


def metadata_json(doc: dict) -> str:
    """``doc`` as JSON that cannot end the script element holding it."""
    return json.dumps(doc).replace("</", "<\\/")
