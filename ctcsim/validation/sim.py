"""The dossier's simulations: built-in scenarios varied as each measurement says, run once each.

A measurement names its scenario by ``variant`` (a built-in scenario with another horizon,
biology multipliers, primary fields, entry or arms) and gets its fates from ``Runs``, which
simulates each variant once with its own seed (the run's seed plus the variant's fixed
offset: measurements are independent of each other and the whole dossier is reproducible
from one seed) and reports progress on stderr.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
import zlib

import numpy as np

from .. import scenario as sc
from ..checks import to_dict
from ..runner import iter_batches, simulate
from . import blood

DAY_S = 86400.0
YEAR_S = 365.25 * DAY_S
# Human horizons are those of a disease (issue 11: "say 10 y"): a human scenario is observed at
# least this long, so that micro- and macrometastases can form at all (its own horizon if longer).
HUMAN_HORIZON_S = 10 * YEAR_S


def variant(name, *, t_max_s: float | None = None, times: dict | None = None, primary: dict | None = None,
            entry: dict | None = None, arms: list | None = None) -> sc.Scenario:
    """Built-in scenario ``name`` (or a Scenario) with horizon ``t_max_s``, biology fields multiplied by
    ``times`` (field -> factor), primary fields replaced by ``primary`` (it keeps its name, so
    its tropism table), the entry replaced by ``entry`` and the arms by ``arms`` (dicts)."""
    base = sc.builtin_scenario(name) if isinstance(name, str) else name
    name = base.name
    d = base.to_dict()
    changes = []
    if t_max_s is not None:
        d["t_max_s"] = t_max_s
        changes.append(f"t_max_s {t_max_s:g}")
    for field, factor in (times or {}).items():
        d["biology"][field] = getattr(base.biology, field) * factor
        changes.append(f"{field} x {factor:g}")
    if primary:
        d["primary"] = {**to_dict(base.resolved_primary()), **primary}
        changes.append("primary " + ", ".join(primary))
    if entry is not None:
        d["entry"] = entry
        changes.append(f"entry {entry}")
    if arms is not None:
        d["arms"] = arms
    return sc.from_dict(d, f"<dossier: built-in {name}{': ' + '; '.join(changes) if changes else ''}>")


def human_horizon_s(name: str) -> float:
    """The horizon a human scenario (a built-in name or a Scenario) is measured at: its own if
    finite and longer than HUMAN_HORIZON_S, else HUMAN_HORIZON_S (all primaries alike)."""
    own = (sc.builtin_scenario(name) if isinstance(name, str) else name).t_max_s
    return own if HUMAN_HORIZON_S < own < math.inf else HUMAN_HORIZON_S


def horizon_text(t_s: float) -> str:
    if t_s >= YEAR_S:
        return f"{t_s / YEAR_S:g} y"
    if t_s >= DAY_S:
        return f"{t_s / DAY_S:g} d"
    return f"{t_s / 3600:g} h"


@dataclasses.dataclass
class Runs:
    """Simulations of one dossier: ``n`` units per arm, seeds from ``seed``, each variant once."""
    n: int
    seed: int
    threads: int | None = None
    quiet: bool = False
    _cache: dict = dataclasses.field(default_factory=dict)

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"ctcsim dossier: {message}", file=sys.stderr, flush=True)

    def seed_of(self, key: str) -> int:
        """The variant's seed: the run's seed plus a fixed offset of its key (CRC-32), so that
        one variant's numbers do not depend on which others were run before it."""
        return (self.seed + zlib.crc32(key.encode())) % (1 << 128)

    def memo(self, key: str, make):
        """``make()``, made once under ``key`` (later calls reuse it)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def simulate(self, key: str, scenario: sc.Scenario, n: int | None = None):
        """``runner.simulate`` of ``scenario`` with the seed of ``key``, said on stderr (not kept)."""
        n = self.n if n is None else n
        start = time.perf_counter()
        result = simulate(scenario, n, self.seed_of(key), threads=self.threads)
        self.say(f"{key}: {n:,} units x {len(scenario.arm_names())} arm(s), "
                 f"{horizon_text(scenario.t_max_s)}, {time.perf_counter() - start:.1f} s")
        return result

    def blood_changes(self, key: str, scenario: sc.Scenario, n: int):
        """The events of ``scenario`` that change the count of units in the blood
        (``blood.changes``), streamed chunk by chunk: a unit that circulates for hours logs
        thousands of moves, which are not kept."""
        def make():
            start = time.perf_counter()
            parts = [blood.changes(b) for _, _, _, batches in
                     iter_batches(scenario, n, self.seed_of(key), events=True, threads=self.threads) for b in batches]
            self.say(f"{key}: {n:,} units, events to {horizon_text(scenario.t_max_s)}, "
                     f"{time.perf_counter() - start:.1f} s")
            return tuple(np.concatenate([p[i] for p in parts]) for i in (0, 1))
        return self.memo(key, make)

    def fates(self, key: str, scenario: sc.Scenario):
        """The fates of ``simulate`` under ``key``, simulated once: later calls reuse them."""
        return self.memo(key, lambda: self.simulate(key, scenario).fates)
