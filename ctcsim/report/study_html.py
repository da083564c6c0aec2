"""A study's report as one self-contained HTML page (the run report's style and figure check):
response curves for a sweep; indices, their intervals and the outputs for a sensitivity study."""
from __future__ import annotations

import numpy as np

from .. import units
from . import study_figures
from .html import esc, figure, metadata_json, page, table
from .study import StudyContent

KINDS = {"sweep": "sweep", "sensitivity": "sensitivity analysis (simulated)",
         "sensitivity-exact": "sensitivity analysis (exact model)"}
ROWS_SHOWN = 20  # a longer table of points is folded away


def render(c: StudyContent) -> str:
    md, s = c.metadata, c.scenario
    parts = [f"<h1>{esc(md['name'])}: {esc(KINDS.get(c.kind, c.kind))} of {esc(s.name)}</h1>",
             f'<p class="lead">{len(md["points"]):,} points over {esc(", ".join(md["parameters"]))}; '
             f"{_units(c)}; arms: {esc(', '.join(md['arms']))}; seed {esc(md['seed'])}.</p>",
             f'<p class="horizon"><b>Horizon:</b> {esc(_horizon(c))}</p>']
    parts += [f'<p class="note">{esc(n)}</p>' for n in c.notes]
    parts += _responses(c) if c.kind == "sweep" else _sensitivity(c)
    return page(f"{md['name']} ({s.name})", parts + _provenance(c))


def _units(c: StudyContent) -> str:
    if c.kind == "sensitivity-exact":
        return "exact probabilities (master equation), no simulated units"
    return f"{c.metadata['units']:,} units per arm and point, the same units at every point"


def _horizon(c: StudyContent) -> str:
    md = c.metadata
    if "t_max_s" in md["parameters"]:
        t = np.array(md["points"])[:, md["parameters"].index("t_max_s")]
        return f"t_max_s varies from {units.duration_s(t.min())} to {units.duration_s(t.max())}."
    return (f"every unit is followed until {units.duration_s(c.scenario.t_max_s)} after the start; "
            "outcomes later than that are not in these numbers.")


def _responses(c: StudyContent) -> list[str]:
    md = c.metadata
    joined = bool(md.get("grid_sizes"))
    if c.slices:
        held = "; ".join(f"along {p}: " + ", ".join(f"{q} = {v:.4g}" for q, v in others.items())
                         for p, others in c.slices.items())
        how = f"Each panel is a slice through the grid, the other parameters at their middle values ({held}). "
    elif joined:
        how = ""
    else:
        how = f"Every point of the {md['design']['kind']} design is drawn: the other parameters vary too. "
    caption = (how + "Top row: all units; below it, the units arrested in each organ (those with the most units), "
               "each organ in the same colour in every figure. "
               "Bands or bars: each point's 95% Wilson interval. Every point simulates the same units with the "
               "same seed, so differences between points are known better than these intervals' overlap "
               "suggests" + (": differences.parquet holds each step's paired interval." if joined else "."))
    out = ["<h2>Response curves</h2>", f"<p>{esc(caption)}</p>"]
    for r in c.responses:
        note = f" ({r.organs_left} more organs with units are in table.parquet.)" if r.organs_left else ""
        out.append(figure(f"response-{r.outcome}", study_figures.response(r, md["parameters"], joined, c.organs,
                                                                         salt=r.outcome),
                          f"{r.outcome}: the fraction of units against each parameter.{note}"))
    return out + _points_table(c)


def _points_table(c: StudyContent) -> list[str]:
    """Per arm, every point's parameter values and the cascade's fractions over all units."""
    md = c.metadata
    cascade = [o for o in ("arrested", "extravasated", "reached_micrometastasis", "macrometastasis", "alive")
               if any((a, o) in c.fractions for a in md["arms"])]
    out = ["<h2>The points</h2>"]
    for arm in md["arms"]:
        rows = [[i, *(f"{v:.4g}" for v in values)] +
                [units.fraction(c.fractions[(arm, o)][i]) if (arm, o) in c.fractions else "0" for o in cascade]
                for i, values in enumerate(md["points"])]
        body = table(["point", *md["parameters"], *(f"{o} (all units)" for o in cascade)], rows)
        out.append(f"<h3>{esc(arm)}</h3>" + (body if len(rows) <= ROWS_SHOWN else
                                            f"<details><summary>{len(rows):,} points</summary>{body}</details>"))
    return out


