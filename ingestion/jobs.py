"""Ingestion jobs: an API call stores the documents as a queued ``IngestionJob`` and returns at once; the work happens elsewhere.

The job row (documents, status, summary) is what the ingestion API reads. ``INGESTION_JOB_RUNNER`` says
who runs a job:

* ``celery`` (the default when ``CELERY_BROKER_URL`` is set): a generic :class:`jobs.models.Job` with the
  same id is queued and a Celery worker runs the ``ingestion.run_job`` task (:mod:`ingestion.tasks`) with
  retries, back-off and time limits; ``/api/v1/jobs/{id}`` shows the queue's side (attempts, progress).
  The web process never runs it. Set explicitly without a broker, the task runs eagerly in-process;
* ``thread`` (the default without a broker: zero-setup ``runserver`` and demo): a daemon thread of the
  web process, started after the submitting transaction commits;
* ``worker``: nothing in the web process; ``python manage.py process_ingestion_jobs`` picks queued jobs up
  (by hand or from cron; the compose stack uses Celery instead);
* ``inline``: run before the response (tests, scripts).

Whatever the runner, the NER model sees each document in bounded pieces (:class:`ingestion.documents.ChunkedNer`).

A job is claimed by an atomic status update (queued -> running), so two workers never run the same job.

Database connections: the thread and the worker loop run outside any request, so they do what Django does
around a request themselves (drop a broken or expired connection before a job; the thread closes its own at
the end). ``run_job`` itself never closes a connection: run inline it works on the caller's connection,
often inside the caller's transaction (``ATOMIC_REQUESTS``, a script's ``transaction.atomic``, a test), and
closing that one would break the caller's transaction (PostgreSQL: "the connection is closed").
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from core.errors import ConfigurationError, IngestionJobError, LeitmotifError
from ingestion.documents import ChunkedNer, TextDocument
from ingestion.models import IngestionJob
from ingestion.pipeline import IngestionSummary, load_pipeline
from jobs.services import job_submit
from kg.stores.registry import get_store

logger = logging.getLogger(__name__)

RUNNERS = ("celery", "thread", "worker", "inline")
#: The Celery task that runs one ingestion job (:mod:`ingestion.tasks`).
INGESTION_TASK = "ingestion.run_job"
#: Most documents one API job may carry.
MAX_DOCUMENTS_PER_JOB = 100


def job_runner() -> str:
    runner = getattr(settings, "INGESTION_JOB_RUNNER", "thread")
    if runner not in RUNNERS:
        raise ConfigurationError(f"INGESTION_JOB_RUNNER is {runner!r}; use one of {', '.join(RUNNERS)}.")
    return runner


def submit_job(
    documents: Sequence[TextDocument], *, user: Any = None, origin: str = "api", options: dict | None = None
) -> IngestionJob:
    """Queue ``documents`` for ingestion and hand the job to the configured runner."""
    if not documents:
        raise IngestionJobError("A job needs at least one document.")
    if len(documents) > MAX_DOCUMENTS_PER_JOB:
        raise IngestionJobError(
            f"A job may carry at most {MAX_DOCUMENTS_PER_JOB} documents; {len(documents)} were sent. Split them into several jobs."
        )
    runner = job_runner()
    job = IngestionJob.objects.create(
        submitted_by=user if getattr(user, "is_authenticated", False) else None,
        origin=origin,
        payload=[asdict(d) for d in documents],
        options=options or {},
    )
    if runner == "celery":
        job_submit(task_name=INGESTION_TASK, arguments={"ingestion_job_id": str(job.pk)}, user=user, job_id=job.pk)
        job.refresh_from_db()
    elif runner == "inline":
        run_job(job.pk)
        job.refresh_from_db()
    elif runner == "thread":
        transaction.on_commit(lambda: _start_thread(job.pk))
    return job


def _start_thread(job_id) -> None:
    def target() -> None:
        # This thread's connections are its own (Django keeps one per thread): close them when done, or
        # each job would leave an idle server connection behind until the process ends.
        try:
            release_stale_connections()
            run_job(job_id)
        except Exception:  # run_job records pipeline errors; this is the database itself failing
            logger.exception("ingestion job %s could not run", job_id)
        finally:
            connections.close_all()

    threading.Thread(target=target, name=f"ingestion-{job_id}", daemon=True).start()


def release_stale_connections() -> None:
    """Close broken connections and those past ``CONN_MAX_AGE``, as Django does between requests.

    Unlike ``django.db.close_old_connections``, a connection inside a transaction is left alone: that
    function takes "autocommit is off" for a connection someone forgot to clean up and closes it, which
    inside a live ``transaction.atomic`` (an inline job, a worker called from a test) kills the caller's
    transaction. SQLite's in-memory test database ignores ``close()``, so only PostgreSQL showed it.
    """
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def claim_job(job_id) -> bool:
    """Mark a queued job as running; ``False`` when another runner took it first."""
    return bool(
        IngestionJob.objects.filter(pk=job_id, status=IngestionJob.Status.QUEUED).update(
            status=IngestionJob.Status.RUNNING, started_at=timezone.now()
        )
    )


def run_job(
    job_id,
    *,
    retry_on: tuple[type[BaseException], ...] = (),
    progress: Callable[[float, str], None] | None = None,
) -> IngestionJob:
    """Run one queued job to the end; the job row records success, the summary, or the error.

    Runs on the calling thread's connection and inside its transaction, if any (see the module docstring).
    An error of a ``retry_on`` type (the Celery task passes transient ones: an unreachable store, a lost
    database connection) puts the job back to ``queued`` and is raised, so the task can retry it; documents
    already ingested are skipped on the next attempt (same text, same hash). ``progress(fraction, message)``
    is called after each document.
    """
    if not claim_job(job_id):
        return IngestionJob.objects.get(pk=job_id)
    job = IngestionJob.objects.get(pk=job_id)
    summary = IngestionSummary()
    try:
        documents = [TextDocument(**item) for item in job.payload]
        with get_store() as store:
            pipeline = load_pipeline(store=store, actor=job.submitted_by, job=job, **job.options)
            if not isinstance(pipeline.ner, ChunkedNer):
                pipeline.ner = ChunkedNer(pipeline.ner)
            for position, document in enumerate(documents, start=1):
                pipeline.ingest([document], summary=summary)
                if progress is not None:
                    progress(position / len(documents), f"{position} of {len(documents)} documents")
        job.status = IngestionJob.Status.SUCCEEDED if not summary.failed else IngestionJob.Status.FAILED
        job.error = "; ".join(summary.problems)
    except retry_on:
        IngestionJob.objects.filter(pk=job_id).update(status=IngestionJob.Status.QUEUED, started_at=None)
        raise
    except LeitmotifError as exc:
        job.status, job.error = IngestionJob.Status.FAILED, exc.message
    except Exception as exc:
        logger.exception("ingestion job %s failed", job_id)
        job.status, job.error = IngestionJob.Status.FAILED, f"{type(exc).__name__}: {exc}"
    job.summary = summary.to_dict()
    job.payload = []
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "summary", "payload", "finished_at"])
    return job


def run_queued_jobs(*, limit: int | None = None) -> list[IngestionJob]:
    """Run queued jobs oldest first (the worker loop calls this)."""
    release_stale_connections()  # a worker lives for days: never query on a dead or expired connection
    done = []
    queued = (
        IngestionJob.objects.filter(status=IngestionJob.Status.QUEUED)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    for job_id in list(queued[:limit] if limit else queued):
        release_stale_connections()  # a long job may have outlived CONN_MAX_AGE
        done.append(run_job(job_id))
    return done


def get_job(job_id: Any, *, user: Any) -> IngestionJob:
    """A job the user may see (their own, or any for staff); ``IngestionJobError`` otherwise."""
    missing = IngestionJobError(
        f"No ingestion job {job_id!r}; use the id returned by POST /api/v1/ingestion/documents."
    )
    try:
        job = IngestionJob.objects.get(pk=uuid.UUID(str(job_id)))
    except (ValueError, IngestionJob.DoesNotExist):
        raise missing from None
    if not getattr(user, "is_staff", False) and job.submitted_by_id != getattr(user, "pk", None):
        raise missing
    return job
