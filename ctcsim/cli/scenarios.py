"""`ctcsim scenarios`, `ctcsim scenario show`, `ctcsim validate`: look at scenarios without running them."""
from __future__ import annotations

import re
from pathlib import Path

import click

from .. import scenario as sc
from ..checks import ScenarioError
from ..compile import compile_model
from ..scenario.notes import notes
from ..units import duration
from . import Failure

# A run directory names each arm's partition `arm=NAME` (DESIGN 6: Spark garbles other characters).
_RUN_ARM_NAME = re.compile(r"[A-Za-z0-9._-]+")


@click.command("scenarios")
def scenarios():
    """List the built-in scenarios with their horizons (print one with `ctcsim scenario show NAME`)."""
    names = sc.builtin_scenario_names()
    width = max(map(len, names))
    for name in names:
        s = sc.builtin_scenario(name)
        click.echo(f"{name:<{width}}  {duration(s.t_max_s):>6}  {s.description}")


@click.group("scenario")
def scenario():
    """Inspect scenarios."""


@scenario.command("show")
@click.argument("name_or_file")
@click.option("--resolved", is_flag=True, help="Also write the anatomy inline (every compartment and edge) "
                                               "instead of naming the built-in one.")
def show(name_or_file, resolved):
    """Print a scenario as TOML to edit and run: every value written out, the primary as a
    [primary] table and every organ's tropism factors ([adhesion], [soil]) as the tropism
    table resolves them, each key with its comment (the built-in file's own, else the key's
    documentation), and arms last, so that appending [[arms]] tables works.

    \b
    Save it, edit it and run it:
      ctcsim scenario show breast > my.toml
      ctcsim run my.toml
    """
    from ..scenario.show import commented

    try:
        s = sc.load(name_or_file)
        builtin = not (Path(name_or_file).suffix == ".toml" or Path(name_or_file).exists())  # as sc.load
        text = sc.builtin_scenario_text(name_or_file) if builtin else read_text(name_or_file)
    except ScenarioError as e:
        raise Failure(str(e)) from None
    click.echo(commented(s, text, inline_anatomy=resolved), nl=False)


def read_text(path: str) -> str:
    """A scenario file's text (``sc.load`` has just read it: a failure here is a race)."""
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(path, "", f"cannot read: {e}") from None


@click.command("validate")
@click.argument("files", nargs=-1, required=True)
def validate(files):
    """Check scenario files (or built-in names) without running them.

    Exit code 0 if all are valid (`ctcsim run` accepts them); 2 at the first invalid one,
    with one line naming the file, the key and what was expected.
    """
    for f in files:
        try:
            s = sc.load(f)
        except ScenarioError as e:
            raise Failure(str(e)) from None
        where = sc.origin(s)
        try:
            for i, arm in enumerate(s.arms):
                if not _RUN_ARM_NAME.fullmatch(arm.name):
                    raise ScenarioError(where, f"arms[{i}].name", "an arm names a directory of a run: use letters, "
                                                                  "digits, '.', '_' or '-'")
            for arm in s.arm_names():
                compile_model(s, arm)
        except ScenarioError as e:  # compiling may blame another file (a tropism table): name this one first
            raise Failure(str(e) if e.where == where else f"{where}: {e}") from None
        click.echo(f"{f}: ok ({s.name}: {len(s.resolved_anatomy().compartments)} compartments, "
                   f"arms {', '.join(s.arm_names())})")
        for note in notes(s):
            click.echo(f"{f}: note: {note}")


commands = [scenarios, scenario, validate]
