"""Why the model misses a published number: ctcsim/data/validation/misses.toml, one diagnosis
per target id, printed by the dossier beside each row whose verdict is a MISS."""
from __future__ import annotations

from importlib import resources

from ..checks import ScenarioError, parse_toml

WHERE = "ctcsim/data/validation/misses.toml"


def load(ids, text: str | None = None, where: str = WHERE) -> dict[str, str]:
    """id -> diagnosis (``text`` None: the shipped file).  An id that is not one of ``ids`` (the
    targets'), or an entry without a non-empty ``diagnosis`` string, is an error naming it."""
    if text is None:
        text = (resources.files("ctcsim") / WHERE.removeprefix("ctcsim/")).read_text(encoding="utf-8")
    out = {}
    for key, entry in parse_toml(text, where).items():
        if key not in ids:
            raise ScenarioError(where, key, "not a target id of ctcsim/data/validation/targets.toml")
        if not isinstance(entry, dict) or set(entry) != {"diagnosis"} or not isinstance(entry["diagnosis"], str) \
                or not entry["diagnosis"].strip():
            raise ScenarioError(where, key, "expected one key, diagnosis = a non-empty string")
        out[key] = entry["diagnosis"].strip()
    return out
