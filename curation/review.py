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
* The queue a curator works through is grouped by claim (same head entity, relation, tail entity), ordered
  by value (calibrated confidence x novelty x reach, see :func:`fact_groups`), decided per claim or in
  confirmed, audited batches (:func:`batch_decide`), and an unlinked name is resolved to an existing
  entity or an explicitly created one of a schema type before its fact is approved (:func:`link_fact_end`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, QuerySet, Sum, When
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from rapidfuzz import fuzz

from core.caches import ProcessCache
from core.errors import CurationError, UnknownEntityError
from curation.services import ADMIN_SOURCE, check_entity_type, check_relation_type, create_entity, new_entity_id
from ingestion.graph_writes import INGESTION_SOURCE_PREFIX, FactWriteReport, put_facts_in_graph
from ingestion.labels import LINKABLE_ENTITY_TYPES, NEW_ENTITY_TYPE
from ingestion.linking import normalise_name
from ingestion.models import ExtractedFact
from ingestion.relations.schema import NONE_RELATION, RELATIONS_BY_NAME
from kg.audit import record_curation_event, relation_target
from kg.models import CurationEvent
from kg.schema import FREEBASE_TAIL_TYPES, UNKNOWN_ENTITY_TYPE
from kg.schema import types as schema_types
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


#: What :func:`approve_facts` does with a fact whose head or tail is not in the graph yet (a proposal).
UNLINKED_CREATE_IF_NO_CANDIDATE = "create_if_no_candidate"
UNLINKED_SKIP = "skip"


def approve_facts(
    fact_ids: Iterable[int],
    *,
    store: KnowledgeGraphStore,
    actor: Any,
    note: str = "",
    unlinked: str = UNLINKED_CREATE_IF_NO_CANDIDATE,
) -> ReviewReport:
    """Approve facts as extracted and write them to the graph; decided facts are skipped with the reason.

    Why an unlinked end is not simply created (the "B.B. King played guitar" bug): the linker proposes a new
    entity whenever the NER label rules out the right one (B.B. King labelled ``BAND`` may only link to
    bands), and approving used to create that proposal with the label's type, which the graph schema may
    not even have (``Band``). Now a fact whose end is a proposal is approved only when no existing entity
    is a close candidate for it (:func:`link_candidates`), and the entity then gets a schema type
    (:func:`new_entity_types`); otherwise it is skipped with the candidate named, so the curator links it or
    creates the entity explicitly (:func:`link_fact_end`). Batch decisions pass ``unlinked="skip"``: an
    entity is never created without a curator looking at that one fact.
    """
    with transaction.atomic():
        facts, skipped = _decidable(fact_ids)
        facts, refused, new_records = _resolve_unlinked(facts, store=store, unlinked=unlinked)
        skipped = [*skipped, *refused]
        now = timezone.now()
        for fact in facts:
            _mark_decided(fact, Status.APPROVED, actor=actor, note=note, now=now)
            fact.save(update_fields=_DECISION_FIELDS)
        created: list[str] = []
        try:
            for record in new_records:
                create_entity(store, record=record, actor=actor)
                created.append(record.id)
            graph = put_facts_in_graph(facts, store=store, action="fact.approve", actor=actor, source=ADMIN_SOURCE)
        except Exception:
            _undo([functools.partial(graph_entity_delete, store=store, entity_id=i) for i in created])
            raise
    return ReviewReport(decided=[f.pk for f in facts], skipped=skipped, graph=graph)


def _resolve_unlinked(
    facts: list[ExtractedFact], *, store: KnowledgeGraphStore, unlinked: str
) -> tuple[list[ExtractedFact], list[tuple[int, str]], list[EntityRecord]]:
    """Split facts into those that may be approved and those refused; plan the schema-typed new entities."""
    existing = store.get_entities({i for fact in facts for i in (fact.head_entity_id, fact.tail_entity_id)})
    planned: dict[str, EntityRecord] = {}
    approvable: list[ExtractedFact] = []
    refused: list[tuple[int, str]] = []
    for fact in facts:
        reasons: list[str] = []
        plan: dict[str, EntityRecord] = {}
        for end in ENDS:
            entity_id = fact.head_entity_id if end == "head" else fact.tail_entity_id
            if entity_id in existing or entity_id in planned or entity_id in plan:
                continue
            mention = fact.head if end == "head" else fact.tail
            if unlinked == UNLINKED_SKIP:
                reasons.append(
                    f"{mention.text!r} is not in the graph yet: link it to an existing entity or create it "
                    "from the fact's row in the review queue first."
                )
                continue
            strong = [c for c in fact_end_candidates(store, fact, end) if c.strong]
            if strong:
                best = strong[0].entity
                reasons.append(
                    f"{mention.text!r} is not linked, and {best.name!r} ({best.type}, {best.id}) already exists: "
                    "link it to that entity (or create a new one explicitly) before approving."
                )
                continue
            plan[entity_id] = EntityRecord(
                id=entity_id,
                type=new_entity_types(fact, end)[0],
                name=mention.entity_name or mention.text,
                properties={
                    "proposed_by": "ingestion",
                    "approved_in": "review",
                    "document": fact.document.name,
                    "mention": mention.text,
                    "ner_label": mention.label,
                },
            ).validate()
        if reasons:
            refused.append((fact.pk, f"Fact {fact.pk} was not approved: {' '.join(reasons)}"))
        else:
            planned.update(plan)
            approvable.append(fact)
    return approvable, refused, list(planned.values())


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
                type=check_schema_entity_type(spec.type, fact=fact, end=end),
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


# --- the grouped review queue ---------------------------------------------------------------------------
#
# Why groups: the same triple (head entity, relation, tail entity) is often extracted from several
# sentences; a curator decides the claim once, and the decision applies to every row that makes it.
#
# Why this order (``value = confidence x novelty x (0.3 + 0.7 x reach)``): a curator's minutes are best spent
# on facts that are likely right *and* would change the graph.
#
# * ``confidence`` is the best calibrated probability among the group's sentences (not a noisy-or: several
#   sentences of one document are not independent evidence); the number of sentences is a tie-breaker.
# * ``novelty`` is 0.05 when the graph already holds the relation (or a fact row says the text supports an
#   existing relation), 0.5 when head and tail are already joined by another relation, 1.0 otherwise.
# * ``reach`` is how well connected the two ends are: ``min(1, log(1 + degree) / log(1 + 50))`` per end,
#   halved for non-music types (films, places...), 0 for an end not in the graph yet, averaged. A fact
#   joining two hubs reaches many learners' recommendations; one between two unknown names reaches none.

#: Novelty of a fact the graph already holds, of one whose ends are already joined otherwise, of a new one.
NOVELTY_IN_GRAPH, NOVELTY_PAIR_LINKED, NOVELTY_NEW = 0.05, 0.5, 1.0
#: Degree at which an end counts as fully connected.
REACH_DEGREE = 50
#: Entity types whose connectivity counts fully in ``reach`` (music entities); others count half.
MUSIC_TYPES = frozenset(
    {
        schema_types.ARTIST_TYPE,
        schema_types.TAG_TYPE,
        schema_types.INSTRUMENT_TYPE,
        schema_types.CONCEPT_TYPE,
        schema_types.WORK_TYPE,
        schema_types.PERSON_TYPE,
        schema_types.COURSE_TYPE,
        schema_types.ERA_TYPE,
        schema_types.FORM_TYPE,
        "MusicalArtist",
        "Genre",
        "Album",
        "Track",
    }
)

#: Every entity type of the graph schema: the constants of :mod:`kg.schema.types`, the types the Freebase
#: import gives (:data:`kg.schema.FREEBASE_TAIL_TYPES`) and the unknown-kind type. A curator-created entity
#: gets one of these, never a type made up on the spot.
SCHEMA_ENTITY_TYPES = frozenset(
    {value for name, value in vars(schema_types).items() if name.endswith("_TYPE") and isinstance(value, str)}
    | set(FREEBASE_TAIL_TYPES.values())
    | {UNKNOWN_ENTITY_TYPE}
)
#: Schema types that name catalogue rows (a Last.FM artist, a Udemy course, a level): loaders create
#: them with their catalogue row, so a curator never creates one from a sentence.
CATALOGUE_TYPES = frozenset({schema_types.ARTIST_TYPE, schema_types.COURSE_TYPE, schema_types.LEVEL_TYPE})

#: A candidate at least this close (rapidfuzz ratio or token-sort ratio, 0-100, on normalised names) makes a
#: plain approval refuse to create a new entity: the curator must link it or create one explicitly.
STRONG_CANDIDATE_SCORE = 88.0
#: Candidates below this score are not offered.
MIN_CANDIDATE_SCORE = 60.0
#: KGCN placeholder names ("Genre kgcn:123") are never offered as candidates.
_PLACEHOLDER_NAME = re.compile(r"^[A-Z][A-Za-z]* kgcn:\d+$")

#: How each extraction relation reads in a sentence (a graph-only type reads as its words in lower case).
RELATION_WORDS: dict[str, str] = {
    "COMPOSED": "composed",
    "PERFORMED": "performed",
    "HAS_GENRE": "has genre",
    "INSTRUMENTS_PLAYED": "plays",
    "MEMBER_OF": "member of",
    "SIGNED_TO": "signed to",
    "VOICE_TYPE": "voice type",
    "ORIGIN": "comes from",
    "WON_AWARD": "won",
    "ASSOCIATED_WITH": "associated with",
}

ENDS = ("head", "tail")


def relation_words(relation_type: str) -> str:
    return RELATION_WORDS.get(relation_type) or relation_type.replace("_", " ").lower()


def end_entity_types(relation_type: str, end: str) -> tuple[str, ...] | None:
    """Graph types an end of an extraction relation may have (from the NER labels it allows); ``None``: any."""
    relation = RELATIONS_BY_NAME.get(relation_type)
    if relation is None:
        return None
    labels = relation.head_labels if end == "head" else relation.tail_labels
    return tuple(dict.fromkeys(t for label in labels for t in LINKABLE_ENTITY_TYPES.get(label, ())))


def new_entity_types(fact: ExtractedFact, end: str) -> list[str]:
    """Schema types a new entity for this end of the fact may get, the best guess first.

    The guess follows the mention's NER label (a BAND mention suggests ``MusicalArtist``, since the graph
    has no ``Band`` type), restricted to what the relation allows at that end; the unknown-kind type is the
    last resort when the schema has nothing better (an award).
    """
    mention = fact.head if end == "head" else fact.tail
    wanted = [
        NEW_ENTITY_TYPE.get(mention.label, ""),
        mention.entity_type,
        *LINKABLE_ENTITY_TYPES.get(mention.label, ()),
        *(end_entity_types(fact.relation_type, end) or ()),
    ]
    compatible = end_entity_types(fact.relation_type, end)
    types = [
        t
        for t in dict.fromkeys(wanted)
        if t in SCHEMA_ENTITY_TYPES and t not in CATALOGUE_TYPES and (compatible is None or t in compatible)
    ]
    return types or [UNKNOWN_ENTITY_TYPE]


@dataclass(frozen=True)
class LinkCandidate:
    """An existing graph entity a mention may name; ``score`` 0-100 (rapidfuzz on normalised names)."""

    entity: EntityRecord
    score: float
    strong: bool


def link_candidates(
    store: KnowledgeGraphStore, *, text: str, types: Sequence[str] | None = None, limit: int = 5
) -> list[LinkCandidate]:
    """The existing entities (of ``types``) best matching a mention's text, best first.

    Why search by the whole text *and* by its last word: the store's search finds a name containing the
    query, so "B.B. King" finds "B.B. King", and "King" also finds "B. B. King" written another way; the
    rapidfuzz score then ranks them by how close the whole name is.
    """
    surface = " ".join((text or "").split())
    key = normalise_name(surface)
    if not key:
        return []
    queries = [surface]
    words = surface.split()
    if len(words) > 1 and len(words[-1]) >= 4:
        queries.append(words[-1])
    found: dict[str, EntityRecord] = {}
    for query in queries:
        for entity in store.search_entities(query, types=list(types) if types else None, limit=30):
            if entity.name and not _PLACEHOLDER_NAME.match(entity.name):
                found.setdefault(entity.id, entity)
    candidates: list[LinkCandidate] = []
    for entity in found.values():
        close, score = 0.0, 0.0
        for name in (entity.name, *entity.aliases):
            other = normalise_name(name)
            if not other:
                continue
            exact = max(fuzz.ratio(key, other), fuzz.token_sort_ratio(key, other))
            close = max(close, exact)
            score = max(score, exact, 0.85 * fuzz.token_set_ratio(key, other))
        if score >= MIN_CANDIDATE_SCORE:
            candidates.append(
                LinkCandidate(entity=entity, score=round(score, 1), strong=close >= STRONG_CANDIDATE_SCORE)
            )
    candidates.sort(key=lambda c: (-c.score, c.entity.name.casefold(), c.entity.id))
    return candidates[:limit]


def fact_end_candidates(store: KnowledgeGraphStore, fact: ExtractedFact, end: str, *, limit: int = 5):
    mention = fact.head if end == "head" else fact.tail
    return link_candidates(store, text=mention.text, types=end_entity_types(fact.relation_type, end), limit=limit)


@dataclass(frozen=True)
class GraphIndex:
    """What ordering the queue needs from the whole graph: degrees, relation keys and joined pairs."""

    degree: dict[str, int]
    triples: frozenset[tuple[str, str, str]]
    pairs: frozenset[tuple[str, str]]


_GRAPH_INDEX: ProcessCache[str, GraphIndex] = ProcessCache(recheck_seconds=0, max_entries=4)


def _build_graph_index(store: KnowledgeGraphStore) -> GraphIndex:
    degree: Counter[str] = Counter()
    triples: set[tuple[str, str, str]] = set()
    pairs: set[tuple[str, str]] = set()
    for head, relation_type, tail in store.iter_triples():
        degree[head] += 1
        degree[tail] += 1
        triples.add((head, relation_type, tail))
        pairs.add((head, tail) if head <= tail else (tail, head))
    return GraphIndex(degree=dict(degree), triples=frozenset(triples), pairs=frozenset(pairs))


def graph_index(store: KnowledgeGraphStore) -> GraphIndex:
    """The store's :class:`GraphIndex`, rebuilt when the graph changed.

    Why this stamp: the counts per type move with almost every write, and the latest audit event moves with
    every curator write that keeps them (a relation replaced by one of the same type); reading both costs two
    small queries, against a walk over every triple to rebuild.
    """
    where = getattr(store, "using", None) or f"{getattr(store, 'uri', '')}/{getattr(store, 'database', '')}"
    key = f"{type(store).__module__}.{type(store).__name__}:{where}"

    def stamp() -> tuple:
        stats = store.stats()
        latest = CurationEvent.objects.order_by("-id").values_list("id", flat=True).first()
        return (
            tuple(sorted(stats.entities_by_type.items())),
            tuple(sorted(stats.relations_by_type.items())),
            latest,
        )

    return _GRAPH_INDEX.get(key, lambda: _build_graph_index(store), stamp=stamp)


@dataclass
class FactGroup:
    """One claim of the queue: every fact row (sentence) with the same head entity, relation and tail entity."""

    lead_id: int
    head_entity_id: str
    relation_type: str
    tail_entity_id: str
    fact_ids: list[int]
    confidence: float
    documents: int
    statuses: dict[str, int]
    in_graph: bool
    pair_linked: bool
    novelty: float
    reach: float
    value: float
    head: EntityRecord | None = None
    tail: EntityRecord | None = None
    #: Filled for the groups of the page shown: the facts (sentence annotated), candidates per unlinked end.
    facts: list = field(default_factory=list)
    candidates: dict[str, list[LinkCandidate]] = field(default_factory=dict)
    new_types: dict[str, list[str]] = field(default_factory=dict)

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.head_entity_id, self.relation_type, self.tail_entity_id)

    @property
    def sources(self) -> int:
        return len(self.fact_ids)

    @property
    def relation_words(self) -> str:
        return relation_words(self.relation_type)

    @property
    def status(self) -> str:
        if len(self.statuses) == 1:
            return next(iter(self.statuses))
        return ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))

    @property
    def lead(self) -> ExtractedFact | None:
        return self.facts[0] if self.facts else None

    def end_entity(self, end: str) -> EntityRecord | None:
        return self.head if end == "head" else self.tail

    def end_text(self, end: str) -> str:
        lead = self.lead
        if lead is None:
            return self.head_entity_id if end == "head" else self.tail_entity_id
        return (lead.head if end == "head" else lead.tail).text

    @property
    def unlinked_ends(self) -> list[str]:
        return [end for end in ENDS if self.end_entity(end) is None]


