"""A run's answers in a notebook: ``run.summary()`` gives tables, figures come when asked.

    run = ctcsim.read_run("my-run")
    s = run.summary()            # shown as HTML tables in Jupyter
    s.fates.to_pandas()          # per arm and fate: count, fraction, 95% interval
    s.organs                     # per arm and organ of arrest: units by outcome
    s.paired                     # each arm - control, per outcome (and organ): difference, RR
    s.plot("cascade")            # an SVG figure (also: organs, times, forest, spent)

The tables are pyarrow Tables (``.to_pandas()``, ``polars.from_arrow``); everything is computed
once, when ``summary()`` is called, by the report's own code (``content.collect``).
"""
from __future__ import annotations

import functools
import html

import pyarrow as pa

from .. import units
from . import content


class Figure:
    """An SVG figure; notebooks show it (``_repr_svg_``), ``.svg`` is its text."""

    def __init__(self, svg: str):
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<Figure: {len(self.svg):,} characters of SVG>"


class Summary:
    def __init__(self, run):
        self._c = content.collect(run)

    def __repr__(self) -> str:
        c = self._c
        arms = ", ".join(f"{a} ({t.n:,} units)" for a, t in c.tallies.items())
        return (f"<Summary of {c.scenario.name}: {arms}; horizon {units.duration_s(c.t_max_s)}; "
                f"tables .fates .organs .paired, figures .plot(name) for name in {FIGURES}>")

    @property
    def notes(self) -> list[str]:
        return self._c.notes

    @functools.cached_property
    def fates(self) -> pa.Table:
        rows = [{"arm": a, "outcome": o, **_share(t, k)} for a, t in self._c.tallies.items()
                for o, k in t.unit_counts().items()]
        return pa.Table.from_pylist(rows)

    @functools.cached_property
    def organs(self) -> pa.Table:
        rows = [{"arm": a, **{k: v for k, v in r.items() if k != "post_arrest"}}
                for a, t in self._c.tallies.items() for r in t.organ_table()]
        return pa.Table.from_pylist(rows)

    @functools.cached_property
    def paired(self) -> pa.Table:
        rows = [{"arm": a, "control": self._c.control, "organ": r["organ"], "outcome": r["outcome"],
                 "control_count": r["control_count"], "arm_count": r["arm_count"], "n": r["n"],
                 "difference": r["difference"], "ci95_low": r["ci95"][0], "ci95_high": r["ci95"][1],
                 "relative_risk": r["relative_risk"], "rr_ci95_low": r["rr_ci95"][0], "rr_ci95_high": r["rr_ci95"][1]}
                for a, rows in self._c.differences.items() for r in rows]
        return pa.Table.from_pylist(rows)

    def plot(self, name: str) -> Figure:
        """One of the report's figures (``FIGURES``); ValueError names them for any other."""
        from . import figures

        c = self._c
        draw = {"cascade": lambda: figures.cascade(c.tallies),
                "organs": lambda: figures.organs_vs_clinic(c.clinical["rows"], c.clinical["series"]) if c.clinical
                else _none("no clinical series for this primary"),
                "times": lambda: figures.time_courses(c.tallies, c.t_max_s),
                "forest": lambda: figures.forest(c.differences, c.control) if c.differences
                else _none("one arm: no differences"),
                "spent": lambda: figures.time_spent(c.phases, c.compartments)}
        if name not in draw:
            raise ValueError(f"no figure {name!r}; figures: {', '.join(FIGURES)}")
        return Figure(draw[name]())

    def _repr_html_(self) -> str:
        from .html import table as _table

        def table(t: pa.Table) -> str:
            return _table(t.column_names, [[units.fraction(v) if isinstance(v, float) else v for v in row.values()]
                                           for row in t.to_pylist()])

        notes = "".join(f"<p><b>note:</b> {html.escape(n)}</p>" for n in self.notes)
        return (f"<p>{html.escape(repr(self))}</p>" + notes
                + table(self.fates) + table(self.organs) + (table(self.paired) if self._c.differences else ""))


FIGURES = ("cascade", "organs", "times", "forest", "spent")


def _share(tally, k: int) -> dict:
    x = tally.share(k)
    return {"count": x["count"], "n": tally.n, "fraction": x["fraction"], "ci95_low": x["ci95"][0],
            "ci95_high": x["ci95"][1]}


def _none(why: str):
    raise ValueError(f"no such figure for this run: {why}")
