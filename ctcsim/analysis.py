"""Summaries of fates: per arm, the fraction of units per fate and per organ of arrest.

``summarize`` takes fates as a pyarrow Table, RecordBatch or Dataset (as from
``ctcsim.read_run(...).fates``) and reads them batch by batch, so a hundred
million units need no more memory than one batch.  For each arm it gives

- ``n``: the number of units;
- per fate (every fate of ``ctcsim.model.FATES``, zeros included): count,
  fraction of the arm's units with its 95% Wilson interval, and the median time
  from entry to that fate (``fate_time_s - entry_time_s``);
- per organ of arrest: count and fraction of *all* the arm's units arrested
  there, with its 95% Wilson interval;
- per post-arrest outcome (``ctcsim.model.POST_ARREST`` less "none"): count and
  fraction of all the arm's units, with its 95% Wilson interval;
- per organ, the units arrested there and still alive at the end (dormant, growing, a
  metastasis, or still in the capillary): where the surviving cells are;
- ``horizon_s`` and ``horizon``: the end of observation (the run's t_max_s; None and "not
  stated" when the fates do not carry it), at which every fraction above holds.

Medians come from a log-spaced histogram (``BINS_PER_DECADE`` bins per decade
from ``T_MIN_S``): the midpoint of the smallest and largest time in the bin
holding the median, within ``MEDIAN_RESOLUTION`` (0.23%) of the exact median,
far below the sampling error of a median at any feasible number of units (and
exact when the times in that bin are equal, as for censoring at t_max).  Counts,
minima and maxima do not depend on the order units are added in, so a summary is
the same to the last digit whatever the chunk size, thread count or resume (a
mean would not be: sums of floats depend on their order).
"""
from __future__ import annotations

import functools
import json
import math
import threading

import numpy as np
import pyarrow as pa

from . import _tally
from .hazards import GONE
from .model import FATES, POST_ARREST
from .stats import wilson
from .units import horizon

T_MIN_S = 1e-6
BINS_PER_DECADE = 1000
DECADES = 16  # 1 us .. 1e10 s (three centuries)
N_BINS = 1 + BINS_PER_DECADE * DECADES  # bin 0 holds times below T_MIN_S
MEDIAN_RESOLUTION = 10 ** (1 / BINS_PER_DECADE) - 1  # relative width of a bin
COLUMNS = ["arm", "fate", "organ", "entry_time_s", "fate_time_s", "post_arrest"]
_ARRESTED = FATES.index("arrested")
# A histogram cell (ext/_tally.pyx's Cell): its count and extremes side by side, so that counting a
# unit touches one cache line (mostly) rather than one in each of three arrays.
CELL = np.dtype([("n", np.int64), ("lo", np.float64), ("hi", np.float64)])
_GONE = np.isin(np.arange(len(POST_ARREST)), [POST_ARREST.index(o) for o in GONE])  # outcome code -> no longer alive


