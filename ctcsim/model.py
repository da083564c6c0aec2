"""The compiled model: the flat arrays the core reads, and the codes it writes.

A ``CompiledModel`` is everything the circulating phase needs, resolved to
numbers: no names are looked up while simulating.  ``compile.py`` builds it
from a Scenario; ``_core.run_chunk``, ``reference.py`` and ``exact.py`` read
it, and all three must agree on the semantics written here.

Semantics of one unit (DESIGN 2.2, 2.3)
---------------------------------------
Entry.  Compartment ``entry_compartment[i]`` with probability given by
``entry_cum``; cluster size ``k = i + 1`` by ``cluster_cum``; phenotype ``p`` by
``phenotype_cum``; diameter ``d = diameter_median_um * exp(diameter_sigma_log * z)``
with ``z`` standard normal; entry time from ``entry_time_grid_s`` (the inverse
CDF at ``u = 0, 1/(M-1), ..., 1``, linear between; one point = constant).
Per-unit hazard factors: ``F_h = cluster_factor[h, k-1] * phenotype_factor[h, p]``
for ``h`` in HAZARDS.

State while circulating: compartment ``c``, Erlang stage ``j`` (0-based),
shield ``s`` in {0, 1} (0 at entry), age ``a`` (time since entry).
Constant hazards in state (c, j, s):

- advance a stage: ``stage_rate_per_s[c]`` (= n_stages / transit); after the
  last stage the unit leaves ``c`` for ``edge_to[e]``, ``e`` in
  ``edge_ptr[c]:edge_ptr[c+1]``, chosen by the cumulative ``edge_cum``;
- death by shear: ``shear_per_s[c, s] * F_shear``;
- death by NK: ``nk_per_s[c, s] * F_nk``;
- arrest by adhesion (beds only, else 0): ``adhesion_per_s[c, s] * F_adhesion``;
- shield toggle: ``shield_toggle_per_s[c, s]`` (binding when s = 0, release when s = 1).

Time-dependent hazard: death by anoikis
``anoikis_scale[s] * F_anoikis * (beta/eta) * (a/eta)**(beta-1)``.

Entering a bed ``c`` (at entry too, if the entry compartment is a bed), the unit
is trapped at once with probability
``trap_max / (1 + exp(-(r - trap_ratio50) / trap_width))``,
``r = d * trap_diameter_scale[k-1] / capillary_diameter_um[c]``.

The circulating phase ends at the first of: a death, an arrest (trapped or
adhered, in ``organ[c]``), or the absolute time ``t_max_s`` (censored).

After arrest in bed ``c`` with shield ``s`` (DESIGN 2.4; the shield stays as it arrived):

- seed and soil: with probability ``1 - compatibility[c]`` the organ does not let the unit
  live at all, and it dies in the capillary at once (the organ's relative metastatic
  efficiency from its tropism table, ``tropism.compatibility``);
- in the capillary: death ``cap_death_per_s[c, s] * F_nk`` or extravasation
  ``extravasation_per_s[c] * F_extravasation``;
- extravasated: dormant with probability ``dormancy_prob[c]``, else proliferating;
- dormant: wakes (proliferating) at ``wake_per_s[c]`` or dies at ``dormant_death_per_s[c]``;
- proliferating: a birth-death colony of n cells (n = k at the start), birth
  ``birth_per_s[c] * F_proliferation`` and death ``death_per_s[c]`` per cell, exact
  until n = 0 (colony_extinct) or n = ``micro_cells`` (micrometastasis);
- micrometastasis: regresses at ``regression_per_s[c]``, or grows to ``macro_cells``
  after the time the large-colony approximation gives (reference.py, ``grow_time``).
Whatever state holds at ``t_max_s`` is the post-arrest outcome (censored there).

An arm whose multipliers start at ``switch_s`` is two CompiledModels: the unit
follows the first until absolute time ``switch_s`` and the second after it
(exact: hazards are piecewise constant in time, the clock restarts at the switch).
"""
from __future__ import annotations

import dataclasses

import numpy as np

