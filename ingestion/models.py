"""What text ingestion remembers: the documents it read, the jobs that read them, the mentions it found
and every extracted fact with its provenance and review state.

Why these rows live in the project's database whatever the graph backend: provenance, the review queue and
the rejected facts (negative training examples) must survive a graph rebuild and be the same for the
``sql`` and ``neo4j`` stores. The graph keeps a short provenance copy on each accepted relation
(``source`` and ``properties``) so a graph reader can trace a fact without this database.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class IngestionJob(models.Model):
    """A batch of documents submitted together (by ``ingest_text`` or the API), processed by a worker."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    #: Where the job came from: ``cli``, ``api`` or ``admin``.
    origin = models.CharField(max_length=16, default="cli")
    #: Documents waiting to be processed, as ``[{"name", "text"}]`` (API submissions; emptied when done).
    payload = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ingestion job {self.id} ({self.status})"


class SourceDocument(models.Model):
    """One ingested text, identified by the hash of its normalised text (re-ingesting it adds nothing)."""

    sha256 = models.CharField(max_length=64, unique=True)
    name = models.TextField(help_text="File path, JSONL line reference or API document name.")
    media_type = models.CharField(max_length=32, default="text/plain")
    title = models.TextField(blank=True, default="")
    text = models.TextField()
    job = models.ForeignKey(IngestionJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents")
    #: Versions of the NER, linking and relation models that read it.
    model_versions = models.JSONField(default=dict, blank=True)
    sentences = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or self.name


class ExtractedMention(models.Model):
    """A named-entity mention in a document and the entity it was linked to (or proposed as new)."""

    class LinkMethod(models.TextChoices):
        EXACT = "exact"
        ALIAS = "alias"
        NORMALISED = "normalised"
        FUZZY = "fuzzy"
        NEW = "new"

    document = models.ForeignKey(SourceDocument, on_delete=models.CASCADE, related_name="mentions")
    sentence_index = models.PositiveIntegerField()
    start = models.PositiveIntegerField(help_text="Character offset in the document text.")
    end = models.PositiveIntegerField()
    text = models.TextField()
    label = models.CharField(max_length=16, help_text="NER label (ingestion/labels.py).")
    entity_id = models.CharField(max_length=255, db_index=True)
    entity_type = models.CharField(max_length=64)
    entity_name = models.TextField(blank=True, default="")
    link_method = models.CharField(max_length=16, choices=LinkMethod.choices)
    link_score = models.FloatField(default=0.0)

    class Meta:
        ordering = ["document", "start"]
        constraints = [
            models.UniqueConstraint(fields=["document", "start", "end"], name="ingestion_mention_unique_span"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="ingestion_mention_span_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.text} [{self.label}] -> {self.entity_id}"


class ExtractedFact(models.Model):
    """A triple extracted from one sentence, with everything needed to trust, trace or correct it."""

    class Status(models.TextChoices):
        #: Confidence above INGESTION_AUTO_ACCEPT_CONFIDENCE: written to the graph by ingestion.
        ACCEPTED = "accepted"
        #: Waiting in the review queue.
        PENDING = "pending"
        #: Approved by a curator (as extracted): written to the graph.
        APPROVED = "approved"
        #: Approved after a curator changed the relation type or a linked entity: written as corrected.
        CORRECTED = "corrected"
        #: Rejected by a curator; kept as a negative training example.
        REJECTED = "rejected"

    IN_GRAPH = (Status.ACCEPTED, Status.APPROVED, Status.CORRECTED)

    document = models.ForeignKey(SourceDocument, on_delete=models.CASCADE, related_name="facts")
    sentence_index = models.PositiveIntegerField()
    sentence_start = models.PositiveIntegerField(help_text="Character offset of the sentence in the document.")
    sentence_end = models.PositiveIntegerField()
    head = models.ForeignKey(ExtractedMention, on_delete=models.CASCADE, related_name="facts_as_head")
    tail = models.ForeignKey(ExtractedMention, on_delete=models.CASCADE, related_name="facts_as_tail")
    relation_type = models.CharField(max_length=64, db_index=True)
    #: The graph ends of the triple; they equal the mentions' links unless a curator corrected them.
    head_entity_id = models.CharField(max_length=255, db_index=True)
    tail_entity_id = models.CharField(max_length=255, db_index=True)
    confidence = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    model_versions = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    #: The relation already existed in the graph from another source when the fact was accepted, so the
    #: graph's own provenance was kept and only this row records that the text supports it.
    already_in_graph = models.BooleanField(default=False)
    #: What the extractor proposed, kept when a curator corrects the fact.
    original = models.JSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-confidence", "id"]
        constraints = [
            # One fact per ordered mention pair: re-reading a document with the same models adds nothing.
            models.UniqueConstraint(fields=["head", "tail"], name="ingestion_fact_unique_pair"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0.0, confidence__lte=1.0), name="ingestion_fact_confidence_0_1"
            ),
        ]
        indexes = [
            models.Index(fields=["head_entity_id", "relation_type", "tail_entity_id"], name="ingestion_fact_triple_idx")
        ]

    def __str__(self) -> str:
        return f"{self.head_entity_id} -[{self.relation_type}]-> {self.tail_entity_id} ({self.status}, {self.confidence:.2f})"

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.head_entity_id, self.relation_type, self.tail_entity_id)

    @property
    def sentence_text(self) -> str:
        return self.document.text[self.sentence_start : self.sentence_end]
