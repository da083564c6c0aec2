"""The chunks of a sequence of parts, simulated in unit order: by the thread that asks for
them, or ahead of it on helper threads.

``stream(spans, ...)`` yields every chunk of every span (a part's units) in order.  Without
helpers each chunk is simulated when asked for.  With them, chunks are simulated up to
AHEAD_UNITS units ahead, across the end of one part into the next, in slices of SLICE_UNITS
units written into the chunk's columns; and the asking thread, done writing, simulates the
slices of the chunk it asks for that no helper has started instead of waiting.  A unit's
draws depend only on the seed and its id, so the columns are the same however they are cut.
"""
from __future__ import annotations

import collections
import dataclasses
import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

from .._core import new_fate_buffers
from ..errors import Cancelled
from ..runner import Arm, run_units
from . import format as fmt

SLICE_UNITS = 1 << 13  # units a helper simulates at a time: a small run's few chunks spread over every thread
# Units simulated ahead of the chunk asked for: a row group.  Writing comes in bursts, a row group
# at a time, and the helpers must have work through one.  3e7 units of bench/run_workload.toml on
# 2 threads, 3 alternating rounds: three quarters of a group used 1.88-1.90 cores at 139 MiB peak,
# a whole group 1.91-1.93 cores at 145-147 MiB (np.empty commits pages only as slices fill them).
AHEAD_UNITS = fmt.ROW_GROUP_ROWS


@dataclasses.dataclass(frozen=True)
class Span:
    """One part's units, [first, last), of one compiled arm."""
    arm: Arm
    part: int
    first: int
    last: int


def stream(spans: Iterator[Span], key, size: int, events: bool, stop, helpers: ThreadPoolExecutor | None):
    """(span, units, fates, event columns, CPU seconds other threads spent simulating it) for
    each chunk of ``size`` units of each span, in order; ``stop``: an event that, once set,
    ends the stream with Cancelled before the next chunk.  Closed early (an error), it leaves
    nothing running: slices not started are cancelled, the others waited for."""

    def simulate(arm, start, end, fates):
        t = time.thread_time()
        events_of_slice = run_units(arm, key, start, end, events, fates)[1]
        return events_of_slice, time.thread_time() - t

    def ahead(span, start, end):
        fates = new_fate_buffers(end - start)
        slices = [(span.arm, s, min(s + SLICE_UNITS, end), {k: v[s - start:s - start + SLICE_UNITS]
                                                             for k, v in fates.items()})
                  for s in range(start, end, SLICE_UNITS)]
        return span, end - start, fates, [(helpers.submit(simulate, *args), args) for args in slices]

    def done(span, units, fates, slices):
        try:
            here = [simulate(*args) if future.cancel() else None for future, args in slices]
        finally:  # all waited for, even when one failed: none still writes into fates afterwards
            for future, _ in slices:
                future.cancel()
            futures.wait([future for future, _ in slices])
        rows, elsewhere = [], 0.0
        for (future, _), mine in zip(slices, here):
            ev, seconds = mine or future.result()
            rows += ev
            elsewhere += 0.0 if mine else seconds  # this thread's own time is on its clock already
        return span, units, fates, rows, elsewhere

    depth = max(1, AHEAD_UNITS // size)  # chunks submitted beyond the one asked for
    pending = collections.deque()  # chunks simulated ahead, in order: (span, units, fates, slices)
    try:
        for span in spans:
            for start in range(span.first, span.last, size):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                end = min(start + size, span.last)
                if helpers is None:
                    yield (span, end - start, *run_units(span.arm, key, start, end, events), 0.0)
                    continue
                pending.append(ahead(span, start, end))
                if len(pending) > depth:
                    yield done(*pending.popleft())
        while pending:
            yield done(*pending.popleft())
    finally:  # abandoned (an error, a stop): nothing left running on the stream's behalf
        slices = [f for *_, chunk in pending for f, _ in chunk]
        for future in slices:
            future.cancel()
        futures.wait(slices)
