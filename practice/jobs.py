"""Who runs a practice analysis: the thin runner around :func:`practice.services.analyse_session`.

``PRACTICE_JOB_RUNNER`` (default ``thread``) works like ``INGESTION_JOB_RUNNER``: ``thread`` runs the
analysis in a daemon thread of the web process after the upload's transaction commits (the learner's page
polls the session's status and progress), ``inline`` runs it before the response (tests, scripts),
``worker`` leaves it queued for ``python manage.py process_practice_sessions``. A task queue calls
:func:`run_session` the same way.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connections, transaction

from core.errors import ConfigurationError
from practice.models import PracticeSession
from practice.services import analyse_session

logger = logging.getLogger(__name__)

RUNNERS = ("thread", "worker", "inline")


def job_runner() -> str:
    runner = getattr(settings, "PRACTICE_JOB_RUNNER", "thread")
    if runner not in RUNNERS:
        raise ConfigurationError(f"PRACTICE_JOB_RUNNER is {runner!r}; use one of {', '.join(RUNNERS)}.")
    return runner


def run_session(session_id: int) -> PracticeSession:
    """What a worker or a task calls."""
    return analyse_session(session_id)


def submit_session(session: PracticeSession) -> PracticeSession:
    """Hand a queued session to the configured runner; inline, it comes back analysed."""
    runner = job_runner()
    if runner == "inline":
        return run_session(session.pk)
    if runner == "thread":
        transaction.on_commit(lambda: _start_thread(session.pk))
    return session


def _start_thread(session_id: int) -> None:
    def target() -> None:
        try:
            run_session(session_id)
        except Exception:  # analyse_session records analysis errors; this is the database failing
            logger.exception("practice session %s could not run", session_id)
        finally:
            connections.close_all()

    threading.Thread(target=target, name=f"practice-{session_id}", daemon=True).start()


def run_queued_sessions(*, limit: int | None = None) -> list[PracticeSession]:
    """Run queued sessions oldest first (the worker command calls this)."""
    queued = PracticeSession.objects.filter(status=PracticeSession.Status.QUEUED).order_by("created_at")
    ids = list(queued.values_list("pk", flat=True)[:limit] if limit else queued.values_list("pk", flat=True))
    return [run_session(pk) for pk in ids]
