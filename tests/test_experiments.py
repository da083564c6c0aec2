"""The built-in mouse scenarios reproduce the published experiments they were calibrated to.

Each published figure is a rounded fraction without a standard error ("about 80 %"), so the
acceptance interval is its rounding interval (ctcsim/experiments.py). The simulation's own
standard error must be small beside that interval for the test to mean anything: with
N = 10^6 units the widest relative SE is that of the macrometastasis fraction (about 200
units: 7 %), against an interval of +-25 %, i.e. 3.5 standard errors.
"""
import csv
from importlib import resources

import pytest

from ctcsim import experiments
from ctcsim import scenario as sc
from ctcsim.runner import simulate

N = 1_000_000


@pytest.mark.parametrize("name", sorted({t.scenario for t in experiments.TARGETS}))
def test_mouse_experiment_lands_in_published_interval(name):
    fates = simulate(sc.load(name), N, seed=20261127).fates
    measured = experiments.measure(fates, name)
    for t in (t for t in experiments.TARGETS if t.scenario == name):
        assert t.low <= measured[t.name] <= t.high, (
            f"{name}: {t.name} = {measured[t.name]:.4g}, published {t.published} ({t.source})")


def test_every_target_is_the_figure_of_its_row_in_the_shipped_reference_table():
    """A target's published fraction is the cumulative fraction of its row (by stage) in
    ctcsim/data/reference/metastatic_inefficiency.csv, read as ctcsim installs it ("~0.01" is 0.01)."""
    table = resources.files("ctcsim") / experiments.REFERENCE.removeprefix("ctcsim/")
    rows = {r["stage"]: r for r in csv.DictReader(table.read_text(encoding="utf-8").splitlines())}
    for t in experiments.TARGETS:
        assert t.stage in rows, (t.name, t.stage)
        assert float(rows[t.stage]["cumulative_fraction_of_injected"].lstrip("~")) == t.published, t.name
