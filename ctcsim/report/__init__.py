"""``ctcsim report``: a run (or a study) as one self-contained HTML file a colleague can open.

    from ctcsim.report import write_report
    write_report("my-run")                  # writes my-run/report.html and returns its path
    write_report("my-sweep")                # a study directory: response curves, sensitivity bars

The tables are computed from the run directory with pyarrow, one part file at a time
(``tables``); what the report says is gathered in ``content``; the figures are matplotlib
SVG (``figures``), laid out with the tables in one HTML file (``html``) that needs no network,
no script from elsewhere and no file beside it.  A study directory (docs/STUDIES.md) is read by
``study`` and laid out by ``study_html`` with ``study_figures``, in the same page style.
matplotlib is the ``report`` extra (``pip install 'ctcsim[report]'``).
"""
from __future__ import annotations

from pathlib import Path

REPORT_NAME = "report.html"


class MissingDependency(RuntimeError):
    """An optional dependency of the report is not installed."""


def write_report(source, out=None, *, exact: bool = False) -> Path:
    """Write the report of the run or study directory ``source`` (a path or a ``Run``) to
    ``out`` (default: ``report.html`` inside the directory) and return the path written.
    ``exact`` adds the master equation's check of a run's circulating phase (slow with
    anoikis: it integrates the forward equation)."""
    try:
        import matplotlib  # noqa: F401  (checked first: the one dependency beyond ctcsim's own)
    except ImportError:
        raise MissingDependency("ctcsim report needs matplotlib: pip install 'ctcsim[report]'") from None
    from . import study

    if isinstance(source, (str, Path)) and study.is_study(source):
        if exact:
            raise ValueError(f"{source}: --exact checks a run; a study directory has no run to check")
        from . import study_html
        out = Path(out) if out is not None else Path(source) / REPORT_NAME
        text = study_html.render(study.collect(source))
    else:
        from .. import read_run
        from . import content, html

        run = read_run(source) if isinstance(source, (str, Path)) else source
        out = Path(out) if out is not None else Path(run.path) / REPORT_NAME
        text = html.render(content.collect(run, exact=exact))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
