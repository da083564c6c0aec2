"""The joint fit's output: calibrated.toml, and its values written into the built-in scenarios.

calibrated.toml holds nothing that differs between two runs of the same declaration and seed
(no times, no paths), so the same command gives the same bytes.  ``apply`` sets each fitted
value the targets identify (and each value the declaration sets) in every scenario file that
shares it, as ``key = value  # C: ...`` with its interval,
in the table its path names ([biology], [soil.ORGAN]); other paths are refused (one line).
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import tomli_w

from .. import scenario as _scenario
from .._version import __version__
from ..checks import ScenarioError
from .declaration import Declaration
from .jointfit import Result

INTERVAL = "Fisher (Gauss-Newton) information of the standardised residuals on the unit cube of the ranges"


def to_toml(result: Result, decl: Declaration, declaration_name: str) -> str:
    head = [f"# Written by `ctcsim calibrate-all` from {declaration_name} (ctcsim {__version__}); do not edit.",
            f"# Maximum likelihood over every parameter at once; {100 * decl.confidence:g} % intervals from the",
            f"# {INTERVAL}.",
            "# open_low/open_high: the interval reaches the range's end; identified = false: the targets",
            "# do not constrain the parameter within its range; met: the fitted value is inside [low, high]."]
    data = {
        "fit": {"seed": decl.seed, "units": decl.units, "confidence": decl.confidence, "interval": INTERVAL,
                "log_likelihood": result.log_likelihood, "evaluations": result.evaluations,
                "iterations": result.iterations, "status": result.status},
        "parameter": [{k: v for k, v in p.items() if k != "label"} for p in result.parameters],
        "set": [dataclasses.asdict(x) for x in decl.settings],
        "target": result.targets,
    }
    return "\n".join(head) + "\n" + tomli_w.dumps(data)


def apply(result: Result, decl: Declaration, scenario_dir: Path, declaration_name: str) -> list[Path]:
    """Write every identified fitted value, and every value the declaration sets, into the
    scenario files of ``scenario_dir`` that share it; each file is checked by loading it
    afterwards.  A value the targets do not determine stays as it was: written, it would be
    the optimiser's wandering in a flat direction.  Returns the files changed."""
    texts: dict[Path, str] = {}
    entries = [(p["path"], p["scenarios"], p["estimate"], _comment(p, declaration_name)) for p in result.parameters
               if p["identified"]]
    entries += [(x.path, x.scenarios, x.value, f"U: {x.why} (set by {declaration_name})") for x in decl.settings]
    for path_, names, value, comment in entries:
        table, key = _table_and_key(path_, declaration_name)
        for name in names:
            path = scenario_dir / f"{name}.toml"
            text = texts.get(path) or path.read_text(encoding="utf-8")
            texts[path] = set_value(text, table, key, value, comment)
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
        _scenario.load(path)  # a file the fit made invalid is an error here, naming it
    return sorted(texts)


def _table_and_key(path: str, where: str) -> tuple[str, str]:
    parts = path.split(".")
    if parts[0] == "biology" and len(parts) == 2:
        return "biology", parts[1]
    if parts[0] == "soil" and len(parts) == 3:
        return f"soil.{parts[1]}", parts[2]
    raise ScenarioError(where, "parameters", f"{path}: --apply writes biology.KEY and soil.ORGAN.FACTOR "
                                             "only; set this one by hand from calibrated.toml")


def _comment(p: dict, where: str) -> str:
    lo = f"{p['ci_low']:.4g}" + (" (range end)" if p["open_low"] else "")
    hi = f"{p['ci_high']:.4g}" + (" (range end)" if p["open_high"] else "")
    return f"C: joint fit (ctcsim calibrate-all, {where}), 95 % interval [{lo}, {hi}]"


def set_value(text: str, table: str, key: str, value: float, comment: str) -> str:
    """``text`` with ``key = value  # comment`` in ``[table]``: the key's line replaced, else
    added at the table's end, else the table added at the end of the file."""
    shown = f"{value:.4g}"
    line = f"{key} = {shown if any(c in shown for c in '.en') else shown + '.0'}  # {comment}"  # a float stays one
    lines = text.splitlines()
    header = re.compile(r"^\s*\[+([^\]]+)\]+\s*(#.*)?$")
    start = next((i for i, s in enumerate(lines) if (m := header.match(s)) and m.group(1).strip() == table), None)
    if start is None:
        return text.rstrip("\n") + f"\n\n[{table}]\n{line}\n"
    end = next((i for i in range(start + 1, len(lines)) if header.match(lines[i])), len(lines))
    own = re.compile(rf"^\s*{re.escape(key)}\s*=")
    at = next((i for i in range(start + 1, end) if own.match(lines[i])), None)
    if at is not None:
        lines[at] = line
    else:
        # after the table's last key: comments just above the next header belong to that one
        last = max((i for i in range(start, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")))
        lines.insert(last + 1, line)
    return "\n".join(lines) + "\n"
