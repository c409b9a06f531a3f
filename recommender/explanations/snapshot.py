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

:func:`current_snapshot` keeps one snapshot per store per process. It knows the graph changed from the
store's change stamp (one cheap query, moved by every write) and then keeps serving the snapshot it
has while a background thread builds the new one (stale-while-revalidate): a 16× graph takes ~20 s
to read, which no request should wait for. See its docstring for the rules.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
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

#: Seconds after which :func:`current_snapshot` rebuilds (in the background) even though the change
#: stamp did not move. The stamp sees every write made through the store; this only catches edits
#: made around it (raw SQL, Cypher typed in the Neo4j browser). An hour costs a 16× graph ~20 s of
#: one core per process; ``settings.EXPLANATIONS_SNAPSHOT_MAX_AGE`` overrides it.
DEFAULT_MAX_AGE_SECONDS = 3600.0

#: Seconds during which :func:`current_snapshot` trusts its last check and asks the store nothing.
#: 0 (the default) reads the change stamp on every call: one primary-key read (well under a
#: millisecond on SQLite and PostgreSQL, one round trip to Neo4j). Serving passes a few seconds
#: (:data:`recommender.serving.graph_index.SNAPSHOT_RECHECK_SECONDS`) so that a warm request costs no
#: graph query at all; ``settings.EXPLANATIONS_SNAPSHOT_CHECK_INTERVAL`` sets the default.
DEFAULT_CHECK_INTERVAL_SECONDS = 0.0

#: Seconds after a failed background rebuild (logged; the old snapshot is kept) before the next try.
RETRY_AFTER_FAILURE_SECONDS = 30.0


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
        and the change stamp, read before the scan, has moved since, so :func:`current_snapshot`
        rebuilds again.
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
    #: The store's change stamp read just BEFORE the scan: an edit made during the scan then differs
    #: from it, so the next check rebuilds again instead of hiding the edit under a newer stamp.
    stamp: str
    #: ``time.monotonic()`` of the last stamp check that found this snapshot current.
    checked_at: float


@dataclass
class _Slot:
    """Everything kept for one store (one graph): its snapshot and the state of its rebuilds."""

    entry: _CacheEntry | None = None
    #: Moved by :func:`invalidate_snapshots`: a rebuild that started before does not install its result.
    generation: int = 0
    #: Held by whoever builds this store's snapshot (first build, blocking or background rebuild).
    build_lock: threading.Lock = field(default_factory=threading.Lock)
    #: ``time.monotonic()`` when the last build finished (background rebuilds wait for :func:`_cooldown`).
    built_mono: float = -math.inf
    #: A background rebuild of this slot is running.
    rebuilding: bool = False
    failures: int = 0
    failed_at: float | None = None
    last_error: str = ""


#: Guards :data:`_SLOTS`, :data:`_DEFAULT_STORES`, :data:`_REBUILDER` and the slots' fields; held for
#: microseconds, never while a snapshot is built or the store is asked anything.
_LOCK = threading.Lock()
_SLOTS: dict[str, _Slot] = {}
#: The store ``current_snapshot()`` uses when given none, one per configured graph, kept for the life of
#: the process: a Neo4j store checks connectivity and schema on first use, which a per-request store
#: would repeat, and a background rebuild needs a store that outlives the request that started it.
_DEFAULT_STORES: dict[str, KnowledgeGraphStore] = {}
#: The background rebuild running in this process, if any: one at a time (a 16× graph takes ~20 s of
#: CPU and ~200 MB while it is built, so two at once would hurt the requests being served).
_REBUILDER: threading.Thread | None = None


def _forget_after_fork() -> None:
    """In a forked child (gunicorn workers), start empty: locks may be held by a thread that was not
    copied, and a Neo4j driver's connections must not be shared between processes."""
    global _LOCK, _REBUILDER
    _LOCK = threading.Lock()
    _REBUILDER = None
    _SLOTS.clear()
    _DEFAULT_STORES.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def store_cache_key(store: KnowledgeGraphStore) -> str:
    """Which graph a store object reads: its registry name plus its connection (``repr`` names it)."""
    return f"{getattr(store, 'registry_name', type(store).__name__)}|{store!r}"


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


def _background_setting(value: bool | None) -> bool:
    name = "background"
    if value is None:
        from django.conf import settings

        name = "EXPLANATIONS_SNAPSHOT_BACKGROUND_REBUILD"
        value = getattr(settings, name, True) if settings.configured else True
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}.")
    return value