@dataclass(frozen=True)
class ReviewPage:
    groups: list[FactGroup]
    total_groups: int
    total_facts: int
    page: int
    pages: int


def _reach(entity: EntityRecord | None, degree: int) -> float:
    if entity is None:
        return 0.0
    connected = min(1.0, math.log1p(degree) / math.log1p(REACH_DEGREE))
    return connected if entity.type in MUSIC_TYPES else connected / 2


def fact_groups(facts: QuerySet, *, store: KnowledgeGraphStore) -> list[FactGroup]:
    """Every group of ``facts`` (any filtered fact queryset), most valuable first (see the notes above)."""
    rows = list(
        ExtractedFact.objects.filter(pk__in=facts.order_by().values("pk"))
        .order_by()
        .values("head_entity_id", "relation_type", "tail_entity_id", "status")
        .annotate(
            n=Count("id"),
            best=Max("confidence"),
            lead=Min("id"),
            supported=Sum(Case(When(already_in_graph=True, then=1), default=0, output_field=IntegerField())),
        )
    )
    ids_by_triple: dict[tuple[str, str, str], list[int]] = {}
    for pk, head, relation_type, tail in (
        ExtractedFact.objects.filter(pk__in=facts.order_by().values("pk"))
        .order_by("-confidence", "id")
        .values_list("pk", "head_entity_id", "relation_type", "tail_entity_id")
    ):
        ids_by_triple.setdefault((head, relation_type, tail), []).append(pk)
    documents: dict[tuple[str, str, str], int] = {
        (r["head_entity_id"], r["relation_type"], r["tail_entity_id"]): r["docs"]
        for r in ExtractedFact.objects.filter(pk__in=facts.order_by().values("pk"))
        .order_by()
        .values("head_entity_id", "relation_type", "tail_entity_id")
        .annotate(docs=Count("document", distinct=True))
    }
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["head_entity_id"], row["relation_type"], row["tail_entity_id"])
        into = merged.setdefault(key, {"best": 0.0, "lead": row["lead"], "supported": 0, "statuses": {}})
        into["best"] = max(into["best"], row["best"])
        into["lead"] = min(into["lead"], row["lead"])
        into["supported"] += row["supported"] or 0
        into["statuses"][row["status"]] = row["n"]
    index = graph_index(store)
    entities = store.get_entities({end for key in merged for end in (key[0], key[2])})
    groups: list[FactGroup] = []
    for key, data in merged.items():
        head_id, relation_type, tail_id = key
        head_entity, tail_entity = entities.get(head_id), entities.get(tail_id)
        in_graph = key in index.triples or data["supported"] > 0
        pair = (head_id, tail_id) if head_id <= tail_id else (tail_id, head_id)
        pair_linked = pair in index.pairs
        novelty = NOVELTY_IN_GRAPH if in_graph else NOVELTY_PAIR_LINKED if pair_linked else NOVELTY_NEW
        reach = (
            _reach(head_entity, index.degree.get(head_id, 0)) + _reach(tail_entity, index.degree.get(tail_id, 0))
        ) / 2
        fact_ids = ids_by_triple.get(key, [data["lead"]])
        groups.append(
            FactGroup(
                lead_id=fact_ids[0],
                head_entity_id=head_id,
                relation_type=relation_type,
                tail_entity_id=tail_id,
                fact_ids=fact_ids,
                confidence=float(data["best"]),
                documents=documents.get(key, 1),
                statuses=data["statuses"],
                in_graph=in_graph,
                pair_linked=pair_linked,
                novelty=novelty,
                reach=round(reach, 4),
                value=round(float(data["best"]) * novelty * (0.3 + 0.7 * reach), 6),
                head=head_entity,
                tail=tail_entity,
            )
        )
    groups.sort(key=lambda g: (-g.value, -g.sources, g.lead_id))
    return groups


