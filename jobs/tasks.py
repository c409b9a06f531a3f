"""The Celery task base every background job uses: a job row kept up to date, retries with back-off, limits.

:func:`job_task` turns ``fn(job: JobContext, **kwargs) -> result`` (a thin wrapper around a service, so
the same logic runs from a command, a task or a test) into a Celery task that:

* finds or creates its :class:`~jobs.models.Job` row (the row's id is the task id) and claims it with a
  conditional update, so **a task delivered twice runs once**: a finished job is never run again, and a
  running one only by a redelivered message (its worker died);
* on an unexpected error (a database or store that went away, a bug), marks the row ``retrying`` and
  retries after ``backoff * 2**retry`` seconds (capped), up to ``max_retries`` times, then marks it
  ``failed`` with the error and the number of attempts;
* on a :class:`~core.errors.LeitmotifError` (bad input, missing model: retrying would not help) or a
  :class:`JobFailure`, marks it ``failed`` at once with the message; an unreachable store
  (:class:`~core.errors.StoreUnavailableError`) is retried like any transient error;
* stops at the soft time limit with a ``failed`` row that names the limit (the hard limit kills the child
  process; ``acks_late`` + ``reject_on_worker_lost`` then redeliver the message once it is visible again).

Without a broker the task runs eagerly, once, in-process (see :mod:`jobs.services`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Task, shared_task  # type: ignore[import-untyped]
from celery.exceptions import SoftTimeLimitExceeded  # type: ignore[import-untyped]

from core.errors import LeitmotifError, StoreUnavailableError
from jobs.models import Job
from jobs.services import (
    job_claim,
    job_fail,
    job_get_or_create,
    job_progress,
    job_retrying,
    job_succeed,
)

logger = logging.getLogger(__name__)

#: Retry delays: ``DEFAULT_BACKOFF * 2**retry`` seconds, at most ``MAX_BACKOFF``.
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 600.0


class JobFailure(Exception):
    """Raised by a job function for a failure that retrying cannot fix; the message goes on the job row."""

    def __init__(self, message: str, *, result: Any = None):
        super().__init__(message)
        self.message = message
        self.result = result


@dataclass
class JobContext:
    """What a job function gets: its row (id, arguments, who asked) and a way to report progress."""

    job: Job

    def progress(self, fraction: float, message: str = "") -> None:
        job_progress(self.job, fraction=fraction, message=message)


class JobTask(Task):
    """Late acknowledgement: a message is acknowledged when its task ends, so a worker lost mid-task
    (killed at the hard time limit or for memory) leaves it to be redelivered instead of dropping it."""

    acks_late = True
    reject_on_worker_lost = True
    backoff: float = DEFAULT_BACKOFF
    max_backoff: float = MAX_BACKOFF


def backoff_seconds(retries: int, *, base: float = DEFAULT_BACKOFF, cap: float = MAX_BACKOFF) -> float:
    """Delay before retry number ``retries + 1``: exponential, capped; no jitter, so it is predictable."""
    return float(min(cap, base * (2**retries)))


def job_task(
    *,
    name: str,
    max_retries: int = 3,
    backoff: float = DEFAULT_BACKOFF,
    soft_time_limit: float | None = None,
    time_limit: float | None = None,
) -> Callable[[Callable[..., Any]], Any]:
    """Register ``fn(job: JobContext, **kwargs)`` as the tracked Celery task ``name`` (see the module docstring).

    ``soft_time_limit``/``time_limit`` default to ``CELERY_TASK_SOFT_TIME_LIMIT``/``CELERY_TASK_TIME_LIMIT``.
    """

    def decorator(fn: Callable[..., Any]) -> Any:
        options: dict[str, Any] = {"max_retries": max_retries, "backoff": backoff}
        if soft_time_limit is not None:
            options["soft_time_limit"] = soft_time_limit
        if time_limit is not None:
            options["time_limit"] = time_limit

        @shared_task(bind=True, base=JobTask, name=name, **options)
        def task(self: JobTask, job_id: str | None = None, **kwargs: Any) -> Any:
            return run_tracked(self, fn, job_id=job_id, kwargs=kwargs)

        task.__doc__ = fn.__doc__
        return task

    return decorator


def run_tracked(task: JobTask, fn: Callable[..., Any], *, job_id: str | None, kwargs: dict[str, Any]) -> Any:
    """One attempt of a tracked task; returns the job function's result (JSON) or ``None`` when skipped."""
    request = task.request
    job_id = job_id or request.id
    job = job_get_or_create(
        job_id=job_id, task_name=task.name, arguments=kwargs, max_attempts=(task.max_retries or 0) + 1
    )
    redelivered = bool((request.delivery_info or {}).get("redelivered"))
    attempt = (request.retries or 0) + 1
    claimed = job_claim(job.pk, attempt=attempt, redelivered=redelivered)
    if claimed is None:
        logger.info("job %s (%s) is %s; not running it again", job.pk, task.name, job.status)
        return None
    context = JobContext(claimed)
    try:
        result = fn(context, **kwargs)
    except SoftTimeLimitExceeded:
        limit = task.soft_time_limit or task.app.conf.task_soft_time_limit
        job_fail(
            claimed,
            error=f"Stopped at the soft time limit ({limit} s) on attempt {attempt}; raise CELERY_TASK_SOFT_TIME_LIMIT "
            "or give the job less work.",
        )
        return None
    except JobFailure as exc:
        job_fail(claimed, error=exc.message, result=exc.result)
        return exc.result
    except LeitmotifError as exc:
        if not isinstance(exc, StoreUnavailableError):
            job_fail(claimed, error=f"{exc.code}: {exc.message}")
            return None
        _retry_or_fail(task, claimed, exc, attempt=attempt)
    except Exception as exc:
        _retry_or_fail(task, claimed, exc, attempt=attempt)
    job_succeed(claimed, result=result)
    return result


def _retry_or_fail(task: JobTask, job: Job, exc: Exception, *, attempt: int) -> None:
    """Schedule the next attempt with back-off (raises celery's ``Retry``), or record the final failure and re-raise."""
    error = f"{type(exc).__name__}: {exc}"
    retries = task.request.retries or 0
    if not task.request.is_eager and retries < (task.max_retries or 0):
        countdown = backoff_seconds(retries, base=task.backoff, cap=task.max_backoff)
        logger.warning(
            "job %s (%s) attempt %d failed (%s); retrying in %.1f s", job.pk, task.name, attempt, error, countdown
        )
        job_retrying(job, error=f"Attempt {attempt} failed: {error}", countdown=countdown)
        raise task.retry(exc=exc, countdown=countdown)
    logger.error("job %s (%s) failed after %d attempt(s): %s", job.pk, task.name, attempt, error)
    job_fail(job, error=f"Failed after {attempt} attempt(s): {error}")
    raise exc
