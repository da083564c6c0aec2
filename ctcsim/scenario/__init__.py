"""Scenarios: what is simulated, as validated dataclasses read from and written to TOML.

A scenario names an anatomy (built-in or inline), a primary tumour (built-in or
inline), the CTC biology, how units enter the blood, tropism factors and arms.

- ``schema``: the dataclasses, every key with its type, default, range and source (the
  biology's are in ``ctcsim.biology``);
- ``validation``: ``validate(scenario)``, for a Scenario however it was built;
- ``files``: TOML in and out (``load``, ``loads``, ``from_dict``, ``dumps``), built-ins;
- ``show``: a scenario as commented TOML to edit and run (``ctcsim scenario show``);
- ``notes``: what validate and run tell the user about a valid scenario.
"""
from .files import (DEFAULT_SCENARIO, builtin_scenario, builtin_scenario_names, builtin_scenario_text, dumps,
                    from_dict, load, loads)
from .schema import (MULTIPLIABLE, SOIL_FACTORS, Arm, Biology, Entry, Primary, Scenario, builtin_primaries,
                     builtin_primary, origin)
from .validation import validate

__all__ = ["DEFAULT_SCENARIO", "MULTIPLIABLE", "SOIL_FACTORS", "Arm", "Biology", "Entry", "Primary", "Scenario",
           "builtin_primaries", "builtin_primary", "builtin_scenario", "builtin_scenario_names",
           "builtin_scenario_text", "dumps",
           "from_dict", "load", "loads", "origin", "validate"]