def review_page(
    facts: QuerySet,
    *,
    store: KnowledgeGraphStore,
    page: int = 1,
    per_page: int = 40,
    sentences_per_group: int = 8,
    with_candidates: bool = True,
) -> ReviewPage:
    """One page of :func:`fact_groups`, with each shown group's sentences and link candidates loaded."""
    groups = fact_groups(facts, store=store)
    pages = max(1, math.ceil(len(groups) / per_page))
    page = min(max(1, page), pages)
    shown = groups[(page - 1) * per_page : page * per_page]
    wanted = {pk for group in shown for pk in group.fact_ids[:sentences_per_group]}
    rows = {
        fact.pk: fact
        for fact in with_sentence_text(
            ExtractedFact.objects.filter(pk__in=wanted)
            .select_related("document", "head", "tail", "decided_by")
            .defer("document__text")
        )
    }
    for group in shown:
        group.facts = [rows[pk] for pk in group.fact_ids[:sentences_per_group] if pk in rows]
        lead = group.lead
        if lead is None:
            continue
        for end in group.unlinked_ends:
            group.new_types[end] = new_entity_types(lead, end)
            if with_candidates:
                group.candidates[end] = fact_end_candidates(store, lead, end)
    return ReviewPage(
        groups=shown, total_groups=len(groups), total_facts=sum(g.sources for g in groups), page=page, pages=pages
    )


