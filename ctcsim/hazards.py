"""The model's vocabulary, defined once: hazards, what each ends in, and every code the core writes.

Everything else derives from this module: the core's constants and channel tables
(``ext/_model.pxi``, generated from it by setup.py), the pure-Python reference (it loops
over ``HAZARDS`` in the same order as the core), the exact solver's generator columns,
the dictionaries of the Parquet columns, and what analysis calls alive.  It imports
nothing but the standard library, so that the build can read it before ctcsim exists.

A hazard is a row: the phase in which it acts, what it ends in (its ``kind`` and
``to``), the event the core logs, and how the unit's own factors (cluster size and
phenotype: ``factor``), the platelet shield (``shield``) and the organ's soil
(``soil``) scale it.  Within a phase the table's order is the draw order: the core
picks the event with one uniform against running sums of the rates in this order.
Adding a constant hazard is one row here, its Biology fields, and its rate in
compile.RATES (docs/EXTENDING.md).
"""
from __future__ import annotations

import dataclasses

# Phases of one unit.  "circulating" ends in a fate (a death, an arrest, or censoring);
# an arrested unit goes on through the post-arrest phases (DESIGN 2.4).
PHASES = ("circulating", "capillary", "dormant", "colony", "micrometastasis")

# What a hazard's event does:
#   stage     advance one Erlang stage; after the last, leave for the next compartment by flow
#   toggle    the platelet shield flips (binding when s = 0, loss when s = 1)
#   fate      the circulating phase ends in the fate ``to``
#   arrest    the circulating phase ends in "arrested", arrest mode ``to``
#   state     the post-arrest chain moves to state ``to`` (final states end it)
#   extravasate  the cell leaves the capillary: dormant with probability dormancy_prob, else a colony
#   cells     a colony gains (``to`` = "+1") or loses ("-1") a cell; per-cell rate (times n)
#   release   the arrested unit leaves its bed by flow (as after the bed's last stage) and
#             circulates on with its age, anoikis threshold and shield (capillary phase only)
KINDS = ("stage", "toggle", "fate", "arrest", "state", "extravasate", "cells", "release")


@dataclasses.dataclass(frozen=True)
class Hazard:
    name: str
    phase: str
    kind: str
    to: str | None
    event: str
    factor: str | None = None   # the unit-factor group (cluster exponent, phenotype factors) scaling it
    shield: str | None = None   # Biology field p: rate x (1 - p s) ("reduce") or x (1 + p s) ("increase")
    shield_effect: str = ""     # "reduce" or "increase" with ``shield``
    soil: str | None = None     # the organ soil factor scaling it (Scenario.soil)
    time_dependent: bool = False  # Weibull in the unit's age (anoikis); at most one such hazard
    doc: str = ""


HAZARDS: tuple[Hazard, ...] = (
    Hazard("stage", "circulating", "stage", None, "stage",
           doc="n_stages / transit_s per stage; the last stage moves on by flow fraction (event 'move')"),
    Hazard("shear", "circulating", "fate", "died_shear", "died_shear", factor="shear",
           shield="p_shear", shield_effect="reduce",
           doc="k_shear (tau_c / tau_ref)^n"),
    Hazard("nk", "circulating", "fate", "died_nk", "died_nk", factor="nk", shield="p_nk", shield_effect="reduce",
           doc="k_nk NK_c"),
    Hazard("anoikis", "circulating", "fate", "died_anoikis", "died_anoikis", factor="anoikis",
           shield="p_anoikis", shield_effect="reduce", time_dependent=True,
           doc="Weibull (beta/eta)(a/eta)^(beta-1) in the age a; the rate table holds its scale"),
    Hazard("adhesion", "circulating", "arrest", "adhered", "adhered", factor="adhesion",
           shield="p_adh", shield_effect="increase",
           doc="k_adh adhesion(primary, organ), beds only"),
    Hazard("platelets", "circulating", "toggle", None, "shield_on",
           doc="k_on platelets_c when unshielded, k_off when shielded (events shield_on / shield_off)"),
    Hazard("capillary_death", "capillary", "state", "died_in_capillary", "died_in_capillary", factor="nk",
           shield="p_nk", shield_effect="reduce", soil="macrophage",
           doc="k_cap_nk NK_c: NK cells and resident macrophages kill the arrested unit"),
    Hazard("extravasation", "capillary", "extravasate", None, "extravasated", factor="extravasation",
           soil="niche", doc="k_extravasation; then dormant with probability p_dormant"),
    Hazard("capillary_platelets", "capillary", "toggle", None, "shield_on",
           doc="k_on_capillary platelets_c: platelets bind the arrested unit (stasis, activated endothelium); "
               "the shield is not lost in the capillary"),
    Hazard("release", "capillary", "release", None, "released", shield="p_release", shield_effect="reduce",
           doc="k_release: the arrested unit is washed back into the blood (Fidler 1970: recirculation "
               "of arrested emboli); platelets stabilise the arrest"),
    Hazard("dormant_death", "dormant", "state", "died_dormant", "died_dormant", doc="k_dormant_death"),
    Hazard("wake", "dormant", "state", "proliferating", "woke", soil="inflammation", doc="k_wake"),
    Hazard("cell_death", "colony", "cells", "-1", "cell_death", doc="death_per_s per cell"),
    Hazard("division", "colony", "cells", "+1", "division", factor="proliferation", soil="growth",
           doc="birth_per_s per cell"),
    Hazard("regression", "micrometastasis", "state", "regressed", "regressed",
           doc="k_regression, against growth to macro_cells (the large-colony approximation)"),
)

