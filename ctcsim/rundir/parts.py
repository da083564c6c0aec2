"""The parts of a run: what plan.json and run.json record of each file, and what is on disk.

Format 1.1 records every part file under its path relative to the run directory
(``fates/arm=control/part-00000.parquet``) with its ``rows``, ``bytes`` and
``sha256``; a part is recorded only once it is under its final name.  Format 1.0
recorded nothing per file: its fates parts and their row counts follow from the
plan (units, chunk size, chunks per part) and its event rows from run.json's
totals, which is what is checked for it.

``check`` compares the two and returns every ``Problem``: a recorded file missing,
truncated or otherwise damaged (size, Parquet footer, row count, checksum), from
another run (its metadata differs from the run's), or a file the run does not
record (extra).  Sizes, footers, metadata and rows are cheap (no data is read);
checksums read every byte and are asked for explicitly.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .format import METADATA_KEY, PART_FILE, TABLES, file_md

HASH_BLOCK = 1 << 20
_TEMPORARY = re.compile(r"^(fates|events)/arm=([^/]+)/\.part-(\d{5,})\.parquet\.tmp$")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One file that is not as the run records it.  ``kind``: missing, truncated, damaged
    (the run's file, spoiled: resume re-creates it), foreign (another run's file under a
    recorded name) or extra (a file the run does not record)."""
    file: str
    kind: str
    detail: str

    def __str__(self):
        return f"{self.file}: {self.detail}"


def relative(table: str, arm: str, part: int) -> str:
    return f"{table}/arm={arm}/part-{part:05d}.parquet"


def parse(rel: str) -> tuple[str, str, int] | None:
    """(table, arm, part) of a part file's relative path, or None."""
    m = PART_FILE.match(rel)
    return (m[1], m[2], int(m[3])) if m else None


def is_temporary(rel: str, arms=None) -> bool:
    """A writer's temporary file (left by an interrupted run) in one of ``arms``' partitions
    (any arm's when None)."""
    m = _TEMPORARY.match(rel)
    return bool(m) and (arms is None or m[2] in arms)


def run_metadata(path: Path) -> dict | None:
    """The run metadata in a Parquet file's footer (not checked), or None if it has none.
    Raises ``pyarrow.ArrowException``, ``OSError`` or ``ValueError`` for a file that is not
    readable Parquet."""
    raw = (pq.read_metadata(path).metadata or {}).get(METADATA_KEY.encode())
    return json.loads(raw) if raw is not None else None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)  # hashlib releases the GIL on blocks this large
    return h.hexdigest()


def describe(path: Path, rows: int) -> dict:
    """What the run records of a finished part file."""
    return {"rows": rows, "bytes": path.stat().st_size, "sha256": sha256(path)}


def parts_per_arm(md: dict) -> int:
    n_chunks = -(-md["n_units"] // md["chunk_size"])
    return -(-n_chunks // md["chunks_per_part"])


def fates_rows(md: dict, part: int) -> int:
    """Units in fates part ``part`` of an arm."""
    per_part = md["chunks_per_part"] * md["chunk_size"]
    return min(md["n_units"], (part + 1) * per_part) - part * per_part


def listing(root: Path) -> list[str]:
    """Every file under the run's table directories, as a relative path."""
    out = []
    for table in TABLES:
        for top, dirs, files in os.walk(root / table):
            dirs.sort()
            out += [Path(top, f).relative_to(root).as_posix() for f in files]
            out += [Path(top, d).relative_to(root).as_posix() for d in dirs if Path(top, d).is_symlink()]
    return sorted(out)


def recorded(root: Path, doc: dict, complete: bool) -> dict[str, dict]:
    """The files the run records, each with what is known of it (rows, bytes, sha256)."""
    if "parts" in doc:
        return doc["parts"]
    # Format 1.0: the plan says which fates parts exist and their rows; an incomplete run has
    # done the parts whose fates file is there.
    arms, out = doc["arms"], {}
    for arm in arms:
        for p in range(parts_per_arm(doc)):
            rel = relative("fates", arm, p)
            if complete or (root / rel).is_file():
                out[rel] = {"rows": fates_rows(doc, p)}
                if doc["events"]:
                    out[relative("events", arm, p)] = {}
    return out


def check(root: Path, doc: dict, *, complete: bool, checksums: bool = False, tables=TABLES) -> list[Problem]:
    """Every problem of the run's files in ``tables`` (see the module docstring).  For an
    incomplete run, files it does not record are not problems: they may be in progress."""
    root = Path(root)
    md = file_md(doc)
    files = {rel: e for rel, e in recorded(root, doc, complete).items() if rel.split("/")[0] in tables}
    problems, rows = [], {}
    for rel, expect in sorted(files.items()):
        problem, rows[rel] = check_file(root, rel, md, expect, checksums)
        if problem:
            problems.append(problem)
    if complete:
        for rel in listing(root):
            if rel not in files and rel.split("/")[0] in tables:
                problems.append(Problem(rel, "extra", "not a file of this run (extra): move it out of the run directory"))
        if "parts" not in doc and doc["events"] and "events" in tables and not problems:
            for arm, n in (doc["counts"].get("event_rows") or {}).items():
                found = sum(r for rel, r in rows.items() if rel.startswith(f"events/arm={arm}/"))
                if found != n:
                    problems.append(Problem(f"events/arm={arm}", "damaged",
                                            f"{found:,} event rows, {n:,} recorded in run.json"))
    return problems


def check_file(root: Path, rel: str, md: dict, expect: dict, checksum: bool) -> tuple[Problem | None, int | None]:
    """(the problem of one recorded file or None, its rows)."""
    path = root / rel
    if not path.is_file():
        return Problem(rel, "missing", "missing"), None
    size = path.stat().st_size
    resized = None
    if "bytes" in expect and size != expect["bytes"]:
        kind = "truncated" if size < expect["bytes"] else "damaged"
        resized = Problem(rel, kind, f"{kind}: {size:,} bytes, {expect['bytes']:,} recorded")
    try:
        footer = pq.read_metadata(path)
        raw = (footer.metadata or {}).get(METADATA_KEY.encode())
        theirs = json.loads(raw) if raw is not None else None
    except (pa.ArrowException, OSError, ValueError) as e:
        return resized or Problem(rel, "damaged", f"damaged or truncated: not a readable Parquet file ({e})"), None
    differs = metadata_difference(theirs, md)  # before the size: another run's file has another size
    if differs:
        return Problem(rel, "foreign", f"from another run: {differs}; move it out of the run directory"), None
    if resized:
        return resized, None
    if "rows" in expect and footer.num_rows != expect["rows"]:
        return Problem(rel, "damaged", f"damaged: {footer.num_rows:,} rows, {expect['rows']:,} recorded"), None
    if checksum and "sha256" in expect and sha256(path) != expect["sha256"]:
        return Problem(rel, "damaged", "damaged: its sha256 checksum differs from the one recorded"), None
    return None, footer.num_rows


def metadata_difference(theirs, ours: dict) -> str | None:
    """None when a file's run metadata is the run's own; else the first difference, in words."""
    if not isinstance(theirs, dict):
        return "it carries no ctcsim run metadata"
    telling = ("seed", "scenario", "n_units", "arms", "events", "chunk_size", "chunks_per_part", "format_version")
    for key in [*telling, *sorted(set(ours) | set(theirs))]:
        if theirs.get(key) != ours.get(key):
            if key in ("scenario", "versions"):
                return f"its {key} differs from the run's"
            return f"its {key} is {_short(theirs.get(key))}, the run's {_short(ours.get(key))}"
    return None


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
