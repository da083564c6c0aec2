"""One part of a run as one job: simulated, written and tallied by whichever thread runs it.

``write_part(plan, arm, part)`` simulates the part's chunks in unit order, writes its
files (under temporary names, renamed when closed, events before fates) and tallies its
units on the core's columns.  It reads only ``plan.path``, ``plan.metadata`` and
``plan.scenario`` and shares nothing with other jobs, so parts run at once and end in
any order: a part's bytes depend only on the seed, its units and the chunk size.  It
returns a ``PartDone``, which the driver records and whose tally it merges (a merge that
does not depend on the order parts end).  ``tally_part`` does the counting for a part
already on disk (a resume).  ``run_parts`` runs such jobs on threads.

The hooks are for threads of one process: ``on_chunk(units)`` after each chunk (progress),
``stop``, an event set to abandon the part before its next chunk, and ``helpers``, threads
that would otherwise idle (a run of fewer parts than threads: the quick start's is one part),
which simulate the part's next chunks while its own thread writes and tallies.
"""
from __future__ import annotations

import collections
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
from .._core import new_fate_buffers
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

    def __call__(self, stage: str, elsewhere: float = 0.0):
        """Charge the time since the last call to ``stage``, and ``elsewhere``: CPU seconds
        another thread spent on it for this part."""
        now = time.thread_time()
        self.spent[stage] += now - self.last + elsewhere
        self.last = now


SLICE_UNITS = 1 << 13  # units a helper simulates at a time: a small run's few chunks spread over every thread


def _chunks(compiled, key, md, first: int, last: int, stop, helpers: ThreadPoolExecutor | None):
    """Each chunk of units [first, last) in order: (units, fates, events, CPU seconds other
    threads spent simulating it).  With ``helpers``, the next chunk is simulated on its threads
    while this one is written, in slices of SLICE_UNITS units written into the chunk's columns;
    else each chunk is simulated here when asked for."""
    size, events = md["chunk_size"], md["events"]

    def simulate(start, end, fates):
        t = time.thread_time()
        events_of_slice = run_units(compiled, key, start, end, events, fates)[1]
        return events_of_slice, time.thread_time() - t

    def ahead(start, end):
        fates = new_fate_buffers(end - start)
        rows = {s: slice(s - start, s - start + SLICE_UNITS) for s in range(start, end, SLICE_UNITS)}
        return end - start, fates, [helpers.submit(simulate, s, min(s + SLICE_UNITS, end),
                                                   {k: v[r] for k, v in fates.items()}) for s, r in rows.items()]

    def done(units, fates, slices):
        futures.wait(slices)  # all, even when one failed: none still writes into fates afterwards
        results = [f.result() for f in slices]
        return units, fates, [e for ev, _ in results for e in ev], sum(seconds for _, seconds in results)

    pending = collections.deque()  # chunks simulated ahead, in unit order: (units, fates, futures of its slices)
    try:
        for start in range(first, last, size):
            if stop is not None and stop.is_set():
                raise Cancelled()
            end = min(start + size, last)
            if helpers is None:
                yield (end - start, *run_units(compiled, key, start, end, events), 0.0)
                continue
            pending.append(ahead(start, end))
            if len(pending) > 1:
                yield done(*pending.popleft())
        while pending:
            yield done(*pending.popleft())
    finally:  # abandoned (an error, a stop): nothing left running on the part's behalf
        slices = [f for _, _, chunk in pending for f in chunk]
        for future in slices:
            future.cancel()
        futures.wait(slices)


def write_part(plan, arm: str, part: int, on_chunk: Callable[[int], None] | None = None, stop=None,
               helpers: ThreadPoolExecutor | None = None) -> PartDone:
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
    chunks = _chunks(compiled, key, md, first, last, stop, helpers)  # a generator: nothing runs yet
    try:
        for table, schema in fmt.schemas(compiled, md).items():
            files[table] = PartFile(plan.path, parts.relative(table, arm, part), schema)
        clock("parquet")
        for units, fates, events, elsewhere in chunks:
            clock("simulate", elsewhere)
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
                on_chunk(units)
        for table in ("events", "fates"):  # events first: a fates file under its final name has its events
            if table in files:
                files[table].close()
        clock("parquet")
    except BaseException:
        chunks.close()  # the chunks still simulated ahead are cancelled or waited for
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
              threads: int = 1, executor=None, parts_to_write: int | None = None):
    """Run part jobs ``(function, arm, part)`` on ``threads`` threads of this process, or on
    ``executor`` (``ctcsim.studies.executor``); ``finished`` and ``chunk_done`` are called on
    this thread, as parts and chunks end, in any order.  When ``parts_to_write`` (the
    write_part jobs in ``work``) is fewer than the threads, as many more threads of this
    process simulate their chunks ahead (``write_part``'s ``helpers``): every core works
    however small the run.

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
    slots = threads if own else executor.slots
    few = in_process and parts_to_write is not None and 0 < parts_to_write < slots
    helpers = ThreadPoolExecutor(slots, thread_name_prefix="ctcsim-chunk") if few else None

    def submit():
        for function, arm, part in itertools.islice(work, 1):
            hooks = (messages.put, stop) + ((helpers,) if helpers and function is write_part else ()) \
                if in_process else ()
            future = pool.submit(function, plan, arm, part, *hooks)
            running[future] = function
            future.add_done_callback(messages.put)

    try:
        for _ in range(slots + 1):
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
        if helpers:
            helpers.shutdown(wait=True, cancel_futures=True)
