"""Check a Scenario object however it was built: read from TOML, made in Python, or changed
with ``dataclasses.replace`` (which checks nothing).  It is meant to run before anything is
compiled, so that whatever is simulated has passed it (issue 9); every error names the
scenario's origin (``schema.origin``) and the key.

Each arm's biology (the base one times its multipliers) is checked exactly like the base
one, and an error names the multiplier that made the value wrong.
"""
from __future__ import annotations

import dataclasses
import math

from .. import anatomy as _anatomy
from ..checks import (MAX_MAGNITUDE, NUMBER, ScenarioError, between, check_fields, describe, field_value, is_number,
                      join, show, toml_fields, unknown_keys)
from .schema import MULTIPLIABLE, SOIL_FACTORS, Arm, Biology, Entry, Primary, Scenario, builtin_primary, origin

SECONDS_PER_DAY = 86400.0
# The colony after arrest grows division by division up to micro_cells, about two steps of
# the core per cell; micrometastases are 4-16 cells (Luzzi 1998).
_MICRO_CELLS = between(1, 100_000, "a colony is simulated cell by cell up to this size")
# A power of the model's ratios (up to 1e24 between numbers of size 1e12 and 1e-12, see checks)
# beyond 10 would leave double precision.
_EXPONENT = between(-10.0, 10.0, "a larger power of the model's ratios (up to 1e24) leaves double precision")
EXPONENTS = ("shear_exponent", "cluster_diameter_exponent", "anoikis_beta")
# Platelets binding and leaving end nothing, so each is a step of the core like an Erlang stage
# (anatomy.MIN_STAGE_S): at most one per millisecond.
MAX_SWITCH_PER_S = 1e3
# Shedding: the expected number of units over the shedding period lies between the initial mass's
# shedding and the plateau's; a Poisson draw of a double holds counts up to 2**53 exactly.
MIN_SHED, MAX_SHED = 1e-9, 2.0 ** 53


def validate(s: Scenario) -> None:
    """Raise ScenarioError, naming ``origin(s)`` and the key, at the first thing wrong in ``s``."""
    where = origin(s) if isinstance(s, Scenario) else "<scenario>"
    check_fields(s, Scenario, where, "", skip=("anatomy", "primary", "biology", "entry", "arms"))
    check_fields(s.entry, Entry, where, "entry")
    anat = _anatomy_of(s, where)
    platelets = max(c.platelet_rel for c in anat.compartments)
    problem = _biology_problem(s.biology, platelets)
    if problem:
        raise ScenarioError(where, join("biology", problem[0]), problem[1])
    prim = _primary_of(s, where)
    starts = _entry_compartments(s, anat, prim, where)
    _check_timing(s, where)
    _check_organ_tables(s, anat, where)
    # The lymphatic route is reached only by entering it (a lymph entry weight or an injection
    # site): a compartment unreachable from the entry and from every injection site is an island.
    reach = _anatomy.reachable(anat, set(starts) | set(anat.injection_sites.values()))
    unreachable = [c.name for c in anat.compartments if c.name not in reach]
    if unreachable:
        raise ScenarioError(where, "anatomy", f"compartments unreachable from the entry or any injection site: "
                                              f"{', '.join(unreachable)}")
    _check_arms(s, platelets, where)