# --- decisions on groups, batches and links -------------------------------------------------------------

DECISIONS = ("approve", "reject")


def check_schema_entity_type(entity_type: str, *, fact: ExtractedFact | None = None, end: str = "") -> str:
    """A type of the graph schema a curator may give a new entity, or a :class:`CurationError` listing them."""
    value = check_entity_type(entity_type)
    if value in SCHEMA_ENTITY_TYPES and value not in CATALOGUE_TYPES:
        return value
    suggested = new_entity_types(fact, end) if fact is not None and end in ENDS else []
    allowed = sorted(SCHEMA_ENTITY_TYPES - CATALOGUE_TYPES)
    hint = f"for this {end} use {' or '.join(suggested)}" if suggested else f"use one of {', '.join(allowed)}"
    raise CurationError(f"{value!r} is not an entity type of the graph schema: {hint}.")


def _check_decision(decision: str) -> str:
    if decision not in DECISIONS:
        raise CurationError(f"Unknown decision {decision!r}: choose approve or reject.")
    return decision


def _fact_id_list(values: Iterable[Any]) -> list[int]:
    ids: list[int] = []
    for value in values:
        text = str(value).strip()
        if not text.isdigit():
            raise CurationError(f"{text!r} is not a fact id; reload the review queue and select the facts again.")
        ids.append(int(text))
    return list(dict.fromkeys(ids))


