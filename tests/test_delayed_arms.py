"""Arms whose multipliers start at a time (start_s > 0): every multiplier acts after the switch.

Issue 8, defect 1: both twins read the Weibull scale and shape from the pre-switch model, so
``anoikis_eta_s`` and ``anoikis_beta`` in a delayed arm changed nothing.  The exact solution
of delayed arms in general (the master equation in two pieces) is in tests/test_exact.py."""
import dataclasses
import math

import numpy as np
import pandas as pd
from conftest import FAST, RICH

from ctcsim import scenario as sc
from ctcsim import simulate
from ctcsim.biology import MULTIPLIABLE

ANOIKIS_ONLY = """
name = "anoikis only"
t_max_s = 200.0
anatomy.name = "one pool"
[[anatomy.compartments]]
name = "blood"
kind = "pool"
transit_s = 10.0
[[anatomy.edges]]
from = "blood"
to = "blood"
fraction = 1.0
[primary]
name = "test"
entry = { blood = 1.0 }
diameter_median_um = 10.0
[biology]
k_shear_per_s = 0.0
k_nk_per_s = 0.0
k_on_per_s = 0.0
anoikis_beta = 1.0
anoikis_eta_s = 1000.0
[[arms]]
name = "control"
[[arms]]
name = "faster anoikis"
start_s = 50.0
multipliers = { anoikis_eta_s = 0.1 }
"""


def test_a_delayed_anoikis_scale_acts_from_its_start():
    """Anoikis alone, constant (beta 1): hazard 1/1000 until 50 s, 1/100 after, so
    P(died by 200 s) = 1 - exp(-(50/1000 + 150/100)) = 0.7878 (control: 1 - exp(-0.2) = 0.181).
    z-test at a two-sided false-alarm rate of 1e-3 (|z| < 3.29) on 20,000 units per arm."""
    n = 20_000
    f = simulate(sc.loads(ANOIKIS_ONLY), n, seed=8).fates.to_pandas()
    for arm, hazard in (("control", 200 / 1000), ("faster anoikis", 50 / 1000 + 150 / 100)):
        p = 1 - math.exp(-hazard)
        got = (f[f.arm == arm].fate == "died_anoikis").mean()
        assert abs(got - p) < 3.29 * math.sqrt(p * (1 - p) / n), (arm, got, p)


def test_a_delayed_anoikis_shape_acts_from_its_start():
    """beta 1 -> 2 at 50 s: the cumulative hazard is 50/1000 + ((200/1000)^2 - (50/1000)^2), as the
    clock (a/eta)^beta restarts on the new shape at the switch with the threshold carried over."""
    n = 20_000
    text = ANOIKIS_ONLY.replace("multipliers = { anoikis_eta_s = 0.1 }", "multipliers = { anoikis_beta = 2.0 }")
    f = simulate(sc.loads(text), n, seed=9).fates.to_pandas()
    p = 1 - math.exp(-(50 / 1000 + (200 / 1000) ** 2 - (50 / 1000) ** 2))
    got = (f[f.arm == "faster anoikis"].fate == "died_anoikis").mean()
    assert abs(got - p) < 3.29 * math.sqrt(p * (1 - p) / n), (got, p)


def test_every_multipliable_parameter_changes_a_delayed_arm():
    """One arm per name of MULTIPLIABLE, x 0.5 from t = 60 s, on RICH with fast post-arrest rates;
    each must change some unit's fate row against the control (same units, same draws)."""
    s = sc.loads(RICH)
    s = dataclasses.replace(s, biology=dataclasses.replace(s.biology, **FAST))
    arms = [{"name": "control"}] + [{"name": name, "start_s": 60.0, "multipliers": {name: 0.5}}
                                    for name in MULTIPLIABLE]
    s = sc.from_dict({**s.to_dict(), "arms": arms})
    parts = {a: part.reset_index(drop=True) for a, part in
             simulate(s, 1500, seed=21).fates.to_pandas().groupby("arm", observed=True)}
    control = parts.pop("control").drop(columns="arm")
    unchanged = [a for a, part in parts.items() if _same(part.drop(columns="arm"), control)]
    assert not unchanged, f"multipliers that change nothing after their start: {unchanged}"


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                return False
        elif not (x.astype(str) == y.astype(str)).all():
            return False
    return True
