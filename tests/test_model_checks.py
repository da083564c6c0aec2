"""Compiled models the core cannot finish are refused before a unit is simulated (issue 8, defects 2, 3).

model_checks reasons over every reachable (compartment, shield) state of every kind of unit
(cluster size, phenotype) with its own factors, and checks every arm's model as the base one."""
import dataclasses
import math

import pytest
from conftest import RICH

from ctcsim import ScenarioError
from ctcsim import scenario as sc
from ctcsim.compile import compile_arm, compile_model


def only_anoikis(**biology):
    """RICH without a horizon, anoikis the only thing that ends circulation."""
    s = sc.loads(RICH)
    b = dataclasses.replace(s.biology, k_shear_per_s=0.0, k_nk_per_s=0.0, k_adh_per_s=0.0, trap_max=0.0,
                            **biology)
    return dataclasses.replace(s, t_max_s=math.inf, biology=b)


def test_a_model_where_anoikis_ends_every_unit_compiles():
    compile_model(only_anoikis())


def test_a_phenotype_that_anoikis_spares_circulates_forever_and_is_refused():
    """The rates are positive, but epithelial units (half of RICH's mix) have an anoikis factor 0."""
    s = only_anoikis(phenotype_factor={"anoikis": [0.0, 1.0, 1.0]})
    with pytest.raises(ScenarioError, match=r"t_max_s: units in veins of cluster size 1, epithelial, can circulate "
                                            r"forever"):
        compile_model(s)


def test_a_phenotype_factor_of_zero_is_fine_when_no_unit_has_that_phenotype():
    s = only_anoikis(phenotype_factor={"anoikis": [0.0, 1.0, 1.0]})
    d = s.to_dict()
    d["primary"]["phenotype_mix"] = [0.0, 0.5, 0.5]
    compile_model(sc.from_dict(d))


def test_a_shield_that_stops_anoikis_and_is_never_lost_is_refused():
    """p_anoikis = 1 and k_off = 0: a unit that gains platelets can never end."""
    s = only_anoikis(p_anoikis=1.0, k_off_per_s=0.0)
    with pytest.raises(ScenarioError, match=r"t_max_s: units in \w+ \(shielded\) .* can circulate forever"):
        compile_model(s)


def test_an_arm_that_removes_the_last_hazard_is_refused_naming_the_arm():
    s = only_anoikis()
    d = s.to_dict()
    d["arms"] = [{"name": "control"}, {"name": "no anoikis", "start_s": 10.0,
                                       "multipliers": {"p_anoikis": 1.0, "k_off_per_s": 0.0}}]
    d["biology"]["p_anoikis"] = 1.0
    with pytest.raises(ScenarioError, match=r"t_max_s: arms\[1\]: units in .* \(shielded\)"):
        compile_arm(sc.from_dict(d), "no anoikis")


def test_rates_the_core_cannot_use_are_refused_after_multipliers():
    """A multiplier that pushes p_nk above 1 makes the shielded NK rate negative."""
    s = sc.loads(RICH)
    bad = dataclasses.replace(s, arms=[sc.Arm(name="x", multipliers={"p_nk": 3.0})])
    with pytest.raises(ScenarioError, match=r"arms\[0\]|p_nk"):
        compile_model(bad, "x")


def test_units_that_nothing_ends_are_refused_when_t_max_would_exhaust_the_step_budget():
    """No hazard and t_max 1e12 s: ~1e12 steps per unit (the core's budget is 1e9), refused at
    compile time instead of failing the run after minutes; t_max 1e6 s (1e6 steps) runs."""
    s = only_anoikis(anoikis_on=False)
    with pytest.raises(ScenarioError, match=r"t_max_s: units in .* circulate until t_max_s with nothing to end "
                                            r"them there, up to .* steps each, beyond the core's budget"):
        compile_model(dataclasses.replace(s, t_max_s=1e12))
    compile_model(dataclasses.replace(s, t_max_s=1e6))


def released(**biology):
    """RICH without a horizon or deaths: units are trapped, and nothing acts after arrest but release."""
    s = sc.loads(RICH)
    b = dataclasses.replace(s.biology, **{**dict(k_shear_per_s=0.0, k_nk_per_s=0.0, anoikis_on=False,
                                                 k_cap_nk_per_s=0.0, k_extravasation_per_s=0.0, k_release_per_s=0.1),
                                          **biology})
    return dataclasses.replace(s, t_max_s=math.inf, biology=b)


def test_release_that_returns_every_arrest_to_the_blood_is_refused():
    """Arrest is no longer absorbing: released, a unit arrests and is released for ever."""
    with pytest.raises(ScenarioError, match=r"t_max_s: units in veins of cluster size 1, epithelial, can circulate "
                                            r"forever: no death, arrest that holds"):
        compile_model(released())


def test_an_arrest_that_holds_or_ends_in_the_capillary_ends_the_cycle():
    compile_model(released(k_release_per_s=0.0))            # release off: arrest is absorbing, as before
    compile_model(released(k_cap_nk_per_s=1e-3))            # arrested units can die there
    # Platelets bind arrested units and stop their release altogether: every arrest ends held.
    compile_model(released(k_on_capillary_per_s=0.01, p_release=1.0))


def test_a_shield_that_only_stops_release_when_never_gained_is_refused():
    """p_release = 1 without platelets binding in the capillary or in the blood: nothing holds."""
    with pytest.raises(ScenarioError, match=r"can circulate forever"):
        compile_model(released(p_release=1.0, k_on_per_s=0.0))
