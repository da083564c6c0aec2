"""Metastatic site frequencies: one study's share of patients with metastases at each site, by primary.

``read_sites`` reads them from a CSV in the format of the table ctcsim ships,
ctcsim/data/reference/metastatic_site_frequencies.csv (read when no file is given), and maps the
clinical site names to the anatomy's organs; ``ctcsim.tropism_fit`` fits tropism tables to them.
"""
from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import re
from importlib import resources
from pathlib import Path
from typing import Mapping

from .checks import ScenarioError

SHIPPED = "ctcsim/data/reference/metastatic_site_frequencies.csv"  # read when no file is given

# Clinical site names -> anatomy organs (after dropping a trailing "(...)" qualifier and "only").
SITE_ORGANS = {
    "bone": "bone", "skeleton": "bone", "bone marrow": "bone",
    "lung": "lung", "respiratory system": "lung", "thorax": "lung",
    "brain": "brain", "nervous system": "brain", "central nervous system": "brain",
    "liver": "liver", "adrenal": "adrenal", "adrenal gland": "adrenal",
    "distant lymph nodes": "lymph_nodes", "lymph nodes": "lymph_nodes", "regional lymph nodes": "regional_lymph_nodes",
    "kidney": "kidney", "skin": "skin", "spleen": "spleen", "pancreas": "pancreas",
    "thyroid": "thyroid", "heart": "heart", "muscle": "skeletal_muscle", "skeletal muscle": "skeletal_muscle",
    "stomach": "stomach", "small intestine": "small_intestine", "large intestine": "large_intestine",
}
# Sites the circulation model has no bed for: dropped from a fit, with the reason in the table.
OUTSIDE_CIRCULATION = {
    "peritoneum": "transcoelomic spread across the peritoneal cavity, not through the blood",
    "abdominal cavity": "transcoelomic spread across the peritoneal cavity, not through the blood",
    "pleura": "pleural spread, not a capillary bed of the model",
    "multiple sites": "patients with several sites: no single organ to assign",
}
_REQUIRED = ("primary", "site", "percent", "denominator", "source")


@dataclasses.dataclass(frozen=True)
class Site:
    name: str      # as published, e.g. "bone only"
    organ: str
    percent: str   # as published, e.g. "~33"
    value: float


@dataclasses.dataclass(frozen=True)
class Series:
    """One primary's metastatic site frequencies from one study, with one denominator."""
    label: str           # the primary as named in the file
    key: str             # the study, e.g. "Gandaglia et al. 2014"
    denominator: str
    source: str
    n: int | None        # patients in the study, where given
    sites: tuple[Site, ...]
    dropped: tuple[str, ...] = ()
    where: str = "<site frequencies>"
    n_text: str = ""     # the n as published, e.g. "54697 (all lung)"

    @classmethod
    def of(cls, frequencies: Mapping[str, float], where="<given frequencies>") -> "Series":
        """A series from a plain organ -> frequency mapping (any positive scale)."""
        sites = tuple(Site(o, o, f"{v:g}", float(v)) for o, v in frequencies.items())
        return cls("", "given", "relative frequencies", where, None, sites, (), where)

    def shares(self) -> dict[str, float]:
        total = sum(s.value for s in self.sites)
        return {s.organ: s.value / total for s in self.sites}

    def handling(self) -> str:
        """How the denominator was turned into relative incidence (written into every fitted row)."""
        total = sum(s.value for s in self.sites)
        isolated = any(s.name.endswith(" only") for s in self.sites)
        kind = ("isolated-site categories (metastases at that site alone)" if isolated else
                "% of patients per site (a patient with several sites counts at each)")
        text = (f"Denominator: {kind}{f', n = {self.n_text}' if self.n_text else ''}; normalised over the "
                f"{len(self.sites)} sites used (sum {total:g} %) and taken as relative incidence")
        return text + (f"; dropped: {'; '.join(self.dropped)}" if self.dropped else "")


def _site_base(site: str) -> str:
    """"Bone (first metastatic site)" and "bone only" are both the site "bone"."""
    return re.sub(r"\s+only$", "", re.sub(r"\s*\(.*\)\s*$", "", site.strip().lower()))


def _organ_of_site(site: str) -> str | None:
    """The anatomy organ of a clinical site name; None if it is outside the circulation model."""
    base = _site_base(site)
    if base in SITE_ORGANS:
        return SITE_ORGANS[base]
    if base in OUTSIDE_CIRCULATION:
        return None
    raise KeyError(base)


