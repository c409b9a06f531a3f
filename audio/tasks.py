"""Celery task of audio: ``audio.analyse_upload`` analyses an uploaded recording in a worker.

With a broker (``CELERY_BROKER_URL``) ``POST /api/v1/audio`` (:mod:`audio.api`) checks what it can without
decoding (size, format, cut-off file, header: sample rate and length, a trained encoder), spools the bytes
with :func:`upload_spool` and answers 202 with the job; this task then does the analysis the request did
before, and the job's ``result`` is the very body the synchronous answer has (:func:`upload_analysis`).
Without a broker the API keeps analysing in the request (the zero-setup demo).

The spooled file: one per job (``<LEITMOTIF_CACHE_DIR>/audio-uploads/<job id>``, never shared between jobs,
so finishing one job cannot delete another's input), written to a temporary name, flushed and renamed (a
worker never reads half a file), readable by the owner only, and checked against the SHA-256 the request
computed. It is removed when the job finishes: success, a failure retrying cannot fix (bad audio is an
:class:`~core.errors.AudioInputError`, E040; a missing encoder), the soft time limit, or the last failed
attempt; a transient failure with attempts left keeps it for the retry. A worker killed outright leaves it
to the redelivered message; :func:`upload_spool_sweep` removes spooled files older than
:data:`SPOOL_MAX_AGE_SECONDS` (run at every spool), so nothing piles up if a message is lost for good.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded  # type: ignore[import-untyped]
from django.conf import settings
from django.urls import reverse

from core.errors import LeitmotifError, StoreUnavailableError
from jobs.tasks import JobContext, JobFailure, job_task

logger = logging.getLogger(__name__)

TASK_NAME = "audio.analyse_upload"
#: A spooled upload older than this belongs to a job that can no longer run (two days: well past every retry).
SPOOL_MAX_AGE_SECONDS = 2 * 24 * 3600

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def upload_spool_dir() -> Path:
    return Path(settings.LEITMOTIF_CACHE_DIR) / "audio-uploads"


def upload_spool_path(job_id: str) -> Path:
    """Where the recording of job ``job_id`` waits for its worker (``JobFailure`` for anything but a UUID)."""
    try:
        name = str(uuid.UUID(str(job_id)))
    except ValueError:
        raise JobFailure(f"{job_id!r} is not the id of a spooled upload (a UUID).") from None
    return upload_spool_dir() / name


def upload_spool(raw: bytes, *, job_id: str) -> str:
    """Store an uploaded recording for job ``job_id``'s worker (complete or not at all); returns its SHA-256."""
    digest = hashlib.sha256(raw).hexdigest()
    path = upload_spool_path(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    upload_spool_sweep()
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return digest


def upload_spool_remove(job_id: str) -> None:
    try:
        upload_spool_path(job_id).unlink(missing_ok=True)
    except JobFailure:
        pass


def upload_spool_sweep(*, now: float | None = None) -> int:
    """Remove spooled uploads (and partial writes) older than :data:`SPOOL_MAX_AGE_SECONDS`; returns how many."""
    folder = upload_spool_dir()
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - SPOOL_MAX_AGE_SECONDS
    removed = 0
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another process swept it first
            continue
    if removed:
        logger.warning("removed %d spooled audio upload(s) older than %d s", removed, SPOOL_MAX_AGE_SECONDS)
    return removed


def upload_analysis(
    raw: bytes,
    *,
    name: str,
    side: dict[str, Any] | None = None,
    k: int = 5,
    create: bool = False,
    title: str | None = None,
    composer: str | None = None,
    encoder: Any = None,
) -> dict[str, Any]:
    """The analysis of an upload as the API answers it (``spectrogram_url`` relative to the site).

    Raises :class:`~core.errors.AudioInputError` for bad audio (nothing cached or written) and
    :class:`~core.errors.ModelArtifactError` without a trained encoder.
    """
    from audio.cache import cached_features
    from audio.encoder.artifacts import load_audio_encoder
    from audio.encoder.service import cold_start, create_uploaded_work, encoder_mel_config
    from audio.spectrogram import spectrogram_png

    encoder = encoder or load_audio_encoder()
    # Uploads must be complete (a client can send the file again), unlike files on disk whose decodable
    # part is kept: refuse a cut recording before anything is cached or written. This one decode fills the
    # feature cache that cold_start (same encoder settings) then reads, so the upload is decoded only once.
    cached_features(raw, encoder_mel_config(encoder), name=name, allow_truncated=False)
    result = cold_start(raw, name=name, side=side or {}, k=int(k), encoder=encoder)
    spectrogram_png(raw, name=name)
    body: dict[str, Any] = result.to_dict()
    for internal in ("encoder_version", "variant", "target", "feature_cache_hit"):
        body.pop(internal)
    body["encoder"] = {"version": result.encoder_version, "variant": result.variant, "target": result.target}
    body["spectrogram_url"] = reverse("api:audio-spectrogram", args=[result.sha256])
    for similar in body["similar_works"]:
        similar["url"] = _work_url(similar["pk"])
    body["work"] = None
    if create:
        created = create_uploaded_work(raw, result=result, title=title, composer=composer, display_name=name)
        body["work"] = {
            "pk": created.work.pk,
            "entity_id": created.entity_id,
            "created": created.created,
            "source": created.source,
            "url": _work_url(created.work.pk),
        }
    return body


def _work_url(pk: int | None) -> str | None:
    return f"/works/{pk}/" if pk else None


def _ends_the_job(exc: Exception, job: JobContext) -> bool:
    """Whether ``exc`` finishes the job (as :func:`jobs.tasks.run_tracked` decides), so its spooled input can go."""
    if isinstance(exc, (JobFailure, SoftTimeLimitExceeded)):
        return True
    if isinstance(exc, LeitmotifError) and not isinstance(exc, StoreUnavailableError):
        return True
    return job.job.attempts >= job.job.max_attempts  # a transient error: only the last attempt ends it


@job_task(name=TASK_NAME, max_retries=2, backoff=30.0, soft_time_limit=900, time_limit=960)
def analyse_upload(
    job: JobContext,
    *,
    sha256: str,
    name: str = "uploaded recording",
    side: dict[str, Any] | None = None,
    k: int = 5,
    create: bool = False,
    title: str | None = None,
    composer: str | None = None,
) -> dict[str, Any]:
    """Analyse the recording spooled for this job: spectrogram, predicted composer/era/form, similar works (optionally a Work)."""
    job_id = str(job.job.pk)
    finished = False
    try:
        if not _SHA256.match(sha256 or ""):
            raise JobFailure(f"{sha256!r} is not the SHA-256 of a recording (64 lowercase hex digits).")
        path = upload_spool_path(job_id)
        if not path.is_file():
            raise JobFailure(f"No spooled recording for job {job_id}; upload it again to POST /api/v1/audio.")
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise JobFailure(f"The spooled recording of job {job_id} does not match its SHA-256; upload it again.")
        job.progress(0.1, "analysing")
        body = upload_analysis(raw, name=name, side=side, k=k, create=create, title=title, composer=composer)
        finished = True
        return body
    except Exception as exc:
        finished = _ends_the_job(exc, job)
        raise
    finally:
        if finished:
            upload_spool_remove(job_id)