def group_fact_ids(lead_ids: Iterable[Any]) -> list[int]:
    """Every fact with the same triple and status as one of ``lead_ids`` (the group each lead stands for).

    Missing ids are kept, so the decision reports them as missing instead of silently ignoring them.
    """
    ids = _fact_id_list(lead_ids)
    leads = list(
        ExtractedFact.objects.filter(pk__in=ids).values_list(
            "pk", "head_entity_id", "relation_type", "tail_entity_id", "status"
        )
    )
    same = Q(pk__in=[])
    for _, head, relation_type, tail, status in leads:
        same |= Q(head_entity_id=head, relation_type=relation_type, tail_entity_id=tail, status=status)
    members = set(ExtractedFact.objects.filter(same).values_list("pk", flat=True)) if leads else set()
    return [*ids, *sorted(members - set(ids))]


def decide_groups(
    lead_ids: Iterable[Any], *, decision: str, store: KnowledgeGraphStore, actor: Any, note: str = ""
) -> ReviewReport:
    """Approve or reject the groups the given facts lead: the decision reaches every row of the same claim."""
    _check_decision(decision)
    ids = _fact_id_list(lead_ids)
    if not ids:
        raise CurationError("Select at least one fact (tick its box, or press x on its row) before deciding.")
    fact_ids = group_fact_ids(ids)
    if decision == "approve":
        return approve_facts(fact_ids, store=store, actor=actor, note=note)
    return reject_facts(fact_ids, store=store, actor=actor, note=note)