def _series_key(source: str) -> str:
    """A study's short name: the source up to its year ("Hess et al. 2006"), else all of it."""
    m = re.match(r"(.+?\b(?:1[89]|20)\d\d)\b", source)
    return m.group(1) if m else source


def read_sites(path, primary: str, series: str | None = None) -> Series:
    """The site frequencies of ``primary`` (as named in the file's ``primary`` column) from a CSV
    with columns primary, site, percent, denominator, source (and optionally n); ``path`` None
    reads the shipped table (``SHIPPED``).  A ``same`` in denominator or source repeats the row
    above; a blank n repeats the study's n.  ``series`` picks a study when the primary has
    several (a case-insensitive part of its name)."""
    where = SHIPPED if path is None else str(path)
    file = resources.files("ctcsim") / SHIPPED.removeprefix("ctcsim/") if path is None else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(where, "", f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ScenarioError(where, "", f"not UTF-8 text (byte {e.start})") from None
    reader = csv.DictReader(io.StringIO(text))
    for c in _REQUIRED:
        if c not in (reader.fieldnames or []):
            raise ScenarioError(where, c, f"missing column; columns: {', '.join(reader.fieldnames or [])}")
    rows, last, study_n = [], {}, {}
    for line, d in enumerate(reader, start=2):
        d = {k: (v or "").strip() for k, v in d.items() if k is not None}
        for c in ("denominator", "source"):
            d[c] = last.get(c, "") if d[c].lower() == "same" else d[c]
            last[c] = d[c]
        key = _series_key(d["source"])
        if d.get("n"):
            study_n.setdefault(key, d["n"])
        rows.append((line, key, d))
    labels = list(dict.fromkeys(d["primary"] for _, _, d in rows))
    chosen = [(line, key, d) for line, key, d in rows if d["primary"] == primary]
    if not chosen:
        near = difflib.get_close_matches(primary, labels, n=1, cutoff=0.4)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ScenarioError(where, "primary", f"no rows for primary {primary!r}; {hint}primaries: {', '.join(labels)}")
    keys = list(dict.fromkeys(key for _, key, _ in chosen))
    if series is not None:
        keys = [k for k in keys if series.lower() in k.lower()]
    if len(keys) != 1:
        found = list(dict.fromkeys(key for _, key, _ in chosen))
        problem = "matches none" if not keys else "matches several" if series is not None else "has several series"
        raise ScenarioError(where, "series", f"{primary!r} {problem} of: {'; '.join(found)} (choose one with --series)")
    chosen = [(line, d) for line, key, d in chosen if key == keys[0]]
    denominators = list(dict.fromkeys(d["denominator"] for _, d in chosen))
    if len(denominators) > 1:
        raise ScenarioError(where, "denominator", f"series {keys[0]!r} mixes denominators: {' | '.join(denominators)}")
    sites, dropped, organs = [], [], {}
    for line, d in chosen:
        key = f"line {line} ({d['site']})"
        try:
            organ = _organ_of_site(d["site"])
        except KeyError:
            names = list(SITE_ORGANS) + list(OUTSIDE_CIRCULATION)
            near = difflib.get_close_matches(d["site"].lower(), names, n=1, cutoff=0.3)
            raise ScenarioError(where, f"{key}.site", f"unknown site {d['site']!r}"
                                f"{f'; nearest: {near[0]!r}' if near else ''}; sites: {', '.join(names)}") from None
        raw = d["percent"]
        if raw[:1] in "<>" or not re.fullmatch(r"~?\d+(\.\d+)?", raw):
            raise ScenarioError(where, f"{key}.percent", f"expected a percentage (e.g. 47.1 or ~33), got {raw!r}")
        value = float(raw.lstrip("~"))
        if organ is None:
            dropped.append(f"{d['site']} {raw} % ({OUTSIDE_CIRCULATION[_site_base(d['site'])]})")
            continue
        if value <= 0:
            raise ScenarioError(where, f"{key}.percent", "expected a positive percentage for a fitted site")
        if organ in organs:
            raise ScenarioError(where, f"{key}.site", f"{d['site']!r} and {organs[organ]!r} are both organ {organ!r}")
        organs[organ] = d["site"]
        sites.append(Site(d["site"], organ, raw, value))
    if not sites:
        raise ScenarioError(where, "site", f"series {keys[0]!r} of {primary!r} has no site inside the circulation model")
    n_text = study_n.get(keys[0], "")
    n = re.match(r"\d+", n_text)
    return Series(primary, keys[0], denominators[0], chosen[0][1]["source"], int(n.group()) if n else None,
                  tuple(sites), tuple(dropped), where, n_text)
