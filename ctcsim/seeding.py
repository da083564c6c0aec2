"""A run's seed and its number of units: a fresh seed, its Philox key, the count a shedding
scenario sheds (from the seed), the default count, and the settings a run overrides
(``ctcsim run --primary``, ``--t-max``).  ``runner`` simulates with them."""
from __future__ import annotations

import secrets

import numpy as np

from .compile import expected_units
from .scenario import Scenario, from_dict, origin

DEFAULT_UNITS = 100_000          # units per arm of a run that does not say (unless it sheds)


def new_seed() -> int:
    """A fresh 128-bit seed from the OS (recorded by whoever runs with it)."""
    return secrets.randbits(128)


SHEDDING_STREAM = (2**64 - 1, 3)  # (unit word, stream word) of the draw of the number shed


def shed_units(scenario: Scenario, seed: int) -> int:
    """The number of units a shedding scenario sheds: Poisson(expected_units), from the seed.

    It has its own Philox stream (a unit id no real unit has), so it is reproducible and
    independent of every unit's draws."""
    lam = expected_units(scenario)
    unit, stream = SHEDDING_STREAM
    bits = np.random.Philox(key=np.array(seed_key(seed), np.uint64),
                            counter=np.array([0, unit, stream, 0], np.uint64))
    return int(np.random.Generator(bits).poisson(lam))


def default_units(scenario: Scenario, seed: int) -> int:
    """Units per arm when a run does not say: a shedding scenario's own number (``shed_units``,
    drawn from the seed), else ``DEFAULT_UNITS``."""
    return shed_units(scenario, seed) if scenario.entry.mode == "shedding" else DEFAULT_UNITS


def with_settings(scenario: Scenario, *, primary: str | None = None, t_max_s: float | None = None) -> Scenario:
    """The scenario with another primary tumour (a built-in name) or end of observation,
    validated as a whole: errors name the setting (``ctcsim run --primary``, ``--t-max``)."""
    given = {k: v for k, v in (("primary", primary), ("t_max_s", t_max_s)) if v is not None}
    if not given:
        return scenario
    where = f"{origin(scenario)} with " + ", ".join(
        f"{'--primary' if k == 'primary' else '--t-max'} {v}" for k, v in given.items())
    return from_dict({**scenario.to_dict(), **given}, where)


def seed_key(seed: int) -> tuple[int, int]:
    """The Philox key of a seed: its low and high 64-bit words."""
    if not isinstance(seed, (int, np.integer)) or seed < 0 or seed >= 1 << 128:
        raise ValueError(f"seed must be an integer in [0, 2**128), got {seed!r}")
    seed = int(seed)
    return seed & ((1 << 64) - 1), seed >> 64
