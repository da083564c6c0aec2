# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled core: simulate a range of units exactly (contract: _core.pxd).

The algorithm and its draw order are those of ctcsim/reference.py, which reads
side by side with this file (draw_entry, circulate, after_arrest, simulate_unit);
the model's semantics are in ctcsim/model.py, its vocabulary in ctcsim/hazards.py.
One entry point, ``run_chunk``, runs with the GIL released, writes into
preallocated column buffers and returns why it stopped; it never raises inside the loop.
"""
import numpy as np

from libc.math cimport INFINITY, M_PI, NAN, cos, exp, log, pow, sqrt

DONE = STATUS_DONE
EVENTS_FULL = STATUS_EVENTS_FULL
CANCELLED = STATUS_CANCELLED
ERRORS = STATUS_ERRORS
ERR_STEP_BUDGET = STATUS_ERR_STEP_BUDGET
DEFAULT_MAX_STEPS = 1_000_000_000  # ~25 s of one unit at the core's speed: no legitimate unit gets near
# Codes as the core compiled them, for tests/test_hazards.py to compare with ctcsim.hazards.
CODES = dict(n_hazards=N_HAZARDS, n_factors=N_FACTORS, n_circ=N_CIRC, fate_arrested=FATE_ARRESTED,
             ev_macrometastasis=EV_MACROMETASTASIS, pa_macrometastasis=PA_MACROMETASTASIS,
             h_division=H_DIVISION, cancelled=STATUS_CANCELLED)
cdef enum:
    STOP_CHECK_MASK = 4095  # a unit looks at the stop flag every 4096 steps: cheap, well under 1 ms apart
    RELEASED = -1  # after_arrest: the unit was released into the blood (never leaves the kernel)

# Set from any thread (a signal handler); read by the nogil loop, hence volatile.
cdef volatile int _stop_requested = 0


def request_stop():
    """Ask every running run_chunk to stop at its next check (it returns CANCELLED)."""
    global _stop_requested
    _stop_requested = 1


def clear_stop():
    global _stop_requested
    _stop_requested = 0


cdef extern from *:
    """
    #ifdef __VERSION__
    static const char *ctcsim_compiler = "cc " __VERSION__;
    #else
    static const char *ctcsim_compiler = "unknown";
    #endif
    """
    const char *ctcsim_compiler
COMPILER = ctcsim_compiler.decode()

FATE_COLUMNS = (
    ("unit_id", np.int64), ("cluster_size", np.int32), ("phenotype", np.int8),
    ("diameter_um", np.float64), ("entry_time_s", np.float64),
    ("entry_compartment", np.int32), ("fate", np.int8), ("fate_time_s", np.float64),
    ("organ", np.int32), ("arrest_mode", np.int8), ("beds_visited", np.int32),
    ("shielded_at_fate", np.int8), ("time_shielded_s", np.float64), ("n_steps", np.int32),
    ("post_arrest", np.int8), ("post_arrest_time_s", np.float64),
    ("extravasation_time_s", np.float64), ("micrometastasis_time_s", np.float64), ("releases", np.int32),
)
EVENT_COLUMNS = (
    ("unit_id", np.int64), ("time_s", np.float64), ("event", np.int8),
    ("compartment", np.int32), ("shielded", np.int8),
)


cdef inline int pick(const double *cum, int n, double u) noexcept nogil:
    cdef int i
    for i in range(n - 1):
        if u < cum[i]:
            return i
    return n - 1


cdef inline int choose_by_sums(const double *rates, const double *sums, int n, double x) noexcept nogil:
    """``choose`` with the running sums already formed (the same additions, so the same channel)."""
    cdef int i = 0
    while i < n - 1 and x >= sums[i]:
        i += 1
    while rates[i] == 0.0:  # x rounded up to total: take the last live channel
        i -= 1
    return i


cdef inline int choose(const double *rates, int n, double x) noexcept nogil:
    """The channel whose running sum first exceeds x (x = u * total)."""
    cdef int i = 0
    cdef double acc = rates[0]
    while i < n - 1 and x >= acc:
        i += 1
        acc += rates[i]
    while rates[i] == 0.0:  # x rounded up to total: take the last live channel
        i -= 1
    return i


cdef inline bint emit(Events *ev, int64_t unit, double t, int e, int c, int s) noexcept nogil:
    """Append an event; False when the buffer is full."""
    if ev == NULL:
        return True
    if ev.n == ev.capacity:
        return False
    ev.unit_id[ev.n] = unit
    ev.time_s[ev.n] = t
    ev.event[ev.n] = e
    ev.compartment[ev.n] = c
    ev.shielded[ev.n] = s
    ev.n += 1
    return True


cdef inline bint trapped_on_entry(const Model *m, ctcsim_rng *g, int c, double d, int k, int p) noexcept nogil:
    """The leading cell is held by size and deformability, a chain behind it by its cells
    (model.py; the factors are CompiledModel.trap_tables, per cluster size, bed and phenotype)."""
    cdef double q = m.trap_max / (1.0 + exp(m.trap_offset[p] - d * m.trap_slope[(k - 1) * m.n_compartments + c]))
    if k > 1 and m.cluster_cell_trap > 0.0:  # else q stays what it is, bit for bit
        q += (1.0 - q) * (1.0 - pow(1.0 - m.cluster_cell_trap * q, k - 1))
    return q >= 1.0 or (q > 0.0 and ctcsim_uniform(g) < q)


cdef inline int budget_check(int64_t steps, int64_t max_steps) noexcept nogil:
    """Every 4096 steps: over the step budget (exact to 4096 steps), or asked to stop."""
    if (steps & STOP_CHECK_MASK) != 0:
        return STATUS_DONE
    if steps > max_steps:
        return STATUS_ERR_STEP_BUDGET
    return STATUS_CANCELLED if _stop_requested else STATUS_DONE


cdef double grow_time(ctcsim_rng *g, int n, double birth, double death, double target) noexcept nogil:
    """Large-colony approximation of the time to reach ``target`` cells (reference.grow_time)."""
    cdef double q, r, w = 0.0
    cdef int i
    if birth <= death:
        return INFINITY
    q = death / birth
    r = birth - death
    for i in range(n):
        if ctcsim_uniform(g) >= q:
            w += ctcsim_exponential(g) * birth / r
    if w == 0.0:
        return INFINITY
    r = log(target / w) / r
    return r if r > 0.0 else 0.0


cdef Entry draw_entry(const Model *m, const uint64_t *key, int64_t unit) noexcept nogil:
    """Entry attributes, stream 0 (reference.draw_entry)."""
    cdef ctcsim_rng g
    cdef Entry e
    cdef double u1, u2, x
    cdef int i
    ctcsim_rng_init(&g, key, <uint64_t>unit, 0)
    e.c = m.entry_compartment[pick(m.entry_cum, m.n_entry, ctcsim_uniform(&g)) if m.n_entry > 1 else 0]
    e.k = (pick(m.cluster_cum, m.n_cluster, ctcsim_uniform(&g)) if m.n_cluster > 1 else 0) + 1
    e.p = pick(m.phenotype_cum, m.n_phenotype, ctcsim_uniform(&g)) if m.n_phenotype > 1 else 0
    e.d = m.diameter_median_um
    if m.diameter_sigma_log > 0:
        u1 = <double>((ctcsim_philox_next(&g) >> 11) + 1) * (1.0 / 9007199254740992.0)
        u2 = ctcsim_uniform(&g)
        x = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2)
        e.d = m.diameter_median_um * exp(m.diameter_sigma_log * x)
    e.t0 = m.entry_time_grid_s[0]
    if m.n_tgrid > 1:
        x = ctcsim_uniform(&g) * (m.n_tgrid - 1)
        i = <int>x
        if i > m.n_tgrid - 2:
            i = m.n_tgrid - 2
        e.t0 = m.entry_time_grid_s[i] + (x - i) * (m.entry_time_grid_s[i + 1] - m.entry_time_grid_s[i])
    return e


# The circulating state of one unit: where it is, how far it has got, how it ended.  Anoikis:
# the unit dies when its integrated hazard reaches an Exp(1) threshold; ``budget`` is what was left
# of it at age ``a_w``, where the Weibull clock (a/eta)^beta read ``w``, and ``b`` is the hazard's
# current scale.  While b stays the same the age of death ``death_age`` stays the same, so the
# clock is read (two pow calls) only when b changes: at a shield toggle, a compartment with
# another anoikis rate, or an arm's start.
cdef struct Walk:
    int c, j, s, beds, fate, mode, evcode, releases
    double a, budget, w, b, death_age, shielded_s, t_end


cdef inline const double *unit_factors(const Model *m, Entry e) noexcept nogil:
    """The unit's factor on each hazard (N_HAZARDS numbers)."""
    return m.unit_factor + ((e.k - 1) * 3 + e.p) * N_HAZARDS


