"""``ctcsim tropism list|show|fit``: the organ tropism tables, and fitting them to site frequencies."""
from __future__ import annotations

import difflib
from pathlib import Path

import click

from .. import scenario as sc
from .. import tropism as tr
from .. import tropism_fit as trf
from ..checks import ScenarioError
from ..site_frequencies import read_sites
from . import Failure


@click.group("tropism")
def tropism():
    """Organ tropism tables: per primary and organ, the adhesion factor and the soil factors."""


@tropism.command("list")
def list_tables():
    """List the built-in tables and the series each was fitted to."""
    for name in tr.list_tables():
        table = _load(name)
        sites = [r.organ for r in table.rows if r.site]
        click.echo(f"{name:<12} {table.rows[0].series}: {', '.join(sites)}")


@tropism.command("show")
@click.argument("primary")
@click.option("--csv", "as_csv", is_flag=True, help="Print the table's CSV, sources included.")
def show(primary, as_csv):
    """Print the built-in tropism table of PRIMARY."""
    table = _load(primary)
    if as_csv:
        click.echo(table.to_csv(), nl=False)
        return
    num = ("adhesion", "niche", "inflammation", "macrophage", "growth", "efficiency", "mei", "share")
    click.echo(f"{'organ':<16}" + "".join(f"{c:>13}" for c in num) + "  site")
    for r in table.rows:
        cells = "".join(f"{'' if getattr(r, c) is None else f'{getattr(r, c):.4g}':>13}" for c in num)
        click.echo(f"{r.organ:<16}{cells}  {r.site or r.data}")
    click.echo(f"series: {table.rows[0].series}; sources: ctcsim tropism show {primary} --csv")


@tropism.command("fit")
@click.argument("sites_csv", metavar="[SITES.csv]", required=False)
@click.option("--primary", required=True, help="The primary the table is for (a built-in primary).")
@click.option("--label", help="The primary as named in the file's primary column [default: --primary].")
@click.option("--series", help="Which study, when the file has several for the primary (part of its name).")
@click.option("--scenario", "scenario_file", metavar="FILE",
              help="Scenario (file or built-in name) whose circulation delivers the cells [default: the "
                   "built-in scenario of the primary, else the default scenario with that primary].")
@click.option("--adhesion-range", nargs=2, type=float, default=trf.ADHESION_RANGE, show_default=True,
              help="Bounds of the fitted adhesion factors; the rest goes to the soil growth factor.")
@click.option("--reference", default=trf.REFERENCE_ORGAN, show_default=True,
              help="The observed organ whose soil is the calibrated biology (every factor 1): it fixes the "
                   "absolute scale of the other organs' growth.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the table here [default: stdout].")
def fit(sites_csv, primary, label, series, scenario_file, adhesion_range, reference, output):
    """Fit a tropism table to the metastatic site frequencies in SITES.csv: adhesion where it
    moves arrests, the rest of each organ's preference in its soil growth (after extravasation),
    relative to the reference organ; organs the series does not observe get 1 ("no data").

    SITES.csv has columns primary, site, percent, denominator, source (n optional).  Without it,
    the table shipped with ctcsim is read: ctcsim/data/reference/metastatic_site_frequencies.csv,
    from which the built-in tables are made (ctcsim/data/tropism/README.md has the commands)."""
    if not scenario_file and primary not in sc.builtin_primaries():
        near = difflib.get_close_matches(primary, list(sc.builtin_primaries()), n=1)
        raise Failure(f"--primary: unknown primary {primary!r}{f'; did you mean {near[0]!r}?' if near else ''} "
                      f"built-in: {', '.join(sc.builtin_primaries())}")
    try:
        freq = read_sites(sites_csv, label or primary, series)
        scenario = sc.load(scenario_file) if scenario_file else trf.default_scenario(primary)
        if scenario.resolved_primary().name != primary:
            raise ScenarioError(scenario_file, "primary",
                                f"is {scenario.resolved_primary().name!r}, but --primary is {primary!r}")
        table = trf.fit(freq, scenario, adhesion_range=tuple(adhesion_range), reference=reference)
    except (ScenarioError, ValueError) as e:
        raise Failure(str(e)) from None
    if output:
        Path(output).write_text(table.to_csv())
        click.echo(f"{output}: {primary} from {freq.key} ({', '.join(s.organ for s in freq.sites)}) "
                   f"on scenario {scenario.name!r}", err=True)
    else:
        click.echo(table.to_csv(), nl=False)


def _load(primary):
    try:
        return tr.load(primary)
    except ScenarioError as e:
        raise Failure(str(e)) from None


commands = [tropism]
