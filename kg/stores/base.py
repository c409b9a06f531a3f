"""The knowledge-graph store contract shared by every backend.

Why one small interface: the product runs on the embedded ``sql`` store for a zero-setup first run and
on Neo4j in production. Loaders, ingestion, the curator admin and training only ever talk to this
interface, and one contract test suite (``tests/kg/test_store_contract.py``) holds every backend to
the same behaviour.

Semantics every backend honours:

* Entity ids are stable strings (``lastfm:artist:289``, ``kgcn:5123``). Upserting an entity whose id
  exists replaces its type, name, aliases and properties; ``created_at`` is kept, and ``updated_at``
  moves only when something really changed, so re-running a loader changes nothing.
* A relation is identified by ``(head, type, tail)``; its direction is head → tail. Upsert replaces
  its provenance (source, confidence) and properties with the same "only if changed" rule.
* Relations may only join existing entities: naming a missing one raises
  :class:`~learning_platform.errors.UnknownEntityError` and writes nothing from that batch.
* Writes of one batch are atomic. Batches are independent, which is why every write is idempotent:
  a job interrupted between batches is finished by running it again.
* Search is case-insensitive and matches a prefix of the name or of any alias.
"""
from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from learning_platform.errors import InvalidGraphDataError

Direction = Literal["out", "in", "both"]

#: Relation types are upper snake case (``HAS_TAG``, ``ORIGIN``); the rule keeps them valid in Cypher.
RELATION_TYPE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
#: Entity types are capitalised words (``Artist``, ``Tag``, ``Concept``).
ENTITY_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
MAX_ID_LENGTH = 255

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class EntityRecord:
    """A node of the graph. ``properties`` holds JSON-serialisable free attributes."""

    id: str
    type: str
    name: str
    aliases: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def validate(self) -> "EntityRecord":
        if not isinstance(self.id, str) or not self.id.strip() or len(self.id) > MAX_ID_LENGTH:
            raise InvalidGraphDataError(f"Entity id must be a non-empty string of at most {MAX_ID_LENGTH} characters, got {self.id!r}.")
        if not isinstance(self.type, str) or not ENTITY_TYPE_PATTERN.match(self.type):
            raise InvalidGraphDataError(f"Entity {self.id!r}: type {self.type!r} must be a capitalised word such as 'Artist' or 'Tag'.")
        if not isinstance(self.name, str):
            raise InvalidGraphDataError(f"Entity {self.id!r}: name must be a string.")
        if not all(isinstance(a, str) for a in self.aliases):
            raise InvalidGraphDataError(f"Entity {self.id!r}: aliases must be strings.")
        if not isinstance(self.properties, Mapping):
            raise InvalidGraphDataError(f"Entity {self.id!r}: properties must be a mapping.")
        return self

    def content_key(self) -> tuple:
        """What counts as "changed" for an upsert (timestamps excluded)."""
        return (self.type, self.name, tuple(self.aliases), _canonical(self.properties))


@dataclass(frozen=True)
class RelationRecord:
    """A directed, typed edge ``head -[type]-> tail`` with its provenance."""

    head: str
    type: str
    tail: str
    source: str = ""
    confidence: float = 1.0
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.head, self.type, self.tail)

    def validate(self) -> "RelationRecord":
        for end in (self.head, self.tail):
            if not isinstance(end, str) or not end.strip():
                raise InvalidGraphDataError(f"Relation {self.key!r}: head and tail must be non-empty entity ids.")
        if not isinstance(self.type, str) or not RELATION_TYPE_PATTERN.match(self.type):
            raise InvalidGraphDataError(
                f"Relation {self.key!r}: type {self.type!r} must be upper snake case such as 'HAS_TAG'."
            )
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, (int, float)) or math.isnan(self.confidence) or not 0.0 <= self.confidence <= 1.0:
            raise InvalidGraphDataError(f"Relation {self.key!r}: confidence must be a number between 0 and 1, got {self.confidence!r}.")
        if not isinstance(self.source, str):
            raise InvalidGraphDataError(f"Relation {self.key!r}: source must be a string.")
        if not isinstance(self.properties, Mapping):
            raise InvalidGraphDataError(f"Relation {self.key!r}: properties must be a mapping.")
        return self

    def content_key(self) -> tuple:
        return (self.source, float(self.confidence), _canonical(self.properties))


