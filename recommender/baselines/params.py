"""Checks for hyper-parameter values, shared by every baseline's ``__init__``.

Why checks at construction: a bad value (negative learning rate, zero neighbours) should fail at
once with a message naming the model and the parameter, not minutes later as a NaN loss or an
IndexError deep inside numpy.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from core.errors import ConfigurationError


def _fail(model: str, name: str, expected: str, value: Any) -> ConfigurationError:
    return ConfigurationError(f"{model}: parameter {name!r} must be {expected}, got {value!r}.")


def positive_int(model: str, name: str, value: Any, *, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (booleans are rejected although Python counts them as ints)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(model, name, f"an integer >= {minimum}", value)
    return int(value)


def positive_float(
    model: str, name: str, value: Any, *, allow_zero: bool = False, maximum: float | None = None
) -> float:
    """A finite number ``> 0`` (or ``>= 0`` with ``allow_zero``), optionally ``<= maximum``."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0) and (maximum is None or value <= maximum)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        if maximum is not None:
            bound += f" and <= {maximum}"
        raise _fail(model, name, f"a finite number {bound}", value)
    return float(value)


def boolean(model: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(model, name, "true or false", value)
    return value


def choice(model: str, name: str, value: Any, choices: Collection[str]) -> str:
    key = value.strip().lower() if isinstance(value, str) else value
    if key not in choices:
        raise _fail(model, name, f"one of {', '.join(map(repr, sorted(choices)))}", value)
    return key