cdef inline const double *unit_rates(const Model *m, Entry e) noexcept nogil:
    """The unit's kind's rate table: STATE_RATES numbers per state (c, s)."""
    return m.unit_rate + ((e.k - 1) * 3 + e.p) * m.n_compartments * 2 * STATE_RATES


cdef inline bint enter_bed(const Model *cur, ctcsim_rng *g, Entry e, Walk *u) noexcept nogil:
    """Entering compartment u.c: a bed counts, and may trap the unit at once."""
    if not cur.is_bed[u.c]:
        return False
    u.beds += 1
    if cur.trap_max > 0.0 and trapped_on_entry(cur, g, u.c, e.d, e.k, e.p):  # off: skip the exp
        u.fate, u.mode, u.evcode = FATE_ARRESTED, MODE_TRAPPED, EV_TRAPPED
        return True
    return False


cdef inline bint move_on(const Model *m, const Model *cur, ctcsim_rng *g, Entry e, Walk *u, int64_t unit,
                         Events *ev) noexcept nogil:
    """A stage event: the next Erlang stage, or after the last one the next compartment by flow.
    False if the event buffer is full."""
    cdef int64_t lo, hi
    u.j += 1
    if u.j < cur.n_stages[u.c]:
        return emit(ev, unit, u.t_end, EV_STAGE, u.c, u.s)
    lo = m.edge_ptr[u.c]
    hi = m.edge_ptr[u.c + 1]
    u.c = m.edge_to[lo + (pick(m.edge_cum + lo, <int>(hi - lo), ctcsim_uniform(g)) if hi - lo > 1 else 0)]
    u.j = 0
    if not emit(ev, unit, u.t_end, EV_MOVE, u.c, u.s):
        return False
    enter_bed(cur, g, e, u)
    return True


