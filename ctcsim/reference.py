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
  2. if anoikis is on (any ``anoikis_scale`` > 0): one exponential, the unit's
     anoikis threshold on the integrated anoikis hazard;
  3. each step: one exponential if the total constant hazard is > 0; if a
     constant event wins, one uniform to choose it; on leaving a compartment
     with more than one edge, one uniform for the edge; on entering a bed with
     0 < p_trap < 1, one uniform for trapping.
  A step whose time passes an arm's start time draws nothing more: the clocks restart there.
Stream 2 (after arrest), counter (block, unit, 2, 0):
  1. seed and soil: one uniform if 0 < compatibility < 1;
  2. each step in the capillary, dormant or as a colony: one exponential if the total rate is
     > 0, then (unless censored or past the arm's start time) one uniform to choose the event,
     and on extravasation one uniform for dormancy if 0 < dormancy_prob < 1;
  3. at the micrometastasis stage: ``grow_time``'s draws, then one exponential for
     regression if its rate is > 0.
Categorical choices take the first index i with ``u < cum[i]`` (``u * total``
against running sums for the hazards, in the order stage, shear, nk,
adhesion, shield toggle).
"""
from __future__ import annotations

import math

from .model import CompiledModel

_M0, _M1 = 0xD2E7470EE14C6C93, 0xCA5A826395121157
_W0, _W1 = 0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B
_MASK = (1 << 64) - 1

# Event and fate codes, as indices into model.EVENTS and model.FATES.
EV_ENTER, EV_STAGE, EV_MOVE, EV_SHIELD_ON, EV_SHIELD_OFF, EV_TRAPPED, EV_ADHERED = range(7)
EV_DIED_SHEAR, EV_DIED_NK, EV_DIED_ANOIKIS, EV_CENSORED = range(7, 11)
(EV_EXTRAVASATED, EV_DORMANT, EV_WOKE, EV_DIED_IN_CAPILLARY, EV_DIED_DORMANT, EV_DIVISION,
 EV_CELL_DEATH, EV_COLONY_EXTINCT, EV_MICROMETASTASIS, EV_REGRESSED, EV_MACROMETASTASIS) = range(11, 22)
(PA_NONE, PA_IN_CAPILLARY, PA_DIED_IN_CAPILLARY, PA_DORMANT, PA_DIED_DORMANT, PA_PROLIFERATING,
 PA_COLONY_EXTINCT, PA_MICROMETASTASIS, PA_REGRESSED, PA_MACROMETASTASIS) = range(10)
# Post-arrest outcomes that end the chain before t_max (the others are states censored there).
FINAL = (PA_DIED_IN_CAPILLARY, PA_DIED_DORMANT, PA_COLONY_EXTINCT, PA_REGRESSED, PA_MACROMETASTASIS)
CENSORED, DIED_SHEAR, DIED_NK, DIED_ANOIKIS, ARRESTED = range(5)
NONE, TRAPPED, ADHERED = range(3)


def philox_block(ctr, key):
    """One Philox4x64-10 block (integers in, integers out)."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
        p0, p1 = _M0 * c0, _M1 * c2
        c0, c1, c2, c3 = (p1 >> 64) ^ c1 ^ k0, p1 & _MASK, (p0 >> 64) ^ c3 ^ k1, p0 & _MASK
    return c0, c1, c2, c3


class Stream:
    """The per-unit counter-based stream of ext/philox.h."""

    def __init__(self, key, unit, stream):
        self.key = (int(key[0]), int(key[1]))
        self.ctr = [0, int(unit), int(stream), 0]
        self.buf, self.pos = (), 4

    def raw(self):
        if self.pos == 4:
            for i in range(4):  # increment with carry, as numpy's Philox does
                self.ctr[i] = (self.ctr[i] + 1) & _MASK
                if self.ctr[i]:
                    break
            self.buf, self.pos = philox_block(self.ctr, self.key), 0
        self.pos += 1
        return self.buf[self.pos - 1]

    def uniform(self):
        return (self.raw() >> 11) * (1.0 / 9007199254740992.0)

    def exponential(self):
        return -math.log(((self.raw() >> 11) + 1) * (1.0 / 9007199254740992.0))


def _pick(cum, u):
    for i, c in enumerate(cum):
        if u < c:
            return i
    return len(cum) - 1


def trap_probability(m: CompiledModel, c, d, k):
    if m.trap_max == 0.0:
        return 0.0
    r = d * m.trap_diameter_scale[k - 1] / m.capillary_diameter_um[c]
    try:
        return m.trap_max / (1.0 + math.exp(-(r - m.trap_ratio50) / m.trap_width))
    except OverflowError:  # C's exp gives inf there, and so a probability of 0
        return 0.0


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


def factors(m: CompiledModel, k, p):
    """Per-unit hazard factors F_h, in HAZARDS order."""
    return [m.cluster_factor[h, k - 1] * m.phenotype_factor[h, p] for h in range(len(m.cluster_factor))]


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


def simulate_unit(m: CompiledModel, key, unit, events=False, after: CompiledModel | None = None,
                  switch_s=math.inf):
    """Simulate one unit; return (fate row dict, list of event tuples).

    Event tuples are (unit, time_s, event, compartment, shielded).  With ``after``,
    the unit follows ``m`` until absolute time ``switch_s`` and ``after`` from then on.
    """
    c, k, p, d, t0 = draw_entry(m, key, unit)
    if after is None or switch_s >= m.t_max_s:
        after, switch_s = m, math.inf
    cur = m if t0 < switch_s else after
    f = factors(cur, k, p)
    g = Stream(key, unit, 1)
    log = []
    row = dict(unit_id=unit, cluster_size=k, phenotype=p, diameter_um=d, entry_time_s=t0,
               entry_compartment=c, fate=CENSORED, fate_time_s=m.t_max_s, organ=-1,
               arrest_mode=NONE, beds_visited=0, shielded_at_fate=0, time_shielded_s=0.0,
               n_steps=0, post_arrest=PA_NONE, post_arrest_time_s=math.nan,
               extravasation_time_s=math.nan, micrometastasis_time_s=math.nan)

    def emit(t, ev, comp, s):
        if events:
            log.append((unit, t, ev, comp, s))

    def finish(t, fate, mode, s, ev):
        row.update(fate=fate, fate_time_s=t, arrest_mode=mode, shielded_at_fate=s)
        emit(t, ev, c, s)
        if fate == ARRESTED:
            row["organ"] = int(m.organ[c])
            after_arrest(t, s)
        return row, log

    def enters_trapped():
        if not m.is_bed[c]:
            return False
        row["beds_visited"] += 1
        pt = trap_probability(cur, c, d, k)
        return pt >= 1.0 or (pt > 0.0 and g.uniform() < pt)

    def after_arrest(t, s):
        """The post-arrest chain of DESIGN 2.4, on stream 2."""
        nonlocal cur, f
        h = Stream(key, unit, 2)
        state, n = PA_IN_CAPILLARY, k
        q = m.compatibility[c]
        if q <= 0.0 or (q < 1.0 and h.uniform() >= q):  # the organ does not let it live
            row["post_arrest"], row["post_arrest_time_s"] = PA_DIED_IN_CAPILLARY, t
            emit(t, EV_DIED_IN_CAPILLARY, c, s)
            return
        while True:
            fc = factors(cur, k, p)
            if state == PA_IN_CAPILLARY:
                rates = (cur.cap_death_per_s[c, s] * fc[1], cur.extravasation_per_s[c] * fc[4])
            elif state == PA_DORMANT:
                rates = (cur.dormant_death_per_s[c], cur.wake_per_s[c])
            elif state == PA_PROLIFERATING:
                if n >= cur.micro_cells:
                    row["micrometastasis_time_s"] = t
                    emit(t, EV_MICROMETASTASIS, c, s)
                    state = PA_MICROMETASTASIS
                    continue
                rates = (cur.death_per_s[c] * n, cur.birth_per_s[c] * fc[5] * n)
            else:  # micrometastasis: growth (approximation) against regression
                grow = grow_time(h, n, cur.birth_per_s[c] * fc[5], cur.death_per_s[c], cur.macro_cells)
                reg = cur.regression_per_s[c]
                dt_reg = h.exponential() / reg if reg > 0 else math.inf
                if grow == math.inf and dt_reg == math.inf:
                    break
                dt = min(grow, dt_reg)
                if t + dt >= m.t_max_s:
                    break
                t += dt
                state = PA_MACROMETASTASIS if grow <= dt_reg else PA_REGRESSED
                emit(t, EV_MACROMETASTASIS if state == PA_MACROMETASTASIS else EV_REGRESSED, c, s)
                break
            total = rates[0] + rates[1]
            dt = h.exponential() / total if total > 0 else math.inf
            if cur is not after and t + dt >= switch_s:
                t, cur = switch_s, after  # the clock restarts under the arm's multipliers
                continue
            if t + dt >= m.t_max_s:
                break
            t += dt
            u = h.uniform()
            second = u * total >= rates[0] if rates[1] > 0 else False
            if state == PA_IN_CAPILLARY:
                if not second:
                    state = PA_DIED_IN_CAPILLARY
                    emit(t, EV_DIED_IN_CAPILLARY, c, s)
                    break
                row["extravasation_time_s"] = t
                emit(t, EV_EXTRAVASATED, c, s)
                q = cur.dormancy_prob[c]
                if q >= 1.0 or (q > 0.0 and h.uniform() < q):
                    state = PA_DORMANT
                    emit(t, EV_DORMANT, c, s)
                else:
                    state = PA_PROLIFERATING
            elif state == PA_DORMANT:
                state = PA_PROLIFERATING if second else PA_DIED_DORMANT
                emit(t, EV_WOKE if second else EV_DIED_DORMANT, c, s)
                if not second:
                    break
            else:
                n += 1 if second else -1
                emit(t, EV_DIVISION if second else EV_CELL_DEATH, c, s)
                if n == 0:
                    state = PA_COLONY_EXTINCT
                    emit(t, EV_COLONY_EXTINCT, c, s)
                    break
        row["post_arrest"] = state
        row["post_arrest_time_s"] = t if state in FINAL else m.t_max_s

    s, j, a = 0, 0, 0.0
    emit(t0, EV_ENTER, c, s)
    if enters_trapped():
        return finish(t0, ARRESTED, TRAPPED, s, EV_TRAPPED)
    eta, beta = m.anoikis_eta_s, m.anoikis_beta
    anoikis_on = m.anoikis_scale.max() > 0 or after.anoikis_scale.max() > 0
    budget = g.exponential() if anoikis_on else math.inf  # integrated hazard left
    w = 0.0                                                 # (a / eta) ** beta
    while True:
        rates = (cur.stage_rate_per_s[c], cur.shear_per_s[c, s] * f[0], cur.nk_per_s[c, s] * f[1],
                 cur.adhesion_per_s[c, s] * f[3], cur.shield_toggle_per_s[c, s])
        total = sum(rates)
        dt = g.exponential() / total if total > 0 else math.inf
        b = cur.anoikis_scale[s] * f[2]
        dt_a = eta * (w + budget / b) ** (1.0 / beta) - a if b > 0 else math.inf
        if cur is not after and t0 + a + min(dt, dt_a) >= switch_s:
            da = switch_s - t0 - a  # advance to the switch; the clocks restart there
            if s:
                row["time_shielded_s"] += da
            a = switch_s - t0
            if anoikis_on:
                w_new = (a / eta) ** beta
                budget -= b * (w_new - w)
                w = w_new
            cur = after
            f = factors(cur, k, p)
            continue
        row["n_steps"] += 1
        if t0 + a + min(dt, dt_a) >= m.t_max_s:
            if s:
                row["time_shielded_s"] += m.t_max_s - t0 - a
            return finish(m.t_max_s, CENSORED, NONE, s, EV_CENSORED)
        if dt_a <= dt:
            if s:
                row["time_shielded_s"] += dt_a
            return finish(t0 + a + dt_a, DIED_ANOIKIS, NONE, s, EV_DIED_ANOIKIS)
        a += dt
        if s:
            row["time_shielded_s"] += dt
        if anoikis_on:
            w_new = (a / eta) ** beta
            budget -= b * (w_new - w)
            w = w_new
        t = t0 + a
        x = g.uniform() * total
        i = 0
        acc = rates[0]
        while i < 4 and x >= acc:
            i += 1
            acc += rates[i]
        while rates[i] == 0.0:  # x rounded up to total: take the last live channel
            i -= 1
        if i == 0:
            j += 1
            if j < cur.n_stages[c]:
                emit(t, EV_STAGE, c, s)
                continue
            lo, hi = int(m.edge_ptr[c]), int(m.edge_ptr[c + 1])
            e = lo + (_pick(m.edge_cum[lo:hi], g.uniform()) if hi - lo > 1 else 0)
            c, j = int(m.edge_to[e]), 0
            emit(t, EV_MOVE, c, s)
            if enters_trapped():
                return finish(t, ARRESTED, TRAPPED, s, EV_TRAPPED)
        elif i == 1:
            return finish(t, DIED_SHEAR, NONE, s, EV_DIED_SHEAR)
        elif i == 2:
            return finish(t, DIED_NK, NONE, s, EV_DIED_NK)
        elif i == 3:
            return finish(t, ARRESTED, ADHERED, s, EV_ADHERED)
        else:
            s = 1 - s
            emit(t, EV_SHIELD_ON if s else EV_SHIELD_OFF, c, s)
