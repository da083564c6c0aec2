"""The tables of a study directory, from its points' files: ``table.parquet`` (counts, fractions
and Wilson intervals per point, arm, outcome and organ) and, for a grid, ``differences.parquet``
(the paired differences between neighbouring points, from the units themselves)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..stats import Z95, wilson
from . import designs, outputs

TABLE, DIFFERENCES = "table.parquet", "differences.parquet"


def point_counts(plan, i: int) -> outputs.Counts:
    organs = plan.scenario().resolved_anatomy().organs()
    return outputs.Counts(pq.read_table(plan.point_path(i)), plan.metadata["arms"], organs)


def write_tables(plan):
    """table.parquet from the points' files, and differences.parquet for a grid."""
    md = plan.metadata
    columns = {c: [] for c in ["point", *md["parameters"], "arm", "outcome", "organ", "count", "n", "fraction",
                               "ci_low", "ci_high"]}
    for i, values in enumerate(md["points"]):
        for arm, outcome, organ, k, n in point_counts(plan, i).rows():
            lo, hi = wilson(k, n)
            for c, x in zip(columns, [i, *values, arm, outcome, organ, k, n, k / n, lo, hi]):
                columns[c].append(x)
    write_table(plan.path / TABLE, columns)
    if md["grid_sizes"]:
        write_table(plan.path / DIFFERENCES, _differences(plan))


def _differences(plan) -> dict:
    """Paired differences (next point - point) of every count, for neighbouring grid points."""
    md = plan.metadata
    organs = plan.scenario().resolved_anatomy().organs()
    columns = {c: [] for c in ("point", "next_point", "parameter", "arm", "outcome", "organ", "difference",
                               "ci_low", "ci_high")}
    for a, b, axis in designs.grid_neighbours(md["grid_sizes"]):
        units = [outputs.indicators(pq.read_table(plan.point_path(i)), md["arms"], organs) for i in (a, b)]
        for arm, outcome, organ, n_up, n_down, n in outputs.discordant(*units, md["arms"], organs):
            mean = (n_up - n_down) / n
            se = np.sqrt(max(n_up + n_down - n * mean * mean, 0.0) / (n - 1) / n) if n > 1 else np.nan
            for c, x in zip(columns, [a, b, md["parameters"][axis], arm, outcome, organ, mean,
                                      mean - Z95 * se, mean + Z95 * se]):
                columns[c].append(x)
    return columns


def write_table(path: Path, columns: dict):
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table(columns), tmp, compression="zstd", compression_level=1)
    os.replace(tmp, path)
