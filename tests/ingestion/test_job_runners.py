"""Who runs an ingestion job, and on which database connection: the web thread, the worker, inline.

These hold on PostgreSQL as well as SQLite (``DATABASE_URL=postgres://...``; ``scripts/postgres_local.py``).
SQLite's in-memory test database ignores ``close()``, so only PostgreSQL shows a job that closes a
connection it does not own.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from api.services import api_client_create
from ingestion.documents import text_document
from ingestion.jobs import run_queued_jobs, submit_job
from ingestion.models import IngestionJob

DOCUMENT = "Alice Smith plays the cello ."


def _join_job_threads(timeout: float = 60.0) -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("ingestion-"):
            thread.join(timeout)
            assert not thread.is_alive(), f"{thread.name} did not finish"


def _assert_failed_for_missing_models(job: IngestionJob) -> None:
    """No trained models in the test's artifacts folder: the job runs, and records why it failed."""
    job.refresh_from_db()
    assert job.status == "failed" and "train_ner" in job.error, job.error
    assert job.payload == [] and job.started_at is not None and job.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_thread_runner_runs_an_api_job_on_its_own_connection(settings):
    """The production default: the job thread starts after the request's commit, on its own connection."""
    settings.INGESTION_JOB_RUNNER = "thread"
    settings.KG_BACKEND = "sql"
    ingester = api_client_create(name="ingester", read_only=False, ingest=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ingester.token}")
    response = client.post(
        "/api/v1/ingestion/documents", {"documents": [{"name": "a", "text": DOCUMENT}]}, format="json"
    )
    assert response.status_code == 202, response.content
    _join_job_threads()
    job = IngestionJob.objects.get(pk=response.json()["id"])
    _assert_failed_for_missing_models(job)
    status = client.get(f"/api/v1/ingestion/jobs/{job.pk}/")
    assert status.status_code == 200 and status.json()["status"] == "failed"


@pytest.mark.django_db(transaction=True)
def test_the_thread_runner_waits_for_the_submitting_transaction(settings):
    settings.INGESTION_JOB_RUNNER = "thread"
    with transaction.atomic():
        job = submit_job([text_document(DOCUMENT, name="a")], origin="cli")
        time.sleep(0.2)
        assert not any(t.name == f"ingestion-{job.pk}" for t in threading.enumerate())
    _join_job_threads()
    _assert_failed_for_missing_models(job)


@pytest.mark.django_db
def test_an_inline_job_keeps_the_callers_transaction_and_connection(settings):
    settings.INGESTION_JOB_RUNNER = "inline"
    with transaction.atomic():
        job = submit_job([text_document(DOCUMENT, name="a")], origin="cli")
        assert job.status == "failed" and "train_ner" in job.error
        assert IngestionJob.objects.filter(pk=job.pk, status="failed").exists()  # the same transaction, still open
    assert connection.is_usable()


@pytest.mark.django_db
def test_the_worker_runs_queued_jobs_inside_a_callers_transaction(settings):
    settings.INGESTION_JOB_RUNNER = "worker"
    job = submit_job([text_document(DOCUMENT, name="a")], origin="cli")
    assert job.status == "queued"
    call_command("process_ingestion_jobs")
    _assert_failed_for_missing_models(job)


@pytest.mark.django_db(transaction=True)
def test_the_worker_replaces_an_expired_connection_between_jobs(settings):
    """A long-running worker must not keep a connection past CONN_MAX_AGE (or a broken one)."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's in-memory test database is never closed; this needs a server database")
    settings.INGESTION_JOB_RUNNER = "worker"
    job = submit_job([text_document(DOCUMENT, name="a")], origin="cli")
    connection.ensure_connection()
    before = connection.connection
    connection.close_at = time.monotonic() - 1
    assert [j.pk for j in run_queued_jobs()] == [job.pk]
    assert connection.connection is not before
    _assert_failed_for_missing_models(job)
