"""The report's figures, drawn with matplotlib and returned as inline SVG text.

matplotlib's SVG backend writes plain vector markup with text kept as text (``svg.fonttype``
"none"), so a figure needs no script, no font file and no network to show, scales without
blur, and its labels can be searched and copied.  Figures are made from ``Figure`` objects
(not pyplot), so nothing global changes and nothing is left open; each has its own
``svg.hashsalt``, so the ids of several figures in one page never collide and the output is
byte-for-byte the same for the same tables.
"""
from __future__ import annotations

import functools
import io
import math

import numpy as np

from .. import units
from .tables import EDGES_S, ORGAN_OUTCOMES

WIDTH_IN = 9.0
STYLE = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none",
         "font.family": ["DejaVu Sans", "sans-serif"], "axes.titlesize": 10, "axes.titleweight": "bold"}
TICKS_S = [1, 60, 3600, 86400, 7 * 86400, 30.44 * 86400, 365.25 * 86400, 10 * 365.25 * 86400]
TICK_LABELS = ["1 s", "1 min", "1 h", "1 d", "1 w", "1 mo", "1 y", "10 y"]


def drawn(name: str):
    """Run a figure function under the report's style and return its figure as SVG text.
    ``salt`` tells apart the ids of several figures of one kind in one page."""
    def wrap(make):
        @functools.wraps(make)
        def draw(*args, salt: str = "", **kwargs) -> str:
            import matplotlib

            with matplotlib.rc_context({**STYLE, "svg.hashsalt": f"ctcsim-{name}{salt}"}):
                fig = make(*args, **kwargs)
                buf = io.StringIO()
                fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
            text = buf.getvalue()
            return text[text.index("<svg"):]  # inline in HTML: no XML declaration or DOCTYPE
        return draw
    return wrap


def _figure(height_in: float, ncols: int = 1, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False, **kw)[0]


def _time_axis(ax, t_end: float):
    ticks = [(t, lab) for t, lab in zip(TICKS_S, TICK_LABELS) if t <= t_end * 1.5]
    ax.set_xscale("log")
    ax.set_xticks([t for t, _ in ticks], [lab for _, lab in ticks])
    ax.minorticks_off()
    ax.grid(True, which="major", color="#ddd", lw=0.5)


@drawn("cascade")
def cascade(tallies: dict):
    """From entry to macrometastasis, per arm: units reaching each stage (log scale, so that a
    stage of 1e-5 is as visible as one of 0.5), with counts and fractions written on the bars."""
    stages = [r["stage"] for r in next(iter(tallies.values())).cascade()]
    fig, (ax,) = _figure(0.45 + 0.32 * len(stages) * len(tallies))
    height = 0.8 / len(tallies)
    for k, (arm, tally) in enumerate(tallies.items()):
        rows = tally.cascade()
        y = np.arange(len(rows)) + k * height
        counts = np.array([r["count"] for r in rows], float)
        ax.barh(y, np.where(counts > 0, counts, np.nan), height, label=arm, color=f"C{k}")
        for yi, r in zip(y, rows):
            ax.text(max(r["count"], 0.6), yi, f"  {r['count']:,} ({units.fraction(r['fraction'])})",
                    va="center", fontsize=8)
    ax.set_yticks(np.arange(len(stages)) + height * (len(tallies) - 1) / 2, stages)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(0.5, max(t.n for t in tallies.values()) * 30)
    ax.set_xlabel("units (log scale)")
    ax.set_title("The cascade: units reaching each stage")
    if len(tallies) > 1:
        ax.legend(loc="lower right", frameon=False)
    return fig


@drawn("organs")
def organs_vs_clinic(rows: list[dict], series: str):
    """Per organ of the clinical series: its share of patients' metastatic sites beside the
    simulated shares, each normalised over the series' organs, with 95% intervals."""
    measures = [k for k in rows[0]["simulated"]]
    fig, (ax,) = _figure(2.6)
    x = np.arange(len(rows))
    width = 0.8 / (1 + len(measures))
    ax.bar(x, [r["clinical"] for r in rows], width, color="0.35", label=f"clinical ({series})")
    for k, m in enumerate(measures):
        share = np.array([r["simulated"][m]["share"] for r in rows])
        lo = np.array([r["simulated"][m]["ci95"][0] for r in rows])
        hi = np.array([r["simulated"][m]["ci95"][1] for r in rows])
        ax.bar(x + (k + 1) * width, share, width, color=f"C{k}", label=f"simulated: {m}",
               yerr=[share - lo, hi - share], capsize=2, error_kw={"lw": 0.8})
    ax.set_xticks(x + width * len(measures) / 2, [r["organ"] for r in rows])
    ax.set_ylabel("share over these organs")
    ax.set_title("Outcomes by organ against the clinical site frequencies")
    ax.legend(frameon=False, fontsize=8)
    return fig


