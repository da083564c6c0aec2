"""Two runs compared outcome by outcome: B - A, paired when they can be, independent otherwise.

Two runs with the same seed and the same number of units give unit u the same random numbers
in both (DESIGN 4), whatever else differs (a CTC diameter, an NK activity): their difference is
then paired unit by unit, like two arms of one run, and its interval reflects only the units
whose outcome changed.  With different seeds or sizes the runs are independent samples, and
the interval is that of a difference of two independent fractions, much wider.  The result
says which, and why.
"""
from __future__ import annotations

from . import tables
from .paired import Paired, independent_row


def compare_runs(a, b, arm_a: str | None = None, arm_b: str | None = None) -> dict:
    """B - A for every unit outcome and per organ of arrest (``tables.UNIT_OUTCOMES``,
    ``tables.ORGAN_OUTCOMES``): {"paired", "why", "a", "b", "rows"}; ``a`` and ``b`` describe
    each side (path, scenario, arm, units, seed, horizon).  Arms default to each run's first."""
    sides = [_side(run, arm) for run, arm in ((a, arm_a), (b, arm_b))]
    organs = list(dict.fromkeys(tables._organ_names(a) + tables._organ_names(b)))
    same_seed, same_n = sides[0]["seed"] == sides[1]["seed"], sides[0]["n_units"] == sides[1]["n_units"]
    paired = same_seed and same_n
    why = ("same seed and units: unit u has the same random numbers in both runs" if paired else
           "different seeds" if not same_seed else "different numbers of units")
    fa, fb = (tables._parts(run.fates, [s["arm"]])[s["arm"]] for run, s in zip((a, b), sides))
    tally_a, tally_b = tables.ArmTally(organs), tables.ArmTally(organs)
    pairs = Paired(organs)
    if paired:
        if len(fa) != len(fb):
            raise ValueError("the runs have the same seed and units but different part files; rerun one of them "
                             "with the other's settings to pair them")
        for pa, pb in zip(fa, fb):
            for ba, bb in zip(pa.to_batches(columns=tables.COLUMNS), pb.to_batches(columns=tables.COLUMNS),
                              strict=True):
                ua, ub = tables.Units(ba, organs), tables.Units(bb, organs)
                tally_a.add(ua)
                tally_b.add(ub)
                pairs.add(ub, ua)
        rows = pairs.differences()
    else:
        for frags, tally in ((fa, tally_a), (fb, tally_b)):
            for frag in frags:
                for batch in frag.to_batches(columns=tables.COLUMNS):
                    tally.add(tables.Units(batch, organs))
        rows = _independent(tally_b, tally_a)
    for side, tally in zip(sides, (tally_a, tally_b)):
        side["n"] = tally.n
    return {"paired": paired, "why": why, "a": sides[0], "b": sides[1], "rows": rows}


def _side(run, arm: str | None) -> dict:
    md = run.metadata
    arm = arm or md["arms"][0]
    if arm not in md["arms"]:
        raise ValueError(f"{run.path}: no arm {arm!r}; this run has: {', '.join(md['arms'])}")
    return {"path": str(run.path), "scenario": md["scenario_name"], "arm": arm, "n_units": md["n_units"],
            "seed": md["seed"], "t_max_s": run.scenario.t_max_s}


def _independent(b: tables.ArmTally, a: tables.ArmTally) -> list[dict]:
    ub, ua = b.unit_counts(), a.unit_counts()
    rows = [independent_row(None, o, ub[o], ua[o], b.n, a.n) for o in tables.UNIT_OUTCOMES if ub[o] or ua[o]]
    for i, organ in enumerate(b.organs):
        for j, o in enumerate(tables.ORGAN_OUTCOMES):
            kb, ka = int(b.organ_outcomes[i, j]), int(a.organ_outcomes[i, j])
            if kb or ka:
                rows.append(independent_row(organ, o, kb, ka, b.n, a.n))
    return rows
