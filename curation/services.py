"""Curator services over the graph: entity and relation edits, merges and deletions, each with its audit event.

Why a module of its own (and not code in the admin): the admin is only one front end for these actions, and
each action must behave the same on the ``sql`` and ``neo4j`` stores. So everything here reads the graph only
through :class:`~kg.stores.base.KnowledgeGraphStore` and writes it only through :mod:`kg.services`, and the admin
classes just turn forms into calls.

Why rows first, graph last, inside ``transaction.atomic``: the ``sql`` store writes inside the same database
transaction, but Neo4j cannot join it. Database rows (fact re-pointing, the audit trail) are written first,
the graph write comes last, so a failing graph write rolls the rows back and leaves no audit event for a
change that did not happen. The one change that needs two graph writes (retyping a relation) undoes the
first one if the second fails, so nothing is left half done on either backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.text import slugify

from accounts.services import CURATOR_GROUP
from core.errors import CurationError, UnknownEntityError
from ingestion.models import ExtractedFact, ExtractedMention
from ingestion.relations.schema import RELATION_TYPES as EXTRACTION_RELATION_TYPES
from kg.audit import record_curation_event, record_snapshot, relation_target
from kg.models import CurationEvent
from kg.services import graph_entities_merge, graph_entity_delete, graph_relation_delete, graph_upsert
from kg.stores.base import (
    ENTITY_TYPE_PATTERN,
    MAX_ID_LENGTH,
    RELATION_TYPE_PATTERN,
    DeletionResult,
    EntityRecord,
    KnowledgeGraphStore,
    Neighbour,
    RelationRecord,
)
from kg.stores.registry import get_store

#: ``source`` of every audit event written by these services.
ADMIN_SOURCE = "admin"
#: Provenance (``RelationRecord.source``) of a relation a curator adds by hand.
CURATOR_RELATION_SOURCE = "curator"
#: Prefix of the ids of entities a curator creates without giving an id.
CURATED_ID_PREFIX = "curated"


# --- who may curate, and on which store ----------------------------------------------------------------


def user_can_curate(user: Any) -> bool:
    """Superusers, and staff in the curators group, may change the graph; other staff may only look.

    Why group membership and not model permissions: the graph may live in Neo4j, where Django's per-model
    permissions on the embedded tables mean nothing; the group is the one switch an operator flips.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return bool(user.is_staff) and user.groups.filter(name=CURATOR_GROUP).exists()


def curator_store() -> KnowledgeGraphStore:
    """The store the curator admin reads and writes: the configured backend (``settings.KG_BACKEND``, ``NEO4J_*``).

    Callers use it as a context manager so a Neo4j driver is closed after each request.
    """
    return get_store()


# --- form input parsing (shared by every front end) -----------------------------------------------------


