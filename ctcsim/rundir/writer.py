"""Writing part files: one Parquet file per table, part and arm, on one writer thread per table.

A part file is written under a hidden temporary name (``.part-00000.parquet.tmp``,
which pyarrow, pandas, polars and DuckDB globs skip) and renamed when closed, the
events file before the fates file; then the part's files (rows, bytes, sha256) are
recorded in plan.json, which is what marks the part done.  In that order, every
recorded file is whole and under its final name, even for a reader of a run still
going; a file renamed but not yet recorded when a run is killed is redone.
"""
from __future__ import annotations

import collections
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .format import ENCODINGS, ROW_GROUP_ROWS, STATISTICS
from .parts import describe, relative

MAX_PENDING_WRITES = 4  # batches waiting per table's writer thread: bounds the memory they hold
MAX_HELD_BATCHES = 64   # small batches held before they are merged into one


def parquet_writer(path, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer with the run format's settings (see format.ENCODINGS)."""
    return pq.ParquetWriter(
        path, schema, compression="zstd", compression_level=1,
        use_dictionary=[f.name for f in schema if pa.types.is_dictionary(f.type)],
        column_encoding={f.name: ENCODINGS[f.name] for f in schema if f.name in ENCODINGS},
        write_statistics=[f.name for f in schema if f.name in STATISTICS])


class PartFile:
    """One Parquet file, written under a hidden temporary name and renamed when closed.

    Each ``write_table`` starts a row group, so rows are held back until a full
    group of ``ROW_GROUP_ROWS`` is ready.
    """

    def __init__(self, root: Path, rel: str, schema: pa.Schema):
        self.rel, self.path = rel, root / rel
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = parquet_writer(self.tmp, schema)
        self.held: list[pa.RecordBatch] = []
        self.held_rows = self.rows = self.tail = 0  # tail: batches held since the last merge

    def write(self, batch: pa.RecordBatch):
        self.held.append(batch.drop_columns(["arm"]))
        self.tail += 1
        self.held_rows += batch.num_rows
        self.rows += batch.num_rows
        if self.held_rows >= ROW_GROUP_ROWS:
            self._flush(whole_groups_only=True)
        elif self.tail >= MAX_HELD_BATCHES:
            # Small chunks make many small batches, each with its own arrays and dictionaries:
            # merged into one, what is held is the rows, not per-batch overhead.
            merged = pa.Table.from_batches(self.held[-self.tail:], schema=self.writer.schema).combine_chunks()
            self.held[-self.tail:] = merged.to_batches()
            self.tail = 0

    def _flush(self, whole_groups_only: bool):
        table = pa.Table.from_batches(self.held, schema=self.writer.schema)
        n = table.num_rows // ROW_GROUP_ROWS * ROW_GROUP_ROWS if whole_groups_only else table.num_rows
        self.writer.write_table(table.slice(0, n), row_group_size=ROW_GROUP_ROWS)
        self.held, self.held_rows = table.slice(n).to_batches(), table.num_rows - n
        self.tail = len(self.held)

    def close(self) -> tuple[str, dict]:
        """Finish the file, rename it, and say what to record of it."""
        if self.held_rows:
            self._flush(whole_groups_only=False)
        self.writer.close()
        os.replace(self.tmp, self.path)
        return self.rel, describe(self.path, self.rows)

    def close_writer(self):
        """Release the temporary file without finishing it (the caller deletes it)."""
        with contextlib.suppress(Exception):
            self.writer.close()


class Writers:
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


class Part:
    """The fates file (and events file) of one part of one arm, written on the writer threads."""

    def __init__(self, root: Path, arm: str, index: int, schemas: dict, writers: Writers, record):
        self.files = {t: PartFile(root, relative(t, arm, index), s) for t, s in schemas.items()}
        self.writers, self.record = writers, record

    def write(self, fates: pa.RecordBatch, events: list[pa.RecordBatch]):
        self.writers.submit("fates", self.files["fates"].write, fates)
        for batch in events:
            self.writers.submit("events", self.files["events"].write, batch)

    def close(self):
        events = self.writers.submit("events", self.files["events"].close) if "events" in self.files else None
        self.writers.submit("fates", _close_after, self.files["fates"], events, self.record)

    def close_writers(self):
        for f in self.files.values():
            f.close_writer()


def _close_after(file: PartFile, first, record):
    """Close the fates file after the events file, then record both (on the fates thread,
    so records are written one at a time)."""
    done = [first.result()] if first is not None else []
    record(dict([*done, file.close()]))
