"""The report's tables, computed from a run directory with pyarrow, one part file at a time.

``tabulate(run)`` reads each fates part of each arm once (only the columns below) and
accumulates, per arm:

- the **cascade**: units entered, arrested, extravasated, reaching a micrometastasis, reaching a
  macrometastasis (``STAGES``), and alive at the end (``hazards.GONE`` and the deaths in
  circulation are what is not alive);
- the **organ x outcome table**: per organ of arrest, the units arrested there by their
  post-arrest outcome (``hazards.POST_ARREST``) and by ``ORGAN_OUTCOMES``;
- **time courses**: per timed outcome, a histogram of the time from entry to it on log-spaced
  bins (``EDGES_S``), and the units entering and leaving circulation on the same bins of
  absolute time, whose running difference is the circulating population;
- **where the time goes**: unit-seconds circulating, in a capillary and in tissue (after
  extravasation) per organ, from the fates; with events, circulating unit-seconds per
  compartment (``time_by_compartment``).

With several arms, part p of every arm holds the same unit ids in the same order (common random
numbers, DESIGN 2.5), so per organ and outcome the paired counts (outcome in the arm only, in the
control only, in both) accumulate part by part, and ``Paired.differences`` turns them into paired
differences and relative risks with 95% intervals (``report.paired``).  Memory stays that of one part.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pyarrow as pa

from ..stats import wilson
from ..hazards import ARREST_MODES, DEAD_FATES, EVENTS, FATES, FINAL, GONE, POST_ARREST

COLUMNS = ["unit_id", "fate", "organ", "entry_time_s", "fate_time_s", "post_arrest", "post_arrest_time_s",
           "extravasation_time_s", "micrometastasis_time_s"]
STAGES = ("entered", "arrested", "extravasated", "micrometastasis", "macrometastasis")
ORGAN_OUTCOMES = ("arrested", "extravasated", "micrometastasis", "macrometastasis", "alive")
# The states an arrested unit can be in at the horizon, alive: the columns of ``organ_states``.
ORGAN_STATES = ("in_capillary", "dormant", "proliferating", "micrometastasis", "macrometastasis")
# Always shown by organ (the disease at the horizon); the other states when any unit is in them.
STATES_SHOWN = ("dormant", "micrometastasis", "macrometastasis")


def states_shown(rows: list[dict]) -> list[str]:
    """The columns of an organ x state table of ``organ_states`` rows (of one arm or several)."""
    return [s for s in ORGAN_STATES if s in STATES_SHOWN or any(r[s]["count"] for r in rows)]
# Outcomes of a whole unit: its fate, its post-arrest outcome at the end, alive at the end.
UNIT_OUTCOMES = FATES + tuple(p for p in POST_ARREST if p != "none") + ("alive",)
# Outcomes with a time: the ends of circulation (censoring is not an event), extravasation, the
# start of a micrometastasis, and the post-arrest outcomes that end the chain.
TIMED = tuple(f for f in FATES if f != "censored") + ("extravasated", "micrometastasis") + \
    tuple(o for o in FINAL if o not in ("micrometastasis",))
BINS_PER_DECADE = 20
EDGES_S = np.concatenate([[0.0], 10.0 ** np.arange(-3, 10 + 1e-9, 1 / BINS_PER_DECADE)])  # 1 ms .. 300 y
# Events that end circulation: a fate's own event, or arrest.
_ENDS_CIRCULATION = [EVENTS.index(e) for e in EVENTS if e in FATES or (e in ARREST_MODES and e != "none")]
_ARRESTED, _MACRO = FATES.index("arrested"), POST_ARREST.index("macrometastasis")
_DEAD = [FATES.index(f) for f in DEAD_FATES]
_GONE = [POST_ARREST.index(o) for o in GONE]
_FINAL = np.array([o in FINAL for o in POST_ARREST])


@dataclasses.dataclass
class ArmTally:
    """One arm's counts (see the module docstring); ``organs`` indexes the per-organ rows."""
    organs: list[str]
    n: int = 0
    fates: np.ndarray = None
    post: np.ndarray = None
    stages: np.ndarray = None
    alive: int = 0
    organ_post: np.ndarray = None
    organ_outcomes: np.ndarray = None
    times: dict = None
    entering: np.ndarray = None
    leaving: np.ndarray = None
    circulating_s: float = 0.0
    capillary_s: np.ndarray = None
    tissue_s: np.ndarray = None

    def __post_init__(self):
        k, bins = len(self.organs), len(EDGES_S)
        self.fates, self.post = np.zeros(len(FATES), np.int64), np.zeros(len(POST_ARREST), np.int64)
        self.stages = np.zeros(len(STAGES), np.int64)
        self.organ_post = np.zeros((k, len(POST_ARREST)), np.int64)
        self.organ_outcomes = np.zeros((k, len(ORGAN_OUTCOMES)), np.int64)
        self.times = {o: np.zeros(bins, np.int64) for o in TIMED}
        self.entering, self.leaving = np.zeros(bins, np.int64), np.zeros(bins, np.int64)
        self.capillary_s, self.tissue_s = np.zeros(k), np.zeros(k)

    def add(self, u: "Units"):
        k = len(self.organs)
        self.n += u.n
        self.fates += np.bincount(u.fate, minlength=len(FATES))
        self.post += np.bincount(u.post, minlength=len(POST_ARREST))
        self.stages += [u.n] + [int(u.outcome[s].sum()) for s in STAGES[1:]]
        self.alive += int(u.outcome["alive"].sum())
        at = u.organ >= 0
        self.organ_post += np.bincount(u.organ[at] * len(POST_ARREST) + u.post[at],
                                       minlength=k * len(POST_ARREST)).reshape(k, -1)
        for j, o in enumerate(ORGAN_OUTCOMES):
            self.organ_outcomes[:, j] += np.bincount(u.organ[at & u.outcome[o]], minlength=k)
        for o in TIMED:
            self.times[o] += _binned(u.time_to[o])
        self.entering += _binned(u.entry)
        self.leaving += _binned(u.circulation_end[u.fate != FATES.index("censored")])
        self.circulating_s += float(np.nansum(u.circulation_end - u.entry))
        self.capillary_s += np.bincount(u.organ[at], (u.capillary_end - u.fate_time)[at], minlength=k)
        tissue = at & u.outcome["extravasated"]
        self.tissue_s += np.bincount(u.organ[tissue], (u.post_time - u.extravasation)[tissue], minlength=k)

    def share(self, count: int) -> dict:
        lo, hi = wilson(int(count), self.n)
        return {"count": int(count), "fraction": count / self.n if self.n else math.nan, "ci95": [lo, hi]}

    def unit_counts(self) -> dict[str, int]:
        """Units per UNIT_OUTCOMES."""
        counts = {**dict(zip(FATES, self.fates.tolist())), **dict(zip(POST_ARREST, self.post.tolist()))}
        return {o: self.alive if o == "alive" else counts[o] for o in UNIT_OUTCOMES}

    def cascade(self) -> list[dict]:
        return [{"stage": s, **self.share(c)} for s, c in zip(STAGES, self.stages)] + \
            [{"stage": "alive at the end", **self.share(self.alive)}]

    def organ_table(self) -> list[dict]:
        """Per organ with any arrest: counts per post-arrest outcome and per ORGAN_OUTCOMES."""
        rows = []
        for i in np.argsort(-self.organ_outcomes[:, 0], kind="stable"):
            if self.organ_outcomes[i, 0]:
                rows.append({"organ": self.organs[i],
                             **{o: int(c) for o, c in zip(ORGAN_OUTCOMES, self.organ_outcomes[i])},
                             "post_arrest": {p: int(c) for p, c in zip(POST_ARREST, self.organ_post[i]) if c}})
        return rows

    def organ_states(self) -> list[dict]:
        """Per organ with any arrest (as ``organ_table``): the units there in each of
        ORGAN_STATES at the horizon, as shares of all the arm's units with 95% intervals."""
        cols = [POST_ARREST.index(s) for s in ORGAN_STATES]
        return [{"organ": self.organs[i], **{s: self.share(self.organ_post[i, j]) for s, j in zip(ORGAN_STATES, cols)}}
                for i in np.argsort(-self.organ_outcomes[:, 0], kind="stable") if self.organ_outcomes[i, 0]]

    def cumulative_incidence(self) -> dict[str, np.ndarray]:
        """Per timed outcome, the fraction of units that reached it by each right edge of EDGES_S."""
        return {o: np.cumsum(h) / self.n for o, h in self.times.items() if h.any()}

    def circulating(self) -> np.ndarray:
        """Units in circulation at each right edge of EDGES_S (absolute time)."""
        return np.cumsum(self.entering) - np.cumsum(self.leaving)


