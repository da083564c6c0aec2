"""The run directory format: names, version, the metadata document and the file schemas.

Every Parquet file carries the run metadata as one JSON document under the
schema-metadata key ``ctcsim`` (``FORMAT``, ``FORMAT_VERSION``; readers check
both), so a single file copied elsewhere still says what produced it.
"""
from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import _core, dictionary, tropism
from .. import scenario as _scenario
from .._version import __version__
from ..units import horizon
from ..runner import MAX_CHUNK, MAX_UNITS, Arm, event_batch, fate_batch

FORMAT = "ctcsim-run"
FORMAT_VERSION = "1.2"  # 1.1: run_id, and every part file's rows, bytes and sha256 ("parts"); 1.2: releases
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
PART_FILE = re.compile(r"^(fates|events)/arm=([^/]+)/part-(\d{5,})\.parquet$")  # a part's path in the run
# What plan.json and run.json hold beyond the run metadata that every file carries.
RECORD_KEYS = ("parts", "counts", "timings", "summary")


class RunDirError(ValueError):
    """A run directory that cannot be created, resumed or read; the message says why."""


class IncompleteRunError(RunDirError):
    """The directory has no run.json: the run was interrupted or is still going."""


class DamagedRunError(RunDirError):
    """A part file is missing, truncated, damaged, from another run, or not the run's."""


class CompleteRunError(RunDirError):
    """Resuming a run that is complete, every file checked: nothing to do."""


