"""The ``ctcsim`` command: one click group; each command lives in its own short module.

Commands parse their arguments and call the library, nothing more.  Every
error is one line on stderr, ``ctcsim: error: ...``; exit codes: 0 ok, 1 the
run failed, is incomplete or damaged (or the output could not be written), 2 bad usage or
input, 130 interrupted.

To add a command: write a module here that defines ``commands`` (a list of
click commands or groups) and name each command in ``COMMANDS`` below, with its module
and the line ``ctcsim --help`` shows for it.  A command's module is imported only when
the command runs: importing every command's dependencies (scipy above all) cost ~2 s, so
``ctcsim --version`` and ``ctcsim --help`` import none of them
(tests/test_cli_lazy.py checks the lines against the commands' own help).
"""
import signal
import sys


def _interrupted_while_loading(signum, frame):
    sys.stderr.write("ctcsim: interrupted\n")
    raise SystemExit(130)


# Ctrl-C while the commands' modules load (numpy, pyarrow, the core: most of start-up) is one
# line, not a KeyboardInterrupt traceback; the usual handler is back at the end of this module.
_previous_sigint = signal.signal(signal.SIGINT, _interrupted_while_loading)

import contextlib  # noqa: E402 (after the handler, which is the point)
import errno  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402

# Arrow's buffers from the system allocator, read by pyarrow when it first allocates (no command
# has imported it yet), unless the user chose one: with its default, mimalloc, each thread writing
# part files keeps what it freed, and a run's peak RSS with two parts in progress was ~20 MiB
# higher (3e6 units on 2 threads: 160-170 MiB against 143-145).  The bytes written are the same.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import click  # noqa: E402

from .._version import __version__  # noqa: E402
from ..checks import ScenarioError  # noqa: E402  (standard library only)

COMMANDS = {  # name: (module, line in ctcsim --help)
    "check": ("check", "Check every file of a run against its recorded checksum."),
    "compare": ("compare", "Two runs outcome by outcome, paired when they can be."),
    "dossier": ("dossier", "The validation dossier: every published target measured and judged."),
    "inspect": ("inspect", "Status, metadata, schema and row counts of a run or file."),
    "report": ("report", "A run's or a study's report: one self-contained HTML file."),
    "run": ("run", "Simulate a scenario into a run directory, or resume one."),
    "scenario": ("scenarios", "Inspect scenarios (show one as editable TOML)."),
    "scenarios": ("scenarios", "List the built-in scenarios."),
    "summarize": ("summarize", "Fractions per fate, organ and outcome, with 95% intervals."),
    "trace": ("trace", "Replay one unit of a run and print its event history."),
    "tropism": ("tropism", "Organ tropism tables: list, show and fit them."),
    "validate": ("scenarios", "Check scenario files or built-in names without running them."),
    "verify": ("verify", "Simulated outcomes beside the exact ones (master equation)."),
    "sweep": ("sweep", "A scenario at every point of a design, paired, into one table."),
    "sensitivity": ("sensitivity", "Sobol' indices or Morris screening of a study's outputs."),
    "calibrate": ("calibrate", "Fit parameters to targets; profile-likelihood intervals."),
    "calibrate-all": ("calibrate", "The joint calibration of the built-in biology to its targets."),
}


class Failure(click.ClickException):
    """An error shown as one line; exit code 2 (bad input) unless given."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def open_run(path, allow_incomplete: bool = False):
    """``read_run`` with its errors as one line: exit 1 for a run incomplete or damaged, 2 for
    a directory that is not a run (or a run document that is not valid)."""
    from .. import rundir

    try:
        return rundir.read_run(path, allow_incomplete=allow_incomplete)
    except (rundir.IncompleteRunError, rundir.DamagedRunError) as e:
        raise Failure(str(e), exit_code=1) from None
    except rundir.RunDirError as e:
        raise Failure(str(e)) from None


class _Group(click.Group):
    """The click group: commands imported when used (``COMMANDS``), and every error reported on
    one line instead of click's usage block."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f".{COMMANDS[name][0]}", __name__)
        return next(c for c in module.commands if c.name == name)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name or "ctcsim", complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()  # now, not at exit: a full device or a closed pipe is then one line
        except click.ClickException as e:
            click.echo(f"ctcsim: error: {e.format_message()}", err=True)
            code = e.exit_code
        except ScenarioError as e:  # e.g. a recorded run's scenario this version refuses (no traceback)
            click.echo(f"ctcsim: error: {e}", err=True)
            code = 2
        except click.Abort:
            click.echo("ctcsim: interrupted", err=True)
            code = 130
        except OSError as e:
            code = _output_failed(e)
        if not standalone_mode:
            return code
        # The command is over: a Ctrl-C now would only land in the interpreter's shutdown (joining
        # threads, flushing), where it kills the process with no message; the exit is a moment away.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if code == 130:
            # Interrupted: what was written is closed and said; leave without the interpreter's
            # finalization, during which a second Ctrl-C or SIGTERM would end the process silently.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def _output_failed(e: OSError) -> int:
    """Standard output (or a file) could not be written: say so in one line, exit 1.  A closed
    pipe (``ctcsim summarize DIR | head``) is not news to whoever closed it: said nothing."""
    with contextlib.suppress(OSError, ValueError):
        # What is still buffered goes nowhere, so the interpreter's last flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if e.errno != errno.EPIPE:
        where = e.filename if e.filename else "standard output"
        click.echo(f"ctcsim: error: cannot write {where}: {e.strerror or e}", err=True)
    return 1


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
      ctcsim check my-run                     every file of the run against its checksum
      ctcsim verify my.toml                   simulated outcomes beside the exact ones

    Every command has its own --help.
    """
    logging.basicConfig(level=max(logging.DEBUG, logging.WARNING - 10 * verbose),
                        format="ctcsim: %(message)s", stream=sys.stderr)

signal.signal(signal.SIGINT, _previous_sigint)
