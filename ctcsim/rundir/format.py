"""The run directory format: names, version, the metadata document and the file schemas.

Every Parquet file carries the run metadata as one JSON document under the
schema-metadata key ``ctcsim`` (``FORMAT``, ``FORMAT_VERSION``; readers check
both), so a single file copied elsewhere still says what produced it.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import _core
from .. import scenario as _scenario
from .._version import __version__
from ..runner import Arm, event_batch, fate_batch

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
TABLES = ("fates", "events")
# Parquet encodings, measured on the default scenario's output (docs/RUNS.md): zstd 1 with
# dictionaries on categorical columns only (DESIGN 6); sorted unit ids delta-encoded;
# min/max statistics only where they prune row groups (unit ids), as statistics on every
# column cost a quarter of the write time.
ENCODINGS = {"unit_id": "DELTA_BINARY_PACKED"}
STATISTICS = {"unit_id"}
OWN = {*TABLES, PLAN, RUN, f".{PLAN}.tmp", f".{RUN}.tmp"}  # what a run directory may hold at its top
PARTITION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # DESIGN 6: Spark garbles others


class RunDirError(ValueError):
    """A run directory that cannot be created, resumed or read; the message says why."""


class IncompleteRunError(RunDirError):
    """The directory has no run.json: the run was interrupted or is still going."""


def new_metadata(scenario_text: str, scenario_name: str, seed: int, n_units: int, arms: list[str],
                 events: bool, chunk_size: int) -> dict:
    """The run metadata: what plan.json, run.json and every file's schema carry."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ctcsim_version": __version__,
        "created": now(),
        "scenario_name": scenario_name,
        "scenario": scenario_text,
        "seed": str(seed),  # decimal text: 128 bits do not survive JSON readers' doubles
        "n_units": n_units,
        "arms": arms,
        "events": bool(events),
        "chunk_size": chunk_size,
        "chunks_per_part": max(1, PART_UNITS // chunk_size),
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "pyarrow": pa.__version__},
    }


def part_path(root: Path, table: str, arm: str, part: int) -> Path:
    return Path(root) / table / f"arm={arm}" / f"part-{part:05d}.parquet"


def schemas(scenario, metadata) -> dict[str, pa.Schema]:
    """File schemas of the run's tables: the batches' columns less the arm (the partition),
    with the run metadata."""
    arm = Arm.of(scenario, metadata["arms"][0])
    arms = scenario.arm_names()
    tables = {"fates": fate_batch(arm, arms, _core.new_fate_buffers(0))}
    if metadata["events"]:
        tables["events"] = event_batch(arm, arms, _core.new_event_buffers(0))
    doc = json.dumps(metadata).encode()
    return {t: b.drop_columns(["arm"]).schema.with_metadata({METADATA_KEY: doc}) for t, b in tables.items()}


def replayable(s: _scenario.Scenario) -> tuple[str, _scenario.Scenario]:
    """The scenario as self-contained TOML (built-in anatomy and primary written inline, so
    later changes to built-in data cannot change a replay), and the scenario read back
    from that text, which is what runs: a resume and a trace read the same text."""
    inline = dataclasses.replace(s, anatomy=s.resolved_anatomy(), primary=s.resolved_primary())
    text = _scenario.dumps(inline)
    return text, _scenario.loads(text, f"<resolved scenario {s.name}>")


def checked(metadata, where) -> dict:
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise RunDirError(f"{where}: not ctcsim run metadata")
    version = str(metadata.get("format_version"))
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise RunDirError(f"{where}: run format {version}; this ctcsim reads format {FORMAT_VERSION}")
    return metadata


def read_json(path: Path) -> dict:
    try:
        return checked(json.loads(path.read_text()), path)
    except (OSError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path}: unreadable: {e}") from None


def write_json(path: Path, doc: dict):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
