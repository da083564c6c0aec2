"""A scenario as TOML to edit and run (``ctcsim scenario show``): every value written out, the
primary and the tropism factors included, each key with a comment, arms last.

- The primary is written as a ``[primary]`` table; named like a built-in, it still starts from
  the built-in (``files.from_dict``), so editing one value changes only that value.
- ``[adhesion]`` and ``[soil]`` hold every organ's factors as the tropism table resolves them
  (``tropism.inline_factors``): the printed scenario runs exactly as the original does.
- Comments: those of the file the scenario was read from (a built-in's own), key by key, and
  for the other keys the documentation of the field (``checks.spec(doc=...)``).
- ``[[arms]]`` come last, and no ``arms = []`` is written, so appending ``[[arms]]`` works.
"""
from __future__ import annotations

import dataclasses
import math
import re

import tomli_w

from .. import tropism
from ..checks import toml_fields, to_dict
from .schema import Arm, Biology, Entry, Primary, Scenario

_KEY = re.compile(r'^\s*([A-Za-z0-9_-]+|"[^"]*")\s*=')
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
ROOT = ("name", "description", "anatomy", "t_max_s")


def commented(s: Scenario, source: str = "", inline_anatomy: bool = False) -> str:
    """``s`` as commented TOML; ``source``: the text it was read from, whose comments are kept."""
    anatomy = s.resolved_anatomy()
    inline_anatomy = inline_anatomy or not isinstance(s.anatomy, str)
    adhesion, soil = tropism.inline_factors(s, anatomy)
    c = _Comments(source)
    out = c.header + ["# Printed by 'ctcsim scenario show': every value written out, the primary and the tropism",
                      "# factors included. Edit it and run it with 'ctcsim run FILE'.", ""]
    for key in ROOT:
        value = getattr(s, key)
        if key == "anatomy" and inline_anatomy:
            continue
        out.append(_line(key, value, c.get("", key) or _doc(Scenario, key)))
    prim = s.resolved_primary()
    out += ["", *c.block("primary"), "[primary]"]
    if isinstance(s.primary, str):
        out.append(f"# The built-in primary {s.primary!r} (ctcsim/data/primaries.toml). A [primary] with a built-in's "
                   "name starts from it: a key deleted here keeps the built-in value.")
    out += _table(to_dict(prim), Primary, c, "primary")
    for section, cls in (("entry", Entry), ("biology", Biology)):
        out += ["", *c.block(section), f"[{section}]", *_table(to_dict(getattr(s, section)), cls, c, section)]
    out += ["", *_tropism_comment(s, prim.name), "[adhesion]"]
    out += [_line(o, x, c.get("adhesion", o)) for o, x in adhesion.items()]
    out += ["", "# Per organ, after arrest: soil factors (niche: extravasation; inflammation: waking; macrophage:",
            "# killing in the capillary; growth: the colony's divisions, where the tropism table puts seed and soil).",
            "[soil]"]
    for organ, factors in soil.items():
        notes = [f"{k}: {c.get(f'soil.{organ}', k)[2:]}" for k in factors if c.get(f"soil.{organ}", k)]
        out += [*c.block(f"soil.{organ}"), _line(organ, factors, "# " + "; ".join(notes) if notes else "")]
    if inline_anatomy:
        out += ["", tomli_w.dumps({"anatomy": anatomy.to_dict()}).rstrip()]
    out += ["", *_arms(s, c)]
    return "\n".join(out) + "\n"


def _arms(s: Scenario, c: "_Comments") -> list[str]:
    if not s.arms:
        return ["# Arms: append [[arms]] tables below. Without any, the scenario runs one arm, 'control';",
                "# with them, only the arms listed run (every arm on the same units and random numbers), e.g.",
                "# [[arms]]", '# name = "control"', "# [[arms]]", '# name = "anti_platelet"',
                "# multipliers = { k_on_per_s = 0.1 }   # biology parameters multiplied in this arm"]
    out = []
    for i, arm in enumerate(s.arms):
        out += [*c.block(f"arms[{i}]"), "[[arms]]", *_table(to_dict(arm), Arm, c, f"arms[{i}]"), ""]
    return out


def _tropism_comment(s: Scenario, primary: str) -> list[str]:
    if primary in tropism.list_tables():
        where = f"the tropism table ctcsim/data/tropism/{primary}.csv"
        if s.adhesion or s.soil:
            where += " and the scenario's own factors"
        return [f"# Adhesion (tropism) factor per organ: from {where}."]
    return [f"# The primary {primary!r} has no tropism table: every factor is 1 unless given here."]


def _table(d: dict, cls, c: "_Comments", section: str) -> list[str]:
    return [_line(k, v, c.get(section, k) or _doc(cls, k)) for k, v in d.items()]


def _doc(cls, key: str) -> str:
    field = toml_fields(cls).get(key)
    doc = field.metadata["doc"] if field is not None else ""
    return f"# {doc}" if doc else ""


def _line(key: str, value, comment: str) -> str:
    text = f"{_key(key)} = {_value(value)}"
    return f"{text:<40} {comment}".rstrip() if comment else text


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else tomli_w.dumps({key: 0}).split(" = ")[0]


def _value(x) -> str:
    if isinstance(x, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in x.items()) + " }" if x else "{}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in x) + "]"
    if dataclasses.is_dataclass(x):
        return _value(to_dict(x))
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return tomli_w.dumps({"x": x})[4:-1]


class _Comments:
    """The comments of a TOML text: its leading block (``header``), each key's end-of-line
    comment (``get``), and the comment lines just before a table header (``block``).
    Sections of an array of tables are named ``arms[0]``, ``arms[1]``..."""

    def __init__(self, text: str):
        self.header, self._keys, self._blocks = [], {}, {}
        section, pending, counts, top = "", [], {}, True
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                (self.header if top else pending).append(stripped)
                continue
            if not stripped:
                pending = []
                continue
            top = False
            header = _HEADER.match(line)
            if header:
                section = header.group(2)
                if header.group(1) == "[[":
                    counts[section] = counts.get(section, -1) + 1
                    section = f"{section}[{counts[section]}]"
                self._blocks[section], pending = pending, []
                continue
            key = _KEY.match(line)
            comment = _end_comment(line)
            if key and comment:
                self._keys[(section, key.group(1).strip('"'))] = comment
            pending = []

    def get(self, section: str, key: str) -> str:
        return self._keys.get((section, key), "")

    def block(self, section: str) -> list[str]:
        return self._blocks.get(section, [])


def _end_comment(line: str) -> str:
    """The comment at the end of a TOML line ("" if none): the first '#' outside a string."""
    quote, escaped = None, False
    for i, ch in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[i:].strip()
    return ""
