"""What a user must be told about a valid scenario before its numbers are trusted (issue 12):
a primary that has no tropism table (every organ factor 1), and a ``[primary]`` that bears a
built-in's name but changes some of its values.  ``ctcsim validate`` and ``ctcsim run`` print
them; the summary and the report repeat the first."""
from __future__ import annotations

import dataclasses

from .. import tropism
from .schema import Primary, Scenario, builtin_primaries


def notes(s: Scenario) -> list[str]:
    return [n for n in (no_tropism_note(s), changed_primary_note(s)) if n]


def no_tropism_note(s: Scenario) -> str | None:
    """A primary without a tropism table, whose scenario gives no factor other than 1 (a run
    records the factors it used inline, so "none given" and "all 1" are the same)."""
    primary = s.resolved_primary().name
    given = [*s.adhesion.values(), *(x for f in s.soil.values() for x in f.values())]
    if primary in tropism.list_tables() or any(float(x) != 1.0 for x in given):
        return None
    return (f"The primary {primary!r} has no tropism table: every organ's adhesion factor and soil "
            "factors are 1 (flow and trapping alone decide where units arrest, and every organ is the same soil); "
            "give [adhesion] and [soil] factors in the scenario to change that.")


def changed_primary_note(s: Scenario) -> str | None:
    """An inline [primary] named like a built-in starts from the built-in (``files.from_dict``):
    say which of its values the scenario changed."""
    if not isinstance(s.primary, Primary):
        return None
    builtin = builtin_primaries().get(s.primary.name)
    if builtin is None:
        return None
    changed = [f"{f.name} = {getattr(s.primary, f.name)!r} (built-in: {getattr(builtin, f.name)!r})"
               for f in dataclasses.fields(Primary) if f.name not in ("description", "source")
               and getattr(s.primary, f.name) != getattr(builtin, f.name)]
    if not changed:
        return None
    return (f"[primary] {s.primary.name!r} is the built-in primary with " + "; ".join(changed) +
            "; its other values are the built-in's.")
