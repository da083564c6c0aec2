"""The ``ctcsim`` command: one click group; each command lives in its own short module.

Commands parse their arguments and call the library, nothing more.  Every
error is one line on stderr, ``ctcsim: error: ...``; exit codes: 0 ok, 1 the
run failed (or is incomplete), 2 bad usage or input, 130 interrupted.

To add a command: write a module here that defines ``commands`` (a list of
click commands or groups) and name it in ``COMMAND_MODULES`` below.
"""
import importlib
import logging
import sys

import click

from .._version import __version__

COMMAND_MODULES = ("run", "summarize", "inspect", "trace", "verify", "scenarios", "tropism", "sweep", "sensitivity", "calibrate")


class Failure(click.ClickException):
    """An error shown as one line; exit code 2 (bad input) unless given."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class _Group(click.Group):
    """The click group, with every error reported on one line instead of click's usage block."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name or "ctcsim", complete_var, standalone_mode=False, **extra)
        except click.ClickException as e:
            click.echo(f"ctcsim: error: {e.format_message()}", err=True)
            code = e.exit_code
        except click.Abort:
            click.echo("ctcsim: interrupted", err=True)
            code = 130
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ctcsim", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More messages on stderr (-v: progress details and "
                                                    "tracebacks of failures; -vv: debugging).")
def main(verbose):
    """Exact stochastic simulation of circulating tumour cells.

    \b
    A first session:
      ctcsim scenarios                        the built-in scenarios
      ctcsim scenario show breast > my.toml   one of them as an editable TOML file
      ctcsim validate my.toml                 check it without running it
      ctcsim run my.toml -n 1000000 --seed 7 -o my-run
      ctcsim summarize my-run                 fractions per fate, organ and arm, with 95% CIs
      ctcsim trace my-run --unit 42           one unit's full event history
      ctcsim verify my.toml                   simulated outcomes beside the exact ones

    Every command has its own --help.
    """
    logging.basicConfig(level=max(logging.DEBUG, logging.WARNING - 10 * verbose),
                        format="ctcsim: %(message)s", stream=sys.stderr)


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f".{_name}", __name__).commands:
        main.add_command(_command)
