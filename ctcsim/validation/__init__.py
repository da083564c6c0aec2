"""Validation against the literature (issue 11): the published numbers of
ctcsim/data/validation/targets.toml, the dossier (docs/VALIDATION.md, ``ctcsim dossier``) and
the joint calibration (``ctcsim calibrate-all``).

- ``targets``: the committed split (calibration targets, predictions), read;
- ``sim``: the scenarios each measurement varies, simulated once each, seeded from one seed;
- ``measurements``: one measurement per target id; ``blood``: the half-life from the blood count;
  ``held_out``: site frequencies fitted on one series, predicted on the other;
- ``intervals``: the estimates and their intervals; ``ranks``: Spearman's rho, exact p-values;
- ``dossier``: verdicts, the table, reading it back and --check; ``report``: the Markdown;
- ``declaration``: the joint calibration declared (ctcsim/data/validation/calibration.toml);
  ``measures``: the calibration targets measured on a run of any scenario (the fit varies it);
  ``jointfit``: the fit and its intervals; ``calibrated``: calibrated.toml and --apply.
"""