@drawn("times")
def time_courses(tallies: dict, t_max_s: float):
    """Left: cumulative incidence of each outcome against the time since entry (log-log: the
    outcomes of a day and of years, of 0.5 and of 1e-5, on one page).  Right: the units in
    circulation over time."""
    fig, (left, right) = _figure(3.4, 2)
    right_edges = np.r_[EDGES_S[1:], EDGES_S[-1] * 10 ** (1 / 20)]
    t_end = min(t_max_s, right_edges[-1]) if math.isfinite(t_max_s) else None
    colours, styles = {}, ["-", "--", ":", "-."]
    for k, (arm, tally) in enumerate(tallies.items()):
        for outcome, curve in tally.cumulative_incidence().items():
            colour = colours.setdefault(outcome, f"C{len(colours) % 10}")
            shown = curve > 0
            left.step(right_edges[shown], curve[shown], where="post", color=colour, ls=styles[k % 4],
                      label=outcome if k == 0 else None, lw=1.2)
        n = tally.circulating()
        shown = n > 0
        right.step(right_edges[shown], n[shown], where="post", color=f"C{k}", label=arm, lw=1.2)
    last = max((right_edges[np.flatnonzero(t.times[o])[-1]] for t in tallies.values() for o in t.times
                if t.times[o].any()), default=1.0)
    end = t_end or last
    for ax in (left, right):
        _time_axis(ax, end)
        ax.set_xlim(1e-2, end * 1.5)
        ax.set_yscale("log")
        if t_end:
            ax.axvline(t_end, color="0.5", lw=0.8, ls="--")
    left.set_xlabel("time since entry")
    left.set_ylabel("fraction of units (log scale)")
    left.set_title("Cumulative incidence")
    left.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    right.set_xlabel("time")
    right.set_ylabel("units in circulation (log scale)")
    right.set_title("Circulating population")
    if len(tallies) > 1:
        right.legend(frameon=False, fontsize=8, title="arm (line style on the left)", title_fontsize=7)
    return fig


@drawn("forest")
def forest(differences: dict, control: str):
    """Paired differences arm - control per organ, one panel per outcome, with 95% intervals
    (common random numbers: the interval is that of the mean per-unit difference)."""
    differences = {a: [r for r in rows if r["organ"] is not None] for a, rows in differences.items()}
    outcomes = [o for o in ORGAN_OUTCOMES if any(r["outcome"] == o for rows in differences.values() for r in rows)]
    organs = list(dict.fromkeys(r["organ"] for rows in differences.values() for r in rows))
    organs = [o for o in organs if o != "any organ"] + ["any organ"]
    fig, axes = _figure(0.9 + 0.22 * len(organs) * len(differences), len(outcomes), sharey=True)
    step = 0.7 / len(differences)
    for ax, outcome in zip(axes, outcomes):
        for k, (arm, rows) in enumerate(differences.items()):
            got = {r["organ"]: r for r in rows if r["outcome"] == outcome}
            y = [i + k * step for i, o in enumerate(organs) if o in got]
            d = np.array([got[o]["difference"] for o in organs if o in got])
            lo = np.array([got[o]["ci95"][0] for o in organs if o in got])
            hi = np.array([got[o]["ci95"][1] for o in organs if o in got])
            ax.errorbar(d, y, xerr=[d - lo, hi - d], fmt="o", ms=3, color=f"C{k + 1}", lw=1, capsize=2,
                        label=f"{arm} - {control}")
        ax.axvline(0, color="0.4", lw=0.8)
        ax.set_title(outcome)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
        ax.grid(True, axis="x", color="#eee", lw=0.5)
    axes[0].set_yticks(np.arange(len(organs)) + step * (len(differences) - 1) / 2, organs)
    axes[0].invert_yaxis()
    fig.supxlabel("paired difference in the fraction of all units (95% interval)")
    if len(differences) > 1:
        axes[-1].legend(frameon=False, fontsize=7)
    return fig


@drawn("spent")
def time_spent(phases: dict, compartments: dict | None):
    """Unit-time per phase (circulating, in a capillary, in tissue, per organ) from the fates;
    with events, circulating unit-time per compartment."""
    panels = [("After entry: unit-time by phase and organ", phases)]
    if compartments:
        panels.append(("In circulation: unit-time by compartment", compartments))
    height = 0.8 + 0.18 * max(len(p) for _, p in panels)
    fig, axes = _figure(height, len(panels))
    for ax, (title, values) in zip(axes, panels):
        names, secs = list(values), np.array(list(values.values()))
        share = secs / secs.sum()
        ax.barh(np.arange(len(names)), share, color="C0")
        for i, (s, t) in enumerate(zip(share, secs)):
            ax.text(s, i, f" {units.fraction(s)} ({units.duration(t)})", va="center", fontsize=7)
        ax.set_yticks(np.arange(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, min(1.0, share.max() * 1.6))
        ax.set_xlabel("share of unit-time")
        ax.set_title(title)
    return fig
