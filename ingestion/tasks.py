"""Celery tasks of text ingestion: thin wrappers around :func:`ingestion.jobs.run_job` (see :mod:`jobs.tasks`).

``ingestion.run_job`` runs one API ingestion job: its :class:`jobs.models.Job` row has the same id as the
:class:`ingestion.models.IngestionJob`, mirrors its outcome (a job whose documents failed is a failed job,
with the same error), and reports progress per document. Transient errors (an unreachable graph store, a
lost database connection) put the ingestion job back in the queue and are retried with back-off. Running
the task again for a finished job changes nothing (the job row is claimed once; the same text is never
ingested twice).
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError

from core.errors import StoreUnavailableError
from ingestion.jobs import release_stale_connections, run_job
from ingestion.models import IngestionJob
from jobs.tasks import JobContext, JobFailure, job_task

#: Errors worth another attempt later; anything else is recorded on the ingestion job as it always was.
TRANSIENT = (StoreUnavailableError, OperationalError, InterfaceError)


@job_task(name="ingestion.run_job", max_retries=3, backoff=15.0, soft_time_limit=3600, time_limit=3900)
def run_ingestion_job(job: JobContext, *, ingestion_job_id: str) -> dict[str, Any]:
    """Run the queued ingestion job ``ingestion_job_id`` (documents → NER → linking → relations → graph or review)."""
    release_stale_connections()
    ingestion = run_job(ingestion_job_id, retry_on=TRANSIENT, progress=job.progress)
    result = {"ingestion_job": str(ingestion.pk), "status": ingestion.status, "summary": ingestion.summary}
    if ingestion.status != IngestionJob.Status.SUCCEEDED:
        raise JobFailure(ingestion.error or f"The ingestion job is {ingestion.status}.", result=result)
    return result