def new_metadata(scenario_text: str, scenario_name: str, seed: int, n_units: int, arms: list[str],
                 events: bool, chunk_size: int, horizon_s: float = math.inf) -> dict:
    """The run metadata: what plan.json, run.json and every file's schema carry; ``horizon_s``,
    the scenario's t_max_s, stated beside it so that any reader of any file sees the horizon."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_id": secrets.token_hex(16),  # tells this run's files from those of a run with the same settings
        "ctcsim_version": __version__,
        "created": now(),
        "scenario_name": scenario_name,
        "scenario": scenario_text,
        **horizon(horizon_s),
        "seed": str(seed),  # decimal text: 128 bits do not survive JSON readers' doubles
        "n_units": n_units,
        "arms": arms,
        "events": bool(events),
        "chunk_size": chunk_size,
        "chunks_per_part": max(1, PART_UNITS // chunk_size),
        **provenance(),
    }


def schemas(arm: Arm, metadata) -> dict[str, pa.Schema]:
    """File schemas of the run's tables (``arm``: any of its arms, compiled): the batches'
    columns, with the run metadata."""
    tables = {"fates": fate_batch(arm, None, _core.new_fate_buffers(0))}
    if metadata["events"]:
        tables["events"] = event_batch(arm, None, _core.new_event_buffers(0))
    doc = json.dumps(metadata).encode()
    # Each field says what it means (ctcsim.dictionary), so a file explains itself in any reader.
    return {t: pa.schema([f.with_metadata({"description": dictionary.TABLES[t][f.name]}) for f in b.schema],
                         metadata={METADATA_KEY: doc})
            for t, b in tables.items()}


def replayable(s: _scenario.Scenario) -> tuple[str, _scenario.Scenario]:
    """The scenario as self-contained TOML, and the scenario read back from that text, which
    is what runs: a resume and a trace read the same text.  Every number the model is
    compiled from is written inline (the anatomy, the primary, and the tropism factors the
    installed tables resolve to: adhesion, the soil factors and compatibility of every
    organ), so a replay never reads built-in data, which later versions may change."""
    anatomy = s.resolved_anatomy()
    adhesion, soil = tropism.inline_factors(s, anatomy)
    inline = dataclasses.replace(s, anatomy=anatomy, primary=s.resolved_primary(), adhesion=adhesion, soil=soil)
    text = _scenario.dumps(inline)
    return text, _scenario.loads(text, _scenario.origin(s))


def provenance() -> dict:
    """What the output could depend on besides the scenario and seed: software versions,
    the platform, its C library (libm comes with it) and the compiler that built the core."""
    libc = " ".join(filter(None, platform.libc_ver())) or "unknown"
    return {"versions": {"python": platform.python_version(), "numpy": np.__version__, "pyarrow": pa.__version__,
                         "scipy": _version_of("scipy")},
            "platform": {"system": platform.platform(), "machine": platform.machine(), "libc": libc,
                         "compiler": _core.COMPILER}}


def _version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)  # without importing it (scipy takes ~0.3 s)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def file_md(doc: dict) -> dict:
    """The run metadata of a plan.json or run.json document: what every part file carries."""
    return {k: v for k, v in doc.items() if k not in RECORD_KEYS}


def checked(metadata, where) -> dict:
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise RunDirError(f"{where}: not ctcsim run metadata")
    version = metadata.get("format_version")
    if not isinstance(version, str) or version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise RunDirError(f"{where}: run format {version}; this ctcsim reads format {FORMAT_VERSION}")
    return metadata


def _int_in(lo, hi):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v < hi


def _arms(v):
    return (isinstance(v, list) and v and len(set(map(str, v))) == len(v)
            and all(isinstance(a, str) and PARTITION_VALUE.match(a) for a in v))


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Key, test, what is expected: every key a reader or a resume uses, so that a hand-edited or
# damaged document is one line naming the key, not a KeyError or a wrong run.
_FIELDS = (
    ("ctcsim_version", lambda v: isinstance(v, str), "a version string"),
    ("created", lambda v: isinstance(v, str), "a date as text"),
    ("scenario_name", lambda v: isinstance(v, str), "a string"),
    ("scenario", lambda v: isinstance(v, str), "the scenario as TOML text"),
    ("seed", lambda v: isinstance(v, str) and re.fullmatch(r"[0-9]{1,39}", v) is not None and int(v) < 1 << 128,
     "a decimal integer below 2**128, as text"),
    ("n_units", _int_in(1, MAX_UNITS + 1), "an integer from 1 to 2**63 - 1"),
    ("arms", _arms, "a list of distinct arm names (letters, digits, '.', '_', '-')"),
    ("events", lambda v: isinstance(v, bool), "true or false"),
    ("chunk_size", _int_in(1, MAX_CHUNK + 1), f"an integer from 1 to {MAX_CHUNK}"),
    ("chunks_per_part", _int_in(1, 1 << 63), "a positive integer"),
    ("versions", lambda v: isinstance(v, dict), "a table of versions"),
)
_FIELDS_1_1 = (("run_id", lambda v: isinstance(v, str) and v != "", "a run id"),
               ("platform", lambda v: isinstance(v, dict), "a table: platform, C library, compiler"))
_RECORD = (
    ("counts", lambda v: isinstance(v, dict) and isinstance(v.get("units"), dict), "a table with units per arm"),
    ("timings", lambda v: isinstance(v, dict) and all(isinstance(v.get(k), (int, float)) and not isinstance(
        v.get(k), bool) for k in ("wall_s", "units_simulated", "threads")), "a table of timings"),
    ("summary", lambda v: isinstance(v, dict) and isinstance(v.get("arms"), dict), "a summary table"),
)


def _entry(e) -> bool:
    return (isinstance(e, dict) and all(_int_in(0, 1 << 63)(e.get(k)) for k in ("rows", "bytes"))
            and isinstance(e.get("sha256"), str) and _SHA256.match(e["sha256"]) is not None)


def validate(doc, where, complete: bool | None) -> dict:
    """A run document checked key by key: a file's metadata (``complete`` None), plan.json
    (False) or run.json (True).  A ``RunDirError`` names the first key missing or wrong."""
    checked(doc, where)
    newer = doc["format_version"] != "1.0"
    fields = _FIELDS + (_FIELDS_1_1 if newer else ())
    if complete is not None:
        fields += ((("parts", lambda v: isinstance(v, dict), "a table of part files"),) if newer else ())
        fields += _RECORD if complete else ()
    for key, test, expected in fields:
        if key not in doc:
            raise RunDirError(f"{where}: {key}: missing")
        if not test(doc[key]):
            text = json.dumps(doc[key])
            raise RunDirError(f"{where}: {key}: expected {expected}, got {text if len(text) < 60 else text[:57] + '...'}")
    for rel, entry in doc.get("parts", {}).items() if complete is not None else ():
        where_part = PART_FILE.match(rel)
        if not where_part or where_part[2] not in doc["arms"]:
            raise RunDirError(f"{where}: parts.{rel}: not a part file of one of the run's arms")
        if not _entry(entry):
            raise RunDirError(f"{where}: parts.{rel}: expected rows, bytes and a sha256 checksum")
    return doc


def read_json(path: Path, complete: bool) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path}: unreadable: {e}") from None
    return validate(doc, path, complete)


def write_json(path: Path, doc: dict):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
