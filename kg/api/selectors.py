"""Read queries the graph API needs beyond plain store calls (HackSoft-style selectors)."""

from __future__ import annotations

from kg.stores import KnowledgeGraphStore


def entity_type_names(*, store: KnowledgeGraphStore) -> list[str]:
    """Entity types present in the graph (for "unknown type" messages)."""
    return sorted(store.stats().entities_by_type)