cdef inline double weibull_clock(const Model *cur, double a) noexcept nogil:
    return pow(a / cur.anoikis_eta_s, cur.anoikis_beta) if a > 0 else 0.0  # pow(0, beta) = 0


cdef inline void spend(Walk *u, const Model *cur) noexcept nogil:
    """Spend the threshold on the clock's growth since it was last read, at scale b."""
    cdef double w_now = weibull_clock(cur, u.a)
    u.budget -= u.b * (w_now - u.w)
    u.w = w_now


cdef inline void aim(Walk *u, const Model *cur, double b) noexcept nogil:
    """From now on at scale b: the age at which the rest of the threshold is spent."""
    u.b = b
    u.death_age = cur.anoikis_eta_s * pow(u.w + u.budget / b, 1.0 / cur.anoikis_beta) if b > 0 else INFINITY


cdef inline const Model *switch_models(const Arm *arm, const Model *cur, Entry e, Walk *u,
                                       bint anoikis_on) noexcept nogil:
    """Advance the unit to a delayed arm's switch; its clocks restart under the arm's multipliers,
    the anoikis threshold carries over, measured on the new Weibull clock.  Returns arm.m2."""
    if u.s:
        u.shielded_s += arm.switch_s - e.t0 - u.a
    u.a = arm.switch_s - e.t0
    if anoikis_on:
        spend(u, cur)
        u.w = pow(u.a / arm.m2.anoikis_eta_s, arm.m2.anoikis_beta)  # the new clock, read now
        aim(u, arm.m2, unit_rates(arm.m2, e)[(2 * u.c + u.s) * STATE_RATES + N_CIRC])
    return arm.m2


cdef inline bint take_channel(int h, const Model *m, const Model *cur, ctcsim_rng *g, Entry e, Walk *u,
                              int64_t unit, Events *ev) noexcept nogil:
    """What the chosen circulating hazard h does: a stage, a shield toggle, an arrest or a death
    (False: the event buffer is full)."""
    if ctc_hazard_kind[h] == KIND_STAGE:
        return move_on(m, cur, g, e, u, unit, ev)
    if ctc_hazard_kind[h] == KIND_TOGGLE:
        u.s = 1 - u.s
        return emit(ev, unit, u.t_end, EV_SHIELD_ON if u.s else EV_SHIELD_OFF, u.c, u.s)
    if ctc_hazard_kind[h] == KIND_ARREST:
        u.fate, u.mode, u.evcode = FATE_ARRESTED, ctc_hazard_to[h], ctc_hazard_event[h]
    else:
        u.fate, u.evcode = ctc_hazard_to[h], ctc_hazard_event[h]
    return True


cdef inline const Model *released(const Arm *arm, const Model *cur, Entry e, Walk *u, double t,
                                  bint anoikis_on) noexcept nogil:
    """The unit released from arrest at time t, set to leave its bed: the threshold was spent up
    to the arrest under the model then; the clock is read at the release (under the model now)
    and the scale is set at the next step; no anoikis acts in the capillary.  Returns that model."""
    u.releases += 1
    if anoikis_on:
        spend(u, cur)
    cur = arm.m if t < arm.switch_s else arm.m2
    u.a = t - e.t0
    u.t_end = t
    if anoikis_on:
        u.w, u.b, u.death_age = weibull_clock(cur, u.a), 0.0, INFINITY
    u.fate, u.mode, u.evcode = FATE_CENSORED, MODE_NONE, EV_CENSORED
    u.j = cur.n_stages[u.c] - 1
    return cur