class Tally:
    """Counts and time histograms accumulated batch by batch; ``summary()`` reports them.

    Tallies of disjoint sets of units ``merge`` into the tally of their union, whatever the
    order: counts add, minima and maxima are taken.  A run tallies each part where it is
    simulated (``add_codes``, on the core's columns) and merges the parts as they end."""

    def __init__(self, arms=(), horizon_s: float | None = None):
        self.horizon_s = horizon_s                   # the end of observation, stated in the summary
        self.arms: list[str] = []                    # report order: ``arms``, then as met
        self.organs: dict[str, dict[str, int]] = {}  # arm -> organ -> arrested units
        self.cells: dict[str, np.ndarray] = {}      # arm -> per cell (fate * N_BINS + time bin): CELL
        self.after: dict[str, np.ndarray] = {}       # arm -> units per post-arrest outcome
        self.alive: dict[str, dict[str, int]] = {}   # arm -> organ -> arrested units alive at the end
        for a in arms:
            self._open(a)

    def _open(self, arm: str):
        if arm not in self.cells:
            self.arms.append(arm)
            self.organs[arm] = {}
            self.cells[arm] = cells = np.zeros(len(FATES) * N_BINS, CELL)
            cells["lo"], cells["hi"] = np.inf, -np.inf
            self.after[arm] = np.zeros(len(POST_ARREST), np.int64)
            self.alive[arm] = {}

    # Per arm, views of the cells' fields: units, smallest and largest time (inf, -inf: none) per cell.
    hist = property(lambda self: {a: c["n"] for a, c in self.cells.items()})
    lo = property(lambda self: {a: c["lo"] for a, c in self.cells.items()})
    hi = property(lambda self: {a: c["hi"] for a, c in self.cells.items()})

    def n(self) -> dict[str, int]:
        """Units counted so far, per arm."""
        return {a: int(c["n"].sum()) for a, c in self.cells.items()}

    def add(self, batch: pa.RecordBatch | pa.Table, arm: str | None = None):
        """Units as Arrow columns (``COLUMNS``), categories as labels in any dictionary order;
        ``arm``: the arm of every row, of a table without the arm column (a part file)."""
        if arm is None:
            arm_values, arm_codes = _codes(batch.column("arm"))
        else:
            arm_values, arm_codes = [arm], np.zeros(batch.num_rows, np.intp)
        fate_values, fate_codes = _codes(batch.column("fate"))
        fate = np.array([FATES.index(f) for f in fate_values], np.int8)[fate_codes]
        organ_values, organ_codes = _codes(batch.column("organ"))
        organ = np.where(fate == _ARRESTED, organ_codes, -1)
        after_values, after_codes = _codes(batch.column("post_arrest"))
        after = np.array([POST_ARREST.index(v) for v in after_values], np.int8)[after_codes]
        fate_time, entry_time = _as_numpy(batch.column("fate_time_s")), _as_numpy(batch.column("entry_time_s"))
        present = np.flatnonzero(np.bincount(arm_codes, minlength=len(arm_values)))
        for code in present:
            rows = slice(None) if len(present) == 1 else arm_codes == code  # one arm per batch in a run
            self.add_codes(arm_values[code], organ_values, fate[rows], organ[rows], after[rows], fate_time[rows],
                           entry_time[rows])

    def add_codes(self, arm: str, organ_names, fate: np.ndarray, organ: np.ndarray, after: np.ndarray,
                  fate_time: np.ndarray, entry_time: np.ndarray):
        """Units of one arm as the core writes them: fate and post-arrest codes (of ``FATES`` and
        ``POST_ARREST``), organ codes into ``organ_names`` (-1 unless the fate is arrested), and
        the times of fate and of entry.  One pass in ``_tally`` (no copies of the core's columns,
        the GIL released); numpy's log10 for the few times the bin table cannot place."""
        self._open(arm)
        width = len(organ_names) + 1
        where = np.zeros(len(POST_ARREST) * width, np.int64)  # post-arrest outcome x (none, organ...)
        fate = np.ascontiguousarray(fate, np.int8)
        fate_time, entry_time = (np.ascontiguousarray(x, np.float64) for x in (fate_time, entry_time))
        first, table = _bin_table()
        odd, odd_time = np.empty(len(fate), np.int64), np.empty(len(fate))
        n_odd = _tally.tally_chunk(fate, np.ascontiguousarray(organ, np.int32), np.ascontiguousarray(after, np.int8),
                                   fate_time, entry_time, table, first, _CELL_SHIFT, N_BINS, self.cells[arm], where,
                                   width, odd, odd_time)
        if n_odd:
            times = odd_time[:n_odd]
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log10(times)
            _tally.tally_logs(odd[:n_odd], logs, times, fate, math.log10(T_MIN_S), BINS_PER_DECADE, N_BINS,
                              self.cells[arm])
        table = where.reshape(len(POST_ARREST), width)
        self.after[arm] += table.sum(axis=1)
        for counts, rows in ((self.organs[arm], slice(None)), (self.alive[arm], ~_GONE)):
            for name, k in zip(organ_names, table[rows, 1:].sum(axis=0).tolist()):  # Python ints: no numpy scalars
                if k:
                    counts[name] = counts.get(name, 0) + k

    def merge(self, other: "Tally"):
        """Add the units of ``other`` (units not counted here)."""
        for a in other.arms:
            self._open(a)
            cells, others = self.cells[a], other.cells[a]
            cells["n"] += others["n"]
            np.minimum(cells["lo"], others["lo"], out=cells["lo"])
            np.maximum(cells["hi"], others["hi"], out=cells["hi"])
            self.after[a] += other.after[a]
            for mine, theirs in ((self.organs[a], other.organs[a]), (self.alive[a], other.alive[a])):
                for o, k in theirs.items():
                    mine[o] = mine.get(o, 0) + k

    def summary(self) -> dict:
        arms = {}
        for a in self.arms:
            hist, lo, hi = (self.cells[a][x].reshape(len(FATES), N_BINS) for x in ("n", "lo", "hi"))
            counts = hist.sum(axis=1)
            n = int(counts.sum())
            if n == 0:
                continue
            fates = {name: dict(_share(int(k), n), median_time_s=_median(hist[i], lo[i], hi[i]))
                     for i, (name, k) in enumerate(zip(FATES, counts))}
            # Ties by name: the order organs were met in depends on the chunking.
            organs = {o: _share(k, n) for o, k in sorted(self.organs[a].items(), key=lambda x: (-x[1], x[0]))}
            after = {name: _share(int(k), n) for name, k in zip(POST_ARREST, self.after[a]) if name != "none"}
            alive = {o: _share(k, n) for o, k in sorted(self.alive[a].items(), key=lambda x: (-x[1], x[0]))}
            arms[a] = {"n": n, "fates": fates, "organs": organs, "after_arrest": after, "alive_in": alive}
        return {"confidence": 0.95, "median_resolution": MEDIAN_RESOLUTION, **horizon(self.horizon_s), "arms": arms}


