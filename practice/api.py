"""``/api/v1/practice/sessions``: upload a recording of a work, follow its analysis, read the feedback.

Thin on purpose: checks and analysis are :mod:`practice.services`, the runner :mod:`practice.jobs`,
reads :mod:`practice.selectors`. Learners only (like the ``/me/`` endpoints): other accounts get a 403
in the error envelope. Bad audio (undecodable, silent, noise, far too short or long, another piece) is a
400 with the E040 message that says what to do, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Work
from core.errors import UnknownEntityError
from practice import jobs, selectors, services
from practice.models import PracticeSession


class SessionCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Your recording (wav, ogg, flac, mp3 or aiff).")
    work = serializers.IntegerField(
        min_value=1, help_text="Id of the work you played (GET /api/v1/works or the practice page)."
    )


def session_payload(session: PracticeSession) -> dict[str, Any]:
    """A session as the API and the page show it: status and progress, then the feedback when ready."""
    body: dict[str, Any] = {
        "id": session.pk,
        "work": {"id": session.work_id, "title": session.work.title},
        "status": session.status,
        "progress": session.progress,
        "stage": session.stage,
        "duration_seconds": session.duration_seconds,
        "audio_sha256": session.audio_sha256,
        "created_at": session.created_at.isoformat(),
        "error": {"code": session.error_code, "message": session.error} if session.error else None,
        "feedback": None,
    }
    feedback = getattr(session, "feedback", None) if session.status == PracticeSession.Status.SUCCEEDED else None
    if feedback is not None:
        body["feedback"] = {
            "overall": feedback.overall,
            "dimensions": feedback.dimensions,
            "note_errors": feedback.note_errors,
            "bars": feedback.bars,
            "figures": feedback.figures,
            "concepts": feedback.concepts,
            "next_step": feedback.next_step,
            "sentences": feedback.sentences,
            "text": " ".join(feedback.sentences),
        }
    return body


class _LearnerView(APIView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        services.require_practising_learner(request.user)


class SessionListView(_LearnerView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="practice_sessions_list",
        summary="Your practice sessions, newest first",
        responses={200: OpenApiResponse(description="sessions")},
    )
    def get(self, request: Request) -> Response:
        rows = selectors.sessions_for_user(request.user)[:50]
        return Response(
            {"results": [session_payload(s) for s in rows], "progress": selectors.progress_history(request.user)}
        )

    @extend_schema(
        summary="Upload a recording of a work and get feedback (202 while it is analysed, 201 when ready)",
        request={"multipart/form-data": SessionCreateSerializer},
        responses={
            201: OpenApiResponse(description="Analysed: structured feedback and sentences"),
            202: OpenApiResponse(description="Queued: poll GET /api/v1/practice/sessions/{id}"),
            400: OpenApiResponse(description="Bad audio (undecodable, silent, noise, too short/long, another piece)"),
            403: OpenApiResponse(description="Not a learner"),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = SessionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        work = Work.objects.filter(pk=data["work"]).first()
        if work is None:
            raise UnknownEntityError(f"No work {data['work']}; pick a work id from the practice page (/practice/).")
        upload = data["file"]
        session = services.session_create(request.user, work=work, raw=upload.read(), name=upload.name or "recording")
        session = jobs.submit_session(session)
        session = selectors.session_for_user(request.user, session.pk)
        if session.status == PracticeSession.Status.FAILED:
            # Inline analysis refused the recording: the same envelope as any other bad audio.
            from api.exceptions import error_response

            return error_response(status_code=400, code=session.error_code or "E040", message=session.error)  # type: ignore[return-value]
        ready = session.status == PracticeSession.Status.SUCCEEDED
        return Response(session_payload(session), status=status.HTTP_201_CREATED if ready else status.HTTP_202_ACCEPTED)


class SessionDetailView(_LearnerView):
    @extend_schema(
        summary="One of your practice sessions: status, progress and feedback",
        responses={200: OpenApiResponse(description="session")},
    )
    def get(self, request: Request, session_id: str) -> Response:
        return Response(session_payload(selectors.session_for_user(request.user, session_id)))