def parse_properties_json(text: str | None) -> dict[str, Any]:
    """A JSON object typed by a curator, or a :class:`CurationError` that says what is wrong and where."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CurationError(
            f"Properties are not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            'write a JSON object such as {"country": "UK", "founded": 1962}.'
        ) from exc
    if not isinstance(value, dict):
        raise CurationError(
            f'Properties must be a JSON object such as {{"country": "UK"}}, not a JSON {type(value).__name__}.'
        )
    return value


def parse_aliases(text: str | None) -> list[str]:
    """One alias per line; blank lines and repeats (case-insensitive) dropped, order kept."""
    seen: set[str] = set()
    aliases: list[str] = []
    for line in (text or "").splitlines():
        alias = line.strip()
        if alias and alias.lower() not in seen:
            seen.add(alias.lower())
            aliases.append(alias)
    return aliases


def check_relation_type(relation_type: str) -> str:
    """The relation type stripped, or a :class:`CurationError` naming the expected format."""
    value = (relation_type or "").strip()
    if not RELATION_TYPE_PATTERN.match(value):
        raise CurationError(
            f"Relation type {value!r} is not valid: use upper snake case of at most 64 characters, such as "
            "MEMBER_OF or HAS_GENRE."
        )
    return value


def check_entity_type(entity_type: str) -> str:
    value = (entity_type or "").strip()
    if not ENTITY_TYPE_PATTERN.match(value):
        raise CurationError(
            f"Entity type {value!r} is not valid: use one capitalised word such as Artist, Band or Place."
        )
    return value


def new_entity_id(store: KnowledgeGraphStore, *, name: str) -> str:
    """A readable, unused id for a curator-created entity: ``curated:<slug of name>`` (``-2``, ``-3``... if taken)."""
    base = f"{CURATED_ID_PREFIX}:{slugify(name, allow_unicode=True)[:120] or 'unnamed'}"[: MAX_ID_LENGTH - 8]
    candidate, suffix = base, 1
    while store.get_entity(candidate) is not None:
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


def relation_type_suggestions(store: KnowledgeGraphStore) -> list[str]:
    """Relation types worth offering in a picker: those in the graph, in the extraction schema and in facts."""
    types = set(store.stats().relations_by_type)
    types.update(relation.name for relation in EXTRACTION_RELATION_TYPES)
    types.update(ExtractedFact.objects.order_by().values_list("relation_type", flat=True).distinct())
    return sorted(t for t in types if RELATION_TYPE_PATTERN.match(t))


# --- entities -------------------------------------------------------------------------------------------


def _require_entity(store: KnowledgeGraphStore, entity_id: str) -> EntityRecord:
    entity = store.get_entity(entity_id)
    if entity is None:
        raise UnknownEntityError(f"Entity {entity_id!r} does not exist (it may have been merged or deleted).")
    return entity


def create_entity(
    store: KnowledgeGraphStore, *, record: EntityRecord, actor: Any, source: str = ADMIN_SOURCE
) -> EntityRecord:
    """Add a new entity; an id that is already taken is refused instead of silently replacing that entity."""
    record.validate()
    if store.get_entity(record.id) is not None:
        raise CurationError(f"An entity with id {record.id!r} already exists; edit it, or choose another id.")
    with transaction.atomic():
        record_curation_event(action="entity.create", target=record.id, actor=actor, source=source, after=record)
        graph_upsert(store=store, entities=[record])
    return store.get_entity(record.id) or record


def update_entity(store: KnowledgeGraphStore, *, record: EntityRecord, actor: Any) -> EntityRecord:
    """Replace name, type, aliases and properties of an existing entity (its relations are untouched)."""
    record.validate()
    before = _require_entity(store, record.id)
    if before.content_key() == record.content_key():
        return before
    with transaction.atomic():
        record_curation_event(
            action="entity.update", target=record.id, actor=actor, source=ADMIN_SOURCE, before=before, after=record
        )
        graph_upsert(store=store, entities=[record])
    return store.get_entity(record.id) or record


@dataclass(frozen=True)
class RelationMove:
    """What a merge does to one relation of a merged entity: ``moved``, ``folded`` into an existing one, or ``dropped``."""

    relation: RelationRecord
    new_key: tuple[str, str, str]
    outcome: str


@dataclass(frozen=True)
class MergePreview:
    keep: EntityRecord
    merged: list[EntityRecord]
    moves: list[RelationMove]
    aliases_gained: list[str]
    properties_filled: dict[str, Any]
    facts_repointed: int
    mentions_repointed: int
    type_mismatches: list[EntityRecord] = field(default_factory=list)


def _merge_ids(keep_id: str, merge_ids: Iterable[str]) -> list[str]:
    ids = [i.strip() for i in merge_ids if isinstance(i, str) and i.strip()]
    ids = list(dict.fromkeys(ids))
    if keep_id in ids:
        raise CurationError(
            f"Cannot merge entity {keep_id!r} into itself; pick the duplicates to fold into it, not the entity itself."
        )
    if not ids:
        raise CurationError(f"Pick at least one duplicate to merge into {keep_id!r}.")
    return ids


def _facts_touching(entity_ids: Sequence[str]) -> QuerySet:
    return ExtractedFact.objects.filter(Q(head_entity_id__in=entity_ids) | Q(tail_entity_id__in=entity_ids))


def merge_preview(store: KnowledgeGraphStore, *, keep_id: str, merge_ids: Iterable[str]) -> MergePreview:
    """Everything a merge will change, computed with the store's own rules (read only).

    Mirrors :meth:`KnowledgeGraphStore.merge_entities`: a relation that would join the kept entity to itself
    is dropped, one whose new key already exists is folded into it (the higher confidence wins).
    """
    ids = _merge_ids(keep_id, merge_ids)
    keep = _require_entity(store, keep_id)
    found = store.get_entities(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise UnknownEntityError(
            f"Cannot merge {', '.join(map(repr, missing))}: no such entity (merged or deleted already?)."
        )
    merged = [found[i] for i in ids]
    merging = {keep_id, *ids}

    moves: list[RelationMove] = []
    seen: set[tuple[str, str, str]] = set()
    new_keys = {neighbour.relation.key for neighbour in store.neighbours(keep_id, direction="both")}
    for entity in merged:
        for neighbour in store.neighbours(entity.id, direction="both"):
            relation = neighbour.relation
            if relation.key in seen:
                continue
            seen.add(relation.key)
            head = keep_id if relation.head in merging else relation.head
            tail = keep_id if relation.tail in merging else relation.tail
            new_key = (head, relation.type, tail)
            if head == tail:
                outcome = "dropped"
            elif new_key in new_keys:
                outcome = "folded"
            else:
                outcome = "moved"
            new_keys.add(new_key)
            moves.append(RelationMove(relation=relation, new_key=new_key, outcome=outcome))

    known = {keep.name.lower(), *(a.lower() for a in keep.aliases)}
    gained: list[str] = []
    filled: dict[str, Any] = {}
    for entity in merged:
        for alias in (entity.name, *entity.aliases):
            if alias.strip() and alias.lower() not in known:
                known.add(alias.lower())
                gained.append(alias)
        for key, value in entity.properties.items():
            if key not in keep.properties and key not in filled:
                filled[key] = value
    return MergePreview(
        keep=keep,
        merged=merged,
        moves=moves,
        aliases_gained=gained,
        properties_filled=filled,
        facts_repointed=_facts_touching(ids).count(),
        mentions_repointed=ExtractedMention.objects.filter(entity_id__in=ids).count(),
        type_mismatches=[e for e in merged if e.type != keep.type],
    )


@dataclass(frozen=True)
class MergeReport:
    entity: EntityRecord
    merged_ids: list[str]
    facts_repointed: int
    mentions_repointed: int


def merge_entities(store: KnowledgeGraphStore, *, keep_id: str, merge_ids: Iterable[str], actor: Any) -> MergeReport:
    """Fold duplicates into ``keep_id``: graph relations and aliases (by the store), fact and mention rows (here).

    Why the rows move too: provenance, the review queue and the training export name entities by id; a fact
    still pointing at a merged-away id would be written back as a duplicate the next time it is approved.
    """
    preview = merge_preview(store, keep_id=keep_id, merge_ids=merge_ids)
    ids = [entity.id for entity in preview.merged]
    with transaction.atomic():
        ExtractedFact.objects.filter(head_entity_id__in=ids).update(head_entity_id=keep_id)
        ExtractedFact.objects.filter(tail_entity_id__in=ids).update(tail_entity_id=keep_id)
        mentions = ExtractedMention.objects.filter(entity_id__in=ids).update(entity_id=keep_id)
        for entity in preview.merged:
            record_curation_event(
                action="entity.merge",
                target=entity.id,
                actor=actor,
                source=ADMIN_SOURCE,
                before=entity,
                after={"merged_into": keep_id},
            )
        kept = graph_entities_merge(store=store, keep_id=keep_id, merge_ids=ids)
        record_curation_event(
            action="entity.merge",
            target=keep_id,
            actor=actor,
            source=ADMIN_SOURCE,
            before=preview.keep,
            after={
                **(record_snapshot(kept) or {}),
                "merged_ids": ids,
                "relations": {
                    o: sum(1 for m in preview.moves if m.outcome == o) for o in ("moved", "folded", "dropped")
                },
                "facts_repointed": preview.facts_repointed,
                "mentions_repointed": mentions,
            },
        )
    return MergeReport(
        entity=kept, merged_ids=ids, facts_repointed=preview.facts_repointed, mentions_repointed=mentions
    )


@dataclass(frozen=True)
class DeletionPreview:
    entity: EntityRecord
    relations: list[Neighbour]
    facts: int
    pending_facts: int
    mentions: int


def deletion_preview(store: KnowledgeGraphStore, *, entity_id: str) -> DeletionPreview:
    """What deleting an entity removes from the graph, and how many extracted rows still name it."""
    entity = _require_entity(store, entity_id)
    facts = _facts_touching([entity_id])
    return DeletionPreview(
        entity=entity,
        relations=store.neighbours(entity_id, direction="both"),
        facts=facts.count(),
        pending_facts=facts.filter(status=ExtractedFact.Status.PENDING).count(),
        mentions=ExtractedMention.objects.filter(entity_id=entity_id).count(),
    )


def delete_entity(store: KnowledgeGraphStore, *, entity_id: str, actor: Any) -> DeletionResult:
    """Remove an entity and its relations; extracted facts and mentions stay as provenance rows."""
    preview = deletion_preview(store, entity_id=entity_id)
    with transaction.atomic():
        record_curation_event(
            action="entity.delete",
            target=entity_id,
            actor=actor,
            source=ADMIN_SOURCE,
            before={
                **(record_snapshot(preview.entity) or {}),
                "relations_removed": [relation_target(*n.relation.key) for n in preview.relations],
            },
        )
        return graph_entity_delete(store=store, entity_id=entity_id)


# --- relations ------------------------------------------------------------------------------------------


def add_relation(store: KnowledgeGraphStore, *, record: RelationRecord, actor: Any) -> RelationRecord:
    """Add a new relation between existing entities; an existing one is refused (edit it instead)."""
    check_relation_type(record.type)
    record.validate()
    if record.head == record.tail:
        raise CurationError(f"A relation from {record.head!r} to itself is not allowed; pick another entity.")
    found = store.get_entities([record.head, record.tail])
    missing = [i for i in (record.head, record.tail) if i not in found]
    if missing:
        raise UnknownEntityError(f"Entity {missing[0]!r} does not exist; pick the other entity by search.")
    if store.get_relation(*record.key) is not None:
        raise CurationError(f"The relation {relation_target(*record.key)} already exists; edit it instead.")
    with transaction.atomic():
        record_curation_event(
            action="relation.add", target=relation_target(*record.key), actor=actor, source=ADMIN_SOURCE, after=record
        )
        graph_upsert(store=store, relations=[record])
    return store.get_relation(*record.key) or record


def _require_relation(store: KnowledgeGraphStore, key: tuple[str, str, str]) -> RelationRecord:
    relation = store.get_relation(*key) if all(isinstance(part, str) and part for part in key) else None
    if relation is None:
        raise CurationError(f"The relation {relation_target(*key)} does not exist (it may have been removed already).")
    return relation


def update_relation(
    store: KnowledgeGraphStore,
    *,
    key: tuple[str, str, str],
    new_type: str,
    confidence: float,
    properties: dict[str, Any],
    actor: Any,
) -> RelationRecord:
    """Change a relation's confidence and properties, or its type (a delete + create that never half-happens).

    Why create first, delete second: if the second write fails, removing the relation just created puts the
    graph back as it was; the other order could lose the original relation.
    """
    before = _require_relation(store, key)
    new_type = check_relation_type(new_type)
    after = replace(
        before, type=new_type, confidence=confidence, properties=dict(properties), created_at=None, updated_at=None
    )
    after.validate()
    if after.key == before.key and after.content_key() == before.content_key():
        return before
    if after.key != before.key and store.get_relation(*after.key) is not None:
        raise CurationError(
            f"The relation {relation_target(*after.key)} already exists; remove this one or edit that one instead."
        )
    with transaction.atomic():
        record_curation_event(
            action="relation.update",
            target=relation_target(*after.key),
            actor=actor,
            source=ADMIN_SOURCE,
            before=before,
            after=after,
        )
        graph_upsert(store=store, relations=[after])
        if after.key != before.key:
            _run_or_undo(
                lambda: graph_relation_delete(store=store, key=before.key),
                undo=[lambda: graph_relation_delete(store=store, key=after.key)],
            )
    return store.get_relation(*after.key) or after


def remove_relation(store: KnowledgeGraphStore, *, key: tuple[str, str, str], actor: Any) -> RelationRecord:
    before = _require_relation(store, key)
    with transaction.atomic():
        record_curation_event(
            action="relation.remove", target=relation_target(*key), actor=actor, source=ADMIN_SOURCE, before=before
        )
        graph_relation_delete(store=store, key=key)
    return before


def _run_or_undo(step: Callable[[], Any], *, undo: Sequence[Callable[[], Any]]) -> Any:
    """Run ``step``; if it fails, run the undo steps (latest first, errors ignored) and re-raise the failure."""
    try:
        return step()
    except Exception:
        for action in reversed(undo):
            try:
                action()
            except Exception:
                pass
        raise


# --- reads ----------------------------------------------------------------------------------------------


def entity_history(entity_id: str) -> QuerySet:
    """Audit events about the entity itself and about every relation it is an end of."""
    return CurationEvent.objects.filter(
        Q(target=entity_id) | Q(target__startswith=f"{entity_id}|") | Q(target__endswith=f"|{entity_id}")
    ).select_related("actor")
