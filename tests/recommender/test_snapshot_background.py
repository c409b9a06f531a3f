"""The explanation snapshot is refreshed in the background, by the store's change stamp.

A store is wrapped in :class:`SpyStore`, which can hold a snapshot scan at a gate or make it fail, so a
test can look at what callers get WHILE a rebuild runs. Waiting is always a bounded poll
(:func:`poll`) or a join with a timeout, never a sleep that hopes the thread is done.

The sql half uses ``transactional_db``: the rebuild thread has its own database connection, which
sees committed writes only (a test inside one transaction would hide every edit from it; a caller
inside a transaction gets a blocking rebuild instead, tested below).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from kg.stores.base import EntityRecord, RelationRecord
from recommender.explanations import snapshot as snapshot_module
from recommender.explanations.snapshot import (
    cache_info,
    current_snapshot,
    invalidate_snapshots,
    store_cache_key,
    wait_for_rebuild,
)

TIMEOUT = 30.0


def poll(predicate: Callable[[], Any], *, timeout: float = TIMEOUT, what: str = "the condition") -> Any:
    """Call ``predicate`` until it returns something truthy (returned), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)


def rebuild_started(spy: SpyStore, first) -> None:
    """Call until a background rebuild is inside its scan; every call must get ``first`` meanwhile.

    (A rebuild does not start sooner after the previous build than that build took, hence a poll.)
    """

    def started() -> bool:
        assert current_snapshot(spy) is first
        return spy.scanning.is_set()

    poll(started, what="a background rebuild starting")


class SpyStore:
    """A real store whose snapshot scans (``iter_entities``) can be held at a gate or made to fail."""

    def __init__(self, inner, name: str = "spy") -> None:
        self.inner = inner
        self.name = name
        self.registry_name = inner.registry_name
        self.gate: threading.Event | None = None
        self.scanning = threading.Event()
        self.fail_next = 0
        self.scans = 0

    def __repr__(self) -> str:
        return f"{self.name}({self.inner!r})"

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    def iter_entities(self, **options: Any):
        self.scans += 1
        self.scanning.set()
        if self.gate is not None:
            assert self.gate.wait(TIMEOUT), "the test never opened the gate"
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("the graph server went away mid-scan")
        return self.inner.iter_entities(**options)


@pytest.fixture(autouse=True)
def _background_mode(settings):
    settings.EXPLANATIONS_SNAPSHOT_BACKGROUND_REBUILD = True
    invalidate_snapshots()
    yield
    invalidate_snapshots()


@pytest.fixture(
    params=[
        pytest.param("sql", id="sql", marks=pytest.mark.django_db(transaction=True)),
        pytest.param("neo4j", id="neo4j", marks=pytest.mark.neo4j),
    ]
)
def store(request):
    """A small committed graph on each backend (the rebuild thread must be able to read it)."""
    if request.param == "sql":
        request.getfixturevalue("transactional_db")
        from kg.stores.sql import SqlGraphStore

        inner = SqlGraphStore()
    else:
        inner = request.getfixturevalue("neo4j_store")
    inner.upsert_entities(
        [
            EntityRecord("a:1", "Artist", "Radiohead"),
            EntityRecord("a:2", "Artist", "Muse"),
            EntityRecord("t:1", "Tag", "alternative"),
        ]
    )
    inner.upsert_relations([RelationRecord("a:1", "HAS_TAG", "t:1", source="test")])
    yield inner
    # before the database is flushed or cleared under a thread still reading it
    assert wait_for_rebuild(TIMEOUT)


def test_an_edit_is_served_after_the_background_rebuild(store):
    first = current_snapshot(store)  # the first build blocks: there is nothing to serve yet
    assert not first.has_edge("a:2", "HAS_TAG", "t:1")

    store.upsert_relations([RelationRecord("a:2", "HAS_TAG", "t:1", source="test")])
    assert current_snapshot(store) is first  # stale, served at once; the rebuild runs in the background

    fresh = poll(
        lambda: (s := current_snapshot(store)).has_edge("a:2", "HAS_TAG", "t:1") and s,
        what="the edit reaching the snapshot",
    )
    assert fresh.version != first.version
    assert current_snapshot(store) is fresh  # and it stays, until the next edit
    info = cache_info()[store_cache_key(store)]
    assert info["version"] == fresh.version and info["stamp"] == store.change_stamp()
    assert not info["rebuilding"] and info["failures"] == 0


def test_a_rename_that_keeps_every_count_is_seen(store):
    first = current_snapshot(store)
    store.upsert_entities([EntityRecord("a:2", "Artist", "Muse (UK band)")])
    fresh = poll(
        lambda: (s := current_snapshot(store)).names[s.index_of("a:2")] == "Muse (UK band)" and s,
        what="the rename reaching the snapshot",
    )
    assert fresh.n_nodes == first.n_nodes and fresh.n_edges == first.n_edges