class Units:
    """One fates batch as numpy arrays: codes against the model's vocabularies and times."""

    def __init__(self, table: pa.Table, organs: list[str]):
        self.n = table.num_rows
        self.unit_id = _numpy(table["unit_id"])
        self.fate = _codes(table["fate"], FATES)
        self.organ = _codes(table["organ"], organs)
        self.post = _codes(table["post_arrest"], POST_ARREST)
        self.entry, self.fate_time = _numpy(table["entry_time_s"]), _numpy(table["fate_time_s"])
        self.post_time, self.extravasation = _numpy(table["post_arrest_time_s"]), _numpy(table["extravasation_time_s"])
        micro = _numpy(table["micrometastasis_time_s"])
        arrested = self.fate == _ARRESTED
        self.organ[~arrested] = -1
        self.circulation_end = self.fate_time
        self.capillary_end = np.where(np.isnan(self.extravasation), self.post_time, self.extravasation)
        self.outcome = {"arrested": arrested, "extravasated": ~np.isnan(self.extravasation),
                        "micrometastasis": ~np.isnan(micro), "macrometastasis": self.post == _MACRO,
                        "alive": ~np.isin(self.fate, _DEAD) & ~np.isin(self.post, _GONE)}
        self.time_to = {f: (self.fate_time - self.entry)[self.fate == FATES.index(f)] for f in FATES if f in TIMED}
        self.time_to["extravasated"] = (self.extravasation - self.entry)[self.outcome["extravasated"]]
        self.time_to["micrometastasis"] = (micro - self.entry)[self.outcome["micrometastasis"]]
        final = _FINAL[self.post]
        self.unit_outcome = {o: self.fate == FATES.index(o) for o in FATES}
        self.unit_outcome.update({o: self.post == POST_ARREST.index(o) for o in UNIT_OUTCOMES if o in POST_ARREST})
        self.unit_outcome["alive"] = self.outcome["alive"]
        for o in TIMED:
            if o in POST_ARREST:
                self.time_to[o] = (self.post_time - self.entry)[final & (self.post == POST_ARREST.index(o))]


