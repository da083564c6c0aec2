"""Reading a run directory back: its metadata, and its tables as lazy pyarrow datasets."""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import scenario as _scenario
from ..runner import Arm, event_batch, run_units, seed_key
from .format import METADATA_KEY, PLAN, RUN, IncompleteRunError, RunDirError, checked, read_json


@dataclasses.dataclass(frozen=True)
class Run:
    """A run directory read back: its metadata, and its tables as lazy pyarrow datasets.

    ``fates`` and ``events`` (None without events) are ``pyarrow.dataset.Dataset``
    objects with the ``arm`` partition restored as a dictionary column in the
    run's arm order; nothing is read until asked (``.to_table(filter=...,
    columns=...)``, ``.to_batches()``).  ``metadata`` is run.json (plan.json for
    an incomplete run).
    """
    path: Path
    metadata: dict
    complete: bool

    @functools.cached_property
    def fates(self):
        return self._dataset("fates")

    @functools.cached_property
    def events(self):
        return self._dataset("events") if self.metadata["events"] else None

    @property
    def seed(self) -> int:
        return int(self.metadata["seed"])

    @property
    def scenario(self) -> _scenario.Scenario:
        return _scenario.loads(self.metadata["scenario"], f"{self.path}: scenario")

    def trace(self, unit_id: int, arm: str | None = None) -> pa.Table:
        """Replay one unit from the run's scenario and seed: its events, identical to its
        rows in an events run (``arm`` defaults to the run's first)."""
        arms = self.metadata["arms"]
        arm = arm or arms[0]
        if arm not in arms:
            raise ValueError(f"unknown arm {arm!r}; this run has: {', '.join(arms)}")
        if not 0 <= unit_id < self.metadata["n_units"]:
            raise ValueError(f"unit {unit_id} is not in this run (units 0 to {self.metadata['n_units'] - 1})")
        scenario = self.scenario
        one = Arm.of(scenario, arm)
        _, parts = run_units(one, seed_key(self.seed), unit_id, unit_id + 1, events=True)
        return pa.Table.from_batches([event_batch(one, scenario.arm_names(), p) for p in parts])

    def _dataset(self, table: str):
        import pyarrow.dataset as ds  # slow to import (~0.5 s): only readers of the data pay for it

        arm = pa.schema([("arm", pa.dictionary(pa.int32(), pa.string()))])
        hive = ds.partitioning(arm, flavor="hive", dictionaries={"arm": pa.array(self.metadata["arms"])})
        return ds.dataset(self.path / table, format="parquet", partitioning=hive)


def read_run(path, *, allow_incomplete: bool = False) -> Run:
    """Open a run directory.

    A complete run (its run.json) opens as is.  An incomplete one (no run.json: the run
    was interrupted, crashed, or is still going) raises ``IncompleteRunError``, whose
    message gives the resume command, unless ``allow_incomplete``: then the datasets
    hold the parts finished so far, ``complete`` is False and ``metadata`` is plan.json
    (no counts, timings or summary).  ``ctcsim inspect`` and ``ctcsim trace`` open runs
    this way; ``ctcsim summarize`` does not, so that a partial run is never summarised
    as if whole."""
    path = Path(path)
    if (path / RUN).is_file():
        return Run(path, read_json(path / RUN), True)
    if not (path / PLAN).is_file():
        raise RunDirError(f"{path}: not a ctcsim run directory (no {RUN})")
    if not allow_incomplete:
        raise IncompleteRunError(f"{path}: incomplete run (no {RUN}); finish it with: ctcsim run --resume {path}")
    return Run(path, read_json(path / PLAN), False)


def file_metadata(path) -> dict:
    """The run metadata stored in one Parquet file's schema (checked)."""
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise RunDirError(f"{path}: no {METADATA_KEY!r} metadata: not written by ctcsim")
    return checked(json.loads(raw), path)