def test_a_call_during_a_rebuild_gets_the_old_snapshot_without_waiting(store):
    spy = SpyStore(store)
    first = current_snapshot(spy)
    spy.gate, spy.scanning = threading.Event(), threading.Event()
    store.upsert_entities([EntityRecord("a:3", "Artist", "Coldplay")])

    rebuild_started(spy, first)  # the rebuild is now inside its scan, held at the gate
    assert cache_info()[store_cache_key(spy)]["rebuilding"]

    # Callers on other threads (requests) get the old snapshot at once, while the rebuild is held.
    results: list = []
    callers = [threading.Thread(target=lambda: results.append(current_snapshot(spy))) for _ in range(4)]
    started = time.monotonic()
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(TIMEOUT)
    assert time.monotonic() - started < 5.0 and not any(caller.is_alive() for caller in callers)
    assert len(results) == 4 and all(result is first for result in results)
    assert spy.scans == 2  # the first build and the one held rebuild: no caller started another

    spy.gate.set()
    assert wait_for_rebuild(TIMEOUT)
    fresh = current_snapshot(spy)
    assert "a:3" in fresh.node_index and fresh is not first


def test_a_failed_rebuild_keeps_the_old_snapshot_is_logged_and_retried(store, monkeypatch, caplog):
    monkeypatch.setattr(snapshot_module, "RETRY_AFTER_FAILURE_SECONDS", 1.0)
    spy = SpyStore(store)
    first = current_snapshot(spy)
    spy.fail_next = 1
    store.upsert_entities([EntityRecord("a:3", "Artist", "Coldplay")])

    with caplog.at_level(logging.ERROR, logger=snapshot_module.__name__):
        asked_at = time.monotonic()  # the failure (and its back-off) came after this
        poll(lambda: current_snapshot(spy) is first and spy.scans == 2, what="the failing rebuild starting")
        assert wait_for_rebuild(TIMEOUT)
    assert "background rebuild of the graph snapshot" in caplog.text
    assert "the graph server went away mid-scan" in caplog.text
    info = cache_info()[store_cache_key(spy)]
    assert info["failures"] == 1 and "went away" in info["last_error"] and info["version"] == first.version

    # Within the back-off no new rebuild starts; the old snapshot keeps being served.
    scans = spy.scans
    assert current_snapshot(spy) is first
    if time.monotonic() - asked_at < 1.0:
        assert spy.scans == scans and not cache_info()[store_cache_key(spy)]["rebuilding"]

    # After it, the next call retries, and the edit arrives.
    fresh = poll(lambda: (s := current_snapshot(spy)) is not first and s, what="the retried rebuild")
    assert "a:3" in fresh.node_index
    assert cache_info()[store_cache_key(spy)]["failures"] == 0


def test_one_background_rebuild_at_a_time_per_process(store):
    one, two = SpyStore(store, name="one"), SpyStore(store, name="two")
    first_one, first_two = current_snapshot(one), current_snapshot(two)
    one.gate, one.scanning = threading.Event(), threading.Event()
    store.upsert_entities([EntityRecord("a:3", "Artist", "Coldplay")])

    rebuild_started(one, first_one)
    assert current_snapshot(two) is first_two  # stale too, but it waits for the running rebuild
    assert not cache_info()[store_cache_key(two)]["rebuilding"]

    one.gate.set()
    assert wait_for_rebuild(TIMEOUT)
    poll(lambda: "a:3" in current_snapshot(two).node_index, what="the second store's rebuild")
    assert "a:3" in current_snapshot(one).node_index


def test_invalidation_makes_the_next_call_build_at_once_and_drops_a_rebuild_already_running(store):
    spy = SpyStore(store)
    first = current_snapshot(spy)
    spy.gate, spy.scanning = threading.Event(), threading.Event()
    store.upsert_entities([EntityRecord("a:3", "Artist", "Coldplay")])
    rebuild_started(spy, first)  # this rebuild has read the stamp before the next edit

    store.upsert_entities([EntityRecord("a:4", "Artist", "Blur")])
    invalidate_snapshots(spy)
    spy.gate.set()
    assert wait_for_rebuild(TIMEOUT)
    assert store_cache_key(spy) not in cache_info()  # its result predates the invalidation: not installed

    again = current_snapshot(spy)  # blocking: the writer wanted its edit seen by the next call
    assert {"a:3", "a:4"} <= set(again.node_index)


def test_blocking_mode_rebuilds_in_the_caller(store):
    first = current_snapshot(store)
    store.upsert_entities([EntityRecord("a:3", "Artist", "Coldplay")])
    again = current_snapshot(store, background=False)
    assert again is not first and "a:3" in again.node_index
    assert not cache_info()[store_cache_key(store)]["rebuilding"]


@pytest.mark.django_db
def test_a_caller_inside_a_transaction_rebuilds_itself():
    """Its edit is not committed, so a background thread could not see it: the caller rebuilds."""
    from kg.stores.sql import SqlGraphStore

    store = SqlGraphStore()
    store.upsert_entities([EntityRecord("a:1", "Artist", "Radiohead")])
    first = current_snapshot(store)
    store.upsert_entities([EntityRecord("a:2", "Artist", "Muse")])
    assert store.in_caller_transaction()
    again = current_snapshot(store)
    assert again is not first and "a:2" in again.node_index
    assert wait_for_rebuild(TIMEOUT)


def test_the_stamp_is_read_at_most_once_per_check_interval(store, monkeypatch):
    spy = SpyStore(store)
    current_snapshot(spy)
    reads = []
    monkeypatch.setattr(spy, "change_stamp", lambda: reads.append(1) or store.change_stamp(), raising=False)
    for _ in range(5):
        current_snapshot(spy, check_interval=3600)
    assert reads == []
    current_snapshot(spy, check_interval=0)
    assert reads == [1]
