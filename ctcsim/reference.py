"""Pure-Python reference of the core: the same algorithm, the same draws, in the same order.

It is slow and exists to be read and to be compared with ``_core`` bit for bit
(tests/test_core_vs_reference.py).  The draw order is the contract:

Stream 0 (entry attributes), counter (block, unit, 0, 0):
  1. entry compartment: one uniform if ``len(entry_cum) > 1``;
  2. cluster size: one uniform if ``len(cluster_cum) > 1``;
  3. phenotype: one uniform if ``len(phenotype_cum) > 1``;
  4. diameter: two uniforms (Box-Muller, cosine branch) if ``diameter_sigma_log > 0``;
  5. entry time: one uniform if ``len(entry_time_grid_s) > 1``.
Stream 1 (circulation), counter (block, unit, 1, 0):
  1. if the entry compartment is a bed with 0 < p_trap < 1: one uniform (trapping);
  2. if anoikis is on (any ``rates["anoikis"]`` > 0): one exponential, the unit's
     anoikis threshold on the integrated anoikis hazard (drawn even if trapped at entry);
  3. each step: one exponential if the total constant hazard is > 0; if a
     constant event wins, one uniform to choose it; on leaving a compartment
     with more than one edge, one uniform for the edge; on entering a bed with
     0 < p_trap < 1, one uniform for trapping.  The anoikis threshold is measured on
     the Weibull clock (a/eta)**beta of the model in force (an arm's after its start).
  A step whose time passes an arm's start time draws nothing more: the clocks restart there.
  A unit released from arrest leaves its bed by flow as after the bed's last stage (the edge
  and trapping draws), then steps as before: its age ran on while it was arrested (the anoikis
  threshold was spent up to the arrest; no anoikis acts in the capillary).
Stream 2 (after arrest), counter (block, unit, 2, 0), one stream for all of a unit's arrests;
at each arrest:
  1. each step in the capillary, dormant or as a colony: one exponential if the total rate is
     > 0, then (unless censored or past the arm's start time) one uniform to choose the event
     if the phase has more than one hazard, and on extravasation, if 0 < dormancy_prob < 1,
     one uniform per founder cell (k of them, in order: the cell is dormant if u < p) (release
     ends the chain: the unit circulates on, stream 1);
  2. at the micrometastasis stage: ``grow_time``'s draws, then one exponential for the
     phase's hazards (regression) if their rate is > 0.
Categorical choices take the first index i with ``u < cum[i]`` (``u * total`` against
running sums of the rates, in the order of ``hazards.in_phase(phase)``).
"""
from __future__ import annotations

import functools
import math

from . import hazards as H
from .model import CompiledModel
from .philox import Stream
from .reference_arrest import after_arrest, choose, factors, grow_time

__all__ = ["draw_entry", "simulate_unit", "circulate", "after_arrest", "choose", "factors", "grow_time",
           "trap_probability"]

EV = {name: i for i, name in enumerate(H.EVENTS)}
PA = {name: i for i, name in enumerate(H.POST_ARREST)}
FATE = {name: i for i, name in enumerate(H.FATES)}
MODE = {name: i for i, name in enumerate(H.ARREST_MODES)}
CIRCULATING = H.in_phase("circulating")
ANOIKIS = next(h for h in H.HAZARDS if h.time_dependent)

def _pick(cum, u):
    for i, c in enumerate(cum):
        if u < c:
            return i
    return len(cum) - 1


@functools.lru_cache(maxsize=8)
def _trap_tables(m: CompiledModel):
    slope, offset = m.trap_tables()
    return slope.tolist(), offset.tolist()


def trap_probability(m: CompiledModel, c, d, k, p):
    """P(trapped entering bed c): the core's trapped_on_entry, the same operations in the same order."""
    if m.trap_max == 0.0:
        return 0.0
    slope, offset = _trap_tables(m)
    try:
        q = m.trap_max / (1.0 + math.exp(offset[p] - d * slope[k - 1][c]))
    except OverflowError:  # C's exp gives inf there, and so a probability of 0
        return 0.0
    if k > 1 and m.cluster_cell_trap > 0.0:
        q += (1.0 - q) * (1.0 - (1.0 - m.cluster_cell_trap * q) ** float(k - 1))
    return q


