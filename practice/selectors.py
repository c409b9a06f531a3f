"""Reads of the practice app: a learner's sessions, one session, works that suit the learner, progress."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from catalog.models import Work
from core.errors import UnknownEntityError
from practice.models import PracticeSession

#: Voices a work may have for each level: a beginner plays one line, an intermediate player up to two.
MAX_VOICES = {"beginner": 1, "intermediate": 2, "advanced": 99}


def sessions_for_user(user: Any) -> QuerySet[PracticeSession]:
    return PracticeSession.objects.filter(user=user).select_related("work", "feedback").order_by("-created_at", "-id")


def session_for_user(user: Any, session_id: Any) -> PracticeSession:
    """The learner's own session; someone else's is as unknown as a missing one (no probing of ids)."""
    try:
        pk = int(session_id)
    except (TypeError, ValueError):
        pk = -1
    session = sessions_for_user(user).filter(pk=pk).first()
    if session is None:
        raise UnknownEntityError(
            f"No practice session {session_id!r} of yours; list yours with GET /api/v1/practice/sessions."
        )
    return session


def works_for_learner(*, level: str, instruments: tuple[str, ...], limit: int = 20) -> list[Work]:
    """Rendered works a learner can practise: for their instruments first, then by how many voices the level allows."""
    slugs = {i.rsplit(":", 1)[-1] for i in instruments}
    works = list(Work.objects.exclude(corpus_path="").order_by("title")[:500])
    allowed = MAX_VOICES.get(level, 1)

    def rank(work: Work) -> tuple[int, int, str]:
        voices = max(len(work.voices or []), 1)
        fits_level = 0 if voices <= allowed else 1
        fits_instrument = 0 if slugs & set(work.instrumentation or []) else 1
        return (fits_instrument + fits_level, voices, work.title)

    return sorted(works, key=rank)[:limit]


def progress_history(user: Any, *, work: Work | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Finished sessions, oldest first, with their overall and per-dimension scores (the progress chart)."""
    rows = sessions_for_user(user).filter(status=PracticeSession.Status.SUCCEEDED)
    if work is not None:
        rows = rows.filter(work=work)
    history = []
    for session in reversed(list(rows[:limit])):
        feedback = getattr(session, "feedback", None)
        if feedback is None:
            continue
        history.append(
            {
                "session": session.pk,
                "work": session.work.title,
                "created_at": session.created_at.isoformat(),
                "overall": feedback.overall,
                "dimensions": feedback.dimensions,
            }
        )
    return history