def _biology_problem(b: Biology, platelets: float) -> tuple[str, str] | None:
    """(field, what is wrong) for the first wrong field of a biology, else None (``platelets``:
    the anatomy's highest platelet_rel)."""
    if not isinstance(b, Biology):
        return "", f"expected a Biology, got {describe(b)}"
    for name, f in toml_fields(Biology).items():
        try:
            field_value(f, getattr(b, name), "", name)
        except ScenarioError as e:
            return name, e.problem
    problem = _MICRO_CELLS(b.micro_cells)
    if problem:
        return "micro_cells", problem
    for name in EXPONENTS:
        problem = _EXPONENT(getattr(b, name))
        if problem:
            return name, problem
    for group, x in b.cluster_exponent.items():
        if _EXPONENT(x):
            return "cluster_exponent", f"{group}: {_EXPONENT(x)}"
    for group, x in b.phenotype_factor.items():
        if not all(is_number(v) for v in x):
            return "phenotype_factor", f"{group}: expected numbers of size at most {MAX_MAGNITUDE:g}, got {show(x)}"
    for name, rate in (("k_on_per_s", b.k_on_per_s * platelets), ("k_off_per_s", b.k_off_per_s)):
        if rate > MAX_SWITCH_PER_S:
            return name, f"platelets would bind or leave {rate:.3g} times per s (k_on_per_s times the highest " \
                         f"platelet_rel): expected at most {MAX_SWITCH_PER_S:g}, as each is a step of the core"
    if b.macro_cells < b.micro_cells:
        return "macro_cells", f"expected at least micro_cells ({b.micro_cells}): a macrometastasis is larger, " \
                              f"got {show(b.macro_cells)}"
    return None


def _anatomy_of(s: Scenario, where: str) -> _anatomy.Anatomy:
    if isinstance(s.anatomy, _anatomy.Anatomy):
        _anatomy.validate(s.anatomy, where, "anatomy")
        return s.anatomy
    if not isinstance(s.anatomy, str):
        raise ScenarioError(where, "anatomy", f"expected a built-in name or a table, got {describe(s.anatomy)}")
    try:
        return _anatomy.builtin(s.anatomy)
    except ScenarioError as e:
        raise ScenarioError(where, "anatomy", e.problem) from None


def _primary_of(s: Scenario, where: str) -> Primary:
    if isinstance(s.primary, Primary):
        check_fields(s.primary, Primary, where, "primary")
        return s.primary
    if not isinstance(s.primary, str):
        raise ScenarioError(where, "primary", f"expected a built-in name or a table, got {describe(s.primary)}")
    try:
        return builtin_primary(s.primary)
    except ScenarioError as e:
        raise ScenarioError(where, "primary", e.problem) from None


def _entry_compartments(s: Scenario, anat, prim: Primary, where: str) -> list[str]:
    """The compartments units enter (checked against the anatomy)."""
    names = anat.index()
    if s.entry.mode == "injection":
        site = s.entry.site
        if site is None:
            raise ScenarioError(where, "entry.site", "injection needs a site (injection site or compartment)")
        if site not in anat.injection_sites and site not in names:
            options = sorted(anat.injection_sites) or sorted(names)
            raise ScenarioError(where, "entry.site", f"unknown site {show(site)}; expected one of {', '.join(options)}")
        return [anat.injection_sites.get(site, site)]
    for comp, w in prim.entry.items():
        if comp not in names:
            raise ScenarioError(where, f"primary.entry.{comp}", f"unknown compartment in anatomy {anat.name!r}")
        if not is_number(w) or w < 0:
            raise ScenarioError(where, f"primary.entry.{comp}", f"expected a non-negative {NUMBER}, got {show(w)}")
    if abs(sum(prim.entry.values()) - 1.0) > 1e-9:
        raise ScenarioError(where, "primary.entry", "weights must sum to 1")
    return [c for c, w in prim.entry.items() if w > 0]


