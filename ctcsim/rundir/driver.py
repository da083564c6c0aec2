"""Running into a run directory: create it (``prepare_run``), reopen an unfinished or damaged
one (``prepare_resume``), and simulate the parts not yet done (``execute``).

Part ``p`` of an arm holds the units of chunks ``p * chunks_per_part`` up to the
next part.  A directory without run.json is incomplete; ``prepare_resume`` +
``execute`` re-run only the parts not recorded as done, and since every unit's
random numbers depend only on the seed and its id, the result equals an
uninterrupted run.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Callable

import pyarrow as pa

from .. import _core
from .. import scenario as _scenario
from .._version import __version__
from ..analysis import Tally
from ..checks import ScenarioError
from ..compile import compile_model
from ..runner import DEFAULT_CHUNK, check_sizes
from ..seeding import default_units, new_seed, seed_key
from . import format as fmt
from . import jobs, parts
from .format import OWN, PARTITION_VALUE, PLAN, RUN, RunDirError, file_md, now, write_json
from .reader import Run, read_run
from .repair import repaired

log = logging.getLogger("ctcsim")
Progress = Callable[[int, int], None]  # (units done, units in the run)


@dataclasses.dataclass(frozen=True)
class Plan:
    """A run directory ready to (re)start: where it is, its metadata (what every file
    carries), the scenario it runs, the part files done so far (path -> rows, bytes,
    sha256), whether it resumes a run, and what that resume found wrong and will redo."""
    path: Path
    metadata: dict
    scenario: _scenario.Scenario
    parts: dict = dataclasses.field(default_factory=dict)
    resumed: bool = False
    repairs: tuple = ()

    def done_parts(self) -> set[tuple[str, int]]:
        """(arm, part) pairs whose files are all recorded."""
        done = {parts.parse(rel)[1:] for rel in self.parts if rel.startswith("fates/")}
        if self.metadata["events"]:
            done = {(a, p) for a, p in done if parts.relative("events", a, p) in self.parts}
        return done


def prepare_run(path, scenario: _scenario.Scenario, n_units: int | None = None, seed: int | None = None, *,
                arms=None, events: bool = False, chunk_size: int = DEFAULT_CHUNK,
                overwrite: bool = False) -> Plan:
    """Check every input, then create the run directory with its plan.json.

    ``n_units`` None: ``seeding.default_units`` (a shedding scenario's shed count, from
    the seed).  Bad input raises ``ValueError`` (``ScenarioError``, ``RunDirError``)
    before anything is written.  ``overwrite`` replaces a previous run in ``path``
    (never a directory holding anything else).
    """
    seed = new_seed() if seed is None else seed
    seed_key(seed)  # raises for a seed outside [0, 2**128)
    if n_units is None:
        n_units = default_units(scenario, seed)
    check_sizes(n_units, chunk_size, least_units=1)
    arms = list(dict.fromkeys(arms or scenario.arm_names()))
    for arm in arms:
        if arm not in scenario.arm_names():
            raise ValueError(f"unknown arm {arm!r}; scenario {scenario.name!r} has: {', '.join(scenario.arm_names())}")
        if not PARTITION_VALUE.match(arm):
            i = scenario.arm_names().index(arm)
            raise ScenarioError(_scenario.origin(scenario), f"arms[{i}].name",
                                f"arm {arm!r} cannot name a partition: use letters, digits, '.', '_' or '-'")
    text, scenario = fmt.replayable(scenario)
    for arm in arms:
        compile_model(scenario, arm)
    path = Path(path)
    old = _previous_run(path, overwrite)
    metadata = fmt.new_metadata(text, scenario.name, seed, n_units, arms, events, chunk_size,
                                scenario.t_max_s)
    created = not path.exists()
    try:
        for p in old:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        for table in ("fates", "events") if events else ("fates",):
            (path / table).mkdir(parents=True)
        write_json(path / PLAN, {**metadata, "parts": {}})
    except BaseException as e:  # an OSError, or Ctrl-C: no half-made directory is left behind
        if created:
            shutil.rmtree(path, ignore_errors=True)
        if isinstance(e, OSError):
            raise RunDirError(f"{path}: cannot write the output directory: {e.strerror or e}") from None
        raise
    return Plan(path, metadata, scenario)


def prepare_resume(path) -> Plan:
    """Reopen a run directory to finish it, or to repair it.

    Every file is checked (sizes, rows, metadata and checksums): the run's own
    temporary files and damaged, truncated or missing parts are to be redone; a
    file from another run or one the run does not record is refused (``DamagedRunError``)
    before anything changes.  A complete run with nothing wrong raises
    ``CompleteRunError``; one whose run.json and plan.json were deleted is rebuilt from
    the metadata its part files carry.
    """
    path = Path(path)
    loaded = []

    def accept(md: dict):
        if md["ctcsim_version"] != __version__:
            raise RunDirError(f"{path}: started by ctcsim {md['ctcsim_version']}; resume it with that "
                              f"version to get the same output (this is {__version__})")
        loaded.append(_scenario.loads(md["scenario"], f"{path / PLAN}: scenario"))
        for arm in md["arms"]:
            if arm not in loaded[0].arm_names():
                raise RunDirError(f"{path / PLAN}: arms: {arm!r} is not an arm of the recorded scenario")

    doc, repairs = repaired(path, accept)
    return Plan(path, file_md(doc), loaded[0], dict(doc["parts"]), True, tuple(repairs))


def is_complete(path) -> bool:
    """Whether ``path`` holds a finished run (its run.json)."""
    return (Path(path) / RUN).is_file()


def execute(plan: Plan, *, threads: int | None = None, progress: Progress | None = None, executor=None) -> Run:
    """Simulate the parts of ``plan`` not yet done, write run.json, and return the run.

    Each part is written and tallied by one of ``threads`` threads (``jobs.run_parts`` says
    how many parts are written at once, and when the other threads simulate their chunks
    ahead), or by a worker of ``executor`` (``ctcsim.studies.executor``: threads or Dask),
    and recorded in plan.json as each ends.
    On any exception (KeyboardInterrupt included) the parts under way stop before their
    next chunk and their temporary files are deleted; finished parts are kept, ready for
    ``prepare_resume``.  Called from the main thread, it turns SIGINT and SIGTERM into that
    KeyboardInterrupt, within a moment however long the unit being simulated
    (``_stopped_by_signals``).
    """
    md = plan.metadata
    arms = md["arms"]
    threads = threads or os.cpu_count() or 1
    done = plan.done_parts()
    tally = Tally(arms, plan.scenario.t_max_s)
    event_rows, cpu_s = dict.fromkeys(arms, 0), dict.fromkeys(jobs.STAGES, 0.0)
    units_before = units_done = sum(plan.parts[parts.relative("fates", a, p)]["rows"] for a, p in done)
    units_total = md["n_units"] * len(arms)
    if done:
        log.info("resuming %s: %d of %d parts done", plan.path, len(done), len(arms) * parts.parts_per_arm(md))
    started, t0 = now(), time.monotonic()
    if progress:
        progress(units_done, units_total)

    def finished(part: jobs.PartDone):
        if part.files:
            plan.parts.update(part.files)
            write_json(plan.path / PLAN, {**md, "parts": plan.parts})
        tally.merge(part.tally)
        event_rows[part.arm] += part.event_rows
        for stage, seconds in part.cpu_s.items():
            cpu_s[stage] += seconds

    def chunk_done(units: int):
        nonlocal units_done
        units_done += units
        if progress:
            progress(units_done, units_total)

    recount = ((jobs.tally_part, a, p) for a, p in sorted(done))
    todo = ((jobs.write_part, a, p) for a in arms for p in range(parts.parts_per_arm(md)) if (a, p) not in done)
    with _stopped_by_signals():
        try:
            jobs.run_parts(plan, itertools.chain(recount, todo), finished, chunk_done, threads, executor,
                           len(arms) * parts.parts_per_arm(md) - len(done))
        except BaseException:
            # All of them: an interrupt can also land between creating a part's file and its job's `try`.
            _remove_temporaries(plan.path)
            raise
    wall_s = time.monotonic() - t0
    simulated = units_done - units_before
    tables = ("fates", "events") if md["events"] else ("fates",)
    size = {t: sum(e["bytes"] for rel, e in plan.parts.items() if rel.startswith(f"{t}/")) for t in tables}
    record = {
        **md,
        "parts": dict(sorted(plan.parts.items())),
        "counts": {"units": tally.n(), "event_rows": event_rows if md["events"] else None, "bytes": size},
        "timings": {"started": started, "finished": now(), "wall_s": wall_s,
                    "threads": executor.slots if executor else threads,
                    "units_simulated": simulated, "units_per_s": simulated / wall_s if wall_s > 0 else None,
                    "resumed": plan.resumed, "cpu_s": cpu_s},
        "summary": tally.summary(),
    }
    write_json(plan.path / RUN, record)
    (plan.path / PLAN).unlink()
    return read_run(plan.path)


def write_run(path, scenario, n_units=None, seed=None, *, arms=None, events=False, threads=None, executor=None,
              chunk_size=DEFAULT_CHUNK, overwrite=False, progress: Progress | None = None) -> Run:
    """Simulate a run into the directory ``path`` and return it (``prepare_run`` + ``execute``)."""
    plan = prepare_run(path, scenario, n_units, seed, arms=arms, events=events, chunk_size=chunk_size,
                       overwrite=overwrite)
    return execute(plan, threads=threads, progress=progress, executor=executor)


@contextlib.contextmanager
def _stopped_by_signals():
    """Ctrl-C (SIGINT) and SIGTERM end a run within a moment, mid-chunk included: the core is
    asked to stop (its loop looks every few thousand steps; a unit cut short is discarded)
    and KeyboardInterrupt takes the interruption path, which keeps the finished parts.
    Only the main thread can set handlers; elsewhere the caller's own handling stands."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def stop(signum, frame):
        _core.request_stop()
        if not stopping:  # once: a second signal must not cut the clean-up short
            stopping.append(signum)
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _core.clear_stop()  # after the workers are gone (the body closed them): the next run may go


