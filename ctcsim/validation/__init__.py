"""Validation against the literature (issue 11): the published numbers of
ctcsim/data/validation/targets.toml, how each is measured (``measures``), and the joint
calibration of the built-in biology to the calibration targets (``declaration``, ``jointfit``,
``calibrated``; ``ctcsim calibrate-all``)."""
