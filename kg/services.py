"""Write-side services over the graph store: every graph write and delete of loaders, ingestion and curation.

Why one place (Zulip's ``actions`` habit): validation before writing, batching, progress reporting,
the created/updated/unchanged accounting and the removal of a loader's stale links are done once, the
same way for every caller and backend. Callers never call the store's write methods themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from kg.stores.base import (
    DEFAULT_BATCH_SIZE,
    DeletionResult,
    EntityRecord,
    KnowledgeGraphStore,
    RelationRecord,
    UpsertResult,
    batched,
)

#: A relation's identity: ``(head, type, tail)``.
RelationKey = tuple[str, str, str]


# --- upserts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphUpsertReport:
    entities: UpsertResult = field(default_factory=UpsertResult)
    relations: UpsertResult = field(default_factory=UpsertResult)

    @property
    def written(self) -> int:
        return self.entities.written + self.relations.written


def graph_validate(*, entities: Iterable[EntityRecord] = (), relations: Iterable[RelationRecord] = ()) -> None:
    """Check every record as every backend would, raising :class:`~core.errors.InvalidGraphDataError` at the first bad one.

    Why a service of its own: a loader that also writes catalog rows validates its graph records
    before the catalog transaction, so a bad record fails before anything at all is written.
    """
    for entity in entities:
        entity.validate()
    for relation in relations:
        relation.validate()


def graph_upsert(
    *,
    store: KnowledgeGraphStore,
    entities: Sequence[EntityRecord] = (),
    relations: Sequence[RelationRecord] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    description: str = "graph",
) -> GraphUpsertReport:
    """Validate every record, then upsert entities before relations in idempotent atomic batches.

    Why validate everything first: a malformed record found in the last batch must not leave the
    earlier batches written. Entities go first because a relation may only join existing entities.
    The batches are independent, so a run interrupted by a lost connection is completed by running it
    again (nothing is written twice, unchanged records are counted as ``unchanged``).
    """
    graph_validate(entities=entities, relations=relations)

    entity_result = UpsertResult()
    relation_result = UpsertResult()
    with tqdm(
        total=len(entities) + len(relations), desc=f"{description}: upserting", unit="rec", disable=not progress
    ) as bar:
        for batch in batched(entities, batch_size):
            entity_result += store.upsert_entities(batch, batch_size=batch_size)
            bar.update(len(batch))
        for batch in batched(relations, batch_size):
            relation_result += store.upsert_relations(batch, batch_size=batch_size)
            bar.update(len(batch))
    return GraphUpsertReport(entities=entity_result, relations=relation_result)


def graph_entities_merge(*, store: KnowledgeGraphStore, keep_id: str, merge_ids: Sequence[str]) -> EntityRecord:
    """Fold duplicates into ``keep_id`` in one store transaction (see :meth:`KnowledgeGraphStore.merge_entities`)."""
    return store.merge_entities(keep_id=keep_id, merge_ids=merge_ids)


# --- deletes ----------------------------------------------------------------------------------------


def graph_relation_delete(*, store: KnowledgeGraphStore, key: RelationKey) -> bool:
    """Remove the relation ``(head, type, tail)``; ``False`` when it did not exist (a repeated delete is harmless)."""
    head, relation_type, tail = key
    return store.delete_relation(head, relation_type, tail)


def graph_relations_delete(*, store: KnowledgeGraphStore, keys: Iterable[RelationKey]) -> int:
    """Remove the relations ``keys`` one by one, in the order given; returns how many existed."""
    return sum(graph_relation_delete(store=store, key=key) for key in keys)


def graph_entity_delete(*, store: KnowledgeGraphStore, entity_id: str) -> DeletionResult:
    """Remove an entity and every relation touching it (raises ``UnknownEntityError`` if it is missing)."""
    return store.delete_entity(entity_id)


# --- a loader's sweep: upsert what it makes now, remove what it made before and makes no more ---------


@dataclass(frozen=True)
class OwnedRelations:
    """Which relations a loader counts as its own: one of ``types`` *and* a source of its own.

    Why the source as well as the type: a loader may remove only links it made itself. A link of the
    same type that a curator added (``source="curator"``) or another loader wrote must survive its
    re-runs, so ownership is read from the relation's provenance, never from its type alone.
    A source is the loader's when it is one of ``sources`` or starts with one of ``source_prefixes``.
    """

    types: tuple[str, ...]
    sources: tuple[str, ...] = ()
    source_prefixes: tuple[str, ...] = ()

    def owns(self, relation: RelationRecord) -> bool:
        return relation.type in self.types and (
            relation.source in self.sources or relation.source.startswith(self.source_prefixes)
        )


def graph_stale_relations(
    *,
    store: KnowledgeGraphStore,
    owned: OwnedRelations,
    wanted: Iterable[RelationRecord],
    around: Iterable[str] | None = None,
) -> list[RelationKey]:
    """Relations ``owned`` by a loader that it would not write now, sorted, as ``(head, type, tail)``.

    ``around`` limits the search to relations touching those entities (one ``neighbours`` call each),
    for a loader that rewrites only some entities' links (the works it loaded, the concepts it holds).
    Without it every triple is scanned: one streaming pass plus a look-up per candidate is a handful of
    queries on either backend, where a ``neighbours`` call per entity could be hundreds of round trips
    on Neo4j.
    """
    wanted_keys = {relation.key for relation in wanted}
    types = list(owned.types)
    stale: set[RelationKey] = set()
    if around is None:
        candidates = [key for key in store.iter_triples() if key[1] in owned.types and key not in wanted_keys]
        for key in candidates:
            relation = store.get_relation(*key)
            if relation is not None and owned.owns(relation):
                stale.add(key)
    else:
        for entity_id in around:
            for neighbour in store.neighbours(entity_id, direction="both", relation_types=types):
                relation = neighbour.relation
                if relation.key not in wanted_keys and owned.owns(relation):
                    stale.add(relation.key)
    return sorted(stale)


@dataclass(frozen=True)
class GraphSyncReport:
    upserted: GraphUpsertReport
    #: The loader's own relations it no longer makes, as found after the upsert (sorted).
    stale: tuple[RelationKey, ...]
    #: How many of those were removed (one that vanished meanwhile is not counted).
    removed_relations: int

    @property
    def written(self) -> int:
        return self.upserted.written + self.removed_relations


def graph_sync(
    *,
    store: KnowledgeGraphStore,
    entities: Sequence[EntityRecord] = (),
    relations: Sequence[RelationRecord] = (),
    owned: OwnedRelations,
    around: Iterable[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    description: str = "graph",
) -> GraphSyncReport:
    """Make the graph hold what a loader makes now: validate, upsert, then remove its own links it no longer makes.

    Why one service: a corrected title, a better score analysis or an edited curriculum must not leave
    yesterday's link behind, and every loader must decide "mine and stale" the same way — only
    relations ``owned`` by it (type and source, see :class:`OwnedRelations`), only those not among
    ``relations``, optionally only ``around`` some entities (see :func:`graph_stale_relations`).

    Order and why: every record is validated before the first write (:func:`graph_upsert`); the stale
    links are looked for after the upsert and removed last, so an interrupted run leaves at worst a
    stale link that the next run removes, never a missing wanted one. Everything is idempotent: a
    second run with the same records writes and removes nothing.
    """
    upserted = graph_upsert(
        store=store,
        entities=entities,
        relations=relations,
        batch_size=batch_size,
        progress=progress,
        description=description,
    )
    stale = graph_stale_relations(store=store, owned=owned, wanted=relations, around=around)
    removed = graph_relations_delete(store=store, keys=stale)
    return GraphSyncReport(upserted=upserted, stale=tuple(stale), removed_relations=removed)
