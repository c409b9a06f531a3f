"""Template filters of the learner pages: ``{% load learner %}``.

* ``{{ "PREREQUISITE_OF"|relation_label }}`` → "leads to" (``|relation_label:"backward"`` → "builds on"):
  the words of :mod:`learning_platform.learn.labels`, never a raw relation type;
* ``{{ "MusicalArtist"|type_label }}`` → "Musician";
* ``{% if user|is_curator %}`` → staff, superusers and curators (the dashboard and admin links);
* ``{{ 0.8|percent }}`` → "80%" (mastery and other shares, shown as a learner reads them);
* ``{{ 0.68|duration }}`` → "41 min" (a length in hours).
"""

from __future__ import annotations

from typing import Any

from django import template

from learning_platform.learn import labels, selectors

register = template.Library()


@register.filter
def relation_label(relation_type: str, direction: str = "forward") -> str:
    return labels.relation_label(str(relation_type), str(direction))


@register.filter
def type_label(entity_type: str) -> str:
    return labels.entity_type_label(str(entity_type))


@register.filter
def is_curator(user: Any) -> bool:
    return selectors.is_curator(user)


@register.filter
def percent(value: Any) -> str:
    """A share from 0 to 1 as a whole percentage ("80%"); anything else as it is."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{round(share * 100)}%"


@register.filter
def duration(hours: Any) -> str:
    """A length in hours as a learner reads it ("41 min", "1.5 h")."""
    try:
        return selectors.duration_text(float(hours))
    except (TypeError, ValueError):
        return str(hours)