FATES = ("censored", "died_shear", "died_nk", "died_anoikis", "arrested")
ARREST_MODES = ("none", "trapped", "adhered")
PHENOTYPES = ("epithelial", "hybrid", "mesenchymal")
HAZARDS = ("shear", "nk", "anoikis", "adhesion", "extravasation", "proliferation")
POST_ARREST = (
    "none", "in_capillary", "died_in_capillary", "dormant", "died_dormant", "proliferating",
    "colony_extinct", "micrometastasis", "regressed", "macrometastasis",
)
# Event log codes.  "stage" is an Erlang stage completed inside a compartment;
# "move" is entry into the next compartment.
EVENTS = (
    "enter", "stage", "move", "shield_on", "shield_off", "trapped", "adhered",
    "died_shear", "died_nk", "died_anoikis", "censored",
    "extravasated", "dormant", "woke", "died_in_capillary", "died_dormant", "division",
    "cell_death", "colony_extinct", "micrometastasis", "regressed", "macrometastasis",
)


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledModel:
    """Flat arrays for one arm of a scenario (see the module docstring)."""

    compartment_names: tuple[str, ...]
    organ_names: tuple[str, ...]
    is_bed: np.ndarray               # int8[C]
    organ: np.ndarray                # int32[C], -1 for pools
    stage_rate_per_s: np.ndarray     # float64[C]
    n_stages: np.ndarray             # int32[C]
    shear_per_s: np.ndarray          # float64[C, 2]
    nk_per_s: np.ndarray             # float64[C, 2]
    adhesion_per_s: np.ndarray       # float64[C, 2]
    shield_toggle_per_s: np.ndarray  # float64[C, 2]
    capillary_diameter_um: np.ndarray  # float64[C], nan for pools
    edge_ptr: np.ndarray             # int64[C + 1]
    edge_to: np.ndarray              # int32[E]
    edge_cum: np.ndarray             # float64[E], last of each compartment is 1.0
    anoikis_eta_s: float
    anoikis_beta: float
    anoikis_scale: np.ndarray        # float64[2], by shield state
    trap_max: float
    trap_ratio50: float
    trap_width: float
    entry_compartment: np.ndarray    # int32[n]
    entry_cum: np.ndarray            # float64[n]
    cluster_cum: np.ndarray          # float64[K]
    phenotype_cum: np.ndarray        # float64[3]
    diameter_median_um: float
    diameter_sigma_log: float
    entry_time_grid_s: np.ndarray    # float64[M]
    cluster_factor: np.ndarray       # float64[len(HAZARDS), K]
    phenotype_factor: np.ndarray     # float64[len(HAZARDS), 3]
    trap_diameter_scale: np.ndarray  # float64[K]
    t_max_s: float
    # After arrest, by compartment (zeros for pools); all zero: units stay in the capillary.
    cap_death_per_s: np.ndarray | None = None      # float64[C, 2]
    extravasation_per_s: np.ndarray | None = None  # float64[C]
    dormancy_prob: np.ndarray | None = None        # float64[C]
    wake_per_s: np.ndarray | None = None           # float64[C]
    dormant_death_per_s: np.ndarray | None = None  # float64[C]
    birth_per_s: np.ndarray | None = None          # float64[C]
    death_per_s: np.ndarray | None = None          # float64[C]
    regression_per_s: np.ndarray | None = None     # float64[C]
    compatibility: np.ndarray | None = None        # float64[C], in [0, 1]; default 1
    micro_cells: int = 16
    macro_cells: float = 1e6

    def __post_init__(self):
        # A model built by hand for the circulating phase alone needs no post-arrest arrays.
        zeros = {"cap_death_per_s": (self.n_compartments, 2)}
        for name in ("extravasation_per_s", "dormancy_prob", "wake_per_s", "dormant_death_per_s",
                     "birth_per_s", "death_per_s", "regression_per_s"):
            zeros[name] = (self.n_compartments,)
        for name, shape in zeros.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(shape))
        if self.compatibility is None:
            object.__setattr__(self, "compatibility", np.ones(self.n_compartments))

    @property
    def n_compartments(self) -> int:
        return len(self.compartment_names)

    def successors(self, c: int) -> list[tuple[int, float]]:
        """(target, fraction) pairs of the edges out of compartment ``c``."""
        lo, hi = int(self.edge_ptr[c]), int(self.edge_ptr[c + 1])
        cum = np.concatenate([[0.0], self.edge_cum[lo:hi]])
        return [(int(self.edge_to[e]), float(cum[e - lo + 1] - cum[e - lo])) for e in range(lo, hi)]
