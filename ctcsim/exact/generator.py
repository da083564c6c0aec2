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

from ..model import HAZARDS, CompiledModel
from .entry import EntryNodes

SHEAR, NK, ANOIKIS, ADHESION = (HAZARDS.index(h) for h in ("shear", "nk", "anoikis", "adhesion"))


def outcomes(model: CompiledModel) -> list[tuple[str, str | None, str]]:
    """Absorbing outcomes as (fate, organ, arrest_mode): died_shear, died_nk,
    died_anoikis, then (trapped, adhered) per organ in ``organ_names`` order, then censored."""
    out: list[tuple[str, str | None, str]] = [
        ("died_shear", None, "none"), ("died_nk", None, "none"), ("died_anoikis", None, "none")]
    for organ in model.organ_names:
        out += [("arrested", organ, "trapped"), ("arrested", organ, "adhered")]
    return out + [("censored", None, "none")]


def is_time_dependent(model: CompiledModel) -> bool:
    """Anoikis acts with a Weibull shape other than 1: a hazard that changes with age."""
    return bool(model.anoikis_scale.any()) and model.anoikis_beta != 1


class System:
    """The stacked generator of ``model`` over the entry ``nodes``.  Rates out of transient
    state i: ``T`` (transient, diagonal included), ``R`` (into outcomes), ``alpha[i] * w(a)``
    into died_anoikis when anoikis is time-dependent (at beta == 1 it is in T and R).
    ``steps[i]`` is the total rate of constant-hazard events, self-loops included.
    ``p0``/``e0``: initial transient and outcome (trapped at entry) mass.  ``M`` is the whole
    generator over (transient, outcome) mass, transposed: the forward equation is y' = M y."""

    def __init__(self, model: CompiledModel, nodes: EntryNodes):
        if (model.adhesion_per_s[model.is_bed == 0] != 0).any():
            raise ValueError("adhesion_per_s is non-zero in a pool: arrest there has no organ")
        if ((model.stage_rate_per_s > 0) & (np.diff(model.edge_ptr) == 0)).any():
            raise ValueError("a compartment with a finite transit has no outgoing edge")
        self.model = model
        self.n_out = len(outcomes(model))
        ns = model.n_stages.astype(np.int64)
        offset = np.concatenate([[0], np.cumsum(2 * ns)])
        n = int(offset[-1])
        i = np.arange(n)
        comp, shield = np.repeat(np.arange(model.n_compartments), 2 * ns), i % 2
        stage = (i - offset[comp]) // 2
        rate, toggle = model.stage_rate_per_s[comp], model.shield_toggle_per_s[comp, shield]
        arrest_col = np.where(model.is_bed[comp] == 1, 3 + 2 * model.organ[comp], 0)  # trapped; +1 adhered
        # One unit's transitions, as (rows, cols, rates): stage advances, shield toggles,
        # and moves after the last stage into (c', 0, s) by flow fraction.
        inner = np.flatnonzero(stage < ns[comp] - 1)
        fixed = np.concatenate([inner, i]), np.concatenate([inner + 2, i ^ 1]), np.concatenate([rate[inner], toggle])
        moves = np.array([(j, offset[c] + shield[j], rate[j] * f) for j in np.flatnonzero(stage == ns[comp] - 1)
                          for c, f in model.successors(int(comp[j]))]).reshape(-1, 3).T
        m_from, m_to = moves[0].astype(np.int64), moves[1].astype(np.int64)
        # Constant hazards into outcomes: (factor, rate per state before factors, outcome column).
        self.time_dependent = is_time_dependent(model)
        channels = [(SHEAR, model.shear_per_s[comp, shield], 0), (NK, model.nk_per_s[comp, shield], 1),
                    (ADHESION, model.adhesion_per_s[comp, shield], arrest_col + 1)]
        if not self.time_dependent:  # beta == 1: the constant hazard scale * F / eta
            channels.append((ANOIKIS, model.anoikis_scale[shield] / model.anoikis_eta_s, 2))

        F, Q, B = nodes.factors(model), nodes.traps(model), len(nodes)
        hazard = F[:, [h for h, _, _ in channels], None] * np.array([r for _, r, _ in channels])  # [B, H, n]
        total = rate + toggle + hazard.sum(axis=1)                                                   # [B, n]
        q_to = Q[:, comp[m_to]]  # trapped on entering the move's target
        shift = np.arange(B)[:, None] * n

        def stacked(parts, n_cols, block_cols):
            """The B blocks down the rows (and along the columns if block_cols) of a sparse
            matrix, from one unit's entries (rows [m], cols [m], values [m] or [B, m])."""
            def flat(x, m): return np.broadcast_to(x, (B, m)).ravel()
            rows = np.concatenate([flat(shift + r, len(r)) for r, _, _ in parts])
            cols = np.concatenate([flat(shift * block_cols + c, len(r)) for r, c, _ in parts])
            vals = np.concatenate([flat(v, len(r)) for r, _, v in parts])
            return sp.csr_matrix((vals, (rows, cols)), shape=(B * n, n_cols))

        self.T = stacked([fixed, (m_from, m_to, moves[2] * (1 - q_to)), (i, i, -total)], B * n, True)
        self.R = stacked([(m_from, arrest_col[m_to], moves[2] * q_to)] + [
            (i, np.broadcast_to(col, n), hazard[:, h]) for h, (_, _, col) in enumerate(channels)], self.n_out, False)
        self.alpha = (F[:, [ANOIKIS]] * model.anoikis_scale[shield] * self.time_dependent).ravel()
        self.steps = total.ravel()
        p0, self.e0 = np.zeros((B, n)), np.zeros(self.n_out)
        for c, pc in zip(model.entry_compartment, np.diff(model.entry_cum, prepend=0.0)):
            p0[:, offset[c]] += nodes.weight * pc * (1 - Q[:, c])
            self.e0[3 + 2 * model.organ[c]] += pc * nodes.weight @ Q[:, c]  # Q = 0 in pools
        self.p0 = p0.ravel()
        self.n, self.block = B * n, n
        size = self.n + self.n_out
        self.M = sp.vstack([sp.hstack([self.T, self.R]), sp.csr_matrix((self.n_out, size))]).T.tocsr()

    @property
    def y0(self) -> np.ndarray:
        """The initial (transient, outcome) mass."""
        return np.concatenate([self.p0, self.e0])
