"""ctcsim.stats: Wilson intervals, paired and independent differences, Pearson with pooling.

Deterministic checks against closed forms and scipy are to rounding (1e-12).  The one
statistical test (null calibration of ``pearson``) has a false-alarm rate of 1e-3.
"""
import math

import numpy as np
import pytest
from scipy import stats as sps

from ctcsim import stats

ALPHA = 1e-3


def test_wilson_textbook_value_and_exact_ends():
    lo, hi = stats.wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    z2 = stats.Z95**2
    for n in (1, 3, 7, 10, 1000, 10**6, 10**9):
        lo, hi = stats.wilson(0, n)
        assert lo == 0.0 and hi == pytest.approx(z2 / (n + z2), rel=1e-12)  # closed form at k = 0
        lo, hi = stats.wilson(n, n)
        assert hi == 1.0 and lo == pytest.approx(n / (n + z2), rel=1e-12)
    for k, n in ((1, 3), (17, 1000), (999, 1000)):  # symmetric in k <-> n - k
        lo, hi = stats.wilson(k, n)
        lo2, hi2 = stats.wilson(n - k, n)
        assert lo == pytest.approx(1 - hi2, abs=1e-15) and hi == pytest.approx(1 - lo2, abs=1e-15)
    assert all(math.isnan(x) for x in stats.wilson(0, 0))
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.wilson(11, 10)


def test_paired_difference_equals_the_sample_formula():
    rng = np.random.default_rng(1)
    d = rng.integers(-1, 2, size=500).astype(float)
    mean, lo, hi = stats.paired_difference(d.sum(), (d * d).sum(), len(d))
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert mean == pytest.approx(d.mean(), abs=1e-15)
    assert (lo, hi) == pytest.approx((d.mean() - stats.Z95 * se, d.mean() + stats.Z95 * se), abs=1e-12)
    zero = stats.paired_difference(0.0, 0.0, 100)
    assert [float(x) for x in zero] == [0.0, 0.0, 0.0]
    one = stats.paired_difference(1.0, 1.0, 1)  # one unit: a difference, no interval
    assert one[0] == 1.0 and math.isnan(one[1]) and math.isnan(one[2])
    many = stats.paired_difference([d.sum(), 0.0], [(d * d).sum(), 0.0], len(d))  # elementwise
    assert many[1][0] == pytest.approx(lo, abs=1e-15) and many[2][1] == 0.0


def test_independent_halfwidth():
    assert stats.independent_halfwidth(0.3, 0.5, 100, 400) == pytest.approx(
        stats.Z95 * math.sqrt(0.21 / 100 + 0.25 / 400), rel=1e-15)


def test_pearson_equals_scipy_without_pooling_and_pools_small_cells():
    counts, probs = np.array([48, 30, 22]), np.array([0.5, 0.3, 0.2])
    r = stats.pearson(counts, probs)
    ref = sps.chisquare(counts, probs * 100)
    assert (r.statistic, r.pvalue, r.df, r.cells, r.impossible) == pytest.approx(
        (ref.statistic, ref.pvalue, 2, 3, 0), rel=1e-12)
    # Expected 2 and 1 (n = 100): pooled into one cell of 3, observed 5.
    counts, probs = np.array([60, 35, 4, 1]), np.array([0.6, 0.37, 0.02, 0.01])
    ref = sps.chisquare([60, 35, 5], [60, 37, 3])
    r = stats.pearson(counts, probs)
    assert (r.statistic, r.pvalue, r.cells) == pytest.approx((ref.statistic, ref.pvalue, 3), rel=1e-12)
    # Probabilities that miss 1 by rounding are scaled to the count.
    assert stats.pearson([48, 30, 22], [0.5, 0.3, 0.2 + 1e-12]).pvalue == pytest.approx(
        stats.pearson([48, 30, 22], [0.5, 0.3, 0.2]).pvalue, rel=1e-9)


def test_pearson_rows_have_their_own_sizes_and_degrees_of_freedom():
    counts = np.array([[48, 30, 22], [5, 3, 2], [0, 0, 0]])
    probs = np.array([[0.5, 0.3, 0.2], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])
    r = stats.pearson(counts, probs)
    # Row 2 (n = 10): expected 6, 2, 2 -> cells 6 and the pool 4; the empty row adds nothing.
    hand = sum((o - e) ** 2 / e for o, e in zip([48, 30, 22, 5, 5], [50, 30, 20, 6, 4]))
    assert r.statistic == pytest.approx(hand, rel=1e-12) and r.df == 2 + 1 and r.cells == 5
    assert r.pvalue == pytest.approx(sps.chi2.sf(hand, 3), rel=1e-12)
    assert stats.pearson(counts, probs, ddof=1).df == 2


def test_observations_of_an_impossible_outcome_are_a_disagreement():
    """The defect `ctcsim verify` had: a probability-0 cell was dropped with its observations,
    so 40 units in it read "agrees, p = 1.0".  Now they give p = 0, pooled or not, and even
    one unit does."""
    probs = np.array([0.6, 0.4, 0.0])
    r = stats.pearson([600, 400, 40], probs)
    assert r.pvalue == 0.0 and r.impossible == 40
    assert stats.pearson([600, 399, 1], probs).pvalue == 0.0
    # Pooled with small cells whose total (4.9) would hide it:
    probs = np.array([0.6, 0.3951, 0.0049, 0.0])
    assert stats.pearson([600, 395, 4, 1], probs).pvalue == 0.0
    assert stats.pearson([600, 395, 5, 0], probs).pvalue > 0.5  # no unit there: a fine fit
    assert stats.pearson([600, 400, 0], [0.6, 0.4, -1e-17]).impossible == 0  # rounding below 0
    assert stats.pearson([1000], [1.0]).pvalue == 1.0  # one cell: nothing to test
    with pytest.raises(ValueError, match="shape"):
        stats.pearson([1, 2], [1.0])


def test_pearson_p_values_are_uniform_under_the_null():
    """2000 multinomial samples (n = 2000, six cells, two pooled) from the probabilities
    tested: the fraction with p < 0.1 is binomial(2000, 0.1) if df and pooling are right
    (df one too many or too few moves it to ~0.05 or ~0.17: far outside)."""
    probs = np.array([0.4, 0.3, 0.2, 0.097, 0.002, 0.001])  # the last two expected 4 and 2
    rng = np.random.default_rng(7)
    ps = np.array([stats.pearson(c, probs).pvalue for c in rng.multinomial(2000, probs, size=2000)])
    hits = int((ps < 0.1).sum())
    assert sps.binomtest(hits, len(ps), 0.1).pvalue > ALPHA, hits
