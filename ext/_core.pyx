# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled core: simulate a range of units' circulating phase exactly.

The algorithm and its draw order are those of ctcsim/reference.py (read that
first); the model's semantics are in ctcsim/model.py.  One entry point,
``run_chunk``, runs with the GIL released, writes into preallocated column
buffers and returns why it stopped; it never raises inside the loop.
"""
import numpy as np

from libc.math cimport INFINITY, M_PI, NAN, cos, exp, log, pow, sqrt
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t

cdef extern from "philox.h" nogil:
    ctypedef struct ctcsim_rng:
        pass
    void ctcsim_rng_init(ctcsim_rng *g, const uint64_t *key, uint64_t unit, uint64_t stream)
    uint64_t ctcsim_philox_next(ctcsim_rng *g)
    double ctcsim_uniform(ctcsim_rng *g)
    double ctcsim_exponential(ctcsim_rng *g)

# Why run_chunk stopped.  Codes >= ERRORS are errors of unit ``next_unit``.
cdef enum:
    STATUS_DONE = 0
    STATUS_EVENTS_FULL = 1   # the event buffer cannot hold the next unit: flush, call again
    STATUS_CANCELLED = 2     # request_stop() was called: units before next_unit are complete
    STATUS_ERRORS = 16
    STATUS_ERR_STEP_BUDGET = 16  # a unit took more than max_steps steps
DONE = STATUS_DONE
EVENTS_FULL = STATUS_EVENTS_FULL
CANCELLED = STATUS_CANCELLED
ERRORS = STATUS_ERRORS
ERR_STEP_BUDGET = STATUS_ERR_STEP_BUDGET
DEFAULT_MAX_STEPS = 1_000_000_000  # ~25 s of one unit at the core's speed: no legitimate unit gets near
# How often (in steps) a unit looks at the stop flag: cheap, and well under a millisecond apart.
cdef enum:
    STOP_CHECK_MASK = 4095

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

# Codes shared with ctcsim/model.py (FATES, ARREST_MODES, EVENTS).
cdef enum:
    CENSORED = 0
    DIED_SHEAR = 1
    DIED_NK = 2
    DIED_ANOIKIS = 3
    ARRESTED = 4
cdef enum:
    MODE_NONE = 0
    MODE_TRAPPED = 1
    MODE_ADHERED = 2
cdef enum:
    EV_ENTER = 0
    EV_STAGE = 1
    EV_MOVE = 2
    EV_SHIELD_ON = 3
    EV_SHIELD_OFF = 4
    EV_TRAPPED = 5
    EV_ADHERED = 6
    EV_DIED_SHEAR = 7
    EV_DIED_NK = 8
    EV_DIED_ANOIKIS = 9
    EV_CENSORED = 10
    EV_EXTRAVASATED = 11
    EV_DORMANT = 12
    EV_WOKE = 13
    EV_DIED_IN_CAPILLARY = 14
    EV_DIED_DORMANT = 15
    EV_DIVISION = 16
    EV_CELL_DEATH = 17
    EV_COLONY_EXTINCT = 18
    EV_MICROMETASTASIS = 19
    EV_REGRESSED = 20
    EV_MACROMETASTASIS = 21
cdef enum:
    PA_NONE = 0
    PA_IN_CAPILLARY = 1
    PA_DIED_IN_CAPILLARY = 2
    PA_DORMANT = 3
    PA_DIED_DORMANT = 4
    PA_PROLIFERATING = 5
    PA_COLONY_EXTINCT = 6
    PA_MICROMETASTASIS = 7
    PA_REGRESSED = 8
    PA_MACROMETASTASIS = 9
cdef enum:
    N_HAZARDS = 6   # len(model.HAZARDS)

FATE_COLUMNS = (
    ("unit_id", np.int64), ("cluster_size", np.int32), ("phenotype", np.int8),
    ("diameter_um", np.float64), ("entry_time_s", np.float64),
    ("entry_compartment", np.int32), ("fate", np.int8), ("fate_time_s", np.float64),
    ("organ", np.int32), ("arrest_mode", np.int8), ("beds_visited", np.int32),
    ("shielded_at_fate", np.int8), ("time_shielded_s", np.float64), ("n_steps", np.int32),
    ("post_arrest", np.int8), ("post_arrest_time_s", np.float64),
    ("extravasation_time_s", np.float64), ("micrometastasis_time_s", np.float64),
)
EVENT_COLUMNS = (
    ("unit_id", np.int64), ("time_s", np.float64), ("event", np.int8),
    ("compartment", np.int32), ("shielded", np.int8),
)


cdef struct Model:
    const int8_t *is_bed
    const int32_t *organ
    const double *stage_rate
    const int32_t *n_stages
    const double *shear      # [C][2], by shield state
    const double *nk
    const double *adhesion
    const double *toggle
    const double *cap_diameter
    const int64_t *edge_ptr
    const int32_t *edge_to
    const double *edge_cum
    double eta, beta
    double anoikis_scale[2]
    bint anoikis_on
    double trap_max, trap_ratio50, trap_width
    int n_entry
    const int32_t *entry_compartment
    const double *entry_cum
    int n_cluster
    const double *cluster_cum
    int n_phenotype
    const double *phenotype_cum
    double d_median, d_sigma
    int n_tgrid
    const double *tgrid
    const double *cluster_factor    # [N_HAZARDS][K]
    const double *phenotype_factor  # [N_HAZARDS][3]
    const double *trap_dscale
    double t_max
    const double *cap_death      # [C][2]
    const double *extravasation
    const double *dormancy
    const double *wake
    const double *dormant_death
    const double *birth
    const double *death
    const double *regression
    const double *compatibility
    int micro_cells
    double macro_cells
    bint after_arrest_on     # any capillary death, extravasation or incompatibility: else units stay arrested


cdef struct Fates:
    int64_t *unit_id
    int32_t *cluster_size
    int8_t *phenotype
    double *diameter
    double *entry_time
    int32_t *entry_compartment
    int8_t *fate
    double *fate_time
    int32_t *organ
    int8_t *arrest_mode
    int32_t *beds_visited
    int8_t *shielded
    double *time_shielded
    int32_t *n_steps
    int8_t *post_arrest
    double *post_arrest_time
    double *extravasation_time
    double *micro_time


cdef struct Events:
    int64_t *unit_id
    double *time
    int8_t *event
    int32_t *compartment
    int8_t *shielded
    int64_t capacity
    int64_t n


cdef inline int pick(const double *cum, int n, double u) noexcept nogil:
    cdef int i
    for i in range(n - 1):
        if u < cum[i]:
            return i
    return n - 1


cdef inline bint emit(Events *ev, int64_t unit, double t, int e, int c, int s) noexcept nogil:
    """Append an event; False when the buffer is full."""
    if ev == NULL:
        return True
    if ev.n == ev.capacity:
        return False
    ev.unit_id[ev.n] = unit
    ev.time[ev.n] = t
    ev.event[ev.n] = e
    ev.compartment[ev.n] = c
    ev.shielded[ev.n] = s
    ev.n += 1
    return True


cdef inline bint trapped_on_entry(const Model *m, ctcsim_rng *g, int c, double d, int k) noexcept nogil:
    if m.trap_max == 0.0:  # trapping off: skip the exp (the probability is 0 either way)
        return False
    cdef double r = d * m.trap_dscale[k - 1] / m.cap_diameter[c]
    cdef double p = m.trap_max / (1.0 + exp(-(r - m.trap_ratio50) / m.trap_width))
    return p >= 1.0 or (p > 0.0 and ctcsim_uniform(g) < p)


cdef inline void unit_factors(const Model *m, int k, int p, double *f) noexcept nogil:
    cdef int h
    for h in range(N_HAZARDS):
        f[h] = m.cluster_factor[h * m.n_cluster + k - 1] * m.phenotype_factor[h * 3 + p]


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


cdef int after_arrest(const Model *m, const Model *m2, double switch_s, const uint64_t *key,
                      int64_t unit, int64_t row, int c, int s, int k, int p, double t, int64_t steps,
                      int64_t max_steps, Fates *out, Events *ev) noexcept nogil:
    """The post-arrest chain (DESIGN 2.4) on stream 2; see reference.after_arrest."""
    cdef ctcsim_rng g
    cdef const Model *cur = m if t < switch_s else m2
    cdef int state = PA_IN_CAPILLARY, n = k, evc
    cdef double f[N_HAZARDS]
    cdef double r0, r1, total, dt, grow, reg, dt_reg, u
    cdef bint second
    ctcsim_rng_init(&g, key, <uint64_t>unit, 2)
    u = m.compatibility[c]
    if u <= 0.0 or (u < 1.0 and ctcsim_uniform(&g) >= u):  # the organ does not let it live
        out.post_arrest[row] = PA_DIED_IN_CAPILLARY
        out.post_arrest_time[row] = t
        return STATUS_DONE if emit(ev, unit, t, EV_DIED_IN_CAPILLARY, c, s) else STATUS_EVENTS_FULL
    while True:
        steps += 1
        if steps > max_steps:
            return STATUS_ERR_STEP_BUDGET
        if (steps & STOP_CHECK_MASK) == 0 and _stop_requested:
            return STATUS_CANCELLED
        unit_factors(cur, k, p, f)
        if state == PA_IN_CAPILLARY:
            r0 = cur.cap_death[2 * c + s] * f[1]
            r1 = cur.extravasation[c] * f[4]
        elif state == PA_DORMANT:
            r0 = cur.dormant_death[c]
            r1 = cur.wake[c]
        elif state == PA_PROLIFERATING:
            if n >= cur.micro_cells:
                out.micro_time[row] = t
                if not emit(ev, unit, t, EV_MICROMETASTASIS, c, s):
                    return STATUS_EVENTS_FULL
                state = PA_MICROMETASTASIS
                continue
            r0 = cur.death[c] * n
            r1 = cur.birth[c] * f[5] * n
        else:
            grow = grow_time(&g, n, cur.birth[c] * f[5], cur.death[c], cur.macro_cells)
            reg = cur.regression[c]
            dt_reg = ctcsim_exponential(&g) / reg if reg > 0 else INFINITY
            if grow == INFINITY and dt_reg == INFINITY:
                break
            dt = grow if grow < dt_reg else dt_reg
            if t + dt >= m.t_max:
                break
            t += dt
            state = PA_MACROMETASTASIS if grow <= dt_reg else PA_REGRESSED
            if not emit(ev, unit, t, EV_MACROMETASTASIS if grow <= dt_reg else EV_REGRESSED, c, s):
                return STATUS_EVENTS_FULL
            break
        total = r0 + r1
        dt = ctcsim_exponential(&g) / total if total > 0 else INFINITY
        if cur != m2 and t + dt >= switch_s:
            t = switch_s  # the clock restarts under the arm's multipliers
            cur = m2
            continue
        if t + dt >= m.t_max:
            break
        t += dt
        u = ctcsim_uniform(&g)
        second = u * total >= r0 if r1 > 0 else False
        if state == PA_IN_CAPILLARY:
            if not second:
                state = PA_DIED_IN_CAPILLARY
                if not emit(ev, unit, t, EV_DIED_IN_CAPILLARY, c, s):
                    return STATUS_EVENTS_FULL
                break
            out.extravasation_time[row] = t
            if not emit(ev, unit, t, EV_EXTRAVASATED, c, s):
                return STATUS_EVENTS_FULL
            u = cur.dormancy[c]
            if u >= 1.0 or (u > 0.0 and ctcsim_uniform(&g) < u):
                state = PA_DORMANT
                if not emit(ev, unit, t, EV_DORMANT, c, s):
                    return STATUS_EVENTS_FULL
            else:
                state = PA_PROLIFERATING
        elif state == PA_DORMANT:
            state = PA_PROLIFERATING if second else PA_DIED_DORMANT
            if not emit(ev, unit, t, EV_WOKE if second else EV_DIED_DORMANT, c, s):
                return STATUS_EVENTS_FULL
            if not second:
                break
        else:
            n += 1 if second else -1
            if not emit(ev, unit, t, EV_DIVISION if second else EV_CELL_DEATH, c, s):
                return STATUS_EVENTS_FULL
            if n == 0:
                state = PA_COLONY_EXTINCT
                if not emit(ev, unit, t, EV_COLONY_EXTINCT, c, s):
                    return STATUS_EVENTS_FULL
                break
    out.post_arrest[row] = state
    if state == PA_DIED_IN_CAPILLARY or state == PA_DIED_DORMANT or state == PA_COLONY_EXTINCT \
            or state == PA_REGRESSED or state == PA_MACROMETASTASIS:
        out.post_arrest_time[row] = t
    else:
        out.post_arrest_time[row] = m.t_max
    return STATUS_DONE


cdef int simulate_unit(const Model *m, const Model *m2, double switch_s, const uint64_t *key,
                       int64_t unit, int64_t row, int64_t max_steps, Fates *out, Events *ev) noexcept nogil:
    """One unit, start to fate: STATUS_DONE, or why it could not finish.

    The unit follows ``m`` until absolute time ``switch_s`` and ``m2`` after it
    (``m2 == m`` for an arm without a start time)."""
    cdef ctcsim_rng g
    cdef int c, k, p, i, j = 0, s = 0, fate = CENSORED, mode = MODE_NONE, evcode = EV_CENSORED
    cdef int beds = 0, steps = 0
    cdef int64_t lo, hi, e
    cdef double d, t0, u1, u2, x, a = 0.0, t, dt, dt_a, b = 0.0, total, acc
    cdef double budget = INFINITY, w = 0.0, w_new, shielded_s = 0.0, t_end
    cdef double f[N_HAZARDS]
    cdef double rates[5]
    cdef const Model *cur
    cdef bint anoikis_on = m.anoikis_on or m2.anoikis_on

    # Entry attributes, stream 0.
    ctcsim_rng_init(&g, key, <uint64_t>unit, 0)
    c = m.entry_compartment[pick(m.entry_cum, m.n_entry, ctcsim_uniform(&g)) if m.n_entry > 1 else 0]
    k = (pick(m.cluster_cum, m.n_cluster, ctcsim_uniform(&g)) if m.n_cluster > 1 else 0) + 1
    p = pick(m.phenotype_cum, m.n_phenotype, ctcsim_uniform(&g)) if m.n_phenotype > 1 else 0
    d = m.d_median
    if m.d_sigma > 0:
        u1 = <double>((ctcsim_philox_next(&g) >> 11) + 1) * (1.0 / 9007199254740992.0)
        u2 = ctcsim_uniform(&g)
        x = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2)
        d = m.d_median * exp(m.d_sigma * x)
    t0 = m.tgrid[0]
    if m.n_tgrid > 1:
        x = ctcsim_uniform(&g) * (m.n_tgrid - 1)
        i = <int>x
        if i > m.n_tgrid - 2:
            i = m.n_tgrid - 2
        t0 = m.tgrid[i] + (x - i) * (m.tgrid[i + 1] - m.tgrid[i])
    if switch_s >= m.t_max:
        m2 = m
    cur = m if t0 < switch_s else m2
    unit_factors(cur, k, p, f)

    out.unit_id[row] = unit
    out.cluster_size[row] = k
    out.phenotype[row] = p
    out.diameter[row] = d
    out.entry_time[row] = t0
    out.entry_compartment[row] = c
    out.post_arrest[row] = PA_NONE
    out.post_arrest_time[row] = NAN
    out.extravasation_time[row] = NAN
    out.micro_time[row] = NAN

    # Circulation, stream 1.
    ctcsim_rng_init(&g, key, <uint64_t>unit, 1)
    t_end = t0
    if not emit(ev, unit, t0, EV_ENTER, c, s):
        return STATUS_EVENTS_FULL
    if m.is_bed[c]:
        beds += 1
        if trapped_on_entry(cur, &g, c, d, k):
            fate, mode, evcode = ARRESTED, MODE_TRAPPED, EV_TRAPPED
    if fate == CENSORED and anoikis_on:
        budget = ctcsim_exponential(&g)
    # Hot pointers in locals: the compiler may keep them in registers across the loop.
    cdef const double *stage_rate = cur.stage_rate
    cdef const double *shear = cur.shear
    cdef const double *nk = cur.nk
    cdef const double *adhesion = cur.adhesion
    cdef const double *toggle = cur.toggle
    cdef const int32_t *n_stages = cur.n_stages
    cdef const int8_t *is_bed = m.is_bed
    cdef const int64_t *edge_ptr = m.edge_ptr
    cdef const int32_t *edge_to = m.edge_to
    cdef double t_max = m.t_max
    while fate == CENSORED:
        rates[0] = stage_rate[c]
        rates[1] = shear[2 * c + s] * f[0]
        rates[2] = nk[2 * c + s] * f[1]
        rates[3] = adhesion[2 * c + s] * f[3]
        rates[4] = toggle[2 * c + s]
        total = rates[0] + rates[1] + rates[2] + rates[3] + rates[4]
        dt = ctcsim_exponential(&g) / total if total > 0 else INFINITY
        dt_a = INFINITY
        if anoikis_on:
            b = cur.anoikis_scale[s] * f[2]
            if b > 0:
                dt_a = m.eta * pow(w + budget / b, 1.0 / m.beta) - a
        if cur != m2 and t0 + a + (dt if dt < dt_a else dt_a) >= switch_s:
            # Advance to the switch; the clocks restart under the arm's multipliers.
            if s:
                shielded_s += switch_s - t0 - a
            a = switch_s - t0
            if anoikis_on:
                w_new = pow(a / m.eta, m.beta)
                budget -= b * (w_new - w)
                w = w_new
            cur = m2
            unit_factors(cur, k, p, f)
            stage_rate, shear, nk, adhesion, toggle = cur.stage_rate, cur.shear, cur.nk, cur.adhesion, cur.toggle
            n_stages = cur.n_stages
            continue
        steps += 1
        if steps > max_steps:
            return STATUS_ERR_STEP_BUDGET
        if (steps & STOP_CHECK_MASK) == 0 and _stop_requested:
            return STATUS_CANCELLED
        if t0 + a + (dt if dt < dt_a else dt_a) >= t_max:
            if s:
                shielded_s += t_max - t0 - a
            t_end = t_max
            break  # censored
        if dt_a <= dt:
            if s:
                shielded_s += dt_a
            t_end = t0 + a + dt_a
            fate, evcode = DIED_ANOIKIS, EV_DIED_ANOIKIS
            break
        a += dt
        if s:
            shielded_s += dt
        if anoikis_on:
            w_new = pow(a / m.eta, m.beta)
            budget -= b * (w_new - w)
            w = w_new
        t = t0 + a
        t_end = t
        x = ctcsim_uniform(&g) * total
        i = 0
        acc = rates[0]
        while i < 4 and x >= acc:
            i += 1
            acc += rates[i]
        while rates[i] == 0.0:  # x rounded up to total: take the last live channel
            i -= 1
        if i == 0:
            j += 1
            if j < n_stages[c]:
                if not emit(ev, unit, t, EV_STAGE, c, s):
                    return STATUS_EVENTS_FULL
                continue
            lo = edge_ptr[c]
            hi = edge_ptr[c + 1]
            e = lo + (pick(m.edge_cum + lo, <int>(hi - lo), ctcsim_uniform(&g)) if hi - lo > 1 else 0)
            c = edge_to[e]
            j = 0
            if not emit(ev, unit, t, EV_MOVE, c, s):
                return STATUS_EVENTS_FULL
            if is_bed[c]:
                beds += 1
                if trapped_on_entry(cur, &g, c, d, k):
                    fate, mode, evcode = ARRESTED, MODE_TRAPPED, EV_TRAPPED
        elif i == 1:
            fate, evcode = DIED_SHEAR, EV_DIED_SHEAR
        elif i == 2:
            fate, evcode = DIED_NK, EV_DIED_NK
        elif i == 3:
            fate, mode, evcode = ARRESTED, MODE_ADHERED, EV_ADHERED
        else:
            s = 1 - s
            if not emit(ev, unit, t, EV_SHIELD_ON if s else EV_SHIELD_OFF, c, s):
                return STATUS_EVENTS_FULL

    if not emit(ev, unit, t_end, evcode, c, s):
        return STATUS_EVENTS_FULL
    out.fate[row] = fate
    out.fate_time[row] = t_end
    out.organ[row] = m.organ[c] if fate == ARRESTED else -1
    out.arrest_mode[row] = mode
    out.beds_visited[row] = beds
    out.shielded[row] = s
    out.time_shielded[row] = shielded_s
    out.n_steps[row] = steps
    if fate == ARRESTED:
        if m.after_arrest_on or m2.after_arrest_on:
            return after_arrest(m, m2, switch_s, key, unit, row, c, s, k, p, t_end, steps, max_steps, out, ev)
        # Nothing can happen after arrest: the chain would stay in the capillary, drawing nothing.
        out.post_arrest[row] = PA_IN_CAPILLARY
        out.post_arrest_time[row] = m.t_max
    return STATUS_DONE


cdef inline const double *dptr(const double[::1] a):
    return &a[0]


cdef class CoreModel:
    """An arm's CompiledModel(s), pinned as contiguous buffers, and the C views of them.

    ``after`` and ``switch_s``: the arm's model from absolute time ``switch_s`` on."""
    cdef Model m
    cdef Model m2
    cdef double switch_s
    cdef int64_t max_steps
    cdef list _keep

    def __init__(self, model, after=None, double switch_s=INFINITY, int64_t max_steps=DEFAULT_MAX_STEPS):
        self._keep = []
        self.max_steps = max_steps
        self._fill(&self.m, model)
        self._fill(&self.m2, after if after is not None else model)
        self.switch_s = switch_s if after is not None else INFINITY

    cdef _fill(self, Model *m, model):
        def arr(x, dtype):
            return np.ascontiguousarray(np.asarray(x, dtype=dtype).ravel())
        f8 = np.float64
        a = dict(
            is_bed=arr(model.is_bed, np.int8), organ=arr(model.organ, np.int32),
            stage_rate=arr(model.stage_rate_per_s, f8), n_stages=arr(model.n_stages, np.int32),
            shear=arr(model.shear_per_s, f8), nk=arr(model.nk_per_s, f8),
            adhesion=arr(model.adhesion_per_s, f8), toggle=arr(model.shield_toggle_per_s, f8),
            cap=arr(model.capillary_diameter_um, f8), edge_ptr=arr(model.edge_ptr, np.int64),
            edge_to=arr(model.edge_to, np.int32), edge_cum=arr(model.edge_cum, f8),
            entry_c=arr(model.entry_compartment, np.int32), entry_cum=arr(model.entry_cum, f8),
            cluster_cum=arr(model.cluster_cum, f8), phenotype_cum=arr(model.phenotype_cum, f8),
            tgrid=arr(model.entry_time_grid_s, f8), cf=arr(model.cluster_factor, f8),
            pf=arr(model.phenotype_factor, f8), tds=arr(model.trap_diameter_scale, f8),
            cap_death=arr(model.cap_death_per_s, f8), ext=arr(model.extravasation_per_s, f8),
            dorm=arr(model.dormancy_prob, f8), wake=arr(model.wake_per_s, f8),
            dd=arr(model.dormant_death_per_s, f8), birth=arr(model.birth_per_s, f8),
            death=arr(model.death_per_s, f8), reg=arr(model.regression_per_s, f8),
            compat=arr(model.compatibility, f8),
        )
        if len(a["cf"]) != N_HAZARDS * len(a["cluster_cum"]) or len(a["pf"]) != N_HAZARDS * 3:
            raise ValueError("factor tables must have one row per hazard in model.HAZARDS")
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
        m.stage_rate = dptr(a["stage_rate"])
        m.shear = dptr(a["shear"])
        m.nk = dptr(a["nk"])
        m.adhesion = dptr(a["adhesion"])
        m.toggle = dptr(a["toggle"])
        m.cap_diameter = dptr(a["cap"])
        m.edge_cum = dptr(a["edge_cum"])
        m.entry_cum = dptr(a["entry_cum"])
        m.cluster_cum = dptr(a["cluster_cum"])
        m.phenotype_cum = dptr(a["phenotype_cum"])
        m.tgrid = dptr(a["tgrid"])
        m.cluster_factor = dptr(a["cf"])
        m.phenotype_factor = dptr(a["pf"])
        m.trap_dscale = dptr(a["tds"])
        m.cap_death = dptr(a["cap_death"])
        m.extravasation = dptr(a["ext"])
        m.dormancy = dptr(a["dorm"])
        m.wake = dptr(a["wake"])
        m.dormant_death = dptr(a["dd"])
        m.birth = dptr(a["birth"])
        m.death = dptr(a["death"])
        m.regression = dptr(a["reg"])
        m.compatibility = dptr(a["compat"])
        m.n_entry = len(a["entry_cum"])
        m.n_cluster = len(a["cluster_cum"])
        m.n_phenotype = len(a["phenotype_cum"])
        m.n_tgrid = len(a["tgrid"])
        m.eta = model.anoikis_eta_s
        m.beta = model.anoikis_beta
        m.anoikis_scale[0] = model.anoikis_scale[0]
        m.anoikis_scale[1] = model.anoikis_scale[1]
        m.anoikis_on = model.anoikis_scale[0] > 0 or model.anoikis_scale[1] > 0
        m.trap_max = model.trap_max
        m.trap_ratio50 = model.trap_ratio50
        m.trap_width = model.trap_width
        m.d_median = model.diameter_median_um
        m.d_sigma = model.diameter_sigma_log
        m.t_max = model.t_max_s
        m.micro_cells = model.micro_cells
        m.macro_cells = model.macro_cells
        m.after_arrest_on = bool(np.any(a["cap_death"] > 0) or np.any(a["ext"] > 0) or np.any(a["compat"] < 1))


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
    cdef int64_t u, mark
    cdef int status = STATUS_DONE, st
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
    out.diameter, out.entry_time, out.entry_compartment = &fd[0], &ft0[0], &fc[0]
    out.fate, out.fate_time, out.organ, out.arrest_mode = &ff[0], &ft[0], &fo[0], &fm[0]
    out.beds_visited, out.shielded, out.time_shielded, out.n_steps = &fb[0], &fs[0], &fts[0], &fn[0]
    out.post_arrest, out.post_arrest_time, out.extravasation_time, out.micro_time = &fpa[0], &fpt[0], &fxt[0], &fmt[0]
    if events is not None:
        eu, et, ee = events["unit_id"], events["time_s"], events["event"]
        ec, es = events["compartment"], events["shielded"]
        ev.unit_id, ev.time, ev.event, ev.compartment, ev.shielded = &eu[0], &et[0], &ee[0], &ec[0], &es[0]
        ev.capacity = eu.shape[0]
        ev.n = 0
        evp = &ev
    u = start
    with nogil:
        while u < stop:
            mark = ev.n if evp != NULL else 0
            st = simulate_unit(&model.m, &model.m2, model.switch_s, key, u, u - start, model.max_steps, &out, evp)
            if st != STATUS_DONE:
                if evp != NULL:
                    ev.n = mark
                status = st
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
