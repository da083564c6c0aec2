"""The core's statuses: a step budget per unit and a stop flag, turned into exceptions (DESIGN 3)."""
import dataclasses
import threading
import time

import numpy as np
import pytest
from conftest import RICH

from ctcsim import _core
from ctcsim import scenario as sc
from ctcsim.compile import compile_model
from ctcsim.errors import Cancelled, SimulationError, raise_for_status



def endless_model():
    """No hazard at all and no horizon to stop it: a unit circulates for as many steps as it may.
    (model_checks refuses such a model at compile time; the core's own guard is tested on it.)"""
    s = sc.loads(RICH)
    b = dataclasses.replace(s.biology, k_shear_per_s=0.0, k_nk_per_s=0.0, k_adh_per_s=0.0, anoikis_on=False,
                            trap_max=0.0)
    return dataclasses.replace(compile_model(dataclasses.replace(s, biology=b)), t_max_s=1e300)


def test_a_unit_over_its_step_budget_is_an_error_naming_the_unit():
    core = _core.CoreModel(endless_model(), max_steps=10_000)
    fates = _core.new_fate_buffers(5)
    nxt, _, status = _core.run_chunk(core, 1, 2, 3, 8, fates)
    assert (nxt, status) == (3, _core.ERR_STEP_BUDGET)
    with pytest.raises(SimulationError, match="unit 3: took more than the step budget of 10,000 steps"):
        raise_for_status(status, nxt, 10_000)


def test_request_stop_ends_a_long_unit_mid_chunk_within_a_second():
    """The flag is checked every 4096 steps (~0.1 ms): the stop must come long before the budget."""
    core = _core.CoreModel(endless_model())
    fates = _core.new_fate_buffers(2)
    timer = threading.Timer(0.3, _core.request_stop)
    t0 = time.monotonic()
    timer.start()
    try:
        nxt, _, status = _core.run_chunk(core, 1, 2, 0, 2, fates)
    finally:
        _core.clear_stop()
    assert (nxt, status) == (0, _core.CANCELLED)
    assert time.monotonic() - t0 < 1.3
    with pytest.raises(Cancelled):
        raise_for_status(status, nxt)


def test_ordinary_statuses_raise_nothing():
    raise_for_status(_core.DONE, 0)
    raise_for_status(_core.EVENTS_FULL, 0)
    assert np.isfinite(_core.DEFAULT_MAX_STEPS)
