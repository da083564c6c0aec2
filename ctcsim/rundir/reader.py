"""Reading a run directory back: its metadata, and its tables as lazy pyarrow datasets."""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pyarrow as pa

from .. import scenario as _scenario
from ..runner import Arm, event_batch, run_units, seed_key
from . import parts
from .format import PLAN, RUN, TABLES, DamagedRunError, IncompleteRunError, RunDirError, read_json, validate


@dataclasses.dataclass(frozen=True, repr=False)
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

    def __repr__(self) -> str:
        # One line: the dataclass's own repr printed all of run.json (50 kB for the default scenario).
        md = self.metadata
        return (f"Run({str(self.path)!r}: {md['scenario_name']}, {md['n_units']:,} units x {len(md['arms'])} arm(s) "
                f"({', '.join(md['arms'])}), seed {md['seed']}{'' if self.complete else ', INCOMPLETE'})")

    def summary(self):
        """The run's answers as tables, with figures on demand (``ctcsim.report.notebook.Summary``)."""
        from ..report.notebook import Summary

        return Summary(self)

    def verify(self, tables=TABLES):
        """Check every byte of the recorded files of ``tables`` against its sha256 checksum
        (format 1.1; format 1.0 recorded none): ``DamagedRunError`` names the first that
        differs.  Sizes, row counts and metadata were checked when the run was opened."""
        problems = parts.check(self.path, self.metadata, complete=self.complete, checksums=True, tables=tables)
        if problems:
            raise DamagedRunError(damage_message(self.path, problems))

    @property
    def checksummed(self) -> bool:
        return "parts" in self.metadata

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

    def trace(self, unit_id: int, arm: str | None = None, *, with_fate: bool = False):
        """Replay one unit from the run's scenario and seed: its events, identical to its
        rows in an events run (``arm`` defaults to the run's first).  ``with_fate``: also its
        fate row as the core wrote it (column -> value, codes not decoded), first."""
        arms = self.metadata["arms"]
        arm = arm or arms[0]
        if arm not in arms:
            raise ValueError(f"unknown arm {arm!r}; this run has: {', '.join(arms)}")
        if not 0 <= unit_id < self.metadata["n_units"]:
            raise ValueError(f"unit {unit_id} is not in this run (units 0 to {self.metadata['n_units'] - 1})")
        scenario = self.scenario
        one = Arm.of(scenario, arm)
        fates, parts = run_units(one, seed_key(self.seed), unit_id, unit_id + 1, events=True)
        events = pa.Table.from_batches([event_batch(one, scenario.arm_names(), p) for p in parts])
        return ({k: v[0].item() for k, v in fates.items()}, events) if with_fate else events

    def _dataset(self, table: str):
        import pyarrow.dataset as ds  # slow to import (~0.5 s): only readers of the data pay for it

        arm = pa.schema([("arm", pa.dictionary(pa.int32(), pa.string()))])
        hive = ds.partitioning(arm, flavor="hive", dictionaries={"arm": pa.array(self.metadata["arms"])})
        # The recorded files only: an incomplete run's part still being written is not read.
        files = sorted(str(self.path / rel) for rel in parts.recorded(self.path, self.metadata, self.complete)
                       if rel.startswith(f"{table}/"))
        return ds.dataset(files, format="parquet", partitioning=hive, partition_base_dir=str(self.path / table))


def read_run(path, *, allow_incomplete: bool = False) -> Run:
    """Open a run directory, checking that its part files are exactly the ones it records,
    with their sizes, row counts and run metadata (``DamagedRunError`` names the first
    file missing, truncated, damaged, from another run or extra; ``Run.verify`` checks
    the checksums too).

    A complete run (its run.json) opens as is.  An incomplete one (no run.json: the run
    was interrupted, crashed, or is still going) raises ``IncompleteRunError``, whose
    message gives the resume command, unless ``allow_incomplete``: then the datasets
    hold the parts finished so far, ``complete`` is False and ``metadata`` is plan.json
    (no counts, timings or summary).  ``ctcsim inspect`` and ``ctcsim trace`` open runs
    this way; ``ctcsim summarize`` does not, so that a partial run is never summarised
    as if whole."""
    doc, complete = _document(Path(path), allow_incomplete)
    problems = parts.check(Path(path), doc, complete=complete)
    if problems:
        raise DamagedRunError(damage_message(Path(path), problems))
    return Run(Path(path), doc, complete)


def problems(path) -> tuple[Run, list]:
    """Every problem of a run's files, checksums included (``ctcsim check``): the run as
    recorded (complete or not) and the list of ``parts.Problem``."""
    doc, complete = _document(Path(path), True)
    return Run(Path(path), doc, complete), parts.check(Path(path), doc, complete=complete, checksums=True)


def _document(path: Path, allow_incomplete: bool) -> tuple[dict, bool]:
    if (path / RUN).is_file():
        return read_json(path / RUN, True), True
    if (path / PLAN).is_file():
        if not allow_incomplete:
            raise IncompleteRunError(f"{path}: incomplete run (no {RUN}); finish it with: ctcsim run --resume {path}")
        return read_json(path / PLAN, False), False
    if path.is_dir() and any(parts.parse(rel) for rel in parts.listing(path)):
        raise DamagedRunError(f"{path}: {RUN} and {PLAN} are missing but part files remain; rebuild the run "
                              f"with: ctcsim run --resume {path}")
    raise RunDirError(f"{path}: not a ctcsim run directory (no {RUN})")


def damage_message(path: Path, problems: list) -> str:
    """One line: the first problem, how many more, and what to do."""
    more = f" (and {len(problems) - 1} more: ctcsim check {path} lists them)" if len(problems) > 1 else ""
    fix = f"; repair it with: ctcsim run --resume {path}" if problems[0].kind not in ("extra", "foreign") else ""
    return f"{path}: damaged run: {problems[0]}{more}{fix}"


def file_metadata(path) -> dict:
    """The run metadata stored in one Parquet file's footer (checked)."""
    try:
        md = parts.run_metadata(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise RunDirError(f"{path}: not a readable Parquet file ({e})") from None
    if md is None:
        raise RunDirError(f"{path}: no ctcsim metadata: not written by ctcsim")
    return validate(md, path, None)
