"""The reference after arrest: the post-arrest chain of DESIGN 2.4 (reference.py's contract, stream 2).

Split from ctcsim/reference.py to keep each module short; it mirrors the core's
``after_arrest`` and ``grow_time`` function by function.
"""
from __future__ import annotations

import math

from . import hazards as H
from .model import CompiledModel
from .philox import Stream

PA = {name: i for i, name in enumerate(H.POST_ARREST)}
PHASES = {p: H.in_phase(p) for p in H.PHASE_STATE}
PHASE_OF = {PA[state]: phase for phase, state in H.PHASE_STATE.items()}
FINAL = {PA[name] for name in H.FINAL}
BY_NAME = {h.name: h for h in H.HAZARDS}


def choose(rates, x):
    """The channel whose running sum first exceeds x = u * total (the core's ``choose``)."""
    i, acc = 0, rates[0]
    while i < len(rates) - 1 and x >= acc:
        i += 1
        acc += rates[i]
    while rates[i] == 0.0:  # x rounded up to total: take the last live channel
        i -= 1
    return i


def factors(m: CompiledModel, k, p):
    """The unit's factor on each hazard, by hazard name."""
    return dict(zip((h.name for h in H.HAZARDS), m.unit_factors(k, p)))


def grow_time(g: Stream, n, birth, death, target):
    """Time for a colony of n cells to reach ``target`` cells (math.inf if it dies out).

    The large-colony approximation: a supercritical birth-death colony of n cells
    grows as W exp((birth - death) t), where W is the sum over the n founders of
    0 (lineage dies out, probability death/birth) or an exponential of mean
    birth/(birth - death).  Draws: per founder one uniform, and one exponential if
    its lineage survives.  tests/test_colony.py checks it against the exact process.
    """
    if birth <= death:
        return math.inf
    q, r = death / birth, birth - death
    w = 0.0
    for _ in range(n):
        if g.uniform() >= q:
            w += g.exponential() * birth / r
    if w == 0.0:
        return math.inf
    return max(0.0, math.log(target / w) / r)



def _pa_rate(m: CompiledModel, f, h: H.Hazard, c, s, n):
    r = m.rates[h.name][c, s] * f[h.name]
    return r * n if h.kind == "cells" else r


def after_arrest(u, row, g: Stream, c, s, k, p, t):
    """The post-arrest chain of DESIGN 2.4, on the unit's stream 2 ``g`` (the core's
    ``after_arrest``), from arrest in bed c at time t with shield s.  None, or if the unit is
    released back into the blood (release, time, shield, steps taken here)."""
    m, after = u.m, u.after
    cur = m if t < u.switch_s else after
    q = m.compatibility[c]
    if q <= 0.0 or (q < 1.0 and g.uniform() >= q):  # the organ does not let it live
        row["post_arrest"], row["post_arrest_time_s"] = PA["died_in_capillary"], t
        u.emit(t, "died_in_capillary", c, s)
        return
    f = factors(cur, k, p)
    state, n, steps = PA["in_capillary"], k, 0
    while state not in FINAL:
        steps += 1
        phase = PHASE_OF[state]
        if phase == "colony" and n >= cur.micro_cells:
            row["micrometastasis_time_s"] = t
            u.emit(t, "micrometastasis", c, s)
            state = PA["micrometastasis"]
            continue
        channels = PHASES[phase]
        if phase == "micrometastasis":  # growth (the approximation) against the phase's hazards
            grow = grow_time(g, n, _pa_rate(cur, f, BY_NAME["division"], c, s, 1),
                             _pa_rate(cur, f, BY_NAME["cell_death"], c, s, 1), cur.macro_cells)
            rates = [_pa_rate(cur, f, h, c, s, n) for h in channels]
            total = sum(rates)
            other = g.exponential() / total if total > 0 else math.inf
            if (grow == math.inf and other == math.inf) or t + min(grow, other) >= m.t_max_s:
                break
            t += min(grow, other)
            if grow <= other:
                state = PA["macrometastasis"]
                u.emit(t, "macrometastasis", c, s)
            else:
                h = channels[choose(rates, g.uniform() * total) if len(channels) > 1 else 0]
                state = PA[h.to]
                u.emit(t, h.event, c, s)
            break
        rates = [_pa_rate(cur, f, h, c, s, n) for h in channels]
        total = 0.0
        for r in rates:
            total += r
        dt = g.exponential() / total if total > 0 else math.inf
        if cur is not after and t + dt >= u.switch_s:
            t, cur = u.switch_s, after  # the clock restarts under the arm's multipliers
            f = factors(cur, k, p)
            continue
        if t + dt >= m.t_max_s:
            break
        t += dt
        h = channels[choose(rates, g.uniform() * total) if len(channels) > 1 else 0]
        if h.kind == "toggle":
            s = 1 - s
            u.emit(t, "shield_on" if s else "shield_off", c, s)
            continue
        u.emit(t, h.event, c, s)
        if h.kind == "release":
            return t, s, steps
        if h.kind == "cells":
            n += int(h.to)
            if n == 0:
                state = PA["colony_extinct"]
                u.emit(t, "colony_extinct", c, s)
        elif h.kind == "extravasate":
            row["extravasation_time_s"] = t
            q = cur.dormancy_prob[c]
            state = PA["dormant"] if q >= 1.0 or (q > 0.0 and g.uniform() < q) else PA["proliferating"]
            if state == PA["dormant"]:
                u.emit(t, "dormant", c, s)
        else:
            state = PA[h.to]
    row["post_arrest"] = state
    row["post_arrest_time_s"] = t if state in FINAL else m.t_max_s
    return None
