"""Reading plain TOML data into dataclasses, with errors that name the file and the key.

Every dataclass read from TOML declares, per field, the TOML type it expects
and the range it accepts (``spec(...)`` in the field's metadata).  ``build``
checks a mapping against that and reports the first mistake as one line:
``FILE: KEY: what was expected, what was found``.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Callable


class ScenarioError(ValueError):
    """A scenario, anatomy or table that cannot be used; the message names file and key."""

    def __init__(self, where: str, key: str, problem: str):
        self.where, self.key, self.problem = where, key, problem
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


_NAMES = {float: "a number", int: "an integer", str: "a string", bool: "true or false",
          list: "a list", dict: "a table"}


def spec(kind, default=dataclasses.MISSING, check: Callable[[Any], str | None] | None = None, doc=""):
    """A dataclass field read from TOML: its type, default, range check and meaning."""
    meta = {"kind": kind, "check": check, "doc": doc}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def at_least(lo, strict=False):
    def check(x):
        if x < lo or (strict and x == lo) or (isinstance(x, float) and math.isnan(x)):
            return f"expected a value {'>' if strict else '>='} {lo}, got {x!r}"
        return None
    return check


def between(lo, hi):
    def check(x):
        if not lo <= x <= hi:
            return f"expected a value in [{lo}, {hi}], got {x!r}"
        return None
    return check


def one_of(*options):
    def check(x):
        return None if x in options else f"expected one of {', '.join(map(repr, options))}, got {x!r}"
    return check


positive = at_least(0.0, strict=True)
non_negative = at_least(0.0)
probability = between(0.0, 1.0)


def unknown_keys(data: dict, allowed, where: str, path: str):
    for key in data:
        if key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys: {', '.join(sorted(allowed))}"
            raise ScenarioError(where, join(path, key), f"unknown key{hint}")


def value(x, kind, where: str, key: str):
    """Check one TOML value's type (ints are accepted where numbers are)."""
    if kind is float and isinstance(x, int) and not isinstance(x, bool):
        return float(x)
    if kind is float and isinstance(x, float):
        if math.isnan(x):
            raise ScenarioError(where, key, "expected a number, got nan")
        return x
    if isinstance(x, kind) and not (kind is int and isinstance(x, bool)):
        return x
    raise ScenarioError(where, key, f"expected {_NAMES.get(kind, kind.__name__)}, got {_show(x)}")


def build(cls, data, where: str, path: str = "", **nested):
    """Make ``cls`` from a TOML table; ``nested`` gives builders for non-plain fields."""
    if not isinstance(data, dict):
        raise ScenarioError(where, path, f"expected a table, got {_show(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown_keys(data, fields, where, path)
    kwargs = {}
    for name, f in fields.items():
        key = join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ScenarioError(where, key, "missing (required)")
            continue
        if name in nested:
            kwargs[name] = nested[name](data[name], where, key)
            continue
        x = value(data[name], f.metadata["kind"], where, key)
        check = f.metadata.get("check")
        problem = check(x) if check else None
        if problem:
            raise ScenarioError(where, key, problem)
        kwargs[name] = x
    return cls(**kwargs)


def to_dict(obj) -> dict:
    """A dataclass as a TOML-ready dict (None fields left out)."""
    out = {}
    for f in dataclasses.fields(obj):
        x = getattr(obj, f.name)
        if x is None:
            continue
        if dataclasses.is_dataclass(x):
            x = to_dict(x)
        elif isinstance(x, list) and x and dataclasses.is_dataclass(x[0]):
            x = [to_dict(i) for i in x]
        out[f.name] = x
    return out


def join(path: str, key: str) -> str:
    """A dotted key path (``path`` may be empty)."""
    return f"{path}.{key}" if path else key


def _show(x):
    kind = {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(type(x), type(x).__name__)
    return f"{kind} {x!r}" if not isinstance(x, (dict, list)) else kind
