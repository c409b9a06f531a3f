"""Putting extracted facts into the graph: the one path used by automatic acceptance and curator approval.

Why one path: a fact accepted by ingestion and one approved in the review queue must land in the graph
identically — same provenance on the relation, same proposed entities, same audit trail — on both graph
backends.

Why compensation instead of one transaction: the ``sql`` store writes inside the caller's database
transaction, but Neo4j cannot join it. So the graph is written last, after every row is validated, and if
the graph write fails, whatever this call created in the graph is removed again before the error
propagates (the caller's ``transaction.atomic`` then rolls the rows back). A relation that already existed
is never touched: its provenance (e.g. the Freebase import) wins, and the fact records that the text
supports it (``already_in_graph``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ingestion.models import ExtractedFact, ExtractedMention
from kg.audit import record_curation_event, relation_target
from kg.services import graph_entity_delete, graph_relation_delete, graph_upsert
from kg.stores.base import EntityRecord, KnowledgeGraphStore, RelationRecord

#: Prefix of the ``source`` of every relation ingestion writes; the rest is the document hash prefix.
INGESTION_SOURCE_PREFIX = "ingestion:"


@dataclass(frozen=True)
class FactWriteReport:
    relations_created: int = 0
    relations_already_present: int = 0
    entities_created: int = 0


def ingestion_source(fact: ExtractedFact) -> str:
    return f"{INGESTION_SOURCE_PREFIX}{fact.document.sha256[:12]}"


def fact_relation_record(fact: ExtractedFact) -> RelationRecord:
    """The graph relation of a fact, carrying a compact copy of its provenance."""
    return RelationRecord(
        head=fact.head_entity_id,
        type=fact.relation_type,
        tail=fact.tail_entity_id,
        source=ingestion_source(fact),
        confidence=round(float(fact.confidence), 6),
        properties={
            "document": fact.document.name,
            "document_sha256": fact.document.sha256,
            "sentence_index": fact.sentence_index,
            "sentence_span": [fact.sentence_start, fact.sentence_end],
            "head_span": [fact.head.start, fact.head.end],
            "tail_span": [fact.tail.start, fact.tail.end],
            "models": dict(fact.model_versions),
            "fact_id": fact.pk,
        },
    )


def proposed_entity_record(mention: ExtractedMention, entity_id: str) -> EntityRecord:
    """A new entity proposed from an unlinked mention (only written when one of its facts is accepted)."""
    return EntityRecord(
        id=entity_id,
        type=mention.entity_type,
        name=mention.entity_name or mention.text,
        properties={
            "proposed_by": "ingestion",
            "document": mention.document.name,
            "mention": mention.text,
            "ner_label": mention.label,
        },
    )


def put_facts_in_graph(
    facts: Sequence[ExtractedFact],
    *,
    store: KnowledgeGraphStore,
    action: str,
    actor: Any = None,
    source: str | None = None,
) -> FactWriteReport:
    """Write the relations (and any proposed entities) of ``facts``; marks ``already_in_graph`` on the rows.

    The caller saves the fact rows (status, decided_by...) inside its own ``transaction.atomic``; this
    function sets ``fact.already_in_graph`` and saves that field.
    """
    if not facts:
        return FactWriteReport()
    mentions_by_entity: dict[str, ExtractedMention] = {}
    for fact in facts:
        mentions_by_entity.setdefault(fact.head_entity_id, fact.head)
        mentions_by_entity.setdefault(fact.tail_entity_id, fact.tail)
    existing_entities = store.get_entities(mentions_by_entity)
    new_entities = [
        proposed_entity_record(mention, entity_id)
        for entity_id, mention in mentions_by_entity.items()
        if entity_id not in existing_entities
    ]

    relations: dict[tuple[str, str, str], RelationRecord] = {}
    present = 0
    for fact in facts:
        existing = store.get_relation(*fact.triple)
        if existing is not None and not existing.source.startswith(INGESTION_SOURCE_PREFIX):
            fact.already_in_graph = True
            present += 1
        else:
            fact.already_in_graph = False
            relations.setdefault(fact.triple, fact_relation_record(fact))
            if existing is not None:
                present += 1
    created_relations = [key for key in relations if store.get_relation(*key) is None]

    try:
        graph_upsert(store=store, entities=new_entities, relations=list(relations.values()))
    except Exception:
        _undo(store, relation_keys=created_relations, entity_ids=[e.id for e in new_entities])
        raise

    for fact in facts:
        fact.save(update_fields=["already_in_graph"])
        record_curation_event(
            action=action,
            target=relation_target(*fact.triple),
            actor=actor,
            source=source or ingestion_source(fact),
            after=relations.get(fact.triple) or {"already_in_graph": True, "fact_id": fact.pk},
        )
    for entity in new_entities:
        record_curation_event(
            action="entity.create", target=entity.id, actor=actor, source=source or "ingestion", after=entity
        )
    return FactWriteReport(
        relations_created=len(created_relations),
        relations_already_present=present,
        entities_created=len(new_entities),
    )


def _undo(
    store: KnowledgeGraphStore, *, relation_keys: Sequence[tuple[str, str, str]], entity_ids: Sequence[str]
) -> None:
    """Best-effort removal of what a failed write may have created (errors here must not hide the cause)."""
    for key in relation_keys:
        try:
            graph_relation_delete(store=store, key=key)
        except Exception:
            pass
    for entity_id in entity_ids:
        try:
            if store.get_entity(entity_id) is not None:
                graph_entity_delete(store=store, entity_id=entity_id)
        except Exception:
            pass
