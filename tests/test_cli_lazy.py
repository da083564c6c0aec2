"""`ctcsim --version` and `ctcsim --help` import no command's dependencies (issue 12, friction 8:
every command paid ~2 s importing scipy); the help lines name exactly the commands there are.

Timing itself is measured by bench/bench_cli.py (a test of wall time on a shared machine would
flag the machine's load, not the code); here the imports that cost the time are checked."""
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import ctcsim.cli as cli

REPO = Path(cli.__file__).resolve().parents[2]
HEAVY = ("scipy", "numpy", "pyarrow", "ctcsim.exact", "ctcsim.tropism_fit", "matplotlib", "pandas")


def imported_by(*args) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ctcsim", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def test_version_and_help_import_no_command_dependencies():
    for args in (["--version"], ["--help"]):
        modules = imported_by(*args)
        assert not [m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY], args
        assert not [m for m in modules if m.startswith("ctcsim.cli.") and m != "ctcsim.cli.__main__"], args


def test_commands_table_names_every_command_of_every_module():
    found = {}
    for info in pkgutil.iter_modules(cli.__path__):
        if info.name == "__main__":  # runs the command line when imported
            continue
        module = importlib.import_module(f"ctcsim.cli.{info.name}")
        for command in getattr(module, "commands", []):
            found[command.name] = info.name
    assert found == {name: module for name, (module, _) in cli.COMMANDS.items()}


def test_every_listed_command_runs_its_help():
    from click.testing import CliRunner

    for name in cli.COMMANDS:
        result = CliRunner().invoke(cli.main, [name, "--help"])
        assert result.exit_code == 0 and f" {name} [OPTIONS]" in result.output, name


def test_a_run_imports_neither_scipy_nor_arrows_compute_functions(tmp_path):
    """What `ctcsim run` needs is numpy, pyarrow's arrays and Parquet: scipy (~2 s) and
    pyarrow.compute (50-70 ms of every command's start-up) load only where they are used."""
    modules = imported_by("run", "colorectal", "-n", "100", "--seed", "1", "-o", str(tmp_path / "r"), "-q")
    assert "ctcsim.rundir" in modules, "the run did not import what it runs on"
    assert not [m for m in modules if m.split(".")[0] == "scipy" or m == "pyarrow.compute"]
