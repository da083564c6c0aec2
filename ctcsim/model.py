"""The compiled model: the flat arrays the core reads, and the codes it writes.

A ``CompiledModel`` is everything the circulating phase needs, resolved to
numbers: no names are looked up while simulating.  ``compile.py`` builds it
from a Scenario; ``_core.run_chunk``, ``reference.py`` and ``ctcsim.exact`` read
it, and all three must agree on the semantics written here.

Semantics of one unit (DESIGN 2.2, 2.3)
---------------------------------------
Entry.  Compartment ``entry_compartment[i]`` with probability given by
``entry_cum``; cluster size ``k = i + 1`` by ``cluster_cum``; phenotype ``p`` by
``phenotype_cum``; diameter ``d = diameter_median_um * exp(diameter_sigma_log * z)``
with ``z`` standard normal; entry time from ``entry_time_grid_s`` (the inverse
CDF at ``u = 0, 1/(M-1), ..., 1``, linear between; one point = constant).
Per-unit hazard factors: ``F_g = cluster_factor[g, k-1] * phenotype_factor[g, p]``
for the factor groups ``g`` of ``hazards.FACTORS``; hazard ``h`` is scaled by its
group's factor (``hazards.HAZARDS[h].factor``), or by 1.

State while circulating: compartment ``c``, Erlang stage ``j`` (0-based),
shield ``s`` in {0, 1} (0 at entry), age ``a`` (time since entry).
Every hazard of ``hazards.HAZARDS`` has a rate table ``rates[name]``, float64[C, 2]
by compartment and shield, before unit factors.  In state (c, j, s) the circulating
phase's constant hazards are, in draw order (``hazards.in_phase("circulating")``):

- stage: ``rates["stage"][c, s]`` (= n_stages / transit); after the last stage the unit
  leaves ``c`` for ``edge_to[e]``, ``e`` in ``edge_ptr[c]:edge_ptr[c+1]``, chosen by the
  cumulative ``edge_cum``;
- shear, nk: death, ``rates[h][c, s] * F_h``;
- adhesion: arrest (beds only, else 0), ``rates["adhesion"][c, s] * F_adhesion``;
- platelets: the shield toggles (binding when s = 0, loss when s = 1).

Time-dependent hazard: death by anoikis
``rates["anoikis"][c, s] * F_anoikis * (beta/eta) * (a/eta)**(beta-1)``.

Entering a bed ``c`` (at entry too, if the entry compartment is a bed), the unit
is trapped at once with probability ``q + (1 - q) * (1 - (1 - cluster_cell_trap * q)**(k-1))``:
its leading cell is held with
``q = trap_max / (1 + exp(-(r - trap_ratio50 * trap_deformability[p]) / trap_width))``,
``r = d * trap_diameter_scale[k-1] / capillary_diameter_um[c]``, and a cluster unfolding into
single file behind it is held at each further cell with ``cluster_cell_trap`` times that cell's
own q (its cells are alike).  ``trap_tables`` gives the factors the core and the reference
compute q from, so both form the same numbers.

The circulating phase ends at the first of: a death, an arrest (trapped or
adhered, in ``organ[c]``), or the absolute time ``t_max_s`` (censored).

After arrest in bed ``c`` with shield ``s`` (DESIGN 2.4; the shield stays as it arrived):

- in the capillary: death ``rates["capillary_death"][c, s] * F_nk`` or extravasation
  ``rates["extravasation"][c, s] * F_extravasation`` (nothing kills a unit at the instant of
  arrest: organ preference acts through the soil factors in these rates, DESIGN 2.4); platelets
  binding (``capillary_platelets``); release ``rates["release"][c, s]``: the unit leaves ``c`` by
  flow as after its last stage (trapped on entering a bed), and circulates on with its shield
  and age (which ran on while it was arrested: the Weibull hazard is in the age since entry, and
  does not act in the capillary).  The unit's fate is that of its last circulation;
- extravasated: a unit of k cells is k founders, each dormant with probability
  ``dormancy_prob[c]``; the j ~ Binomial(k, 1 - dormancy_prob) that are not start the colony
  (n = j); j = 0: the unit is dormant (with its k cells);
- dormant: dies (``dormant_death``) or wakes (``wake``, to proliferating with n = k);
- proliferating: a birth-death colony of n cells, per cell
  ``cell_death`` and ``division`` (times F_proliferation), exact until n = 0
  (colony_extinct) or n = ``micro_cells`` (micrometastasis);
- micrometastasis: regresses (``regression``), or grows to ``macro_cells`` after the
  time the large-colony approximation gives (reference.py, ``grow_time``).
Whatever state holds at ``t_max_s`` is the post-arrest outcome (censored there).

An arm whose multipliers start at ``switch_s`` is two CompiledModels: the unit
follows the first until absolute time ``switch_s`` and the second after it
(exact: hazards are piecewise constant in time, the clock restarts at the switch).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import hazards as H
from .hazards import ARREST_MODES, EVENTS, FATES, PHENOTYPES, POST_ARREST  # noqa: F401  (the codes' home is hazards)


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledModel:
    """Flat arrays for one arm of a scenario (see the module docstring)."""

    compartment_names: tuple[str, ...]
    organ_names: tuple[str, ...]
    is_bed: np.ndarray               # int8[C]
    organ: np.ndarray                # int32[C], -1 for pools
    n_stages: np.ndarray             # int32[C]
    capillary_diameter_um: np.ndarray  # float64[C], nan for pools
    edge_ptr: np.ndarray             # int64[C + 1]
    edge_to: np.ndarray              # int32[E]
    edge_cum: np.ndarray             # float64[E], last of each compartment is 1.0
    rates: dict                      # hazard name -> float64[C, 2]; post-arrest ones default to 0
    anoikis_eta_s: float
    anoikis_beta: float
    trap_max: float
    trap_ratio50: float
    trap_width: float
    entry_compartment: np.ndarray    # int32[n]
    entry_cum: np.ndarray            # float64[n]
    cluster_cum: np.ndarray          # float64[K]
    phenotype_cum: np.ndarray        # float64[<= 3]
    diameter_median_um: float
    diameter_sigma_log: float
    entry_time_grid_s: np.ndarray    # float64[M]
    cluster_factor: np.ndarray       # float64[len(FACTORS), K]
    phenotype_factor: np.ndarray     # float64[len(FACTORS), 3]
    trap_diameter_scale: np.ndarray  # float64[K]
    t_max_s: float
    dormancy_prob: np.ndarray | None = None        # float64[C], per founder cell; default 0
    micro_cells: int = 16
    macro_cells: float = 1e6
    trap_deformability: np.ndarray | None = None   # float64[3], factors of trap_ratio50; default 1
    cluster_cell_trap: float = 0.0

    def __post_init__(self):
        n = self.n_compartments
        rates = {}
        for h in H.HAZARDS:
            if h.name not in self.rates and h.phase == "circulating":
                raise ValueError(f"rates: missing the circulating hazard {h.name!r}")
            r = np.asarray(self.rates.get(h.name, np.zeros((n, 2))), dtype=float)
            if r.shape != (n, 2):
                raise ValueError(f"rates[{h.name!r}]: expected shape ({n}, 2), got {r.shape}")
            rates[h.name] = r
        unknown = set(self.rates) - set(rates)
        if unknown:
            raise ValueError(f"rates: unknown hazards {sorted(unknown)}; hazards: {', '.join(rates)}")
        object.__setattr__(self, "rates", rates)
        if self.dormancy_prob is None:  # a model built by hand for the circulating phase alone
            object.__setattr__(self, "dormancy_prob", np.zeros(n))
        if self.trap_deformability is None:
            object.__setattr__(self, "trap_deformability", np.ones(3))
        if np.shape(self.trap_deformability) != (3,):
            raise ValueError(f"trap_deformability: expected 3 factors (phenotypes {PHENOTYPES}), "
                             f"got shape {np.shape(self.trap_deformability)}")
        for name, shape in (("cluster_factor", (len(H.FACTORS), len(self.cluster_cum))),
                            ("phenotype_factor", (len(H.FACTORS), 3))):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name}: expected shape {shape} (factor groups {H.FACTORS}), "
                                 f"got {np.shape(getattr(self, name))}")

    @property
    def n_compartments(self) -> int:
        return len(self.compartment_names)

    def rate_table(self) -> np.ndarray:
        """Every hazard's rates stacked in HAZARDS order: float64[N_HAZARDS, C, 2] (what the core reads)."""
        return np.stack([self.rates[h.name] for h in H.HAZARDS])

    @staticmethod
    def circulating_channels() -> list[int]:
        """Rows of rate_table() that are the circulating phase's constant channels, in draw order."""
        return [H.index(h.name) for h in H.in_phase("circulating")]

    def with_rates(self, **rates) -> "CompiledModel":
        """This model with some hazards' rate tables replaced."""
        return dataclasses.replace(self, rates={**self.rates, **rates})

    def unit_factors(self, k: int, p: int) -> np.ndarray:
        """F_h of a unit of cluster size k and phenotype p, for every hazard in HAZARDS order."""
        g = self.cluster_factor[:, k - 1] * self.phenotype_factor[:, p]
        return np.array([g[H.FACTORS.index(h.factor)] if h.factor else 1.0 for h in H.HAZARDS])

    def trap_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(slope [K, C], offset [3]): the leading cell of a unit (k, p) of diameter d is held in
        bed c with ``q = trap_max / (1 + exp(offset[p] - d * slope[k-1, c]))``; slope is 0 in pools
        (nothing is trapped there)."""
        cap = np.where(self.is_bed == 1, self.capillary_diameter_um, np.inf)
        slope = np.outer(self.trap_diameter_scale, 1.0 / (cap * self.trap_width))
        offset = self.trap_ratio50 * np.asarray(self.trap_deformability, dtype=float) / self.trap_width
        return slope, offset

    def successors(self, c: int) -> list[tuple[int, float]]:
        """(target, fraction) pairs of the edges out of compartment ``c``."""
        lo, hi = int(self.edge_ptr[c]), int(self.edge_ptr[c + 1])
        cum = np.concatenate([[0.0], self.edge_cum[lo:hi]])
        return [(int(self.edge_to[e]), float(cum[e - lo + 1] - cum[e - lo])) for e in range(lo, hi)]
