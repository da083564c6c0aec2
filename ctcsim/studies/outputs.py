"""What a study measures: counts of units per (arm, outcome, organ), and outputs built on them.

Outcomes (``OUTCOMES``): every fate, every post-arrest outcome (the state at the end, or the
final outcome), and three more: ``extravasated`` and ``reached_micrometastasis`` (the unit
got that far, whatever happened after) and ``alive`` (neither dead in circulation nor gone
after arrest).  Counts are by organ of arrest, and over all units (organ "all").

An ``Output`` is one number per point: the fraction of an arm's units with an outcome (in an
organ), or the paired difference of that fraction between two arms (``versus``).  With the
exact model (``exact_value``) it is a probability from the master equation: a circulating-
phase outcome (delayed arms included), or a post-arrest outcome *given arrest* in the organ
(one unshielded epithelial single cell, by ``horizon_s`` after arrest; arms from t = 0).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pyarrow as pa

from ..checks import ScenarioError, at_least, spec
from ..model import FATES, POST_ARREST
from .executor import MILESTONES

AFTER_ARREST = tuple(p for p in POST_ARREST if p != "none")
OUTCOMES = FATES + AFTER_ARREST + tuple(MILESTONES) + ("alive",)
NO_ORGAN = ("censored", "died_shear", "died_nk", "died_anoikis")  # outcomes of units never arrested
ALL = "all"  # the organ of the counts over all units
_DEAD = [FATES.index(f) for f in NO_ORGAN[1:]]
_GONE = [POST_ARREST.index(p) for p in ("died_in_capillary", "died_dormant", "colony_extinct", "regressed")]
_EXACT_FATES = ("died_shear", "died_nk", "died_anoikis", "arrested", "censored")


@dataclasses.dataclass(frozen=True)
class Output:
    """One number per point: the fraction of ``arm``'s units with ``outcome`` (in ``organ``),
    minus that of arm ``versus`` when given (a paired difference)."""
    outcome: str = spec(str)
    organ: str | None = spec(str, None, doc="organ of arrest [all units]")
    arm: str | None = spec(str, None, doc="[the study's first arm]")
    versus: str | None = spec(str, None, doc="an arm to subtract (paired difference)")
    horizon_s: float = spec(float, math.inf, check=at_least(0.0), doc="exact model, post-arrest: time after arrest")

    @property
    def label(self) -> str:
        where = f" in {self.organ}" if self.organ else ""
        arms = f"{self.arm} - {self.versus}" if self.versus else self.arm
        return f"{self.outcome}{where} ({arms})"


def check(o: Output, s, arms: list[str], where: str, key: str) -> None:
    """Refuse an output the scenario cannot give (one line naming ``where`` and ``key``)."""
    if o.outcome not in OUTCOMES:
        raise ScenarioError(where, f"{key}.outcome", f"unknown outcome {o.outcome!r}; outcomes: {', '.join(OUTCOMES)}")
    organs = s.resolved_anatomy().organs()
    if o.organ is not None and o.organ not in organs:
        raise ScenarioError(where, f"{key}.organ", f"unknown organ {o.organ!r}; organs: {', '.join(organs)}")
    if o.organ is not None and o.outcome in NO_ORGAN:
        raise ScenarioError(where, f"{key}.organ", f"{o.outcome} happens before arrest: it has no organ")
    for name in ("arm", "versus"):
        arm = getattr(o, name)
        if arm is not None and arm not in arms:
            raise ScenarioError(where, f"{key}.{name}", f"unknown arm {arm!r}; the study runs: {', '.join(arms)}")
    if o.versus is not None and o.versus == (o.arm or arms[0]):
        raise ScenarioError(where, f"{key}.versus", "an arm minus itself is 0")


def resolved(o: Output, arms: list[str]) -> Output:
    return o if o.arm else dataclasses.replace(o, arm=arms[0])


def indicators(table: pa.Table | pa.RecordBatch, arms: list[str], organs: list[str]):
    """(arm codes [n], outcome indicators [n, len(OUTCOMES)], organ codes + 1 [n] (0: none),
    unit ids [n]) of a point's outcome table (``outcome_chunk``'s columns)."""
    arm = _codes(table, "arm", arms)
    fate, post = _codes(table, "fate", FATES), _codes(table, "post_arrest", POST_ARREST)
    organ = _codes(table, "organ", organs) + 1
    flags = [table.column(m).to_numpy(zero_copy_only=False) for m in MILESTONES]
    y = np.concatenate([fate[:, None] == np.arange(len(FATES)),
                        post[:, None] == np.arange(1, len(POST_ARREST)),
                        np.stack(flags, axis=1).astype(bool),
                        ~(np.isin(fate, _DEAD) | np.isin(post, _GONE))[:, None]], axis=1)
    return arm, y, organ, table.column("unit_id").to_numpy()


class Counts:
    """Units per (arm, outcome, organ) of one point, from its outcome table.  ``counts[arm]``
    is [len(OUTCOMES), 1 + organs]: column 0 holds units without an organ of arrest, column
    1 + i those arrested in organ i."""

    def __init__(self, table: pa.Table | pa.RecordBatch, arms: list[str], organs: list[str]):
        self.arms, self.organs = arms, organs
        arm, y, organ, _ = indicators(table, arms, organs)
        self.n = {a: int((arm == i).sum()) for i, a in enumerate(arms)}
        self.counts = {a: _cells(y[arm == i], organ[arm == i], len(organs)) for i, a in enumerate(arms)}

    def count(self, arm: str, outcome: str, organ: str | None = None) -> int:
        row = self.counts[arm][OUTCOMES.index(outcome)]
        return int(row.sum() if organ in (None, ALL) else row[1 + self.organs.index(organ)])

    def fraction(self, o: Output) -> float:
        p = self.count(o.arm, o.outcome, o.organ) / self.n[o.arm]
        return p - self.count(o.versus, o.outcome, o.organ) / self.n[o.versus] if o.versus else p

    def rows(self):
        """(arm, outcome, organ, count, n) for every outcome over all units and, for outcomes
        after arrest, in every organ."""
        for a in self.arms:
            yield from ((a, outcome, organ, int(k), self.n[a]) for outcome, organ, k in _rows(self.counts[a], self.organs))


def discordant(first, second, arms: list[str], organs: list[str]):
    """(arm, outcome, organ, units counted at the second point only, at the first only, units)
    for every row of ``Counts.rows``: what a paired difference between two points needs.
    ``first``, ``second``: ``indicators`` of the two points, which must hold the same units."""
    (arm1, y1, organ1, units1), (arm2, y2, organ2, units2) = first, second
    if not (np.array_equal(arm1, arm2) and np.array_equal(units1, units2)):
        raise ValueError("the two points do not hold the same units")
    g = len(organs)
    for i, a in enumerate(arms):
        r = arm1 == i
        n = int(r.sum())
        one, two = _cells(y1[r], organ1[r], g), _cells(y2[r], organ2[r], g)
        both = _cells(y1[r] & y2[r] & (organ1[r] == organ2[r])[:, None], organ1[r], g)
        both_all = (y1[r] & y2[r]).sum(axis=0)  # over all units, a change of organ is no change
        for k, outcome in enumerate(OUTCOMES):
            yield a, outcome, ALL, int(two[k].sum() - both_all[k]), int(one[k].sum() - both_all[k]), n
            if outcome not in NO_ORGAN:
                for j, organ in enumerate(organs):
                    yield a, outcome, organ, int(two[k, 1 + j] - both[k, 1 + j]), int(one[k, 1 + j] - both[k, 1 + j]), n


def _cells(y: np.ndarray, organ: np.ndarray, n_organs: int) -> np.ndarray:
    """Units per (outcome, organ + 1) from indicators y [n, O] and organ codes + 1 [n]."""
    unit, outcome = np.nonzero(y)
    cells = outcome * (1 + n_organs) + organ[unit]
    return np.bincount(cells, minlength=len(OUTCOMES) * (1 + n_organs)).reshape(len(OUTCOMES), 1 + n_organs)


def _rows(cells: np.ndarray, organs: list[str]):
    """(outcome, organ, count) over all units and, after arrest, per organ."""
    for i, outcome in enumerate(OUTCOMES):
        yield outcome, ALL, cells[i].sum()
        if outcome not in NO_ORGAN:
            yield from ((outcome, organ, cells[i, 1 + j]) for j, organ in enumerate(organs))


def exact_value(o: Output, s, solved: dict | None = None) -> float:
    """The output's exact probability (master equation) for scenario ``s``.  ``solved`` keeps
    each arm's model and solution for the next output of the same scenario (``exact_values``)."""
    solved = {} if solved is None else solved
    p = _exact_probability(o, s, o.arm, solved)
    return p - _exact_probability(o, s, o.versus, solved) if o.versus else p


