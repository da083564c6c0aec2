"""The data dictionary of a run directory: what every column and every event name means.

One source for three readers: docs/RUNS.md (its "Data dictionary" section is this text;
tests/test_dictionary.py checks that it is), the Parquet files (each field carries its
description under the field-metadata key ``description``, so a file explains itself in any
Parquet reader), and ``ctcsim.dictionary`` in Python.  Times are seconds (float64) on the run's
clock: 0 is the scenario's start, every unit enters at ``entry_time_s``, and ``t_max_s`` (the
horizon) ends observation.  A time that never happened is NaN.
"""
from __future__ import annotations

from .hazards import EVENTS

FATES = {
    "arm": "the arm (Hive partition arm=NAME; restored by every reader)",
    "unit_id": "the unit's id, 0 to n_units - 1; the same id has the same random numbers in every arm",
    "cluster_size": "cells in the unit: 1 for a single CTC, k for a cluster (after arrest, k founders)",
    "phenotype": "epithelial, hybrid or mesenchymal",
    "diameter_um": "the unit's cell diameter in micrometres (log-normal around the primary's median)",
    "entry_time_s": "when the unit entered the blood",
    "entry_compartment": "the compartment it entered by (the primary's venous drainage, or the injection site)",
    "fate": "how circulation ended (its last circulation, for a unit released from arrest): died_shear, died_nk, died_anoikis, arrested, or censored (still "
            "circulating at the horizon)",
    "fate_time_s": "when circulation ended (the horizon for censored units)",
    "organ": "the organ of arrest (null unless fate is arrested)",
    "arrest_mode": "trapped (stuck on entering a capillary bed, by size and deformability) or adhered (bound to "
                   "its wall); none unless arrested",
    "beds_visited": "capillary beds entered during circulation, each entry counted, the bed of arrest included",
    "shielded_at_fate": "whether platelets covered the unit when circulation ended",
    "time_shielded_s": "time spent covered by platelets during circulation",
    "n_steps": "events the core drew for the unit (circulation and after arrest); each counts toward "
               "the step budget that bounds every unit's work",
    "post_arrest": "the state after arrest at the end: in_capillary, dormant, proliferating or "
                   "micrometastasis (still so at the horizon), or an outcome that ends the chain: "
                   "died_in_capillary, died_dormant, colony_extinct, regressed, macrometastasis; none "
                   "unless arrested",
    "post_arrest_time_s": "when the post-arrest outcome happened (the horizon for a state still going "
                          "on; NaN unless arrested)",
    "extravasation_time_s": "when the unit left the capillary into the tissue (NaN if it never did)",
    "micrometastasis_time_s": "when its colony reached micro_cells cells (NaN if it never did)",
    "releases": "times the unit was released from arrest back into the blood (0 unless k_release_per_s > 0); "
                "the row describes its end: the fate after the last release, the post-arrest columns "
                "from its last arrest",
}

EVENT_COLUMNS = {
    "arm": "the arm (Hive partition arm=NAME)",
    "unit_id": "the unit the event belongs to; rows are in unit order, then time order",
    "time_s": "when the event happened",
    "event": "what happened (see the event names)",
    "compartment": "where: the compartment the unit is in after the event (a move row names the "
                   "compartment entered; after arrest, the organ's bed)",
    "shielded": "whether platelets covered the unit after the event",
}

EVENT_NAMES = {
    "enter": "the unit enters the blood at entry_compartment",
    "stage": "an Erlang stage of the compartment's transit completed (the unit stays there)",
    "move": "the unit leaves its compartment and enters the next, chosen by flow fraction",
    "shield_on": "platelets bind and cover the unit",
    "shield_off": "the platelets leave",
    "trapped": "arrest by size and deformability on entering a capillary bed",
    "adhered": "arrest by adhesion to a bed's wall",
    "died_shear": "killed by shear stress in circulation",
    "died_nk": "killed by NK cells in circulation",
    "died_anoikis": "died by anoikis (detachment) in circulation",
    "censored": "still circulating at the horizon",
    "extravasated": "left the capillary into the tissue",
    "dormant": "became a dormant solitary cell (right after extravasated, or never)",
    "woke": "a dormant cell started to proliferate",
    "died_in_capillary": "died while arrested in the capillary (NK cells, macrophages, or an organ that "
                         "does not let it live)",
    "died_dormant": "a dormant cell died",
    "division": "a colony cell divided (colony size + 1)",
    "cell_death": "a colony cell died (colony size - 1)",
    "colony_extinct": "the colony lost its last cell",
    "micrometastasis": "the colony reached micro_cells cells",
    "regressed": "a micrometastasis regressed",
    "macrometastasis": "a micrometastasis grew to macro_cells cells",
    "released": "an arrested unit was released back into the blood (the next row, a move, names where "
                "it went)",
}

TABLES = {"fates": FATES, "events": EVENT_COLUMNS}


def check():
    """Every event the model logs has its meaning here, and nothing else (run by the tests)."""
    assert set(EVENT_NAMES) == set(EVENTS), set(EVENT_NAMES) ^ set(EVENTS)


def markdown() -> str:
    """The dictionary as docs/RUNS.md's "Data dictionary" section (without its heading)."""
    out = []
    for title, table in (("fates: one row per unit", FATES), ("events: one row per event", EVENT_COLUMNS),
                         ("event names", EVENT_NAMES)):
        out += [f"**{title}**", "", "| name | meaning |", "|---|---|"]
        out += [f"| `{k}` | {v} |" for k, v in table.items()] + [""]
    return "\n".join(out)