def summarize(fates, horizon_s: float | None = None) -> dict:
    """Per-arm fractions per fate and per organ of arrest, with 95% Wilson intervals, and
    median times to fate, at the horizon (see the module docstring).  ``fates``: a pyarrow
    Table, RecordBatch or Dataset with at least the columns in ``COLUMNS``; ``horizon_s``: the
    end of observation, read from the run metadata that a run's files carry when not given."""
    tally = Tally(horizon_s=horizon_s if horizon_s is not None else _horizon_of(fates))
    if isinstance(fates, pa.RecordBatch):
        batches = [fates]
    elif isinstance(fates, pa.Table):
        batches = fates.select(COLUMNS).to_batches()
    else:
        batches = fates.to_batches(columns=COLUMNS)
    for batch in batches:
        tally.add(batch)
    return tally.summary()


def _horizon_of(fates) -> float | None:
    """t_max_s from the run metadata in a run's schema (ctcsim.rundir), else None."""
    md = fates.schema.metadata or {}
    doc = md.get(b"ctcsim")
    if doc is None:
        return None
    record = json.loads(doc)
    if "horizon_s" in record:  # runs written since the horizon is recorded; None: no end
        return math.inf if record["horizon_s"] is None else float(record["horizon_s"])
    from .scenario import loads  # older runs: the scenario's own t_max_s

    return loads(record["scenario"]).t_max_s


def _share(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"count": k, "fraction": k / n, "ci95": [lo, hi]}


