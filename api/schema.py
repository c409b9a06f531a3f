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


#: Statuses any API operation can answer, whatever the view: the error envelope for each.
#: 401/403 come from authentication and permissions, 404 from unknown ids and out-of-range pages,
#: 405 from another method, 406 from an unsupported Accept header, 429 from throttling.
COMMON_STATUSES = {
    "400": "Bad parameters; the message says what to fix.",
    "401": "Not authenticated.",
    "403": "Not allowed for this account.",
    "404": "Unknown id or page.",
    "405": "Method not allowed on this path.",
    "406": "Only application/json (or the format the docs list) can be returned.",
    "429": "Throttled; details.retry_after says when to retry.",
}
#: Statuses of operations that take a request body: 413 (body over the size limit), 415 (media type).
BODY_STATUSES = {
    "413": "The body is larger than the server accepts; the message gives the limit.",
    "415": "Unsupported media type; send application/json (or multipart where the docs say so).",
}


def document_every_status(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular post-processing hook: every operation lists every status it can answer.

    Why a hook: the statuses above come from DRF's machinery (authentication, throttling, content
    negotiation, the body-size limit), not from any one view, so no view would list them by itself.
    A status a view already documents keeps its own description.
    """
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    # Routes written as regexes with an optional slash (``audio[/]?``: POST cannot be redirected to add
    # one) reach the schema as a literal ``[/]``; the documented path is the one without it.
    result["paths"] = {path.replace("[/]", ""): item for path, item in result.get("paths", {}).items()}
    for path_item in result["paths"].values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = dict(COMMON_STATUSES)
            if method in {"post", "put", "patch"}:
                statuses.update(BODY_STATUSES)
            for code, description in statuses.items():
                operation["responses"].setdefault(code, {"content": envelope, "description": description})
    return result
