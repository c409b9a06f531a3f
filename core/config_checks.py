"""Checks for the settings of the frozen training-config dataclasses (NER, relations, KGE, audio encoder).

Why one module: every config refuses a bad value at construction, before minutes of training, with a
:class:`~core.errors.ConfigurationError` that names the setting, says what it must be and
shows what it got. Written once here, the rules agree everywhere (``True`` is never an integer, ``nan``
is never in a range) and the messages share one shape: ``"<prefix><name> must be <expected>, got <value>."``.

Each check returns the value it accepted, so a caller can check and store in one expression.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from core.errors import ConfigurationError


def is_finite_number(value: Any) -> bool:
    """True for an ``int`` or ``float`` that is finite; ``bool`` is refused (``True`` is not a number of epochs)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def require_int(
    name: str, value: Any, *, minimum: int, maximum: int | None = None, prefix: str = "", expected: str | None = None
) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) in ``[minimum, maximum]``; ``maximum=None``: no upper bound.

    ``prefix`` starts the message (``"NER config: "``); ``expected`` replaces the generated
    "an integer of at least ..." where a config has its own wording.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f" and at most {maximum:,}" if maximum is not None else ""
        _refuse(name, value, expected or f"an integer of at least {minimum:,}{bound}", prefix)
    return value


def require_number(
    name: str,
    value: Any,
    *,
    low: float,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    prefix: str = "",
) -> float:
    """``value`` if it is a finite number between ``low`` and ``high`` (``None``: no upper bound), each end included or not.

    The message writes the range as an interval (``[0.0, 0.9]``, ``(0.0, 0.5]``, ``[0.0, 1.0)``) or, without an
    upper bound, as a comparison (``a finite number >= 0``).
    """
    inside = (
        is_finite_number(value)
        and (value >= low if low_inclusive else value > low)
        and (high is None or (value <= high if high_inclusive else value < high))
    )
    if not inside:
        if high is None:
            _refuse(name, value, f"a finite number {'>=' if low_inclusive else '>'} {low:g}", prefix)
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        _refuse(name, value, f"a number in {interval}", prefix)
    return value


def require_positive_number(name: str, value: Any, *, prefix: str = "") -> float:
    """``value`` if it is a finite number greater than 0 (learning rates, clip norms, durations)."""
    if not is_finite_number(value) or value <= 0:
        _refuse(name, value, "a positive finite number", prefix)
    return value


def require_bool(name: str, value: Any, *, prefix: str = "") -> bool:
    """``value`` if it is ``True`` or ``False``; JSON ``"yes"`` or ``1`` is refused rather than guessed."""
    if not isinstance(value, bool):
        _refuse(name, value, "true or false", prefix)
    return value


def require_choice(name: str, value: Any, choices: Sequence[str], *, prefix: str = "", hint: str = "") -> str:
    """``value`` if it is one of ``choices``; the message lists them, then ``hint`` (a sentence)."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigurationError(_unknown(name, repr(value), choices, prefix, hint))
    return value


def require_choices(
    name: str, values: Iterable[str], choices: Sequence[str], *, prefix: str = "", hint: str = ""
) -> tuple[str, ...]:
    """``values`` as a tuple if each is one of ``choices``; the message names every unknown one at once."""
    values = tuple(values)
    unknown = [value for value in values if value not in choices]
    if unknown:
        raise ConfigurationError(_unknown(name, repr(unknown), choices, prefix, hint))
    return values


def require_settings_object(data: Any, *, what: str) -> Mapping[str, Any]:
    """``data`` if it is a mapping (a JSON object); a config read from a file or a flag is refused otherwise."""
    if not isinstance(data, Mapping):
        article = "An" if what[:1].lower() in "aeiou" else "A"
        raise ConfigurationError(f"{article} {what} config must be a JSON object, got {type(data).__name__}.")
    return data


def require_known_keys(keys: Iterable[str], config_class: type, *, what: str) -> None:
    """Every key names a field of the dataclass ``config_class``; the message lists the unknown ones and the allowed ones.

    Why not let the constructor fail: a misspelt setting ("lamda_kg") would then be a ``TypeError``
    naming one key, instead of a message that also shows what the setting is called.
    """
    known = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ConfigurationError(
            f"Unknown {what} config key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}."
        )


def _refuse(name: str, value: Any, expected: str, prefix: str) -> NoReturn:
    raise ConfigurationError(f"{prefix}{name} must be {expected}, got {value!r}.")


def _unknown(name: str, shown: str, choices: Sequence[str], prefix: str, hint: str) -> str:
    # After a prefix ("NER config: unknown ...") the sentence goes on in lower case.
    return f"{prefix}{'unknown' if prefix else 'Unknown'} {name} {shown}; choose one of: {', '.join(choices)}.{hint}"