def _remove_temporaries(path: Path):
    """The writers' temporary files, and plan.json's (parts are recorded on the thread an
    interrupt lands on: it may stop a record between writing and renaming it)."""
    for tmp in [*Path(path).glob("*/arm=*/.part-*.tmp"), Path(path) / f".{PLAN}.tmp"]:
        tmp.unlink(missing_ok=True)


def _previous_run(path: Path, overwrite: bool) -> list[Path]:
    """What must go before a run is written to ``path``: a previous run's files only.  Anything
    else (another file, a symbolic link, a Parquet file ctcsim did not write) is refused."""
    if not path.exists():
        return []
    if not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a directory")
    entries = sorted(path.iterdir())
    if entries and not overwrite:
        raise RunDirError(f"{path}: output directory is not empty; choose another, overwrite it, or resume it")
    foreign = [p.name for p in entries if p.name not in OWN or p.is_symlink()]
    for rel in [] if foreign else parts.listing(path):
        if not parts.is_temporary(rel) and not (parts.parse(rel) and _written_by_ctcsim(path / rel)):
            foreign.append(rel)
    if foreign:
        raise RunDirError(f"{path}: holds files that are not from a ctcsim run ({', '.join(foreign[:3])}); "
                          "refusing to overwrite")
    return entries


def _written_by_ctcsim(path: Path) -> bool:
    try:
        fmt.checked(parts.run_metadata(path), path)
        return not path.is_symlink()
    except (pa.ArrowException, OSError, ValueError):
        return False
