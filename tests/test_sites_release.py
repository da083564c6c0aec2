"""Site frequencies with release from arrest (seed_soil's second path): the extravasations of
the circulation chain with the capillary in it, times the post-arrest chain started at the
extravasation.  Checked against the first path where both are exact, against simulation, and
through the tropism fit.

The chi-square test has a false-alarm rate of ALPHA = 1e-3 under a correct model (a fixed seed:
a given build passes or fails for ever)."""
import dataclasses
import math

import numpy as np
from conftest import FAST, RICH

from ctcsim import exact, seed_soil, stats
from ctcsim import scenario as sc
from ctcsim import tropism_fit as trf
from ctcsim.compile import compile_model
from ctcsim.runner import simulate

ALPHA = 1e-3
RELEASE = dict(k_release_per_s=0.05, p_release=0.5, k_on_capillary_per_s=0.02)
ORGANS = ["lung", "liver", "marrow"]


def rich(**biology):
    s = sc.loads(RICH)
    return dataclasses.replace(s, biology=dataclasses.replace(s.biology, **{**FAST, **biology}))


def neutral(s):
    return compile_model(seed_soil.neutral_scenario(s, {}, {}))


def test_release_off_both_paths_agree_where_the_first_is_exact(monkeypatch):
    """No platelets bind in the blood, so units arrive unshielded and the first path's stated
    approximation is exact: the second path (forced on, release 0) gives the same F_o to 1e-12."""
    m = neutral(rich(k_on_per_s=0.0))
    assert not seed_soil.releasing(m)
    first = seed_soil.site_weights(m, ORGANS)
    monkeypatch.setattr(seed_soil, "_releasing", lambda models: True)
    second = seed_soil.site_weights(m, ORGANS)
    assert first.min() > 1e-3
    np.testing.assert_allclose(second, first, rtol=1e-12, atol=0)


def test_release_off_keeps_todays_answer():
    """k_release 0 takes the first path: arrests by kind x P(macro | arrest), unshielded."""
    s = rich()
    m = neutral(s)
    arrests = exact.outcome_probabilities_by_kind(m)
    f = np.zeros(len(ORGANS))
    for kind, p in arrests.items():
        for (fate, organ, _), x in zip(exact.outcomes(m), p):
            if fate == "arrested":
                f[ORGANS.index(organ)] += x * exact.post_arrest_probabilities(
                    m, seed_soil.organ_bed(m, organ), 0, *kind)[seed_soil.MACRO]
    np.testing.assert_allclose(seed_soil.site_weights(m, ORGANS), f, rtol=1e-12, atol=0)


def test_extravasations_are_the_capillary_chains_extravasated_exits():
    m = neutral(rich(**RELEASE))
    by_kind = exact.extravasations_by_kind(m)
    p = exact.outcome_probabilities(m)
    for organ in ORGANS:
        beds = np.asarray(m.organ) == m.organ_names.index(organ)
        want = sum(x for o, x in zip(exact.arm_outcomes(m), p) if o[1] == organ and o[-1] == "extravasated")
        assert math.isclose(sum(a[beds].sum() for a in by_kind.values()), want, rel_tol=1e-10)
    assert sum(a[:, 1].sum() for a in by_kind.values()) > 0.01  # the shield at extravasation is carried


def test_released_units_make_metastases_where_the_exact_answer_says():
    """Simulation (release on, anoikis off, a horizon of 1e6 s: every unit's chain has ended long
    before, so the finite run is the horizon-inf answer) against P(macrometastasis in o) =
    F_o unnormalised, and the rest; one Pearson chi-square at ALPHA."""
    s = seed_soil.neutral_scenario(rich(**RELEASE), {}, {})
    expected = seed_soil.site_weights(compile_model(s), ORGANS)
    fates = simulate(dataclasses.replace(s, t_max_s=1e6), 20_000, seed=17).fates.to_pandas()
    assert fates.post_arrest.isin(["in_capillary", "dormant", "proliferating", "micrometastasis"]).sum() == 0
    assert (fates.releases > 0).mean() > 0.2  # release acts
    macro = fates[fates.post_arrest == "macrometastasis"]
    counts = [int((macro.organ == o).sum()) for o in ORGANS]
    counts.append(len(fates) - sum(counts))
    r = stats.pearson(np.array(counts), np.append(expected, 1 - expected.sum()))
    assert min(counts) > 100 and r.pvalue > ALPHA, (counts, expected, r)
    # Power: the answer that ignores release (the first path at k_release 0) is refused.
    ignored = seed_soil.site_weights(compile_model(dataclasses.replace(
        s, biology=dataclasses.replace(s.biology, k_release_per_s=0.0))), ORGANS)
    assert stats.pearson(np.array(counts), np.append(ignored, 1 - ignored.sum())).pvalue < ALPHA


def test_the_tropism_fit_works_with_release():
    """The fit inverts the prediction with release on: its table gives back the series (RICH's
    inline liver adhesion dropped: a scenario's inline factors override a table's)."""
    s = dataclasses.replace(rich(**RELEASE), adhesion={})
    shares = {"lung": 0.5, "liver": 0.3, "marrow": 0.2}
    table = trf.fit(shares, s)
    got = seed_soil.predicted_site_frequencies(s, table, organs=list(shares))
    np.testing.assert_allclose([got[o] for o in shares], list(shares.values()), rtol=1e-5)