def _check_timing(s: Scenario, where: str):
    """Units enter before the end of observation; a shedding tumour sheds a countable number."""
    e, t_max = s.entry, s.t_max_s
    if e.mode != "shedding":
        if e.time_s >= t_max:
            raise ScenarioError(where, "entry.time_s", f"at or after t_max_s ({t_max:g} s): units would enter "
                                                       f"after the end of observation, got {e.time_s:g}")
        return
    shed_s = min(t_max, e.resection_s)  # the primary sheds until its resection or the end of observation
    if not math.isfinite(shed_s):
        raise ScenarioError(where, "t_max_s", "shedding needs a finite t_max_s or entry.resection_s (how long "
                                              "the tumour sheds)")
    if e.carrying_capacity_g <= e.tumour_mass_g:
        raise ScenarioError(where, "entry.carrying_capacity_g",
                            f"must exceed entry.tumour_mass_g ({e.tumour_mass_g:g} g), got {e.carrying_capacity_g:g}")
    per_g = e.cells_per_g_per_day / SECONDS_PER_DAY * shed_s  # units per gram shed
    least, most = per_g * e.tumour_mass_g, per_g * e.carrying_capacity_g
    if most < MIN_SHED:
        raise ScenarioError(where, "entry.cells_per_g_per_day", f"the tumour sheds at most {most:.3g} units: "
                                                                f"nothing to simulate")
    if least > MAX_SHED:
        raise ScenarioError(where, "entry.cells_per_g_per_day", f"the tumour sheds at least {least:.3g} units, "
                                                                f"more than {MAX_SHED:.0f}, the most a count "
                                                                f"drawn from a double holds exactly")


REMOVED_COMPATIBILITY = ("no longer exists: nothing dies at the instant of arrest; organ preference acts after "
                         "extravasation through the soil factors (" + ", ".join(SOIL_FACTORS) + "); runs recorded "
                         "with it (ctcsim 0.1.0) are refused by this version: replay, resume or summarize them "
                         "with 0.1.0")


def _check_organ_tables(s: Scenario, anat, where: str):
    organs = anat.organs()
    for table, name in ((s.soil, "soil"), (s.adhesion, "adhesion")):
        for organ in table:
            if organ not in organs:
                raise ScenarioError(where, f"{name}.{organ}", f"unknown organ; organs: {', '.join(organs)}")
    for organ, factors in s.soil.items():
        if not isinstance(factors, dict):
            raise ScenarioError(where, f"soil.{organ}", "expected a table of " + ", ".join(SOIL_FACTORS))
        if "compatibility" in factors:  # ctcsim 0.1.0's death at the instant of arrest (issue 11)
            raise ScenarioError(where, f"soil.{organ}.compatibility", REMOVED_COMPATIBILITY)
        unknown_keys(factors, SOIL_FACTORS, where, f"soil.{organ}")
        for k, v in factors.items():
            if not is_number(v) or v < 0:
                raise ScenarioError(where, f"soil.{organ}.{k}", f"expected a non-negative {NUMBER}, got {show(v)}")
    for organ, f in s.adhesion.items():
        if not is_number(f) or f < 0:
            raise ScenarioError(where, f"adhesion.{organ}", f"expected a non-negative {NUMBER}, got {show(f)}")


def _check_arms(s: Scenario, platelets: float, where: str):
    seen = set()
    for i, arm in enumerate(s.arms):
        key = f"arms[{i}]"
        check_fields(arm, Arm, where, key)
        if arm.name in seen:
            raise ScenarioError(where, f"{key}.name", f"duplicate arm {arm.name!r}")
        seen.add(arm.name)
        if arm.start_s >= s.t_max_s:
            raise ScenarioError(where, f"{key}.start_s", f"at or after t_max_s ({s.t_max_s:g} s): the arm would "
                                                         f"change nothing, got {arm.start_s:g}")
        unknown_keys(arm.multipliers, MULTIPLIABLE, where, f"{key}.multipliers")
        for k, v in arm.multipliers.items():
            if not is_number(v) or v < 0:
                raise ScenarioError(where, f"{key}.multipliers.{k}", f"expected a non-negative {NUMBER}, got {show(v)}")
        b = s.biology
        treated = dataclasses.replace(b, **{k: getattr(b, k) * v for k, v in arm.multipliers.items()})
        problem = _biology_problem(treated, platelets)
        if problem:
            name, what = problem
            product = f"{getattr(b, name):g} x {arm.multipliers[name]:g} = {getattr(treated, name):g}"
            raise ScenarioError(where, f"{key}.multipliers.{name}", f"makes biology.{name} {product}: {what}")
