"""API endpoints that belong to no app: the liveness probe and the 404 for any unknown path under /api/v1/."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import error_response


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()


class HealthView(APIView):
    """Liveness probe: no authentication, no database, no throttling."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(responses=HealthSerializer, auth=[], summary="Liveness probe")
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


def api_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    """Any other path under /api/v1/: a 404 in the envelope (never Django's HTML page)."""
    path = request.path
    hint = " See /api/docs/ for the endpoints."
    if not path.endswith("/"):
        try:
            match = resolve(path + "/")
        except (Resolver404, Http404):
            match = None
        if match is not None and match.func is not api_not_found:
            hint = f" Did you mean {path}/ (with a trailing slash)?"
    return error_response(
        status_code=status.HTTP_404_NOT_FOUND,
        code="not_found",
        message=f"No API endpoint at {path}.{hint}",
        details={"path": path},
    )
