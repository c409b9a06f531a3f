"""The text-ingestion pipeline: sentences and mentions (NER) -> entities (linking) -> triples (relation
extraction) -> graph facts with provenance, or the review queue.

Why each document is analysed completely in memory before anything is written: a document that fails
half-way (a model error, a lost Neo4j connection) must leave no partial facts. The rows of one document
and its accepted relations are written together inside one ``transaction.atomic`` (the graph write comes
last and undoes itself on failure, see :mod:`ingestion.graph_writes`), so a document is either fully
ingested or not at all, and re-ingesting the same text (same hash) changes nothing.

The components are chosen by the caller (the loaded NER and relation artifacts, a linker over the
configured store), which is how tests run the pipeline with tiny trained models and both graph backends.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from tqdm.auto import tqdm

from core.errors import ConfigurationError, LeitmotifError
from ingestion.documents import ChunkedNer, DocumentProblem, TextDocument
from ingestion.graph_writes import put_facts_in_graph
from ingestion.labels import LINKABLE_ENTITY_TYPES, NEW_ENTITY_TYPE
from ingestion.linking import EntityLinker, LinkResult
from ingestion.models import ExtractedFact, ExtractedMention, IngestionJob, SourceDocument
from ingestion.relations.records import MentionSpan
from ingestion.relations.schema import RELATIONS_BY_NAME
from kg.stores.base import KnowledgeGraphStore

#: Facts below this confidence are not kept at all (counted as rejected by the model). The confidence is
#: calibrated (expected precision), so this drops what is more likely wrong than right.
DEFAULT_MIN_CONFIDENCE = 0.5


class NerComponent(Protocol):
    version: str

    def extract_sentences(self, text: str) -> Sequence[Any]: ...


class RelationComponent(Protocol):
    @property
    def version(self) -> str: ...

    def predict(self, sentence: str, mentions: Sequence[Any]) -> Sequence[Any]: ...


@dataclass
class IngestionSummary:
    """What a run did; printed by ``ingest_text`` and stored on API jobs."""

    documents: int = 0
    unchanged: int = 0
    failed: int = 0
    sentences: int = 0
    mentions: int = 0
    linked: int = 0
    new_entities: int = 0
    triples_accepted: int = 0
    triples_queued: int = 0
    triples_rejected: int = 0
    relations_written: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("ner", "linking", "relations", "writes"), 0.0)
    )

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in {"seconds", "problems"}}
        data["problems"] = list(self.problems)
        data["seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        return data

    def add_problem(self, problem: DocumentProblem) -> None:
        self.failed += 1
        self.problems.append(problem.error.message)


@dataclass(frozen=True)
class AnalysedMention:
    sentence_index: int
    start: int
    end: int
    text: str
    label: str
    link: LinkResult


@dataclass(frozen=True)
class AnalysedFact:
    """``mentions[head] -relation-> mentions[tail]``; ``confidence`` is the calibrated one (expected precision)."""

    sentence_index: int
    sentence_start: int
    sentence_end: int
    head: int
    tail: int
    relation: str
    confidence: float


@dataclass
class TextAnalysis:
    """Everything the models found in one text, before anything is written."""

    sentence_count: int
    mentions: list[AnalysedMention]
    facts: list[AnalysedFact]
    #: Facts dropped because their confidence was below the minimum.
    rejected: int = 0
    #: Facts dropped by the pipeline's filters: linked types that do not fit the relation, duplicates.
    filtered: dict[str, int] = field(
        default_factory=lambda: {"type": 0, "label_conflict": 0, "duplicate": 0, "same_entity": 0}
    )


@dataclass
class _Analysis:
    document: TextDocument
    sentence_count: int
    mentions: list[AnalysedMention]
    facts: list[AnalysedFact]


@cache
def entity_types_for_labels(labels: tuple[str, ...]) -> frozenset[str]:
    """Graph entity types a mention with one of these NER labels may be linked to (or proposed as)."""
    return frozenset(
        {t for label in labels for t in LINKABLE_ENTITY_TYPES.get(label, ())}
        | {NEW_ENTITY_TYPE[label] for label in labels if label in NEW_ENTITY_TYPE}
    )


def fits_relation(relation: str, head: LinkResult, tail: LinkResult) -> bool:
    """Whether the *linked* entities' types can hold ``relation`` (a relation outside the schema cannot).

    The classifier only sees NER labels; linking can still land a mention on an entity of another kind
    (a "band" that is a country in the graph). Such a triple is impossible, so it is dropped, not queued.
    """
    schema = RELATIONS_BY_NAME.get(relation)
    if schema is None:
        return False
    return head.entity_type in entity_types_for_labels(schema.head_labels) and tail.entity_type in (
        entity_types_for_labels(schema.tail_labels)
    )


def _predict_sentences(relations: RelationComponent, items: list[tuple[str, list[MentionSpan]]]) -> list[Any]:
    """Relations of many sentences, in one batched call when the component offers ``predict_many``."""
    if not items:
        return []
    predict_many = getattr(relations, "predict_many", None)
    if callable(predict_many):
        return list(predict_many(items))
    return [relations.predict(sentence, spans) for sentence, spans in items]


def analyse_text(
    text: str,
    *,
    ner: NerComponent,
    linker: EntityLinker,
    relations: RelationComponent,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    seconds: dict[str, float] | None = None,
) -> TextAnalysis:
    """NER → linking → relation extraction → filters over ``text``; writes nothing (the benchmark and
    :class:`IngestionPipeline` share it).

    Filters, in order: a mention proposed as new whose name the graph knows only as an entity of a type its
    NER label cannot have ("Croatia" labelled BAND while the graph has the Place) takes part in no
    relation; a relation between two mentions linked to one entity is dropped; a relation whose
    linked head/tail types cannot hold it is dropped (:func:`fits_relation`); the same triple (same
    entities, relation; either order for a symmetric relation) found twice in one sentence is kept once,
    with its highest confidence; what is left below ``min_confidence`` is counted as rejected.
    """
    timings = seconds if seconds is not None else {}

    @contextmanager
    def timed(stage: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started

    with timed("ner"):
        sentences = list(ner.extract_sentences(text))
    mentions: list[AnalysedMention] = []
    by_sentence: list[tuple[Any, list[int]]] = []
    with timed("linking"):
        window = linker.context_window
        for sentence in sentences:
            indices = []
            for mention in sentence.mentions:
                context = text[max(0, mention.start - window) : mention.end + window]
                link = linker.link(mention.text, mention.label, context=context)
                indices.append(len(mentions))
                mentions.append(
                    AnalysedMention(sentence.index, mention.start, mention.end, mention.text, mention.label, link)
                )
            by_sentence.append((sentence, indices))
    analysis = TextAnalysis(sentence_count=len(sentences), mentions=mentions, facts=[])
    with timed("linking"):
        conflicted = {i for i, m in enumerate(mentions) if m.link.is_new and linker.conflicting_types(m.text, m.label)}
    with timed("relations"):
        work = [(sentence, indices) for sentence, indices in by_sentence if len(indices) >= 2]
        items = [
            (
                sentence.text,
                [
                    MentionSpan(mentions[i].start - sentence.start, mentions[i].end - sentence.start, mentions[i].label)
                    for i in indices
                ],
            )
            for sentence, indices in work
        ]
        for (sentence, indices), predictions in zip(work, _predict_sentences(relations, items)):
            best: dict[tuple[str, str, str], AnalysedFact] = {}
            for prediction in predictions:
                head, tail = indices[prediction.head], indices[prediction.tail]
                head_link, tail_link = mentions[head].link, mentions[tail].link
                if head in conflicted or tail in conflicted:
                    analysis.filtered["label_conflict"] += 1
                    continue
                if head_link.entity_id == tail_link.entity_id:
                    analysis.filtered["same_entity"] += 1
                    continue
                if not fits_relation(prediction.relation, head_link, tail_link):
                    analysis.filtered["type"] += 1
                    continue
                schema = RELATIONS_BY_NAME[prediction.relation]
                ends = (head_link.entity_id, tail_link.entity_id)
                key = (*(sorted(ends) if schema.symmetric else ends), prediction.relation)
                fact = AnalysedFact(
                    sentence.index,
                    sentence.start,
                    sentence.end,
                    head,
                    tail,
                    prediction.relation,
                    float(prediction.confidence),
                )
                kept = best.get(key)
                if kept is not None:
                    analysis.filtered["duplicate"] += 1
                    if kept.confidence >= fact.confidence:
                        continue
                best[key] = fact
            for fact in best.values():
                if fact.confidence < min_confidence:
                    analysis.rejected += 1
                else:
                    analysis.facts.append(fact)
    return analysis


class IngestionPipeline:
    """Reads documents into the graph through ``store``; one instance per job (it caches the link index)."""

    def __init__(
        self,
        *,
        store: KnowledgeGraphStore,
        ner: NerComponent,
        relations: RelationComponent,
        linker: EntityLinker | None = None,
        accept_confidence: float | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        actor: Any = None,
        job: IngestionJob | None = None,
    ) -> None:
        accept = settings.INGESTION_AUTO_ACCEPT_CONFIDENCE if accept_confidence is None else accept_confidence
        if not 0.0 <= min_confidence <= accept <= 1.0:
            raise ConfigurationError(
                f"Confidences must satisfy 0 <= minimum ({min_confidence}) <= auto-accept ({accept}) <= 1; "
                "check INGESTION_AUTO_ACCEPT_CONFIDENCE and --min-confidence."
            )
        self.store = store
        # NER runs on bounded pieces of the text, so a multi-megabyte single-line document costs bounded memory.
        self.ner = ner if isinstance(ner, ChunkedNer) else ChunkedNer(ner)
        self.relations = relations
        self.linker = linker or EntityLinker(store)
        self.accept_confidence = accept
        self.min_confidence = min_confidence
        self.actor = actor
        self.job = job
        self.model_versions = {"ner": ner.version, "relations": relations.version, "linker": self.linker.version}
        self._proposed_seen: set[str] = set()

    # --- public ----------------------------------------------------------------------------

    def ingest(
        self, documents: Iterable[TextDocument], *, summary: IngestionSummary | None = None, progress: bool = False
    ) -> IngestionSummary:
        """Ingest every document (each atomically); a failing document is reported and skipped."""
        summary = summary or IngestionSummary()
        documents = list(documents)
        for document in tqdm(documents, desc="ingest", unit="doc", disable=not progress):
            try:
                self.ingest_document(document, summary=summary)
            except LeitmotifError as exc:
                summary.add_problem(DocumentProblem(document.name, exc))
            except Exception as exc:
                summary.failed += 1
                summary.problems.append(f"{document.name}: failed and was not ingested ({type(exc).__name__}: {exc}).")
        return summary

    def ingest_document(self, document: TextDocument, *, summary: IngestionSummary) -> SourceDocument | None:
        """Ingest one document; returns its row, or ``None`` when the same text was ingested before."""
        if SourceDocument.objects.filter(sha256=document.sha256).exists():
            summary.unchanged += 1
            return None
        analysis = self._analyse(document, summary=summary)
        with self._timed(summary, "writes"), transaction.atomic():
            row = self._write(analysis, summary=summary)
        summary.documents += 1
        summary.sentences += analysis.sentence_count
        summary.mentions += len(analysis.mentions)
        summary.linked += sum(not m.link.is_new for m in analysis.mentions)
        fresh = {m.link.entity_id for m in analysis.mentions if m.link.is_new} - self._proposed_seen
        summary.new_entities += len(fresh)
        self._proposed_seen |= fresh
        return row

    # --- analysis (no writes) --------------------------------------------------------------

    def _analyse(self, document: TextDocument, *, summary: IngestionSummary) -> _Analysis:
        found = analyse_text(
            document.text,
            ner=self.ner,
            linker=self.linker,
            relations=self.relations,
            min_confidence=self.min_confidence,
            seconds=summary.seconds,
        )
        summary.triples_rejected += found.rejected
        return _Analysis(
            document=document, sentence_count=found.sentence_count, mentions=found.mentions, facts=found.facts
        )

    # --- writes ----------------------------------------------------------------------------

    def _write(self, analysis: _Analysis, *, summary: IngestionSummary) -> SourceDocument:
        document = analysis.document
        row = SourceDocument.objects.create(
            sha256=document.sha256,
            name=document.name[:2000],
            media_type=document.media_type,
            title=document.title,
            text=document.text,
            job=self.job,
            model_versions=self.model_versions,
            sentences=analysis.sentence_count,
        )
        mention_rows = ExtractedMention.objects.bulk_create(
            ExtractedMention(
                document=row,
                sentence_index=m.sentence_index,
                start=m.start,
                end=m.end,
                text=m.text,
                label=m.label,
                entity_id=m.link.entity_id,
                entity_type=m.link.entity_type,
                entity_name=m.link.entity_name,
                link_method=m.link.method,
                link_score=m.link.score,
            )
            for m in analysis.mentions
        )
        accepted: list[ExtractedFact] = []
        for fact in analysis.facts:
            # Strictly above: an auto-accept threshold of 1.0 means "a curator reviews everything".
            status = (
                ExtractedFact.Status.ACCEPTED
                if fact.confidence > self.accept_confidence
                else ExtractedFact.Status.PENDING
            )
            head, tail = mention_rows[fact.head], mention_rows[fact.tail]
            fact_row = ExtractedFact.objects.create(
                document=row,
                sentence_index=fact.sentence_index,
                sentence_start=fact.sentence_start,
                sentence_end=fact.sentence_end,
                head=head,
                tail=tail,
                relation_type=fact.relation,
                head_entity_id=head.entity_id,
                tail_entity_id=tail.entity_id,
                confidence=round(fact.confidence, 6),
                model_versions=self.model_versions,
                status=status,
            )
            if status == ExtractedFact.Status.ACCEPTED:
                accepted.append(fact_row)
                summary.triples_accepted += 1
            else:
                summary.triples_queued += 1
        report = put_facts_in_graph(accepted, store=self.store, action="fact.accept", actor=self.actor)
        summary.relations_written += report.relations_created
        return row

    @staticmethod
    @contextmanager
    def _timed(summary: IngestionSummary, stage: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            summary.seconds[stage] = summary.seconds.get(stage, 0.0) + time.perf_counter() - started


def load_pipeline(
    *, store: KnowledgeGraphStore, actor: Any = None, job: IngestionJob | None = None, **options: Any
) -> IngestionPipeline:
    """The pipeline with the latest trained NER and relation artifacts (``ModelArtifactError`` if missing)."""
    from ingestion.ner import load_ner_model
    from ingestion.relations import load_relation_extractor

    return IngestionPipeline(
        store=store, ner=load_ner_model(), relations=load_relation_extractor(), actor=actor, job=job, **options
    )