def exact_values(outs, s) -> list[float]:
    """``exact_value`` of each of ``outs`` for one scenario, each arm compiled and solved once
    (a fit's targets and an analysis's outputs share the scenario of each evaluation)."""
    solved = {}
    return [exact_value(o, s, solved) for o in outs]


def check_exact(o: Output, s, where: str, key: str) -> None:
    if o.outcome not in _EXACT_FATES + AFTER_ARREST:
        raise ScenarioError(where, f"{key}.outcome", f"{o.outcome} has no exact probability; exact outputs: "
                                                     f"{', '.join(_EXACT_FATES + AFTER_ARREST)}")
    if o.outcome in AFTER_ARREST and o.organ is None:
        raise ScenarioError(where, f"{key}.organ", "an exact post-arrest probability is given arrest in an organ: "
                                                   "name the organ")
    for arm in (o.arm, o.versus):
        spec_ = next((a for a in s.arms if a.name == arm), None)
        if o.outcome in AFTER_ARREST and spec_ is not None and spec_.start_s > 0:
            raise ScenarioError(where, key, f"arm {arm!r} starts at {spec_.start_s:g} s: an exact post-arrest "
                                            "probability here covers arms that apply from t = 0")


def _exact_probability(o: Output, s, arm: str, solved: dict) -> float:
    from .. import exact
    from ..compile import compile_arm
    if arm not in solved:
        solved[arm] = compile_arm(s, arm)
    model, after, switch_s = solved[arm]
    if o.outcome in AFTER_ARREST:
        bed = next(i for i, organ in enumerate(model.organ_names) if organ == o.organ)
        bed = int(np.flatnonzero(model.organ == bed)[0])
        return float(exact.post_arrest_probabilities(model, bed, horizon_s=o.horizon_s)[POST_ARREST.index(o.outcome)])
    if (arm, "outcomes") not in solved:  # a delayed arm in two pieces
        solved[arm, "outcomes"] = list(zip(exact.outcomes(model),
                                           exact.outcome_probabilities(model, after=after, switch_s=switch_s)))
    return float(sum(p for (fate, organ, _), p in solved[arm, "outcomes"]
                     if fate == o.outcome and (o.organ is None or organ == o.organ)))


def _codes(table, column: str, values) -> np.ndarray:
    """Codes of a dictionary column against the fixed ``values`` (-1 for null)."""
    col = table.column(column)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    lookup = np.array([list(values).index(v) for v in col.dictionary.to_pylist()] + [-1], np.int64)
    return lookup[col.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
