"""``ctcsim report``: a run or a study as one self-contained HTML file."""
import click

from . import Failure


@click.command("report")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="HTML file to write [default: DIR/report.html].")
@click.option("--exact", is_flag=True, help="Also set the simulated outcomes of circulation beside the master "
                                           "equation's (as ctcsim verify; slow for scenarios with anoikis).")
def report(run_dir, out, exact):
    """Write the report of the run or study in DIR: one HTML file that opens without network.

    A run's report has the cascade from entry to macrometastasis, outcomes by organ against
    the clinical site frequencies of the primary's tropism table, time courses, paired arm
    differences per organ, where units spend their time, checks, the scenario and its
    provenance.  A study's (ctcsim sweep, ctcsim sensitivity) has the response curves of each
    outcome against each parameter, over all units and per organ, with intervals; for a
    sensitivity study, Sobol' S1 and ST (or Morris mu* and sigma) with their intervals."""
    from ..report import MissingDependency, write_report

    try:
        path = write_report(run_dir, out, exact=exact)
    except MissingDependency as e:
        raise Failure(str(e), exit_code=1) from None
    except (ValueError, OSError) as e:
        raise Failure(str(e)) from None
    click.echo(path)


commands = [report]
