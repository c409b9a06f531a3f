"""Writes to job records, and handing a job to the task queue.

Who runs a job: with a broker (``CELERY_BROKER_URL`` set, so ``task_always_eager`` is off) the web process
only writes the row and sends the message after its transaction commits; a Celery worker runs it. Without
a broker (zero-setup first run, ``make demo``) the task runs eagerly, in-process, before ``job_submit``
returns, once (no retries: nobody should sleep through back-off inside a web request).

Every status change is one conditional ``UPDATE`` (``status IN (...)``), so two workers that receive the
same message (a redelivery after a lost worker, a task sent twice) never both run it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from celery import current_app  # type: ignore[import-untyped]
from django.db import transaction
from django.utils import timezone

from jobs.models import Job

logger = logging.getLogger(__name__)

#: Longest error text kept on a row (a traceback's last line is what a reader needs; the log has the rest).
MAX_ERROR_CHARS = 4000


def broker_configured() -> bool:
    """True when a worker runs tasks (a broker is configured); False when they run eagerly in-process."""
    return not current_app.conf.task_always_eager


def job_create(
    *,
    task_name: str,
    arguments: dict[str, Any] | None = None,
    user: Any = None,
    job_id: Any = None,
    max_attempts: int = 1,
) -> Job:
    return Job.objects.create(
        id=uuid.UUID(str(job_id)) if job_id else uuid.uuid4(),
        task_name=task_name,
        arguments=arguments or {},
        submitted_by=user if getattr(user, "is_authenticated", False) else None,
        max_attempts=max_attempts,
    )


def job_submit(*, task_name: str, arguments: dict[str, Any] | None = None, user: Any = None, job_id: Any = None) -> Job:
    """Record a job and hand it to the queue (after the caller's transaction commits), or run it now without a broker.

    The task is named, not imported, so this low layer can queue tasks of every package above it.
    ``arguments`` must be JSON (they travel through the broker and are shown in the API and admin).
    """
    task = _task(task_name)
    job = job_create(
        task_name=task_name,
        arguments=arguments,
        user=user,
        job_id=job_id,
        max_attempts=(task.max_retries or 0) + 1 if task is not None else 1,
    )
    job_dispatch(job)
    job.refresh_from_db()
    return job


def job_dispatch(job: Job) -> None:
    """Send the job's task (its id is the Celery task id); eagerly run it when there is no broker."""
    kwargs = {**job.arguments, "job_id": str(job.pk)}
    if broker_configured():
        transaction.on_commit(lambda: _send(job, kwargs))
        return
    task = _task(job.task_name)
    if task is None:
        job_fail(job, error=f"No task named {job.task_name!r} is registered; is its app in INSTALLED_APPS?")
        return
    task.apply(kwargs=kwargs, task_id=str(job.pk))


def _send(job: Job, kwargs: dict[str, Any]) -> None:
    """Publish the job's message; a broker that cannot be reached fails the job with a message, not the request."""
    try:
        current_app.send_task(job.task_name, kwargs=kwargs, task_id=str(job.pk))
    except Exception as exc:  # kombu has already retried the connection (its default publish retry policy)
        logger.exception("job %s (%s) could not be queued", job.pk, job.task_name)
        job_fail(
            job,
            error=f"Could not queue the job: the broker (CELERY_BROKER_URL) is unreachable ({type(exc).__name__}: {exc}). "
            "Start Redis and submit the job again.",
        )


def _task(name: str) -> Any:
    """The registered task called ``name``, importing every app's ``tasks`` module on first use."""
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()  # autodiscovery: each installed app's tasks.py
    return tasks.get(name)


def job_claim(job_id: Any, *, attempt: int, redelivered: bool = False) -> Job | None:
    """Mark the job running for this attempt; ``None`` if it is finished or another worker holds it.

    A redelivered message (the worker running it died: acks_late + reject_on_worker_lost) may take over a
    job left ``running``.
    """
    startable = list(Job.STARTABLE) + ([Job.Status.RUNNING] if redelivered else [])
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status__in=startable).update(
        status=Job.Status.RUNNING, attempts=attempt, started_at=now, next_attempt_at=None, updated_at=now
    )
    return Job.objects.get(pk=job_id) if claimed else None


def job_get_or_create(*, job_id: Any, task_name: str, arguments: dict[str, Any], max_attempts: int) -> Job:
    """The row of a job; a task started without one (celery beat, ``celery call``) gets one here."""
    job, _ = Job.objects.get_or_create(
        pk=uuid.UUID(str(job_id)),
        defaults={"task_name": task_name, "arguments": arguments, "max_attempts": max_attempts},
    )
    return job


def job_progress(job: Job, *, fraction: float, message: str = "") -> None:
    job.progress = min(1.0, max(0.0, float(fraction)))
    job.progress_message = message[:300]
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        progress=job.progress, progress_message=job.progress_message, updated_at=timezone.now()
    )


def job_succeed(job: Job, *, result: Any = None) -> None:
    _finish(job, status=Job.Status.SUCCEEDED, error="", result=result, progress=1.0)


def job_fail(job: Job, *, error: str, result: Any = None) -> None:
    _finish(job, status=Job.Status.FAILED, error=error, result=result, progress=job.progress)


def job_retrying(job: Job, *, error: str, countdown: float) -> None:
    """The attempt failed and another is scheduled in ``countdown`` seconds."""
    now = timezone.now()
    job.status, job.error = Job.Status.RETRYING, error[:MAX_ERROR_CHARS]
    job.next_attempt_at = now + timedelta(seconds=countdown)
    Job.objects.filter(pk=job.pk).update(
        status=job.status, error=job.error, next_attempt_at=job.next_attempt_at, updated_at=now
    )


def _finish(job: Job, *, status: str, error: str, result: Any, progress: float) -> None:
    now = timezone.now()
    job.status, job.error, job.result, job.progress, job.finished_at = (
        status,
        error[:MAX_ERROR_CHARS],
        result,
        progress,
        now,
    )
    job.next_attempt_at = None
    Job.objects.filter(pk=job.pk).update(
        status=status,
        error=job.error,
        result=result,
        progress=progress,
        finished_at=now,
        next_attempt_at=None,
        updated_at=now,
    )
    logger.info("job %s (%s) %s%s", job.pk, job.task_name, status, f": {job.error}" if job.error else "")
