"""Paired counts of one arm (or run) against a control, unit by unit, and the rows of paired
(common random numbers, DESIGN 2.5) and independent differences made from counts
(``report.tables`` accumulates them part by part; ``two_runs`` compares runs)."""
from __future__ import annotations

import numpy as np

from .. import stats
from .tables import ORGAN_OUTCOMES, UNIT_OUTCOMES


class Paired:
    """Paired counts of one arm (or run) against a control, unit by unit: per UNIT_OUTCOMES, and
    per organ and ORGAN_OUTCOMES (row ``len(organs)`` is "any organ"); see the module docstring."""

    def __init__(self, organs: list[str]):
        self.organs, self.n = organs, 0
        self.arm, self.control, self.both = (np.zeros((len(organs) + 1, len(ORGAN_OUTCOMES)), np.int64)
                                             for _ in range(3))
        self.units = np.zeros((3, len(UNIT_OUTCOMES)), np.int64)  # arm, control, both

    def add(self, arm: Units, control: Units):
        if not np.array_equal(arm.unit_id, control.unit_id):
            raise ValueError("the two sides do not hold the same unit ids batch by batch: they cannot be paired")
        k = len(self.organs)
        self.n += arm.n
        for j, o in enumerate(UNIT_OUTCOMES):
            a, c = arm.unit_outcome[o], control.unit_outcome[o]
            self.units[:, j] += [int(a.sum()), int(c.sum()), int((a & c).sum())]
        for j, o in enumerate(ORGAN_OUTCOMES):
            a = np.where(arm.outcome[o] & (arm.organ >= 0), arm.organ, -1)
            c = np.where(control.outcome[o] & (control.organ >= 0), control.organ, -1)
            self.arm[:k, j] += np.bincount(a[a >= 0], minlength=k)
            self.control[:k, j] += np.bincount(c[c >= 0], minlength=k)
            self.both[:k, j] += np.bincount(a[(a >= 0) & (a == c)], minlength=k)
            self.arm[k, j] += int((a >= 0).sum())
            self.control[k, j] += int((c >= 0).sum())
            self.both[k, j] += int(((a >= 0) & (c >= 0)).sum())

    def differences(self) -> list[dict]:
        """Per unit outcome (organ None), then per organ (and "any organ") and organ outcome, with
        any unit: the counts, the paired difference arm - control of the fractions with its 95%
        interval (mean of per-unit differences +- 1.96 standard errors), and the relative risk
        arm / control with its 95% interval (delta method for matched pairs: var log RR =
        (b + c) / ((a + b)(a + c)), a = both, b = arm only, c = control only)."""
        cells = [(None, o, *self.units[:, j]) for j, o in enumerate(UNIT_OUTCOMES)]
        cells += [(organ, o, self.arm[i, j], self.control[i, j], self.both[i, j])
                  for i, organ in enumerate(self.organs + ["any organ"]) for j, o in enumerate(ORGAN_OUTCOMES)]
        return [paired_row(organ, o, int(ka), int(kc), int(both), self.n) for organ, o, ka, kc, both in cells
                if ka or kc]


def paired_row(organ, outcome, ka: int, kc: int, both: int, n: int) -> dict:
    return {"organ": organ, "outcome": outcome, **stats.paired_contrast(ka, kc, both, n)}


def independent_row(organ, outcome, ka: int, kc: int, na: int, nc: int) -> dict:
    return {"organ": organ, "outcome": outcome, **stats.independent_contrast(ka, kc, na, nc)}
