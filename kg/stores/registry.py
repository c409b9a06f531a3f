"""Registry of graph stores, chosen by name in settings (``KG_BACKEND``) or by callers.

Names are versioned like spaCy's registry entries (``kg.store.neo4j.v1``); the short aliases
``sql`` and ``neo4j`` are what people type. The table is a :class:`core.registry.VersionedRegistry`,
the same resolver every other choose-by-name component uses.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import UnknownBackendError
from core.registry import VersionedRegistry, import_object
from kg.stores.base import KnowledgeGraphStore

#: versioned name -> "module:factory"; imported lazily so the sql store never needs the neo4j driver loaded.
STORES: VersionedRegistry[str] = VersionedRegistry(
    "knowledge-graph backend",
    error=UnknownBackendError,
    listing="aliases",
    hint=" (set KG_BACKEND or pass --backend)",
)
STORES.register("kg.store.sql.v1", "kg.stores.sql:SqlGraphStore.from_settings", aliases=("sql",))
STORES.register("kg.store.neo4j.v1", "kg.stores.neo4j:Neo4jGraphStore.from_settings", aliases=("neo4j",))


def available_backends() -> list[str]:
    """The short names people type (``neo4j``, ``sql``), sorted."""
    return list(STORES.aliases())


def resolve_backend_name(name: str) -> str:
    """Turn ``sql`` / ``SQL`` / ``kg.store.sql.v1`` into the versioned name, or raise ``UnknownBackendError``."""
    return STORES.resolve(name)


def get_store(name: str | None = None, **overrides) -> KnowledgeGraphStore:
    """Build the store named ``name`` (default: ``settings.KG_BACKEND``) with optional setting overrides."""
    if name is None:
        from django.conf import settings

        name = settings.KG_BACKEND
    factory: Callable[..., KnowledgeGraphStore] = import_object(STORES.get(name))
    return factory(**overrides)