def draw_entry(m: CompiledModel, key, unit):
    """Entry attributes: (compartment, cluster size, phenotype, diameter, entry time)."""
    g = Stream(key, unit, 0)
    c = int(m.entry_compartment[_pick(m.entry_cum, g.uniform()) if len(m.entry_cum) > 1 else 0])
    k = (_pick(m.cluster_cum, g.uniform()) if len(m.cluster_cum) > 1 else 0) + 1
    p = _pick(m.phenotype_cum, g.uniform()) if len(m.phenotype_cum) > 1 else 0
    d = m.diameter_median_um
    if m.diameter_sigma_log > 0:
        u1 = ((g.raw() >> 11) + 1) * (1.0 / 9007199254740992.0)
        u2 = g.uniform()
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        d = m.diameter_median_um * math.exp(m.diameter_sigma_log * z)
    grid = m.entry_time_grid_s
    t0 = float(grid[0])
    if len(grid) > 1:
        x = g.uniform() * (len(grid) - 1)
        i = min(int(x), len(grid) - 2)
        t0 = grid[i] + (x - i) * (grid[i + 1] - grid[i])
    return c, k, p, d, t0


class _Unit:
    """One unit's course: the fate row, the event log, and the arm it follows."""

    def __init__(self, m, after, switch_s, key, unit, events):
        if after is None or switch_s >= m.t_max_s:
            after, switch_s = m, math.inf
        self.m, self.after, self.switch_s, self.key, self.unit = m, after, switch_s, key, unit
        self.events, self.log = events, []

    def emit(self, t, ev, comp, s):
        if self.events:
            self.log.append((self.unit, t, EV[ev], comp, s))


def simulate_unit(m: CompiledModel, key, unit, events=False, after: CompiledModel | None = None,
                  switch_s=math.inf):
    """Simulate one unit; return (fate row dict, list of event tuples).

    Event tuples are (unit, time_s, event, compartment, shielded).  With ``after``,
    the unit follows ``m`` until absolute time ``switch_s`` and ``after`` from then on.
    """
    u = _Unit(m, after, switch_s, key, unit, events)
    c, k, p, d, t0 = draw_entry(m, key, unit)
    row = dict(unit_id=unit, cluster_size=k, phenotype=p, diameter_um=d, entry_time_s=t0,
               entry_compartment=c, fate=FATE["censored"], fate_time_s=m.t_max_s, organ=-1,
               arrest_mode=MODE["none"], beds_visited=0, shielded_at_fate=0, time_shielded_s=0.0,
               n_steps=0, post_arrest=PA["none"], post_arrest_time_s=math.nan,
               extravasation_time_s=math.nan, micrometastasis_time_s=math.nan, releases=0)
    circulate(u, row, c, k, p, d, t0)
    return row, u.log


