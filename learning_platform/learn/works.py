"""Learner page of a work with sound: its facts, its spectrogram and the works it "sounds like".

Thin on purpose: the picture is :func:`audio.spectrogram.spectrogram_png` (cached by content,
served through ``GET /api/v1/audio/spectrograms/<sha256>.png``), the neighbours are
:func:`audio.encoder.service.sounds_like_work`. The page degrades instead of failing: without
rendered audio it says to run ``load_works``, without a trained encoder it says to run
``train_audio_encoder``; the facts are always shown.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from catalog.models import Work
from core.errors import AudioInputError, ModelArtifactError


def _spectrogram_url(work: Work) -> tuple[str | None, str | None]:
    """(URL of the picture, or None and the reason)."""
    from audio.spectrogram import spectrogram_png

    audio = Path(settings.LEITMOTIF_CACHE_DIR) / work.audio_path if work.audio_path else None
    if audio is None or not audio.is_file():
        return None, "The recording of this work has not been rendered here; run `python manage.py load_works`."
    try:
        sha256 = spectrogram_png(audio).stem
    except AudioInputError as exc:
        return None, exc.message
    return reverse("api:audio-spectrogram", args=[sha256]), None


@require_GET
def work_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from audio.encoder.artifacts import load_audio_encoder
    from audio.encoder.service import sounds_like_work

    work = get_object_or_404(Work, pk=pk)
    spectrogram_url, spectrogram_note = _spectrogram_url(work)
    similar, similar_note, reads_facts = [], None, False
    if spectrogram_url:
        try:
            encoder = load_audio_encoder()
            reads_facts = encoder.config.uses_side
            similar = sounds_like_work(work, k=5, encoder=encoder)
        except ModelArtifactError:
            similar_note = "No audio encoder is trained yet; run `python manage.py train_audio_encoder` to see works this one sounds like."
        except AudioInputError as exc:
            similar_note = exc.message
    else:
        similar_note = spectrogram_note
    context = {
        "work": work,
        "instruments": [slug.replace("-", " ") for slug in work.instrumentation or []],
        "spectrogram_url": spectrogram_url,
        "spectrogram_note": spectrogram_note,
        "similar": similar,
        "similar_note": similar_note,
        "encoder_reads_facts": reads_facts,
    }
    return render(request, "learn/work_detail.html", context)
