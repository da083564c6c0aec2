"""Before a resume: what the run directory's files say, what is wrong with them, and the repair.

The run's own leftovers are removed (temporary files of an interrupted writer, and
part files renamed but not yet recorded when it was killed: they carry this run's
metadata); missing, truncated and damaged parts are removed from the record, to be
re-created.  A file from another run, or one that is not the run's, is never
deleted: the resume is refused, naming it, before anything changes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from . import parts
from .format import PLAN, RUN, TABLES, CompleteRunError, DamagedRunError, RunDirError, file_md, read_json, validate, \
    write_json
from .parts import Problem

log = logging.getLogger("ctcsim")
REDO = ("missing", "truncated", "damaged")


def repaired(path: Path, accept: Callable[[dict], None]) -> tuple[dict, list[Problem]]:
    """The plan.json document to resume ``path`` from (metadata and the parts done), once the
    run's leftovers and the parts to redo are removed; and the problems that are redone.
    ``accept(metadata)`` raises if the run cannot be resumed at all: before anything changes."""
    if not path.is_dir():
        raise RunDirError(f"{path}: not a directory")
    for name in (*TABLES, PLAN, RUN):
        if (path / name).is_symlink():
            raise RunDirError(f"{path / name}: is a symbolic link; a run directory's files must be inside it")
    if (path / RUN).is_file():
        doc, complete = read_json(path / RUN, True), True
    elif (path / PLAN).is_file():
        doc, complete = read_json(path / PLAN, False), False
    else:
        doc, complete = _from_parts(path), False
        log.warning("%s: no %s or %s: rebuilding the run from the metadata its part files carry", path, RUN, PLAN)
    md = file_md(doc)
    accept(md)
    files = parts.recorded(path, doc, complete)
    problems = parts.check(path, doc, complete=complete, checksums=True)
    if not complete:
        problems += [Problem(rel, "extra", "not a file of this run (extra): move it out of the run directory")
                     for rel in parts.listing(path) if rel not in files]
    redo, remove, refuse = set(), set(), []
    for p in problems:
        if p.kind in REDO and parts.parse(p.file):
            redo.add(p.file)
        elif p.kind in REDO:  # format 1.0's event total of one arm: redo that arm's parts
            redo |= {rel for rel in files if parts.parse(rel)[1] == p.file.removeprefix("events/arm=")}
        elif p.kind == "extra" and _own(path, p.file, md, complete):
            remove.add(p.file)
        else:
            refuse.append(p)
    if refuse:
        more = f" (and {len(refuse) - 1} more)" if len(refuse) > 1 else ""
        raise DamagedRunError(f"{path}: cannot resume: {refuse[0]}{more}")
    if complete and not redo and all(parts.is_temporary(rel) for rel in remove):
        for rel in remove:  # a complete run's only fault: a stray temporary file of its own
            (path / rel).unlink(missing_ok=True)
        raise CompleteRunError(f"{path}: the run is already complete (every file checked)")
    done = {rel: e if "sha256" in e else _describe(path / rel) for rel, e in files.items() if rel not in redo}
    for rel in list(done):  # a part is done only with all its files
        table, arm, p = parts.parse(rel)
        twins = [parts.relative(t, arm, p) for t in (("fates", "events") if md["events"] else ("fates",))]
        if not all(t in done for t in twins):
            redo.add(rel)
            del done[rel]
    redo_found = [p for p in problems if p.kind in REDO]
    write_json(path / PLAN, validate({**md, "parts": done}, path / PLAN, False))
    (path / RUN).unlink(missing_ok=True)
    for rel in redo | remove:
        (path / rel).unlink(missing_ok=True)
    return {**md, "parts": done}, redo_found


def _own(root: Path, rel: str, md: dict, complete: bool) -> bool:
    """Whether an unrecorded file is provably this run's leftover: a writer's temporary file in
    one of its partitions, or, in an incomplete run, one of its parts that carries its
    metadata (renamed, then killed before it was recorded).  A complete run records all its
    files: anything else there is extra, even a copy of its own part."""
    if parts.is_temporary(rel, md["arms"]):
        return True
    where = parts.parse(rel)
    if complete or not where or where[1] not in md["arms"] or (where[0] == "events" and not md["events"]) \
            or where[2] >= parts.parts_per_arm(md):
        return False
    try:
        return not (root / rel).is_symlink() and parts.metadata_difference(parts.run_metadata(root / rel), md) is None
    except (pa.ArrowException, OSError, ValueError):
        return False


def _describe(path: Path) -> dict:
    return parts.describe(path, pq.read_metadata(path).num_rows)


def _from_parts(path: Path) -> dict:
    """The run metadata carried by the first readable fates part (run.json and plan.json
    gone): its other files are checked against it."""
    for rel in parts.listing(path):
        if rel.startswith("fates/") and parts.parse(rel):
            try:
                return validate(parts.run_metadata(path / rel), path / rel, None)
            except (pa.ArrowException, OSError, ValueError):
                continue
    raise RunDirError(f"{path}: not a ctcsim run directory (no {RUN}, no {PLAN}, and no part file that says "
                      "which run it is)")
