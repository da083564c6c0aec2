"""Organ tropism tables: per (primary, organ) factors, and fitting them to metastatic site frequencies.

A table is ``ctcsim/data/tropism/<primary>.csv``, one row per organ of the built-in anatomies:

- ``adhesion`` multiplies the bed's adhesion hazard k_adh (DESIGN 2.2).  ``adhesion_factors``
  hands it to compile.py; a scenario's inline ``adhesion`` overrides it organ by organ.
- ``niche``, ``inflammation``, ``macrophage``, ``growth`` are the soil factors of the
  post-arrest stage (DESIGN 2.4, biology.SOIL_FACTORS); ``soil_factors`` hands them to
  compile.py, and a scenario's inline ``soil.ORGAN.FACTOR`` overrides each.  The built-in tables
  put organ preference after extravasation, in ``growth`` (the colony's divisions); the
  others stay 1: site frequencies alone cannot separate them.
- ``data``: ``reference`` for the organ whose soil is the calibrated biology itself (every
  factor 1: the liver, where Luzzi 1998 measured each step's absolute efficiency), ``fitted``
  for the other organs of the series, ``no data`` for organs the series does not observe (every
  factor 1, the biology's own rates, not the soil of an observed organ).
- ``efficiency``: P(macrometastasis | arrest) in the organ over the reference organ's, as the
  series requires it (arrests x efficiency reproduce the series; 1 where adhesion alone does it).
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

FACTORS = ("adhesion",) + SOIL_FACTORS
COLUMNS = ("organ",) + FACTORS + ("data", "efficiency", "mei", "site", "percent", "share", "series", "source")
DATA = ("reference", "fitted", "no data")


@dataclasses.dataclass(frozen=True)
class Row:
    organ: str
    adhesion: float = 1.0
    niche: float = 1.0
    inflammation: float = 1.0
    macrophage: float = 1.0
    growth: float = 1.0
    data: str = "no data"
    efficiency: float | None = None
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
        for c in FACTORS + ("efficiency", "mei", "share"):
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
        data = (d.get("data") or "no data").strip()
        if data not in DATA:
            raise ScenarioError(where, f"{key}.data", f"expected one of {', '.join(DATA)}, got {data!r}")
        rows.append(Row(organ, **values, data=data, site=d.get("site") or "", percent=d.get("percent") or "",
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


def soil_factors(scenario, anatomy) -> dict[str, dict[str, float]]:
    """Each organ's soil factors (biology.SOIL_FACTORS) for ``anatomy``: the scenario's inline
    ``soil.ORGAN.FACTOR`` where given, else the built-in table of the scenario's primary if there
    is one, else 1 (the biology's own rates)."""
    inline = scenario.soil
    complete = {o: 1.0 for o, f in inline.items() if all(k in f for k in SOIL_FACTORS)}
    table = _table_of(scenario, anatomy, complete)
    out = {}
    for o in anatomy.organs():
        given = inline.get(o, {})
        out[o] = {k: float(given[k]) if k in given else table.factors(k)[o] if table else 1.0 for k in SOIL_FACTORS}
    return out


def inline_factors(scenario, anatomy) -> tuple[dict, dict]:
    """Every organ's factors as a scenario states them inline, with the same effect as the
    table they come from: ``adhesion`` (organ -> factor) and ``soil`` (organ -> each of
    biology.SOIL_FACTORS)."""
    return adhesion_factors(scenario, anatomy), soil_factors(scenario, anatomy)


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