cdef int circulate(const Arm *arm, const uint64_t *key, int64_t unit, int64_t row, Entry e,
                   Fates *out, Events *ev) noexcept nogil:
    """The circulating phase on stream 1 (reference.circulate), then after_arrest if arrested; a
    unit released from arrest circulates on, until a fate that holds."""
    cdef ctcsim_rng g, g2  # g2: stream 2, initialised at the unit's first arrest, kept across arrests
    cdef bint g2_ready = False
    cdef const Model *m = arm.m
    cdef const Model *cur = m if e.t0 < arm.switch_s else arm.m2
    cdef Walk u
    cdef int h, st
    cdef int64_t steps = 0, steps_io  # steps_io: after_arrest's count (steps' address is never taken: a register)
    cdef double dt, dt_a, b, total, t
    cdef const double *ur = unit_rates(cur, e)
    cdef const double *cr
    cdef bint anoikis_on = m.anoikis_on or arm.m2.anoikis_on
    u.c, u.j, u.s, u.beds, u.fate, u.mode, u.evcode = e.c, 0, 0, 0, FATE_CENSORED, MODE_NONE, EV_CENSORED
    u.releases = 0
    u.a, u.budget, u.w, u.b, u.death_age, u.shielded_s, u.t_end = 0.0, INFINITY, 0.0, 0.0, INFINITY, 0.0, e.t0
    ctcsim_rng_init(&g, key, <uint64_t>unit, 1)
    if not emit(ev, unit, e.t0, EV_ENTER, u.c, u.s):
        return STATUS_EVENTS_FULL
    enter_bed(cur, &g, e, &u)
    if anoikis_on:  # drawn even if trapped at entry: a released unit needs it
        u.budget = ctcsim_exponential(&g)
    while True:
        while u.fate == FATE_CENSORED:
            cr = ur + (2 * u.c + u.s) * STATE_RATES
            total = cr[STATE_RATES - 1]  # the sum of cr[0 .. N_CIRC - 1], added in that order
            dt = ctcsim_exponential(&g) / total if total > 0 else INFINITY
            if anoikis_on:
                b = cr[N_CIRC]
                if b != u.b:
                    spend(&u, cur)
                    aim(&u, cur, b)
            dt_a = u.death_age - u.a
            if cur != arm.m2 and e.t0 + u.a + (dt if dt < dt_a else dt_a) >= arm.switch_s:
                cur = switch_models(arm, cur, e, &u, anoikis_on)
                ur = unit_rates(cur, e)
                continue
            steps += 1
            st = budget_check(steps, arm.max_steps)
            if st != STATUS_DONE:
                return st
            if e.t0 + u.a + (dt if dt < dt_a else dt_a) >= m.t_max_s:
                if u.s:
                    u.shielded_s += m.t_max_s - e.t0 - u.a
                u.t_end = m.t_max_s
                break  # censored
            if dt_a <= dt:
                if u.s:
                    u.shielded_s += dt_a
                u.t_end = e.t0 + u.a + dt_a
                u.fate, u.evcode = ctc_hazard_to[H_TIME_DEPENDENT], ctc_hazard_event[H_TIME_DEPENDENT]
                break
            if u.s:
                u.shielded_s += dt
            u.a += dt
            u.t_end = e.t0 + u.a
            h = ctc_circ_hazard[choose_by_sums(cr, cr + N_CIRC + 1, N_CIRC, ctcsim_uniform(&g) * total)]
            if not take_channel(h, m, cur, &g, e, &u, unit, ev):
                return STATUS_EVENTS_FULL
        st = end_circulation(arm, unit, row, &u, steps, out, ev)
        if st != STATUS_DONE or u.fate != FATE_ARRESTED:
            return st
        if not (m.after_arrest_on or arm.m2.after_arrest_on):
            # Nothing can happen after arrest: the chain would stay in the capillary, drawing nothing.
            out.post_arrest[row] = PA_IN_CAPILLARY
            out.post_arrest_time_s[row] = m.t_max_s
            return STATUS_DONE
        if not g2_ready:
            ctcsim_rng_init(&g2, key, <uint64_t>unit, 2)
            g2_ready = True
        t, steps_io = u.t_end, steps
        st = after_arrest(arm, &g2, unit, row, u.c, &u.s, e, &t, &steps_io, out, ev)
        if st != RELEASED:
            return st
        steps = steps_io
        cur = released(arm, cur, e, &u, t, anoikis_on)
        ur = unit_rates(cur, e)
        if not move_on(m, cur, &g, e, &u, unit, ev):  # leave the bed by flow, as after its last stage
            return STATUS_EVENTS_FULL


cdef int end_circulation(const Arm *arm, int64_t unit, int64_t row, const Walk *u, int64_t steps,
                         Fates *out, Events *ev) noexcept nogil:
    """The fate event and row (each arrest writes it; the last one stays)."""
    cdef const Model *m = arm.m
    if not emit(ev, unit, u.t_end, u.evcode, u.c, u.s):
        return STATUS_EVENTS_FULL
    out.fate[row] = u.fate
    out.fate_time_s[row] = u.t_end
    out.organ[row] = m.organ[u.c] if u.fate == FATE_ARRESTED else -1
    out.arrest_mode[row] = u.mode
    out.beds_visited[row] = u.beds
    out.shielded_at_fate[row] = u.s
    out.time_shielded_s[row] = u.shielded_s
    out.n_steps[row] = steps
    out.releases[row] = u.releases
    return STATUS_DONE


