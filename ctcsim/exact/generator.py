"""The stacked single-unit generator of the circulating phase (DESIGN 7).

One unit is a continuous-time Markov chain over the transient states (compartment c,
Erlang stage j, shield s), indexed ``offset[c] + 2*j + s``, and the absorbing outcomes of
``outcomes``.  Each entry node (k, p, d) of ``EntryNodes`` gets its own block; the blocks
are stacked block-diagonally with the node weights folded into the initial vector, so one
solve of the stacked system gives the mixture.  Entry compartments need no block: the
answer is linear in the initial vector.  Semantics: ``ctcsim.model``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import hazards as H
from ..model import CompiledModel
from .capillary import EXITS, Capillary
from .entry import EntryNodes

CIRCULATING = H.in_phase("circulating")  # the constant hazards, in draw order
TIMED = tuple(h for h in H.HAZARDS if h.phase == "circulating" and h.time_dependent)
DEATHS = tuple(h.to for h in H.HAZARDS if h.phase == "circulating" and h.kind == "fate")
MODES = tuple(m for m in H.ARREST_MODES if m != "none")  # trapped on entry, and the arrest hazards'


def outcomes(model: CompiledModel, capillary: bool = False) -> list[tuple]:
    """Absorbing outcomes as (fate, organ, arrest_mode), from the hazard table: its deaths in
    table order (died_shear, died_nk, died_anoikis), then each organ's arrest modes (trapped,
    adhered) in ``organ_names`` order, then censored.  With ``capillary`` (release from arrest,
    ``capillary.releasing``): (fate, organ, arrest_mode, exit), each arrest split by how it
    ended (``capillary.EXITS``), exit "none" for the others."""
    if capillary:
        return ([(f, None, "none", "none") for f in DEATHS] + [("arrested", o, m, x) for o in model.organ_names
                                                               for m in MODES for x in EXITS]
                + [("censored", None, "none", "none")])
    return ([(f, None, "none") for f in DEATHS] + [("arrested", o, m) for o in model.organ_names for m in MODES]
            + [("censored", None, "none")])


def is_time_dependent(model: CompiledModel) -> bool:
    """A time-dependent hazard (Weibull in the age: anoikis) acts with a shape other than 1."""
    return any((model.rates[h.name] > 0).any() for h in TIMED) and model.anoikis_beta != 1


class System:
    """The stacked generator of ``model`` over the entry ``nodes``.  Rates out of transient
    state i: ``T`` (transient, diagonal included), ``R`` (into outcomes), ``alpha[i] * w(a)``
    into outcome ``timed_col`` when the table's time-dependent hazard is (at beta == 1 it is
    constant, in T and R).  ``steps[i]`` is the total rate of constant-hazard events,
    self-loops included.  ``p0``/``e0``: initial transient and outcome (trapped at entry) mass.
    ``M`` is the whole generator over (transient, outcome) mass, transposed: the forward
    equation is y' = M y.  Each hazard of the circulating phase acts by its kind
    (hazards.KINDS: stage, toggle, fate, arrest), scaled by its unit-factor group.  With
    ``capillary`` the capillary states follow the circulating ones in each block
    (``capillary.Capillary``); ``held`` is the outcome column of each block-local state's mass
    at the horizon (censored, or in_capillary where arrested)."""

    def __init__(self, model: CompiledModel, nodes: EntryNodes, capillary: bool = False):
        if ((model.rates["stage"] > 0).any(axis=1) & (np.diff(model.edge_ptr) == 0)).any():
            raise ValueError("a compartment with a finite transit has no outgoing edge")
        self.model = model
        column = {o: i for i, o in enumerate(outcomes(model, capillary))}
        self.n_out, self.capillary = len(column), capillary
        ns = model.n_stages.astype(np.int64)
        offset = np.concatenate([[0], np.cumsum(2 * ns)])
        n0 = int(offset[-1])  # the circulating states of a block; the capillary ones follow
        i = np.arange(n0)
        comp, shield = np.repeat(np.arange(model.n_compartments), 2 * ns), i % 2
        stage = (i - offset[comp]) // 2
        bed = model.is_bed[comp] == 1
        def arrest_col(mode):  # by compartment; 0 in pools, where every rate into it is 0
            return np.array([column[("arrested", model.organ_names[o], mode)] if o >= 0 else 0 for o in model.organ])

        G, Q, B = nodes.factors(model), nodes.traps(model), len(nodes)
        cap = Capillary(model, G, Q, offset, n0, column) if capillary else None
        self.cap = cap
        n = n0 + (cap.n if cap else 0)
        trapped = arrest_col("trapped") if not cap else None
        fate_col = {f: column[(f, None, "none") + (("none",) if cap else ())] for f in DEATHS}
        self.time_dependent = is_time_dependent(model)
        by_kind = {"stage": np.zeros((B, n0)), "toggle": np.zeros((B, n0))}
        channels, self.alpha, self.timed_col = [], np.zeros(B * n), 0  # (rate [B, n0], column [n0]) into outcomes
        arrests = []  # with release: the arrest hazards' rates [B, n0], into the capillary states
        for h in CIRCULATING + TIMED:
            r = (G[:, H.FACTORS.index(h.factor)] if h.factor else np.ones(B))[:, None] * model.rates[h.name][comp, shield]
            if h.kind == "arrest" and cap:
                if (r[:, ~bed] != 0).any():
                    raise ValueError(f"rates[{h.name!r}] is non-zero in a pool: arrest there has no organ")
                cap.arrive(np.flatnonzero(bed), comp[bed], h.to, shield[bed], r[:, bed])
                arrests.append(r)
            elif h.kind in ("fate", "arrest"):
                col = fate_col[h.to] if h.kind == "fate" else arrest_col(h.to)[comp]
                if h.kind == "arrest" and (r[:, ~bed] != 0).any():
                    raise ValueError(f"rates[{h.name!r}] is non-zero in a pool: arrest there has no organ")
                if h.time_dependent and self.time_dependent:
                    self.alpha, self.timed_col = np.pad(r, ((0, 0), (0, n - n0))).ravel(), col
                else:  # at beta == 1 the Weibull hazard is the constant scale / eta
                    channels.append((r / model.anoikis_eta_s if h.time_dependent else r, np.broadcast_to(col, n0)))
            elif h.kind in by_kind and not h.time_dependent:
                by_kind[h.kind] += r
            else:
                raise ValueError(f"exact: a {h.kind!r} hazard in the circulating phase ({h.name}) is not solved")
        rate, toggle = by_kind["stage"], by_kind["toggle"]
        total = rate + toggle + sum(r for r, _ in channels) + sum(arrests)  # [B, n0]
        # Transitions between transient states: stage advances, shield toggles, and moves
        # after the last stage into (c', 0, s) by flow fraction, trapped on entering with Q.
        inner, last = np.flatnonzero(stage < ns[comp] - 1), np.flatnonzero(stage == ns[comp] - 1)
        moves = np.array([(j, offset[c] + shield[j], f) for j in last for c, f in model.successors(int(comp[j]))])
        m_from, m_to, frac = moves.reshape(-1, 3).T
        m_from, m_to = m_from.astype(np.int64), m_to.astype(np.int64)
        move_rate = rate[:, m_from] * frac
        q_to = Q[:, comp[m_to]]
        shift = np.arange(B)[:, None] * n

        def stacked(parts, n_cols, block_cols):
            """The B blocks down the rows (and along the columns if block_cols) of a sparse
            matrix, from one unit's entries (rows [m], cols [m], values [m] or [B, m])."""
            def flat(x, m): return np.broadcast_to(x, (B, m)).ravel()
            rows = np.concatenate([flat(shift + r, len(r)) for r, _, _ in parts])
            cols = np.concatenate([flat(shift * block_cols + c, len(r)) for r, c, _ in parts])
            vals = np.concatenate([flat(v, len(r)) for r, _, v in parts])
            return sp.csr_matrix((vals, (rows, cols)), shape=(B * n, n_cols))

        T = [(inner, inner + 2, rate[:, inner]), (i, i ^ 1, toggle), (m_from, m_to, move_rate * (1 - q_to)),
             (i, i, -total)]
        R = [(i, col, r) for r, col in channels]
        if cap:
            into = comp[m_to]
            hit = np.flatnonzero(model.is_bed[into] == 1)
            cap.arrive(m_from[hit], into[hit], "trapped", shield[m_from[hit]], (move_rate * q_to)[:, hit])
            T, R = T + cap.T, R + cap.R
            total = np.concatenate([total, cap.total], axis=1)
        else:
            R.append((m_from, trapped[comp[m_to]], move_rate * q_to))
        self.T = stacked(T, B * n, True)
        self.R = stacked(R, self.n_out, False)
        self.steps = total.ravel()
        self.held = np.concatenate([np.full(n0, self.n_out - 1), cap.held if cap else []]).astype(np.int64)
        p0, self.e0 = np.zeros((B, n)), np.zeros(self.n_out)
        for c, pc in zip(model.entry_compartment, np.diff(model.entry_cum, prepend=0.0)):
            p0[:, offset[c]] += nodes.weight * pc * (1 - Q[:, c])
            if cap and model.is_bed[c]:  # trapped at entry: into the capillary
                p0[:, cap.index(c, "trapped", 0)] += pc * nodes.weight * Q[:, c]
            elif not cap:
                self.e0[trapped[c]] += pc * nodes.weight @ Q[:, c]  # Q = 0 in pools
        self.p0 = p0.ravel()
        self.n, self.block = B * n, n
        size = self.n + self.n_out
        self.M = sp.vstack([sp.hstack([self.T, self.R]), sp.csr_matrix((self.n_out, size))]).T.tocsr()

    @property
    def y0(self) -> np.ndarray:
        """The initial (transient, outcome) mass."""
        return np.concatenate([self.p0, self.e0])
