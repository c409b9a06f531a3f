"""``/api/v1/audio``: upload a recording, get its spectrogram, likely composer/era/form and similar works.

Thin on purpose: validation and analysis are :mod:`audio` (features, cache, spectrogram),
prediction and the optional catalogue write are :mod:`audio.encoder.service`. Who may upload:
the same callers as document ingestion (:class:`api.permissions.CanIngest`: staff, curators, API
clients with ``ingestion.add_ingestionjob``); read-only clients and learners get a 403.

Errors: bad audio is an :class:`AudioInputError` (E040) → 400 in the error envelope, with nothing
stored; no trained encoder is a :class:`ModelArtifactError` → 503 saying to run
``train_audio_encoder``. Both go through the project's exception handler.

The spectrogram picture is served by a plain Django view (``GET /api/v1/audio/spectrograms/<sha256>.png``),
open to anyone: it shows catalogue audio or an upload addressable only by its 64-hex-digit hash, and
learner pages embed it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import error_response
from api.permissions import CanIngest
from audio.cache import cached_features
from audio.features import load_audio
from audio.spectrogram import spectrogram_path, spectrogram_png
from core.errors import AudioInputError, ModelArtifactError

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


def _work_url(pk: int | None) -> str | None:
    return f"/works/{pk}/" if pk else None


class AudioUploadView(APIView):
    """POST a recording (multipart ``file``): spectrogram URL, predicted neighbours, "sounds like" works."""

    permission_classes = [CanIngest]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Analyse an uploaded recording: spectrogram, likely composer/era/form, similar works (optionally create a Work)",
        request={"multipart/form-data": AudioUploadSerializer},
        responses={
            200: _RESPONSE,
            400: OpenApiResponse(
                description="Bad audio (empty, not audio, truncated, silent, too long, unsupported) or bad fields"
            ),
            403: OpenApiResponse(description="Not allowed to ingest"),
            503: OpenApiResponse(description="No trained audio encoder: run train_audio_encoder"),
        },
    )
    def post(self, request: Request) -> Response:
        from audio.encoder.artifacts import load_audio_encoder
        from audio.encoder.service import cold_start, create_uploaded_work, encoder_mel_config

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
        try:
            encoder = load_audio_encoder()
        except ModelArtifactError:
            # Bad audio is named before the missing encoder: someone who uploads a text file is told that,
            # not asked to train an encoder. (With an encoder, the one decode below validates the upload.)
            load_audio(raw, name=display, sample_rate=int(settings.AUDIO_SAMPLE_RATE), allow_truncated=False)
            raise
        # Uploads must be complete (a client can send the file again), unlike files on disk whose decodable
        # part is kept: refuse a cut recording before anything is cached or written. This one decode fills the
        # feature cache that cold_start (same encoder settings) then reads, so the upload is decoded only once.
        cached_features(raw, encoder_mel_config(encoder), name=display, allow_truncated=False)
        side = {name: data.get(name) or None for name in ("composer", "era", "form")}
        result = cold_start(raw, name=display, side=side, k=data["k"], encoder=encoder)
        spectrogram_png(raw, name=display)
        body: dict[str, Any] = result.to_dict()
        for internal in ("encoder_version", "variant", "target", "feature_cache_hit"):
            body.pop(internal)
        body["encoder"] = {"version": result.encoder_version, "variant": result.variant, "target": result.target}
        body["spectrogram_url"] = request.build_absolute_uri(reverse("api:audio-spectrogram", args=[result.sha256]))
        for similar in body["similar_works"]:
            similar["url"] = _work_url(similar["pk"])
        body["work"] = None
        if data["create"]:
            created = create_uploaded_work(
                raw, result=result, title=data.get("title"), composer=data.get("composer"), display_name=upload.name
            )
            body["work"] = {
                "pk": created.work.pk,
                "entity_id": created.entity_id,
                "created": created.created,
                "source": created.source,
                "url": _work_url(created.work.pk),
            }
        return Response(
            body, status=status.HTTP_201_CREATED if body["work"] and body["work"]["created"] else status.HTTP_200_OK
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