def batch_facts(*, relation_type: str = "", entity_id: str = "") -> QuerySet:
    """The pending facts a batch decision covers: one relation type, one entity (as head or tail), or both."""
    relation_type, entity_id = (relation_type or "").strip(), (entity_id or "").strip()
    if not relation_type and not entity_id:
        raise CurationError("A batch decision needs a relation or an entity: filter the queue by one (or both) first.")
    facts = ExtractedFact.objects.filter(status=Status.PENDING)
    if relation_type:
        facts = facts.filter(relation_type=relation_type)
    if entity_id:
        facts = facts.filter(Q(head_entity_id=entity_id) | Q(tail_entity_id=entity_id))
    return facts


def batch_description(*, relation_type: str = "", entity_id: str = "") -> str:
    parts = []
    if relation_type:
        parts.append(f"relation '{relation_words(relation_type)}' ({relation_type})")
    if entity_id:
        parts.append(f"entity {entity_id}")
    return " and ".join(parts)


@dataclass(frozen=True)
class BatchPreview:
    decision: str
    relation_type: str
    entity_id: str
    facts: int
    groups: list[FactGroup]
    description: str


def batch_preview(
    *, decision: str, relation_type: str = "", entity_id: str = "", store: KnowledgeGraphStore
) -> BatchPreview:
    """What a batch decision would cover (read only); an empty batch is a :class:`CurationError`."""
    _check_decision(decision)
    facts = batch_facts(relation_type=relation_type, entity_id=entity_id)
    count = facts.count()
    description = batch_description(relation_type=relation_type, entity_id=entity_id)
    if not count:
        raise CurationError(f"No pending facts with {description}: there is nothing to {decision}.")
    return BatchPreview(
        decision=decision,
        relation_type=relation_type,
        entity_id=entity_id,
        facts=count,
        groups=fact_groups(facts, store=store),
        description=description,
    )


