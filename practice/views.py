"""The learner's practice page: pick a work, hear the reference, record or upload, read the feedback.

Thin on purpose: the upload goes to ``POST /api/v1/practice/sessions`` from ``static/practice/practice.js``
(the browser records with MediaRecorder and sends a WAV it encodes itself, because Chromium records
WebM/Opus, which libsndfile does not read); the feedback page reads the session through
:mod:`practice.selectors` and draws :func:`practice.timeline.timeline`.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.services import is_learner
from catalog.models import Work
from core.errors import LeitmotifError
from practice import selectors
from practice.api import session_payload
from practice.timeline import timeline

logger = logging.getLogger(__name__)

LOGIN = "learn:login"


def _not_a_learner(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "practice/practice.html",
        {"not_learner": True, "works": [], "sessions": []},
        status=403,
    )


@login_required(login_url=LOGIN)
@require_GET
def practice_page(request: HttpRequest) -> HttpResponse:
    if not is_learner(request.user):
        return _not_a_learner(request)
    from curriculum.selectors import learner_settings

    learner = learner_settings(request.user)
    works = selectors.works_for_learner(level=learner.level, instruments=learner.instruments)
    chosen = None
    wanted = request.GET.get("work")
    if wanted and wanted.isdigit():
        chosen = Work.objects.filter(pk=int(wanted)).first()
    chosen = chosen or (works[0] if works else None)
    sessions = list(selectors.sessions_for_user(request.user)[:10])
    context = {
        "works": works,
        "chosen": chosen,
        "level": learner.level,
        "sessions": sessions,
        "history": selectors.progress_history(request.user),
    }
    if not works:
        logger.warning("No works with a score are loaded: run `python manage.py load_works` (part of `make demo`).")
    return render(request, "practice/practice.html", context)


@login_required(login_url=LOGIN)
@require_GET
def reference_audio(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    """The reference rendering of the excerpt to practise (rendered on first request, then cached)."""
    from practice.reference import load_reference

    work = get_object_or_404(Work, pk=pk)
    try:
        reference = load_reference(work)
    except LeitmotifError as exc:
        return HttpResponse(exc.message, status=404, content_type="text/plain; charset=utf-8")
    response = FileResponse(reference.audio_path.open("rb"), content_type="audio/flac")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required(login_url=LOGIN)
@require_GET
def session_page(request: HttpRequest, pk: int) -> HttpResponse:
    if not is_learner(request.user):
        return _not_a_learner(request)
    try:
        session = selectors.session_for_user(request.user, pk)
    except LeitmotifError as exc:
        return render(request, "learn/error.html", {"message": exc.message}, status=404)
    payload = session_payload(session)
    feedback = getattr(session, "feedback", None) if payload["feedback"] else None
    context = {
        "session": session,
        "payload": payload,
        "feedback": payload["feedback"],
        "timeline": timeline(feedback, duration=session.duration_seconds) if feedback is not None else None,
        "dimensions": [
            (name.replace("_", " ").replace("rhythm timing", "rhythm & timing"), value, round(value * 100))
            for name, value in (payload["feedback"]["dimensions"].items() if payload["feedback"] else [])
        ],
        "history": selectors.progress_history(request.user, work=session.work),
    }
    return render(request, "practice/session.html", context)