def _sensitivity(c: StudyContent) -> list[str]:
    sens = c.metadata["sensitivity"]
    level = f"{sens['confidence']:.0%}"
    title = "Sobol' indices" if c.method == "sobol" else "Morris screening"
    out = [f"<h2>Sensitivity: {esc(title)}</h2>"]
    for k, (label, _) in enumerate(c.outputs):
        rows = [r for r in c.indices if r["output"] == label]
        if c.method == "sobol":
            svg, caption = study_figures.sobol(label, rows, salt=str(k)), (
                f"{label}: first-order and total Sobol' indices ({sens['samples']} base samples), with "
                f"{level} bootstrap intervals ({sens['resamples']} resamples). ST - S1 is the share of "
                "variance that comes from interactions with the other parameters; an estimate outside [0, 1], "
                "or a wide interval, asks for more samples.")
        else:
            svg, caption = study_figures.morris(label, rows, salt=str(k)), (
                f"{label}: Morris screening ({sens['samples']} trajectories, {sens['levels']} levels); mu* "
                f"with its {level} bootstrap interval.")
        out.append(figure(f"{c.method}-{k}", svg, caption))
    out.append(table(["output", "parameter", "index", "estimate", f"{level} interval"],
                     [[r["output"], r["parameter"], r["index"], f"{r['estimate']:.4g}",
                       "-" if np.isnan(r["ci_low"]) else f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]"]
                      for r in _ranked(c.indices)]))
    exact = c.kind == "sensitivity-exact"
    out += ["<h2>The outputs at every point</h2>",
            figure("outputs", study_figures.outputs(c.outputs, c.metadata["parameters"]),
                   "Each output against each parameter at every point of the design (the other parameters "
                   "vary too)" + (": exact probabilities, no Monte Carlo interval." if exact else
                                  "; bars: 95% Wilson intervals of the simulated fractions."))]
    return out


def _ranked(rows: list[dict]) -> list[dict]:
    """Per output and index (in the table's order), the parameters by decreasing estimate."""
    order = {k: i for i, k in enumerate(dict.fromkeys((r["output"], r["index"]) for r in rows))}
    return sorted(rows, key=lambda r: (order[(r["output"], r["index"])], -np.nan_to_num(r["estimate"], nan=-np.inf)))


def _provenance(c: StudyContent) -> list[str]:
    md = c.metadata
    design = md["sensitivity"] if c.kind != "sweep" else md["design"]
    rows = [["study", md["name"]], ["kind", KINDS.get(c.kind, c.kind)], ["study file", md["study_file"]],
            ["scenario", c.scenario.name], ["primary", c.scenario.resolved_primary().name],
            ["anatomy", c.scenario.resolved_anatomy().name], ["parameters", ", ".join(md["parameters"])],
            ["design", ", ".join(f"{k} {v}" for k, v in design.items() if v is not None)],
            ["points", f"{len(md['points']):,}"],
            ["units per arm and point", "-" if c.kind == "sensitivity-exact" else f"{md['units']:,}"],
            ["seed", md["seed"]], ["arms", ", ".join(md["arms"])], ["ctcsim", md["ctcsim_version"]],
            ["created", md["created"]], ["finished", md.get("finished", "-")],
            ["versions", ", ".join(f"{k} {v}" for k, v in md.get("versions", {}).items())]]
    doc = {k: v for k, v in md.items() if k not in ("scenario", "points", "unit_design")}
    return ["<h2>Study and provenance</h2>", table(["", ""], rows).replace("<table>", '<table class="kv">'),
            "<details><summary>The base scenario (TOML: save it and run it with ctcsim run FILE)</summary>"
            f"<pre>{esc(md['scenario'])}</pre></details>",
            f'<script type="application/json" id="ctcsim-metadata">{metadata_json(doc)}</script>']
