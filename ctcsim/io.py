"""Run directories: writing a run part by part, resuming it, and reading it back.

Layout (format "ctcsim-run" 1.0, documented in docs/RUNS.md)::

    DIR/plan.json                            the run's metadata, written first; removed at the end
    DIR/fates/arm=NAME/part-00000.parquet    one row per unit, in unit order
    DIR/events/arm=NAME/part-00000.parquet   only with events: one row per event
    DIR/run.json                             written last: metadata, counts, timings, summary

Part ``p`` of an arm holds the units of chunks ``p * chunks_per_part`` up to the
next part, so a fates part under its final name is finished work.  Parts are
written under a hidden temporary name (``.part-00000.parquet.tmp``, which
pyarrow, pandas, polars and DuckDB globs skip) and renamed when closed, the
events part before the fates part.  A directory without run.json is
incomplete; ``prepare_resume`` + ``execute`` re-run only the parts without a
fates file, and since every unit's random numbers depend only on the seed and
its id, the result equals an uninterrupted run.

Every Parquet file carries the run metadata as one JSON document under the
schema-metadata key ``ctcsim`` (``FORMAT``, ``FORMAT_VERSION``; readers check
both), so a single file copied elsewhere still says what produced it.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import functools
import json
import logging
import os
import platform
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import _core
from . import scenario as _scenario
from ._version import __version__
from .analysis import COLUMNS as SUMMARY_COLUMNS
from .analysis import Tally
from .compile import compile_model
from .simulate import DEFAULT_CHUNK, Arm, event_batch, fate_batch, iter_batches, new_seed, run_units, seed_key

FORMAT = "ctcsim-run"
FORMAT_VERSION = "1.0"
METADATA_KEY = "ctcsim"
# Each write makes a row group (DESIGN 6), so rows are held back to whole groups.  Measured
# on 1e7 units (docs/RUNS.md): DuckDB and polars queries take the same time with 2**18 rows
# per group as with 2**20, files are 1.4% larger, and the writer holds 4x fewer rows, which
# keeps peak memory flat from small runs to large ones.
ROW_GROUP_ROWS = 1 << 18
PART_UNITS = 1 << 20  # units per part file and arm: what a resume may have to redo
PLAN, RUN = "plan.json", "run.json"
MAX_PENDING_WRITES = 4  # batches waiting per table's writer thread: bounds the memory they hold
# Parquet encodings, measured on the default scenario's output (docs/RUNS.md): zstd 1 with
# dictionaries on categorical columns only (DESIGN 6); sorted unit ids delta-encoded;
# min/max statistics only where they prune row groups (unit ids), as statistics on every
# column cost a quarter of the write time.
ENCODINGS = {"unit_id": "DELTA_BINARY_PACKED"}
STATISTICS = {"unit_id"}
_OWN = {"fates", "events", PLAN, RUN, f".{PLAN}.tmp", f".{RUN}.tmp"}
_PARTITION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # DESIGN 6: Spark garbles others

log = logging.getLogger("ctcsim")
Progress = Callable[[int, int], None]  # (units done, units in the run)


class RunDirError(ValueError):
    """A run directory that cannot be created, resumed or read; the message says why."""


class IncompleteRunError(RunDirError):
    """The directory has no run.json: the run was interrupted or is still going."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """A run directory ready to (re)start: where it is, its metadata, the scenario it runs."""
    path: Path
    metadata: dict
    scenario: _scenario.Scenario

    def done_parts(self) -> set[tuple[str, int]]:
        """(arm, part) pairs whose fates file exists under its final name."""
        return {(arm, int(p.stem.split("-")[1])) for arm in self.metadata["arms"]
                for p in (self.path / "fates" / f"arm={arm}").glob("part-*.parquet")}


def prepare_run(path, scenario: _scenario.Scenario, n_units: int, seed: int | None = None, *,
                arms=None, events: bool = False, chunk_size: int = DEFAULT_CHUNK,
                overwrite: bool = False) -> Plan:
    """Check every input, then create the run directory with its plan.json.

    Bad input raises ``ValueError`` (``ScenarioError``, ``RunDirError``) before
    anything is written.  ``overwrite`` replaces a previous run in ``path``
    (never a directory holding anything else).
    """
    if isinstance(n_units, bool) or not isinstance(n_units, int) or n_units < 1:
        raise ValueError(f"units: expected a positive integer, got {n_units!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk size: expected a positive integer, got {chunk_size!r}")
    seed = new_seed() if seed is None else seed
    seed_key(seed)  # raises for a seed outside [0, 2**128)
    arms = list(dict.fromkeys(arms or scenario.arm_names()))
    for arm in arms:
        if arm not in scenario.arm_names():
            raise ValueError(f"unknown arm {arm!r}; scenario {scenario.name!r} has: {', '.join(scenario.arm_names())}")
        if not _PARTITION_VALUE.match(arm):
            raise ValueError(f"arm {arm!r} cannot name a partition: use letters, digits, '.', '_' or '-'")
    text, scenario = _replayable(scenario)
    for arm in arms:
        compile_model(scenario, arm)
    path = Path(path)
    old = _previous_run(path, overwrite)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ctcsim_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "scenario_name": scenario.name,
        "scenario": text,
        "seed": str(seed),  # decimal text: 128 bits do not survive JSON readers' doubles
        "n_units": n_units,
        "arms": arms,
        "events": bool(events),
        "chunk_size": chunk_size,
        "chunks_per_part": max(1, PART_UNITS // chunk_size),
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "pyarrow": pa.__version__},
    }
    created = not path.exists()
    try:
        for p in old:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        for table in ("fates", "events") if events else ("fates",):
            (path / table).mkdir(parents=True)
        _write_json(path / PLAN, metadata)
    except OSError as e:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise RunDirError(f"{path}: cannot write the output directory: {e.strerror}") from None
    return Plan(path, metadata, scenario)


def prepare_resume(path) -> Plan:
    """Reopen an unfinished run directory: check it, and delete the temporary part files
    its interrupted writer left behind."""
    path = Path(path)
    if (path / RUN).is_file():
        raise RunDirError(f"{path}: the run is already complete")
    if not (path / PLAN).is_file():
        raise RunDirError(f"{path}: not an unfinished ctcsim run (no {PLAN})")
    metadata = _read_json(path / PLAN)
    if metadata["ctcsim_version"] != __version__:
        raise RunDirError(f"{path}: started by ctcsim {metadata['ctcsim_version']}; resume it with that "
                          f"version to get the same output (this is {__version__})")
    scenario = _scenario.loads(metadata["scenario"], f"{path / PLAN}: scenario")
    _remove_temporaries(path)
    return Plan(path, metadata, scenario)


def is_complete(path) -> bool:
    """Whether ``path`` holds a finished run (its run.json)."""
    return (Path(path) / RUN).is_file()


def execute(plan: Plan, *, threads: int | None = None, progress: Progress | None = None) -> "Run":
    """Simulate the parts of ``plan`` not yet done, write run.json, and return the run.

    On any exception (KeyboardInterrupt included) the part being written is
    deleted and finished parts are kept, ready for ``prepare_resume``.
    """
    md = plan.metadata
    n, arms, per_part = md["n_units"], md["arms"], md["chunks_per_part"]
    n_chunks = -(-n // md["chunk_size"])

    def chunks_of(part: int) -> range:
        return range(part * per_part, min((part + 1) * per_part, n_chunks))

    done = plan.done_parts()
    tally, event_rows = _count_done(plan, done)
    skip = {(arm, c) for arm, p in done for c in chunks_of(p)}
    units_before = units_done = sum(tally.n().values())
    units_total = n * len(arms)
    if done:
        log.info("resuming %s: %d of %d parts done", plan.path, len(done), len(arms) * -(-n_chunks // per_part))
    schemas = _schemas(plan.scenario, md)
    started, t0 = _now(), time.monotonic()
    if progress:
        progress(units_done, units_total)
    part = None
    writers = _Writers(schemas)
    batches = iter_batches(plan.scenario, n, int(md["seed"]), arms=arms, events=md["events"], threads=threads,
                           chunk_size=md["chunk_size"], skip=skip)
    try:
        for arm, c, fates, events in batches:
            if part is None:
                part = _Part(plan.path, arm, c // per_part, schemas, writers)
            part.write(fates, events)
            tally.add(fates)
            event_rows[arm] += sum(b.num_rows for b in events)
            if c == chunks_of(c // per_part)[-1]:
                part.close()
                part = None
            units_done += fates.num_rows
            if progress:
                progress(units_done, units_total)
        writers.drain()
    except BaseException:
        writers.shutdown()
        if part is not None:
            part.close_writers()
        # All of them: an interrupt can also land between creating a part's file and `part = ...`.
        _remove_temporaries(plan.path)
        raise
    finally:
        batches.close()  # stop the workers now, not when the generator is collected
        writers.shutdown()
    wall_s = time.monotonic() - t0
    simulated = units_done - units_before
    record = {
        **md,
        "counts": {"units": tally.n(), "event_rows": event_rows if md["events"] else None,
                   "bytes": {t: _size(plan.path / t) for t in ("fates", "events") if (plan.path / t).exists()}},
        "timings": {"started": started, "finished": _now(), "wall_s": wall_s, "threads": threads or os.cpu_count(),
                    "units_simulated": simulated, "units_per_s": simulated / wall_s if wall_s > 0 else None,
                    "resumed": bool(done)},
        "summary": tally.summary(),
    }
    _write_json(plan.path / RUN, record)
    (plan.path / PLAN).unlink()
    return read_run(plan.path)


def _count_done(plan: Plan, done) -> tuple[Tally, dict[str, int]]:
    """The tally of the finished parts' fates and their event rows (when resuming)."""
    tally = Tally(plan.metadata["arms"])
    event_rows = dict.fromkeys(plan.metadata["arms"], 0)
    for arm, p in sorted(done):
        fates = pq.read_table(part_path(plan.path, "fates", arm, p), columns=[c for c in SUMMARY_COLUMNS if c != "arm"])
        tally.add(_with_arm(fates, arm))
        if plan.metadata["events"]:
            event_rows[arm] += pq.read_metadata(part_path(plan.path, "events", arm, p)).num_rows
    return tally, event_rows


