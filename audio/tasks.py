"""Celery task of audio: ``audio.analyse_upload`` analyses a stored recording in a worker.

The upload API (:mod:`audio.api`) still analyses in the request and answers with the result. For work too
long for a request, a caller stores the bytes with :func:`upload_spool` (content-addressed, so the same
recording is stored once) and queues this task with the returned hash through
:func:`jobs.services.job_submit`; the job's ``result`` is the analysis (composer/era/form, similar works,
spectrogram hash). Idempotent: features and spectrograms are cached by content hash, and nothing is
written to the catalogue. Bad audio (:class:`~core.errors.AudioInputError`) or a missing encoder fails the
job at once with the message; transient errors are retried (:mod:`jobs.tasks`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from django.conf import settings

from jobs.tasks import JobContext, JobFailure, job_task

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def upload_spool_dir() -> Path:
    return Path(settings.LEITMOTIF_CACHE_DIR) / "audio-uploads"


def upload_spool(raw: bytes) -> str:
    """Store an uploaded recording for a worker (written atomically); returns its SHA-256, the task's argument."""
    digest = hashlib.sha256(raw).hexdigest()
    path = upload_spool_dir() / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(raw)
        partial.replace(path)
    return digest


@job_task(name="audio.analyse_upload", max_retries=2, backoff=30.0, soft_time_limit=900, time_limit=960)
def analyse_upload(
    job: JobContext, *, sha256: str, name: str = "uploaded recording", side: dict[str, Any] | None = None, k: int = 5
) -> dict[str, Any]:
    """Analyse the spooled recording ``sha256``: features, spectrogram, predicted composer/era/form, similar works."""
    from audio.encoder.service import cold_start
    from audio.spectrogram import spectrogram_png

    if not _SHA256.match(sha256 or ""):
        raise JobFailure(f"{sha256!r} is not the SHA-256 of a spooled upload (64 lowercase hex digits).")
    path = upload_spool_dir() / sha256
    if not path.is_file():
        raise JobFailure(f"No spooled upload {sha256}; store the recording with audio.tasks.upload_spool first.")
    raw = path.read_bytes()
    job.progress(0.1, "analysing")
    result = cold_start(raw, name=name, side=side or {}, k=int(k))
    job.progress(0.8, "drawing the spectrogram")
    spectrogram_png(raw, name=name)
    return result.to_dict()
