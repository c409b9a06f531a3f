"""The published model's Artist rows, held in memory (a request copies the few it returns).

Why: loading ten Artist rows through the ORM cost ~2.5 ms per request, more than the model's scoring.
The copy is made once per published model and re-validated against the Artist table's (count, last
update) at most every :data:`~.graph_index.SNAPSHOT_RECHECK_SECONDS`, so a rename reaches serving within
that delay, like a graph edit.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db.models import Count, Max

from catalog.models import Artist
from core.caches import ProcessCache
from recommender.serving.graph_index import SNAPSHOT_RECHECK_SECONDS

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.serving.model_holder import ServingModel

#: ``id(serving) -> {pk: Artist}`` for the latest model only.
_ROWS: ProcessCache[int, dict[int, Artist]] = ProcessCache(recheck_seconds=SNAPSHOT_RECHECK_SECONDS)


def _artist_table_stamp() -> tuple:
    aggregate = Artist.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    return (aggregate["n"], aggregate["changed"])


def model_artists(serving: ServingModel, pks: Sequence[int]) -> dict[int, Artist]:
    """``pk -> Artist`` for ``pks`` from an in-memory copy of the model's artists (copies: callers may edit them).

    An artist not in the copy (added after training) is read directly.
    """
    rows = _ROWS.get(
        id(serving),
        lambda: Artist.objects.in_bulk([int(pk) for pk in serving.item_ids]),
        stamp=_artist_table_stamp,
    )
    out = {pk: copy.copy(rows[pk]) for pk in pks if pk in rows}
    missing = [pk for pk in pks if pk not in out]
    if missing:
        out.update(Artist.objects.in_bulk(missing))
    return out


def model_artists_forget() -> None:
    """Drop the in-memory rows: the next request reads them again."""
    _ROWS.clear()