def write_run(path, scenario, n_units, seed=None, *, arms=None, events=False, threads=None,
              chunk_size=DEFAULT_CHUNK, overwrite=False, progress: Progress | None = None) -> "Run":
    """Simulate a run into the directory ``path`` and return it (``prepare_run`` + ``execute``)."""
    plan = prepare_run(path, scenario, n_units, seed, arms=arms, events=events, chunk_size=chunk_size,
                       overwrite=overwrite)
    return execute(plan, threads=threads, progress=progress)


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
    """Open a run directory.  An incomplete one (no run.json) raises
    ``IncompleteRunError`` unless ``allow_incomplete``: then the datasets hold
    the finished parts only."""
    path = Path(path)
    if (path / RUN).is_file():
        return Run(path, _read_json(path / RUN), True)
    if not (path / PLAN).is_file():
        raise RunDirError(f"{path}: not a ctcsim run directory (no {RUN})")
    if not allow_incomplete:
        raise IncompleteRunError(f"{path}: incomplete run (no {RUN}); finish it with: ctcsim run --resume {path}")
    return Run(path, _read_json(path / PLAN), False)


def file_metadata(path) -> dict:
    """The run metadata stored in one Parquet file's schema (checked)."""
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise RunDirError(f"{path}: no {METADATA_KEY!r} metadata: not written by ctcsim")
    return _checked(json.loads(raw), path)


