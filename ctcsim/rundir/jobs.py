"""Parts of a run as jobs: each simulated, written and tallied by whichever thread runs it.

``write_part(plan, arm, part)`` simulates the part's chunks in unit order, writes its
files (under temporary names, renamed when closed, events before fates) and tallies its
units on the core's columns.  It reads only ``plan.path``, ``plan.metadata`` and
``plan.scenario`` and shares nothing with other jobs, so parts run at once and end in
any order: a part's bytes depend only on the seed, its units and the chunk size.  It
returns a ``PartDone``, which the driver records and whose tally it merges (a merge that
does not depend on the order parts end).  ``tally_part`` does the counting for a part
already on disk (a resume).  ``run_parts`` runs such jobs: on threads of this process,
as writer loops that take parts one after another, their chunks simulated ahead across
the parts' ends (``chunks.stream``); elsewhere (Dask), as one task a part.
"""
from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import pyarrow.parquet as pq

from ..analysis import COLUMNS as SUMMARY_COLUMNS
from ..analysis import Tally
from ..runner import Arm, event_batch, fate_batch, seed_key
from . import chunks, parts
from . import format as fmt
from .writer import PartFile

STAGES = ("simulate", "batches", "parquet", "tally", "checksums")  # where a part's CPU time goes


@dataclasses.dataclass
class PartDone:
    """What a part job hands back: its files as the run records them (path -> rows, bytes,
    sha256; none for a part counted again), the tally of its units, its event rows and the
    CPU seconds spent on it per stage (``STAGES``), its helpers' simulating included."""
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

    def skip(self):
        """Charge the time since the last call to nothing (it was counted elsewhere)."""
        self.last = time.thread_time()


@dataclasses.dataclass
class _Writing:
    """A part being written: its files, tally, event rows and the clock's reading at its start."""
    span: chunks.Span
    files: dict
    tally: Tally
    start: dict
    event_rows: int = 0
    units: int = 0


def _open(plan, span: chunks.Span, clock: _Clock, start: dict) -> _Writing:
    """The part's files opened under their temporary names (none left if one cannot be)."""
    files = {}
    try:
        for table, schema in fmt.schemas(span.arm, plan.metadata).items():
            files[table] = PartFile(plan.path, parts.relative(table, span.arm.name, span.part), schema)
    except BaseException:
        for f in files.values():
            f.discard()
        raise
    clock("parquet")
    return _Writing(span, files, Tally([span.arm.name]), start)


def _add(w: _Writing, clock: _Clock, units: int, fates: dict, events: list):
    """One chunk's rows written and tallied."""
    batches = [event_batch(w.span.arm, None, e) for e in events]
    fate_rows = fate_batch(w.span.arm, None, fates)
    clock("batches")
    for batch in batches:
        w.files["events"].write(batch)
        w.event_rows += batch.num_rows
    w.files["fates"].write(fate_rows)
    clock("parquet")
    w.tally.add_codes(w.span.arm.name, w.span.arm.model.organ_names, fates["fate"], fates["organ"],
                      fates["post_arrest"], fates["fate_time_s"], fates["entry_time_s"])
    clock("tally")
    w.units += units


def _finish(w: _Writing, clock: _Clock) -> PartDone:
    """The part's files closed, renamed and described."""
    for table in ("events", "fates"):  # events first: a fates file under its final name has its events
        if table in w.files:
            w.files[table].close()
    clock("parquet")
    described = {f.rel: parts.describe(f.path, f.rows) for f in w.files.values()}
    clock("checksums")
    cpu_s = {stage: clock.spent[stage] - w.start[stage] for stage in STAGES}
    return PartDone(w.span.arm.name, w.span.part, described, w.tally, w.units, w.event_rows, cpu_s)


def write_parts(plan, take: Callable[[], tuple | None], report: Callable[[PartDone], None],
                on_chunk: Callable[[int], None] | None = None, stop=None,
                helpers: ThreadPoolExecutor | None = None):
    """Write parts one after another: each job ``(function, arm, part)`` that ``take()`` gives
    until None, each ``PartDone`` passed to ``report`` as the part ends.  Jobs other than
    ``write_part`` (``tally_part``) are run as they come.  ``on_chunk(units)`` after each
    chunk (progress); ``stop``, an event set to abandon the part before its next chunk;
    ``helpers``, threads that simulate the next chunks, of this part and the next, while this
    thread writes and tallies (see ``chunks``)."""
    md, clock, arms = plan.metadata, _Clock(), {}
    per_part = md["chunks_per_part"] * md["chunk_size"]

    def spans():
        while (job := take()) is not None:
            function, arm, part = job
            if function is not write_part:
                report(function(plan, arm, part))
                clock.skip()  # its CPU time is in what it reported
                continue
            if not (plan.path / fmt.PLAN).is_file():
                raise fmt.RunDirError(f"{plan.path}: no run directory here, where part {part} of {arm} runs: a "
                                      "worker on another machine needs it on a filesystem it shares, at the same path")
            if arm not in arms:
                arms[arm] = Arm.of(plan.scenario, arm)
            yield chunks.Span(arms[arm], part, part * per_part, min(md["n_units"], (part + 1) * per_part))

    stream = chunks.stream(spans(), seed_key(int(md["seed"])), md["chunk_size"], md["events"], stop, helpers)
    writing = None
    try:
        for span, units, fates, events, elsewhere in stream:
            start = dict(clock.spent) if writing is None else None
            clock("simulate", elsewhere)
            if writing is None:
                writing = _open(plan, span, clock, start)
            _add(writing, clock, units, fates, events)
            if on_chunk is not None:
                on_chunk(units)
            if writing.units == span.last - span.first:
                report(_finish(writing, clock))
                writing = None
    except BaseException:
        stream.close()  # the chunks still simulated ahead are cancelled or waited for
        if writing is not None:
            for f in writing.files.values():
                f.discard()
        raise


