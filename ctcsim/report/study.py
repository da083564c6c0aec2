"""What a study's report says: response curves of a sweep, sensitivity indices, provenance.

``collect(path)`` reads a study directory (docs/STUDIES.md: study.json, table.parquet,
indices.parquet, outputs.parquet) and returns a ``StudyContent``; ``study_html.render`` lays
it out and ``study_figures`` draws it.  Nothing here draws or formats.

A response curve is one outcome's fraction against one parameter, with each point's 95%
Wilson interval, over all units and per organ of arrest.  On a grid with several parameters
the others are held at their middle grid value (a slice through the design, so the curve is a
curve); on a Latin hypercube or Sobol' design every point is shown, the others varying too.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ..scenario.notes import no_tropism_note
from ..studies import outputs, sensitivity, sweep

TOP_ORGANS = 8  # organs drawn per outcome, those with the most units; table.parquet has all
# The cascade first, then the other ends of circulation, then the other states after arrest.
ORDER = ("arrested", "extravasated", "reached_micrometastasis", "macrometastasis", "alive") + tuple(
    o for o in outputs.OUTCOMES if o not in ("arrested", "extravasated", "reached_micrometastasis",
                                             "macrometastasis", "alive"))


@dataclasses.dataclass
class Curve:
    """One line of a panel: a fraction (or an output) at each x, with its interval (or None)."""
    label: str
    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None


@dataclasses.dataclass
class Response:
    """One outcome of a sweep: ``panels[arm][parameter]`` -> curves (all units first)."""
    outcome: str
    panels: dict
    organs_left: int  # organs with units that the panels leave out (TOP_ORGANS)


@dataclasses.dataclass
class StudyContent:
    path: Path
    metadata: dict
    scenario: object
    slices: dict           # parameter -> {other parameter: its value} on a grid; {} otherwise
    responses: list        # sweeps: Response per outcome with any unit
    fractions: dict        # sweeps: (arm, outcome) -> the all-units fraction at every point
    indices: list | None   # sensitivity: rows of indices.parquet
    outputs: list          # sensitivity: (label, {parameter: Curve})
    notes: list[str]

    @property
    def organs(self) -> list[str]:
        return self.scenario.resolved_anatomy().organs()

    @property
    def kind(self) -> str:
        return self.metadata["kind"]

    @property
    def method(self) -> str | None:
        return self.metadata.get("sensitivity", {}).get("method")


def is_study(path) -> bool:
    return (Path(path) / sweep.STUDY).is_file()


def collect(path) -> StudyContent:
    path = Path(path)
    md = sweep.read_metadata(path)
    if not md.get("complete"):
        raise sweep.StudyDirError(f"{path}: incomplete study; finish it with --resume {path}")
    plan = sweep.Plan(path, md)
    scenario = plan.scenario()
    x = np.array(md["points"], float).reshape(len(md["points"]), len(md["parameters"]))
    slices = _slices(md, x)
    table = pq.read_table(path / sweep.TABLE) if (path / sweep.TABLE).is_file() else None
    notes = [n for n in [no_tropism_note(scenario)] if n]
    if md["kind"] == "sweep":
        keys, cols = _cube(path, md, table)
        responses = _responses(md, keys, cols, x, slices)
        fractions = {(a, o): cols["fraction"][:, i] for i, (a, o, organ) in enumerate(keys)
                     if organ == outputs.ALL and cols["count"][:, i].any()}
        if not any(r.outcome == "macrometastasis" for r in responses):
            notes.append("No unit reached a macrometastasis by the horizon at any point. Metastases take "
                         "months to years: set a longer horizon (t_max_s in the study's [set]) to follow them.")
        return StudyContent(path, md, scenario, slices, responses, fractions, None, [], notes)
    result = sensitivity.read(path)
    return StudyContent(path, md, scenario, {}, [], {}, result.table.to_pylist(),
                        _output_curves(path, md, table, x, result.values), notes)


def _slices(md: dict, x: np.ndarray) -> dict:
    """On a grid of several parameters: per parameter, the other parameters' middle values."""
    if not md.get("grid_sizes") or x.shape[1] < 2:
        return {}
    middle = [np.unique(x[:, j])[(len(np.unique(x[:, j])) - 1) // 2] for j in range(x.shape[1])]
    return {p: {q: float(middle[j]) for j, q in enumerate(md["parameters"]) if q != p} for p in md["parameters"]}


def _on_slice(md: dict, x: np.ndarray, slices: dict, parameter: str) -> np.ndarray:
    """The points of the curve along ``parameter``, in increasing order of it."""
    j = md["parameters"].index(parameter)
    keep = np.ones(len(x), bool)
    for q, v in slices.get(parameter, {}).items():
        keep &= x[:, md["parameters"].index(q)] == v
    points = np.flatnonzero(keep)
    return points[np.argsort(x[points, j], kind="stable")]


def _cube(path: Path, md: dict, table) -> tuple[list, dict]:
    """table.parquet as (keys, columns): every point holds the same (arm, outcome, organ) rows in
    the same order (``outputs.Counts.rows``), so each column reshapes to [points, keys]."""
    n_points = len(md["points"])
    rows = table.num_rows // n_points
    keys = list(zip(*(table.column(c).slice(0, rows).to_pylist() for c in ("arm", "outcome", "organ"))))
    point = table.column("point").to_numpy()
    if rows * n_points != table.num_rows or not np.array_equal(point, np.repeat(np.arange(n_points), rows)):
        raise sweep.StudyDirError(f"{path / sweep.TABLE}: not the same rows at every point")
    cols = {c: table.column(c).to_numpy().reshape(n_points, rows) for c in ("count", "fraction", "ci_low", "ci_high")}
    return keys, cols


def _responses(md: dict, keys: list, cols: dict, x: np.ndarray, slices: dict) -> list[Response]:
    index = {k: i for i, k in enumerate(keys)}
    out = []
    for outcome in ORDER:
        if not any(cols["count"][:, i].any() for i, (_, o, organ) in enumerate(keys)
                   if o == outcome and organ == outputs.ALL):
            continue
        panels, left = {}, 0
        for arm in md["arms"]:
            ranked = sorted(((int(cols["count"][:, i].max()), organ) for (a, o, organ), i in index.items()
                             if a == arm and o == outcome and organ != outputs.ALL), key=lambda t: -t[0])
            organs = [organ for k, organ in ranked if k > 0]
            left = max(left, len(organs) - TOP_ORGANS)
            panels[arm] = {}
            for p in md["parameters"]:
                points = _on_slice(md, x, slices, p)
                xs = x[points, md["parameters"].index(p)]
                panels[arm][p] = [Curve("all units" if organ == outputs.ALL else organ, xs,
                                        *(cols[c][points, index[(arm, outcome, organ)]]
                                          for c in ("fraction", "ci_low", "ci_high")))
                                  for organ in [outputs.ALL] + organs[:TOP_ORGANS]]
        out.append(Response(outcome, panels, left))
    return out


def _output_curves(path: Path, md: dict, table, x: np.ndarray, values: np.ndarray) -> list:
    """Each sensitivity output against each parameter at every point; a simulated fraction
    (no ``versus``) carries its Wilson interval from table.parquet, an exact one needs none."""
    keys, cols = _cube(path, md, table) if table is not None else ([], {})
    index = {k: i for i, k in enumerate(keys)}
    out = []
    for k, o in enumerate(outputs.Output(**o) for o in md["outputs"]):
        i = index.get((o.arm, o.outcome, o.organ or outputs.ALL)) if not o.versus else None
        lo, hi = (cols["ci_low"][:, i], cols["ci_high"][:, i]) if i is not None else (None, None)
        out.append((o.label, {p: Curve(o.label, x[:, j], values[:, k], lo, hi)
                              for j, p in enumerate(md["parameters"])}))
    return out
