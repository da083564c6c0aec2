"""A study report's figures (matplotlib SVG, as ``figures``): response curves, Sobol' and
Morris indices with their intervals, and sensitivity outputs against each parameter."""
from __future__ import annotations

import numpy as np

from .figures import WIDTH_IN, drawn
from .study import Curve

LOG_SPAN = 30.0  # an axis whose positive values span this factor or more is drawn on a log scale


def _log_scale(values: np.ndarray) -> bool:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return len(v) > 1 and bool((v > 0).all()) and v.max() / v.min() >= LOG_SPAN


# Margins in inches, fixed: matplotlib's constrained layout was 40 % of a sweep report's drawing
# time (a figure per outcome, up to 8 panels each), and savefig's bbox_inches="tight" trims what
# is left over (or takes in long tick labels beyond the left edge).  Between rows: room for the
# tick labels and the parameter name below each panel.
LEFT_IN, RIGHT_IN, TOP_IN, BOTTOM_IN, WSPACE, ROW_GAP_IN = 0.9, 0.3, 0.45, 0.5, 0.3, 0.65
LEGEND_IN = 1.8  # on the right, for legends beside the panels (the organs of a response figure)


def _grid(rows: int, cols: int, row_height_in: float, right_in: float = RIGHT_IN, top_in: float = TOP_IN):
    from matplotlib.figure import Figure

    height = 0.7 + row_height_in * rows
    fig = Figure(figsize=(WIDTH_IN, height))
    panel_in = max((height - top_in - BOTTOM_IN - ROW_GAP_IN * (rows - 1)) / rows, 0.3)
    fig.subplots_adjust(left=LEFT_IN / WIDTH_IN, right=1 - right_in / WIDTH_IN, top=1 - top_in / height,
                        bottom=BOTTOM_IN / height, wspace=WSPACE, hspace=ROW_GAP_IN / panel_in)
    return fig, fig.subplots(rows, cols, squeeze=False)


def _draw(ax, curve: Curve, colour, joined: bool, width: float = 1.2, band: float = 0.18):
    """A curve with its interval: a band on a line (grids), error bars on points (other designs)."""
    if joined:
        ax.plot(curve.x, curve.y, "o-", color=colour, lw=width, ms=2.5, label=curve.label)
        if curve.lo is not None:
            ax.fill_between(curve.x, curve.lo, curve.hi, color=colour, alpha=band, lw=0)
    else:
        err = None if curve.lo is None else [curve.y - curve.lo, curve.hi - curve.y]
        ax.errorbar(curve.x, curve.y, yerr=err, fmt="o", ms=2, color=colour, lw=0.6, alpha=0.8, label=curve.label)


