"""Job rows: who may claim a job, and what the statuses record (no broker needed)."""

from __future__ import annotations

import pytest

from jobs.models import Job
from jobs.services import job_claim, job_create, job_fail, job_progress, job_retrying, job_succeed


@pytest.mark.django_db
def test_a_job_is_claimed_once_and_a_finished_job_never_again():
    job = job_create(task_name="t", arguments={"a": 1})
    assert job.status == "queued" and job.attempts == 0
    claimed = job_claim(job.pk, attempt=1)
    assert claimed is not None and claimed.status == "running" and claimed.attempts == 1 and claimed.started_at
    assert job_claim(job.pk, attempt=1) is None  # a second delivery while it runs
    job_succeed(claimed, result={"ok": True})
    assert job_claim(job.pk, attempt=1, redelivered=True) is None  # finished: never again
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result == {"ok": True} and job.progress == 1.0 and job.finished_at


@pytest.mark.django_db
def test_a_redelivered_message_takes_over_a_job_whose_worker_died():
    job = job_create(task_name="t")
    assert job_claim(job.pk, attempt=1) is not None
    assert job_claim(job.pk, attempt=1) is None
    assert job_claim(job.pk, attempt=1, redelivered=True) is not None


@pytest.mark.django_db
def test_retrying_then_failing_records_when_and_why():
    job = job_claim(job_create(task_name="t").pk, attempt=1)
    assert job is not None
    job_progress(job, fraction=1.7, message="x" * 500)
    job_retrying(job, error="Attempt 1 failed: boom", countdown=10)
    job.refresh_from_db()
    assert job.status == "retrying" and job.next_attempt_at and job.progress == 1.0
    assert len(job.progress_message) == 300
    again = job_claim(job.pk, attempt=2)
    assert again is not None and again.attempts == 2 and again.next_attempt_at is None
    job_fail(again, error="Failed after 2 attempt(s): boom")
    again.refresh_from_db()
    assert again.status == Job.Status.FAILED and again.error.startswith("Failed after 2")