@dataclass(frozen=True)
class Neighbour:
    """One edge seen from an entity: ``direction`` is ``out`` when the entity is the head."""

    relation: RelationRecord
    direction: Literal["out", "in"]
    entity: EntityRecord


@dataclass(frozen=True)
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: "UpsertResult") -> "UpsertResult":
        return UpsertResult(self.created + other.created, self.updated + other.updated, self.unchanged + other.unchanged)

    @property
    def written(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class DeletionResult:
    entity_id: str
    relations_removed: int


@dataclass(frozen=True)
class GraphStats:
    entities: int
    relations: int
    entities_by_type: dict[str, int]
    relations_by_type: dict[str, int]


def _canonical(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Split an iterable into lists of at most ``size`` items (the unit of one atomic write)."""
    if size < 1:
        raise InvalidGraphDataError(f"batch_size must be at least 1, got {size}.")
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def dedupe_last(records: Sequence, key) -> list:
    """Keep the last record for each key, preserving first-seen order (a batch may repeat an item)."""
    chosen: dict = {}
    for record in records:
        chosen[key(record)] = record
    return list(chosen.values())


class KnowledgeGraphStore(ABC):
    """Interface of a graph backend. Implementations register themselves in ``kg.stores.registry``."""

    #: Registry name, versioned as in spaCy's registries (``kg.store.sql.v1``).
    registry_name: ClassVar[str]

    # --- writes ---------------------------------------------------------------------------

    @abstractmethod
    def upsert_entities(self, entities: Iterable[EntityRecord], *, batch_size: int = DEFAULT_BATCH_SIZE) -> UpsertResult:
        """Create or replace entities in atomic batches; returns how many were created/updated/unchanged."""

    @abstractmethod
    def upsert_relations(self, relations: Iterable[RelationRecord], *, batch_size: int = DEFAULT_BATCH_SIZE) -> UpsertResult:
        """Create or replace relations in atomic batches; a batch naming a missing entity writes nothing."""

    @abstractmethod
    def delete_relation(self, head: str, type: str, tail: str) -> bool:
        """Remove one relation; ``False`` when it did not exist."""

    @abstractmethod
    def delete_entity(self, entity_id: str) -> DeletionResult:
        """Remove an entity and every relation touching it (raises ``UnknownEntityError`` if missing)."""

    @abstractmethod
    def merge_entities(self, *, keep_id: str, merge_ids: Sequence[str]) -> EntityRecord:
        """Fold duplicates into ``keep_id`` in one transaction.

        Every relation of a merged entity is re-pointed to the kept one (a relation that would become a
        self-loop between merged duplicates is dropped; one that already exists on the kept entity keeps
        the higher confidence). Names and aliases of merged entities become aliases of the kept one,
        and their properties fill keys the kept entity lacks. Nothing else is lost.
        """

    @abstractmethod
    def clear(self) -> None:
        """Remove everything (tests and benchmarks only)."""

    # --- reads ----------------------------------------------------------------------------

    @abstractmethod
    def get_entity(self, entity_id: str) -> EntityRecord | None: ...

    @abstractmethod
    def get_entities(self, entity_ids: Iterable[str]) -> dict[str, EntityRecord]:
        """Fetch many at once; missing ids are simply absent from the result."""

    @abstractmethod
    def get_relation(self, head: str, type: str, tail: str) -> RelationRecord | None: ...

    @abstractmethod
    def search_entities(self, query: str, *, types: Sequence[str] | None = None, limit: int = 20) -> list[EntityRecord]:
        """Case-insensitive prefix match on name or alias; exact name matches first, then by lower-cased name, then id.

        A blank query returns ``[]``; the query text is always taken literally (no wildcards).
        """

    @abstractmethod
    def neighbours(
        self,
        entity_id: str,
        *,
        direction: Direction = "both",
        relation_types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Neighbour]:
        """Edges touching ``entity_id``, ordered by (direction, relation type, other entity id)."""

    @abstractmethod
    def stats(self) -> GraphStats: ...

    @abstractmethod
    def iter_triples(self, *, batch_size: int = 10_000) -> Iterator[tuple[str, str, str]]:
        """Stream every ``(head, type, tail)`` in a stable order (head, type, tail), for training."""

    @abstractmethod
    def iter_entities(self, *, types: Sequence[str] | None = None, batch_size: int = 10_000) -> Iterator[EntityRecord]:
        """Stream entities ordered by id."""

    # --- lifecycle ------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise ``StoreUnavailableError`` if the backend cannot answer."""

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> "KnowledgeGraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
