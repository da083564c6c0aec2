"""Reading plain TOML data into dataclasses, with errors that name the file and the key.

Every dataclass read from TOML declares, per field, the TOML type it expects
and the range it accepts (``spec(...)`` in the field's metadata).  ``build``
checks a mapping against that, ``check_fields`` an object however it was made;
both report the first mistake as one line: ``FILE: KEY: what was expected, what
was found``.

Numbers must be finite unless a field says otherwise (``t_max_s`` may be inf): an
inf or nan rate makes no model, only a run that never ends.  They are also at most
MAX_MAGNITUDE in size, and those that must be positive at least MIN_POSITIVE:
nothing in ctcsim's units comes near either (1e12 s is 30,000 years, 1e12 cells a
kilogram of tumour), and between them the model's products and powers of a few
numbers (exponents are bounded too) stay far inside double precision (1e308).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from pathlib import Path
from typing import Any, Callable

from ._compat import tomllib

SHOWN_CHARS = 60  # a value quoted in a message is cut to this: an error stays one readable line
MAX_MAGNITUDE = 1e12
MIN_POSITIVE = 1e-12
NUMBER = f"number of size at most {MAX_MAGNITUDE:g}"


class ScenarioError(ValueError):
    """A scenario, anatomy or table that cannot be used; the message names file and key."""

    def __init__(self, where: str, key: str, problem: str):
        self.where, self.key, self.problem = where, key, problem
        key = _cut(key, 4 * SHOWN_CHARS)
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


_NAMES = {float: "a number", int: "an integer", str: "a string", bool: "true or false",
          list: "a list", dict: "a table"}


def spec(kind, default=dataclasses.MISSING, check: Callable[[Any], str | None] | None = None, doc="",
         infinite=False):
    """A dataclass field read from TOML: its type, default, range check and meaning
    (``infinite``: a number field that may be inf, and so of any size)."""
    meta = {"kind": kind, "check": check, "doc": doc, "infinite": infinite}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def at_least(lo, strict=False, why=""):
    """``why``: the reason for a bound, which the message states."""
    def check(x):
        if x < lo or (strict and x == lo) or (isinstance(x, float) and math.isnan(x)):
            return f"expected a value {'>' if strict else '>='} {lo}{_because(why)}, got {show(x)}"
        return None
    return check


def between(lo, hi, why=""):
    def check(x):
        if not lo <= x <= hi:
            return f"expected a value in [{lo}, {hi}]{_because(why)}, got {show(x)}"
        return None
    return check


def one_of(*options):
    def check(x):
        return None if x in options else f"expected one of {', '.join(map(repr, options))}, got {show(x)}"
    return check


def all_of(*checks):
    def check(x):
        return next((p for p in (c(x) for c in checks) if p), None)
    return check


positive = at_least(MIN_POSITIVE, why="a positive number; none in ctcsim's units is smaller")
non_negative = at_least(0.0)
probability = between(0.0, 1.0)


def is_number(x) -> bool:
    """An int or float (not a bool) of size at most MAX_MAGNITUDE (so finite)."""
    return not isinstance(x, bool) and isinstance(x, (int, float)) and -MAX_MAGNITUDE <= x <= MAX_MAGNITUDE


def unknown_keys(data: dict, allowed, where: str, path: str):
    for key in data:
        if key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys: {', '.join(sorted(allowed))}"
            raise ScenarioError(where, join(path, key), f"unknown key{hint}")


def value(x, kind, where: str, key: str, infinite=False):
    """Check one value's type (ints are accepted where numbers are) and that a number is of size
    at most MAX_MAGNITUDE (or, where ``infinite``, any number but nan, inf included)."""
    if kind is float and not isinstance(x, bool) and isinstance(x, (int, float)):
        if is_number(x):
            return float(x)
        if infinite and not (isinstance(x, float) and math.isnan(x)):
            try:
                return float(x)
            except OverflowError:  # an int beyond a double
                pass
        raise ScenarioError(where, key, f"expected {'a number (or inf)' if infinite else 'a ' + NUMBER}, got {show(x)}")
    if isinstance(x, kind) and not (kind is int and isinstance(x, bool)):
        return x
    raise ScenarioError(where, key, f"expected {_NAMES.get(kind, kind.__name__)}, got {describe(x)}")


def field_value(f: dataclasses.Field, x, where: str, key: str):
    """One field's value, type- and range-checked against its spec."""
    x = value(x, f.metadata["kind"], where, key, f.metadata["infinite"])
    check = f.metadata["check"]
    problem = check(x) if check else None
    if problem:
        raise ScenarioError(where, key, problem)
    return x


