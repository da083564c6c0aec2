"""Parameters by name: a dotted path to any number of a scenario.

    biology.k_on_per_s                  a Biology field
    biology.cluster_exponent.nk         a factor table's entry (phenotype_factor.GROUP.I: one of three)
    primary.diameter_median_um          a field of the primary (a built-in one is written inline)
    entry.tumour_mass_g                 a field of the entry
    t_max_s                             the end of observation
    anatomy.COMPARTMENT.nk_rel          a compartment's number (a built-in anatomy is written inline)
    anatomy.cardiac_output_l_min        an anatomy's own number
    soil.ORGAN.niche                    an organ's soil factor (niche, inflammation, macrophage, growth)
    adhesion.ORGAN                      an organ's adhesion (tropism) factor
    arms.NAME.multipliers.k_on_per_s    an arm's multiplier; arms.NAME.start_s its start

``with_values`` returns a new Scenario built by ``scenario.from_dict`` from the modified
``to_dict()``, so every value is validated by the scenario's own rules.  A path that names
nothing, or a value the scenario refuses, is a ``ScenarioError`` naming the study file and key.
Integer fields (``biology.micro_cells``, ``anatomy.X.stages``) take the nearest integer.
"""
from __future__ import annotations

import copy
import difflib
import math

from .. import anatomy as _anatomy
from .. import scenario as _scenario
from ..biology import SOIL_FACTORS
from ..checks import ScenarioError, to_dict

_SOIL = SOIL_FACTORS


def with_values(s: _scenario.Scenario, values: dict, where: str, key: str = "parameters") -> _scenario.Scenario:
    """The scenario with each ``path: value`` of ``values`` set, validated as a whole."""
    d = copy.deepcopy(s.to_dict())  # to_dict shares the scenario's own tables
    for path, x in values.items():
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ScenarioError(where, key, f"{path}: expected a finite number, got {x!r}")
        parent, leaf = _locate(d, path, where, key)
        old = parent[leaf] if isinstance(parent, list) or leaf in parent else None
        parent[leaf] = int(round(x)) if isinstance(old, int) and not isinstance(old, bool) else float(x)
    try:
        return _scenario.from_dict(d, f"{where}: {key}")
    except ScenarioError as e:
        shown = ", ".join(f"{p} = {v:.6g}" for p, v in values.items())
        raise ScenarioError(where, key, f"{shown}: {e.key + ': ' if e.key else ''}{e.problem}") from None


def value(s: _scenario.Scenario, path: str, where: str = "<parameters>", key: str = "path"):
    """The number at ``path`` (None where the scenario leaves it to a table: adhesion and soil
    factors from the tropism table; 1 for unset multipliers)."""
    parent, leaf = _locate(copy.deepcopy(s.to_dict()), path, where, key)
    if leaf in parent:
        return parent[leaf]
    return None if path.startswith(("adhesion.", "soil.")) else 1.0


def check(s: _scenario.Scenario, path: str, where: str, key: str):
    """Refuse a path that names no number of ``s`` (one line naming ``where`` and ``key``)."""
    _locate(copy.deepcopy(s.to_dict()), path, where, key)


def _locate(d: dict, path: str, where: str, key: str) -> tuple[dict | list, str | int]:
    """(container, key) of the number at ``path`` in the scenario table ``d``, which is
    modified in place where a built-in anatomy or primary must be written inline."""
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or not all(parts):
        raise ScenarioError(where, key, f"expected a parameter path such as 'biology.k_on_per_s', got {path!r}")
    head = parts[0]
    if head == "anatomy" and isinstance(d.get("anatomy"), str):
        d["anatomy"] = _anatomy.builtin(d["anatomy"]).to_dict()
    if head == "primary" and isinstance(d.get("primary"), str):
        d["primary"] = to_dict(_scenario.builtin_primary(d["primary"]))
    node = d
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = _entry(node, part, parts[:i], path, where, key)
        elif part in node:
            node = node[part]
        elif head == "anatomy" and i == 1:
            node = _named(node.get("compartments", []), part, "compartment", path, where, key)
        elif _open(parts[:i + 1]):
            node = node.setdefault(part, {})
        else:
            raise _unknown(path, part, node, where, key)
        if not isinstance(node, (dict, list)):
            raise ScenarioError(where, key, f"{path}: {'.'.join(parts[:i + 1])} is {_kind(node)}; nothing is below it")
    leaf = parts[-1]
    if isinstance(node, list):
        _entry(node, leaf, parts[:-1], path, where, key)
        leaf = int(leaf)
    elif leaf not in node:
        if not _open(parts) or (head == "soil" and leaf not in _SOIL):
            raise _unknown(path, leaf, _SOIL if head == "soil" else node, where, key)
        return node, leaf
    if not _is_number(node[leaf]):
        raise ScenarioError(where, key, f"{path}: names {_kind(node[leaf])}, not a number")
    return node, leaf


def _open(parts: list[str]) -> bool:
    """Whether the last of ``parts`` may be a key the scenario does not hold yet (it takes a default)."""
    return (parts[0] == "soil" and len(parts) in (2, 3)) or (parts[0] == "adhesion" and len(parts) == 2) or \
        (parts[0] == "arms" and len(parts) == 4 and parts[2] == "multipliers")


def _entry(items: list, part: str, above: list[str], path: str, where: str, key: str):
    """An arm by name, else a list entry by index."""
    if above == ["arms"]:
        return _named(items, part, "arm", path, where, key)
    if not part.isdigit() or int(part) >= len(items):
        raise ScenarioError(where, key, f"{path}: {'.'.join(above)} has {len(items)} entries; "
                                        f"expected an index from 0 to {len(items) - 1}")
    return items[int(part)]


def _named(items: list, name: str, what: str, path: str, where: str, key: str) -> dict:
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    raise _unknown(path, name, [i.get("name") for i in items if isinstance(i, dict)], where, key, what)


def _unknown(path, part, options, where, key, what="key") -> ScenarioError:
    if isinstance(options, dict):  # what a path may go on to: numbers and tables
        options = [k for k, v in options.items() if _is_number(v) or isinstance(v, (dict, list))]
    options = [str(o) for o in options]
    near = difflib.get_close_matches(str(part), options, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else (f"; expected one of {', '.join(options)}" if options else "")
    return ScenarioError(where, key, f"{path}: unknown {what} {part!r}{hint}")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _kind(x) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "true or false"}.get(type(x), "a number")
