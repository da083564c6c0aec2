"""The large-colony approximation (reference.grow_time) against the exact birth-death process.

From a micrometastasis of n0 cells the core does not simulate divisions: it draws the limit
W of n(t) e^{-rt} (exact in law: a sum of n0 founders, each 0 with probability q = death/birth
or an exponential of mean birth/r, r = birth - death) and returns T = ln(macro/W)/r.

Error model (exact, by the strong Markov property at the hitting time T_hit of ``macro``):
the colony's limit is W = e^{-r T_hit} W_M, where W_M is the limit of a fresh colony of
``macro`` cells, independent of T_hit.  Hence, up to events of probability q^macro (a colony
that reaches macro and then dies out, or W = 0 after a hit),

    T = T_hit + eps,   eps = ln(macro / W_M) / r  independent of T_hit,

with E[eps] ~ (birth + death) / (2 r^2 macro) and sd(eps) ~ sqrt((birth + death)/(r macro)) / r:
the approximation ignores the O(1/sqrt(macro)) fluctuation of the colony around W e^{rt} at the
target, so its time is late by O(1/macro) on average and spread by O(1/sqrt(macro)).  The
probability of reaching macro is 1 - q^n0 against the exact 1 - (q^n0 - q^macro)/(1 - q^macro):
they differ by less than q^macro (1e-96 at 1000 cells).  For the default biology (q = 0.80, n0 = 16)
the KS distance between the two time distributions, computed from the exact finite chain, is
D(macro) ~ 3.6 / macro (0.087 at 50, 0.038 at 100, 0.018 at 200, 0.0035 at 1000).

The KS tests below compare N_SAMPLES exact (Gillespie) against N_SAMPLES approximate times at
a false-alarm rate of ALPHA = 1e-3; they resolve distances above 1.95 sqrt(2/N_SAMPLES) = 0.028.
So the approximation is measurably off below macro ~ 135 cells and agrees above it at this
resolution (asserted from the exact chain in test_agreement_size); at the default macro_cells
(1e6) D ~ 4e-6.  Seeds are fixed.
"""
import math

import numpy as np
import pytest
from scipy import special, stats

from ctcsim import exact
from ctcsim.reference import grow_time
from ctcsim.biology import Biology

ALPHA = 1e-3
N_SAMPLES = 10_000
BIRTH, DEATH, N0 = Biology().birth_per_s, Biology().death_per_s, Biology().micro_cells  # q = 0.80, 16 cells
KS_RESOLUTION = math.sqrt(-0.5 * math.log(ALPHA / 2)) * math.sqrt(2 / N_SAMPLES)  # asymptotic critical D


def exact_hitting_times(birth, death, n0, target, n, rng, block=128):
    """Exact (Gillespie) times for n birth-death colonies of n0 cells to reach ``target``
    cells (inf if they die out first), ``block`` events at a time per colony."""
    size = np.full(n, n0, dtype=np.int64)
    t, out, active = np.zeros(n), np.full(n, np.inf), np.arange(n)
    p_up = birth / (birth + death)
    while active.size:
        m = active.size
        steps = np.where(rng.random((m, block)) < p_up, 1, -1)
        path = size[active, None] + np.cumsum(steps, axis=1)  # size after each event
        before = np.maximum(path - steps, 1)                  # size before it (>= 1 up to the end)
        clock = t[active, None] + np.cumsum(rng.standard_exponential((m, block)) / ((birth + death) * before), axis=1)
        ends = (path >= target) | (path <= 0)
        first = np.where(ends.any(axis=1), ends.argmax(axis=1), block - 1)  # later events are discarded
        rows = np.arange(m)
        t[active], size[active] = clock[rows, first], path[rows, first]
        hit = size[active] >= target
        out[active[hit]] = t[active[hit]]
        active = active[(size[active] > 0) & ~hit]
    return out


class NumpyStream:
    """The two draws grow_time uses, from a numpy Generator."""

    def __init__(self, rng):
        self.rng = rng

    def uniform(self):
        return self.rng.random()

    def exponential(self):
        return self.rng.standard_exponential()


def approximate_times(birth, death, n0, target, n, rng):
    g = NumpyStream(rng)
    return np.array([grow_time(g, n0, birth, death, target) for _ in range(n)])


def both(target, seed):
    rng = np.random.default_rng(seed)
    return (exact_hitting_times(BIRTH, DEATH, N0, target, N_SAMPLES, rng),
            approximate_times(BIRTH, DEATH, N0, target, N_SAMPLES, rng))


