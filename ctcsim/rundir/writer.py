"""Writing part files: one Parquet file per table, part and arm, with the run format's settings.

A part file is written under a hidden temporary name (``.part-00000.parquet.tmp``,
which pyarrow, pandas, polars and DuckDB globs skip) and renamed when closed, the
events file before the fates file (``jobs.write_part``); then the part's files (rows,
bytes, sha256) are recorded in plan.json, which is what marks the part done.  In that
order, every recorded file is whole and under its final name, even for a reader of a
run still going; a file renamed but not yet recorded when a run is killed is redone.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .format import ENCODINGS, ROW_GROUP_ROWS, STATISTICS

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
        """Add a batch of the file's columns (no arm: the partition says it)."""
        self.held.append(batch)
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

    def close(self):
        """Finish the file and give it its final name."""
        if self.held_rows:
            self._flush(whole_groups_only=False)
        self.writer.close()
        os.replace(self.tmp, self.path)

    def discard(self):
        """Abandon the file: release it and delete the temporary file (nothing if closed)."""
        with contextlib.suppress(Exception):
            self.writer.close()
        self.tmp.unlink(missing_ok=True)