def parquet_writer(path, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer with the run format's settings (see ENCODINGS)."""
    return pq.ParquetWriter(
        path, schema, compression="zstd", compression_level=1,
        use_dictionary=[f.name for f in schema if pa.types.is_dictionary(f.type)],
        column_encoding={f.name: ENCODINGS[f.name] for f in schema if f.name in ENCODINGS},
        write_statistics=[f.name for f in schema if f.name in STATISTICS])


def part_path(root: Path, table: str, arm: str, part: int) -> Path:
    return Path(root) / table / f"arm={arm}" / f"part-{part:05d}.parquet"


class _PartFile:
    """One Parquet file, written under a hidden temporary name and renamed when closed.

    Each ``write_table`` starts a row group, so rows are held back until a full
    group of ``ROW_GROUP_ROWS`` is ready.
    """

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.tmp = path, path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = parquet_writer(self.tmp, schema)
        self.held: list[pa.RecordBatch] = []
        self.held_rows = 0

    def write(self, batch: pa.RecordBatch):
        self.held.append(batch.drop_columns(["arm"]))
        self.held_rows += batch.num_rows
        if self.held_rows >= ROW_GROUP_ROWS:
            self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool):
        table = pa.Table.from_batches(self.held, schema=self.writer.schema)
        n = table.num_rows // ROW_GROUP_ROWS * ROW_GROUP_ROWS if whole_groups_only else table.num_rows
        self.writer.write_table(table.slice(0, n), row_group_size=ROW_GROUP_ROWS)
        self.held, self.held_rows = table.slice(n).to_batches(), table.num_rows - n

    def close(self):
        if self.held_rows:
            self._flush(whole_groups_only=False)
        self.writer.close()
        os.replace(self.tmp, self.path)

    def close_writer(self):
        """Release the temporary file without finishing it (the caller deletes it)."""
        with contextlib.suppress(Exception):
            self.writer.close()