def write_part(plan, arm: str, part: int, on_chunk: Callable[[int], None] | None = None, stop=None,
               helpers: ThreadPoolExecutor | None = None) -> PartDone:
    """Simulate, write and tally part ``part`` of ``arm`` (see the module docstring)."""
    job, done = iter([(write_part, arm, part)]), []
    write_parts(plan, lambda: next(job, None), done.append, on_chunk, stop, helpers)
    return done[0]


def tally_part(plan, arm: str, part: int) -> PartDone:
    """The tally of a part already written (a resume): its fates read back, in one go."""
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
    this thread, as parts and chunks end, in any order.

    On threads of this process, parts are written by writer loops (``write_parts``) that
    take jobs from ``work`` one after another.  A run without events has one loop per two
    threads, and the other threads simulate the loops' next chunks: each part being written
    holds up to a row group of rows, so peak memory is that of half as many parts, while
    every core works as long as writing takes at most half the CPU.  Once the parts written
    so far took more than that share (batches, Parquet, tally and checksums against all their
    CPU), as many more loops start, which simulate their own chunks, as every loop of a run
    with events does from the start (writing is most of its CPU).  A run of fewer parts
    than threads has a loop per part, helped by the other threads.

    ``work`` is read as jobs are taken (a run of 1e12 units has a million parts).  On any
    exception, parts under way stop before their next chunk, and those that end anyway are
    still ``finished``: their work is kept.
    """
    if executor is not None and not isinstance(executor.pool, ThreadPoolExecutor):
        return _run_tasks(plan, work, finished, chunk_done, executor)
    own = executor is None
    pool = ThreadPoolExecutor(threads, thread_name_prefix="ctcsim-part") if own else executor.pool
    slots = threads if own else executor.slots
    writers = slots if plan.metadata["events"] else -(-slots // 2)
    if parts_to_write is not None and parts_to_write > 0:
        writers = min(writers, parts_to_write)
    helpers = ThreadPoolExecutor(slots - writers, thread_name_prefix="ctcsim-chunk") if writers < slots else None
    messages = queue.SimpleQueue()  # from the loops: a chunk's units, a part's PartDone, or a loop's future once it ends
    stop = threading.Event()
    lock, work = threading.Lock(), iter(work)
    loops, written = set(), dict.fromkeys(STAGES, 0.0)  # the writer loops' futures; the parts' CPU seconds, summed

    def take():
        with lock:
            return next(work, None)

    def start(n: int, helped: ThreadPoolExecutor | None):
        for _ in range(n):
            future = pool.submit(write_parts, plan, take, messages.put, messages.put, stop, helped)
            loops.add(future)
            future.add_done_callback(messages.put)

    try:
        start(writers, helpers)
        while loops:
            message = messages.get()
            if isinstance(message, Future):
                loops.discard(message)
                message.result()
            elif isinstance(message, PartDone):
                finished(message)
                if writers < slots and message.files:
                    written = {stage: written[stage] + message.cpu_s[stage] for stage in STAGES}
                    if _write_share(written) > writers / slots:
                        start(slots - writers, None)
                        writers = slots
            else:
                chunk_done(message)
    except BaseException:
        stop.set()
        futures.wait(loops)
        while not messages.empty():  # parts that ended anyway: their work is kept
            message = messages.get()
            if isinstance(message, PartDone):
                with contextlib.suppress(Exception):  # the first error is the one to report
                    finished(message)
        raise
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
        if helpers:
            helpers.shutdown(wait=True, cancel_futures=True)


def _run_tasks(plan, work, finished, chunk_done, executor):
    """``run_parts`` on other processes (Dask): a task a part, no hooks (each reports once
    done), one waiting beyond those running; an interrupt cancels those not started and waits
    for the others."""
    running, work, messages = {}, iter(work), queue.SimpleQueue()

    def submit():
        while len(running) <= executor.slots:
            job = next(work, None)
            if job is None:
                return
            function, arm, part = job
            future = executor.pool.submit(function, plan, arm, part)
            running[future] = function
            future.add_done_callback(messages.put)

    try:
        submit()
        while running:
            future = messages.get()
            function = running.pop(future)
            done = future.result()
            finished(done)
            if function is write_part:
                chunk_done(done.units)
            submit()
    except BaseException:
        for future in running:
            future.cancel()
        futures.wait(running)
        for future in running:
            if not future.cancelled() and future.exception() is None:
                with contextlib.suppress(Exception):  # the first error is the one to report
                    finished(future.result())
        raise


def _write_share(cpu_s: dict) -> float:
    """The share of CPU seconds per stage (parts' summed, their helpers' included) that was not
    simulating.  run_parts sums it over the parts so far: on bench/run_workload.toml the whole
    run's share is ~0.45 (run.json's timings; bench_run.py's "simulate %"), and single parts,
    scattered around that, crossed 0.5 on this noisy host and started loops for nothing."""
    total = sum(cpu_s.values())
    return 1.0 - cpu_s["simulate"] / total if total > 0 else 0.0