def _codes(column) -> tuple[list[str], np.ndarray]:
    """A categorical column as (values, integer codes into them, -1 for null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()  # the method: pyarrow.compute (70 ms) loads only if needed
    codes = column.indices.fill_null(-1) if column.null_count else column.indices
    return column.dictionary.to_pylist(), codes.to_numpy(zero_copy_only=False)


def _as_numpy(column) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.to_numpy(zero_copy_only=False)


def _time_bins(t: np.ndarray) -> np.ndarray:
    """Histogram bin of each time, by definition (the tally's table gives the same, faster)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log10(t)
    x -= math.log10(T_MIN_S)
    x *= BINS_PER_DECADE
    np.floor(x, out=x)
    x += 1
    np.nan_to_num(x, copy=False, nan=0.0, neginf=0.0, posinf=N_BINS - 1)
    np.clip(x, 0, N_BINS - 1, out=x)
    return x.astype(np.int64)


# The tally (ext/_tally.pyx) reads a time's bin from a table indexed by the top 21 bits of its double (sign,
# exponent, 9 bits of mantissa): a cell of the table spans 0.1-0.2% of its times, less than a bin's 0.23%,
# so it holds at most one bin edge.  An entry (int64) is the bin of the cell's first times (top 16 bits;
# -1: not known) and, for a cell with an edge, where the edge is, to 2**-24 of the cell (the next 24 bits
# lo, the last 24 hi): times in units up to lo are in that bin, from unit hi in the next.  The few between
# (two units, ~10**-10 of a time, either side of the edge) and those beyond the table (t >= 2**34 s,
# infinite, NaN) take _time_bins' logarithm.  A part of a cell is one bin's only if it is so widened by
# ~4,000 ulps: far beyond libm's log10 error.  The table (28,000 entries, 225 kB, ~86 kB of it under a
# run's times) stays in a core's cache beside the columns streaming past; it takes a few ms to build.
_CELL_SHIFT = 43
_UNIT_BITS = 24  # an edge's place in its cell, in 2**(_CELL_SHIFT - _UNIT_BITS) ulps
_ALL = (1 << _UNIT_BITS) - 1  # lo and hi of a cell without an edge: every unit is in its bin
_TABLE_LO, _TABLE_HI = 2.0 ** -21, 2.0 ** 34  # every time below _TABLE_LO is in bin 0
_MARGIN = 2.0 ** -40  # the widening: ~4,000 ulps
_ODD = -1 << 48  # an entry whose times take the logarithm

_TABLE_BLOCK = 1 << 15  # keys per block of the table's build: its temporaries stay under 2 MB
_TABLE_LOCK = threading.Lock()  # the parts' threads ask at once: the table is built once


def _bin_table() -> tuple[int, np.ndarray]:
    with _TABLE_LOCK:
        return _build_bin_table()


def _entries(b: np.ndarray, lo, hi) -> np.ndarray:
    """Table entries of bins ``b`` whose next bin starts after unit ``lo``, from unit ``hi``."""
    return (b.astype(np.int64) << 48) | (np.asarray(lo, np.int64) << _UNIT_BITS) | hi


@functools.cache
def _build_bin_table() -> tuple[int, np.ndarray]:
    first, last = (int(np.float64(x).view(np.int64)) >> _CELL_SHIFT for x in (_TABLE_LO, _TABLE_HI))
    table = np.empty(last - first + 1, np.int64)
    table[-1] = _ODD  # the last entry: everything above
    unit = _CELL_SHIFT - _UNIT_BITS
    for start in range(first, last, _TABLE_BLOCK):
        base = np.arange(start, min(start + _TABLE_BLOCK, last), dtype=np.int64) << _CELL_SHIFT
        a = _time_bins(base.view(np.float64) * (1 - _MARGIN))
        z = _time_bins((base + (1 << _CELL_SHIFT) - 1).view(np.float64) * (1 + _MARGIN))
        entries = np.where(a == z, _entries(a, _ALL, _ALL), _ODD)
        edge = np.flatnonzero(z == a + 1)  # the edge of bin a + 1, from its definition; checked below
        u = ((10.0 ** (math.log10(T_MIN_S) + a[edge] / BINS_PER_DECADE)).view(np.int64) - base[edge]) >> unit
        lo, hi = u - 2, u + 2
        ok = (lo >= 0) & (hi <= _ALL) \
            & (_time_bins((base[edge] + ((lo + 1) << unit) - 1).view(np.float64) * (1 + _MARGIN)) == a[edge]) \
            & (_time_bins((base[edge] + (hi << unit)).view(np.float64) * (1 - _MARGIN)) == a[edge] + 1)
        entries[edge[ok]] = _entries(a[edge[ok]], lo[ok], hi[ok])
        table[start - first:start - first + len(base)] = entries
        if start == first:  # also every time below _TABLE_LO, zero and negative ones (their units mean nothing)
            table[0] = entries[0] if entries[0] == _entries(np.zeros(1), _ALL, _ALL)[0] else _ODD
    return first, table


def _median(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float | None:
    """The midpoint of the times in the histogram bin holding the (lower) median: within a
    bin's width of the exact median, and exact when the times in that bin are equal (e.g.
    censoring)."""
    n = int(counts.sum())
    if n == 0:
        return None
    b = int(np.searchsorted(np.cumsum(counts), (n + 1) // 2))
    return float(lo[b] / 2 + hi[b] / 2)  # halves first: exact for equal times, infinite ones included