cdef inline double pa_rate(const Model *m, const double *f, int h, int c, int s, int n) noexcept nogil:
    cdef double r = m.rate[(h * m.n_compartments + c) * 2 + s] * f[h]
    return r * n if ctc_hazard_kind[h] == KIND_CELLS else r


cdef int grow_or_regress(const Model *m, const double *f, ctcsim_rng *g, int c, int s, int n,
                         double *t, int *state, int64_t unit, Events *ev) noexcept nogil:
    """The micrometastasis stage: growth to macro_cells (closed form) against the phase's hazards."""
    cdef double grow, total = 0.0, dt, other
    cdef double rates[PA_MAX_CHANNELS]
    cdef int j, h, nch = ctc_phase_n[PHASE_MICROMETASTASIS]
    grow = grow_time(g, n, pa_rate(m, f, H_DIVISION, c, s, 1), pa_rate(m, f, H_CELL_DEATH, c, s, 1), m.macro_cells)
    for j in range(nch):
        rates[j] = pa_rate(m, f, ctc_phase_hazard[PHASE_MICROMETASTASIS * PA_MAX_CHANNELS + j], c, s, n)
        total += rates[j]
    other = ctcsim_exponential(g) / total if total > 0 else INFINITY
    if grow == INFINITY and other == INFINITY:
        return STATUS_DONE
    dt = grow if grow < other else other
    if t[0] + dt >= m.t_max_s:
        return STATUS_DONE
    t[0] += dt
    if grow <= other:
        state[0] = PA_MACROMETASTASIS
        return STATUS_DONE if emit(ev, unit, t[0], EV_MACROMETASTASIS, c, s) else STATUS_EVENTS_FULL
    j = choose(rates, nch, ctcsim_uniform(g) * total) if nch > 1 else 0
    h = ctc_phase_hazard[PHASE_MICROMETASTASIS * PA_MAX_CHANNELS + j]
    state[0] = ctc_hazard_to[h]
    return STATUS_DONE if emit(ev, unit, t[0], ctc_hazard_event[h], c, s) else STATUS_EVENTS_FULL


cdef inline int founders(ctcsim_rng *g, int k, double p_dormant) noexcept nogil:
    """Of k extravasated cells, how many proliferate: each is dormant with p_dormant (one
    uniform per cell when 0 < p_dormant < 1; reference.founders)."""
    cdef int i, j = 0
    if p_dormant <= 0.0:
        return k
    if p_dormant >= 1.0:
        return 0
    for i in range(k):
        if ctcsim_uniform(g) >= p_dormant:
            j += 1
    return j


cdef inline void phase_rates(const Model *m, const double *f, int phase, int c, int s, double *base,
                             bint *per_cell) noexcept nogil:
    """The phase's channels' rates in bed c with shield s, before the colony's size: pa_rate's
    products, formed once per phase, shield and model instead of once per step."""
    cdef int j, h
    for j in range(ctc_phase_n[phase]):
        h = ctc_phase_hazard[phase * PA_MAX_CHANNELS + j]
        base[j] = m.rate[(h * m.n_compartments + c) * 2 + s] * f[h]
        per_cell[j] = ctc_hazard_kind[h] == KIND_CELLS


