"""What the serving selectors return: ranked, explained items and history lines.

Why a module of its own: the API serializers, the pages and the request-understanding answer all read
these shapes, while only :mod:`.selectors` builds them; keeping them apart lets the ranking modules
(:mod:`.music_ranking`, :mod:`.course_ranking`) build results without importing the selectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from catalog.models import Artist, Course

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import Explanation


@dataclass(frozen=True, eq=False)
class Recommendation:
    rank: int
    score: float
    kind: str  # "music" | "course"
    entity_id: str
    artist: Artist | None
    course: Course | None
    explanation: Explanation


@dataclass(frozen=True, eq=False)
class HistoryEntry:
    """One line of a listener's history: an aggregated listen (with play count) or an event."""

    kind: str  # listen | like | skip | enroll | complete
    when: datetime | None
    play_count: int | None
    artist: Artist | None
    course: Course | None


@dataclass(frozen=True, eq=False)
class RecommendationList:
    """A ranked list with how it was re-ranked and what it scores for the learner's unit and mood.

    ``scores`` = ``{"ems": float | None, "ers": float | None}`` (``None`` when undefined: no unit, no
    mood information); ``unit`` is the unit EMS was measured on (asked for, or the learner's own).
    """

    results: list[Recommendation]
    rerank: str
    unit: tuple[str, ...]
    unit_source: str  # "request" | "learner" | "none"
    mood: tuple[str, ...] | None
    scores: dict[str, float | None]
