"""The one table (ctcsim/hazards.py) and everything that derives from it agree.

The core's codes and channel tables are generated from the table at build time; these tests
check that the build is the table's, that every hazard has a rate, and that the codes the
core writes mean the labels the Parquet columns carry (each unit's events tell the same
story as its fate row)."""
import collections
import dataclasses

import numpy as np
import pytest
from conftest import FAST, RICH

from ctcsim import _core, compile, hazards
from ctcsim import scenario as sc
from ctcsim import simulate


def test_the_table_is_consistent():
    hazards.check_table()


def test_the_core_was_built_from_this_table():
    """A stale build (the table changed, the core did not) would misread every rate table."""
    expected = dict(n_hazards=len(hazards.HAZARDS), n_factors=len(hazards.FACTORS),
                    n_circ=len(hazards.in_phase("circulating")),
                    fate_arrested=hazards.FATES.index("arrested"),
                    ev_macrometastasis=hazards.EVENTS.index("macrometastasis"),
                    pa_macrometastasis=hazards.POST_ARREST.index("macrometastasis"),
                    h_division=hazards.index("division"), cancelled=hazards.STATUSES["cancelled"])
    assert _core.CODES == expected
    assert _core.CANCELLED == hazards.STATUSES["cancelled"]
    assert _core.ERR_STEP_BUDGET == hazards.STATUSES["err_step_budget"]


def test_every_hazard_has_exactly_one_rate_function():
    assert set(compile.RATES) == {h.name for h in hazards.HAZARDS}


def test_every_biology_field_a_hazard_names_exists():
    fields = {f.name for f in dataclasses.fields(sc.Biology)}
    for h in hazards.HAZARDS:
        assert h.shield is None or h.shield in fields, h
    for name in sc.Biology().cluster_exponent:
        assert name in hazards.FACTORS


@pytest.fixture(scope="module")
def story():
    """RICH with fast post-arrest rates, observed to 400 s and to 40 s, and with release from
    arrest (units arrest, are released and arrest or die again): between them every fate and
    every post-arrest outcome occurs in 3000 units."""
    s = sc.loads(RICH)
    s = dataclasses.replace(s, biology=dataclasses.replace(s.biology, **FAST))
    release = dataclasses.replace(s, biology=dataclasses.replace(s.biology, k_release_per_s=0.05,
                                                                 k_on_capillary_per_s=0.02, p_release=0.5))
    out = []
    for scenario, t_max in ((s, 400.0), (s, 40.0), (release, 400.0)):
        r = simulate(dataclasses.replace(scenario, t_max_s=t_max), 3000, seed=77, events=True)
        out.append((r.fates.to_pandas(), r.events.to_pandas(), t_max))
    assert (out[2][0].releases > 1).any() and (out[2][0][out[2][0].releases > 0].fate != "arrested").any()
    return out


def test_fate_labels_agree_with_the_event_that_ended_the_circulation(story):
    seen = collections.Counter()
    for fates, events, _ in story:
        seen.update(_check_fates(fates, events.groupby("unit_id")["event"].apply(list)))
    assert set(seen) == set(hazards.FATES)


def _since_release(log):
    """The events after the unit's last release (each release is followed by a move out of the bed)."""
    last = max((i for i, e in enumerate(log) if e == "released"), default=-1)
    assert last == -1 or log[last + 1] == "move"
    return log[last + 1:]


def _check_fates(fates, by_unit):
    """The fate row describes the unit's end: the event that ended its last circulation."""
    seen = collections.Counter()
    for row in fates.itertuples():
        log = by_unit[row.unit_id]
        assert log.count("released") == row.releases
        end = next(e for e in _since_release(log) if e in {"died_shear", "died_nk", "died_anoikis", "censored",
                                                          "trapped", "adhered"})
        if row.fate == "arrested":
            assert end == row.arrest_mode and isinstance(row.organ, str)
        else:
            assert end == row.fate and row.arrest_mode == "none" and row.post_arrest == "none"
        seen[row.fate] += 1
    return seen


def test_post_arrest_labels_agree_with_the_events_after_arrest(story):
    seen = collections.Counter()
    for fates, events, t_max in story:
        seen.update(_check_post_arrest(fates, events.groupby("unit_id")["event"].apply(list), t_max))
    assert set(seen) == set(hazards.POST_ARREST) - {"none"}


def _check_post_arrest(fates, by_unit, t_max):
    seen = collections.Counter()
    for row in fates[fates.fate == "arrested"].itertuples():
        log = _since_release(by_unit[row.unit_id])  # the post-arrest columns are its last arrest's
        if row.post_arrest in hazards.FINAL:
            assert log[-1] == row.post_arrest and row.post_arrest_time_s <= t_max
        else:
            assert row.post_arrest_time_s == t_max  # censored at t_max in that state
        assert ("extravasated" in log) == (not np.isnan(row.extravasation_time_s))
        assert ("micrometastasis" in log) == (not np.isnan(row.micrometastasis_time_s))
        seen[row.post_arrest] += 1
    return seen
