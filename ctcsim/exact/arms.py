"""Delayed arms (DESIGN 2.5, 7): the master equation in two pieces, before and after a switch.

An arm whose multipliers start at absolute time ``switch_s`` is two CompiledModels: a unit
follows ``model`` until ``switch_s`` and ``after`` from then on (``ctcsim.model``).  Hazards
are piecewise in time, so the exact answer solves the forward equation of ``model`` up to the
switch and continues from the mass there under ``after``.  Ages go on across the switch: a
Weibull anoikis hazard after it is ``after``'s at the unit's age since entry.  The entry
draws, routing, organs and horizon are those of ``model`` (as in the core);
``after`` must agree with it in all of them, since multipliers act on rates alone.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..model import CompiledModel

# What the two pieces must share: the state space, the routing and the entry.
SHARED = ("compartment_names", "organ_names", "is_bed", "organ", "n_stages", "edge_ptr", "edge_to", "edge_cum",
          "entry_compartment", "entry_cum", "cluster_cum", "phenotype_cum", "diameter_median_um",
          "diameter_sigma_log", "entry_time_grid_s", "t_max_s", "micro_cells")


@dataclasses.dataclass(frozen=True)
class Piece:
    """``model`` governs from ``start`` to ``end`` (ages since entry, or times since arrest)."""
    model: CompiledModel
    start: float
    end: float


def check_after(model: CompiledModel, after: CompiledModel) -> None:
    for name in SHARED:
        a, b = getattr(model, name), getattr(after, name)
        if not (np.array_equal(a, b, equal_nan=True) if isinstance(a, np.ndarray) else a == b):
            raise ValueError(f"after: {name} differs from the model's; an arm changes rates, not {name}")


def _split(model, after, switch_at: float, end: float) -> list[Piece]:
    """The pieces over [0, end] with the switch at ``switch_at`` (same clock)."""
    if after is None or switch_at >= end:
        return [Piece(model, 0.0, end)]
    check_after(model, after)
    if switch_at <= 0:
        return [Piece(after, 0.0, end)]
    return [Piece(model, 0.0, switch_at), Piece(after, switch_at, end)]


def circulation_pieces(model: CompiledModel, after: CompiledModel | None, switch_s: float,
                       censor_age: float) -> list[Piece]:
    """The pieces of the circulating phase, in ages since the (single) entry time, up to the
    censoring age.  As in the core, a switch at or after t_max_s never happens."""
    if after is None or switch_s >= model.t_max_s:
        return _split(model, None, math.inf, censor_age)
    if len(model.entry_time_grid_s) != 1:
        raise ValueError("exact solutions of delayed arms need a single entry time, "
                         f"but entry_time_grid_s has {len(model.entry_time_grid_s)} points")
    return _split(model, after, switch_s - float(model.entry_time_grid_s[0]), censor_age)


def post_arrest_pieces(model: CompiledModel, after: CompiledModel | None, switch_s: float,
                       arrest_time_s: float, horizon_s: float) -> list[Piece]:
    """The pieces of the chain after an arrest at absolute time ``arrest_time_s``, in times
    since the arrest, up to the horizon."""
    if after is None or switch_s >= model.t_max_s:
        return _split(model, None, math.inf, horizon_s)
    return _split(model, after, switch_s - arrest_time_s, horizon_s)
