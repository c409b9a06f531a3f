from kg.stores.base import (
    DeletionResult,
    EntityRecord,
    GraphStats,
    KnowledgeGraphStore,
    Neighbour,
    RelationRecord,
    UpsertResult,
    search_match_rank,
)
from kg.stores.registry import available_backends, get_store, resolve_backend_name

__all__ = [
    "DeletionResult",
    "EntityRecord",
    "GraphStats",
    "KnowledgeGraphStore",
    "Neighbour",
    "RelationRecord",
    "UpsertResult",
    "available_backends",
    "get_store",
    "resolve_backend_name",
    "search_match_rank",
]