def circulate(u: _Unit, row, c, k, p, d, t0):
    """The circulating phase on stream 1, then after_arrest if the unit arrests; a unit released
    from arrest circulates on, until a fate that holds (the core's ``circulate``)."""
    m, after, switch_s = u.m, u.after, u.switch_s
    cur = m if t0 < switch_s else after
    f = factors(cur, k, p)
    g, g2 = Stream(u.key, u.unit, 1), None  # g2: stream 2, made at the first arrest, kept across arrests

    def enters_trapped():
        if not m.is_bed[c]:
            return False
        row["beds_visited"] += 1
        pt = trap_probability(cur, c, d, k, p)
        return pt >= 1.0 or (pt > 0.0 and g.uniform() < pt)

    def leave(t):  # after a compartment's last stage, or on release: the next one by flow
        lo, hi = int(m.edge_ptr[c]), int(m.edge_ptr[c + 1])
        e = lo + (_pick(m.edge_cum[lo:hi], g.uniform()) if hi - lo > 1 else 0)
        u.emit(t, "move", int(m.edge_to[e]), s)
        return int(m.edge_to[e])

    s, j, a = 0, 0, 0.0
    u.emit(t0, "enter", c, s)
    end = (t0, "arrested", "trapped", "trapped") if enters_trapped() else None
    anoikis_on = (m.rates[ANOIKIS.name] > 0).any() or (after.rates[ANOIKIS.name] > 0).any()
    # The anoikis threshold (an Exp(1) draw) is spent on the Weibull clock w = (a/eta)**beta at
    # the scale b; the clock is read only when b changes (the core's Walk, spend and aim).
    clock = dict(budget=g.exponential() if anoikis_on else math.inf, w=0.0, b=0.0, death_age=math.inf)

    def weibull_clock(model, a):
        return (a / model.anoikis_eta_s) ** model.anoikis_beta if a > 0 else 0.0

    def spend(model):
        w_now = weibull_clock(model, a)
        clock["budget"] -= clock["b"] * (w_now - clock["w"])
        clock["w"] = w_now

    def aim(model, b):
        clock["b"] = b
        clock["death_age"] = model.anoikis_eta_s * (clock["w"] + clock["budget"] / b) ** (1.0 / model.anoikis_beta) \
            if b > 0 else math.inf

    while True:
        while end is None:
            rates = [cur.rates[h.name][c, s] * f[h.name] for h in CIRCULATING]
            total = 0.0
            for r in rates:
                total += r
            dt = g.exponential() / total if total > 0 else math.inf
            if anoikis_on:
                b = cur.rates[ANOIKIS.name][c, s] * f[ANOIKIS.name]
                if b != clock["b"]:
                    spend(cur)
                    aim(cur, b)
            dt_a = clock["death_age"] - a
            if cur is not after and t0 + a + min(dt, dt_a) >= switch_s:
                # Advance to the switch; the clocks restart there, the threshold carries over.
                if s:
                    row["time_shielded_s"] += switch_s - t0 - a
                a = switch_s - t0
                if anoikis_on:
                    spend(cur)
                    clock["w"] = (a / after.anoikis_eta_s) ** after.anoikis_beta  # the new clock, read now
                cur = after
                f = factors(cur, k, p)
                if anoikis_on:
                    aim(cur, cur.rates[ANOIKIS.name][c, s] * f[ANOIKIS.name])
                continue
            row["n_steps"] += 1
            if t0 + a + min(dt, dt_a) >= m.t_max_s:
                if s:
                    row["time_shielded_s"] += m.t_max_s - t0 - a
                end = (m.t_max_s, "censored", "none", "censored")
                break
            if dt_a <= dt:
                if s:
                    row["time_shielded_s"] += dt_a
                end = (t0 + a + dt_a, ANOIKIS.to, "none", ANOIKIS.event)
                break
            if s:
                row["time_shielded_s"] += dt
            a += dt
            t = t0 + a
            h = CIRCULATING[choose(rates, g.uniform() * total)]
            if h.kind == "stage":
                j += 1
                if j < cur.n_stages[c]:
                    u.emit(t, "stage", c, s)
                    continue
                c, j = leave(t), 0
                if enters_trapped():
                    end = (t, "arrested", "trapped", "trapped")
            elif h.kind == "toggle":
                s = 1 - s
                u.emit(t, "shield_on" if s else "shield_off", c, s)
            elif h.kind == "arrest":
                end = (t, "arrested", h.to, h.event)
            else:
                end = (t, h.to, "none", h.event)
        t, fate, mode, ev = end
        row.update(fate=FATE[fate], fate_time_s=t, arrest_mode=MODE[mode], shielded_at_fate=s,
                   organ=int(m.organ[c]) if fate == "arrested" else -1)
        u.emit(t, ev, c, s)
        if fate != "arrested":
            return
        g2 = g2 or Stream(u.key, u.unit, 2)
        released = after_arrest(u, row, g2, c, s, k, p, t)
        if released is None:
            return
        # Released: leave the bed by flow.  The threshold was spent up to the arrest under the
        # model then; the clock is read at the release, the scale set at the next step.
        t, s, steps = released
        row["n_steps"] += steps
        row["releases"] += 1
        if anoikis_on:
            spend(cur)
        cur = m if t < switch_s else after
        f = factors(cur, k, p)
        a = t - t0
        if anoikis_on:
            clock.update(w=weibull_clock(cur, a), b=0.0, death_age=math.inf)
        c, j, end = leave(t), 0, None
        if enters_trapped():
            end = (t, "arrested", "trapped", "trapped")
