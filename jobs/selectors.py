"""Reads of job records."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from jobs.models import Job


class JobNotFound(LookupError):
    """No job with this id that the caller may see (one answer for both, so ids cannot be probed)."""


def jobs_visible_to(user: Any) -> QuerySet[Job]:
    """Staff see every job; anyone else the jobs they submitted."""
    jobs = Job.objects.select_related("submitted_by")
    if getattr(user, "is_staff", False):
        return jobs
    if not getattr(user, "is_authenticated", False):
        return jobs.none()
    return jobs.filter(submitted_by=user)


def job_for_user(job_id: Any, *, user: Any) -> Job:
    try:
        key = uuid.UUID(str(job_id))
    except ValueError:
        raise JobNotFound(
            f"{job_id!r} is not a job id; job ids are UUIDs, as returned when the job was submitted."
        ) from None
    job = jobs_visible_to(user).filter(pk=key).first()
    if job is None:
        raise JobNotFound(
            f"No job {key}; use the id returned when the job was submitted (your own jobs only, unless staff)."
        )
    return job
