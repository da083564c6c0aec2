"""docs/VALIDATION.md: every row of targets.toml measured, judged and written as one table.

``build`` measures every target (``measurements.MEASURES``, through one ``sim.Runs``); ``render``
writes the Markdown (``report`` holds its sections); ``parse`` reads a dossier's table back
and ``check`` compares a fresh build with a committed file: the same ids, the same roles, and
each value agreeing with the committed one.

Agreement: the two 95 % intervals, each stretched about its value to 99.9 % (x CHECK_STRETCH),
meet.  Two estimates of one true value fail that with probability at most 0.1 % a row (the
z of their difference is at most 3.29 x (h1 + h2) / sqrt(h1^2 + h2^2) >= 3.29 standard errors
away), so a whole check of ~16 rows raises a false alarm at most ~1.6 % of the times the
model changed nothing but the size or the seed.
"""
from __future__ import annotations

import dataclasses
import math
import re
import statistics

from .intervals import Estimate
from .measurements import MEASURES, Result
from .sim import Runs
from .targets import Target

CHECK_STRETCH = statistics.NormalDist().inv_cdf(1 - 0.001 / 2) / statistics.NormalDist().inv_cdf(1 - 0.05 / 2)
COLUMNS = ("id", "quantity", "published", "source", "role", "ctcsim [95 % interval]", "verdict", "why")


@dataclasses.dataclass(frozen=True)
class Row:
    target: Target
    result: Result
    verdict: str


def number(x: float) -> str:
    if math.isnan(x):
        return "undefined"
    return "inf" if math.isinf(x) else f"{x:.4g}"


def value_text(e: Estimate) -> str:
    return f"{number(e.value)} [{number(e.low)}, {number(e.high)}]"


def verdict(target: Target, result: Result) -> str:
    """inside: the interval meets [low, high]; else MISS, below or above, by the factor between
    the interval's nearer end and the range (a row without a range states its own)."""
    if result.verdict is not None:
        return result.verdict
    e = result.estimate
    if math.isnan(e.value):
        return "MISS: no value (undefined)"
    if e.high < target.low:
        return f"MISS: below, by {target.low / e.high:.3g}x" if e.high > 0 else "MISS: below (0)"
    if e.low > target.high:
        return f"MISS: above, by {e.low / target.high:.3g}x" if target.high > 0 else "MISS: above"
    return "inside"


def build(targets: list[Target], runs: Runs) -> list[Row]:
    """Every target measured and judged, in the file's order; a target without a registered
    measurement is an error (the dossier lists every row)."""
    missing = [t.id for t in targets if t.id not in MEASURES]
    if missing:
        raise ValueError(f"targets.toml: no measurement registered for {', '.join(missing)} "
                         "(ctcsim/validation/measurements.py, MEASURES)")
    rows = []
    for t in targets:
        runs.say(f"measuring {t.id}")
        result = MEASURES[t.id](runs)
        rows.append(Row(t, result, verdict(t, result)))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def table(rows: list[Row]) -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        t = r.target
        published = f"{t.published}; judged against {t.low:g}-{t.high:g}" if t.has_range else t.published
        cells = (t.id, f"{t.quantity} ({t.unit})", published, t.source, t.role,
                 value_text(r.result.estimate), r.verdict, "; ".join(r.result.why))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


_ROW = re.compile(r"^\| (?P<id>[^|]+?) \|(?:[^|]*\|){3} (?P<role>[^|]+?) \| (?P<value>[^|]+?) \|")
_VALUE = re.compile(r"^(\S+) \[(\S+), (\S+)\]$")


def _float(text: str) -> float:
    return math.nan if text == "undefined" else float(text)


def parse(text: str, where: str) -> dict[str, tuple[str, Estimate]]:
    """The dossier table of ``text``: id -> (role, estimate).  Not a dossier: ValueError naming ``where``."""
    out = {}
    header = "| " + " | ".join(COLUMNS) + " |"
    lines = text.splitlines()
    if header not in lines:
        raise ValueError(f"{where}: no dossier table (header {header!r})")
    for line in lines[lines.index(header) + 2:]:
        if not line.startswith("|"):
            break
        m = _ROW.match(line)
        v = _VALUE.match(m.group("value")) if m else None
        if not v:
            raise ValueError(f"{where}: cannot read the table row {line[:60]!r}")
        value, low, high = map(_float, v.groups())
        out[m.group("id")] = (m.group("role"), Estimate(value, low, high, ""))
    return out


def agree(a: Estimate, b: Estimate) -> bool:
    """Their intervals stretched to 99.9 % meet (see the module docstring).  An undefined value
    (0 of 0) has the interval of no information, which meets any other."""
    a, b = a.widened(CHECK_STRETCH), b.widened(CHECK_STRETCH)
    return a.low <= b.high and b.low <= a.high


def check(rows: list[Row], committed: dict[str, tuple[str, Estimate]]) -> list[str]:
    """What differs between a fresh build and a committed dossier's table (empty: agreement)."""
    problems = []
    fresh = {r.target.id: r for r in rows}
    for i in fresh.keys() - committed.keys():
        problems.append(f"{i}: not in the committed dossier")
    for i in committed.keys() - fresh.keys():
        problems.append(f"{i}: in the committed dossier, not in targets.toml")
    for i in [i for i in fresh if i in committed]:
        role, e = committed[i]
        r = fresh[i]
        if role != r.target.role:
            problems.append(f"{i}: role {role!r} committed, {r.target.role!r} in targets.toml")
        if not agree(e, r.result.estimate):
            problems.append(f"{i}: committed {value_text(e)}, now {value_text(r.result.estimate)} "
                            f"(intervals at 99.9 % do not meet)")
    return problems
