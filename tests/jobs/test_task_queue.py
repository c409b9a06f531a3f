"""The task queue end to end: a real Redis broker, a real Celery worker, the job rows, the API.

The two tasks defined here exercise the machinery every real task shares (:mod:`jobs.tasks`): one
counts its runs in a file, one always fails like a server that is down. The ingestion test goes through
the real API and the real ``ingestion.run_job`` task.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from api.services import api_client_create
from ingestion.models import IngestionJob
from jobs.models import Job
from jobs.services import job_submit
from jobs.tasks import JobContext, backoff_seconds, job_task

COUNT_TASK = "tests.jobs.count_runs"
FAIL_TASK = "tests.jobs.always_down"
FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED)


@job_task(name=COUNT_TASK, max_retries=0)
def count_runs(job: JobContext, *, path: str) -> dict:
    """Appends one line per run: a second run of the same job would show as a second line."""
    with open(path, "a") as handle:
        handle.write(f"{job.job.pk}\n")
    job.progress(0.5, "half way")
    return {"runs": len(Path(path).read_text().splitlines())}


@job_task(name=FAIL_TASK, max_retries=2, backoff=0.2)
def always_down(job: JobContext, *, path: str) -> None:
    """Records what the job row said when each attempt started, then fails like an unreachable server."""
    with open(path, "a") as handle:
        handle.write(json.dumps({"attempts": job.job.attempts, "error": job.job.error}) + "\n")
    raise ConnectionError("the archive server at 127.0.0.1:9 refused the connection")


def _finished(job_id):
    return lambda: Job.objects.filter(pk=job_id, status__in=FINISHED).first()


@pytest.mark.django_db(transaction=True)
def test_an_api_ingestion_job_runs_in_the_worker_and_its_status_is_in_both_apis(celery_worker, settings, wait_for):
    settings.INGESTION_JOB_RUNNER = "celery"
    settings.KG_BACKEND = "sql"
    ingester = api_client_create(name="ingester", read_only=False, ingest=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ingester.token}")
    response = client.post(
        "/api/v1/ingestion/documents",
        {"documents": [{"name": "a", "text": "Alice Smith plays the cello."}]},
        format="json",
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    job = wait_for(_finished(job_id), what="the worker to run the ingestion job")
    # No trained models in the test's artifacts: the worker ran the job, which says what to do.
    assert job.task_name == "ingestion.run_job" and job.status == "failed" and "train_ner" in job.error
    assert job.attempts == 1 and job.arguments == {"ingestion_job_id": job_id}
    assert IngestionJob.objects.get(pk=job_id).status == "failed"

    queue_side = client.get(f"/api/v1/jobs/{job_id}")
    assert queue_side.status_code == 200, queue_side.content
    body = queue_side.json()
    assert body["status"] == "failed" and "train_ner" in body["error"] and body["task_name"] == "ingestion.run_job"
    assert body["started_at"] and body["finished_at"]
    ingestion_side = client.get(f"/api/v1/ingestion/jobs/{job_id}/")
    assert ingestion_side.status_code == 200 and ingestion_side.json()["status"] == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_is_retried_with_back_off_then_marked_failed(celery_worker, tmp_path, wait_for):
    log = tmp_path / "attempts.jsonl"
    job = job_submit(task_name=FAIL_TASK, arguments={"path": str(log)})
    assert job.max_attempts == 3  # the worker may already hold it: on_commit sends at once outside a transaction
    job = wait_for(_finished(job.pk), what="the retries to end")
    assert job.status == "failed" and job.attempts == 3
    assert job.error.startswith("Failed after 3 attempt(s): ConnectionError:") and "refused the connection" in job.error
    assert job.next_attempt_at is None and job.finished_at is not None
    attempts = [json.loads(line) for line in log.read_text().splitlines()]
    # Each retry started after the previous attempt had marked the row "retrying" with its error.
    assert [a["attempts"] for a in attempts] == [1, 2, 3]
    assert attempts[0]["error"] == ""
    assert attempts[1]["error"].startswith("Attempt 1 failed: ConnectionError")
    assert attempts[2]["error"].startswith("Attempt 2 failed: ConnectionError")


def test_the_back_off_doubles_and_is_capped():
    assert [backoff_seconds(n, base=10, cap=100) for n in range(5)] == [10, 20, 40, 80, 100]


@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_runs_once(celery_worker, tmp_path, wait_for):
    from learning_platform.celery import app

    runs = tmp_path / "runs.txt"
    job = job_submit(task_name=COUNT_TASK, arguments={"path": str(runs)})
    job = wait_for(_finished(job.pk), what="the first run")
    assert job.status == "succeeded" and job.result == {"runs": 1} and job.progress == 1.0
    before = (job.attempts, job.updated_at, job.finished_at)
    # The same message again (what a redelivery or a double submit looks like), then a marker job: the worker
    # takes one message at a time, so once the marker is done the duplicate has been handled.
    app.send_task(COUNT_TASK, kwargs={"path": str(runs), "job_id": str(job.pk)}, task_id=str(job.pk))
    marker = wait_for(
        lambda: job_submit(task_name=COUNT_TASK, arguments={"path": str(tmp_path / "marker.txt")}),
        what="the marker job to be queued",
    )
    wait_for(_finished(marker.pk), what="the marker job")
    job.refresh_from_db()
    assert runs.read_text().splitlines() == [str(job.pk)]
    assert (job.attempts, job.updated_at, job.finished_at) == before and job.status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_retrain_and_refresh_are_on_a_periodic_schedule_that_the_worker_runs(celery_worker, settings, wait_for):
    from celery.beat import Scheduler

    from learning_platform.celery import app

    app.loader.import_default_modules()
    scheduler = Scheduler(app=app, lazy=True)
    scheduler.setup_schedule()
    entries = {entry.task: entry for entry in scheduler.schedule.values()}
    assert {"recommender.refresh_models", "recommender.retrain"} <= set(entries)
    for name in entries:
        if name.startswith("celery."):
            continue
        assert name in app.tasks, f"{name} is scheduled but not a registered task"
    assert entries["recommender.refresh_models"].kwargs == {"only_if_new_facts": True}
    assert entries["recommender.retrain"].kwargs == {"only_if_new_interactions": True}
    refresh_every = settings.CELERY_BEAT_SCHEDULE["refresh-models"]["schedule"]
    assert entries["recommender.refresh_models"].schedule.run_every.total_seconds() == refresh_every
    # What beat does when the entry is due: send it. The worker runs it and records a job row of its own;
    # with nothing published yet, the refresh fails at once and says what to do (no retry for that).
    scheduler.apply_entry(entries["recommender.refresh_models"])
    job = wait_for(
        lambda: Job.objects.filter(task_name="recommender.refresh_models", status__in=FINISHED).first(),
        what="the scheduled refresh",
    )
    assert job.status == "failed" and job.attempts == 1 and "no recommender is published" in job.error
    assert job.arguments == {"only_if_new_facts": True} and job.submitted_by is None


@pytest.mark.django_db
def test_without_a_broker_a_job_runs_in_process_once(tmp_path):
    """The zero-setup first run: no CELERY_BROKER_URL, the task runs eagerly before job_submit returns."""
    runs = tmp_path / "runs.txt"
    job = job_submit(task_name=COUNT_TASK, arguments={"path": str(runs)})
    assert job.status == "succeeded" and job.attempts == 1 and job.result == {"runs": 1}


@pytest.mark.django_db
def test_without_a_broker_a_failing_job_fails_at_once_with_its_error(tmp_path):
    job = job_submit(task_name=FAIL_TASK, arguments={"path": str(tmp_path / "log")})
    assert job.status == "failed" and job.attempts == 1
    assert "ConnectionError: the archive server" in job.error


@pytest.mark.django_db
def test_an_unknown_task_name_is_refused_on_the_row(tmp_path):
    job = job_submit(task_name="no.such.task", arguments={})
    assert job.status == "failed" and "No task named 'no.such.task'" in job.error


@pytest.mark.django_db
def test_the_jobs_api_shows_a_job_to_its_submitter_and_staff_only(settings, tmp_path):
    users = get_user_model().objects
    owner = users.create_user("owner", password="x-pass-1234")
    other = users.create_user("other", password="x-pass-1234")
    staff = users.create_user("staff", password="x-pass-1234", is_staff=True)
    job = job_submit(task_name=COUNT_TASK, arguments={"path": str(tmp_path / "runs")}, user=owner)
    client = APIClient()
    assert client.get(f"/api/v1/jobs/{job.pk}").status_code in (401, 403)
    client.force_authenticate(owner)
    mine = client.get(f"/api/v1/jobs/{job.pk}/")
    assert mine.status_code == 200 and mine.json()["status"] == "succeeded" and mine.json()["progress"] == 1.0
    listed = client.get("/api/v1/jobs/")
    assert listed.status_code == 200 and [row["id"] for row in listed.json()["results"]] == [str(job.pk)]
    client.force_authenticate(other)
    hidden = client.get(f"/api/v1/jobs/{job.pk}")
    assert hidden.status_code == 404 and "No job" in hidden.json()["error"]["message"]
    assert client.get("/api/v1/jobs/").json()["results"] == []
    bad = client.get("/api/v1/jobs/not-a-uuid")
    assert bad.status_code == 404 and "UUID" in bad.json()["error"]["message"]
    client.force_authenticate(staff)
    assert client.get(f"/api/v1/jobs/{job.pk}").status_code == 200


@pytest.mark.django_db
def test_the_admin_lists_jobs_read_only(admin_client, tmp_path):
    job = job_submit(task_name=COUNT_TASK, arguments={"path": str(tmp_path / "runs")})
    listing = admin_client.get("/admin/jobs/job/")
    assert listing.status_code == 200 and COUNT_TASK in listing.content.decode()
    assert admin_client.get("/admin/jobs/job/add/").status_code == 403
    detail = admin_client.get(f"/admin/jobs/job/{job.pk}/change/")
    assert detail.status_code == 200