def organ_colour(i: int):
    """The colour of the anatomy's i-th organ, the same in every figure: tab20's ten strong
    colours first, then their light partners."""
    import matplotlib

    return matplotlib.colormaps["tab20"]((2 * i) % 20 + (i // 10) % 2)


def _axes(ax, parameter: str, xs: np.ndarray, ys: list[np.ndarray]):
    from matplotlib.ticker import NullLocator

    if _log_scale(xs):
        ax.set_xscale("log")
    finite = np.concatenate([y[np.isfinite(y)] for y in ys])
    positive = finite[finite > 0]
    if (finite >= 0).all() and len(positive) > 1 and positive.max() / positive.min() >= LOG_SPAN:
        ax.set_yscale("log")  # rare outcomes beside common ones; a zero fraction is not drawn
    ax.set_xlabel(parameter, fontsize=8)
    ax.grid(True, color="#eee", lw=0.5)
    # No minor ticks on a log axis: it spans at least LOG_SPAN (1.5 decades), where matplotlib
    # labels none of them, and their unlabelled marks were a quarter of a sweep report's drawing.
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            axis.set_minor_locator(NullLocator())


@drawn("response")
def response(r, parameters: list[str], joined: bool, organs: list[str]):
    """One outcome of a sweep, a panel per parameter: per arm, a row over all units and, for an
    outcome after arrest, a row per organ of arrest (each organ in its colour, ``organs`` being
    the anatomy's), every point with its 95% interval."""
    rows = [(arm, k) for arm in r.panels for k in ((0, 1) if len(r.panels[arm][parameters[0]]) > 1 else (0,))]
    fig, axes = _grid(len(rows), len(parameters), 2.1, right_in=LEGEND_IN)
    for row, (arm, which) in zip(axes, rows):
        for ax, p in zip(row, parameters):
            curves = r.panels[arm][p][:1] if which == 0 else r.panels[arm][p][1:]
            for c in curves:
                colour = "black" if which == 0 else organ_colour(organs.index(c.label))
                _draw(ax, c, colour, joined, 1.6 if which == 0 else 1.0, 0.2 if which == 0 else 0.08)
            _axes(ax, p, curves[0].x, [c.y for c in curves])
        what = "all units" if which == 0 else "by organ of arrest"
        row[0].set_ylabel(f"{arm}: {what}" if len(r.panels) > 1 else what, fontsize=8)
        if which == 1:
            row[-1].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(f"{r.outcome.replace('_', ' ')}: fraction of units", fontweight="bold", fontsize=10)
    return fig


@drawn("sobol")
def sobol(label: str, rows: list[dict]):
    """First-order (S1) and total (ST) Sobol' indices of one output, a bar per parameter (the
    largest ST first), with the bootstrap interval of each."""
    by = {(r["parameter"], r["index"]): r for r in rows}
    params = sorted({r["parameter"] for r in rows}, key=lambda p: -by[(p, "ST")]["estimate"])
    fig, ((ax,),) = _grid(1, 1, 0.5 + 0.38 * len(params))
    y = np.arange(len(params))
    for k, index in enumerate(("S1", "ST")):
        est = np.array([by[(p, index)]["estimate"] for p in params])
        lo = np.array([by[(p, index)]["ci_low"] for p in params])
        hi = np.array([by[(p, index)]["ci_high"] for p in params])
        ax.barh(y + (k - 0.5) * 0.38, est, 0.36, color=f"C{k}", label={"S1": "first order S1", "ST": "total ST"}[index],
                xerr=[est - lo, hi - est], capsize=2, error_kw={"lw": 0.8})
    ax.set_yticks(y, params, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_xlabel("share of the output's variance (interval: bootstrap)")
    ax.set_title(f"Sobol' indices: {label}")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


@drawn("morris")
def morris(label: str, rows: list[dict]):
    """Morris screening of one output: mu* per parameter with its bootstrap interval (left),
    and each parameter in the (mu*, sigma) plane (right: sigma large beside mu* means an
    effect that depends on the other parameters, or is not linear)."""
    by = {(r["parameter"], r["index"]): r["estimate"] for r in rows}
    ci = {r["parameter"]: (r["ci_low"], r["ci_high"]) for r in rows if r["index"] == "mu_star"}
    params = sorted(ci, key=lambda p: -by[(p, "mu_star")])
    fig, ((left, right),) = _grid(1, 2, 0.9 + 0.32 * max(len(params), 6), top_in=0.75)  # a title above the panels' own
    mu = np.array([by[(p, "mu_star")] for p in params])
    lo, hi = np.array([ci[p][0] for p in params]), np.array([ci[p][1] for p in params])
    y = np.arange(len(params))
    left.barh(y, mu, 0.6, color="C0", xerr=[mu - lo, hi - mu], capsize=2, error_kw={"lw": 0.8})
    left.set_yticks(y, params, fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("mu* (mean |elementary effect|)")
    left.set_title("Morris mu*")
    sigma = np.array([by[(p, "sigma")] for p in params])
    right.scatter(mu, sigma, s=14, color="C1")
    for m, s, p in zip(mu, sigma, params):  # labels of the right half to the left: none leaves the panel
        right_half = m > mu.max() / 2
        right.annotate(p, (m, s), fontsize=7, xytext=(-3 if right_half else 3, 3), textcoords="offset points",
                       ha="right" if right_half else "left")
    right.set_xlabel("mu*")
    right.set_ylabel("sigma")
    right.set_title("mu* against sigma")
    right.grid(True, color="#eee", lw=0.5)
    fig.suptitle(label, fontsize=9)
    return fig


@drawn("outputs")
def outputs(curves: list, parameters: list[str]):
    """Each sensitivity output (a row) against each parameter (a panel) at every design point,
    with its 95% interval when the output is a simulated fraction."""
    fig, axes = _grid(len(curves), len(parameters), 2.2)
    for row, (label, by) in zip(axes, curves):
        for ax, p in zip(row, parameters):
            _draw(ax, by[p], "C0", joined=False)
            _axes(ax, p, by[p].x, [by[p].y])
        row[0].set_ylabel(label, fontsize=8)
    return fig
