"""Run units through the core in chunks, on threads, and hand back Arrow record batches.

Each unit's random numbers depend only on (seed, unit id), so the output is the
same for any chunk size, thread count or order.  ``iter_batches`` yields chunks in
unit order (``simulate`` keeps them in memory); a run directory's parts are
simulated and written by ``rundir.jobs`` with ``run_units`` and the batch builders here.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa

from . import _core, _tally
from .compile import compile_arm
from .errors import raise_for_status
from .model import ARREST_MODES, EVENTS, FATES, PHENOTYPES, POST_ARREST, CompiledModel
from .scenario import Scenario, dumps
from .seeding import new_seed, seed_key

DEFAULT_CHUNK = 1 << 16          # units per chunk: ~6 MB of fate columns; the pipeline fills early
# Largest chunk: a chunk's fate buffers (~90 bytes a unit) are held twice per thread, so this
# bounds memory (~0.2 GB a thread) whatever a caller asks; larger chunks gain nothing.
MAX_CHUNK = 1 << 20
MAX_UNITS = (1 << 63) - 1        # unit ids are int64
# Event buffers: sized by the chunk (the built-in scenarios make 5-10 events a unit), so small
# chunks do not each hold a large buffer, and copied out when mostly empty, so that what is
# held downstream (row groups, writer queues) is the events, not the buffers they came in.
EVENT_ROWS_PER_UNIT = 16
EVENT_BUFFER_ROWS = (1 << 10, 1 << 20)  # (smallest, largest) event rows per core call


# Arrays are made from the core's buffers with Array.from_buffers (no copy): pa.array would
# import pandas on first use (a third of a second of every run's start-up) and check every
# column for pandas types.
def _column(x: np.ndarray) -> pa.Array:
    """A contiguous numeric numpy array as an Arrow array, sharing its memory."""
    return pa.Array.from_buffers(pa.from_numpy_dtype(x.dtype), len(x), [None, pa.py_buffer(x)])


def _bools(x: np.ndarray) -> pa.Array:
    """0/1 codes (int8, as the core writes flags) as an Arrow boolean array."""
    return pa.Array.from_buffers(pa.bool_(), len(x), [None, pa.py_buffer(np.packbits(x != 0, bitorder="little"))])


def _labels(values) -> pa.Array:
    """Strings as an Arrow string array (a dictionary's values)."""
    encoded = [v.encode() for v in values]
    offsets = np.cumsum([0, *map(len, encoded)], dtype=np.int32)
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def _dict(name: str, codes: np.ndarray, values: pa.Array, nullable: bool = False) -> pa.DictionaryArray:
    """Codes (int8 or int32, as the core writes them: no copy) against a fixed dictionary;
    ``nullable``: -1 means none (a null).

    The codes are checked here, in one pass, rather than by Arrow's ``safe`` check, which
    costs ten times as much (without nulls, negative codes wrap around to large unsigned
    ones; with them, ``_tally.null_codes`` also makes the bitmap and the codes under it)."""
    bitmap = None
    if nullable:  # a bitmap of our own: pa.array(mask=) takes 10x longer
        valid, nonnull = np.empty(len(codes), np.uint8), np.empty_like(codes)
        nulls = _tally.null_codes(codes, len(values), valid, nonnull)
        if nulls < 0:
            raise ValueError(f"the core wrote a {name} code outside -1..{len(values) - 1}")
        if nulls:
            bitmap, codes = pa.py_buffer(np.packbits(valid, bitorder="little")), nonnull
    elif len(codes) and int(codes.view(f"u{codes.itemsize}").max()) >= len(values):
        raise ValueError(f"the core wrote a {name} code outside 0..{len(values) - 1}")
    indices = pa.Array.from_buffers(pa.from_numpy_dtype(codes.dtype), len(codes), [bitmap, pa.py_buffer(codes)])
    return pa.DictionaryArray.from_arrays(indices, values, safe=False)


def _batch(columns: dict) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([c if isinstance(c, pa.Array) else _column(c) for c in columns.values()],
                                      names=list(columns))


_LABELS = {"phenotype": _labels(PHENOTYPES), "fate": _labels(FATES), "arrest_mode": _labels(ARREST_MODES),
           "post_arrest": _labels(POST_ARREST), "event": _labels(EVENTS)}


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm ready to run: its name, compiled model(s), core handle, and the dictionaries of
    its categorical columns (built once: Arrow arrays are immutable, so threads share them)."""
    name: str
    model: CompiledModel
    core: object
    compartments: pa.Array
    organs: pa.Array

    @classmethod
    def of(cls, scenario: Scenario, name: str) -> "Arm":
        before, after, start_s = compile_arm(scenario, name)
        return cls(name, before, _core.CoreModel(before, after, start_s), _labels(before.compartment_names),
                   _labels(before.organ_names))


def _arm_column(arm: Arm, arms: list[str] | None, n: int) -> dict:
    """The arm as the first column (``arms``: every arm's name), or no column (``arms`` None:
    part files, whose partition is the arm)."""
    if arms is None:
        return {}
    return {"arm": _dict("arm", np.full(n, arms.index(arm.name), np.int32), _labels(arms))}


def fate_batch(arm: Arm, arms: list[str] | None, cols: dict) -> pa.RecordBatch:
    """Core fate columns -> a record batch with dictionary-encoded categories (and the arm,
    unless ``arms`` is None)."""
    n = len(cols["unit_id"])
    return _batch({
        **_arm_column(arm, arms, n),
        "unit_id": cols["unit_id"],
        "cluster_size": cols["cluster_size"],
        "phenotype": _dict("phenotype", cols["phenotype"], _LABELS["phenotype"]),
        "diameter_um": cols["diameter_um"],
        "entry_time_s": cols["entry_time_s"],
        "entry_compartment": _dict("compartment", cols["entry_compartment"], arm.compartments),
        "fate": _dict("fate", cols["fate"], _LABELS["fate"]),
        "fate_time_s": cols["fate_time_s"],
        "organ": _dict("organ", cols["organ"], arm.organs, nullable=True),
        "arrest_mode": _dict("arrest mode", cols["arrest_mode"], _LABELS["arrest_mode"]),
        "beds_visited": cols["beds_visited"],
        "shielded_at_fate": _bools(cols["shielded_at_fate"]),
        "time_shielded_s": cols["time_shielded_s"],
        "n_steps": cols["n_steps"],
        "post_arrest": _dict("post-arrest", cols["post_arrest"], _LABELS["post_arrest"]),
        "post_arrest_time_s": cols["post_arrest_time_s"],
        "extravasation_time_s": cols["extravasation_time_s"],
        "micrometastasis_time_s": cols["micrometastasis_time_s"],
        "releases": cols["releases"],
    })


def event_batch(arm: Arm, arms: list[str] | None, cols: dict) -> pa.RecordBatch:
    """Core event columns -> a record batch (with the arm, unless ``arms`` is None)."""
    n = len(cols["unit_id"])
    return _batch({
        **_arm_column(arm, arms, n),
        "unit_id": cols["unit_id"],
        "time_s": cols["time_s"],
        "event": _dict("event", cols["event"], _LABELS["event"]),
        "compartment": _dict("compartment", cols["compartment"], arm.compartments),
        "shielded": _bools(cols["shielded"]),
    })


def run_units(arm: Arm, key: tuple[int, int], start: int, stop: int, events: bool, fates: dict | None = None):
    """Core columns for units [start, stop): (fates, list of event column dicts); ``fates``:
    columns to write them into (of stop - start rows; views of a larger chunk's, say)."""
    fates = _core.new_fate_buffers(stop - start) if fates is None else fates
    if not events:
        nxt, _, status = _core.run_chunk(arm.core, key[0], key[1], start, stop, fates)
        raise_for_status(status, nxt)
        return fates, []
    parts = []
    smallest, largest = EVENT_BUFFER_ROWS
    rows = min(max(EVENT_ROWS_PER_UNIT * (stop - start), smallest), largest)
    u = start
    while u < stop:
        buf = _core.new_event_buffers(rows)
        sub = {k: v[u - start:] for k, v in fates.items()}
        nxt, n, status = _core.run_chunk(arm.core, key[0], key[1], u, stop, sub, buf)
        raise_for_status(status, nxt)
        if n:
            # A fresh buffer each call: a view of it when mostly full, else a copy, so the
            # buffer is not kept alive for a few rows.
            parts.append({k: v[:n] if 2 * n >= rows else v[:n].copy() for k, v in buf.items()})
        if status == _core.EVENTS_FULL and nxt == u:
            rows *= 2  # one unit's events outgrow the buffer: make room
        u = nxt
    return fates, parts


def check_sizes(n_units, chunk_size, units_name: str = "units", chunk_name: str = "chunk size",
                least_units: int = 0):
    """Refuse a number of units or a chunk size that is not an integer in range."""
    def integer(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)
    if not integer(n_units) or not least_units <= n_units <= MAX_UNITS:
        raise ValueError(f"{units_name}: expected an integer from {least_units} to 2**63 - 1 (unit ids are int64), "
                         f"got {n_units!r}")
    if not integer(chunk_size) or not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"{chunk_name}: expected an integer from 1 to {MAX_CHUNK:,}, got {chunk_size!r}")


def iter_batches(scenario: Scenario, n_units: int, seed: int, *, arms=None, events=False,
                 threads: int | None = None, chunk_size: int = DEFAULT_CHUNK,
                 skip: Callable[[str, int], bool] | None = None, executor=None
                 ) -> Iterator[tuple[str, int, pa.RecordBatch, list[pa.RecordBatch]]]:
    """Yield (arm, chunk index, fates, event batches) for every chunk, in order.

    Chunks run on ``executor`` (``ctcsim.studies.executor``: local threads or a Dask
    cluster), by default on ``threads`` local threads; results come in chunk order either
    way, so what is written from them is the same.  ``skip(arm, chunk index)`` is true for
    chunks already done (resuming a run).  Memory stays bounded whatever ``n_units``:
    chunks are made as they are submitted, and at most 2 per worker thread are in flight.
    """
    from .studies.executor import ChunkJob, fate_chunk, local  # here: that module imports this one

    seed_key(seed)
    names = list(arms or scenario.arm_names())
    for name in names:
        Arm.of(scenario, name)  # a scenario that does not compile fails here, not in a worker
    text = dumps(scenario)  # a task names its scenario by text: it pickles small, to any worker
    jobs = (ChunkJob(text, name, seed, s, min(s + chunk_size, n_units), events) for name in names
            for i, s in enumerate(range(0, n_units, chunk_size)) if skip is None or not skip(name, i))
    own = executor is None
    executor = executor or local(threads)
    try:
        for job, (fates, event_batches) in executor.ordered(fate_chunk, jobs):
            yield job.arm, job.start // chunk_size, fates, event_batches
    finally:
        if own:  # closed early (an interrupt, an error): chunks not started are dropped, not run
            executor.close()


@dataclasses.dataclass
class Result:
    """What ``simulate`` returns: fates (and events) as Arrow tables, with the seed used."""
    fates: pa.Table
    events: pa.Table | None
    seed: int

    def __repr__(self) -> str:
        arms = self.fates.column("arm").unique().to_pylist() if self.fates.num_rows else []
        events = f"{self.events.num_rows:,} event rows" if self.events is not None else "no events"
        return f"Result({self.fates.num_rows:,} fates in arm(s) {', '.join(arms) or '-'}, {events}, seed {self.seed})"


def simulate(scenario: Scenario, n_units: int, seed: int | None = None, *, events: bool = False,
             arms=None, threads: int | None = None, chunk_size: int = DEFAULT_CHUNK) -> Result:
    """Simulate ``n_units`` units in each arm and return their fates (and events) in memory.

    For runs too large for memory, ``ctcsim run`` streams the same batches to Parquet.
    """
    check_sizes(n_units, chunk_size, "n_units", "chunk_size")
    seed = new_seed() if seed is None else seed
    fate_batches, event_batches = [], []
    for _, _, fb, ebs in iter_batches(scenario, n_units, seed, arms=arms, events=events,
                                      threads=threads, chunk_size=chunk_size):
        fate_batches.append(fb)
        event_batches.extend(ebs)
    fates = pa.Table.from_batches(fate_batches, schema=fate_batches[0].schema if fate_batches else None) \
        if fate_batches else _empty(scenario, fate_batch)
    ev = None
    if events:
        ev = pa.Table.from_batches(event_batches) if event_batches else _empty(scenario, event_batch)
    return Result(fates, ev, seed)


def _empty(scenario: Scenario, make) -> pa.Table:
    arm = Arm.of(scenario, scenario.arm_names()[0])
    bufs = _core.new_fate_buffers(0) if make is fate_batch else _core.new_event_buffers(0)
    return pa.Table.from_batches([make(arm, scenario.arm_names(), bufs)])
