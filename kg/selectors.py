"""Read-side helpers over the graph store (HackSoft-style selectors)."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import LeitmotifError
from kg.stores import GraphStats, KnowledgeGraphStore, get_store


@dataclass(frozen=True)
class GraphOverview:
    backend: str
    stats: GraphStats | None
    error: str | None = None


def graph_overview(*, store: KnowledgeGraphStore | None = None, backend: str | None = None) -> GraphOverview:
    """Counts per entity and relation type, or the reason they are unavailable (never raises).

    Why not raise: the home page must still render and say what is wrong when Neo4j is down.
    """
    from django.conf import settings

    backend = backend or settings.KG_BACKEND
    owned = store is None
    try:
        store = store or get_store(backend)
        try:
            return GraphOverview(backend=backend, stats=store.stats())
        finally:
            if owned:
                store.close()
    except LeitmotifError as exc:
        return GraphOverview(backend=backend, stats=None, error=exc.message)
