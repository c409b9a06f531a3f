"""The shared process cache: build once, re-check on a timer (with or without a stamp), keep the latest keys."""

from __future__ import annotations

import threading
import time

import pytest

from core.caches import ProcessCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A build function that returns ``(name, n)`` and counts its calls."""

    def __init__(self, name: str = "value") -> None:
        self.name = name
        self.calls = 0

    def __call__(self) -> tuple[str, int]:
        self.calls += 1
        return (self.name, self.calls)


def test_a_value_is_built_once_and_then_served_from_the_cache():
    cache: ProcessCache[str, tuple[str, int]] = ProcessCache()
    build = Counter()
    assert cache.get("a", build) == ("value", 1)
    assert cache.get("a", build) == ("value", 1)
    assert build.calls == 1
    assert len(cache) == 1


def test_by_default_only_the_latest_key_is_kept():
    cache: ProcessCache[str, tuple[str, int]] = ProcessCache()
    a, b = Counter("a"), Counter("b")
    cache.get("a", a)
    cache.get("b", b)
    assert len(cache) == 1
    assert cache.get("b", b) == ("b", 1)
    assert cache.get("a", a) == ("a", 2)  # dropped when "b" came in: built again
    assert b.calls == 1


def test_max_entries_drops_every_older_key_once_exceeded_and_none_means_unbounded():
    cache: ProcessCache[str, tuple[str, int]] = ProcessCache(max_entries=2)
    a, b, c = Counter("a"), Counter("b"), Counter("c")
    cache.get("a", a)
    cache.get("b", b)
    cache.get("a", a)
    assert (a.calls, b.calls, len(cache)) == (1, 1, 2)
    cache.get("c", c)  # a third key: the others go
    assert len(cache) == 1
    cache.get("a", a)
    assert a.calls == 2

    unbounded: ProcessCache[int, tuple[str, int]] = ProcessCache(max_entries=None)
    builds = Counter()
    for key in range(50):
        unbounded.get(key, builds)
    for key in range(50):
        unbounded.get(key, builds)
    assert builds.calls == 50 and len(unbounded) == 50


def test_without_a_stamp_a_value_is_rebuilt_once_it_is_recheck_seconds_old():
    clock = FakeClock()
    cache: ProcessCache[str, tuple[str, int]] = ProcessCache(recheck_seconds=10.0, clock=clock)
    build = Counter()
    cache.get("a", build)
    clock.now += 9.9
    assert cache.get("a", build) == ("value", 1)
    clock.now += 0.1  # exactly 10 s: due
    assert cache.get("a", build) == ("value", 2)
    clock.now += 5.0  # the age counts from the rebuild
    assert cache.get("a", build) == ("value", 2)


def test_with_a_stamp_a_due_value_is_rebuilt_only_when_the_stamp_moved():
    clock = FakeClock()
    cache: ProcessCache[str, tuple[str, int]] = ProcessCache(recheck_seconds=10.0, clock=clock)
    build = Counter()
    stamp = {"value": (3, "t1"), "reads": 0}

    def read_stamp() -> tuple:
        stamp["reads"] += 1
        return stamp["value"]

    assert cache.get("a", build, stamp=read_stamp) == ("value", 1)
    assert stamp["reads"] == 1  # a miss reads the stamp too (before building)
    clock.now += 5.0
    cache.get("a", build, stamp=read_stamp)
    assert stamp["reads"] == 1  # not due: no stamp read
    clock.now += 5.0
    assert cache.get("a", build, stamp=read_stamp) == ("value", 1)  # due, stamp unchanged: kept
    assert stamp["reads"] == 2
    clock.now += 9.0
    cache.get("a", build, stamp=read_stamp)
    assert stamp["reads"] == 2  # the unchanged check counted as a fresh check
    clock.now += 1.0
    stamp["value"] = (4, "t2")
    assert cache.get("a", build, stamp=read_stamp) == ("value", 2)  # moved: rebuilt
    assert stamp["reads"] == 3


def test_expire_makes_the_next_lookup_re_validate_without_dropping_the_value():
    clock = FakeClock()
    stamped: ProcessCache[str, tuple[str, int]] = ProcessCache(recheck_seconds=10.0, clock=clock)
    build = Counter()
    reads = []
    stamped.get("a", build, stamp=lambda: reads.append(1) or "same")
    stamped.expire()
    assert len(stamped) == 1
    assert stamped.get("a", build, stamp=lambda: reads.append(1) or "same") == ("value", 1)
    assert len(reads) == 2 and build.calls == 1

    forever: ProcessCache[str, tuple[str, int]] = ProcessCache()  # no timer: expire still forces a rebuild
    build = Counter()
    forever.get("a", build)
    forever.expire()
    assert forever.get("a", build) == ("value", 2)
    assert forever.get("a", build) == ("value", 2)


def test_clear_drops_everything():
    cache: ProcessCache[str, tuple[str, int]] = ProcessCache(max_entries=None)
    build = Counter()
    cache.get("a", build)
    cache.get("b", build)
    cache.clear()
    assert len(cache) == 0
    assert cache.get("a", build) == ("value", 3)


def test_a_failing_build_or_stamp_leaves_the_cache_as_it_was():
    clock = FakeClock()
    cache: ProcessCache[str, tuple[str, int]] = ProcessCache(recheck_seconds=10.0, clock=clock)
    build = Counter()

    def broken() -> tuple[str, int]:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError):
        cache.get("a", broken)
    assert len(cache) == 0
    cache.get("a", build, stamp=lambda: 1)
    clock.now += 10.0

    def broken_stamp() -> int:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError):
        cache.get("a", build, stamp=broken_stamp)
    assert cache.get("a", build, stamp=lambda: 1) == ("value", 1)  # still there, still due, stamp unchanged


def test_concurrent_first_access_builds_once():
    cache: ProcessCache[str, int] = ProcessCache()
    calls = []
    start = threading.Barrier(8)

    def slow_build() -> int:
        calls.append(1)
        time.sleep(0.05)  # long enough for every other thread to arrive while the value is being built
        return 42

    results: list[int] = []

    def ask() -> None:
        start.wait()
        results.append(cache.get("a", slow_build))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [42] * 8
    assert len(calls) == 1


def test_concurrent_re_checks_of_a_due_value_read_the_stamp_once():
    clock = FakeClock()
    cache: ProcessCache[str, str] = ProcessCache(recheck_seconds=10.0, clock=clock)
    cache.get("a", lambda: "v", stamp=lambda: "s")
    clock.now += 10.0
    reads = []
    start = threading.Barrier(6)

    def slow_stamp() -> str:
        reads.append(1)
        time.sleep(0.05)
        return "s"

    def ask() -> None:
        start.wait()
        cache.get("a", lambda: "rebuilt", stamp=slow_stamp)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(reads) == 1
    assert cache.get("a", lambda: "rebuilt") == "v"


@pytest.mark.parametrize(
    "kwargs", [{"recheck_seconds": -1}, {"recheck_seconds": True}, {"recheck_seconds": "10"}, {"max_entries": 0}]
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        ProcessCache(**kwargs)
