"""ctcsim: exact stochastic simulation of circulating tumour cells."""
from ._version import __version__
from .checks import ScenarioError
from .runner import simulate
from .scenario import Scenario
from .scenario import load as load_scenario

__all__ = ["Scenario", "ScenarioError", "__version__", "load_scenario", "read_run", "simulate"]


def __getattr__(name):
    # read_run pulls in pyarrow.dataset (~0.5 s): only code that reads runs pays for it.
    if name == "read_run":
        from .rundir import read_run
        return read_run
    raise AttributeError(f"module 'ctcsim' has no attribute {name!r}")
