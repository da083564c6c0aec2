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
  metastasis, or still in the capillary): where the surviving cells are.

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

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .model import FATES, POST_ARREST
from .stats import wilson

T_MIN_S = 1e-6
BINS_PER_DECADE = 1000
DECADES = 16  # 1 us .. 1e10 s (three centuries)
N_BINS = 1 + BINS_PER_DECADE * DECADES  # bin 0 holds times below T_MIN_S
MEDIAN_RESOLUTION = 10 ** (1 / BINS_PER_DECADE) - 1  # relative width of a bin
COLUMNS = ["arm", "fate", "organ", "entry_time_s", "fate_time_s", "post_arrest"]
_ARRESTED = FATES.index("arrested")
# Post-arrest outcomes of a unit that is no longer alive.
_GONE = [POST_ARREST.index(o) for o in ("died_in_capillary", "died_dormant", "colony_extinct", "regressed")]


class Tally:
    """Counts and time histograms accumulated batch by batch; ``summary()`` reports them."""

    def __init__(self, arms=()):
        self.arms: list[str] = []                    # report order: ``arms``, then as met
        self.organs: dict[str, dict[str, int]] = {}  # arm -> organ -> arrested units
        self.hist: dict[str, np.ndarray] = {}       # arm -> (fate, time bin) counts of units
        self.lo: dict[str, np.ndarray] = {}          # arm -> (fate, time bin) smallest time
        self.hi: dict[str, np.ndarray] = {}          # arm -> (fate, time bin) largest time
        self.after: dict[str, np.ndarray] = {}       # arm -> units per post-arrest outcome
        self.alive: dict[str, dict[str, int]] = {}   # arm -> organ -> arrested units alive at the end
        for a in arms:
            self._open(a)

    def _open(self, arm: str):
        if arm not in self.hist:
            self.arms.append(arm)
            self.organs[arm] = {}
            self.hist[arm] = np.zeros((len(FATES), N_BINS), np.int64)
            self.lo[arm] = np.full((len(FATES), N_BINS), np.inf)
            self.hi[arm] = np.full((len(FATES), N_BINS), -np.inf)
            self.after[arm] = np.zeros(len(POST_ARREST), np.int64)
            self.alive[arm] = {}

    def n(self) -> dict[str, int]:
        """Units counted so far, per arm."""
        return {a: int(t.sum()) for a, t in self.hist.items()}

    def add(self, batch: pa.RecordBatch | pa.Table):
        arm_values, arm_codes = _codes(batch.column("arm"))
        for a in arm_values:
            self._open(a)
        fate_values, fate_codes = _codes(batch.column("fate"))
        fate = np.array([FATES.index(f) for f in fate_values], np.int64)[fate_codes]
        organ_values, organ_codes = _codes(batch.column("organ"))
        arrested = (fate == _ARRESTED) & (organ_codes >= 0)
        after_values, after_codes = _codes(batch.column("post_arrest"))
        after = np.array([POST_ARREST.index(v) for v in after_values], np.int64)[after_codes]
        alive = arrested & ~np.isin(after, _GONE)
        elapsed = _as_numpy(batch.column("fate_time_s")) - _as_numpy(batch.column("entry_time_s"))
        cell = fate * N_BINS + _time_bins(elapsed)
        present = np.flatnonzero(np.bincount(arm_codes, minlength=len(arm_values)))
        for code in present:
            a = arm_values[code]
            rows = slice(None) if len(present) == 1 else arm_codes == code  # one arm per batch in a run
            shape = self.hist[a].shape
            self.hist[a] += np.bincount(cell[rows], minlength=self.hist[a].size).reshape(shape)
            np.fmin.at(self.lo[a].reshape(-1), cell[rows], elapsed[rows])  # fmin/fmax: NaN times do not spread
            np.fmax.at(self.hi[a].reshape(-1), cell[rows], elapsed[rows])
            self.after[a] += np.bincount(after[rows], minlength=len(POST_ARREST))
            for table, keep in ((self.organs[a], arrested[rows]), (self.alive[a], alive[rows])):
                organs = np.bincount(organ_codes[rows][keep], minlength=len(organ_values))
                for i in np.flatnonzero(organs):
                    table[organ_values[i]] = table.get(organ_values[i], 0) + int(organs[i])

    def summary(self) -> dict:
        arms = {}
        for a in self.arms:
            counts = self.hist[a].sum(axis=1)
            n = int(counts.sum())
            if n == 0:
                continue
            fates = {name: dict(_share(int(k), n), median_time_s=_median(self.hist[a][i], self.lo[a][i], self.hi[a][i]))
                     for i, (name, k) in enumerate(zip(FATES, counts))}
            # Ties by name: the order organs were met in depends on the chunking.
            organs = {o: _share(k, n) for o, k in sorted(self.organs[a].items(), key=lambda x: (-x[1], x[0]))}
            after = {name: _share(int(k), n) for name, k in zip(POST_ARREST, self.after[a]) if name != "none"}
            alive = {o: _share(k, n) for o, k in sorted(self.alive[a].items(), key=lambda x: (-x[1], x[0]))}
            arms[a] = {"n": n, "fates": fates, "organs": organs, "after_arrest": after, "alive_in": alive}
        return {"confidence": 0.95, "median_resolution": MEDIAN_RESOLUTION, "arms": arms}


def summarize(fates) -> dict:
    """Per-arm fractions per fate and per organ of arrest, with 95% Wilson intervals, and
    median times to fate (see the module docstring).  ``fates``: a pyarrow Table,
    RecordBatch or Dataset with at least the columns in ``COLUMNS``."""
    tally = Tally()
    if isinstance(fates, pa.RecordBatch):
        batches = [fates]
    elif isinstance(fates, pa.Table):
        batches = fates.select(COLUMNS).to_batches()
    else:
        batches = fates.to_batches(columns=COLUMNS)
    for batch in batches:
        tally.add(batch)
    return tally.summary()


def _share(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"count": k, "fraction": k / n, "ci95": [lo, hi]}


def _codes(column) -> tuple[list[str], np.ndarray]:
    """A categorical column as (values, integer codes into them, -1 for null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    codes = column.indices.fill_null(-1) if column.null_count else column.indices
    return column.dictionary.to_pylist(), codes.to_numpy(zero_copy_only=False)


def _as_numpy(column) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.to_numpy(zero_copy_only=False)


def _time_bins(t: np.ndarray) -> np.ndarray:
    """Histogram bin of each time (in place on a scratch array: this runs on every batch)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log10(t)
    x -= math.log10(T_MIN_S)
    x *= BINS_PER_DECADE
    np.floor(x, out=x)
    x += 1
    np.nan_to_num(x, copy=False, nan=0.0, neginf=0.0, posinf=N_BINS - 1)
    np.clip(x, 0, N_BINS - 1, out=x)
    return x.astype(np.int64)


def _median(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float | None:
    """The midpoint of the times in the histogram bin holding the (lower) median: within a
    bin's width of the exact median, and exact when the times in that bin are equal (e.g.
    censoring)."""
    n = int(counts.sum())
    if n == 0:
        return None
    b = int(np.searchsorted(np.cumsum(counts), (n + 1) // 2))
    return float(lo[b] / 2 + hi[b] / 2)  # halves first: exact for equal times, infinite ones included
