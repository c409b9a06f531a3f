"""An in-memory, read-only copy of the knowledge graph as integer adjacency arrays.

Why a snapshot instead of asking the store: explaining ten recommendations for one listener touches
thousands of edges (a listener has ~50 artists, each with a handful of tags, and a tag can have
thousands of artists). Asking the store for neighbours would cost one round trip per node, and the
answer would depend on the backend's speed (an embedded SQLite file vs. a Neo4j server). Integer arrays
answer the same questions in microseconds and behave identically for every backend, because they are
built through the public store interface only (:meth:`iter_entities` and :meth:`iter_triples`).

Layout (compressed sparse rows over node indices ``0..n-1``, every edge stored once per endpoint)::

    adj_nodes[indptr[u]:indptr[u + 1]]    the nodes next to u
    adj_edges[...]                        the edge id (index into heads / rels / tails) of each of them
    adj_forward[...]                      True when u is the edge's head (walking it goes head -> tail)

``heads[e] -rels[e]-> tails[e]`` is edge ``e`` exactly as stored (direction included), so a path can
always be checked against, and cited as, a real triple.

:func:`current_snapshot` keeps one snapshot per store per process and rebuilds it when the graph
changed; see its docstring for how "changed" is detected with the public interface alone.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ConfigurationError, UnknownEntityError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kg.stores.base import EntityRecord, KnowledgeGraphStore

logger = logging.getLogger(__name__)

#: Placeholder names the KGCN loader gives entities it knows only by number (``Film kgcn:3847``).
ANONYMOUS_NAME_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]* kgcn:\d+$")

#: Seconds after which :func:`current_snapshot` rebuilds even if the cheap fingerprint did not move
#: (it cannot see every edit: a rename keeps all counts). Rebuilding the full 42k-edge graph takes
#: about a second, so once every ten minutes is cheap; ``settings.EXPLANATIONS_SNAPSHOT_MAX_AGE``
#: overrides it.
DEFAULT_MAX_AGE_SECONDS = 600.0

#: Seconds during which :func:`current_snapshot` trusts its last check and asks the store nothing.
#: 0 (the default) checks on every call: always current, at the cost of one ``stats()`` aggregate
#: (~20–50 ms on the 44k-edge SQLite graph). A busy server may set
#: ``settings.EXPLANATIONS_SNAPSHOT_CHECK_INTERVAL`` to a few seconds; writers that need their edit
#: seen at once call :func:`invalidate_snapshots` either way.
DEFAULT_CHECK_INTERVAL_SECONDS = 0.0

#: How many snapshot entities :func:`current_snapshot` re-reads on each call to notice renames and a
#: store that now holds a different graph with the same counts (one ``get_entities`` query).
PROBE_SIZE = 32


def is_anonymous(entity: EntityRecord) -> bool:
    """True for entities known only by a number (KGCN nodes with a placeholder name).

    Why the name and not the loader's ``properties["named"] = False`` flag: a curator who later gives
    such a node a real name changes the name but may leave the flag, and then the real name should be
    used in sentences.
    """
    return bool(ANONYMOUS_NAME_PATTERN.match(entity.name)) or not entity.name.strip()


@dataclass(frozen=True, eq=False)
class GraphSnapshot:
    """Read-only adjacency arrays of the whole graph (see the module docstring for the layout).

    ``version`` is a digest of the content (entity ids, types, names and every triple): two snapshots
    of the same graph have the same version, whichever backend they came from.
    """

    version: str
    ids: list[str]
    node_index: dict[str, int]
    names: list[str]
    types: list[str]
    anonymous: np.ndarray  # bool (n,)
    #: bool (n,): the KGCN-linked artists (``properties["kgcn_entity"]`` set by the Last.FM loader), the
    #: population tag rules are judged against (see :func:`catalog.selectors.tag_rule_artists`).
    benchmark_artists: np.ndarray
    updated_at: list[datetime | None]
    relation_types: list[str]
    relation_index: dict[str, int]
    heads: np.ndarray  # int32 (m,)
    rels: np.ndarray  # int32 (m,)
    tails: np.ndarray  # int32 (m,)
    indptr: np.ndarray  # int64 (n + 1,)
    adj_nodes: np.ndarray  # int32 (2m,)
    adj_edges: np.ndarray  # int32 (2m,)
    adj_forward: np.ndarray  # bool (2m,)
    degree: np.ndarray  # int64 (n,): edges touching each node, both directions
    built_at: float = field(default_factory=time.time)
    build_seconds: float = 0.0
    skipped_triples: int = 0

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_store(cls, store: KnowledgeGraphStore) -> GraphSnapshot:
        """Read every entity, then every triple, through the public store interface.

        Entities are read first: a relation written between the two reads may name an entity this
        snapshot has not seen; it is skipped (and counted in ``skipped_triples``) rather than guessed,
        and the changed counts make :func:`current_snapshot` rebuild on its next call.
        """
        started = time.perf_counter()
        snapshot = cls.from_records(store.iter_entities(), store.iter_triples())
        object.__setattr__(snapshot, "build_seconds", time.perf_counter() - started)
        logger.info(
            "graph snapshot %s built from %r: %d nodes, %d edges in %.2fs",
            snapshot.version,
            store,
            snapshot.n_nodes,
            snapshot.n_edges,
            snapshot.build_seconds,
        )
        return snapshot

    @classmethod
    def from_records(cls, entities: Iterable[EntityRecord], triples: Iterable[tuple[str, str, str]]) -> GraphSnapshot:
        """Build from entity records and ``(head, type, tail)`` triples (the store's iterators)."""
        started = time.perf_counter()
        ids: list[str] = []
        names: list[str] = []
        types: list[str] = []
        anonymous: list[bool] = []
        benchmark_artists: list[bool] = []
        updated_at: list[datetime | None] = []
        digest = hashlib.sha256()
        for entity in entities:
            ids.append(entity.id)
            names.append(entity.name)
            types.append(entity.type)
            anonymous.append(is_anonymous(entity))
            benchmark_artists.append(
                entity.type == "Artist" and (entity.properties or {}).get("kgcn_entity") is not None
            )
            updated_at.append(entity.updated_at)
            digest.update(f"E\x1f{entity.id}\x1f{entity.type}\x1f{entity.name}\x1e".encode())
        node_index = {entity_id: i for i, entity_id in enumerate(ids)}
        if len(node_index) != len(ids):
            raise ConfigurationError("The store returned the same entity id twice; the graph snapshot cannot be built.")

        relation_index: dict[str, int] = {}
        heads: list[int] = []
        rels: list[int] = []
        tails: list[int] = []
        skipped = 0
        for head, rel, tail in triples:
            h = node_index.get(head)
            t = node_index.get(tail)
            if h is None or t is None:
                skipped += 1
                continue
            r = relation_index.get(rel)
            if r is None:
                r = relation_index[rel] = len(relation_index)
            heads.append(h)
            rels.append(r)
            tails.append(t)
            digest.update(f"R\x1f{head}\x1f{rel}\x1f{tail}\x1e".encode())
        if skipped:
            logger.warning("graph snapshot skipped %d triple(s) naming entities written after the entity scan", skipped)

        n = len(ids)
        heads_a = np.asarray(heads, dtype=np.int32)
        rels_a = np.asarray(rels, dtype=np.int32)
        tails_a = np.asarray(tails, dtype=np.int32)
        m = len(heads_a)
        src = np.concatenate([heads_a, tails_a])
        dst = np.concatenate([tails_a, heads_a])
        edge_ids = np.concatenate([np.arange(m, dtype=np.int32), np.arange(m, dtype=np.int32)])
        forward = np.concatenate([np.ones(m, dtype=bool), np.zeros(m, dtype=bool)])
        # Sorted by (node, neighbour, edge): deterministic neighbour order, so results never depend on
        # the order a backend happened to stream the triples in.
        order = np.lexsort((edge_ids, dst, src))
        counts = np.bincount(src, minlength=n).astype(np.int64)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        relation_types: list[str | None] = [None] * len(relation_index)
        for name, index in relation_index.items():
            relation_types[index] = name
        content = digest.hexdigest()[:16]
        return cls(
            version=f"{n}n-{m}e-{content}",
            ids=ids,
            node_index=node_index,
            names=names,
            types=types,
            anonymous=np.asarray(anonymous, dtype=bool),
            benchmark_artists=np.asarray(benchmark_artists, dtype=bool),
            updated_at=updated_at,
            relation_types=relation_types,  # type: ignore[arg-type]
            relation_index=relation_index,
            heads=heads_a,
            rels=rels_a,
            tails=tails_a,
            indptr=indptr,
            adj_nodes=dst[order].astype(np.int32),
            adj_edges=edge_ids[order],
            adj_forward=forward[order],
            degree=counts,
            build_seconds=time.perf_counter() - started,
            skipped_triples=skipped,
        )

    # --- reads ----------------------------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        return len(self.ids)

    @property
    def n_edges(self) -> int:
        return int(self.heads.shape[0])

    def index_of(self, entity_id: str) -> int:
        """Node index of ``entity_id``; ``UnknownEntityError`` if the graph has no such entity."""
        index = self.node_index.get(entity_id) if isinstance(entity_id, str) else None
        if index is None:
            raise UnknownEntityError(f"Entity {entity_id!r} is not in the knowledge graph (snapshot {self.version}).")
        return index

    def neighbours(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(nodes, edge ids, forward flags)`` of every edge touching node index ``node``."""
        start, end = self.indptr[node], self.indptr[node + 1]
        return self.adj_nodes[start:end], self.adj_edges[start:end], self.adj_forward[start:end]

    def triple(self, edge: int) -> tuple[str, str, str]:
        """Edge ``edge`` as the stored ``(head id, relation type, tail id)``."""
        return self.ids[self.heads[edge]], self.relation_types[self.rels[edge]], self.ids[self.tails[edge]]

    def has_edge(self, head: str, relation_type: str, tail: str) -> bool:
        """Whether the snapshot holds ``head -relation_type-> tail`` (direction matters)."""
        h, t, r = self.node_index.get(head), self.node_index.get(tail), self.relation_index.get(relation_type)
        if h is None or t is None or r is None:
            return False
        nodes, edges, forward = self.neighbours(h)
        hits = edges[(nodes == t) & forward]
        return bool(np.any(self.rels[hits] == r))

    def __repr__(self) -> str:
        return f"GraphSnapshot(version={self.version!r}, nodes={self.n_nodes}, edges={self.n_edges})"


# --- process-wide cache ------------------------------------------------------------------------


@dataclass
class _CacheEntry:
    snapshot: GraphSnapshot
    fingerprint: tuple
    probe: tuple[tuple[str, tuple], ...]
    checked_at: float


_CACHE: dict[str, _CacheEntry] = {}
_LOCK = threading.Lock()


def store_cache_key(store: KnowledgeGraphStore) -> str:
    """Which graph a store object reads: its registry name plus its connection (``repr`` names it)."""
    return f"{getattr(store, 'registry_name', type(store).__name__)}|{store!r}"


def graph_fingerprint(store: KnowledgeGraphStore) -> tuple:
    """A cheap summary that moves when the graph changes in most ways: counts per type, plus a stamp.

    ``stats()`` is one aggregate query (20–50 ms on the 44k-edge SQLite graph). Counts miss edits that
    keep them (a rename, a relation deleted and another of the same type added); :func:`current_snapshot`
    covers those with a probe of sampled entities and a maximum age. A store that offers
    ``change_stamp()`` (e.g. ``max(updated_at)`` plus a deletion counter — not in the store interface
    yet) is used as well, which would make the check exact.
    """
    stats = store.stats()
    stamp_method = getattr(store, "change_stamp", None)
    stamp = stamp_method() if callable(stamp_method) else None
    return (
        stamp,
        stats.entities,
        stats.relations,
        tuple(sorted(stats.entities_by_type.items())),
        tuple(sorted(stats.relations_by_type.items())),
    )


def _probe_ids(snapshot: GraphSnapshot) -> list[str]:
    """Up to :data:`PROBE_SIZE` entity ids spread evenly over the snapshot (deterministic)."""
    if snapshot.n_nodes == 0:
        return []
    positions = np.unique(np.linspace(0, snapshot.n_nodes - 1, num=min(PROBE_SIZE, snapshot.n_nodes)).astype(int))
    return [snapshot.ids[int(i)] for i in positions]


def _probe(store: KnowledgeGraphStore, ids: list[str]) -> tuple[tuple[str, tuple], ...]:
    found = store.get_entities(ids) if ids else {}
    return tuple(
        (
            entity_id,
            (found[entity_id].type, found[entity_id].name, found[entity_id].updated_at) if entity_id in found else (),
        )
        for entity_id in ids
    )


def _snapshot_probe(snapshot: GraphSnapshot, ids: list[str]) -> tuple[tuple[str, tuple], ...]:
    return tuple(
        (entity_id, (snapshot.types[i], snapshot.names[i], snapshot.updated_at[i]))
        for entity_id in ids
        for i in (snapshot.node_index[entity_id],)
    )


def _seconds_setting(name: str, default: float, *, allow_zero: bool) -> float:
    from django.conf import settings

    value = getattr(settings, name, default) if settings.configured else default
    return _check_seconds(name, value, allow_zero=allow_zero)


def _check_seconds(name: str, value: Any, *, allow_zero: bool) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ConfigurationError(f"{name} must be {kind} number of seconds, got {value!r}.")
    return float(value)


def current_snapshot(
    store: KnowledgeGraphStore | None = None,
    *,
    max_age: float | None = None,
    check_interval: float | None = None,
) -> GraphSnapshot:
    """The process-wide snapshot of ``store`` (default: ``settings.KG_BACKEND``), rebuilt when the graph changed.

    On a call (a few milliseconds to a few tens): the :func:`graph_fingerprint` and a probe that
    re-reads :data:`PROBE_SIZE` sampled entities (type, name, ``updated_at``) are compared with the
    values seen at build time; any difference, or a snapshot older than ``max_age`` seconds
    (default :data:`DEFAULT_MAX_AGE_SECONDS`, setting ``EXPLANATIONS_SNAPSHOT_MAX_AGE``), triggers a
    rebuild. Within ``check_interval`` seconds of the last check (default
    :data:`DEFAULT_CHECK_INTERVAL_SECONDS`, setting ``EXPLANATIONS_SNAPSHOT_CHECK_INTERVAL``) the cached
    snapshot is returned without asking the store. Writers that need the next call to see an edit at
    once call :func:`invalidate_snapshots`.

    Why not an exact check: the store interface has no change stamp, and relations' ``updated_at`` is
    not readable in bulk; reading everything on each call would cost the full rebuild time.
    """
    if store is None:
        from kg.stores import get_store

        with get_store() as default_store:
            return current_snapshot(default_store, max_age=max_age, check_interval=check_interval)
    limit = (
        _seconds_setting("EXPLANATIONS_SNAPSHOT_MAX_AGE", DEFAULT_MAX_AGE_SECONDS, allow_zero=False)
        if max_age is None
        else _check_seconds("max_age", max_age, allow_zero=False)
    )
    interval = (
        _seconds_setting("EXPLANATIONS_SNAPSHOT_CHECK_INTERVAL", DEFAULT_CHECK_INTERVAL_SECONDS, allow_zero=True)
        if check_interval is None
        else _check_seconds("check_interval", check_interval, allow_zero=True)
    )
    key = store_cache_key(store)
    with _LOCK:
        entry = _CACHE.get(key)
        now = time.time()
        if entry is not None and now - entry.snapshot.built_at < limit:
            if interval > 0 and now - entry.checked_at < interval:
                return entry.snapshot
            fingerprint = graph_fingerprint(store)
            if (
                entry.fingerprint == fingerprint
                and _probe(store, [entity_id for entity_id, _ in entry.probe]) == entry.probe
            ):
                entry.checked_at = time.time()
                return entry.snapshot
        else:
            fingerprint = graph_fingerprint(store)
        snapshot = GraphSnapshot.from_store(store)
        # The fingerprint read *before* the scan is kept: an edit made during the scan then differs
        # from it on the next call, which rebuilds.
        ids = _probe_ids(snapshot)
        _CACHE[key] = _CacheEntry(
            snapshot=snapshot,
            fingerprint=fingerprint,
            probe=_snapshot_probe(snapshot, ids),
            checked_at=time.time(),
        )
        return snapshot


def invalidate_snapshots(store: KnowledgeGraphStore | None = None) -> None:
    """Forget the cached snapshot of ``store`` (or of every store): the next call rebuilds it."""
    with _LOCK:
        if store is None:
            _CACHE.clear()
        else:
            _CACHE.pop(store_cache_key(store), None)


def cache_info() -> dict[str, Any]:
    """What is cached (for the admin and tests): store key -> snapshot version and age in seconds."""
    with _LOCK:
        now = time.time()
        return {
            key: {"version": entry.snapshot.version, "age_seconds": now - entry.snapshot.built_at}
            for key, entry in _CACHE.items()
        }
