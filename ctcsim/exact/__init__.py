"""The single-unit master equation, solved without simulating (DESIGN 7).

- ``circulation``: outcome probabilities of the circulating phase (also by unit kind), their
  CDFs in age, mean times and steps, over the stacked generator of ``generator`` and the entry nodes of
  ``entry``, solved by ``forward`` (linear solves, matrix exponentials, Radau);
- ``capillary``: with release from arrest, the capillary states join the circulation chain;
- ``post_arrest``: the chain after arrest (or, with release, after extravasation), up to the macrometastasis;
- ``colony``: birth-death colonies (extinction, time to the micrometastasis, growth time);
- ``arms``: delayed arms, the master equation in two pieces before and after the switch.

Every solver takes the caller's accuracy (``rtol``, ``atol``); the defaults are far beyond
what any simulation resolves.  Semantics: ``ctcsim.model``.
"""
from .circulation import (absorption_cdf, arm_outcomes, mean_absorption_time_s, mean_steps, outcome_probabilities,
                          extravasations_by_kind, outcome_probabilities_by_kind)
from .colony import colony_extinction_probability, grow_time_cdf, time_to_micrometastasis_cdf
from .forward import ATOL, MASS_LEFT, RTOL
from .generator import outcomes
from .post_arrest import extravasated_probabilities, post_arrest_probabilities

__all__ = ["outcomes", "arm_outcomes", "outcome_probabilities", "outcome_probabilities_by_kind",
           "extravasations_by_kind", "absorption_cdf",
           "mean_absorption_time_s", "mean_steps",
           "post_arrest_probabilities", "extravasated_probabilities", "colony_extinction_probability", "time_to_micrometastasis_cdf",
           "grow_time_cdf", "MASS_LEFT", "RTOL", "ATOL"]
