"""Sweeps: a scenario simulated at every point of a design, on the same unit ids with the same
seed (common random numbers), so that differences between points are paired.

A study directory (format "ctcsim-study" 1.0, docs/STUDIES.md)::

    DIR/study.json                    what the study is (scenario text, parameters, points,
                                      units, seed, versions); "complete" once the tables exist
    DIR/points/point-00000.parquet    one point's outcomes, one row per unit and arm, in unit order
    DIR/table.parquet                 point x parameter values x arm x outcome x organ ->
                                      count, n, fraction, 95% Wilson interval
    DIR/differences.parquet           grid designs: neighbouring points' paired differences
    DIR/runs/point-00000/             with runs=True: each point's full run directory

A point's file is written under a temporary name and renamed when complete, so an
interrupted sweep resumes (``resume`` + ``execute``) where it stopped, with the same bytes.
Chunks of units are the tasks, on threads or Dask (``executor``).
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import os
import platform
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import scenario as _scenario
from .._version import __version__
from ..runner import DEFAULT_CHUNK
from . import designs, outputs, paths
from .tables import DIFFERENCES, TABLE, write_tables
from .executor import MILESTONES, SLIM_COLUMNS, ChunkJob, Executor, local, outcome_chunk

FORMAT, FORMAT_VERSION = "ctcsim-study", "1.0"
STUDY = "study.json"
Progress = Callable[[int, int, int], None]  # (points done, points in the study, units simulated so far)


class StudyDirError(ValueError):
    """A study directory that cannot be created, resumed or read; the message says why."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """A study directory ready to (re)start: its path and its study.json."""
    path: Path
    metadata: dict

    @property
    def n_points(self) -> int:
        return len(self.metadata["points"])

    def point_path(self, i: int) -> Path:
        return self.path / "points" / f"point-{i:05d}.parquet"

    def done(self) -> set[int]:
        return {i for i in range(self.n_points) if self.point_path(i).is_file()}

    def scenario(self, i: int | None = None) -> _scenario.Scenario:
        """The base scenario, or point ``i``'s (the base with the point's values)."""
        md = self.metadata
        s = _base_scenario(md["scenario"], f"{self.path / STUDY}: scenario")
        if i is None:
            return s
        return paths.with_values(s, dict(zip(md["parameters"], md["points"][i])), str(self.path / STUDY),
                                 f"points[{i}]")


@functools.lru_cache(maxsize=4)
def _base_scenario(text: str, where: str) -> _scenario.Scenario:
    return _scenario.loads(text, where)  # scenarios are frozen: one parse serves every point


def point_scenarios(study, values: np.ndarray) -> list[_scenario.Scenario]:
    """Each design point's scenario, validated (a point the scenario refuses is a one-line error)."""
    names = [p.path for p in study.parameters]
    return [paths.with_values(study.scenario, dict(zip(names, row)), study.where, f"design point {i}")
            for i, row in enumerate(values)]


def prepare(study, out, *, values: np.ndarray | None = None, kind: str = "sweep", runs: bool = False,
            overwrite: bool = False, extra: dict | None = None, checked: bool = False) -> Plan:
    """Check the study (every point must make a valid scenario), then create its directory.

    ``values`` [points, parameters] defaults to the study's design; ``extra`` is stored in
    study.json (a sensitivity analysis keeps its design there); ``checked``: the caller has
    made every point's scenario with ``point_scenarios`` already."""
    values = designs.points(study) if values is None else np.asarray(values, dtype=float)
    names = [p.path for p in study.parameters]
    if not checked:
        point_scenarios(study, values)
    path = Path(out)
    if path.exists():
        if not overwrite and any(path.iterdir()):
            raise StudyDirError(f"{path}: not empty; choose another directory, overwrite it, or resume it")
        if overwrite and any(path.iterdir()) and not (path / STUDY).is_file():
            raise StudyDirError(f"{path}: not a ctcsim study directory; refusing to overwrite it")
        shutil.rmtree(path)
    metadata = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "ctcsim_version": __version__, "kind": kind,
        "name": study.name, "created": _now(), "study_file": study.where,
        "scenario": _scenario.dumps(study.scenario), "units": study.units, "seed": str(study.seed),
        "arms": study.arms, "parameters": names, "design": dataclasses.asdict(study.design),
        "points": values.tolist(), "grid_sizes": designs.grid_sizes(study) if kind == "sweep" else None, "runs": runs, "chunk_size": DEFAULT_CHUNK, "complete": False,
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "pyarrow": pa.__version__},
        **(extra or {}),
    }
    try:
        (path / "points").mkdir(parents=True)
        write_json(path / STUDY, metadata)
    except OSError as e:
        raise StudyDirError(f"{path}: cannot write the study directory: {e.strerror}") from None
    return Plan(path, metadata)


def resume(path) -> Plan:
    """Reopen a study directory, dropping the temporary file an interrupted point left."""
    path = Path(path)
    md = read_metadata(path)
    if md["ctcsim_version"] != __version__:
        raise StudyDirError(f"{path}: started by ctcsim {md['ctcsim_version']}; resume it with that version "
                            f"to get the same output (this is {__version__})")
    for tmp in (path / "points").glob(".point-*.tmp"):
        tmp.unlink()
    return Plan(path, md)


