"""Mutations of scenario files for the fuzzer (bench/fuzz_scenarios.py): what each file is.

``make(seed, i, bases())`` is file ``i`` of ``seed``, the same bytes on every machine: a base
scenario (a built-in one, as written or with its anatomy and primary inlined, or
tests/conftest.py's RICH, alone or with arms) with one to three changes to its table (keys
deleted, renamed or retyped, numbers made extreme or scaled, list items dropped or doubled,
unknown keys, arms with extreme multipliers, values swapped), then, for a quarter of the
files, one to its bytes (not UTF-8, truncated, control characters, a flipped bit, UTF-16, a
byte-order mark, nesting up to 5,000 deep, 4 MB strings or comments, 200,000 numbers, 100,000
keys).
"""
from __future__ import annotations

import copy
import dataclasses
import importlib.util
import math
import random
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parents[1]
EXTREMES = [0, -0.0, -1, 5e-324, 1e-300, 1e-9, 1e9, 1e300, 1.7976931348623157e308, 2**31 - 1, 2**31, 2**63 - 1,
            -2**63, 2**64, 10**30, math.nan, math.inf, -math.inf]
OTHER_TYPES = ["", "x", True, False, [], [1.0], {}, {"a": 1}, 1, 1.5, "1.0"]


def bases() -> list[tuple[str, dict]]:
    """(name, scenario table) of every scenario mutated."""
    from ctcsim import scenario as sc
    from ctcsim._compat import tomllib
    spec = importlib.util.spec_from_file_location("ctcsim_test_conftest", REPO / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    out = [("rich", tomllib.loads(conftest.RICH))]
    arms = [{"name": "control"}, {"name": "treated", "multipliers": {"k_on_per_s": 0.1, "k_nk_per_s": 2.0}},
            {"name": "late", "start_s": 100.0, "multipliers": {"anoikis_eta_s": 0.5}}]
    out.append(("rich+arms", {**out[0][1], "arms": arms}))
    for name in sc.builtin_scenario_names():
        s = sc.builtin_scenario(name)
        out.append((name, tomllib.loads((REPO / "ctcsim" / "data" / "scenarios" / f"{name}.toml").read_text())))
        resolved = dataclasses.replace(s, anatomy=s.resolved_anatomy(), primary=s.resolved_primary())
        out.append((f"{name}:resolved", tomllib.loads(sc.dumps(resolved))))
    return out


def paths(d, prefix=()):
    """Every key path in a table (list items by index), parents before children."""
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    for k, v in items:
        yield prefix + (k,)
        yield from paths(v, prefix + (k,))


def parent(d, path):
    for k in path[:-1]:
        d = d[k]
    return d


def _number_paths(d):
    """Number paths, those outside the anatomy first half the time (an inlined anatomy has
    hundreds, and would drown the biology)."""
    found = [p for p in paths(d) if isinstance(parent(d, p)[p[-1]], (int, float)) and not isinstance(
        parent(d, p)[p[-1]], bool)]
    model = [p for p in found if p[0] != "anatomy"]
    return found, model


def _name(path) -> str:
    return ".".join(str(k) for k in path)


def delete(rng, d):
    if not d:
        return unknown_key(rng, d)
    p = rng.choice(list(paths(d)))
    parent(d, p).pop(p[-1])
    return f"delete {_name(p)}"


def rename(rng, d):
    named = [p for p in paths(d) if isinstance(p[-1], str)]
    if not named:
        return unknown_key(rng, d)
    p = rng.choice(named)
    k = p[-1]
    new = rng.choice([k[:-1], k + "s", k.upper(), k.replace("_", ""), "x" + k, ""])
    t = parent(d, p)
    t[new] = t.pop(k)
    return f"rename {_name(p)} -> {new!r}"


def retype(rng, d):
    if not d:
        return unknown_key(rng, d)
    p = rng.choice(list(paths(d)))
    v = copy.deepcopy(rng.choice(OTHER_TYPES))
    parent(d, p)[p[-1]] = v
    return f"retype {_name(p)} = {v!r}"


def _number_path(rng, d):
    found, model = _number_paths(d)
    return rng.choice(model if model and rng.random() < 0.5 else found) if found else None


def extreme(rng, d):
    p = _number_path(rng, d)
    if p is None:
        return unknown_key(rng, d)
    v = rng.choice(EXTREMES)
    parent(d, p)[p[-1]] = v
    return f"set {_name(p)} = {v!r}"


def scale(rng, d):
    p = _number_path(rng, d)
    if p is None:
        return unknown_key(rng, d)
    f = rng.choice([0.0, -1.0, 1e-6, 1e6, 0.5, 2.0, 1e-300])
    t = parent(d, p)
    t[p[-1]] = t[p[-1]] * f
    return f"scale {_name(p)} x {f!r}"


def unknown_key(rng, d):
    tables = [()] + [p for p in paths(d) if isinstance(parent(d, p)[p[-1]], dict)]
    p = rng.choice(tables)
    (parent(d, p + ("",)) if p else d)["surprise"] = 1.0
    return f"add {_name(p + ('surprise',))}"


def list_item(rng, d):
    lists = [p for p in paths(d) if isinstance(parent(d, p)[p[-1]], list) and parent(d, p)[p[-1]]]
    if not lists:
        return delete(rng, d)
    p = rng.choice(lists)
    items = parent(d, p)[p[-1]]
    i = rng.randrange(len(items))
    if rng.random() < 0.5:
        items.pop(i)
        return f"drop {_name(p)}[{i}]"
    items.insert(i, copy.deepcopy(items[i]))
    return f"double {_name(p)}[{i}]"


def add_arm(rng, d):
    from ctcsim.scenario import MULTIPLIABLE
    k = rng.choice(MULTIPLIABLE)
    v = rng.choice(EXTREMES + [0.0, 3.0, 5.0, 1e-3])
    arm = {"name": rng.choice(["arm", "control", "x y", ""]), "multipliers": {k: v}}
    if rng.random() < 0.3:
        arm["start_s"] = rng.choice([1.0, 100.0, 1e6, 1e300])
    d.setdefault("arms", [])
    if isinstance(d["arms"], list):
        d["arms"].append(arm)
    return f"arm {arm}"


def swap(rng, d):
    if len(list(paths(d))) < 2:
        return unknown_key(rng, d)
    p, q = rng.sample(list(paths(d)), 2)
    a, b = parent(d, p), parent(d, q)
    try:
        a[p[-1]], b[q[-1]] = copy.deepcopy(b[q[-1]]), copy.deepcopy(a[p[-1]])
    except (KeyError, IndexError, TypeError):  # one path inside the other
        return delete(rng, d)
    return f"swap {_name(p)} <-> {_name(q)}"


TABLE_MUTATIONS = [(delete, 3), (rename, 2), (retype, 3), (extreme, 5), (scale, 2), (unknown_key, 1), (list_item, 2),
                   (add_arm, 2), (swap, 1)]


def not_utf8(rng, data):
    i = rng.randrange(len(data) + 1)
    b = bytes([rng.randrange(0x80, 0x100)])
    return f"byte {b.hex()} at {i}", data[:i] + b + data[i:]


def truncate(rng, data):
    i = rng.randrange(len(data))
    return f"truncate at {i}", data[:i]


def control(rng, data):
    i = rng.randrange(len(data) + 1)
    c = rng.choice([b"\x00", b"\x07", b"\x1b", b"\r", b"\x7f"])
    return f"control {c!r} at {i}", data[:i] + c + data[i:]


def flip(rng, data):
    i = rng.randrange(len(data))
    return f"flip byte {i}", data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]