cdef int after_arrest(const Arm *arm, ctcsim_rng *g, int64_t unit, int64_t row, int c, int *s_io,
                      Entry e, double *t_io, int64_t *steps_io, Fates *out, Events *ev) noexcept nogil:
    """The post-arrest chain (DESIGN 2.4) on stream 2 ``g`` (reference.after_arrest), from arrest
    in bed c at time *t_io with shield *s_io.  RELEASED: the unit left the capillary at *t_io
    with shield *s_io, back into the blood."""
    cdef double t = t_io[0]
    cdef int64_t steps = steps_io[0]
    cdef const Model *cur = arm.m if t < arm.switch_s else arm.m2
    cdef int state = PA_IN_CAPILLARY, phase = PHASE_CAPILLARY, n = e.k, s = s_io[0], j, h, nch, st
    cdef const double *f = unit_factors(cur, e)
    cdef double rates[PA_MAX_CHANNELS]
    cdef double base[PA_MAX_CHANNELS]  # phase_rates for (base_phase, base_s, cur); -1: none yet
    cdef bint per_cell[PA_MAX_CHANNELS]
    cdef int base_phase = -1, base_s = -1
    cdef double total, dt
    while not ctc_final[state]:
        steps += 1
        st = budget_check(steps, arm.max_steps)
        if st != STATUS_DONE:
            return st
        if phase == PHASE_COLONY and n >= cur.micro_cells:
            out.micrometastasis_time_s[row] = t
            if not emit(ev, unit, t, EV_MICROMETASTASIS, c, s):
                return STATUS_EVENTS_FULL
            state, phase = PA_MICROMETASTASIS, PHASE_MICROMETASTASIS
            continue
        if phase == PHASE_MICROMETASTASIS:
            st = grow_or_regress(cur, f, g, c, s, n, &t, &state, unit, ev)
            if st != STATUS_DONE:
                return st
            break
        nch = ctc_phase_n[phase]
        if phase != base_phase or s != base_s:
            phase_rates(cur, f, phase, c, s, base, per_cell)
            base_phase, base_s = phase, s
        total = 0.0
        for j in range(nch):
            rates[j] = base[j] * n if per_cell[j] else base[j]
            total += rates[j]
        dt = ctcsim_exponential(g) / total if total > 0 else INFINITY
        if cur != arm.m2 and t + dt >= arm.switch_s:
            t = arm.switch_s  # the clock restarts under the arm's multipliers
            cur = arm.m2
            f = unit_factors(cur, e)
            base_phase = -1
            continue
        if t + dt >= arm.m.t_max_s:
            break
        t += dt
        j = choose(rates, nch, ctcsim_uniform(g) * total) if nch > 1 else 0
        h = ctc_phase_hazard[phase * PA_MAX_CHANNELS + j]
        if ctc_hazard_kind[h] == KIND_TOGGLE:
            s = 1 - s
            if not emit(ev, unit, t, EV_SHIELD_ON if s else EV_SHIELD_OFF, c, s):
                return STATUS_EVENTS_FULL
            continue
        if not emit(ev, unit, t, ctc_hazard_event[h], c, s):
            return STATUS_EVENTS_FULL
        if ctc_hazard_kind[h] == KIND_RELEASE:
            t_io[0], s_io[0], steps_io[0] = t, s, steps
            return RELEASED
        if ctc_hazard_kind[h] == KIND_CELLS:
            n += ctc_hazard_to[h]
            if n == 0:
                state = PA_COLONY_EXTINCT
                if not emit(ev, unit, t, EV_COLONY_EXTINCT, c, s):
                    return STATUS_EVENTS_FULL
            continue
        if ctc_hazard_kind[h] == KIND_EXTRAVASATE:
            out.extravasation_time_s[row] = t
            j = founders(g, n, cur.dormancy_prob[c])
            state = PA_DORMANT if j == 0 else PA_PROLIFERATING
            if state == PA_DORMANT and not emit(ev, unit, t, EV_DORMANT, c, s):
                return STATUS_EVENTS_FULL
            if j > 0:
                n = j  # the colony starts from the founders that proliferate
        else:
            state = ctc_hazard_to[h]
        phase = ctc_state_phase[state]
    out.post_arrest[row] = state
    out.post_arrest_time_s[row] = t if ctc_final[state] else arm.m.t_max_s
    return STATUS_DONE


cdef int simulate_unit(const Arm *arm, const uint64_t *key, int64_t unit, int64_t row,
                       Fates *out, Events *ev) noexcept nogil:
    """One unit, start to fate: its entry draws, its fate row, and its whole course."""
    cdef Entry e = draw_entry(arm.m, key, unit)
    out.unit_id[row] = unit
    out.cluster_size[row] = e.k
    out.phenotype[row] = e.p
    out.diameter_um[row] = e.d
    out.entry_time_s[row] = e.t0
    out.entry_compartment[row] = e.c
    out.post_arrest[row] = PA_NONE
    out.post_arrest_time_s[row] = NAN
    out.extravasation_time_s[row] = NAN
    out.micrometastasis_time_s[row] = NAN
    return circulate(arm, key, unit, row, e, out, ev)



cdef inline const double *dptr(const double[::1] a):
    return &a[0]


