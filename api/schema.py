"""OpenAPI pieces every app's API shares: the error envelope and the error responses it documents."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ENVELOPE = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="Error",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)
ERRORS = {
    400: OpenApiResponse(ENVELOPE, description="Bad parameters; the message says what to fix."),
    401: OpenApiResponse(ENVELOPE, description="Not authenticated."),
    403: OpenApiResponse(ENVELOPE, description="Not allowed (another learner's data, or a read-only client writing)."),
    404: OpenApiResponse(ENVELOPE, description="Unknown id."),
    429: OpenApiResponse(ENVELOPE, description="Throttled; details.retry_after says when to retry."),
}
