# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The summary tally of a chunk of fates in one pass, with the GIL released (ctcsim.analysis.Tally).

Numpy took some twenty passes over a chunk's columns, each reading them back from memory;
here each unit is read once, while the threads simulating other parts go on.  The counts,
minima and maxima are those of the numpy passes, bit for bit: a time's bin comes from the
same table (``analysis._bin_table``), and the times whose bin the table cannot give (within
~10**-10 of a bin's edge, or beyond the table) are handed back for numpy's log10 (whose last
bits libm's need not share), then placed by ``tally_logs`` with the arithmetic of
``analysis._time_bins``.

``null_codes`` is the batch builder's one pass over the organ codes (``runner._dict``): it lives
here, with the other passes over a chunk's columns, rather than in the simulating core.
"""
from libc.math cimport INFINITY, floor
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef extern from *:
    """
    #define TALLY_PREFETCH(p) __builtin_prefetch((p), 0, 3)
    """
    void TALLY_PREFETCH(const void *p) noexcept nogil


# After a chunk's simulation and Parquet writing, the table and the counts are out of the core's
# cache, and each unit reads them at random: the lines are asked for (prefetched) dozens of units
# before they are needed, rather than waited for one miss at a time.
cdef enum:
    AHEAD = 32  # units ahead whose table entry is fetched
    BLOCK = 64  # units whose cells' counts are fetched before any is counted


cdef union Bits:
    double d
    int64_t i


cdef struct Cell:  # analysis.CELL: a unit's count and extremes in one place, mostly one cache line
    int64_t n
    double lo
    double hi


cdef inline void count(Cell *cell, double t) noexcept nogil:
    """One unit in a cell of the histogram; NaN times compare false, so they do not spread."""
    cell.n += 1
    if t < cell.lo:
        cell.lo = t
    if t > cell.hi:
        cell.hi = t


cdef bint codes_in_range(const int8_t[::1] fate, const int32_t[::1] organ, const int8_t[::1] after,
                         uint64_t n_fates, uint64_t n_after, uint64_t width) noexcept nogil:
    """Every code in range (organ -1 .. width - 2): OR-ed without branches, so the loop vectorises."""
    cdef Py_ssize_t i
    cdef bint bad = False
    for i in range(fate.shape[0]):
        bad |= (<uint64_t>fate[i] >= n_fates) | (<uint64_t>after[i] >= n_after) \
            | (<uint64_t>(<int64_t>organ[i] + 1) >= width)
    return not bad


cdef enum:
    UNIT_BITS = 24  # analysis._UNIT_BITS
    UNIT_MASK = (1 << UNIT_BITS) - 1


cdef inline int64_t cell_bin(int64_t entry, int64_t unit) noexcept nogil:
    """The bin of a time from its cell's entry (``analysis._build_bin_table``) and its bits
    below the cell's (``unit``, masked here), -1 where the entry cannot say."""
    cdef int64_t b = entry >> 48, up, between
    unit &= UNIT_MASK
    up = unit > ((entry >> UNIT_BITS) & UNIT_MASK)  # past the edge: half the units of most cells,
    between = up & (unit < (entry & UNIT_MASK))    # so no branches, which would guess wrong
    return (b + up) | -(between | (b < 0))


cdef inline const int64_t *entry_of(const double *fate_time, const double *entry_time, const int64_t *bins,
                                    int64_t first, int64_t last, int shift, Bits *t) noexcept nogil:
    """The table entry of a unit's time, which is left in ``t``."""
    t.d = fate_time[0] - entry_time[0]
    cdef int64_t key = (t.i >> shift) - first
    return &bins[0 if key < 0 else (last if key > last else key)]


cdef Py_ssize_t tally_block(const int8_t *fate, const int32_t *organ, const int8_t *after, const double *fate_time,
                            const double *entry_time, Py_ssize_t n, Py_ssize_t ahead, const int64_t *bins,
                            int64_t first, int64_t last, int shift, int64_t n_bins, Cell *cells, int64_t *where,
                            int64_t width, Py_ssize_t row, int64_t *odd, double *odd_time,
                            Py_ssize_t n_odd) noexcept nogil:
    """``tally_chunk`` for ``n`` <= BLOCK units at ``row``, in two passes: their cells, fetching
    the table entries AHEAD units on (of the ``ahead`` units there are) and the cells' counts,
    then the counts.  Returns ``n_odd`` with the units it could not place added."""
    cdef Py_ssize_t i
    cdef int64_t cell[BLOCK]
    cdef double time[BLOCK]
    cdef int64_t b, entry
    cdef Bits t
    for i in range(n):
        if i + AHEAD < ahead:
            TALLY_PREFETCH(entry_of(&fate_time[i + AHEAD], &entry_time[i + AHEAD], bins, first, last, shift, &t))
        where[after[i] * width + organ[i] + 1] += 1
        entry = entry_of(&fate_time[i], &entry_time[i], bins, first, last, shift, &t)[0]
        b = cell_bin(entry, t.i >> (shift - UNIT_BITS))  # after entry_of, which sets t
        time[i] = t.d
        if b < 0:
            cell[i] = -1
            odd[n_odd] = row + i
            odd_time[n_odd] = t.d
            n_odd += 1
        else:
            cell[i] = fate[i] * n_bins + b
            TALLY_PREFETCH(&cells[cell[i]])
            TALLY_PREFETCH(&cells[cell[i]].hi)  # on the next line for a quarter of the cells
    for i in range(n):
        if cell[i] >= 0:
            count(&cells[cell[i]], time[i])
    return n_odd


def tally_chunk(const int8_t[::1] fate, const int32_t[::1] organ, const int8_t[::1] after,
                const double[::1] fate_time, const double[::1] entry_time,
                const int64_t[::1] bins, int64_t first, int shift, int64_t n_bins,
                Cell[::1] cells, int64_t[::1] where, int64_t width,
                int64_t[::1] odd, double[::1] odd_time):
    """Count units into ``cells`` (cell fate * n_bins + time bin, the time being
    fate_time - entry_time) and ``where`` (post-arrest outcome * width + organ + 1), in place.

    ``bins[key - first]`` is the entry (``cell_bin``) of the times whose double's bits shifted by
    ``shift`` are ``key`` (clipped to the table).  Returns how many units it could not place:
    their rows are ``odd[:n]`` and their times ``odd_time[:n]``, counted in ``where`` but not in
    the histogram.  A code out of range: ValueError, nothing counted."""
    cdef Py_ssize_t n = fate.shape[0], i, n_odd = 0
    cdef int64_t n_fates = cells.shape[0] // n_bins, last = bins.shape[0] - 1
    if not (organ.shape[0] == after.shape[0] == fate_time.shape[0] == entry_time.shape[0] == n
            and n <= odd.shape[0] and n <= odd_time.shape[0]):
        raise ValueError("tally_chunk: columns of different lengths")
    if n_bins * n_fates != cells.shape[0] or last < 0 or width < 1 or not UNIT_BITS <= shift < 64:
        raise ValueError("tally_chunk: histogram arrays of different sizes")
    if not codes_in_range(fate, organ, after, n_fates, where.shape[0] // width, width):
        raise ValueError(f"tally: a code out of range (fates 0..{n_fates - 1}, organs -1..{width - 2}, "
                         f"post-arrest 0..{where.shape[0] // width - 1})")
    i = 0
    with nogil:
        while i < n:  # not range(0, n, BLOCK): Cython makes a C loop only of a literal step
            n_odd = tally_block(&fate[i], &organ[i], &after[i], &fate_time[i], &entry_time[i],
                                min(BLOCK, n - i), min(BLOCK + AHEAD, n - i), &bins[0], first, last, shift,
                                n_bins, &cells[0], &where[0], width, i, &odd[0], &odd_time[0], n_odd)
            i += BLOCK
    return n_odd


cdef inline int64_t log_bin(double x, double log_t_min, double per_decade, int64_t n_bins) noexcept nogil:
    """analysis._time_bins from a time's log10, operation for operation (no contraction: setup.py)."""
    x -= log_t_min
    x *= per_decade
    x = floor(x)
    x += 1
    if x != x or x == -INFINITY:  # nan_to_num, then clip
        return 0
    if x >= n_bins - 1:
        return n_bins - 1
    return 0 if x < 0 else <int64_t>x


def tally_logs(const int64_t[::1] rows, const double[::1] logs, const double[::1] times, const int8_t[::1] fate,
               double log_t_min, double per_decade, int64_t n_bins, Cell[::1] cells):
    """Count the units at ``rows`` (codes checked by ``tally_chunk``), of times ``times``, by
    the bins of their times' log10 ``logs``."""
    cdef Py_ssize_t i, n = rows.shape[0]
    if logs.shape[0] != n or times.shape[0] != n:
        raise ValueError("tally_logs: arrays of different lengths")
    for i in range(n):
        if not 0 <= rows[i] < fate.shape[0] or not 0 <= fate[rows[i]] * n_bins < cells.shape[0]:
            raise ValueError(f"tally_logs: row {rows[i]} out of range")
    with nogil:
        for i in range(n):
            count(&cells[fate[rows[i]] * n_bins + log_bin(logs[i], log_t_min, per_decade, n_bins)], times[i])


def null_codes(const int32_t[::1] codes, int64_t n_values, uint8_t[::1] valid, int32_t[::1] out):
    """Codes into ``n_values`` values with -1 for none (organs, as the core writes them), checked
    and split in one pass where numpy took four (min twice, max, maximum): ``valid[i]`` = 1 if
    code i is not -1 (for np.packbits) and ``out`` the codes with 0 for -1.  Returns the number
    of -1 codes, or -1 if a code is outside -1..n_values - 1."""
    cdef Py_ssize_t n = codes.shape[0], i
    cdef uint32_t bad = 0, nulls = 0, limit = <uint32_t>(n_values + 1)
    cdef int32_t c
    if out.shape[0] != n or valid.shape[0] != n or not 0 <= n_values < 2**31 - 1:
        raise ValueError("null_codes: buffers of the wrong sizes")
    with nogil:
        for i in range(n):  # without branches, so that it vectorises
            c = codes[i]
            bad |= <uint32_t>(c + 1) >= limit
            nulls += <uint32_t>c >> 31
            valid[i] = <uint8_t>(<uint32_t>~c >> 31)
            out[i] = c & ~(c >> 31)  # max(c, 0)
    return -1 if bad else <int64_t>nulls
