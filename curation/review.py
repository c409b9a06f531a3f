"""The review queue: curators approve, reject or correct extracted facts, and the decisions reach the graph.

Why these rules:

* Only facts nobody has decided yet can be decided: ``pending`` ones (waiting in the queue) and
  ``accepted`` ones (written automatically by ingestion, which a curator may still overrule). A second
  decision on an ``approved``/``corrected``/``rejected`` fact is refused with who decided it and when,
  because silently overwriting a colleague's decision loses a training label.
* Approved and corrected facts go into the graph through :func:`ingestion.graph_writes.put_facts_in_graph`,
  the same path automatic acceptance uses, so they land identically on both graph backends.
* Rejected facts stay as rows: they are the negative examples of the relation-extraction training data
  (:func:`export_review_decisions`). If ingestion had already written the relation and nothing else supports
  it, it is removed from the graph; a relation another source wrote (a loader, a curator) is never touched.
* Rows first, graph last, all in ``transaction.atomic``: a failing graph write rolls the decision back, so
  the fact stays as it was, and graph changes already made for the call are undone.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from core.errors import CurationError, UnknownEntityError
from curation.services import ADMIN_SOURCE, check_relation_type, create_entity, new_entity_id
from ingestion.graph_writes import INGESTION_SOURCE_PREFIX, FactWriteReport, put_facts_in_graph
from ingestion.models import ExtractedFact
from ingestion.relations.schema import NONE_RELATION
from kg.audit import record_curation_event, relation_target
from kg.services import graph_entity_delete, graph_relation_delete, graph_upsert
from kg.stores.base import EntityRecord, KnowledgeGraphStore

Status = ExtractedFact.Status
#: Statuses a curator may still decide (``accepted`` was decided by a threshold, not by a person).
DECIDABLE_STATUSES = (Status.PENDING, Status.ACCEPTED)
#: Statuses that are curator decisions, i.e. labelled training examples.
DECISION_STATUSES = (Status.APPROVED, Status.CORRECTED, Status.REJECTED)


# --- reads ----------------------------------------------------------------------------------------------


def with_sentence_text(facts: QuerySet) -> QuerySet:
    """Facts annotated with ``sentence`` cut out by the database, so lists never load whole documents."""
    return facts.annotate(
        sentence=Substr("document__text", F("sentence_start") + 1, F("sentence_end") - F("sentence_start"))
    )


def fact_sentence(fact: ExtractedFact) -> str:
    annotated = getattr(fact, "sentence", None)
    return annotated if annotated is not None else fact.sentence_text


def sentence_html(fact: ExtractedFact) -> SafeString:
    """The fact's sentence as HTML with the head and tail mentions in ``<mark>``; all document text escaped.

    Why build it from escaped pieces: the sentence comes from an uploaded document, so it may contain
    ``<script>``; only the ``<mark>`` tags written here are markup.
    """
    sentence = fact_sentence(fact)
    spans = sorted(
        [
            (
                fact.head.start - fact.sentence_start,
                fact.head.end - fact.sentence_start,
                "lm-head",
                f"head: {fact.head_entity_id}",
            ),
            (
                fact.tail.start - fact.sentence_start,
                fact.tail.end - fact.sentence_start,
                "lm-tail",
                f"tail: {fact.tail_entity_id}",
            ),
        ]
    )
    parts: list[str] = []
    position = 0
    for start, end, css_class, title in spans:
        start, end = max(start, 0), min(end, len(sentence))
        if start < position or start >= end:
            continue  # outside the sentence, or overlapping the other mention: left unmarked
        parts.append(escape(sentence[position:start]))
        parts.append(format_html('<mark class="{}" title="{}">{}</mark>', css_class, title, sentence[start:end]))
        position = end
    parts.append(escape(sentence[position:]))
    return mark_safe("".join(parts))


def facts_by_triple(
    entity_id: str, triples: Iterable[tuple[str, str, str]], *, per_triple: int = 5
) -> dict[tuple[str, str, str], list]:
    """The extracted facts behind each relation shown on an entity page (most confident first)."""
    wanted = set(triples)
    if not wanted:
        return {}
    facts = (
        ExtractedFact.objects.filter(Q(head_entity_id=entity_id) | Q(tail_entity_id=entity_id))
        .filter(relation_type__in={t[1] for t in wanted})
        .select_related("document", "head", "tail")
        .defer("document__text")
        .order_by("-confidence", "id")
    )
    result: dict[tuple[str, str, str], list] = {}
    for fact in with_sentence_text(facts)[:2000]:
        if fact.triple in wanted:
            bucket = result.setdefault(fact.triple, [])
            if len(bucket) < per_triple:
                bucket.append(fact)
    return result


def decision_refusal(fact: ExtractedFact) -> str | None:
    """Why this fact cannot be decided again, or ``None`` when it can."""
    if fact.status in DECIDABLE_STATUSES:
        return None
    who = fact.decided_by.get_username() if fact.decided_by is not None else "someone"
    when = f" on {fact.decided_at:%Y-%m-%d %H:%M}" if fact.decided_at else ""
    return f"Fact {fact.pk} was already {fact.status} by {who}{when}; a decided fact cannot be decided again."


# --- decisions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewReport:
    decided: list[int] = field(default_factory=list)
    #: ``(fact id, reason)`` for every fact that was not decided.
    skipped: list[tuple[int, str]] = field(default_factory=list)
    relations_removed: list[tuple[str, str, str]] = field(default_factory=list)
    graph: FactWriteReport | None = None


@dataclass(frozen=True)
class NewEntity:
    """A new entity a curator creates while correcting a fact (its id is made from the name)."""

    type: str
    name: str


def _decidable(fact_ids: Iterable[int]) -> tuple[list[ExtractedFact], list[tuple[int, str]]]:
    ids = list(dict.fromkeys(int(i) for i in fact_ids))
    rows = {
        fact.pk: fact
        for fact in ExtractedFact.objects.select_for_update(of=("self",))
        .select_related("document", "head", "tail", "decided_by")
        .filter(pk__in=ids)
    }
    decidable: list[ExtractedFact] = []
    skipped: list[tuple[int, str]] = []
    for fact_id in ids:
        fact = rows.get(fact_id)
        if fact is None:
            skipped.append((fact_id, f"Fact {fact_id} does not exist."))
        elif (reason := decision_refusal(fact)) is not None:
            skipped.append((fact_id, reason))
        else:
            decidable.append(fact)
    return decidable, skipped


def _mark_decided(fact: ExtractedFact, status: str, *, actor: Any, note: str, now) -> None:
    fact.status = status
    fact.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    fact.decided_at = now
    if note:
        fact.note = note


_DECISION_FIELDS = ["status", "decided_by", "decided_at", "note"]


def approve_facts(fact_ids: Iterable[int], *, store: KnowledgeGraphStore, actor: Any, note: str = "") -> ReviewReport:
    """Approve facts as extracted and write them to the graph; decided facts are skipped with the reason."""
    with transaction.atomic():
        facts, skipped = _decidable(fact_ids)
        now = timezone.now()
        for fact in facts:
            _mark_decided(fact, Status.APPROVED, actor=actor, note=note, now=now)
            fact.save(update_fields=_DECISION_FIELDS)
        graph = put_facts_in_graph(facts, store=store, action="fact.approve", actor=actor, source=ADMIN_SOURCE)
    return ReviewReport(decided=[f.pk for f in facts], skipped=skipped, graph=graph)


def reject_facts(fact_ids: Iterable[int], *, store: KnowledgeGraphStore, actor: Any, note: str = "") -> ReviewReport:
    """Reject facts (kept as negative examples); relations only ingestion wrote for them leave the graph."""
    with transaction.atomic():
        facts, skipped = _decidable(fact_ids)
        now = timezone.now()
        was_accepted = []
        for fact in facts:
            before = fact.status
            if before == Status.ACCEPTED:
                was_accepted.append(fact.triple)
            _mark_decided(fact, Status.REJECTED, actor=actor, note=note, now=now)
            fact.save(update_fields=_DECISION_FIELDS)
            record_curation_event(
                action="fact.reject",
                target=relation_target(*fact.triple),
                actor=actor,
                source=ADMIN_SOURCE,
                before={"fact_id": fact.pk, "status": before},
                after={"fact_id": fact.pk, "status": fact.status, "note": fact.note},
            )
        removed = _remove_unsupported_ingestion_relations(store, was_accepted, actor=actor)
    return ReviewReport(decided=[f.pk for f in facts], skipped=skipped, relations_removed=removed)


def correct_fact(
    fact_id: int,
    *,
    store: KnowledgeGraphStore,
    actor: Any,
    relation_type: str,
    head_entity_id: str = "",
    tail_entity_id: str = "",
    new_head: NewEntity | None = None,
    new_tail: NewEntity | None = None,
    note: str = "",
) -> ExtractedFact:
    """Change a fact's relation type and/or linked entities, then approve it (status ``corrected``).

    ``original`` keeps what the extractor proposed (set once, so a later look still shows the model's
    output). A new head or tail entity is created in the graph first and removed again if the rest fails.
    """
    relation_type = check_relation_type(relation_type)
    if relation_type == NONE_RELATION:
        raise CurationError(
            f"{NONE_RELATION} means the sentence states no relation: reject the fact instead of correcting it."
        )
    with transaction.atomic():
        facts, skipped = _decidable([fact_id])
        if skipped:
            raise CurationError(skipped[0][1])
        fact = facts[0]
        ends = {"head": (head_entity_id or "").strip(), "tail": (tail_entity_id or "").strip()}
        new_records: dict[str, EntityRecord] = {}
        for end, spec in (("head", new_head), ("tail", new_tail)):
            if spec is None:
                continue
            name = (spec.name or "").strip()
            if not name:
                raise CurationError(f"Give the new {end} entity a name.")
            entity_id = new_entity_id(store, name=name)
            if any(other.id == entity_id for other in new_records.values()):
                entity_id = f"{entity_id}-{end}"
            new_records[end] = EntityRecord(
                id=entity_id,
                type=(spec.type or "").strip(),
                name=name,
                properties={"created_by": "review", "fact_id": fact.pk},
            ).validate()
            ends[end] = entity_id
        picked = [ends[end] for end in ("head", "tail") if end not in new_records]
        for end in ("head", "tail"):
            if end not in new_records and not ends[end]:
                raise CurationError(f"Pick the {end} entity by search, or create a new one.")
        found = store.get_entities(picked)
        for entity_id in picked:
            if entity_id not in found:
                raise UnknownEntityError(
                    f"Entity {entity_id!r} does not exist; pick an entity by search or create a new one."
                )
        new_triple = (ends["head"], relation_type, ends["tail"])
        if new_triple[0] == new_triple[2]:
            raise CurationError("Head and tail would be the same entity; pick two different entities.")
        if new_triple == fact.triple:
            raise CurationError("Nothing was changed: use Approve to accept the fact as extracted.")

        old_triple, old_status = fact.triple, fact.status
        if not fact.original:
            fact.original = {
                "relation_type": fact.relation_type,
                "head_entity_id": fact.head_entity_id,
                "tail_entity_id": fact.tail_entity_id,
                "confidence": fact.confidence,
                "status": old_status,
            }
        fact.head_entity_id, fact.relation_type, fact.tail_entity_id = new_triple
        _mark_decided(fact, Status.CORRECTED, actor=actor, note=note, now=timezone.now())
        fact.save(update_fields=[*_DECISION_FIELDS, "original", "head_entity_id", "relation_type", "tail_entity_id"])
        record_curation_event(
            action="fact.correct",
            target=relation_target(*old_triple),
            actor=actor,
            source=ADMIN_SOURCE,
            before={
                "fact_id": fact.pk,
                "status": old_status,
                "relation_type": old_triple[1],
                "head_entity_id": old_triple[0],
                "tail_entity_id": old_triple[2],
            },
            after={
                "fact_id": fact.pk,
                "status": fact.status,
                "relation_type": new_triple[1],
                "head_entity_id": new_triple[0],
                "tail_entity_id": new_triple[2],
                "note": fact.note,
            },
        )

        undo: list[Callable[[], Any]] = []
        try:
            for record in new_records.values():
                create_entity(store, record=record, actor=actor)
                undo.append(functools.partial(graph_entity_delete, store=store, entity_id=record.id))
            relation_existed = store.get_relation(*new_triple) is not None
            put_facts_in_graph([fact], store=store, action="fact.correct", actor=actor, source=ADMIN_SOURCE)
            if not relation_existed:
                undo.append(lambda: graph_relation_delete(store=store, key=new_triple))
            if old_status == Status.ACCEPTED:
                _remove_unsupported_ingestion_relations(store, [old_triple], actor=actor)
        except Exception:
            _undo(undo)
            raise
    return fact


def _remove_unsupported_ingestion_relations(
    store: KnowledgeGraphStore, triples: Sequence[tuple[str, str, str]], *, actor: Any
) -> list[tuple[str, str, str]]:
    """Remove relations ingestion wrote that no fact in the graph statuses supports any more.

    Called after the decided rows are saved, so facts decided in the same call no longer count as support.
    If a removal fails, the relations removed before it are put back before the error propagates.
    """
    removed: list[Any] = []
    try:
        for triple in dict.fromkeys(triples):
            relation = store.get_relation(*triple)
            if relation is None or not relation.source.startswith(INGESTION_SOURCE_PREFIX):
                continue
            head, relation_type, tail = triple
            still_supported = ExtractedFact.objects.filter(
                head_entity_id=head, relation_type=relation_type, tail_entity_id=tail, status__in=ExtractedFact.IN_GRAPH
            ).exists()
            if still_supported:
                continue
            record_curation_event(
                action="relation.remove",
                target=relation_target(*triple),
                actor=actor,
                source=ADMIN_SOURCE,
                before=relation,
            )
            graph_relation_delete(store=store, key=triple)
            removed.append(relation)
    except Exception:
        _undo([functools.partial(graph_upsert, store=store, relations=[relation]) for relation in removed])
        raise
    return [relation.key for relation in removed]


def _undo(steps: Sequence[Callable[[], Any]]) -> None:
    """Best effort, latest first: errors here must not hide the failure being handled."""
    for step in reversed(steps):
        try:
            step()
        except Exception:
            pass


# --- training export ------------------------------------------------------------------------------------


def review_example(fact: ExtractedFact) -> dict[str, Any]:
    """One curator decision as a relation-extraction example; spans are character offsets in ``sentence``.

    ``label`` is the relation the example is about (the corrected one for ``corrected``, the proposed one
    otherwise) and ``positive`` says whether the curator confirmed it: a rejected fact is a negative example
    of its label for that mention pair.
    """
    offset = fact.sentence_start

    def span(mention, entity_id: str) -> dict[str, Any]:
        return {
            "start": mention.start - offset,
            "end": mention.end - offset,
            "text": mention.text,
            "ner_label": mention.label,
            "entity_id": entity_id,
        }

    original = dict(fact.original or {})
    return {
        "fact_id": fact.pk,
        "document": fact.document.name,
        "document_sha256": fact.document.sha256,
        "sentence_index": fact.sentence_index,
        "sentence": fact_sentence(fact),
        "head": span(fact.head, fact.head_entity_id),
        "tail": span(fact.tail, fact.tail_entity_id),
        "label": fact.relation_type,
        "decision": fact.status,
        "positive": fact.status != Status.REJECTED,
        "extracted_label": original.get("relation_type", fact.relation_type),
        "original": original or None,
        "confidence": fact.confidence,
        "model_versions": fact.model_versions,
        "decided_by": fact.decided_by.get_username() if fact.decided_by is not None else None,
        "decided_at": fact.decided_at.isoformat() if fact.decided_at else None,
        "note": fact.note,
    }


def export_review_decisions(path: Path, *, statuses: Sequence[str] = DECISION_STATUSES, progress: bool = False) -> int:
    """Write every decided fact as one JSON line (ordered by id); returns how many were written.

    The file is written next to its destination and renamed at the end, so an interrupted export never
    leaves a truncated file where a previous good one was.
    """
    from tqdm.auto import tqdm

    unknown = sorted(set(statuses) - set(DECISION_STATUSES))
    if unknown:
        raise CurationError(f"Cannot export status {', '.join(unknown)}; choose from {', '.join(DECISION_STATUSES)}.")
    path = Path(path)
    if not path.parent.is_dir():
        raise CurationError(f"{path.parent} is not a directory; create it first or choose another output path.")
    facts = with_sentence_text(
        ExtractedFact.objects.filter(status__in=list(statuses))
        .select_related("document", "head", "tail", "decided_by")
        .defer("document__text")
        .order_by("id")
    )
    written = 0
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            for fact in tqdm(
                facts.iterator(chunk_size=500),
                total=facts.count(),
                desc="review decisions",
                unit="fact",
                disable=not progress,
            ):
                handle.write(json.dumps(review_example(fact), ensure_ascii=False, sort_keys=True) + "\n")
                written += 1
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return written
