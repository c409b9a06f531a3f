"""Writing the curation audit trail (:class:`kg.models.CurationEvent`).

Why one function: every write path (admin forms, the review queue, ingestion, the API) must describe its
change the same way, so a curator reading an entity's history sees one consistent story.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

from kg.models import CurationEvent
from kg.stores.base import EntityRecord, RelationRecord


def relation_target(head: str, type: str, tail: str) -> str:
    """The audit ``target`` of a relation: ``head|TYPE|tail``."""
    return f"{head}|{type}|{tail}"


def record_snapshot(record: EntityRecord | RelationRecord | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe picture of a record for ``before``/``after`` (timestamps dropped: the event has its own)."""
    if record is None:
        return None
    data = asdict(record) if is_dataclass(record) else dict(record)
    data.pop("created_at", None)
    data.pop("updated_at", None)
    if "aliases" in data:
        data["aliases"] = list(data["aliases"])
    if "properties" in data:
        data["properties"] = dict(data["properties"])
    return data


def record_curation_event(
    *,
    action: str,
    target: str,
    actor: Any = None,
    source: str = "admin",
    before: EntityRecord | RelationRecord | Mapping[str, Any] | None = None,
    after: EntityRecord | RelationRecord | Mapping[str, Any] | None = None,
) -> CurationEvent:
    """Append one event; ``actor`` is a user (or ``None`` for loaders and automatic ingestion)."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return CurationEvent.objects.create(
        action=action,
        target=target,
        actor=actor,
        source=source,
        before=record_snapshot(before),
        after=record_snapshot(after),
    )
