"""Release from arrest (issue 11): arrested units go back into the blood, circulate on, and
arrest or die again; simulated against the master equation with the capillary in the chain.

Each chi-square test has a false-alarm rate of ALPHA = 1e-3 under a correct simulator (fixed
seeds: a given build passes or fails for ever); the exact side is asked for the accuracy N units
resolve (``verification.solver_tolerances``).  The outcomes are (fate, organ, mode, exit): the
unit's end, and how its last arrest ended (``exact.capillary``)."""
import dataclasses
import math

import numpy as np
import pytest
from conftest import FAST, RICH

from ctcsim import _core, exact, stats, verification
from ctcsim import scenario as sc
from ctcsim.compile import compile_arm, compile_model
from ctcsim.exact import circulation
from ctcsim.runner import simulate
from ctcsim.verification import solver_tolerances

ALPHA = 1e-3
N = 20_000  # the scenarios below release ~40 % of units; their cells hold >= 5 expected units or are pooled
TOL = dict(zip(("rtol", "atol"), solver_tolerances(N)))
RELEASE = dict(k_release_per_s=0.05, p_release=0.5, k_on_capillary_per_s=0.02)


def released(**biology):
    """RICH with fast post-arrest rates and release; one diameter (9 entry nodes, not 288: the
    forward equation of the time-dependent cases takes 0.3 s instead of 6 s)."""
    s = sc.loads(RICH)
    s = dataclasses.replace(s, biology=dataclasses.replace(s.biology, **{**FAST, **RELEASE, **biology}))
    return dataclasses.replace(s, primary=dataclasses.replace(s.resolved_primary(), diameter_sigma_log=0.0))


def scenarios():
    rich = sc.loads(RICH)
    constant = dataclasses.replace(rich, t_max_s=math.inf, biology=dataclasses.replace(
        rich.biology, **FAST, **RELEASE, anoikis_on=False))
    return {
        "release, Weibull anoikis, t_max 400 s (forward equation)": (released(), None),
        "release, constant hazards, no horizon, diameters (linear solve)": (constant, None),
        "release, delayed arm from 60 s (release x3, NK x3, anoikis), early anoikis, soil": (
            sc.from_dict({**released(anoikis_beta=0.6).to_dict(), "soil": {"liver": {"compatibility": 0.4}},
                          "arms": [{"name": "late", "start_s": 60.0, "multipliers": {
                              "k_release_per_s": 3.0, "k_nk_per_s": 3.0, "anoikis_eta_s": 0.5}}]}), "late"),
    }


NAMES = list(scenarios())


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_released_units_agree_with_the_master_equation(name):
    s, arm = scenarios()[name]
    before, after, switch_s = compile_arm(s, arm or s.arm_names()[0])
    probs = exact.outcome_probabilities(before, after=after, switch_s=switch_s, **TOL)
    known = exact.arm_outcomes(before, after, switch_s)
    assert known == exact.outcomes(before, True)
    assert len(probs) == len(known)
    fates = simulate(s, N, seed=41 + NAMES.index(name), arms=[arm] if arm else None).fates
    keys, counts = verification.outcome_counts(fates, known)
    assert keys == known, f"outcomes exact does not know: {keys[len(known):]}"
    r = stats.pearson(counts, probs)
    assert r.pvalue > ALPHA, f"{name}: {r}"
    if after is not None:  # and the arm is simulated as an arm: its control's answer is refused
        assert stats.pearson(counts, exact.outcome_probabilities(before, **TOL)).pvalue < ALPHA
    # The test has power only if release acts: units released, some more than once, some dying after it.
    f = fates.to_pandas()
    assert (f.releases > 0).mean() > 0.2 and (f.releases > 1).any()
    assert (f[f.releases > 0].fate != "arrested").mean() > 0.05


def test_the_capillary_states_without_release_give_todays_arrests(monkeypatch):
    """Exact against exact: the chain with the capillary states but release off, summed over how
    each arrest ends, is the chain where arrest absorbs (to the solver's accuracy)."""
    m = compile_model(released(k_release_per_s=0.0))
    today = exact.outcome_probabilities(m, rtol=1e-8, atol=1e-10)
    monkeypatch.setattr(circulation, "releasing", lambda models: True)
    split = exact.outcome_probabilities(m, rtol=1e-8, atol=1e-10)
    summed = {}
    for o, p in zip(exact.outcomes(m, True), split):
        summed[o[:3]] = summed.get(o[:3], 0.0) + p
    assert np.allclose([summed[o] for o in exact.outcomes(m)], today, rtol=1e-6, atol=1e-9)


def test_release_off_keeps_the_outcomes_and_the_draws():
    """k_release 0: exact outcomes are today's triples, and the core writes no release."""
    m = compile_model(released(k_release_per_s=0.0))
    assert len(exact.outcomes(m)[0]) == 3 and len(exact.outcome_probabilities(m, rtol=1e-6, atol=1e-8)) == \
        len(exact.outcomes(m))
    f = simulate(released(k_release_per_s=0.0), 500, seed=3, events=True)
    assert set(f.fates.column("releases").to_pylist()) == {0}
    assert "released" not in set(f.events.column("event").to_pylist())


def test_the_step_budget_covers_every_arrest_of_a_unit():
    """Nothing ends a unit (it is trapped, released, trapped again): the budget stops it, though
    no single circulation or arrest comes near it."""
    s = released(k_shear_per_s=0.0, k_nk_per_s=0.0, anoikis_on=False, k_cap_nk_per_s=0.0,
                 k_extravasation_per_s=0.0, k_on_capillary_per_s=0.0, k_release_per_s=1.0, trap_max=1.0,
                 trap_width=1e-3, trap_ratio50=0.5)  # 8 um units: sure to be trapped in lung and liver
    m = dataclasses.replace(compile_model(dataclasses.replace(s, t_max_s=1e3)), t_max_s=1e300)
    core = _core.CoreModel(m, max_steps=10_000)
    fates = _core.new_fate_buffers(2)
    assert _core.run_chunk(core, 1, 2, 0, 2, fates)[2] == _core.ERR_STEP_BUDGET


def test_exact_refuses_what_it_does_not_solve_with_release():
    m = compile_model(released())
    with pytest.raises(ValueError, match="absorption_cdf: not solved with release"):
        exact.absorption_cdf(m, [1.0])
    no_horizon = compile_model(dataclasses.replace(released(), t_max_s=math.inf))
    with pytest.raises(ValueError, match="release from arrest and time-dependent anoikis need a finite t_max_s"):
        exact.outcome_probabilities(no_horizon)


def test_verify_compares_how_each_arrest_ended():
    """``ctcsim verify`` with release: the outcomes carry the exit of the last arrest."""
    v = verification.verify(released(), 5_000, seed=2)
    assert v.agrees and not v.impossible
    assert any(o.label.endswith("(trapped, extravasated)") for o in v.outcomes)
