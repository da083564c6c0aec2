"""Organ tropism tables: per (primary, organ) factors, and fitting them to metastatic site frequencies.

A table is ``ctcsim/data/tropism/<primary>.csv``, one row per organ of the built-in anatomies:

- ``adhesion`` multiplies the bed's adhesion hazard k_adh (DESIGN 2.2).  ``adhesion_factors``
  hands it to compile.py; a scenario's inline ``adhesion`` overrides it organ by organ.
- ``niche``, ``inflammation``, ``macrophage`` are the soil factors of the post-arrest stage
  (DESIGN 2.4; compile.py reads them from the scenario's inline ``soil``).  The built-in
  tables leave them at 1: site frequencies alone cannot separate them (see ``post_arrest``).
- ``post_arrest``: the weight the organ's arrests still need so that the shares of
  arrests x weight reproduce the observed site frequencies (1 where adhesion alone does it).
  The simulator reads it as seed-soil compatibility (``compatibility``): the weight over the
  table's largest is the probability that an arrested unit can live in the organ at all.
- ``mei``: Weiss's metastatic efficiency index, observed share / share delivered by the
  circulation with every factor 1; ``site``, ``percent``, ``share``: the clinical site, its
  published figure and the relative incidence fitted; ``series``, ``source``: where from, how.

``ctcsim.tropism_fit`` derives tables from site frequencies (``ctcsim.site_frequencies``); the
built-in tables are made by ``ctcsim tropism fit`` with the commands in ctcsim/data/tropism/README.md.
"""
from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import io
import math
from importlib import resources

from .biology import SOIL_FACTORS
from .checks import ScenarioError

FACTORS = ("adhesion", "niche", "inflammation", "macrophage")
COLUMNS = ("organ",) + FACTORS + ("post_arrest", "mei", "site", "percent", "share", "series", "source")


@dataclasses.dataclass(frozen=True)
class Row:
    organ: str
    adhesion: float = 1.0
    niche: float = 1.0
    inflammation: float = 1.0
    macrophage: float = 1.0
    post_arrest: float = 1.0
    mei: float | None = None
    site: str = ""
    percent: str = ""
    share: float | None = None
    series: str = ""
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Table:
    """A primary's tropism table: one row per organ."""
    primary: str
    rows: tuple[Row, ...]
    where: str = "<tropism table>"

    def factors(self, column: str = "adhesion") -> dict[str, float]:
        return {r.organ: getattr(r, column) for r in self.rows}

    def to_csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in self.rows:
            w.writerow([_fmt(getattr(r, c)) for c in COLUMNS])
        return out.getvalue()


def _fmt(x) -> str:
    # Six significant digits: far below any sampling error, and immune to last-bit differences
    # between machines, so that regenerating a table is byte for byte.
    if x is None:
        return ""
    return x if isinstance(x, str) else f"{x:.6g}"


