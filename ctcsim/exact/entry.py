"""The entry distribution as quadrature nodes: cluster size k, phenotype p, diameter d.

The entry draws fix a unit's generator, so the exact solver gives every (k, p, d) node its
own generator block.  Cluster size and phenotype are finite; the log-normal diameter only
matters through the trap probabilities, and is integrated by Gauss-Hermite quadrature.
"""
from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit

from ..model import CompiledModel

# Gauss-Hermite: double the nodes n until E[trap probability] moves by less than the
# tolerance; the move estimates the n-node error (the rule converges exponentially, so the
# 2n-node one is far better).  At the default tolerance GH_TOL the 2n nodes are used, far
# beyond it; a caller asking for a looser tolerance gets the n nodes, within it, and half
# the states.  Outcomes are smooth functions of the trap probabilities with the same complex
# singularities in z (the logistic's poles), so they converge at the same rate.
GH_TOL, GH_MAX = 1e-10, 256  # numpy's hermegauss overflows beyond 256 nodes


def trap_probability(model: CompiledModel, k: int, p: int, d: np.ndarray) -> np.ndarray:
    """P(trapped on entering c) of a unit (k, p) for diameters d: shape d.shape + (C,), 0 in pools
    (model.py: the leading cell by size and deformability, then the chain behind it)."""
    slope, offset = model.trap_tables()
    q = model.trap_max * expit(np.multiply.outer(d, slope[k - 1]) - offset[p])
    q = q + (1.0 - q) * (1.0 - (1.0 - model.cluster_cell_trap * q) ** (k - 1))
    return np.where(model.is_bed == 1, q, 0.0)


def _diameter_nodes(models, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights (summing to 1) for the standard normal of the diameter, converged
    for the trap probabilities of every model (the two pieces of a delayed arm share them)."""
    m = models[0]
    if m.diameter_sigma_log == 0 or not m.is_bed.any() or all(x.trap_max == 0 for x in models):
        return np.zeros(1), np.ones(1)  # the diameter only matters through trapping
    kinds = [(k, p) for k in range(1, len(m.cluster_cum) + 1) for p in range(len(m.phenotype_cum))]
    last = None
    for n in (16, 32, 64, 128, GH_MAX):
        z, w = hermegauss(n)
        d = m.diameter_median_um * np.exp(m.diameter_sigma_log * z)
        mean_q = np.array([w @ trap_probability(x, k, p, d) for x in models for k, p in kinds]) / math.sqrt(2 * math.pi)
        if last is not None and np.abs(mean_q - last[0]).max() < max(tol, GH_TOL):
            if tol > GH_TOL:
                z, w = last[1:]
            break
        last = mean_q, z, w
    else:
        warnings.warn(f"diameter quadrature not converged at {GH_MAX} nodes (trap_width too sharp?)")
    return z, w / math.sqrt(2 * math.pi)


@dataclasses.dataclass(frozen=True)
class EntryNodes:
    """The (k, p, d) nodes of the entry distribution with weight > 0, as arrays [B]."""
    k: np.ndarray
    p: np.ndarray
    d: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, models, tol: float = GH_TOL) -> "EntryNodes":
        """The nodes of models[0]'s entry distribution (all models share it), with the
        diameter quadrature converged to ``tol`` for each model's trapping."""
        m = models[0]
        z, wz = _diameter_nodes(models, tol)
        wk, wp = np.diff(m.cluster_cum, prepend=0.0), np.diff(m.phenotype_cum, prepend=0.0)
        k, p, zi = (x.ravel() for x in np.meshgrid(np.arange(1, len(wk) + 1), np.arange(len(wp)),
                                                 np.arange(len(z)), indexing="ij"))
        weight = wk[k - 1] * wp[p] * wz[zi]
        live = weight > 0
        d = m.diameter_median_um * np.exp(m.diameter_sigma_log * z[zi])
        return cls(k[live], p[live], d[live], weight[live])

    def __len__(self) -> int:
        return len(self.weight)

    def factors(self, model: CompiledModel) -> np.ndarray:
        """Each node's unit factor per factor group [B, len(hazards.FACTORS)] under ``model``."""
        return (model.cluster_factor[:, self.k - 1] * model.phenotype_factor[:, self.p]).T

    def traps(self, model: CompiledModel) -> np.ndarray:
        """Trap probabilities on entering each compartment [B, C] under ``model``."""
        out = np.empty((len(self), model.n_compartments))
        for k, p in set(zip(self.k.tolist(), self.p.tolist())):
            rows = (self.k == k) & (self.p == p)
            out[rows] = trap_probability(model, k, p, self.d[rows])
        return out
