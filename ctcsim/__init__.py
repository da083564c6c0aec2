"""ctcsim: exact stochastic simulation of circulating tumour cells."""
from ._version import __version__

__all__ = ["Scenario", "ScenarioError", "__version__", "load_scenario", "read_run", "simulate"]
_LAZY = {"simulate": ("runner", "simulate"), "Scenario": ("scenario", "Scenario"),
         "load_scenario": ("scenario", "load"), "ScenarioError": ("checks", "ScenarioError"),
         "read_run": ("rundir", "read_run")}


def __getattr__(name):
    # Loaded when first used: importing ctcsim (which every command does first, before it
    # can catch a Ctrl-C) stays instant, and only code that reads runs pays for pyarrow.dataset.
    if name not in _LAZY:
        raise AttributeError(f"module 'ctcsim' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    return getattr(importlib.import_module(f".{module}", __name__), attr)
