"""``POST /api/v1/audio`` with and without a task queue: 202 and a job on a real Redis + Celery worker, or 200 in the request.

The broker and worker are the task-queue tests' own fixtures (``tests/helpers/task_queue.py``: a private Redis
from ``scripts/redis_local.py``, a real worker thread; with ``CI=true`` a broker that cannot start fails the
run). The encoder is the audio API tests' tiny one, trained once per module.
"""

from __future__ import annotations

import io
import os
import shutil
import time

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from rest_framework.test import APIClient

from api.services import api_client_create
from audio.tasks import upload_spool_dir, upload_spool_sweep
from jobs.models import Job
from tests.helpers.audio_encoder import TRUMPET

# The task-queue tests' real broker and worker (fixtures found by name; ``task_worker`` asks for them).
from tests.helpers.task_queue import celery_worker, redis_broker  # noqa: F401

pytestmark = [
    pytest.mark.skipif(not TRUMPET.is_file(), reason=f"shared audio clip missing at {TRUMPET}"),
    pytest.mark.django_db(transaction=True),
]

FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED)


def _forget_broker_connections() -> None:
    """Drop the Celery app's cached connection and producer pools (they stay bound to the first broker they met).

    This module's ``redis_broker`` is a session fixture of its own: in a run with ``tests/jobs`` that one
    starts a second Redis, and without this the app would keep publishing to whichever broker came first.
    """
    from learning_platform.celery import app

    app._pool = None  # not closed: kombu's registry hands the same pool out again for the same broker
    app.amqp._producer_pool = None


@pytest.fixture
def task_worker(request):
    """``tests/jobs``' real worker on its real Redis, with the app's connection pools fresh before and after."""
    _forget_broker_connections()
    worker = request.getfixturevalue("celery_worker")
    yield worker
    _forget_broker_connections()


@pytest.fixture
def ingester(settings) -> APIClient:
    settings.KG_BACKEND = "sql"
    account = api_client_create(name="ingester", read_only=False, ingest=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {account.token}")
    return client


def upload(client: APIClient, data: bytes, name: str = "trumpet.ogg", **fields):
    return client.post("/api/v1/audio", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def wav(samples: np.ndarray, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV")
    return buffer.getvalue()


def spooled() -> list[str]:
    folder = upload_spool_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def finished_job(job_id, *, timeout: float = 60.0) -> Job:
    """The job once the worker finished it (SQLite's shared in-memory database may say "locked" meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            job = Job.objects.filter(pk=job_id, status__in=FINISHED).first()
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            job = None
        if job is not None:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for the worker to finish job {job_id}")
        time.sleep(0.1)


@pytest.mark.usefixtures("task_worker")
def test_with_a_broker_an_upload_is_a_202_and_the_worker_analyses_it(ingester, encoder):
    response = upload(ingester, TRUMPET.read_bytes(), composer="Composer A", k="3")
    assert response.status_code == 202, response.content
    body = response.json()
    job_id = body["id"]
    assert response["Location"] == f"/api/v1/jobs/{job_id}/"
    assert body["status_url"].endswith(f"/api/v1/jobs/{job_id}/") and body["task_name"] == "audio.analyse_upload"
    assert body["status"] in {"queued", "running", "succeeded"}  # the worker may already have it
    assert body["arguments"]["side"]["composer"] == "Composer A" and body["arguments"]["k"] == 3
    assert body["arguments"]["name"] == "trumpet.ogg" and len(body["arguments"]["sha256"]) == 64

    job = finished_job(job_id)
    assert job.status == "succeeded", job.error
    polled = ingester.get(response["Location"])
    assert polled.status_code == 200, polled.content
    result = polled.json()["result"]
    # the very body the synchronous answer has
    assert result["sha256"] == body["arguments"]["sha256"] and result["duration_seconds"] > 1
    assert set(result["neighbours"]) == {"composer", "era", "form"} and len(result["similar_works"]) <= 3
    assert result["spectrogram_url"] == f"/api/v1/audio/spectrograms/{result['sha256']}.png"
    assert result["encoder"]["version"] and result["work"] is None
    assert spooled() == []  # the uploaded file is gone once the job finished
    picture = ingester.get(result["spectrogram_url"])
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"


@pytest.mark.usefixtures("task_worker")
def test_with_a_broker_bad_audio_found_only_on_decoding_fails_the_job_and_removes_the_file(ingester, encoder):
    response = upload(ingester, wav(np.zeros(22050, dtype=np.float32)), name="silence.wav")
    assert response.status_code == 202, response.content
    job = finished_job(response.json()["id"])
    assert job.status == "failed" and job.attempts == 1  # bad input: not retried
    assert job.error.startswith("E040") and "silent" in job.error
    polled = ingester.get(response["Location"]).json()
    assert polled["status"] == "failed" and "silent" in polled["error"]
    assert spooled() == []


@pytest.mark.parametrize(
    "case, make, message",
    [
        ("empty", lambda: b"", "empty"),
        ("text", lambda: b"just some words, not a recording\n" * 20, "not an audio file"),
        ("truncated", lambda: TRUMPET.read_bytes()[: len(TRUMPET.read_bytes()) // 2], "cut off"),
        ("midi", lambda: b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60" + b"\x00" * 64, "MIDI"),
        ("low rate", lambda: wav(np.full(8000, 0.1, dtype=np.float32), rate=4000), "at least 8000 Hz"),
    ],
)
@pytest.mark.usefixtures("task_worker")
def test_with_a_broker_bad_inputs_are_still_a_400_and_nothing_is_queued(ingester, encoder, case, make, message):
    response = upload(ingester, make(), name=f"{case.replace(' ', '-')}.ogg")
    assert response.status_code == 400, (case, response.content)
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] in {"E040", "invalid"} and message in error["message"], error
    assert not Job.objects.exists() and spooled() == []


@pytest.mark.usefixtures("task_worker")
def test_with_a_broker_limits_fields_and_a_missing_encoder_are_refused_before_queueing(ingester, encoder, settings):
    settings.AUDIO_MAX_SECONDS = 2
    too_long = upload(ingester, TRUMPET.read_bytes())
    assert too_long.status_code == 400 and "more than the 2 s accepted" in too_long.json()["error"]["message"]
    settings.AUDIO_MAX_SECONDS = 600
    bad_k = upload(ingester, TRUMPET.read_bytes(), k="99")
    assert bad_k.status_code == 400 and bad_k.json()["error"]["code"] == "invalid"
    shutil.rmtree(encoder)
    missing = upload(ingester, TRUMPET.read_bytes())
    assert missing.status_code == 503 and "train_audio_encoder" in missing.json()["error"]["message"]
    assert not Job.objects.exists() and spooled() == []


def test_without_a_broker_the_request_analyses_as_before(ingester, encoder, settings):
    from jobs.services import broker_configured

    assert not broker_configured()
    response = upload(ingester, TRUMPET.read_bytes())
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["sha256"]) == 64 and body["spectrogram_url"].startswith("http://testserver/api/v1/audio/")
    assert "Location" not in response and not Job.objects.exists() and spooled() == []


def test_stale_spooled_uploads_are_swept(settings):
    folder = upload_spool_dir()
    folder.mkdir(parents=True)
    (folder / "old").write_bytes(b"x")
    (folder / "new").write_bytes(b"y")
    os.utime(folder / "old", (time.time() - 3 * 24 * 3600,) * 2)
    assert upload_spool_sweep() == 1 and spooled() == ["new"]