def toml_fields(cls) -> dict[str, dataclasses.Field]:
    """The fields of a dataclass that TOML holds (those declared with ``spec``)."""
    return {f.name: f for f in dataclasses.fields(cls) if "kind" in f.metadata}


def build(cls, data, where: str, path: str = "", **nested):
    """Make ``cls`` from a TOML table; ``nested`` gives builders for non-plain fields."""
    if not isinstance(data, dict):
        raise ScenarioError(where, path, f"expected a table, got {describe(data)}")
    fields = toml_fields(cls)
    unknown_keys(data, fields, where, path)
    kwargs = {}
    for name, f in fields.items():
        key = join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ScenarioError(where, key, "missing (required)")
            continue
        x = data[name]
        kwargs[name] = nested[name](x, where, key) if name in nested else field_value(f, x, where, key)
    return cls(**kwargs)


def check_fields(obj, cls, where: str, path: str = "", skip=()):
    """Check an object's plain fields against ``cls``'s specs, however the object was made
    (``dataclasses.replace`` and the constructor check nothing).  ``skip``: the fields its
    caller checks itself (nested tables)."""
    if not isinstance(obj, cls):
        raise ScenarioError(where, path, f"expected a {cls.__name__}, got {describe(obj)}")
    for name, f in toml_fields(cls).items():
        x = getattr(obj, name)
        if name not in skip and not (x is None and f.default is None):
            field_value(f, x, where, join(path, name))


def to_dict(obj) -> dict:
    """A dataclass as a TOML-ready dict (None fields left out)."""
    out = {}
    for name in toml_fields(type(obj)):
        x = getattr(obj, name)
        if x is None:
            continue
        if dataclasses.is_dataclass(x):
            x = to_dict(x)
        elif isinstance(x, list) and x and dataclasses.is_dataclass(x[0]):
            x = [to_dict(i) for i in x]
        out[name] = x
    return out


def parse_toml(text: str, where: str) -> dict:
    """TOML text as a dict; every way it can fail is a ScenarioError naming ``where``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(where, "", f"not valid TOML: {e}") from None
    except RecursionError:  # the parser recurses once per level of nesting
        lines = text.splitlines()
        line = max(range(len(lines)), key=lambda i: lines[i].count("{") + lines[i].count("["))
        raise ScenarioError(where, "", f"not valid TOML here: tables or lists nested too deeply "
                                       f"(line {line + 1})") from None
    except ValueError as e:  # an integer beyond Python's digit limit for conversion
        raise ScenarioError(where, "", f"not valid TOML here: {_cut(str(e), 2 * SHOWN_CHARS)}") from None


def read_toml(path: Path | str, where: str | None = None) -> dict:
    """A TOML file as a dict: unreadable, not UTF-8 or not TOML is a ScenarioError."""
    where = str(path) if where is None else where
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ScenarioError(where, "", f"cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (some editors write one) is not content
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ScenarioError(where, "", f"not UTF-8 text (TOML files are UTF-8): byte 0x{raw[e.start]:02x} "
                                       f"on line {line}") from None
    return parse_toml(text, where)


def join(path: str, key: str) -> str:
    """A dotted key path (``path`` or ``key`` may be empty)."""
    return f"{path}.{key}" if path and key else path or key


def show(x) -> str:
    """A value as a message quotes it: its repr, cut short."""
    try:
        text = repr(x)
    except (ValueError, RecursionError):  # an int beyond the digit limit; a table nested too deeply
        text = f"<{type(x).__name__}>"
    return _cut(text, SHOWN_CHARS)


def describe(x) -> str:
    """What a value is, for a message that expected another kind."""
    kind = {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(type(x), type(x).__name__)
    return kind if isinstance(x, (dict, list)) else f"{kind} {show(x)}"


def _because(why: str) -> str:
    return f" ({why})" if why else ""


def _cut(text: str, n: int) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else f"{text[:n - 3]}..."
