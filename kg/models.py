"""Tables of the embedded ``sql`` knowledge-graph store (``kg.store.sql.v1``).

Why these tables exist: a first run needs no graph server, so the graph can live in the project's
own database (SQLite or PostgreSQL). Only :mod:`kg.stores.sql` writes them: it keeps the derived
columns (``name_lower``, the alias rows) in step and moves ``updated_at`` only when content really
changed, which is why no field here uses ``auto_now``. Everything else talks to the store interface
in :mod:`kg.stores.base`, never to these models.

The database enforces what it can (non-empty ids and types, confidence in 0..1, one relation per
``(head, type, tail)``, one alias row per entity and lower-cased alias); the rest is validated by the
records before any write.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kg.stores.base import MAX_ID_LENGTH

#: Entity and relation types are at most 64 characters (see the patterns in ``kg.stores.base``).
TYPE_MAX_LENGTH = 64


class Entity(models.Model):
    """A node of the graph, keyed by its stable string id (``lastfm:artist:289``)."""

    id = models.CharField(primary_key=True, max_length=MAX_ID_LENGTH)
    type = models.CharField(max_length=TYPE_MAX_LENGTH, db_index=True)
    name = models.TextField(blank=True)
    #: ``name.lower()`` computed in Python (SQLite's ``lower()`` only folds ASCII): search results' order.
    name_lower = models.TextField(blank=True, db_index=True, editable=False)
    #: Name and aliases folded and framed for substring search (``kg.stores.base.search_text``).
    #: Not indexed: a substring test cannot use a B-tree, and one short column per row scans fast.
    search_text = models.TextField(blank=True, default="", editable=False)
    #: The aliases in the order given; :class:`EntityAlias` mirrors them (one lower-cased row each).
    aliases = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "kg_entity"
        verbose_name = "entity"
        verbose_name_plural = "entities"
        constraints = [
            models.CheckConstraint(condition=~Q(id=""), name="kg_entity_id_not_empty"),
            models.CheckConstraint(condition=~Q(type=""), name="kg_entity_type_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


class EntityAlias(models.Model):
    """One lower-cased alias of an entity, indexed, so aliases can be looked up without scanning JSON.

    Search itself reads :attr:`Entity.search_text`, which also holds the (folded) aliases.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="alias_rows", db_index=False)
    alias_lower = models.TextField(db_index=True)

    class Meta:
        db_table = "kg_entity_alias"
        verbose_name = "entity alias"
        verbose_name_plural = "entity aliases"
        constraints = [
            models.UniqueConstraint(fields=["entity", "alias_lower"], name="kg_entity_alias_unique"),
            models.CheckConstraint(condition=~Q(alias_lower=""), name="kg_entity_alias_not_empty"),
        ]

    def __str__(self) -> str:
        return self.alias_lower


class Relation(models.Model):
    """A directed, typed edge ``head -[type]-> tail`` with its provenance (source, confidence)."""

    # The unique constraint's index starts with ``head`` and serves head lookups; ``tail`` has its own below.
    head = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="outgoing_relations", db_index=False)
    type = models.CharField(max_length=TYPE_MAX_LENGTH)
    tail = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="incoming_relations", db_index=False)
    source = models.TextField(blank=True, default="")
    confidence = models.FloatField(default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "kg_relation"
        constraints = [
            models.UniqueConstraint(fields=["head", "type", "tail"], name="kg_relation_unique_triple"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0.0, confidence__lte=1.0), name="kg_relation_confidence_0_1"
            ),
            models.CheckConstraint(condition=~Q(type=""), name="kg_relation_type_not_empty"),
        ]
        indexes = [
            models.Index(fields=["tail", "type"], name="kg_relation_tail_type_idx"),
            models.Index(fields=["type"], name="kg_relation_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.head_id} -[{self.type}]-> {self.tail_id}"


class GraphRevision(models.Model):
    """The graph's change stamp for the ``sql`` store: ONE row, rewritten by every write that changes the graph.

    Why a row of its own: a cache of the whole graph (the explanation snapshot) must know cheaply and
    exactly whether anything changed. Counts miss renames and swaps, and ``max(updated_at)`` misses
    deletions; one row that every write updates in its own transaction is exact and costs one
    primary-key read. ``revision`` counts writes (for people reading it); ``token`` is new at every
    write, so a stamp seen inside a transaction that was then rolled back never comes back with other
    content. The row is created by the first write (a flushed test database has none).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    revision = models.BigIntegerField(default=0)
    token = models.CharField(max_length=32, default="")

    class Meta:
        db_table = "kg_graph_revision"

    def __str__(self) -> str:
        return f"graph revision {self.revision} ({self.token[:8]})"


class CurationEvent(models.Model):
    """The audit trail: who changed what in the graph, when, and from which source.

    Why a table of its own rather than history on the graph rows: the graph may live in Neo4j, and an
    entity that was merged away or deleted must still have a history a curator can read.
    """

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    #: e.g. ``entity.create``, ``entity.update``, ``entity.merge``, ``entity.delete``, ``relation.add``,
    #: ``relation.update``, ``relation.remove``, ``fact.accept``, ``fact.approve``, ``fact.reject``, ``fact.correct``.
    action = models.CharField(max_length=32, db_index=True)
    #: The entity id or ``head|TYPE|tail`` of the relation acted on.
    target = models.TextField(db_index=True)
    #: Where the change came from: ``admin``, ``api``, ``ingestion:<document sha256 prefix>``, a loader name.
    source = models.CharField(max_length=255, default="admin")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "kg_curation_event"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        who = self.actor.get_username() if self.actor_id and self.actor is not None else "system"
        return f"{self.at:%Y-%m-%d %H:%M} {who} {self.action} {self.target}"
