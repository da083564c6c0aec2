"""One part of a run as one job: simulated, written and tallied by whichever thread runs it.

``write_part(plan, arm, part)`` simulates the part's chunks in unit order, writes its
files (under temporary names, renamed when closed, events before fates) and tallies its
units on the core's columns.  It reads only ``plan.path``, ``plan.metadata`` and
``plan.scenario`` and shares nothing with other jobs, so parts run at once and end in
any order: a part's bytes depend only on the seed, its units and the chunk size.  It
returns a ``PartDone``, which the driver records and whose tally it merges (a merge that
does not depend on the order parts end).  ``tally_part`` does the counting for a part
already on disk (a resume).  ``run_parts`` runs such jobs on threads.

The two hooks are for threads of one process: ``on_chunk(units)`` after each chunk (progress),
and ``stop``, an event set to abandon the part before its next chunk.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import threading
import time
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import pyarrow.parquet as pq

from ..analysis import COLUMNS as SUMMARY_COLUMNS
from ..analysis import Tally
from ..errors import Cancelled
from ..runner import Arm, event_batch, fate_batch, run_units, seed_key
from . import format as fmt
from . import parts
from .writer import PartFile

STAGES = ("simulate", "batches", "parquet", "tally", "checksums")  # where a part's CPU time goes


@dataclasses.dataclass
class PartDone:
    """What a part job hands back: its files as the run records them (path -> rows, bytes,
    sha256; none for a part counted again), the tally of its units, its event rows and the
    CPU seconds of the thread that ran it, per stage (``STAGES``)."""
    arm: str
    part: int
    files: dict
    tally: Tally
    units: int
    event_rows: int
    cpu_s: dict


class _Clock:
    """CPU time of the calling thread, charged to one stage at a time."""

    def __init__(self):
        self.spent = dict.fromkeys(STAGES, 0.0)
        self.last = time.thread_time()

    def __call__(self, stage: str):
        now = time.thread_time()
        self.spent[stage] += now - self.last
        self.last = now


def write_part(plan, arm: str, part: int, on_chunk: Callable[[int], None] | None = None, stop=None) -> PartDone:
    """Simulate, write and tally part ``part`` of ``arm`` (see the module docstring)."""
    clock = _Clock()
    md = plan.metadata
    if not (plan.path / fmt.PLAN).is_file():
        raise fmt.RunDirError(f"{plan.path}: no run directory here, where part {part} of {arm} runs: a worker on "
                              "another machine needs it on a filesystem it shares, at the same path")
    compiled = Arm.of(plan.scenario, arm)
    key = seed_key(int(md["seed"]))
    per_part = md["chunks_per_part"] * md["chunk_size"]
    first, last = part * per_part, min(md["n_units"], (part + 1) * per_part)
    tally, event_rows, files = Tally([arm]), 0, {}
    try:
        for table, schema in fmt.schemas(compiled, md).items():
            files[table] = PartFile(plan.path, parts.relative(table, arm, part), schema)
        clock("parquet")
        for start in range(first, last, md["chunk_size"]):
            if stop is not None and stop.is_set():
                raise Cancelled()
            end = min(start + md["chunk_size"], last)
            fates, events = run_units(compiled, key, start, end, md["events"])
            clock("simulate")
            batches = [event_batch(compiled, None, e) for e in events]
            fate_rows = fate_batch(compiled, None, fates)
            clock("batches")
            for batch in batches:
                files["events"].write(batch)
                event_rows += batch.num_rows
            files["fates"].write(fate_rows)
            clock("parquet")
            tally.add_codes(arm, compiled.model.organ_names, fates["fate"], fates["organ"], fates["post_arrest"],
                            fates["fate_time_s"], fates["entry_time_s"])
            clock("tally")
            if on_chunk is not None:
                on_chunk(end - start)
        for table in ("events", "fates"):  # events first: a fates file under its final name has its events
            if table in files:
                files[table].close()
        clock("parquet")
    except BaseException:
        for f in files.values():
            f.discard()
        raise
    described = {f.rel: parts.describe(f.path, f.rows) for f in files.values()}
    clock("checksums")
    return PartDone(arm, part, described, tally, last - first, event_rows, clock.spent)


def tally_part(plan, arm: str, part: int, on_chunk=None, stop=None) -> PartDone:
    """The tally of a part already written (a resume): its fates read back, in one go (the
    hooks have nothing to do)."""
    clock = _Clock()
    rel = parts.relative("fates", arm, part)
    fates = pq.read_table(plan.path / rel, columns=[c for c in SUMMARY_COLUMNS if c != "arm"])
    tally = Tally([arm])
    tally.add(fates, arm=arm)
    events = plan.path / parts.relative("events", arm, part)
    event_rows = pq.read_metadata(events).num_rows if plan.metadata["events"] else 0  # checked by the resume
    clock("tally")
    return PartDone(arm, part, {}, tally, fates.num_rows, event_rows, clock.spent)


def run_parts(plan, work, finished: Callable[[PartDone], None], chunk_done: Callable[[int], None],
              threads: int = 1, executor=None):
    """Run part jobs ``(function, arm, part)`` on ``threads`` threads of this process, or on
    ``executor`` (``ctcsim.studies.executor``); ``finished`` and ``chunk_done`` are called on
    this thread, as parts and chunks end, in any order.

    ``work`` is read as jobs are submitted, at most one more than can run at once waiting or
    running (a run of 1e12 units has a million parts).  On any exception, parts under way
    stop before their next chunk, and those that end anyway are still ``finished``: their work
    is kept.  Jobs on other processes (Dask) get no hooks: they report once done, and an
    interrupt cancels those not started and waits for the others.
    """
    own = executor is None
    pool = ThreadPoolExecutor(threads, thread_name_prefix="ctcsim-part") if own else executor.pool
    in_process = isinstance(pool, ThreadPoolExecutor)
    messages = queue.SimpleQueue()  # from the workers: a chunk's units, or a job's future once it ends
    stop = threading.Event()
    running = {}  # future -> its job's function
    work = iter(work)

    def submit():
        for function, arm, part in itertools.islice(work, 1):
            future = pool.submit(function, plan, arm, part, *((messages.put, stop) if in_process else ()))
            running[future] = function
            future.add_done_callback(messages.put)

    try:
        for _ in range((threads if own else executor.slots) + 1):
            submit()
        while running:
            message = messages.get()
            if isinstance(message, Future):
                function = running.pop(message)
                done = message.result()
                finished(done)
                if not in_process and function is write_part:
                    chunk_done(done.units)
                submit()
            else:
                chunk_done(message)
    except BaseException:
        stop.set()
        for future in running:
            future.cancel()
        futures.wait(running)
        for future in running:
            if not future.cancelled() and future.exception() is None:
                with contextlib.suppress(Exception):  # the first error is the one to report
                    finished(future.result())
        raise
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
