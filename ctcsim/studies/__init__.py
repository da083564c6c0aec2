"""Studies: many runs of one scenario, paired, summarised in tables (docs/STUDIES.md).

- ``paths``: every scenario number by a dotted path; ``with_values`` makes a validated scenario;
- ``study``: study files (the scenario, what varies, the design, outputs, targets);
- ``designs``: grid, Latin hypercube and Sobol' designs;
- ``sweep``: every point of a design on the same units and seed, into a study directory;
- ``tables``: the study's Parquet tables (counts with intervals; paired neighbour differences);
- ``outputs``: outcomes counted per arm and organ, and the exact probabilities of outputs;
- ``sensitivity``: Sobol' indices and Morris screening with SALib;
- ``calibrate``: maximum likelihood with profile-likelihood intervals;
- ``executor``: chunks of units as tasks, on local threads or a Dask cluster.

Import the modules (``from ctcsim.studies import sweep``); ``load``, ``from_dict`` and
``Study`` are here too.  Nothing is imported before it is used: ``ctcsim run`` reaches the
executor through this package, and must not pay for scipy's optimisers.
"""
__all__ = ["Study", "from_dict", "load"]


def __getattr__(name):
    if name not in __all__:
        raise AttributeError(f"module 'ctcsim.studies' has no attribute {name!r}")
    from . import study
    return getattr(study, name)
