"""The capillary in the circulation chain, for units that can be released from arrest (issue 11).

Without release an arrest is absorbing: the circulation chain ends in (arrested, organ, mode)
and ``post_arrest`` takes over.  With release (any ``release`` rate > 0 in a piece) an arrested
unit can come back, so each entry node's block of the generator gains the transient states
(bed c, arrest mode, shield s) after its circulating ones.  A unit arrives there by an arrest
hazard or by trapping on entering a bed; the organ's compatibility q kills it at arrival with
probability 1 - q (the core's draw at every arrest).  From there the capillary phase's hazards act
by their kinds (``hazards.KINDS``), each scaled by its unit factor, as in the core:

    state        the arrest ends: ("arrested", organ, mode, h.to), h.to = died_in_capillary
    extravasate  the arrest ends: ("arrested", organ, mode, "extravasated")
    toggle       the shield flips (platelets bind the arrested unit)
    release      back into the blood: into each successor d of c by its flow fraction, at its
                 first stage with the same shield, trapped on entering with d's trap probability

No anoikis acts in the capillary, but the age runs on (the Weibull hazard is in the age since
entry), so these states have no time-dependent rate.  Mass still in a capillary state at the
horizon is ("arrested", organ, mode, "in_capillary").  The outcomes are then 4-tuples
(fate, organ, mode, exit), exit "none" unless arrested: how the unit's last arrest ended,
which the fate row's ``post_arrest`` tells (``exit_of``).
"""
from __future__ import annotations

import numpy as np

from .. import hazards as H

CAPILLARY = H.in_phase("capillary")
EXITS = ("in_capillary", "died_in_capillary", "extravasated")
MODES = tuple(m for m in H.ARREST_MODES if m != "none")


def releasing(models) -> bool:
    """Whether any of the pieces lets arrested units go (its states then join the chain)."""
    return any((m.rates[h.name] > 0).any() for m in models if m is not None for h in CAPILLARY
               if h.kind == "release")


def exit_of(post_arrest: str) -> str:
    """The exit of a fate row's post-arrest state: in_capillary, died_in_capillary, none, or
    "extravasated" for every state after it (dormant, proliferating, ..., macrometastasis)."""
    return post_arrest if post_arrest in ("none", "in_capillary", "died_in_capillary") else "extravasated"


class Capillary:
    """The capillary states of one block: local index ``n0 + 4 * bed + 2 * mode + s`` (beds in
    compartment order).  ``T`` and ``R``: their parts of the generator, as (rows, cols, values
    [B, m]) for ``System``'s ``stacked``; ``total`` [B, n_cap] their total rates; ``held`` the
    outcome column of each capillary state's mass at the horizon."""

    def __init__(self, model, G, Q, offset, n0: int, column: dict):
        self.model, self.Q, self.offset, self.n0, self.column = model, Q, offset, n0, column
        self.beds = np.flatnonzero(model.is_bed == 1)
        self.bed_of = np.full(model.n_compartments, -1)
        self.bed_of[self.beds] = np.arange(len(self.beds))
        self.n = 4 * len(self.beds)
        B = len(G)
        self.T, self.R = [], []
        self.total = np.zeros((B, self.n))
        self.held = np.zeros(self.n, np.int64)
        for c in self.beds:
            for mode in MODES:
                for s in (0, 1):
                    i = self.index(c, mode, s)
                    self.held[i - n0] = self.col(c, mode, "in_capillary")
                    for h in CAPILLARY:
                        r = (G[:, H.FACTORS.index(h.factor)] if h.factor else np.ones(B)) * model.rates[h.name][c, s]
                        self.total[:, i - n0] += r
                        if h.kind == "state":
                            self.R.append(([i], [self.col(c, mode, h.to)], r[:, None]))
                        elif h.kind == "extravasate":
                            self.R.append(([i], [self.col(c, mode, "extravasated")], r[:, None]))
                        elif h.kind == "toggle":
                            self.T.append(([i], [self.index(c, mode, 1 - s)], r[:, None]))
                        elif h.kind == "release":
                            for d, frac in model.successors(int(c)):
                                x = r[:, None] * frac
                                self.T.append(([i], [offset[d] + s], x * (1 - Q[:, [d]])))
                                self.arrive(np.array([i]), np.array([d]), "trapped", np.array([s]), x * Q[:, [d]])
                        else:
                            raise ValueError(f"exact: a {h.kind!r} hazard in the capillary ({h.name}) is not solved")
                    self.T.append(([i], [i], -self.total[:, [i - n0]]))

    def index(self, c, mode, s):
        return self.n0 + 4 * self.bed_of[c] + 2 * MODES.index(mode) + s

    def col(self, c, mode, exit):
        return self.column[("arrested", self.model.organ_names[self.model.organ[c]], mode, exit)]

    def arrive(self, rows, c, mode, s, rate):
        """Arrest in beds c (arrays, as rows and shields s) at ``rate`` [B, m]: into the capillary
        state with the organ's compatibility q, dead at once (died_in_capillary) with 1 - q."""
        q = self.model.compatibility[c]
        self.T.append((rows, self.index(c, mode, s), rate * q))
        self.R.append((rows, np.array([self.col(x, mode, "died_in_capillary") for x in c], np.int64),
                       rate * (1 - q)))
