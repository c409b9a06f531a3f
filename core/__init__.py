"""The floor of the map: what every other package may use, and which imports nothing of ours.

Errors with stable codes (:mod:`core.errors`), config-value checks (:mod:`core.config_checks`),
versioned artifact folders (:mod:`core.artifacts`), the abstract timestamped model (:mod:`core.db`) and
small text helpers (:mod:`core.text`). Layer: bottom (see the README's map and pyproject.toml).
"""
