"""Where chunks of units run: local threads, or a Dask cluster, behind one interface.

A task is one chunk of unit ids of one arm of one scenario (``ChunkJob``); it names the
scenario by its TOML text, so it pickles small and a worker needs nothing but ctcsim.
Every unit's random numbers depend only on the seed and its id, and results are taken
in job order (``Executor.ordered``), so what is written from them is byte for byte the
same on threads, on a local cluster of processes or on a remote cluster.

- ``local(threads)``: a thread pool (the core releases the GIL);
- ``dask(workers=N)``: a ``distributed.LocalCluster`` of N single-threaded worker
  processes on the loopback interface; ``dask(scheduler=ADDRESS)``: an existing cluster
  (``dask scheduler`` + ``dask worker``, or dask-jobqueue on a batch system: docs/STUDIES.md).

Dask is an optional extra (``pip install 'ctcsim[dask]'``); the threads need nothing.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import os
from concurrent import futures
from concurrent.futures import Executor as _Pool
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from .. import scenario as _scenario
from .._version import __version__
from ..runner import Arm, event_batch, fate_batch, run_units, seed_key

IN_FLIGHT_PER_SLOT = 2  # tasks queued per worker thread: keeps every worker busy, memory bounded
CONNECT_TIMEOUT_S = 10  # to reach an existing scheduler
SLIM_COLUMNS = ("arm", "unit_id", "fate", "organ", "post_arrest")
MILESTONES = {"extravasated": "extravasation_time_s", "reached_micrometastasis": "micrometastasis_time_s"}


class ExecutorError(ValueError):
    """An executor that cannot be had (Dask missing, no scheduler there, other versions)."""


@dataclasses.dataclass(frozen=True)
class ChunkJob:
    """Units [start, stop) of ``arm`` of the scenario whose TOML text is ``scenario``."""
    scenario: str
    arm: str
    seed: int
    start: int
    stop: int
    events: bool = False


@functools.lru_cache(maxsize=8)
def _arm(text: str, arm: str) -> tuple[Arm, list[str]]:
    """The compiled arm, once per process and scenario (a sweep's points are many scenarios)."""
    s = _scenario.loads(text, "<chunk job>")
    return Arm.of(s, arm), s.arm_names()


def fate_chunk(job: ChunkJob) -> tuple[pa.RecordBatch, list[pa.RecordBatch]]:
    """A chunk's fates and event batches, as a run writes them."""
    arm, arms = _arm(job.scenario, job.arm)
    fates, parts = run_units(arm, seed_key(job.seed), job.start, job.stop, job.events)
    return fate_batch(arm, arms, fates), [event_batch(arm, arms, p) for p in parts]


def outcome_chunk(job: ChunkJob) -> pa.RecordBatch:
    """A chunk's outcomes only (what studies count): arm, unit id, fate, organ, post-arrest
    outcome, and whether the unit extravasated and reached a micrometastasis."""
    import pyarrow.compute as pc  # here, not above: 50-70 ms of every command's start-up

    fates, _ = fate_chunk(dataclasses.replace(job, events=False))
    cols = {c: fates.column(c) for c in SLIM_COLUMNS}
    for name, time in MILESTONES.items():
        cols[name] = pc.invert(pc.is_nan(fates.column(time)))
    return pa.RecordBatch.from_pydict(cols)


class Executor:
    """``submit(fn, *args)`` returning a ``concurrent.futures.Future``; ``slots`` tasks run at once;
    ``close`` releases the workers (default: shut the pool down, dropping tasks not started)."""

    def __init__(self, pool: _Pool, slots: int, describe: str, close: Callable[[], None] | None = None):
        self.pool, self.slots, self.describe = pool, slots, describe
        self._close = close or functools.partial(pool.shutdown, wait=True, cancel_futures=True)

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def ordered(self, fn, jobs: Iterable) -> Iterator:
        """(job, ``fn(job)``) for every job, in job order, at most ``IN_FLIGHT_PER_SLOT * slots``
        in flight.  Closed early (an interrupt), the tasks not yet started are cancelled and those
        running are waited for, so that none is still at work when the caller moves on (a run's
        driver clears the core's stop request only then)."""
        pending = collections.deque()
        def first():  # taken off the queue only once done: an interrupt in result() leaves it to wait for
            job, future = pending[0]
            result = future.result()
            pending.popleft()
            return job, result

        try:
            for job in jobs:
                pending.append((job, self.pool.submit(fn, job)))
                if len(pending) >= IN_FLIGHT_PER_SLOT * self.slots:
                    yield first()
            while pending:
                yield first()
        finally:
            for _, future in pending:
                future.cancel()
            futures.wait([future for _, future in pending])

    def close(self):
        self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def local(threads: int | None = None) -> Executor:
    threads = threads or os.cpu_count() or 1
    return Executor(ThreadPoolExecutor(threads, thread_name_prefix="ctcsim"), threads, f"{threads} thread(s)")


def dask(scheduler: str | None = None, workers: int | None = None) -> Executor:
    """A Dask executor: the cluster at ``scheduler``, or a local cluster of ``workers`` processes
    (one thread each, loopback only, no dashboard)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExecutorError("--workers and --scheduler need Dask: pip install 'ctcsim[dask]'") from None
    # Dask's INFO lines (workers started, connections) would reach ctcsim's stderr handler.
    logging.getLogger("distributed").setLevel(max(logging.WARNING, logging.getLogger("distributed").level))
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError) as e:
        raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler or 'a local cluster'}: {e}") from None

    def close():  # closing the client cancels its tasks
        client.close()
        if cluster is not None:
            cluster.close()

    versions = set(client.run(_version).values())
    if versions - {__version__}:
        close()
        raise ExecutorError(f"the Dask workers run ctcsim {', '.join(sorted(versions))}; this is {__version__} "
                            "(the same version everywhere gives the same output)")
    slots = sum(client.nthreads().values())
    if not slots:
        close()
        raise ExecutorError(f"the Dask cluster at {scheduler} has no workers")
    where = scheduler or f"a local cluster of {workers} process(es)"
    return Executor(client.get_executor(pure=False), slots, f"Dask, {where}, {slots} worker thread(s)", close)


def open_executor(threads: int | None = None, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Threads by default; Dask with ``workers`` (a local cluster) or ``scheduler`` (an existing one)."""
    check_options(threads, workers, scheduler)
    if workers or scheduler:
        return dask(scheduler, workers)
    return local(threads)


def check_options(threads: int | None = None, workers: int | None = None, scheduler: str | None = None):
    """Refuse settings no executor can take (before anything is started or written)."""
    for name, x in (("threads", threads), ("workers", workers)):
        if x is not None and (isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1):
            raise ExecutorError(f"--{name}: expected a positive integer, got {x!r}")
    if sum(x is not None for x in (threads, workers, scheduler)) > 1:
        raise ExecutorError("give one of --threads, --workers and --scheduler")


def _version() -> str:
    from .._version import __version__ as v
    return v