cdef class CoreModel:
    """An arm's CompiledModel(s), pinned as contiguous buffers, and the C views of them.

    ``after`` and ``switch_s``: the arm's model from absolute time ``switch_s`` on (a switch at
    or after t_max_s changes nothing, so it is dropped).  ``max_steps``: each unit's step budget."""

    def __init__(self, model, after=None, double switch_s=INFINITY, int64_t max_steps=DEFAULT_MAX_STEPS):
        self._keep = []
        if after is None or switch_s >= model.t_max_s:
            after, switch_s = model, INFINITY
        self._fill(&self.m, model)
        self._fill(&self.m2, after)
        self.arm.m = &self.m
        self.arm.m2 = &self.m2 if after is not model else &self.m
        self.arm.switch_s = switch_s
        self.arm.max_steps = max_steps

    cdef _fill(self, Model *m, model):
        def arr(x, dtype):
            return np.ascontiguousarray(np.asarray(x, dtype=dtype).ravel())
        f8 = np.float64
        rate = model.rate_table()  # [N_HAZARDS, C, 2]
        slope, offset = model.trap_tables()
        if rate.shape[0] != N_HAZARDS or len(model.cluster_factor) != N_FACTORS:
            raise ValueError("the model's tables do not match the hazards the core was built with")
        a = dict(
            is_bed=arr(model.is_bed, np.int8), organ=arr(model.organ, np.int32),
            n_stages=arr(model.n_stages, np.int32), cap=arr(model.capillary_diameter_um, f8),
            edge_ptr=arr(model.edge_ptr, np.int64), edge_to=arr(model.edge_to, np.int32),
            edge_cum=arr(model.edge_cum, f8), rate=arr(rate, f8),
            unit_rate=arr(unit_rate_table(model, rate), f8),
            entry_c=arr(model.entry_compartment, np.int32), entry_cum=arr(model.entry_cum, f8),
            cluster_cum=arr(model.cluster_cum, f8), phenotype_cum=arr(model.phenotype_cum, f8),
            tgrid=arr(model.entry_time_grid_s, f8), unit_factor=arr(unit_factor_table(model), f8),
            trap_slope=arr(slope, f8), trap_offset=arr(offset, f8),
            dorm=arr(model.dormancy_prob, f8),
        )
        if np.shape(model.cluster_factor) != (N_FACTORS, len(a["cluster_cum"])) \
                or np.shape(model.phenotype_factor) != (N_FACTORS, 3):
            raise ValueError("factor tables must have one row per factor group in hazards.FACTORS")
        self._keep.append(a)
        cdef const int8_t[::1] i8
        cdef const int32_t[::1] i32
        cdef const int64_t[::1] i64
        i8 = a["is_bed"]; m.is_bed = &i8[0]
        i32 = a["organ"]; m.organ = &i32[0]
        i32 = a["n_stages"]; m.n_stages = &i32[0]
        i32 = a["edge_to"]; m.edge_to = &i32[0]
        i32 = a["entry_c"]; m.entry_compartment = &i32[0]
        i64 = a["edge_ptr"]; m.edge_ptr = &i64[0]
        m.capillary_diameter_um = dptr(a["cap"])
        m.edge_cum = dptr(a["edge_cum"])
        m.rate = dptr(a["rate"])
        m.unit_rate = dptr(a["unit_rate"])
        m.entry_cum = dptr(a["entry_cum"])
        m.cluster_cum = dptr(a["cluster_cum"])
        m.phenotype_cum = dptr(a["phenotype_cum"])
        m.entry_time_grid_s = dptr(a["tgrid"])
        m.unit_factor = dptr(a["unit_factor"])
        m.trap_slope = dptr(a["trap_slope"])
        m.trap_offset = dptr(a["trap_offset"])
        m.dormancy_prob = dptr(a["dorm"])
        m.n_compartments = len(a["is_bed"])
        m.n_entry = len(a["entry_cum"])
        m.n_cluster = len(a["cluster_cum"])
        m.n_phenotype = len(a["phenotype_cum"])
        m.n_tgrid = len(a["tgrid"])
        m.anoikis_eta_s = model.anoikis_eta_s
        m.anoikis_beta = model.anoikis_beta
        m.anoikis_on = bool(np.any(rate[H_TIME_DEPENDENT] > 0))
        m.trap_max = model.trap_max
        m.cluster_cell_trap = model.cluster_cell_trap
        m.diameter_median_um = model.diameter_median_um
        m.diameter_sigma_log = model.diameter_sigma_log
        m.t_max_s = model.t_max_s
        m.micro_cells = model.micro_cells
        m.macro_cells = model.macro_cells
        post = [i for i in range(N_HAZARDS) if i not in model.circulating_channels() and i != H_TIME_DEPENDENT]
        m.after_arrest_on = bool(np.any(rate[post] > 0))


def unit_factor_table(model):
    """[K, 3, N_HAZARDS]: CompiledModel.unit_factors of every unit kind, one product each, as
    the kernel formed them at each arrest."""
    K = model.cluster_factor.shape[1]
    return np.array([[model.unit_factors(k, p) for p in range(3)] for k in range(1, K + 1)])


def unit_rate_table(model, rate):
    """[K, 3, C, 2, STATE_RATES]: each circulating channel's rate times the unit's factor on it, and
    the anoikis scale times its factor, for every unit kind (the products the kernel would form),
    then the rates' running sums: np.cumsum adds in order, as the kernel's loop did."""
    circ = list(model.circulating_channels()) + [H_TIME_DEPENDENT]
    K, C = model.cluster_factor.shape[1], rate.shape[1]
    out = np.empty((K, 3, C, 2, STATE_RATES))
    for k in range(1, K + 1):
        for p in range(3):
            f = model.unit_factors(k, p)[circ]
            out[k - 1, p, ..., :N_CIRC + 1] = rate[circ].transpose(1, 2, 0) * f
    out[..., N_CIRC + 1:] = np.cumsum(out[..., :N_CIRC], axis=-1)
    return out


