"""Run units through the core in chunks, on threads, and hand back Arrow record batches.

Each unit's random numbers depend only on (seed, unit id), so the output is the
same for any chunk size, thread count or order; chunks are yielded in unit
order so that files written from them are identical too.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np
import pyarrow as pa

from . import _core
from .errors import raise_for_status
from .compile import compile_arm, expected_units
from .model import ARREST_MODES, EVENTS, FATES, PHENOTYPES, POST_ARREST, CompiledModel
from .scenario import Scenario

DEFAULT_CHUNK = 1 << 16          # units per chunk: ~3.5 MB of fate columns; the pipeline fills early
EVENT_BUFFER_ROWS = 1 << 20      # event rows buffered per chunk before a copy-out


def new_seed() -> int:
    """A fresh 128-bit seed from the OS (recorded by whoever runs with it)."""
    return secrets.randbits(128)


SHEDDING_STREAM = (2**64 - 1, 3)  # (unit word, stream word) of the draw of the number shed


def shed_units(scenario: Scenario, seed: int) -> int:
    """The number of units a shedding scenario sheds: Poisson(expected_units), from the seed.

    It has its own Philox stream (a unit id no real unit has), so it is reproducible and
    independent of every unit's draws."""
    lam = expected_units(scenario)
    unit, stream = SHEDDING_STREAM
    bits = np.random.Philox(key=np.array(seed_key(seed), np.uint64),
                            counter=np.array([0, unit, stream, 0], np.uint64))
    return int(np.random.Generator(bits).poisson(lam))


def seed_key(seed: int) -> tuple[int, int]:
    """The Philox key of a seed: its low and high 64-bit words."""
    if not isinstance(seed, (int, np.integer)) or seed < 0 or seed >= 1 << 128:
        raise ValueError(f"seed must be an integer in [0, 2**128), got {seed!r}")
    seed = int(seed)
    return seed & ((1 << 64) - 1), seed >> 64


def _dict(codes: np.ndarray, values, mask=None) -> pa.DictionaryArray:
    """Codes (int8 or int32, as the core writes them: no copy) against a fixed dictionary."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask), pa.array(list(values), pa.string()))


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm ready to run: its name, compiled model(s) and core handle."""
    name: str
    model: CompiledModel
    core: object

    @classmethod
    def of(cls, scenario: Scenario, name: str) -> "Arm":
        before, after, start_s = compile_arm(scenario, name)
        return cls(name, before, _core.CoreModel(before, after, start_s))


def fate_batch(arm: Arm, arms: list[str], cols: dict) -> pa.RecordBatch:
    """Core fate columns -> a record batch with dictionary-encoded categories."""
    m = arm.model
    n = len(cols["unit_id"])
    organ = cols["organ"]
    return pa.RecordBatch.from_pydict({
        "arm": _dict(np.full(n, arms.index(arm.name), np.int32), arms),
        "unit_id": cols["unit_id"],
        "cluster_size": cols["cluster_size"],
        "phenotype": _dict(cols["phenotype"], PHENOTYPES),
        "diameter_um": cols["diameter_um"],
        "entry_time_s": cols["entry_time_s"],
        "entry_compartment": _dict(cols["entry_compartment"], m.compartment_names),
        "fate": _dict(cols["fate"], FATES),
        "fate_time_s": cols["fate_time_s"],
        "organ": _dict(np.maximum(organ, 0), m.organ_names, mask=organ < 0),
        "arrest_mode": _dict(cols["arrest_mode"], ARREST_MODES),
        "beds_visited": cols["beds_visited"],
        "shielded_at_fate": cols["shielded_at_fate"].astype(bool),
        "time_shielded_s": cols["time_shielded_s"],
        "n_steps": cols["n_steps"],
        "post_arrest": _dict(cols["post_arrest"], POST_ARREST),
        "post_arrest_time_s": cols["post_arrest_time_s"],
        "extravasation_time_s": cols["extravasation_time_s"],
        "micrometastasis_time_s": cols["micrometastasis_time_s"],
    })


