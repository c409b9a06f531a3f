"""Every course that is in the graph, as arrays the course ranking slices (with its Course rows).

Why cached: reading and arranging the Course table costs more than ranking it. The table is kept per
graph snapshot and the Course table's (count, last update) is re-read at most every
:data:`~.graph_index.SNAPSHOT_RECHECK_SECONDS` (the aggregate costs more than the rest of a course
request), so a course edit reaches serving within that delay, like a graph edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.db.models import Count, Max

from catalog.models import Course
from core.caches import ProcessCache
from recommender.serving.graph_index import SNAPSHOT_RECHECK_SECONDS

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot


@dataclass(frozen=True, eq=False)  # eq=False: compared and hashed by identity (the item facts are cached per table)
class CourseTable:
    pks: np.ndarray
    nodes: np.ndarray  # snapshot node of each course (courses not in the graph are left out)
    levels: np.ndarray
    popularity: np.ndarray  # log1p(subscribers) scaled to [0, 1]
    rows: dict[int, Course]  # every course of the table, read once (a request copies the ones it returns)


#: ``snapshot version -> table`` for the latest snapshot only, stamped with the Course table's (count, last update).
_TABLES: ProcessCache[str, CourseTable] = ProcessCache(recheck_seconds=SNAPSHOT_RECHECK_SECONDS)


def _course_table_stamp() -> tuple:
    stamp = Course.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    return (stamp["n"], stamp["changed"])


def course_table(snapshot: GraphSnapshot) -> CourseTable:
    """Every course that is in the graph, cached until the Course table or the snapshot changes."""
    return _TABLES.get(snapshot.version, lambda: _build(snapshot), stamp=_course_table_stamp)


def course_table_expire() -> None:
    """Make the next request re-read the Course table's stamp (the table is kept if the stamp did not move)."""
    _TABLES.expire()


def _build(snapshot: GraphSnapshot) -> CourseTable:
    courses = {course.pk: course for course in Course.objects.order_by("pk") if course.entity_id in snapshot.node_index}
    rows = [(c.pk, snapshot.node_index[c.entity_id], c.level, c.subscribers) for c in courses.values()]
    popularity = np.log1p(np.asarray([r[3] for r in rows], dtype=np.float64))
    if len(popularity) and popularity.max() > 0:
        popularity = popularity / popularity.max()
    return CourseTable(
        pks=np.asarray([r[0] for r in rows], dtype=np.int64),
        nodes=np.asarray([r[1] for r in rows], dtype=np.int64),
        levels=np.asarray([r[2] for r in rows], dtype=object),
        popularity=popularity,
        rows=courses,
    )