FATES = ("censored", "died_shear", "died_nk", "died_anoikis", "arrested")
ARREST_MODES = ("none", "trapped", "adhered")
PHENOTYPES = ("epithelial", "hybrid", "mesenchymal")
POST_ARREST = (
    "none", "in_capillary", "died_in_capillary", "dormant", "died_dormant", "proliferating",
    "colony_extinct", "micrometastasis", "regressed", "macrometastasis",
)
# The post-arrest state of each phase (the state a unit is in while that phase's hazards act).
PHASE_STATE = {"capillary": "in_capillary", "dormant": "dormant", "colony": "proliferating",
               "micrometastasis": "micrometastasis"}
# Post-arrest outcomes that end the chain (the others are states, censored at t_max).
FINAL = ("died_in_capillary", "died_dormant", "colony_extinct", "regressed", "macrometastasis")
# A unit is alive at the end unless it died in circulation or its post-arrest chain ended in one of these.
GONE = ("died_in_capillary", "died_dormant", "colony_extinct", "regressed")
DEAD_FATES = tuple(f for f in FATES if f.startswith("died_"))
# Event log codes.  "stage" is an Erlang stage completed inside a compartment; "move" is entry
# into the next compartment; "trapped" is the instantaneous arrest on entering a bed.
EVENTS = (
    "enter", "stage", "move", "shield_on", "shield_off", "trapped", "adhered",
    "died_shear", "died_nk", "died_anoikis", "censored",
    "extravasated", "dormant", "woke", "died_in_capillary", "died_dormant", "division",
    "cell_death", "colony_extinct", "micrometastasis", "regressed", "macrometastasis", "released",
)
# Why the core stopped (run_chunk's status); codes >= ERRORS name a failing unit.
STATUSES = {"done": 0, "events_full": 1, "cancelled": 2, "err_step_budget": 16}
ERRORS = 16


def factor_groups() -> tuple[str, ...]:
    """The unit-factor groups, in order of first use in HAZARDS (rows of cluster/phenotype factors)."""
    out: list[str] = []
    for h in HAZARDS:
        if h.factor and h.factor not in out:
            out.append(h.factor)
    return tuple(out)


FACTORS = factor_groups()


def in_phase(phase: str) -> tuple[Hazard, ...]:
    """The constant hazards of a phase, in draw order (time-dependent ones apart)."""
    return tuple(h for h in HAZARDS if h.phase == phase and not h.time_dependent)


def index(name: str) -> int:
    """A hazard's row in HAZARDS (and in every rate table built from it)."""
    for i, h in enumerate(HAZARDS):
        if h.name == name:
            return i
    raise KeyError(f"no hazard {name!r}; hazards: {', '.join(h.name for h in HAZARDS)}")


