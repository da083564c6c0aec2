"""The compiled core and the pure-Python reference produce identical output, draw for draw."""
import dataclasses

import pytest

from conftest import FAST as FAST_AFTER_ARREST

from ctcsim import model as M
from ctcsim import reference
from ctcsim import scenario as sc
from ctcsim.compile import compile_arm, compile_model
from ctcsim.runner import simulate

N_UNITS = 300  # the reference is slow; 300 units of RICH make ~10^4 events


def reference_tables(scenario, seed, n):
    before, after, start_s = compile_arm(scenario, scenario.arm_names()[0])
    rows, events = [], []
    for u in range(n):
        row, log = reference.simulate_unit(before, (seed, 0), u, events=True, after=after, switch_s=start_s)
        rows.append(row)
        events.extend(log)
    return rows, events


def variants(rich):
    """RICH, and RICH changed so that each mechanism is on its own or at an edge case."""
    b = rich.biology
    yield "rich", rich
    fast = dataclasses.replace(rich, biology=dataclasses.replace(b, **FAST_AFTER_ARREST))
    yield "after arrest", fast
    yield "arm from t = 60 s", sc.from_dict({**fast.to_dict(), "arms": [
        {"name": "treated", "start_s": 60.0, "multipliers": {"k_on_per_s": 0.1, "k_nk_per_s": 3.0, "birth_per_s": 0.5,
                                                             "k_extravasation_per_s": 2.0, "anoikis_eta_s": 0.5}}]})
    yield "exponential anoikis", dataclasses.replace(rich, biology=dataclasses.replace(b, anoikis_beta=1.0))
    yield "early anoikis beta<1", dataclasses.replace(rich, biology=dataclasses.replace(b, anoikis_beta=0.6))
    yield "no anoikis", dataclasses.replace(rich, biology=dataclasses.replace(b, anoikis_on=False))
    yield "short t_max censors", dataclasses.replace(rich, t_max_s=20.0)
    yield "after arrest, censored mid-way", dataclasses.replace(fast, t_max_s=60.0)
    yield "platelets in the capillary", dataclasses.replace(fast, biology=dataclasses.replace(
        fast.biology, k_on_capillary_per_s=0.05))
    yield "platelets the only thing after arrest", dataclasses.replace(rich, biology=dataclasses.replace(
        b, k_on_capillary_per_s=0.05, k_cap_nk_per_s=0.0, k_extravasation_per_s=0.0))
    # Clusters of up to 8 cells are 8 founders (a colony may start at micro_cells = 5 or above);
    # soil factors on two organs, growth and the rest.
    yield "founders and soil", dataclasses.replace(
        fast, primary=dataclasses.replace(fast.resolved_primary(), cluster_size_probs=[0.4] + [0.6 / 7] * 7),
        soil={"liver": {"growth": 3.0, "niche": 0.5}, "lung": {"growth": 0.2, "macrophage": 2.0, "inflammation": 4.0}})
    yield "sure trapping", dataclasses.replace(rich, biology=dataclasses.replace(b, trap_max=1.0, trap_width=1e-3))
    yield "passage: deformability, clusters held behind their leading cell", dataclasses.replace(
        rich, biology=dataclasses.replace(b, trap_deformability=[0.8, 1.3, 2.0], cluster_cell_trap=0.4,
                                          cluster_diameter_exponent=0.2))
    yield "passage: each cell of a cluster held like a single cell", dataclasses.replace(
        rich, biology=dataclasses.replace(b, trap_max=0.5, cluster_cell_trap=1.0))
    # Release from arrest: units arrest, are released, circulate on and arrest or die again.
    release = dataclasses.replace(fast, biology=dataclasses.replace(
        fast.biology, k_release_per_s=0.1, p_release=0.5, k_on_capillary_per_s=0.05))
    yield "release", release
    yield "release, arm from t = 60 s, early anoikis", sc.from_dict({**release.to_dict(), "biology": {
        **release.to_dict()["biology"], "anoikis_beta": 0.6}, "arms": [
        {"name": "treated", "start_s": 60.0, "multipliers": {"k_release_per_s": 3.0, "k_nk_per_s": 3.0,
                                                             "anoikis_eta_s": 0.5}}]})
    yield "release, sure trapping, soil", dataclasses.replace(release, biology=dataclasses.replace(
        release.biology, trap_max=1.0, trap_width=1e-3, k_release_per_s=0.2), soil={"liver": {"growth": 0.4, "niche": 2.0}},
        primary=dataclasses.replace(release.resolved_primary(), cluster_size_probs=[0.5] + [0.1] * 5))


N_VARIANTS = 17


@pytest.mark.parametrize("which", range(N_VARIANTS))
def test_core_equals_reference_fates_and_events(rich, which):
    """Every fate column and every event row of the core equals the reference, on variants that
    between them produce every fate and every event type."""
    name, s = list(variants(rich))[which]
    m = compile_model(s)
    res = simulate(s, N_UNITS, seed=11, events=True, chunk_size=64)
    rows, events = reference_tables(s, 11, N_UNITS)
    f = res.fates.to_pydict()
    decode = {
        "fate": list(M.FATES), "arrest_mode": list(M.ARREST_MODES), "phenotype": list(M.PHENOTYPES),
        "entry_compartment": list(m.compartment_names), "organ": list(m.organ_names),
        "post_arrest": list(M.POST_ARREST),
    }
    for col in rows[0]:
        got = f[col]
        if col in decode:
            got = [decode[col].index(x) if x is not None else -1 for x in got]
        expected = [r[col] for r in rows]
        # NaN (a time that never came) equals NaN here; every other value must be identical.
        got = ["nan" if x != x else x for x in got]
        expected = ["nan" if x != x else x for x in expected]
        assert got == expected, f"{name}: column {col} differs"
    e = res.events.to_pydict()
    got = list(zip(e["unit_id"], e["time_s"], [M.EVENTS.index(x) for x in e["event"]],
                   [m.compartment_names.index(x) for x in e["compartment"]], [int(x) for x in e["shielded"]]))
    assert got == events, f"{name}: events differ"


def test_variants_cover_every_fate_and_event(rich):
    """The comparison above is only as strong as its coverage: all fates, post-arrest outcomes
    and events occur."""
    assert len(list(variants(rich))) == N_VARIANTS  # each is compared above
    fates, post, events = set(), set(), set()
    for _, s in variants(rich):
        res = simulate(s, N_UNITS, seed=11, events=True)
        fates |= set(res.fates.column("fate").to_pylist())
        post |= set(res.fates.column("post_arrest").to_pylist())
        events |= set(res.events.column("event").to_pylist())
    assert fates == set(M.FATES)
    assert post == set(M.POST_ARREST)
    assert events == set(M.EVENTS)