def batch_decide(
    *,
    decision: str,
    relation_type: str = "",
    entity_id: str = "",
    expected: int | None,
    store: KnowledgeGraphStore,
    actor: Any,
    note: str = "",
) -> ReviewReport:
    """Approve or reject every pending fact with a relation and/or about an entity, as confirmed.

    Why ``expected``: the curator confirmed a number; if the queue changed since (another curator, a new
    ingestion), deciding a different set than the one confirmed is refused. Approval in a batch never
    creates an entity (``unlinked="skip"``). One ``fact.batch_approve``/``fact.batch_reject`` event records the
    batch (criteria, confirmed count, decided ids) next to the per-fact events.
    """
    _check_decision(decision)
    facts = batch_facts(relation_type=relation_type, entity_id=entity_id)
    description = batch_description(relation_type=relation_type, entity_id=entity_id)
    with transaction.atomic():
        ids = list(facts.order_by("id").values_list("pk", flat=True))
        if not ids:
            raise CurationError(f"No pending facts with {description}: there is nothing to {decision}.")
        if expected is not None and expected != len(ids):
            raise CurationError(
                f"The queue changed since you confirmed: {len(ids)} pending facts now have {description}, you "
                f"confirmed {expected}. Open the batch again to see what it covers."
            )
        if decision == "approve":
            report = approve_facts(ids, store=store, actor=actor, note=note, unlinked=UNLINKED_SKIP)
        else:
            report = reject_facts(ids, store=store, actor=actor, note=note)
        if report.decided:
            record_curation_event(
                action=f"fact.batch_{decision}",
                target=entity_id or f"relation:{relation_type}",
                actor=actor,
                source=ADMIN_SOURCE,
                before={"relation_type": relation_type, "entity_id": entity_id, "confirmed": expected},
                after={"decided": report.decided, "skipped": [pk for pk, _ in report.skipped], "note": note},
            )
    return report


@dataclass(frozen=True)
class LinkReport:
    end: str
    old_entity_id: str
    entity: EntityRecord
    created: bool
    facts: list[int]


def link_fact_end(
    fact_id: int,
    *,
    end: str,
    store: KnowledgeGraphStore,
    actor: Any,
    entity_id: str = "",
    new_type: str = "",
    new_name: str = "",
) -> LinkReport:
    """Point a fact's head or tail at an existing entity (a candidate) or at a new entity of a schema type.

    The fact stays undecided: linking answers "which entity is this?", approving answers "is the fact right?".
    Every pending fact of the same claim moves with it; when the old end was a proposal (not in the graph),
    every pending fact naming that proposal moves too (where its relation allows the entity's type), so a
    name is resolved once. ``original`` keeps the extractor's ends; the audit records a ``fact.link`` event.
    """
    if end not in ENDS:
        raise CurationError(f"Unknown end {end!r}: link the head or the tail.")
    entity_id, new_type = (entity_id or "").strip(), (new_type or "").strip()
    with transaction.atomic():
        facts, skipped = _decidable([fact_id])
        if skipped:
            raise CurationError(skipped[0][1])
        fact = facts[0]
        if fact.status != Status.PENDING:
            raise CurationError(
                f"Fact {fact.pk} is already in the graph ({fact.status}); use Correct to change its entities."
            )
        mention = fact.head if end == "head" else fact.tail
        old = fact.head_entity_id if end == "head" else fact.tail_entity_id
        other = fact.tail_entity_id if end == "head" else fact.head_entity_id
        compatible = end_entity_types(fact.relation_type, end)
        record: EntityRecord | None = None
        if entity_id:
            entity = store.get_entity(entity_id)
            if entity is None:
                raise UnknownEntityError(
                    f"Entity {entity_id!r} does not exist; pick one of the candidates or search for another."
                )
            if compatible is not None and entity.type not in compatible:
                raise CurationError(
                    f"{entity.name!r} is of type {entity.type}, but the {end} of '{relation_words(fact.relation_type)}' "
                    f"must be a {' or '.join(compatible)}: pick another candidate or create a new entity."
                )
        elif new_type:
            allowed = new_entity_types(fact, end)
            if new_type not in allowed:
                raise CurationError(
                    f"{new_type!r} is not a type for the {end} of '{relation_words(fact.relation_type)}': "
                    f"choose {' or '.join(allowed)} (types of the graph schema)."
                )
            name = " ".join((new_name or mention.entity_name or mention.text).split())
            if not name:
                raise CurationError(f"Give the new {end} entity a name.")
            record = EntityRecord(
                id=new_entity_id(store, name=name),
                type=new_type,
                name=name,
                properties={"created_by": "review", "fact_id": fact.pk, "mention": mention.text},
            ).validate()
            entity = record
        else:
            raise CurationError(f"Pick a candidate for the {end}, or choose a type to create a new entity.")
        if entity.id == other:
            raise CurationError("Head and tail would be the same entity; pick another candidate.")
        if entity.id == old:
            raise CurationError(f"The {end} is already linked to {entity.id}; approve or reject the fact instead.")

        rows = {
            f.pk: f
            for f in ExtractedFact.objects.select_for_update(of=("self",)).filter(
                status=fact.status,
                head_entity_id=fact.head_entity_id,
                relation_type=fact.relation_type,
                tail_entity_id=fact.tail_entity_id,
            )
        }
        rows[fact.pk] = fact
        if store.get_entity(old) is None:
            for f in ExtractedFact.objects.select_for_update(of=("self",)).filter(
                Q(head_entity_id=old) | Q(tail_entity_id=old), status=Status.PENDING
            ):
                rows.setdefault(f.pk, f)
        moved: list[int] = []
        for row in rows.values():
            changed = False
            for row_end in ENDS:
                field_name = f"{row_end}_entity_id"
                row_other = row.tail_entity_id if row_end == "head" else row.head_entity_id
                if getattr(row, field_name) != old or row_other == entity.id:
                    continue
                allowed_types = end_entity_types(row.relation_type, row_end)
                if row.pk != fact.pk and allowed_types is not None and entity.type not in allowed_types:
                    continue
                if not row.original:
                    row.original = {
                        "relation_type": row.relation_type,
                        "head_entity_id": row.head_entity_id,
                        "tail_entity_id": row.tail_entity_id,
                        "confidence": row.confidence,
                        "status": row.status,
                    }
                setattr(row, field_name, entity.id)
                changed = True
            if changed:
                row.save(update_fields=["head_entity_id", "tail_entity_id", "original"])
                moved.append(row.pk)
        record_curation_event(
            action="fact.link",
            target=old,
            actor=actor,
            source=ADMIN_SOURCE,
            before={"entity_id": old, "end": end, "fact_id": fact.pk, "mention": mention.text},
            after={"entity_id": entity.id, "type": entity.type, "created": record is not None, "facts": sorted(moved)},
        )
        if record is not None:
            create_entity(store, record=record, actor=actor)  # graph last: a failure rolls the rows back
    return LinkReport(end=end, old_entity_id=old, entity=entity, created=record is not None, facts=sorted(moved))


