"""One process cache for every package: a small, thread-safe, keyed cache that builds each value once.

Why one helper: serving, request understanding and the explanation code each kept a module-level dict
plus its own lock and re-wrote the same double-checked build, re-check timer and "only the newest key"
rule, with small differences between the copies (one re-check ran outside any lock, one cache had no
lock at all). A value is built under the cache's lock, so threads asking for a cold key at once build it
ONE time; a warm lookup takes no lock (a dict read is atomic in CPython).

Staleness (optional, ``recheck_seconds``): once an entry was last checked that long ago it is re-validated
on the next lookup —

* without a ``stamp``, re-validating means rebuilding (a parser whose link index must pick up new
  entities; a snapshot whose own freshness check is the build);
* with a ``stamp`` (a cheap summary such as a table's row count and last update), ``stamp()`` is read
  again and the value is rebuilt only when the stamp moved; otherwise the entry counts as checked now.

:meth:`ProcessCache.expire` makes every entry re-validate on its next lookup without dropping it (a
writer that needs its change seen now); :meth:`ProcessCache.clear` drops everything. ``max_entries``
bounds the cache: adding a key beyond it drops all the others first (the default, 1, keeps only the
latest key — the published model, the current graph snapshot — since older ones will not be asked for).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    stamp: Hashable
    checked_at: float


class ProcessCache(Generic[K, V]):
    """``key -> value`` for the life of the process, built on first use (see the module docstring).

    ``build`` and ``stamp`` run under the cache's lock: they must not look up the same cache (the lock is
    not re-entrant). An exception from either leaves the cache as it was.
    """

    def __init__(
        self,
        *,
        recheck_seconds: float | None = None,
        max_entries: int | None = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if recheck_seconds is not None and (
            isinstance(recheck_seconds, bool) or not isinstance(recheck_seconds, (int, float)) or recheck_seconds < 0
        ):
            raise ValueError(
                f"recheck_seconds must be a number of seconds (0 or more) or None, got {recheck_seconds!r}."
            )
        if max_entries is not None and (
            isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1
        ):
            raise ValueError(f"max_entries must be a whole number (1 or more) or None, got {max_entries!r}.")
        self._recheck_seconds = None if recheck_seconds is None else float(recheck_seconds)
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, _Entry[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V], *, stamp: Callable[[], Hashable] | None = None) -> V:
        """The value of ``key``: cached and fresh, re-validated with ``stamp``, or built by ``build()`` now.

        On a miss ``stamp()`` (when given) is read before ``build()``, so a change made while building is
        seen by the next re-check rather than hidden under the new stamp.
        """
        entry = self._entries.get(key)
        if entry is not None and self._fresh(entry):
            return entry.value
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._fresh(entry):
                return entry.value
            current = stamp() if stamp is not None else None
            if entry is not None and stamp is not None and entry.stamp == current:
                entry.checked_at = self._clock()
                return entry.value
            value = build()
            if key not in self._entries and self._max_entries is not None and len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = _Entry(value=value, stamp=current, checked_at=self._clock())
            return value

    def expire(self) -> None:
        """Make every entry re-validate on its next lookup (re-read its stamp, or rebuild without one)."""
        with self._lock:
            for entry in self._entries.values():
                entry.checked_at = -math.inf

    def clear(self) -> None:
        """Drop every entry: the next lookup of any key builds it."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _fresh(self, entry: _Entry[V]) -> bool:
        if entry.checked_at == -math.inf:  # expired
            return False
        return self._recheck_seconds is None or self._clock() - entry.checked_at < self._recheck_seconds