def _default_store() -> KnowledgeGraphStore:
    """The process's long-lived store for ``settings.KG_BACKEND`` (see :data:`_DEFAULT_STORES`)."""
    from kg.stores import get_store

    fresh = get_store()  # builds an object only: neither store connects before its first query
    key = store_cache_key(fresh)
    with _LOCK:
        kept = _DEFAULT_STORES.setdefault(key, fresh)
    if kept is not fresh:
        fresh.close()
    return kept


def _slot(key: str) -> _Slot:
    with _LOCK:
        slot = _SLOTS.get(key)
        if slot is None:
            slot = _SLOTS[key] = _Slot()
        return slot


def _is_current(entry: _CacheEntry | None, stamp: str, limit: float) -> bool:
    return entry is not None and entry.stamp == stamp and time.time() - entry.snapshot.built_at < limit


def _build_and_install(store: KnowledgeGraphStore, slot: _Slot, limit: float) -> GraphSnapshot:
    """Build under the slot's build lock unless the cached snapshot is (by then) current; install the result.

    The stamp is read before the scan (see :class:`_CacheEntry`). A result is not installed when
    :func:`invalidate_snapshots` ran since the build started (it may predate the edit that asked for
    the invalidation); the caller still gets it.
    """
    with slot.build_lock:
        with _LOCK:
            generation = slot.generation
        stamp = store.change_stamp()
        entry = slot.entry
        if _is_current(entry, stamp, limit):
            assert entry is not None
            entry.checked_at = time.monotonic()
            return entry.snapshot
        snapshot = GraphSnapshot.from_store(store)
        with _LOCK:
            slot.built_mono = time.monotonic()
            if slot.generation == generation:
                slot.entry = _CacheEntry(snapshot=snapshot, stamp=stamp, checked_at=slot.built_mono)
                slot.failures, slot.failed_at, slot.last_error = 0, None, ""
        return snapshot


def _cooldown(slot: _Slot) -> float:
    """Seconds a background rebuild waits after the previous build: as long as that build took.

    So a graph written to continuously (a loader running) costs each process at most half a core of
    rebuilding, however fast the writes come.
    """
    entry = slot.entry
    return entry.snapshot.build_seconds if entry is not None else 0.0


def _start_background_rebuild(store: KnowledgeGraphStore, key: str, slot: _Slot, limit: float) -> bool:
    """Start the process's one background rebuild for ``slot`` unless one runs, is cooling down or backing off."""
    global _REBUILDER
    now = time.monotonic()
    with _LOCK:
        if _REBUILDER is not None and _REBUILDER.is_alive():
            return False
        if slot.failed_at is not None and now - slot.failed_at < RETRY_AFTER_FAILURE_SECONDS:
            return False
        if now - slot.built_mono < _cooldown(slot):
            return False
        thread = threading.Thread(
            target=_rebuild_in_background,
            args=(store, key, slot, limit),
            name="graph-snapshot-rebuild",
            daemon=True,  # a process that exits does not wait for a snapshot nobody will serve
        )
        _REBUILDER = thread
        slot.rebuilding = True
    thread.start()
    return True


def _rebuild_in_background(store: KnowledgeGraphStore, key: str, slot: _Slot, limit: float) -> None:
    """The body of the background thread: build, swap in, or log the failure and keep the old snapshot."""
    try:
        old = slot.entry.snapshot.version if slot.entry is not None else None
        snapshot = _build_and_install(store, slot, limit)
        if snapshot.version != old:
            logger.info("graph snapshot of %s rebuilt in the background: %s -> %s", key, old, snapshot.version)
    except Exception as exc:
        with _LOCK:
            slot.failures += 1
            slot.failed_at = time.monotonic()
            slot.last_error = f"{type(exc).__name__}: {exc}"
            failures = slot.failures
        logger.exception(
            "background rebuild of the graph snapshot of %s failed (%d in a row); still serving %s, retrying in %.0f s",
            key,
            failures,
            slot.entry.snapshot.version if slot.entry is not None else "nothing",
            RETRY_AFTER_FAILURE_SECONDS,
        )
    finally:
        with _LOCK:
            slot.rebuilding = False
        # This thread's own database connections (the sql store): nothing else will ever close them.
        from django.db import connections

        connections.close_all()