def tabulate(run) -> dict:
    """Every arm's ``ArmTally`` and, with several arms, each other arm's ``Paired`` counts
    against the control ("control" if the run has it, else its first arm)."""
    from .paired import Paired  # which counts in this module's outcomes: imported here, not in a cycle

    organs = _organ_names(run)
    arms = run.metadata["arms"]
    control = "control" if "control" in arms else arms[0]
    tallies = {a: ArmTally(organs) for a in arms}
    paired = {a: Paired(organs) for a in arms if a != control}
    parts = _parts(run.fates, arms)
    order = [control] + [a for a in arms if a != control]
    for p in range(max(len(v) for v in parts.values())):
        missing = [a for a in order if p >= len(parts[a])]
        if missing:
            raise ValueError(f"{run.path}: arm {missing[0]!r} has fewer fates parts than the others")
        # Batch by batch (row groups, no copies); batches of one part line up across arms.
        for batches in zip(*(parts[a][p].to_batches(columns=COLUMNS) for a in order), strict=True):
            base = Units(batches[0], organs)
            tallies[control].add(base)
            for a, batch in zip(order[1:], batches[1:]):
                units = Units(batch, organs)
                tallies[a].add(units)
                paired[a].add(units, base)
    return {"organs": organs, "control": control, "arms": tallies, "paired": paired}


