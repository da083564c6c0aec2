"""Seed and soil after arrest (DESIGN 2.4): what becomes of the units an organ arrests, and the
metastatic site frequencies the model predicts from it.

An organ's predicted relative site frequency is its arrests times what becomes of them:

    F_o = sum over unit kinds (cluster size k, phenotype p) of
          P(arrest in o, kind) x P(macrometastasis | arrest in o, kind, its soil),

normalised over the organs asked for.  Both factors are exact (``ctcsim.exact``: the circulation's
linear solve by kind, the post-arrest chain at horizon inf, where every dormant unit has woken or
died), on the scenario's model with constant hazards (anoikis off: it acts over hours, arrests
come within minutes) and no censoring: the model's own answer to "where do metastases form",
not a run's finite window.  Stated approximation: units arrive unshielded (s = 0); in the default
biology ~3 % carry platelets when they arrest (issue 11), and the shield only lowers their
capillary death.

With release from arrest (``k_release_per_s`` > 0) an arrested unit can go back into the blood
and arrest again elsewhere, so "arrest in o" is not one event.  The capillary states are then
the circulation chain's (``exact.capillary``), and the split is made where the unit leaves the
blood for good, at its extravasation:

    F_o = sum over kinds, beds c of o and shields s of
          P(extravasates from c with shield s, kind) x P(macrometastasis | extravasated there, kind),

the first from the circulation chain's occupation of the capillary states
(``exact.extravasations_by_kind``), the second from the post-arrest chain started at the
extravasation (``exact.extravasated_probabilities``: the k founders' dormancy draws).  This path
is exact in the shield too (the capillary chain carries it): no approximation.  Without release
the first path is kept, so that today's answers (and the tables fitted on them) do not move.

An organ's beds must share their post-arrest rates (the built-in anatomies' do); otherwise the
organ has no single P(macrometastasis | arrest) and it is refused.

``predicted_site_frequencies`` is the function the tropism fit inverts (``tropism_fit.fit``) and
that the validation dossier calls on held-out series.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import exact
from . import hazards as H
from .biology import SOIL_FACTORS
from .compile import compile_model
from .exact.capillary import releasing as _releasing

MACRO = H.POST_ARREST.index("macrometastasis")
POST = tuple(h.name for h in H.HAZARDS if h.phase != "circulating")


def neutral_scenario(scenario, adhesion: dict, soil: dict):
    """The scenario the predictions are made on: its circulation and biology with anoikis off,
    one entry time, no censoring and no arms, and every organ's factors inline (``adhesion``:
    organ -> factor; ``soil``: organ -> {soil factor: value})."""
    entry = scenario.entry
    if entry.mode == "shedding":  # entry times do not matter without time-dependent hazards
        entry = dataclasses.replace(entry, mode="drainage", time_s=0.0)
    return dataclasses.replace(scenario, t_max_s=math.inf, adhesion=dict(adhesion), soil=dict(soil), arms=[],
                               entry=entry, biology=dataclasses.replace(scenario.biology, anoikis_on=False))


def organ_bed(model, organ: str) -> int:
    """The compartment whose post-arrest chain is the organ's (its first bed); every bed of the
    organ must have the same post-arrest rates."""
    beds = np.flatnonzero((model.organ >= 0) & (model.organ == model.organ_names.index(organ)))
    first = int(beds[0])
    for c in beds[1:]:
        for name in POST:
            if not np.array_equal(model.rates[name][c], model.rates[name][first]):
                raise ValueError(f"organ {organ!r}: its beds {model.compartment_names[first]!r} and "
                                 f"{model.compartment_names[c]!r} differ in the {name} rate, so the organ has no "
                                 "single P(macrometastasis | arrest)")
    return first


def releasing(model) -> bool:
    """Whether arrested units of ``model`` can go back into the blood (the second path above)."""
    return _releasing([model])


def arrivals_by_kind(model, organs) -> dict[tuple[int, int, int], np.ndarray]:
    """The first factor of F_o, keyed (k, p, s): the unit's kind and its shield where the
    post-arrest factor starts.  Without release: P(arrest in each of ``organs``, kind), trapped
    or adhered, at s = 0 (the stated approximation); with release: P(extravasation from the beds
    of each of ``organs`` with shield s, kind)."""
    out = {}
    if releasing(model):
        for kind, a in exact.extravasations_by_kind(model).items():
            for s in (0, 1):
                out[kind + (s,)] = np.array([a[np.asarray(model.organ) == model.organ_names.index(o), s].sum()
                                             for o in organs])
        return out
    where = [(i, organs.index(o)) for i, (fate, o, _) in enumerate(exact.outcomes(model))
             if fate == "arrested" and o in organs]
    for kind, p in exact.outcome_probabilities_by_kind(model).items():
        a = np.zeros(len(organs))
        for i, j in where:
            a[j] += p[i]
        out[kind + (0,)] = a
    return out


def metastasis_probability(model, bed: int, unit: tuple[int, int, int]) -> float:
    """P(macrometastasis | a unit (k, p, s) arrests in ``bed``, or with release extravasates from
    it), at horizon inf."""
    k, p, s = unit
    if releasing(model):
        return float(exact.extravasated_probabilities(model, bed, s, k, p)[MACRO])
    return float(exact.post_arrest_probabilities(model, bed, s, k, p)[MACRO])


def site_weight(model, organ: str, arrivals: dict) -> float:
    """F_o of the module docstring for one organ (``arrivals``: ``arrivals_by_kind`` for it)."""
    bed = organ_bed(model, organ)
    return sum(a * metastasis_probability(model, bed, unit) for unit, a in arrivals.items() if a > 0)


def site_weights(model, organs) -> np.ndarray:
    """F_o of each of ``organs`` (not normalised: P(a unit makes a macrometastasis there))."""
    arrivals = arrivals_by_kind(model, organs)
    return np.array([site_weight(model, o, {u: a[i] for u, a in arrivals.items()}) for i, o in enumerate(organs)])


def predicted_site_frequencies(scenario, table=None, organs=None) -> dict[str, float]:
    """The model's relative metastatic site frequencies by organ: F_o (module docstring)
    normalised over ``organs`` (default: every organ of the scenario's anatomy).

    ``table``: a ``tropism.Table`` whose adhesion and soil factors the organs take (the
    scenario's own inline factors still override, as in a run); default: the factors the
    scenario resolves to (its primary's built-in table, else 1)."""
    from . import tropism
    anatomy = scenario.resolved_anatomy()
    organs = list(anatomy.organs() if organs is None else organs)
    adhesion, soil = tropism.inline_factors(scenario, anatomy)
    if table is not None:
        rows = {r.organ: r for r in table.rows}
        adhesion = {o: scenario.adhesion.get(o, rows[o].adhesion if o in rows else 1.0) for o in anatomy.organs()}
        soil = {o: {f: scenario.soil.get(o, {}).get(f, getattr(rows[o], f) if o in rows else 1.0)
                    for f in SOIL_FACTORS} for o in anatomy.organs()}
    model = compile_model(neutral_scenario(scenario, adhesion, soil))
    f = site_weights(model, organs)
    if not f.sum() > 0:
        raise ValueError(f"scenario {scenario.name!r}: no macrometastasis forms in any of {', '.join(organs)}")
    return dict(zip(organs, (f / f.sum()).tolist()))