def execute(plan: Plan, executor: Executor | None = None, progress: Progress | None = None) -> "Sweep":
    """Simulate the points not yet done, then write the tables; return the sweep."""
    own = executor is None
    executor = executor or local()
    try:
        _run_points(plan, executor, progress)
    finally:
        if own:
            executor.close()
    write_tables(plan)
    plan.metadata.update(complete=True, finished=_now())
    write_json(plan.path / STUDY, plan.metadata)
    return read(plan.path)


def run(study, out, *, executor: Executor | None = None, runs: bool = False, overwrite: bool = False,
        progress: Progress | None = None) -> "Sweep":
    """A sweep of ``study`` into the directory ``out`` (``prepare`` + ``execute``)."""
    return execute(prepare(study, out, runs=runs, overwrite=overwrite), executor, progress)


def simulate_counts(s: _scenario.Scenario, arms: list[str], units: int, seed: int,
                    executor: Executor | None = None) -> outputs.Counts:
    """The counts of one scenario: ``units`` units of each arm from ``seed``, chunks on ``executor``."""
    text = _scenario.dumps(s)
    jobs = [ChunkJob(text, arm, seed, a, min(a + DEFAULT_CHUNK, units)) for arm in arms
            for a in range(0, units, DEFAULT_CHUNK)]
    own = executor is None
    executor = executor or local()
    try:
        table = pa.Table.from_batches([b for _, b in executor.ordered(outcome_chunk, jobs)])
    finally:
        if own:
            executor.close()
    return outputs.Counts(table, arms, s.resolved_anatomy().organs())


def _run_points(plan: Plan, executor: Executor, progress: Progress | None):
    md = plan.metadata
    todo = [i for i in range(plan.n_points) if i not in plan.done()]
    n, arms, seed, chunk = md["units"], md["arms"], int(md["seed"]), md["chunk_size"]
    total, done_units = plan.n_points, 0
    if progress:
        progress(total - len(todo), total, 0)
    if md["runs"]:
        for k, i in enumerate(todo):
            _write_point(plan, i, _run_dir_point(plan, i, executor))
            done_units += n * len(arms)
            if progress:
                progress(total - len(todo) + k + 1, total, done_units)
        return
    per_point = len(arms) * -(-n // chunk)

    def jobs():
        for i in todo:
            text = _scenario.dumps(plan.scenario(i))
            for arm in arms:
                for start in range(0, n, chunk):
                    yield ChunkJob(text, arm, seed, start, min(start + chunk, n))

    batches, written = [], 0
    for _, batch in executor.ordered(outcome_chunk, jobs()):
        batches.append(batch)
        done_units += batch.num_rows
        if len(batches) == per_point:  # results come in job order: the point is complete
            _write_point(plan, todo[written], pa.Table.from_batches(batches))
            batches, written = [], written + 1
            if progress:
                progress(total - len(todo) + written, total, done_units)


def _run_dir_point(plan: Plan, i: int, executor: Executor) -> pa.Table:
    """Point ``i`` as a full run directory (runs/point-NNNNN), and its outcome columns."""
    from ..rundir import write_run

    md, s = plan.metadata, plan.scenario(i)
    path = plan.path / "runs" / f"point-{i:05d}"
    write_run(path, s, md["units"], int(md["seed"]), arms=md["arms"], threads=executor.slots,
                 chunk_size=md["chunk_size"], overwrite=True)
    tables = []
    for arm in md["arms"]:  # parts in unit order, arms in the study's order, as the chunks come
        for part in sorted((path / "fates" / f"arm={arm}").glob("part-*.parquet")):
            fates = pq.read_table(part)
            codes = pa.array(np.full(fates.num_rows, s.arm_names().index(arm), np.int32))
            arms = pa.DictionaryArray.from_arrays(codes, pa.array(s.arm_names()))
            cols = {"arm": arms, **{c: fates.column(c) for c in SLIM_COLUMNS[1:]}}
            for name, column in MILESTONES.items():
                cols[name] = pc.invert(pc.is_nan(fates.column(column)))
            tables.append(pa.table(cols))
    return pa.concat_tables(tables)


def _write_point(plan: Plan, i: int, table: pa.Table):
    path = plan.point_path(i)
    tmp = path.with_name(f".{path.name}.tmp")
    # The run format's settings (DESIGN 6): dictionaries on the categories, unit ids delta-encoded.
    pq.write_table(table, tmp, compression="zstd", compression_level=1, use_dictionary=list(SLIM_COLUMNS[2:]) + ["arm"],
                   column_encoding={"unit_id": "DELTA_BINARY_PACKED"}, write_statistics=False)
    os.replace(tmp, path)


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A study directory read back: study.json and its tables (pyarrow; ``.to_pandas()``)."""
    path: Path
    metadata: dict
    table: pa.Table
    differences: pa.Table | None


def read(path) -> Sweep:
    path = Path(path)
    md = read_metadata(path)
    if not md["complete"]:
        raise StudyDirError(f"{path}: incomplete study; finish it with --resume {path}")
    diff = path / DIFFERENCES
    return Sweep(path, md, pq.read_table(path / TABLE), pq.read_table(diff) if diff.is_file() else None)


def read_metadata(path: Path) -> dict:
    try:
        md = json.loads((Path(path) / STUDY).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise StudyDirError(f"{path}: not a ctcsim study directory ({STUDY}: {e})") from None
    if md.get("format") != FORMAT or str(md.get("format_version", "")).split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise StudyDirError(f"{path / STUDY}: not a ctcsim study of format {FORMAT_VERSION}")
    return md


def write_json(path: Path, doc: dict):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
