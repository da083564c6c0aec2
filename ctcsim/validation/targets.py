"""The committed split: ctcsim/data/validation/targets.toml, read as ``Target`` rows.

The file is the record of which published numbers a fit may use (role "calibration") and
which stay predictions; the dossier reads it and never writes it.
"""
from __future__ import annotations

import dataclasses
import math
from importlib import resources

from ..checks import ScenarioError, parse_toml

WHERE = "ctcsim/data/validation/targets.toml"
ROLES = ("calibration", "prediction")
_TEXT = ("id", "quantity", "published", "unit", "system", "source", "role", "measure")


@dataclasses.dataclass(frozen=True)
class Target:
    id: str
    quantity: str
    published: str
    unit: str
    system: str
    source: str
    role: str
    measure: str
    low: float = math.nan    # the range a verdict is judged against; nan: the file gives none
    high: float = math.nan

    @property
    def has_range(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)


def load(text: str | None = None, where: str = WHERE) -> list[Target]:
    """The targets, in file order (``text`` None: the shipped file).  A row without a text
    field, with an unknown role, a repeated id, or a range that is not two numbers
    low <= high is an error naming the file and the row."""
    if text is None:
        text = (resources.files("ctcsim") / WHERE.removeprefix("ctcsim/")).read_text(encoding="utf-8")
    rows = parse_toml(text, where).get("target")
    if not isinstance(rows, list) or not rows:
        raise ScenarioError(where, "target", "expected [[target]] tables")
    out, seen = [], set()
    for i, row in enumerate(rows):
        key = f"target[{i}]"
        for field in _TEXT:
            if not isinstance(row.get(field), str) or not row[field]:
                raise ScenarioError(where, f"{key}.{field}", "expected a non-empty string")
        if row["id"] in seen:
            raise ScenarioError(where, f"{key}.id", f"repeated id {row['id']!r}")
        seen.add(row["id"])
        if row["role"] not in ROLES:
            raise ScenarioError(where, f"{key}.role", f"expected one of {', '.join(ROLES)}, got {row['role']!r}")
        bounds = [row.get("low"), row.get("high")]
        if bounds != [None, None]:
            numbers = all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
            if not numbers or bounds[0] > bounds[1]:
                raise ScenarioError(where, f"{key}.low", "expected numbers low <= high (or neither)")
        low, high = (math.nan, math.nan) if bounds == [None, None] else map(float, bounds)
        out.append(Target(**{f: row[f] for f in _TEXT}, low=low, high=high))
    return out
