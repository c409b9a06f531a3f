"""``/api/v1/audio``: upload a recording, get its spectrogram, likely composer/era/form and similar works.

Thin on purpose: validation and analysis are :mod:`audio` (features, cache, spectrogram),
prediction and the optional catalogue write are :mod:`audio.encoder.service`. Who may upload:
the same callers as document ingestion (:class:`api.permissions.CanIngest`: staff, curators, API
clients with ``ingestion.add_ingestionjob``); read-only clients and learners get a 403.

Who analyses: with a Celery broker (``CELERY_BROKER_URL``; :func:`jobs.services.broker_configured`) the
request only checks what it can without decoding (fields, size, format, a cut-off file, the header's
sample rate and length, a trained encoder), spools the recording for a worker (:mod:`audio.tasks`) and
answers **202 Accepted** with the job and ``Location: /api/v1/jobs/<id>/`` to poll; the job's ``result``
is the body the synchronous answer has. Without a broker (the zero-setup demo) the request analyses and
answers 200 (201 when ``create`` made a Work), as before.

Errors: bad audio is an :class:`AudioInputError` (E040) → 400 in the error envelope, with nothing
stored; no trained encoder is a :class:`ModelArtifactError` → 503 saying to run
``train_audio_encoder``. Both go through the project's exception handler. Queued, a recording whose
problems only decoding shows (silent, too short, damaged mid-stream) fails its job with the E040 message.

The spectrogram picture is served by a plain Django view (``GET /api/v1/audio/spectrograms/<sha256>.png``),
open to anyone: it shows catalogue audio or an upload addressable only by its 64-hex-digit hash, and
learner pages embed it.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import ServiceUnavailable, error_response
from api.permissions import CanIngest
from audio.features import load_audio
from audio.spectrogram import spectrogram_path, spectrogram_png
from audio.tasks import TASK_NAME, upload_analysis, upload_spool, upload_spool_remove
from core.errors import AudioInputError, ModelArtifactError
from jobs.api import JobSerializer
from jobs.models import Job
from jobs.services import broker_configured, job_submit

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class AudioUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The recording (wav, ogg, flac, mp3 or aiff).")
    title = serializers.CharField(required=False, allow_blank=True, max_length=500)
    composer = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text="Composer's name, if known (used as side information).",
    )
    era = serializers.CharField(required=False, allow_blank=True, max_length=64)
    form = serializers.CharField(required=False, allow_blank=True, max_length=64)
    # A field named like BaseSerializer.create(): DRF's metaclass moves declared fields off the class.
    create = serializers.BooleanField(  # type: ignore[assignment]
        required=False, default=False, help_text="Also create a catalogue Work and graph entity."
    )
    k = serializers.IntegerField(
        required=False, default=5, min_value=1, max_value=20, help_text="Neighbours and similar works returned."
    )


_GUESS = inline_serializer(
    "AudioEntityGuess",
    fields={
        "entity_id": serializers.CharField(),
        "name": serializers.CharField(),
        "type": serializers.CharField(),
        "score": serializers.FloatField(),
        "rank": serializers.IntegerField(),
    },
)
_SIMILAR = inline_serializer(
    "AudioSimilarWork",
    fields={
        "entity_id": serializers.CharField(),
        "pk": serializers.IntegerField(allow_null=True),
        "slug": serializers.CharField(),
        "title": serializers.CharField(),
        "composer": serializers.CharField(allow_null=True),
        "era": serializers.CharField(allow_null=True),
        "form": serializers.CharField(allow_null=True),
        "similarity": serializers.FloatField(),
        "explanation": serializers.CharField(),
        "url": serializers.CharField(allow_null=True),
    },
)
_RESPONSE = inline_serializer(
    "AudioUploadResult",
    fields={
        "sha256": serializers.CharField(),
        "duration_seconds": serializers.FloatField(),
        "truncated": serializers.BooleanField(),
        "notes": serializers.ListField(child=serializers.CharField()),
        "spectrogram_url": serializers.CharField(),
        "encoder": inline_serializer(
            "AudioEncoderInfo",
            fields={
                "version": serializers.CharField(),
                "variant": serializers.CharField(),
                "target": serializers.CharField(),
            },
        ),
        "vector": serializers.ListField(child=serializers.FloatField()),
        "neighbours": inline_serializer("AudioNeighbours", fields={"composer": _GUESS, "era": _GUESS, "form": _GUESS}),
        "similar_works": serializers.ListField(child=_SIMILAR),
        "work": inline_serializer(
            "AudioCreatedWork",
            fields={
                "pk": serializers.IntegerField(),
                "entity_id": serializers.CharField(),
                "created": serializers.BooleanField(),
                "source": serializers.CharField(),
                "url": serializers.CharField(),
            },
            allow_null=True,
        ),
    },
)


#: The 202 body: the queued job as ``GET /api/v1/jobs/{id}`` shows it, plus where to poll it. (Documented with
#: plain fields: a second serializer with the job's ``status`` choices would collide in the schema's enum names.)
_QUEUED = inline_serializer(
    "AudioAnalysisQueued",
    fields={
        "id": serializers.UUIDField(),
        "task_name": serializers.CharField(help_text="audio.analyse_upload"),
        "arguments": serializers.DictField(),
        "status": serializers.CharField(help_text="queued, running, retrying, succeeded or failed"),
        "attempts": serializers.IntegerField(),
        "max_attempts": serializers.IntegerField(),
        "progress": serializers.FloatField(),
        "progress_message": serializers.CharField(),
        "error": serializers.CharField(),
        "result": serializers.DictField(allow_null=True, help_text="When succeeded: the 200 body of this endpoint"),
        "created_at": serializers.DateTimeField(),
        "started_at": serializers.DateTimeField(allow_null=True),
        "next_attempt_at": serializers.DateTimeField(allow_null=True),
        "finished_at": serializers.DateTimeField(allow_null=True),
        "status_url": serializers.URLField(help_text="Poll this (also the Location header) until succeeded or failed"),
    },
)


class AudioUploadView(APIView):
    """POST a recording (multipart ``file``): spectrogram URL, predicted neighbours, "sounds like" works."""

    permission_classes = [CanIngest]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Analyse an uploaded recording: spectrogram, likely composer/era/form, similar works (optionally create a Work)",
        description=(
            "With a task queue configured (CELERY_BROKER_URL) the recording is checked, stored for a worker and "
            "the answer is 202 with the job; poll the Location (GET /api/v1/jobs/{id}/): when it has succeeded "
            "its result is the 200 body below, when bad audio shows only on decoding it has failed with the "
            "reason. Without a task queue the recording is analysed in the request (200, or 201 with a new Work)."
        ),
        request={"multipart/form-data": AudioUploadSerializer},
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                location=OpenApiParameter.HEADER,
                response=[202],
                description="The job to poll: /api/v1/jobs/{id}/",
            )
        ],
        responses={
            200: _RESPONSE,
            201: OpenApiResponse(_RESPONSE, description="Analysed, and create=true made a new catalogue Work"),
            202: OpenApiResponse(_QUEUED, description="Queued for a worker (a broker is configured): poll Location"),
            400: OpenApiResponse(
                description="Bad audio (empty, not audio, truncated, silent, too long, unsupported) or bad fields"
            ),
            403: OpenApiResponse(description="Not allowed to ingest"),
            503: OpenApiResponse(
                description="No trained audio encoder (run train_audio_encoder), or the task queue is unreachable"
            ),
        },
    )
    def post(self, request: Request) -> Response:
        from audio.encoder.artifacts import latest_audio_encoder, load_audio_encoder

        serializer = AudioUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        limit = int(settings.AUDIO_MAX_UPLOAD_BYTES)
        if upload.size > limit:  # before reading it into memory
            raise AudioInputError(
                f"the file is {upload.size / 1e6:.1f} MB, more than the {limit / 1e6:.1f} MB accepted "
                "(settings.AUDIO_MAX_UPLOAD_BYTES); upload a shorter excerpt or a compressed format.",
                path=upload.name or "uploaded recording",
            )
        raw = upload.read()
        display = upload.name or "uploaded recording"
        side = {name: data.get(name) or None for name in ("composer", "era", "form")}
        if broker_configured():
            upload_precheck(raw, display)  # bad audio is named before the missing encoder, as below
            latest_audio_encoder()  # no encoder: 503 now, not a job certain to fail
            return self._queue(request, raw, display=display, side=side, data=data)
        try:
            encoder = load_audio_encoder()
        except ModelArtifactError:
            # Bad audio is named before the missing encoder: someone who uploads a text file is told that,
            # not asked to train an encoder. (With an encoder, the one decode of upload_analysis validates it.)
            load_audio(raw, name=display, sample_rate=int(settings.AUDIO_SAMPLE_RATE), allow_truncated=False)
            raise
        body = upload_analysis(
            raw,
            name=display,
            side=side,
            k=data["k"],
            create=data["create"],
            title=data.get("title"),
            composer=data.get("composer"),
            encoder=encoder,
        )
        body["spectrogram_url"] = request.build_absolute_uri(body["spectrogram_url"])
        return Response(
            body, status=status.HTTP_201_CREATED if body["work"] and body["work"]["created"] else status.HTTP_200_OK
        )

    def _queue(self, request: Request, raw: bytes, *, display: str, side: dict, data: dict) -> Response:
        """Spool the recording, queue its analysis, answer 202 with the job and where to poll it."""
        job_id = str(uuid.uuid4())
        digest = upload_spool(raw, job_id=job_id)
        arguments = {
            "sha256": digest,
            "name": display,
            "side": side,
            "k": data["k"],
            "create": data["create"],
            "title": data.get("title") or None,
            "composer": data.get("composer") or None,
        }
        try:
            job = job_submit(task_name=TASK_NAME, arguments=arguments, user=request.user, job_id=job_id)
        except BaseException:
            upload_spool_remove(job_id)
            raise
        if job.status == Job.Status.FAILED and not job.started_at:  # the message could not be sent
            upload_spool_remove(job_id)
            raise ServiceUnavailable(f"{job.error} (job {job.pk})")
        location = reverse("api:job-detail", kwargs={"job_id": str(job.pk)}).rstrip("/") + "/"
        body = {**JobSerializer(job).data, "status_url": request.build_absolute_uri(location)}
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


def upload_precheck(raw: bytes, display: str) -> None:
    """What can be refused without decoding (``AudioInputError``): size, format, a cut-off file, the header.

    The same checks, in the same order and with the same messages, as :func:`audio.features.load_audio`
    up to its decode; what only decoding shows (silent, too short, damaged mid-stream) fails the job.
    """
    import soundfile as sf

    from audio.features import (
        MIN_SOURCE_SAMPLE_RATE,
        _check_format,
        _ogg_is_cut,
        _wav_is_cut,
        duration_limit_error,
        read_source_bytes,
        truncation_error,
        undecodable_error,
    )

    data, display = read_source_bytes(raw, name=display)
    kind = _check_format(data, display)
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise undecodable_error(display, kind, exc) from None
    if info.samplerate < MIN_SOURCE_SAMPLE_RATE:
        raise AudioInputError(
            f"the sample rate is {info.samplerate} Hz; at least {MIN_SOURCE_SAMPLE_RATE} Hz is needed for a "
            "128-band mel spectrogram. Record or export at 16 kHz or more.",
            path=display,
        )
    max_seconds = float(settings.AUDIO_MAX_SECONDS)
    if 0 < info.frames < 2**62 and info.frames / info.samplerate > max_seconds:
        raise duration_limit_error(display, info.frames / info.samplerate, max_seconds)
    if (kind == "ogg" and _ogg_is_cut(data)) or (kind == "wav" and _wav_is_cut(data)):
        raise truncation_error(
            display, [f"the {kind} file ends before its last {'page' if kind == 'ogg' else 'sample'}"]
        )


@require_GET
def spectrogram_view(request: HttpRequest, sha256: str) -> HttpResponse | FileResponse:
    """The cached PNG of a recording analysed before; a catalogue work's picture is drawn on first request."""
    if not _SHA256.match(sha256):
        return error_response(
            status_code=404,
            code="not_found",
            message="Not found: a spectrogram is addressed by the recording's SHA-256 (64 hex digits).",
        )
    path = spectrogram_path(sha256)
    if not path.is_file():
        from catalog.models import Work

        work = Work.objects.filter(audio_sha256=sha256).exclude(audio_path="").first()
        audio = Path(settings.LEITMOTIF_CACHE_DIR) / work.audio_path if work else None
        if audio is None or not audio.is_file():
            return error_response(
                status_code=404,
                code="not_found",
                message="No spectrogram for this recording: upload it to POST /api/v1/audio first.",
            )
        try:
            path = spectrogram_png(audio)
        except AudioInputError as exc:
            return error_response(status_code=404, code=exc.code, message=exc.message)
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400, immutable"
    return response
