"""The serving layer's raw SQL: one statement reading everything a listener engaged with.

Why raw SQL: the three ORM queries it replaces cost more in query compilation (~1.3 ms of Python per
request) than the database spent answering them, and a warm recommendation request does only this one
query. Table and column names come from the models' ``_meta``, so a renamed table or column still works;
the SQL is plain SQL-92 (SQLite and PostgreSQL) and is composed once per database vendor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection

from catalog.models import Artist, Course, Interaction, Interest, Listen
from core.caches import ProcessCache

#: ``marker`` of a Listen row (the other rows carry :data:`INTEREST_ROW` or an Interaction kind).
LISTEN_ROW = "#listen"
#: ``marker`` of an onboarding pick (Interest row).
INTEREST_ROW = "#interest"

#: A history row: ``(marker, artist pk, artist entity, play count, time, course pk, course entity or
#: interest type, order id)``.
HistoryRow = tuple[str, int | None, str | None, Any, Any, int | None, str | None, int]

_HISTORY_SQL: ProcessCache[str, str] = ProcessCache(max_entries=None)  # one statement per database vendor


def history_sql() -> str:
    """One ``UNION ALL`` statement reading a listener's listens, events and onboarding picks.

    Rows: ``(marker, artist pk, artist entity, play count, time, course pk, course entity or interest
    type, order id)``; ``marker`` is :data:`LISTEN_ROW`, :data:`INTEREST_ROW` or an Interaction kind. The
    statement takes the listener's pk three times.
    """
    q = connection.ops.quote_name

    def table(model: Any) -> str:
        return q(model._meta.db_table)

    def column(model: Any, field: str) -> str:
        return q(model._meta.get_field(field).column)

    listen, interaction, interest, artist, course = (table(m) for m in (Listen, Interaction, Interest, Artist, Course))
    artist_pk, artist_entity = column(Artist, "id"), column(Artist, "entity_id")
    course_pk, course_entity = column(Course, "id"), column(Course, "entity_id")
    return (
        f"SELECT '{LISTEN_ROW}', l.{column(Listen, 'artist')}, a.{artist_entity}, l.{column(Listen, 'play_count')}, "
        f"l.{column(Listen, 'updated_at')}, NULL, NULL, l.{column(Listen, 'id')} "
        f"FROM {listen} l JOIN {artist} a ON a.{artist_pk} = l.{column(Listen, 'artist')} "
        f"WHERE l.{column(Listen, 'listener')} = %s AND l.{column(Listen, 'play_count')} > 0 "
        "UNION ALL "
        f"SELECT i.{column(Interaction, 'kind')}, i.{column(Interaction, 'artist')}, a.{artist_entity}, NULL, "
        f"i.{column(Interaction, 'created_at')}, i.{column(Interaction, 'course')}, c.{course_entity}, i.{column(Interaction, 'id')} "
        f"FROM {interaction} i LEFT JOIN {artist} a ON a.{artist_pk} = i.{column(Interaction, 'artist')} "
        f"LEFT JOIN {course} c ON c.{course_pk} = i.{column(Interaction, 'course')} "
        f"WHERE i.{column(Interaction, 'listener')} = %s "
        "UNION ALL "
        f"SELECT '{INTEREST_ROW}', NULL, n.{column(Interest, 'entity_id')}, NULL, NULL, NULL, n.{column(Interest, 'entity_type')}, "
        f"n.{column(Interest, 'id')} FROM {interest} n WHERE n.{column(Interest, 'listener')} = %s"
    )


def history_rows(listener_pk: int) -> list[HistoryRow]:
    """Every row of :func:`history_sql` for one listener (in no particular order)."""
    sql = _HISTORY_SQL.get(connection.vendor, history_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, [listener_pk, listener_pk, listener_pk])
        return cursor.fetchall()


def timestamp(value: Any) -> float:
    """Seconds since the epoch of a datetime column read with raw SQL (SQLite gives ISO text, naive = UTC)."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