def test_agrees_with_exact_process_at_1000_cells():
    """KS two-sample of the time to reach 1000 cells (given it is reached), and the probability
    of reaching it, exact against approximate.  The true distance, 0.0035, is 1/8 of the KS
    resolution, so the false-alarm rate stays ~ALPHA."""
    ex, ap = both(1000, seed=1)
    p_reach = 1 - (DEATH / BIRTH) ** N0
    assert exact.colony_extinction_probability(BIRTH, DEATH, N0, 1000) == pytest.approx(1 - p_reach, abs=1e-15)
    for name, x in (("exact", ex), ("approximation", ap)):
        pv = stats.binomtest(int(np.isfinite(x).sum()), len(x), p_reach).pvalue
        assert pv > ALPHA, f"{name}: P(reach 1000) binomial p = {pv:.2e}"
    pv = stats.ks_2samp(ex[np.isfinite(ex)], ap[np.isfinite(ap)]).pvalue
    assert pv > ALPHA, f"time to 1000 cells: KS p = {pv:.2e}"


def test_measurably_off_at_50_cells():
    """At 50 cells the approximation is late by E[eps] ~ 0.5/r and the KS distance is 0.087, three
    times the resolution: the same test rejects it, so it has the power the agreement above needs."""
    ex, ap = both(50, seed=2)
    pv = stats.ks_2samp(ex[np.isfinite(ex)], ap[np.isfinite(ap)]).pvalue
    assert pv < ALPHA, f"time to 50 cells: KS p = {pv:.2e}, expected a clear rejection"


def time_distributions(target, n_grid=1501):
    r = BIRTH - DEATH
    t = np.linspace(0.0, 1.5 * (math.log(target) + 12) / r, n_grid)
    # The exact chain, hitting target.  rtol 1e-7 gives CDF errors ~2e-8 (against rtol 1e-10):
    # 1/50000 of the narrowest margin asserted below (|D(macro) - KS_RESOLUTION| >= 1e-3 at 130
    # and 140 cells) and 1e-6 of the mean delays (checked to 1e-4 relative).
    hit = exact.time_to_micrometastasis_cdf(BIRTH, DEATH, N0, target, t, rtol=1e-7, atol=1e-9)
    approx = exact.grow_time_cdf(BIRTH, DEATH, N0, target, t) / (1 - (DEATH / BIRTH) ** N0)
    return t, hit, approx


def test_error_model_mean_delay():
    """mean(T) - mean(T_hit) = E[eps] = (ln macro - E[ln W_M]) / r, W_M | J = j ~ Gamma(j, birth/r),
    J ~ Binomial(macro, 1 - q) given J >= 1: the decomposition T = T_hit + eps holds."""
    r, q = BIRTH - DEATH, DEATH / BIRTH
    for target in (100, 200):
        t, hit, approx = time_distributions(target)
        j = np.arange(1, target + 1)
        w = stats.binom.pmf(j, target, 1 - q)
        e_eps = (math.log(target) - w @ (special.digamma(j) + math.log(BIRTH / r)) / w.sum()) / r
        delay = np.trapezoid(hit - approx, t)  # difference of the means (both CDFs reach 1 by t[-1])
        assert delay == pytest.approx(e_eps, rel=1e-4), target
        assert e_eps == pytest.approx((BIRTH + DEATH) / (2 * r**2 * target), rel=0.1)


def test_agreement_size():
    """The KS distance D(macro) between the exact and approximate time distributions, from the
    exact chain: above the test's resolution at 130 cells, below it from 140 on (D decreasing
    in macro as eps shrinks), i.e. the approximation agrees with the exact process at this
    resolution from ~135 cells."""
    distance = {m: np.abs(np.subtract(*time_distributions(m)[1:])).max() for m in (50, 130, 140, 200)}
    assert distance[50] > distance[130] > KS_RESOLUTION > distance[140] > distance[200]
    assert distance[200] * 200 == pytest.approx(3.6, abs=0.1)  # D ~ 3.6 / macro


def test_grow_time_matches_its_closed_form():
    """grow_time's samples against exact.grow_time_cdf, the closed form ctcsim.exact uses for the
    micrometastasis stage: KS on the finite times, binomial on the fraction that grows."""
    rng = np.random.default_rng(3)
    ap = approximate_times(BIRTH, DEATH, N0, 1e6, 20_000, rng)
    p_grow = 1 - (DEATH / BIRTH) ** N0
    assert stats.binomtest(int(np.isfinite(ap).sum()), len(ap), p_grow).pvalue > ALPHA
    pv = stats.kstest(ap[np.isfinite(ap)],
                      lambda t: exact.grow_time_cdf(BIRTH, DEATH, N0, 1e6, np.maximum(t, 0.0)) / p_grow).pvalue
    assert pv > ALPHA, f"KS p = {pv:.2e}"
