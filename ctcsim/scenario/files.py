"""Scenarios in and out of TOML: files, text, tables and the built-in scenarios.

Everything read is validated (``validation.validate``) and remembers where it came
from (``schema.origin``).  ``loads(dumps(s)) == s`` for every valid scenario.
"""
from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import tomli_w

from .. import anatomy as _anatomy
from ..checks import ScenarioError, build, parse_toml, read_toml, to_dict
from .schema import Arm, Entry, Primary, Scenario, build_biology, builtin_primaries
from .validation import validate

DEFAULT_SCENARIO = "breast"


def from_dict(data: dict, where: str = "<scenario>") -> Scenario:
    """Read and validate a scenario table; every error names ``where`` and the key."""
    def anatomy(x, w, k):
        return x if isinstance(x, str) else _anatomy.from_dict(x, w, k)

    def primary(x, w, k):
        # A [primary] named like a built-in starts from it: a partial table changes what it
        # gives and keeps the rest (notes.changed_primary_note says what changed).
        builtin = builtin_primaries().get(x.get("name")) if isinstance(x, dict) else None
        if builtin is not None:
            x = {**to_dict(builtin), **x}
        return x if isinstance(x, str) else build(Primary, x, w, k)

    def arms(x, w, k):
        if not isinstance(x, list):
            raise ScenarioError(w, k, "expected a list of tables ([[arms]])")
        return [build(Arm, a, w, f"{k}[{i}]") for i, a in enumerate(x)]

    s = build(Scenario, data, where, "", anatomy=anatomy, primary=primary, arms=arms,
              biology=build_biology,
              entry=lambda x, w, k: build(Entry, x, w, k))
    s = dataclasses.replace(s, origin=where)
    validate(s)
    return s


def loads(text: str, where: str = "<string>") -> Scenario:
    return from_dict(parse_toml(text, where), where)


def load(path_or_name) -> Scenario:
    """A scenario from a TOML file, or a built-in one by name."""
    p = Path(path_or_name)
    if p.suffix == ".toml" or p.exists():
        return from_dict(read_toml(p), str(p))
    return builtin_scenario(str(path_or_name))


def dumps(s: Scenario) -> str:
    return tomli_w.dumps(s.to_dict())


def builtin_scenario_names() -> list[str]:
    files = resources.files("ctcsim") / "data" / "scenarios"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def builtin_scenario(name: str) -> Scenario:
    where = f"<built-in scenario {name}>"
    return from_dict(parse_toml(builtin_scenario_text(name), where), where)


def builtin_scenario_text(name: str) -> str:
    """The built-in scenario's file, comments and all."""
    if name not in builtin_scenario_names():
        raise ScenarioError(name, "", f"no such file, and no built-in scenario of that name; "
                                      f"built-in: {', '.join(builtin_scenario_names())}")
    return (resources.files("ctcsim") / "data" / "scenarios" / f"{name}.toml").read_text(encoding="utf-8")
