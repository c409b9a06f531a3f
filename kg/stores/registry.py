"""Registry of graph stores, chosen by name in settings (``KG_BACKEND``) or by callers.

Names are versioned like spaCy's registry entries (``kg.store.neo4j.v1``); the short aliases
``sql`` and ``neo4j`` are what people type.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from core.errors import UnknownBackendError
from kg.stores.base import KnowledgeGraphStore

# name -> "module:factory"; imported lazily so the sql store never needs the neo4j driver loaded.
_FACTORIES: dict[str, str] = {
    "kg.store.sql.v1": "kg.stores.sql:SqlGraphStore.from_settings",
    "kg.store.neo4j.v1": "kg.stores.neo4j:Neo4jGraphStore.from_settings",
}
_ALIASES = {"sql": "kg.store.sql.v1", "neo4j": "kg.store.neo4j.v1"}


def available_backends() -> list[str]:
    return sorted(_ALIASES)


def resolve_backend_name(name: str) -> str:
    key = (name or "").strip().lower()
    resolved = _ALIASES.get(key, key)
    if resolved not in _FACTORIES:
        raise UnknownBackendError(
            f"Unknown knowledge-graph backend {name!r}; choose one of: {', '.join(available_backends())} "
            "(set KG_BACKEND or pass --backend)."
        )
    return resolved


def _factory(name: str) -> Callable[..., KnowledgeGraphStore]:
    module_name, _, attr = _FACTORIES[resolve_backend_name(name)].partition(":")
    obj = import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


def get_store(name: str | None = None, **overrides) -> KnowledgeGraphStore:
    """Build the store named ``name`` (default: ``settings.KG_BACKEND``) with optional setting overrides."""
    if name is None:
        from django.conf import settings

        name = settings.KG_BACKEND
    return _factory(name)(**overrides)