def event_batch(arm: Arm, arms: list[str], cols: dict) -> pa.RecordBatch:
    n = len(cols["unit_id"])
    return pa.RecordBatch.from_pydict({
        "arm": _dict(np.full(n, arms.index(arm.name), np.int32), arms),
        "unit_id": cols["unit_id"],
        "time_s": cols["time_s"],
        "event": _dict(cols["event"], EVENTS),
        "compartment": _dict(cols["compartment"], arm.model.compartment_names),
        "shielded": cols["shielded"].astype(bool),
    })


def run_units(arm: Arm, key: tuple[int, int], start: int, stop: int, events: bool):
    """Core columns for units [start, stop): (fates, list of event column dicts)."""
    fates = _core.new_fate_buffers(stop - start)
    if not events:
        nxt, _, status = _core.run_chunk(arm.core, key[0], key[1], start, stop, fates)
        raise_for_status(status, nxt)
        return fates, []
    parts = []
    rows = EVENT_BUFFER_ROWS
    u = start
    while u < stop:
        buf = _core.new_event_buffers(rows)
        sub = {k: v[u - start:] for k, v in fates.items()}
        nxt, n, status = _core.run_chunk(arm.core, key[0], key[1], u, stop, sub, buf)
        raise_for_status(status, nxt)
        if n:
            parts.append({k: v[:n] for k, v in buf.items()})  # a fresh buffer each call: no copy
        if status == _core.EVENTS_FULL and nxt == u:
            rows *= 2  # one unit's events outgrow the buffer: make room
        u = nxt
    return fates, parts


def chunks(n_units: int, chunk: int):
    return [(s, min(s + chunk, n_units)) for s in range(0, n_units, chunk)]


def iter_batches(scenario: Scenario, n_units: int, seed: int, *, arms=None, events=False,
                 threads: int | None = None, chunk_size: int = DEFAULT_CHUNK,
                 skip=frozenset()) -> Iterator[tuple[str, int, pa.RecordBatch, list[pa.RecordBatch]]]:
    """Yield (arm, chunk index, fates, event batches) for every chunk, in order.

    ``skip`` holds (arm, chunk index) pairs already done (resuming a run).
    Memory stays bounded: at most ``2 * threads`` chunks are in flight.
    """
    key = seed_key(seed)
    all_arms = scenario.arm_names()
    ready = [Arm.of(scenario, a) for a in (arms or all_arms)]
    jobs = [(arm, i, s, e) for arm in ready for i, (s, e) in enumerate(chunks(n_units, chunk_size))
            if (arm.name, i) not in skip]
    threads = threads or os.cpu_count() or 1
    with ThreadPoolExecutor(threads) as pool:
        pending = []
        for arm, i, start, stop in jobs:
            pending.append((arm.name, i, pool.submit(_batches, arm, all_arms, key, start, stop, events)))
            if len(pending) >= 2 * threads:
                name, i, future = pending.pop(0)
                yield (name, i, *future.result())
        while pending:
            name, i, future = pending.pop(0)
            yield (name, i, *future.result())


def _batches(arm: Arm, all_arms: list[str], key, start: int, stop: int, events: bool):
    """A worker's whole job: simulate, and build the Arrow batches (off the consumer's thread)."""
    fates, parts = run_units(arm, key, start, stop, events)
    return fate_batch(arm, all_arms, fates), [event_batch(arm, all_arms, p) for p in parts]


@dataclasses.dataclass
class Result:
    """What ``simulate`` returns: fates (and events) as Arrow tables, with the seed used."""
    fates: pa.Table
    events: pa.Table | None
    seed: int


def simulate(scenario: Scenario, n_units: int, seed: int | None = None, *, events: bool = False,
             arms=None, threads: int | None = None, chunk_size: int = DEFAULT_CHUNK) -> Result:
    """Simulate ``n_units`` units in each arm and return their fates (and events) in memory.

    For runs too large for memory, ``ctcsim run`` streams the same batches to Parquet.
    """
    if n_units < 0:
        raise ValueError(f"n_units must be >= 0, got {n_units}")
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