def new_fate_buffers(n):
    """Empty fate columns for ``n`` units."""
    return {name: np.empty(n, dtype) for name, dtype in FATE_COLUMNS}


def new_event_buffers(n):
    """Empty event columns for ``n`` events."""
    return {name: np.empty(n, dtype) for name, dtype in EVENT_COLUMNS}


def run_chunk(CoreModel model, uint64_t key0, uint64_t key1, int64_t start, int64_t stop,
              dict fates, dict events=None):
    """Simulate units ``start .. stop-1``; fate of unit u goes to row ``u - start``.

    Returns ``(next_unit, n_events, status)``: units before ``next_unit`` are
    complete; ``status`` is DONE, EVENTS_FULL when the next unit's events did
    not fit (its partial events are dropped; call again from ``next_unit``),
    CANCELLED after request_stop(), or an error code >= ERRORS for unit ``next_unit``.
    """
    cdef uint64_t key[2]
    cdef Fates out
    cdef Events ev
    cdef Events *evp = NULL
    cdef int64_t u, mark = 0
    cdef int status = STATUS_DONE
    cdef int64_t[::1] fu = fates["unit_id"]
    cdef int32_t[::1] fk = fates["cluster_size"]
    cdef int8_t[::1] fp = fates["phenotype"]
    cdef double[::1] fd = fates["diameter_um"]
    cdef double[::1] ft0 = fates["entry_time_s"]
    cdef int32_t[::1] fc = fates["entry_compartment"]
    cdef int8_t[::1] ff = fates["fate"]
    cdef double[::1] ft = fates["fate_time_s"]
    cdef int32_t[::1] fo = fates["organ"]
    cdef int8_t[::1] fm = fates["arrest_mode"]
    cdef int32_t[::1] fb = fates["beds_visited"]
    cdef int8_t[::1] fs = fates["shielded_at_fate"]
    cdef double[::1] fts = fates["time_shielded_s"]
    cdef int32_t[::1] fn = fates["n_steps"]
    cdef int8_t[::1] fpa = fates["post_arrest"]
    cdef double[::1] fpt = fates["post_arrest_time_s"]
    cdef double[::1] fxt = fates["extravasation_time_s"]
    cdef double[::1] fmt = fates["micrometastasis_time_s"]
    cdef int32_t[::1] frl = fates["releases"]
    cdef int64_t[::1] eu
    cdef double[::1] et
    cdef int8_t[::1] ee
    cdef int32_t[::1] ec
    cdef int8_t[::1] es
    if stop - start > fu.shape[0]:
        raise ValueError("fate buffers hold fewer rows than units requested")
    if stop <= start:
        return start, 0, STATUS_DONE
    key[0] = key0
    key[1] = key1
    out.unit_id, out.cluster_size, out.phenotype = &fu[0], &fk[0], &fp[0]
    out.diameter_um, out.entry_time_s, out.entry_compartment = &fd[0], &ft0[0], &fc[0]
    out.fate, out.fate_time_s, out.organ, out.arrest_mode = &ff[0], &ft[0], &fo[0], &fm[0]
    out.beds_visited, out.shielded_at_fate, out.time_shielded_s, out.n_steps = &fb[0], &fs[0], &fts[0], &fn[0]
    out.post_arrest, out.post_arrest_time_s = &fpa[0], &fpt[0]
    out.extravasation_time_s, out.micrometastasis_time_s, out.releases = &fxt[0], &fmt[0], &frl[0]
    if events is not None:
        eu, et, ee = events["unit_id"], events["time_s"], events["event"]
        ec, es = events["compartment"], events["shielded"]
        ev.unit_id, ev.time_s, ev.event, ev.compartment, ev.shielded = &eu[0], &et[0], &ee[0], &ec[0], &es[0]
        ev.capacity = eu.shape[0]
        ev.n = 0
        evp = &ev
    u = start
    with nogil:
        while u < stop:
            if evp != NULL:
                mark = ev.n
            status = simulate_unit(&model.arm, key, u, u - start, &out, evp)
            if status != STATUS_DONE:
                if evp != NULL:
                    ev.n = mark
                break
            u += 1
    return u, (ev.n if evp != NULL else 0), status


def philox_raw(uint64_t key0, uint64_t key1, uint64_t unit, uint64_t stream, Py_ssize_t n):
    """The first ``n`` raw words of a unit's stream (for known-answer tests)."""
    cdef uint64_t key[2]
    cdef ctcsim_rng g
    cdef Py_ssize_t i
    out = np.empty(n, np.uint64)
    cdef uint64_t[::1] o = out
    key[0] = key0
    key[1] = key1
    ctcsim_rng_init(&g, key, unit, stream)
    for i in range(n):
        o[i] = ctcsim_philox_next(&g)
    return out