def current_snapshot(
    store: KnowledgeGraphStore | None = None,
    *,
    max_age: float | None = None,
    check_interval: float | None = None,
    background: bool | None = None,
) -> GraphSnapshot:
    """The process-wide snapshot of ``store`` (default: ``settings.KG_BACKEND``), kept current with the store's change stamp.

    On a call: within ``check_interval`` seconds of the last check (default
    :data:`DEFAULT_CHECK_INTERVAL_SECONDS`, setting ``EXPLANATIONS_SNAPSHOT_CHECK_INTERVAL``) the cached
    snapshot is returned without asking the store; otherwise the store's
    :meth:`~kg.stores.base.KnowledgeGraphStore.change_stamp` is read (one cheap query) and compared
    with the stamp the snapshot was built at. The snapshot is stale when the stamp moved or it is
    older than ``max_age`` seconds (default :data:`DEFAULT_MAX_AGE_SECONDS`, setting
    ``EXPLANATIONS_SNAPSHOT_MAX_AGE``; a safety net for edits made around the store).

    A stale snapshot is still returned at once while a background thread rebuilds it
    (stale-while-revalidate): one rebuild at a time per process, swapped in atomically when done, no
    sooner after the previous build than that build took, and after a failure (logged; the old
    snapshot stays) no sooner than :data:`RETRY_AFTER_FAILURE_SECONDS`. Only the first build of a
    store (nothing to serve yet) blocks, and concurrent first callers wait for one build.

    The rebuild happens in the caller instead (blocking) when ``background`` is false (default
    ``settings.EXPLANATIONS_SNAPSHOT_BACKGROUND_REBUILD``, true) or when the caller holds an open
    transaction on the store's database (:meth:`~kg.stores.base.KnowledgeGraphStore.in_caller_transaction`:
    a background thread could not see the caller's uncommitted edit). Writers that need the next call
    to show their edit call :func:`invalidate_snapshots`; tests and commands that want each call to
    be current pass ``background=False``.

    A background rebuild uses ``store`` after this call returns: a caller passing its own store must
    keep it open (the default store is kept for the life of the process).
    """
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
    in_background = _background_setting(background)
    if store is None:
        store = _default_store()
    key = store_cache_key(store)
    slot = _slot(key)
    entry = slot.entry
    if entry is None:
        return _build_and_install(store, slot, limit)
    if (
        interval > 0
        and time.monotonic() - entry.checked_at < interval
        and time.time() - entry.snapshot.built_at < limit
    ):
        return entry.snapshot
    if _is_current(entry, store.change_stamp(), limit):
        entry.checked_at = time.monotonic()
        return entry.snapshot
    if not in_background or store.in_caller_transaction():
        return _build_and_install(store, slot, limit)
    _start_background_rebuild(store, key, slot, limit)
    return entry.snapshot


def wait_for_rebuild(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for this process's background rebuild; ``True`` when none is running.

    For commands and tests that started a rebuild and want its result; serving never waits.
    """
    with _LOCK:
        thread = _REBUILDER
    if thread is not None:
        thread.join(timeout)
        return not thread.is_alive()
    return True


def invalidate_snapshots(store: KnowledgeGraphStore | None = None) -> None:
    """Forget the cached snapshot of ``store`` (or of every store): the next call rebuilds it, blocking.

    Why blocking: a writer invalidates because the very next call must show its edit; serving the old
    snapshot meanwhile is what every other caller already gets from the stamp check, without calling
    this. A background rebuild already running finishes but does not install its result (it may have
    read the graph before the edit). Other processes notice the edit by the stamp as usual.
    """
    with _LOCK:
        slots = (
            list(_SLOTS.values()) if store is None else [s for k, s in _SLOTS.items() if k == store_cache_key(store)]
        )
        for slot in slots:
            slot.generation += 1
            slot.entry = None
            slot.failures, slot.failed_at, slot.last_error = 0, None, ""


def cache_info() -> dict[str, Any]:
    """What is cached (for the admin and tests): store key -> snapshot version, age, stamp and rebuild state."""
    with _LOCK:
        now = time.time()
        return {
            key: {
                "version": slot.entry.snapshot.version,
                "age_seconds": now - slot.entry.snapshot.built_at,
                "stamp": slot.entry.stamp,
                "rebuilding": slot.rebuilding,
                "failures": slot.failures,
                "last_error": slot.last_error,
            }
            for key, slot in _SLOTS.items()
            if slot.entry is not None
        }
