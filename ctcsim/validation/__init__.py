"""The validation dossier (docs/VALIDATION.md, ``ctcsim dossier``): every published number of
ctcsim/data/validation/targets.toml measured on the built-in scenarios and judged.

- ``targets``: the committed split (calibration targets, predictions), read;
- ``sim``: the scenarios each measurement varies, simulated once each, seeded from one seed;
- ``measurements``: one measurement per target id; ``blood``: the half-life from the blood count;
  ``held_out``: site frequencies fitted on one series, predicted on the other;
- ``intervals``: the estimates and their intervals; ``ranks``: Spearman's rho, exact p-values;
- ``dossier``: verdicts, the table, reading it back and --check; ``report``: the Markdown.
"""
