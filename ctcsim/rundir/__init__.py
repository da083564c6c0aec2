"""Run directories: writing a run part by part, resuming or repairing it, and reading it back.

Layout (format "ctcsim-run", documented in docs/RUNS.md)::

    DIR/plan.json                            the run's metadata and the parts done; removed at the end
    DIR/fates/arm=NAME/part-00000.parquet    one row per unit, in unit order
    DIR/events/arm=NAME/part-00000.parquet   only with events: one row per event
    DIR/run.json                             written last: metadata, parts, counts, timings, summary

One concern per module: ``format`` (names, version, metadata, schemas), ``writer``
(part files), ``jobs`` (one part simulated, written and tallied, on whichever thread runs
it), ``parts`` (what is recorded of each file and what is on disk), ``repair`` (what a
resume redoes), ``driver`` (``prepare_run``, ``prepare_resume``, ``execute``,
``write_run``: parts on threads, recorded as they end), ``reader`` (``Run``, ``read_run``,
``file_metadata``).
"""
from .driver import Plan, execute, is_complete, prepare_resume, prepare_run, write_run
from .format import FORMAT, FORMAT_VERSION, CompleteRunError, DamagedRunError, IncompleteRunError, RunDirError
from .reader import Run, file_metadata, read_run

__all__ = ["FORMAT", "FORMAT_VERSION", "CompleteRunError", "DamagedRunError", "IncompleteRunError", "Plan", "Run",
           "RunDirError", "execute", "file_metadata", "is_complete", "prepare_resume", "prepare_run", "read_run",
           "write_run"]
