"""The post-arrest chain of one arrested unit, built from the hazard table (DESIGN 2.4).

From arrest in bed ``c`` (cluster size k, phenotype p, shield s as it arrived) the unit is a
finite continuous-time Markov chain up to the micrometastasis.  Its transient states are
(post-arrest state, cells n, shield s): the state of each post-arrest phase but the
micrometastasis (``hazards.PHASE_STATE``: in_capillary and dormant with n = k, proliferating
with n = 1..micro_cells - 1), for s = 0, 1; its absorbing states are the final outcomes and
the micrometastasis, one per (founding cells n0, shield) (its growth depends on both: n0 is
micro_cells, or more when a colony starts at or above it).  Every hazard of a phase acts by
its kind (``hazards.KINDS``):

    toggle       the shield flips                      state  the chain moves to ``to``
    extravasate  k founders, each dormant with dormancy_prob: a colony of the j that are not,
                 j ~ Binomial(k, 1 - dormancy_prob); j = 0 is dormant (a woken unit grows from k)
    cells        a colony gains or loses a cell (rate times n); at 0 it is colony_extinct
    release      back into the blood: not this chain's (refused when > 0; exact.capillary)

``extravasated=True`` starts the chain at the extravasation instead (``landing``: the k founders'
draw), for units whose capillary phase the circulation chain solves (release from arrest,
``exact.capillary``): the capillary phase's hazards, release among them, are left out.

A colony of micro_cells or more cells is a micrometastasis at once.  Rates are
``rates[name][c, s]`` times the hazard's unit factor, as in the core.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from .. import hazards as H
from ..model import CompiledModel
from .colony import Growth

PHASES = tuple(p for p in H.PHASES if p != "circulating")
STAGE = "micrometastasis"             # the phase solved in closed form (colony.Growth), not as states
START = H.PHASE_STATE["capillary"]    # the state of a unit at arrest
COLONY = H.PHASE_STATE["colony"]
DORMANT = H.PHASE_STATE["dormant"]
MICRO = H.PHASE_STATE[STAGE]
PHASE_OF = {state: phase for phase, state in H.PHASE_STATE.items()}
GROWN = "macrometastasis"             # what the micrometastasis grows into (colony.Growth)
STAGE_OUTCOMES = (GROWN,) + tuple(dict.fromkeys(h.to for h in H.in_phase(STAGE)))  # the stage's ends
HAZARDS_OF = {phase: H.in_phase(phase) for phase in PHASES}  # looked up for each of a chain's states


def unit_factor(model: CompiledModel, h: H.Hazard, k: int, p: int) -> float:
    g = model.cluster_factor[:, k - 1] * model.phenotype_factor[:, p]
    return float(g[H.FACTORS.index(h.factor)]) if h.factor else 1.0


def bed_index(model: CompiledModel, bed, shield, k, p) -> int:
    """The compartment index of ``bed``, after checking the unit's description."""
    c = model.compartment_names.index(bed) if isinstance(bed, str) and bed in model.compartment_names else bed
    if not isinstance(c, (int, np.integer)) or not 0 <= c < model.n_compartments or not model.is_bed[c]:
        raise ValueError(f"bed must be a bed compartment of the model, got {bed!r}")
    if shield not in (0, 1):
        raise ValueError(f"shield must be 0 or 1, got {shield!r}")
    if not 1 <= k <= model.cluster_factor.shape[1] or not 0 <= p < model.phenotype_factor.shape[1]:
        raise ValueError(f"cluster_size must be in 1..{model.cluster_factor.shape[1]} and phenotype in "
                         f"0..{model.phenotype_factor.shape[1] - 1}, got {k!r}, {p!r}")
    return int(c)


