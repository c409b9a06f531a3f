"""Write-side services over the graph store: every graph write of loaders and ingestion goes through here.

Why one place (Zulip's ``actions`` habit): validation before writing, batching, progress reporting and
the created/updated/unchanged accounting are done once, the same way for every caller and backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from kg.stores.base import DEFAULT_BATCH_SIZE, EntityRecord, KnowledgeGraphStore, RelationRecord, UpsertResult, batched


@dataclass(frozen=True)
class GraphUpsertReport:
    entities: UpsertResult = field(default_factory=UpsertResult)
    relations: UpsertResult = field(default_factory=UpsertResult)

    @property
    def written(self) -> int:
        return self.entities.written + self.relations.written


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
    for entity in entities:
        entity.validate()
    for relation in relations:
        relation.validate()

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
