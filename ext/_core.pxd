# cython: language_level=3
# The core's contract (DESIGN 3): what the kernel reads, what it writes, the codes it returns.
#
# Codes and channel tables come from ctcsim/hazards.py, generated into _model.pxi by setup.py:
# fates FATE_*, arrest modes MODE_*, events EV_*, post-arrest states PA_*, hazards H_* (rows of
# every rate table, in the order of hazards.HAZARDS), statuses STATUS_*, and the C arrays
# ctc_circ_hazard (the circulating phase's constant channels, in draw order), ctc_phase_*
# (the post-arrest phases' channels), ctc_hazard_kind/to/event (what each hazard's event does).
#
# Draw order (ctcsim/reference.py's docstring is the full statement; both must change together):
#   stream 0  entry: compartment, cluster size, phenotype (one uniform each if more than one
#             category), diameter (two uniforms, Box-Muller) if sigma > 0, entry time (one uniform)
#             if the grid has more than one point;
#   stream 1  circulation: trapping on entry (one uniform if 0 < p < 1), the anoikis threshold
#             (one exponential if anoikis is on, trapped at entry or not), then per step one
#             exponential, one uniform to choose the channel, one uniform for the edge when leaving
#             by more than one, one for trapping on entering a bed; on release from arrest the
#             edge and the trapping draws of leaving the bed, then steps as before;
#   stream 2  after arrest, one stream for all of a unit's arrests: per step one exponential, one
#             uniform to choose if the phase has more than one channel, on extravasation one
#             uniform per founder cell for its dormancy (if 0 < p < 1); at the micrometastasis
#             stage grow_time's draws and one exponential for the phase's hazards.
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t

include "_model.pxi"

cdef enum:
    STATE_RATES = 2 * N_CIRC + 1  # numbers per circulating state in Model.unit_rate

cdef extern from "philox.h" nogil:
    ctypedef struct ctcsim_rng:
        pass
    void ctcsim_rng_init(ctcsim_rng *g, const uint64_t *key, uint64_t unit, uint64_t stream)
    uint64_t ctcsim_philox_next(ctcsim_rng *g)
    double ctcsim_uniform(ctcsim_rng *g)
    double ctcsim_exponential(ctcsim_rng *g)


# One arm's model (ctcsim.model.CompiledModel, whose docstring gives the semantics): arrays
# indexed by compartment c < n_compartments, shield s in {0, 1}, cluster size k >= 1.
cdef struct Model:
    int n_compartments
    const int8_t *is_bed              # [C]
    const int32_t *organ              # [C], -1 for pools
    const int32_t *n_stages           # [C]
    const double *capillary_diameter_um  # [C]
    const int64_t *edge_ptr           # [C + 1], CSR by source
    const int32_t *edge_to            # [E]
    const double *edge_cum            # [E], cumulative flow fractions, 1.0 last per source
    const double *rate                # [N_HAZARDS][C][2] per second, before unit factors
    const double *unit_rate           # [K][3][C][2][STATE_RATES]: per unit kind (k, p) and state (c, s),
                                      # the circulating channels' rates times the unit's factors, the
                                      # anoikis scale (the same products the kernel would form), then the
                                      # rates' running sums, added in channel order (the last: their total)
    double anoikis_eta_s, anoikis_beta  # the time-dependent hazard's Weibull scale and shape
    bint anoikis_on                   # any anoikis rate > 0
    double trap_max, cluster_cell_trap
    const double *trap_slope          # [K][C], CompiledModel.trap_tables: the leading cell is held with
    const double *trap_offset         # [3]     q = trap_max / (1 + exp(offset[p] - d * slope[k-1][c]))
    int n_entry
    const int32_t *entry_compartment  # [n_entry]
    const double *entry_cum           # [n_entry]
    int n_cluster
    const double *cluster_cum         # [K]
    int n_phenotype
    const double *phenotype_cum       # [<= 3]
    double diameter_median_um, diameter_sigma_log
    int n_tgrid
    const double *entry_time_grid_s   # [M], inverse CDF of the entry time
    const double *unit_factor         # [K][3][N_HAZARDS]: each hazard's factor on a unit of cluster size k
                                      # and phenotype p (CompiledModel.unit_factors; 1 for hazards without one)
    double t_max_s
    const double *dormancy_prob       # [C], per founder cell
    int micro_cells
    double macro_cells
    bint after_arrest_on              # any post-arrest rate > 0; else units stay arrested


# Output columns (new_fate_buffers / new_event_buffers give their dtypes), row = unit - start.
cdef struct Fates:
    int64_t *unit_id
    int32_t *cluster_size
    int8_t *phenotype
    double *diameter_um
    double *entry_time_s
    int32_t *entry_compartment
    int8_t *fate                      # FATE_*
    double *fate_time_s
    int32_t *organ
    int8_t *arrest_mode               # MODE_*
    int32_t *beds_visited
    int8_t *shielded_at_fate
    double *time_shielded_s
    int32_t *n_steps
    int8_t *post_arrest               # PA_*
    double *post_arrest_time_s
    double *extravasation_time_s
    double *micrometastasis_time_s
    int32_t *releases                 # times released from arrest back into the blood


cdef struct Events:
    int64_t *unit_id
    double *time_s
    int8_t *event                     # EV_*
    int32_t *compartment
    int8_t *shielded
    int64_t capacity
    int64_t n


# One unit's entry attributes (stream 0).
cdef struct Entry:
    int c, k, p
    double d, t0


# An arm: ``m`` until absolute time ``switch_s``, ``m2`` after it (m2 == m without a start time).
cdef struct Arm:
    const Model *m
    const Model *m2
    double switch_s
    int64_t max_steps


# Every kernel function returns STATUS_DONE, STATUS_EVENTS_FULL (the unit's events did not fit),
# STATUS_CANCELLED (request_stop) or an error code >= STATUS_ERRORS.
cdef Entry draw_entry(const Model *m, const uint64_t *key, int64_t unit) noexcept nogil
cdef int circulate(const Arm *arm, const uint64_t *key, int64_t unit, int64_t row, Entry e,
                   Fates *out, Events *ev) noexcept nogil
cdef int after_arrest(const Arm *arm, ctcsim_rng *g, int64_t unit, int64_t row, int c, int *s_io,
                      Entry e, double *t_io, int64_t *steps_io, Fates *out, Events *ev) noexcept nogil
cdef int simulate_unit(const Arm *arm, const uint64_t *key, int64_t unit, int64_t row,
                       Fates *out, Events *ev) noexcept nogil


cdef class CoreModel:
    cdef Model m
    cdef Model m2
    cdef Arm arm
    cdef list _keep
    cdef _fill(self, Model *m, model)