class _Writers:
    """One writer thread per table (fates, events).  Parquet encoding and compression release
    the GIL, so writing overlaps simulation and the two tables are written at once; each
    table's writes stay in order on its own thread.  At most ``MAX_PENDING_WRITES`` wait per
    table, so memory stays bounded; a writer's error is raised here, at the next submit or
    at ``drain``."""

    def __init__(self, tables):
        self.pools = {t: ThreadPoolExecutor(1, thread_name_prefix=f"ctcsim-{t}") for t in tables}
        self.pending = {t: collections.deque() for t in tables}

    def submit(self, table: str, fn, *args):
        queue = self.pending[table]
        while len(queue) >= MAX_PENDING_WRITES:
            queue.popleft().result()
        future = self.pools[table].submit(fn, *args)
        queue.append(future)
        return future

    def drain(self):
        for queue in self.pending.values():
            while queue:
                queue.popleft().result()

    def shutdown(self):
        """Finish what is queued (a few batches at most), so that a part whose last chunk
        was handed over is still completed after an interrupt; errors stay in the futures."""
        for pool in self.pools.values():
            pool.shutdown(wait=True)


class _Part:
    """The fates file (and events file) of one part of one arm, written on the writer threads."""

    def __init__(self, root: Path, arm: str, index: int, schemas: dict, writers: _Writers):
        self.files = {t: _PartFile(part_path(root, t, arm, index), s) for t, s in schemas.items()}
        self.writers = writers

    def write(self, fates: pa.RecordBatch, events: list[pa.RecordBatch]):
        self.writers.submit("fates", self.files["fates"].write, fates)
        for batch in events:
            self.writers.submit("events", self.files["events"].write, batch)

    def close(self):
        # Fates last: a fates file under its final name is what marks the part done.
        events = self.writers.submit("events", self.files["events"].close) if "events" in self.files else None
        self.writers.submit("fates", _close_after, self.files["fates"], events)

    def close_writers(self):
        for f in self.files.values():
            f.close_writer()


def _close_after(file: _PartFile, first):
    if first is not None:
        first.result()  # the events file is renamed before the fates file marks the part done
    file.close()


def _schemas(scenario, metadata) -> dict[str, pa.Schema]:
    """File schemas of the run's tables: the batches' columns less the arm (the partition),
    with the run metadata."""
    arm = Arm.of(scenario, metadata["arms"][0])
    arms = scenario.arm_names()
    tables = {"fates": fate_batch(arm, arms, _core.new_fate_buffers(0))}
    if metadata["events"]:
        tables["events"] = event_batch(arm, arms, _core.new_event_buffers(0))
    doc = json.dumps(metadata).encode()
    return {t: b.drop_columns(["arm"]).schema.with_metadata({METADATA_KEY: doc}) for t, b in tables.items()}


def _replayable(s: _scenario.Scenario) -> tuple[str, _scenario.Scenario]:
    """The scenario as self-contained TOML (built-in anatomy and primary written inline, so
    later changes to built-in data cannot change a replay), and the scenario read back
    from that text, which is what runs: a resume and a trace read the same text."""
    inline = dataclasses.replace(s, anatomy=s.resolved_anatomy(), primary=s.resolved_primary())
    text = _scenario.dumps(inline)
    return text, _scenario.loads(text, f"<resolved scenario {s.name}>")


def _remove_temporaries(path: Path):
    for tmp in Path(path).glob("*/arm=*/.part-*.tmp"):
        tmp.unlink(missing_ok=True)


def _previous_run(path: Path, overwrite: bool) -> list[Path]:
    """What must go before a run is written to ``path``; refuses anything but a previous run."""
    if not path.exists():
        return []
    if not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a directory")
    entries = sorted(path.iterdir())
    if entries and not overwrite:
        raise RunDirError(f"{path}: output directory is not empty; choose another, overwrite it, or resume it")
    foreign = [p.name for p in entries if p.name not in _OWN]
    if foreign:
        raise RunDirError(f"{path}: holds files that are not from a ctcsim run ({', '.join(foreign[:3])}); "
                          "refusing to overwrite")
    return entries


def _with_arm(table: pa.Table, arm: str) -> pa.Table:
    codes = pa.array(np.zeros(table.num_rows, np.int32))
    return table.append_column("arm", pa.DictionaryArray.from_arrays(codes, pa.array([arm])))


def _checked(metadata, where) -> dict:
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise RunDirError(f"{where}: not ctcsim run metadata")
    version = str(metadata.get("format_version"))
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise RunDirError(f"{where}: run format {version}; this ctcsim reads format {FORMAT_VERSION}")
    return metadata


def _read_json(path: Path) -> dict:
    try:
        return _checked(json.loads(path.read_text()), path)
    except (OSError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path}: unreadable: {e}") from None


def _write_json(path: Path, doc: dict):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