def utf16(rng, data):
    return "UTF-16", data.decode("utf-8").encode("utf-16")


def bom(rng, data):
    return "byte-order mark", b"\xef\xbb\xbf" + data


def deep(rng, data):
    n = rng.choice([50, 400, 1000, 5000])
    if rng.random() < 0.5:
        return f"tables nested {n} deep", data + b"\ndeep = " + b"{a = " * n + b"1" + b"}" * n + b"\n"
    return f"lists nested {n} deep", data + b"\ndeep = " + b"[" * n + b"]" * n + b"\n"


def huge(rng, data):
    kind = rng.choice(["string", "comment", "list", "keys"])
    if kind == "string":
        return "a 4 MB description", data.replace(b'name = ', b'description = "' + b"x" * (4 << 20) + b'"\nname = ', 1)
    if kind == "comment":
        return "4 MB of comments", b"# " + b"y" * (4 << 20) + b"\n" + data
    if kind == "list":
        return "a list of 200,000 numbers", b"big = [" + b"1.0, " * 200_000 + b"]\n" + data
    return "100,000 keys", b"".join(b"k%d = 1\n" % i for i in range(100_000)) + data


BYTE_MUTATIONS = [(not_utf8, 3), (truncate, 2), (control, 2), (flip, 2), (utf16, 1), (bom, 1), (deep, 2), (huge, 1)]


def _pick(rng, weighted):
    return rng.choices([f for f, _ in weighted], [w for _, w in weighted])[0]


def make(seed: int, i: int, base_list) -> tuple[str, bytes]:
    """File ``i`` of ``seed``: (what was done, its bytes)."""
    rng = random.Random(f"{seed}:{i}")
    name, table = rng.choice(base_list)
    d = copy.deepcopy(table)
    done = [name]
    if rng.random() < 0.8:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            done.append(_pick(rng, TABLE_MUTATIONS)(rng, d))
    data = tomli_w.dumps(d).encode()
    if rng.random() < 0.25:
        what, data = _pick(rng, BYTE_MUTATIONS)(rng, data)
        done.append(what)
    return "; ".join(done), data
