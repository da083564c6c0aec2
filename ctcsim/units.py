"""Readable numbers: durations with units, and fractions that never round a rare outcome to zero.

Times are float seconds everywhere in ctcsim; people think in hours, days and years.
``parse_duration`` reads ``"6h"``, ``"365d"``, ``"10y"``, ``"90 min"`` or a bare number of
seconds; ``duration`` prints seconds in the largest unit that keeps the number >= 1 (``"1.5 d"``),
and ``duration_s`` puts the seconds beside it (``"1.5 d (129,600 s)"``).  A year is the Julian
year, 365.25 days, as in astronomy and most of the clinical literature's follow-up times.

``fraction`` prints a fraction with significant digits, in scientific notation below 1e-3,
so that 3 units in 200,000 read ``1.5e-05``, not ``0.0000``; ``share`` adds the count.
"""
from __future__ import annotations

import math
import re

SECONDS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365.25 * 86400.0}
_ALIASES = {"": "s", "sec": "s", "second": "s", "seconds": "s", "m": "min", "mins": "min", "minute": "min",
            "minutes": "min", "hr": "h", "hour": "h", "hours": "h", "day": "d", "days": "d", "week": "w",
            "weeks": "w", "yr": "y", "year": "y", "years": "y"}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")
SIGNIFICANT = 3  # digits of a fraction: more than the Monte Carlo error resolves at any feasible size


def parse_duration(text) -> float:
    """Seconds in ``text``: a number with an optional unit (s, min, h, d, w, y; ``inf`` for
    no end).  ValueError, with the accepted forms, for anything else."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if str(text).strip().lower() in ("inf", "infinity"):
        return math.inf
    m = _DURATION.match(str(text))
    unit = _ALIASES.get(m.group(2).lower(), m.group(2).lower()) if m else None
    if unit not in SECONDS:
        raise ValueError(f"expected a duration such as 6h, 365d, 10y, 90min or 3600 (seconds), got {text!r}")
    return float(m.group(1)) * SECONDS[unit]


def duration(seconds) -> str:
    """``seconds`` in the largest unit in which it is at least 1, to 3 significant digits
    (129600 -> ``"1.5 d"``)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if math.isinf(seconds):
        return "no end"
    for unit in ("y", "d", "h", "min"):
        if abs(seconds) >= SECONDS[unit]:
            return f"{seconds / SECONDS[unit]:.3g} {unit}"
    return f"{seconds:.3g} s"


def duration_s(seconds) -> str:
    """A duration in readable units with the seconds beside it: ``"1 d (86,400 s)"``."""
    text = duration(seconds)
    if text in ("-", "no end") or text.endswith(" s"):
        return text
    return f"{text} ({seconds:,.0f} s)" if seconds >= 10 else f"{text} ({seconds:.3g} s)"


def fraction(x, signed: bool = False) -> str:
    """A fraction with ``SIGNIFICANT`` significant digits: plain from 1e-3 up, scientific
    below, exactly ``0`` only for zero."""
    if x is None or math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    sign = "+" if signed and x > 0 else ""
    if x == 0 or abs(x) == 1:
        return f"{sign}{x:g}"
    if abs(x) < 1e-3:
        return f"{sign}{x:.{SIGNIFICANT - 1}e}"
    digits = max(SIGNIFICANT - 1 - math.floor(math.log10(abs(x))), 0)
    if abs(x) < 1:  # near 1, enough digits to tell it from 1: 0.99981 must not read 1.00
        digits = max(digits, min(-math.floor(math.log10(1 - abs(x))), 12))
    return f"{sign}{x:.{digits}f}"


def interval(lo, hi, signed: bool = False) -> str:
    return f"[{fraction(lo, signed)}, {fraction(hi, signed)}]"


def share(count: int, n: int) -> str:
    """``"3 / 200,000 = 1.50e-05"``: the count beside the fraction."""
    return f"{count:,} / {n:,} = {fraction(count / n) if n else '-'}"


def horizon(t_max_s: float | None) -> dict:
    """The horizon as summaries and run metadata state it: ``horizon_s``, seconds (None when
    unknown or without end: JSON has no infinity), and ``horizon`` in words (``"10 y"``)."""
    if t_max_s is None:
        return {"horizon_s": None, "horizon": "not stated"}
    return {"horizon_s": t_max_s if math.isfinite(t_max_s) else None, "horizon": duration(t_max_s)}