class Chain:
    """``Q`` (dense generator over ``keys``), ``labels`` (POST_ARREST code of each state),
    ``start`` (arrest with ``shield``), ``micro`` (the micrometastasis states, one per founding
    cells and shield) and ``growth`` (the stage's closed forms of each, with the share of each of
    its hazards); ``landing`` (with ``extravasated``): the distribution over ``keys`` just after
    extravasating with ``shield``."""

    def __init__(self, model: CompiledModel, c: int, shield: int, k: int, p: int, extravasated: bool = False):
        M = int(model.micro_cells)
        transient = [(st, n, s) for s in (0, 1) for st in [H.PHASE_STATE[ph] for ph in PHASES if ph != STAGE]
                     for n in (range(1, M) if st == COLONY else [k])]
        micro = [(MICRO, n0, s) for s in (0, 1) for n0 in range(M, max(k, M) + 1)]
        self.keys = transient + micro + [(f,) for f in H.FINAL]
        index = {key: i for i, key in enumerate(self.keys)}
        self.Q = np.zeros((len(self.keys), len(self.keys)))
        q = min(max(float(model.dormancy_prob[c]), 0.0), 1.0)

        def to(state, n, s):  # the state key a unit enters as ``state`` with n cells and shield s
            if state in H.FINAL:
                return (state,)
            if state == MICRO or (state == COLONY and n >= M):
                return (MICRO, max(n, M), s)
            return (state, n, s)

        pmf = {}  # n -> P(j of n founders proliferate): one binomial per cell count, not per state

        def founders(n, s):  # (state, P) after extravasating: j founders proliferate; j = 0 is dormant
            pj = pmf[n] if n in pmf else pmf.setdefault(n, stats.binom.pmf(np.arange(n + 1), n, 1.0 - q).tolist())
            return [(to(DORMANT, n, s) if j == 0 else to(COLONY, j, s), x) for j, x in enumerate(pj) if x > 0]

        # Each hazard's rate under each shield, once: the states of a phase share them (a chain of
        # a few hundred states is built for every unit kind of every tropism-fit step).
        # Python floats (the same values): numpy scalars' arithmetic was most of the loop's time.
        rates = {h.name: [float(model.rates[h.name][c, s] * unit_factor(model, h, k, p)) for s in (0, 1)]
                 for phase in PHASES for h in HAZARDS_OF[phase]}
        rows, cols, values = [], [], []  # Q's entries in loop order, summed by np.add.at as += would
        for st, n, s in transient:
            i = index[(st, n, s)]
            if extravasated and st == START:  # never reached: the chain starts after it
                continue
            for h in HAZARDS_OF[PHASE_OF[st]]:
                r = rates[h.name][s]
                if h.kind == "toggle":
                    targets = [(to(st, n, 1 - s), r)]
                elif h.kind == "cells":
                    m = n + int(h.to)
                    targets = [(("colony_extinct",) if m == 0 else to(COLONY, m, s), r * n)]
                elif h.kind == "extravasate":
                    targets = [(key, r * x) for key, x in founders(n, s)]
                elif h.kind == "state":
                    targets = [(to(h.to, n, s), r)]
                elif h.kind == "release" and r == 0:
                    targets = []
                elif h.kind == "release":  # the unit leaves for the blood: the circulation chain's (capillary)
                    raise ValueError("post-arrest: released units go back into the blood; exact.outcome_probabilities "
                                     "solves release with the circulation")
                else:
                    raise ValueError(f"exact: a {h.kind!r} hazard after arrest ({h.name}) is not solved")
                for key, x in targets:
                    rows.append(i)
                    cols.append(index[key])
                    values.append(x)
        np.add.at(self.Q, (np.array(rows, np.intp), np.array(cols, np.intp)), np.array(values, float))
        self.Q[np.diag_indices_from(self.Q)] -= self.Q.sum(axis=1)
        self.labels = np.array([H.POST_ARREST.index(key[0]) for key in self.keys])
        self.start = index[to(START, k, shield)]
        if extravasated:
            self.landing = np.zeros(len(self.keys))
            for key, x in founders(k, shield):
                self.landing[index[key]] += x
        self.micro = [index[key] for key in micro]
        self.growth = [self._stage(model, c, s, n0, k, p) for _, n0, s in micro]

    @staticmethod
    def _stage(model, c, s, n0, k, p) -> tuple[Growth, np.ndarray]:
        """The micrometastasis stage under shield s: its Growth against the phase's hazards (their
        total rate), and the share of each of STAGE_OUTCOMES[1:] among those hazards."""
        def rate(h): return model.rates[h.name][c, s] * unit_factor(model, h, k, p)
        cells = [h for h in H.HAZARDS if h.kind == "cells"]
        birth = sum(rate(h) for h in cells if int(h.to) > 0)
        death = sum(rate(h) for h in cells if int(h.to) < 0)
        rates = {o: sum(rate(h) for h in H.in_phase(STAGE) if h.to == o) for o in STAGE_OUTCOMES[1:]}
        total = sum(rates.values())
        shares = np.array([x / total if total > 0 else 0.0 for x in rates.values()])
        return Growth(birth, death, n0, float(model.macro_cells), total), shares

    def stage_weights(self, i: int, u: float) -> np.ndarray:
        """P(each of STAGE_OUTCOMES within u of the stage's start) for the stage started in the
        micrometastasis state ``micro[i]`` (its founding cells and shield)."""
        growth, shares = self.growth[i]
        return np.concatenate([[growth.macro_by(u)], growth.regressed_by(u) * shares])