def check_table():
    """The table's own consistency (run by the build and by tests/test_hazards.py)."""
    names = [h.name for h in HAZARDS]
    assert len(set(names)) == len(names), "hazard names must be unique"
    assert sum(h.time_dependent for h in HAZARDS) <= 1, "the core supports one time-dependent hazard"
    for h in HAZARDS:
        assert h.phase in PHASES and h.kind in KINDS, h
        assert h.event in EVENTS, h
        assert (h.shield is None) == (h.shield_effect == ""), h
        assert h.shield_effect in ("", "reduce", "increase"), h
        if h.kind == "fate":
            assert h.to in FATES and h.phase == "circulating", h
        if h.kind == "arrest":
            assert h.to in ARREST_MODES, h
        if h.kind == "state":
            assert h.to in POST_ARREST and h.phase != "circulating", h
        if h.kind == "cells":
            assert h.to in ("+1", "-1") and h.phase == "colony", h
        if h.kind == "release":
            assert h.phase == "capillary", h
    assert set(GONE) <= set(FINAL) <= set(POST_ARREST)
    assert set(PHASE_STATE.values()) <= set(POST_ARREST)


def generate_pxi() -> str:
    """The core's constants and channel tables as Cython (setup.py writes ext/_model.pxi)."""
    check_table()
    lines = ["# Generated from ctcsim/hazards.py by setup.py: do not edit, do not commit.", "cdef enum:"]

    def enum(prefix, names):
        lines.extend(f"    {prefix}{n.upper()} = {i}" for i, n in enumerate(names))

    enum("FATE_", FATES)
    enum("MODE_", ARREST_MODES)
    enum("EV_", EVENTS)
    enum("PA_", POST_ARREST)
    enum("H_", [h.name for h in HAZARDS])
    enum("KIND_", KINDS)
    lines += [f"    STATUS_{k.upper()} = {v}" for k, v in STATUSES.items()]
    lines += [f"    STATUS_ERRORS = {ERRORS}", f"    N_HAZARDS = {len(HAZARDS)}", f"    N_FACTORS = {len(FACTORS)}"]
    timedep = [i for i, h in enumerate(HAZARDS) if h.time_dependent]
    lines.append(f"    H_TIME_DEPENDENT = {timedep[0] if timedep else -1}")
    phases = [p for p in PHASES if p != "circulating"]
    lines += [f"    PHASE_{p.upper()} = {i}" for i, p in enumerate(phases)]
    channels = {p: in_phase(p) for p in PHASES}
    width = max(len(channels[p]) for p in phases)
    lines += [f"    N_CIRC = {len(channels['circulating'])}", f"    N_PHASES = {len(phases)}",
              f"    PA_MAX_CHANNELS = {width}"]

    def code(h):  # what ``to`` means for the kernel: a fate, mode or post-arrest code, or a cell delta
        if h.kind == "fate":
            return FATES.index(h.to)
        if h.kind == "arrest":
            return ARREST_MODES.index(h.to)
        if h.kind == "state":
            return POST_ARREST.index(h.to)
        return int(h.to) if h.kind == "cells" else 0

    def carray(name, values):
        return f"    static const int {name}[{max(len(values), 1)}] = {{{', '.join(map(str, values)) or '0'}}};"

    tables = [  # (C name, values)
        ("ctc_circ_hazard", [index(h.name) for h in channels["circulating"]]),
        ("ctc_hazard_kind", [KINDS.index(h.kind) for h in HAZARDS]),
        ("ctc_hazard_to", [code(h) for h in HAZARDS]),
        ("ctc_hazard_event", [EVENTS.index(h.event) for h in HAZARDS]),
        ("ctc_phase_n", [len(channels[p]) for p in phases]),
        ("ctc_phase_state", [POST_ARREST.index(PHASE_STATE[p]) for p in phases]),
        ("ctc_phase_hazard", [i for p in phases for i in
                              [index(h.name) for h in channels[p]] + [-1] * (width - len(channels[p]))]),
        ("ctc_state_phase", [phases.index(next(p for p in phases if PHASE_STATE[p] == st))
                             if st in PHASE_STATE.values() else -1 for st in POST_ARREST]),
        ("ctc_final", [int(p in FINAL) for p in POST_ARREST]),
    ]
    lines += ["cdef extern from *:", '    """'] + [carray(name, values) for name, values in tables] + ['    """']
    lines += [f"    const int {name}[]" for name, _ in tables]
    return "\n".join(lines) + "\n"
