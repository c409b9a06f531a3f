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
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from tqdm.auto import tqdm

from core.errors import ConfigurationError, LeitmotifError
from ingestion.documents import DocumentProblem, TextDocument
from ingestion.graph_writes import put_facts_in_graph
from ingestion.linking import EntityLinker, LinkResult
from ingestion.models import ExtractedFact, ExtractedMention, IngestionJob, SourceDocument
from ingestion.relations.records import MentionSpan
from kg.stores.base import KnowledgeGraphStore

#: Facts below this confidence are not kept at all (counted as rejected by the model).
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
class _Mention:
    sentence_index: int
    start: int
    end: int
    text: str
    label: str
    link: LinkResult


@dataclass(frozen=True)
class _Fact:
    sentence_index: int
    sentence_start: int
    sentence_end: int
    head: int
    tail: int
    relation: str
    confidence: float


@dataclass
class _Analysis:
    document: TextDocument
    sentence_count: int
    mentions: list[_Mention]
    facts: list[_Fact]


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
        self.ner = ner
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
        text = document.text
        with self._timed(summary, "ner"):
            sentences = list(self.ner.extract_sentences(text))
        mentions: list[_Mention] = []
        by_sentence: list[tuple[Any, list[int]]] = []
        with self._timed(summary, "linking"):
            window = self.linker.context_window
            for sentence in sentences:
                indices = []
                for mention in sentence.mentions:
                    context = text[max(0, mention.start - window) : mention.end + window]
                    link = self.linker.link(mention.text, mention.label, context=context)
                    indices.append(len(mentions))
                    mentions.append(
                        _Mention(sentence.index, mention.start, mention.end, mention.text, mention.label, link)
                    )
                by_sentence.append((sentence, indices))
        facts: list[_Fact] = []
        with self._timed(summary, "relations"):
            for sentence, indices in by_sentence:
                if len(indices) < 2:
                    continue
                spans = [
                    MentionSpan(mentions[i].start - sentence.start, mentions[i].end - sentence.start, mentions[i].label)
                    for i in indices
                ]
                for prediction in self.relations.predict(sentence.text, spans):
                    head, tail = indices[prediction.head], indices[prediction.tail]
                    if mentions[head].link.entity_id == mentions[tail].link.entity_id:
                        continue
                    if prediction.confidence < self.min_confidence:
                        summary.triples_rejected += 1
                        continue
                    facts.append(
                        _Fact(
                            sentence.index,
                            sentence.start,
                            sentence.end,
                            head,
                            tail,
                            prediction.relation,
                            float(prediction.confidence),
                        )
                    )
        return _Analysis(document=document, sentence_count=len(sentences), mentions=mentions, facts=facts)

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
