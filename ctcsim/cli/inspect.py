"""``ctcsim inspect``: what a run directory or one of its Parquet files holds."""
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.parquet as pq

from .. import rundir
from . import Failure, open_run


@click.command("inspect")
@click.argument("path", metavar="FILE|DIR", type=click.Path(exists=True))
@click.option("--scenario", "only_scenario", is_flag=True,
              help="Print only the run's resolved scenario as TOML (to rerun or edit it).")
def inspect(path, only_scenario):
    """Show the status, metadata, schema and row counts of a run directory, or of one
    Parquet file written by ctcsim.  Reads file footers only, however large the run."""
    path = Path(path)
    if path.is_dir():
        run = open_run(path, allow_incomplete=True)
        md, tables = run.metadata, {"fates": run.fates, "events": run.events}
    else:
        try:
            md, tables = rundir.file_metadata(path), {}
        except ValueError as e:
            raise Failure(str(e)) from None
    if only_scenario:
        click.echo(md["scenario"], nl=False)
        return
    versions = ", ".join(f"{k} {v}" for k, v in md["versions"].items())
    where = md.get("platform", {})  # format 1.0 did not record it
    lines = [f"{path}: " + ("Parquet file" if not path.is_dir() else
                            "complete run" if run.complete else "INCOMPLETE run (no run.json)"),
             f"  format       {md['format']} {md['format_version']}, ctcsim {md['ctcsim_version']} "
             f"({versions}), created {md['created']}",
             *([f"  platform     {where.get('system')}, {where.get('libc')}, core built by {where.get('compiler')}"]
               if where else []),
             f"  scenario     {md['scenario_name']} ({md['scenario'].count(chr(10))} lines of TOML: inspect --scenario)",
             f"  seed         {md['seed']}",
             f"  units        {md['n_units']:,} per arm; arms: {', '.join(md['arms'])}",
             f"  chunks       {md['chunk_size']:,} units, {md['chunks_per_part']} per part; events: {md['events']}"]
    if path.is_dir():
        for name, dataset in tables.items():
            if dataset is not None:
                lines += _dataset(name, dataset)
    else:
        meta = pq.read_metadata(path)
        lines += [f"  rows         {meta.num_rows:,} in {meta.num_row_groups} row group(s), "
                  f"{path.stat().st_size:,} bytes"] + _schema(meta.schema.to_arrow_schema())
    click.echo("\n".join(lines))


def _dataset(name: str, dataset) -> list[str]:
    rows: dict[str, int] = {}
    size = 0
    for f in dataset.files:
        arm = Path(f).parent.name.removeprefix("arm=")
        rows[arm] = rows.get(arm, 0) + pq.read_metadata(f).num_rows
        size += Path(f).stat().st_size
    total = sum(rows.values())
    per_arm = ", ".join(f"{arm} {n:,}" for arm, n in rows.items())
    return [f"{name}/: {len(dataset.files)} file(s), {total:,} rows ({per_arm or 'none yet'}), {size:,} bytes"
            + (f", {size / total:.1f} bytes/row" if total else "")] + _schema(dataset.schema)


def _schema(schema: pa.Schema) -> list[str]:
    def kind(t):
        return f"dictionary<{t.value_type}>" if pa.types.is_dictionary(t) else str(t)
    return [f"    {f.name:<20}{kind(f.type)}" for f in schema]


commands = [inspect]