def read_table(text: str, primary: str, where: str) -> Table:
    """Parse a table's CSV text; errors name ``where``, the row's organ and the column."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("organ",) + FACTORS + ("source",) if c not in (reader.fieldnames or [])]
    if missing:
        raise ScenarioError(where, missing[0], f"missing column; columns: {', '.join(reader.fieldnames or [])}")
    rows, seen = [], set()
    for i, d in enumerate(reader, start=2):
        organ = d["organ"].strip()
        key = f"line {i} ({organ})"
        if not organ or organ in seen:
            raise ScenarioError(where, key, "missing organ" if not organ else "duplicate organ")
        seen.add(organ)
        if not d["source"].strip():
            raise ScenarioError(where, f"{key}.source", "every row needs a source")
        values = {}
        for c in FACTORS + ("post_arrest", "mei", "share"):
            raw = (d.get(c) or "").strip()
            if raw == "" and c not in FACTORS:  # optional: fitted rows only
                values[c] = getattr(Row, c)
                continue
            try:
                values[c] = float(raw)
            except ValueError:
                values[c] = math.nan
            if not (math.isfinite(values[c]) and values[c] >= 0):
                raise ScenarioError(where, f"{key}.{c}", f"expected a non-negative number, got {raw!r}")
        rows.append(Row(organ, **values, site=d.get("site") or "", percent=d.get("percent") or "",
                        series=d.get("series") or "", source=d["source"]))
    return Table(primary, tuple(rows), where)


def _files():
    return resources.files("ctcsim") / "data" / "tropism"


def list_tables() -> list[str]:
    """Primaries with a built-in tropism table."""
    return sorted(p.name[:-4] for p in _files().iterdir() if p.name.endswith(".csv"))


@functools.lru_cache(maxsize=None)
def load(primary: str) -> Table:
    """The built-in tropism table of ``primary``."""
    if primary not in list_tables():
        near = difflib.get_close_matches(primary, list_tables(), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ScenarioError("tropism", "primary", f"no built-in table for {primary!r}; {hint}tables: {', '.join(list_tables())}")
    return read_table((_files() / f"{primary}.csv").read_text(), primary, f"ctcsim/data/tropism/{primary}.csv")


def adhesion_factors(scenario, anatomy) -> dict[str, float]:
    """Adhesion factor per organ of ``anatomy``: the scenario's inline ``adhesion`` where given,
    else the built-in table of the scenario's primary if there is one, else 1."""
    inline = {o: float(x) for o, x in scenario.adhesion.items()}
    table = _table_of(scenario, anatomy, inline)
    return {o: inline[o] if o in inline else table.factors()[o] if table else 1.0 for o in anatomy.organs()}


def compatibility(scenario, anatomy) -> dict[str, float]:
    """Seed-soil compatibility per organ of ``anatomy``, in [0, 1]: the probability that an
    arrested unit can live there at all (model.py).  The scenario's inline
    ``soil.ORGAN.compatibility`` where given; else the table's ``post_arrest`` weight over the
    table's largest one (site frequencies fix relative efficiencies only, so the most
    efficient organ gets 1); else 1."""
    inline = {o: float(f["compatibility"]) for o, f in scenario.soil.items() if "compatibility" in f}
    table = _table_of(scenario, anatomy, inline)
    weights = table.factors("post_arrest") if table else {}
    top = max(weights.values(), default=1.0)
    return {o: inline[o] if o in inline else weights[o] / top if table else 1.0 for o in anatomy.organs()}


def inline_factors(scenario, anatomy) -> tuple[dict, dict]:
    """Every organ's factors as a scenario states them inline, with the same effect as the
    table they come from: ``adhesion`` (organ -> factor) and ``soil`` (organ -> niche,
    inflammation, macrophage, compatibility)."""
    compat = compatibility(scenario, anatomy)
    soil = {o: {**dict.fromkeys(SOIL_FACTORS, 1.0), **scenario.soil.get(o, {}), "compatibility": compat[o]}
            for o in anatomy.organs()}
    return adhesion_factors(scenario, anatomy), soil


def _table_of(scenario, anatomy, inline: dict) -> Table | None:
    """The built-in table of the scenario's primary, if one is needed and exists; a table that
    lacks an organ of the anatomy is an error, not a silent 1: every factor used has a source.

    An inline primary counts by its name, so that a scenario printed with its primary inlined
    (``ctcsim scenario show``) behaves as the original."""
    name = scenario.primary if isinstance(scenario.primary, str) else scenario.primary.name
    organs = anatomy.organs()
    if all(o in inline for o in organs) or name not in list_tables():
        return None
    table = load(name)
    factors = table.factors()
    for organ in organs:
        if organ not in inline and organ not in factors:
            raise ScenarioError(table.where, organ,
                                f"no tropism entry for organ {organ!r} of anatomy {anatomy.name!r}; "
                                f"add a row, or give it inline in the scenario")
    return table