def time_by_compartment(run, arm: str) -> dict[str, float]:
    """Circulating unit-seconds per compartment, from the events of ``arm`` (None without
    events): between two events of a unit still circulating, the time is the compartment's
    that the earlier event names ("move" names the compartment entered)."""
    if run.events is None:
        return None
    total: dict[str, float] = {}
    for frag in _parts(run.events, [arm])[arm]:
        t = frag.to_table(columns=["unit_id", "time_s", "event", "compartment"])
        names = _dictionary(t["compartment"])
        unit, time = _numpy(t["unit_id"]), _numpy(t["time_s"])
        comp, event = _codes(t["compartment"], names), _codes(t["event"], EVENTS)
        ends = np.isin(event, _ENDS_CIRCULATION).astype(np.int64)
        first = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
        cum = np.cumsum(ends)
        before = np.repeat((cum - ends)[first], np.diff(np.r_[first, len(unit)]))
        same = np.r_[unit[1:] == unit[:-1], False]
        dt = np.where(same, np.r_[time[1:], 0.0] - time, 0.0)
        circulating = (cum - before == 0) & same
        spent = np.bincount(comp[circulating], dt[circulating], minlength=len(names))
        for name, s in zip(names, spent):
            total[name] = total.get(name, 0.0) + float(s)
    return dict(sorted(((k, v) for k, v in total.items() if v > 0), key=lambda x: -x[1]))


def _organ_names(run) -> list[str]:
    """The organs of the run's anatomy, in the model's order (the organ column's dictionary)."""
    frag = next(iter(run.fates.get_fragments()))
    return _dictionary(frag.to_table(columns=["organ"]).column("organ"))


def _parts(dataset, arms) -> dict[str, list]:
    """The dataset's fragments per arm, in part order."""
    import pyarrow.dataset as ds

    out = {a: [] for a in arms}
    for frag in dataset.get_fragments():
        arm = ds.get_partition_keys(frag.partition_expression).get("arm")
        if arm in out:
            out[arm].append(frag)
    return {a: sorted(f, key=lambda x: x.path) for a, f in out.items()}


def _dictionary(column) -> list[str]:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    return column.dictionary.to_pylist()


def _codes(column, names) -> np.ndarray:
    """A dictionary column as int64 codes into ``names`` (-1 where null)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lookup = np.array([names.index(v) for v in column.dictionary.to_pylist()] + [-1], np.int64)
    return lookup[column.indices.fill_null(-1).to_numpy(zero_copy_only=False)]


def _numpy(column) -> np.ndarray:
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column.to_numpy(zero_copy_only=False)


def _binned(t: np.ndarray) -> np.ndarray:
    """Counts of ``t`` per bin of EDGES_S (bin 0: below 1 ms; the last: its edge and above).
    The bin is computed from log10(t), not searched for: this runs on every column of every batch;
    a time within rounding of an edge may land in the bin beside it, far below the plots' resolution."""
    below = int(np.count_nonzero(t < EDGES_S[1]))  # NaN compares False: no time, no count
    i = np.log10(t[t >= EDGES_S[1]])
    i -= math.log10(EDGES_S[1])
    i *= BINS_PER_DECADE
    bins = np.minimum(i.astype(np.int64) + 1, len(EDGES_S) - 1)
    counts = np.bincount(bins, minlength=len(EDGES_S))
    counts[0] = below
    return counts
