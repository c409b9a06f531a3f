"""Learner page of a work with sound: a player, its facts and links, its spectrogram and what it "sounds like".

Thin on purpose: reads are :mod:`.pieces` (the recording, the composer and their artist page, related
works), the picture is :func:`audio.spectrogram.spectrogram_png` (cached by content, served through
``GET /api/v1/audio/spectrograms/<sha256>.png``), the neighbours are
:func:`audio.encoder.service.sounds_like_work`. The page degrades instead of failing: without a
recording, a graph or a trained encoder it says what is not available yet in a learner's words and
logs the operator's hint (the command to run); the facts are always shown. A learner page never
shows a command.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from catalog.models import Work
from core.errors import AudioInputError, ModelArtifactError, StoreUnavailableError
from kg.stores import get_store
from learning_platform.learn import pieces

RECORDING_MISSING = "The recording of this work is not available yet."
SIMILAR_MISSING = "Similar-sounding works are not available yet."


def _spectrogram_url(work: Work, recording: pieces.Recording | None) -> tuple[str | None, str | None]:
    """(URL of the picture, or None and the reason in a learner's words)."""
    from audio.spectrogram import spectrogram_png

    if recording is None:
        return None, "The spectrogram is drawn from the recording, which is not available yet."
    try:
        sha256 = spectrogram_png(recording.path).stem
    except AudioInputError as exc:
        return None, exc.message
    return reverse("api:audio-spectrogram", args=[sha256]), None


@require_GET
def work_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from audio.encoder.artifacts import load_audio_encoder
    from audio.encoder.service import sounds_like_work

    work = get_object_or_404(Work, pk=pk)
    recording = pieces.recording_file(work)
    if recording is None:
        pieces.log_operator_hint(
            f"Work {work.pk} has no recording on disk",
            "run `python manage.py load_works` (rendered files live in LEITMOTIF_CACHE_DIR/works/)",
            work=work.pk,
        )
    spectrogram_url, spectrogram_note = _spectrogram_url(work, recording)
    similar, similar_note, reads_facts = [], None, False
    if spectrogram_url:
        try:
            encoder = load_audio_encoder()
            reads_facts = encoder.config.uses_side
            similar = sounds_like_work(work, k=5, encoder=encoder)
        except ModelArtifactError as exc:
            similar_note = SIMILAR_MISSING
            pieces.log_operator_hint(
                "No audio encoder for 'Sounds like'", f"run `python manage.py train_audio_encoder` ({exc.message})"
            )
        except AudioInputError as exc:
            similar_note = exc.message
    else:
        similar_note = SIMILAR_MISSING
    try:
        with get_store() as store:
            composer = pieces.composer_of_work(work, store=store)
    except StoreUnavailableError as exc:
        pieces.log_operator_hint("Work page without graph links", exc.message, work=work.pk)
        composer = pieces.ComposerLink(name=work.composer_name, person_id=None, artist_url=None)
    context = {
        "work": work,
        "instruments": [
            {"name": name, "url": reverse("learn:search") + "?" + urlencode({"q": name})}
            for name in pieces.instrument_names(work)
        ],
        "composer": composer,
        "audio_url": reverse("learn:work_audio", args=[work.pk]) if recording else None,
        "audio_type": recording.content_type if recording else None,
        "audio_note": None if recording else RECORDING_MISSING,
        "related": pieces.related_works(work),
        "spectrogram_url": spectrogram_url,
        "spectrogram_note": spectrogram_note,
        "similar": similar,
        "similar_note": similar_note,
        "encoder_reads_facts": reads_facts,
    }
    return render(request, "learn/work_detail.html", context)


@require_GET
def work_audio(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    """The work's recording (addressed by the work, never by a path), or a 404 in plain words."""
    work = get_object_or_404(Work, pk=pk)
    recording = pieces.recording_file(work)
    if recording is None:
        return HttpResponse(RECORDING_MISSING, status=404, content_type="text/plain; charset=utf-8")
    response = FileResponse(recording.path.open("rb"), content_type=recording.content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