# --- measured precision per relation model version --------------------------------------------------------


@dataclass(frozen=True)
class ModelPrecision:
    """The measured precision of one relation model version: ``rows`` of ``(source, threshold, precision)``."""

    version: str
    rows: list[tuple[str, float, float]]

    @property
    def measured(self) -> bool:
        return bool(self.rows)


#: Thresholds shown per source (the table has more; these are the ones a curator sets).
PRECISION_THRESHOLDS = (0.5, 0.7, 0.9)


def relation_model_precision(versions: Iterable[str]) -> list[ModelPrecision]:
    """The precision the relation-extraction training measured for each model version, "not measured" if absent.

    Read through :func:`ingestion.relations.artifacts.relation_precision_table` (the artifact's manifest); a
    version without the table, a missing artifact, or an older artifact module without the function all
    give an empty row list instead of an error: the queue must open whatever the artifacts hold.
    """
    reader: Callable[[str], Any] | None
    try:
        from ingestion.relations.artifacts import relation_precision_table as reader
    except ImportError:  # pragma: no cover - an artifacts module without the table
        reader = None
    result: list[ModelPrecision] = []
    for version in sorted({v for v in versions if isinstance(v, str) and v}):
        rows: list[tuple[str, float, float]] = []
        try:
            table = reader(version) if reader is not None else {}
        except Exception:  # an unreadable artifact is "not measured" here; loading it reports the details
            table = {}
        for source, entries in sorted((table or {}).items()):
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, Mapping):
                    continue
                threshold, precision = entry.get("threshold"), entry.get("precision")
                if not isinstance(threshold, (int, float)) or not isinstance(precision, (int, float)):
                    continue
                if any(abs(float(threshold) - t) < 1e-9 for t in PRECISION_THRESHOLDS):
                    rows.append((str(source), float(threshold), float(precision)))
        result.append(ModelPrecision(version=version, rows=rows))
    return result


def queue_model_versions(facts: QuerySet, *, component: str = "relation", limit: int = 50) -> list[str]:
    """The model versions (of ``component``) of the facts in a queryset, at most ``limit`` distinct ones."""
    found: list[str] = []
    for versions in facts.order_by().values_list("model_versions", flat=True).distinct()[:500]:
        version = (versions or {}).get(component) if isinstance(versions, dict) else None
        if isinstance(version, str) and version not in found:
            found.append(version)
            if len(found) >= limit:
                break
    return found
