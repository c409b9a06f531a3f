"""One error envelope for every API failure: ``{"error": {"code", "message", "details"}}``.

Why one shape: a client (the web front end, a notebook, a partner's batch job) handles errors with one
branch instead of guessing between DRF's ``{"detail": ...}``, per-field dicts and Django's HTML pages.
``code`` is stable and machine-readable (DRF's codes such as ``not_authenticated``, ``throttled``,
``invalid``; the catalogue's ``E004``-style codes for :class:`~core.errors.LeitmotifError`),
``message`` is one sentence a human can act on, ``details`` carries the structured rest (field errors,
``retry_after``...).

The handler is installed as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``; :func:`error_response` is used by
the few places that answer outside a DRF view (the catch-all 404 under ``/api/``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import (
    ConfigurationError,
    DataFileError,
    InvalidGraphDataError,
    LeitmotifError,
    ModelArtifactError,
    NoServingModelError,
    NotALearnerError,
    StoreUnavailableError,
    UnknownEntityError,
)

logger = logging.getLogger(__name__)

#: What to do when no recommender model is being served (raised by recommender.serving).
NO_MODEL_HINT = "Run `python manage.py train_recommender` and then `python manage.py publish_model`."


class PayloadTooLarge(drf_exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _too_large_message() -> str:
    limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1_000_000
    return (
        f"The request body is larger than the {limit_mb:g} MB accepted for JSON and form bodies: send long "
        "documents as multipart file uploads (field `files`), or split the request into smaller ones."
    )


class ServiceUnavailable(drf_exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable."
    default_code = "service_unavailable"


def _leitmotif_status(exc: LeitmotifError) -> int:
    """HTTP status of a catalogue error: the most specific class decides.

    A missing model or an unreachable store is a server-side state the client cannot fix: 503.
    """
    if isinstance(exc, (NoServingModelError, StoreUnavailableError, ModelArtifactError)):
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if isinstance(exc, UnknownEntityError):
        return status.HTTP_404_NOT_FOUND
    if isinstance(exc, NotALearnerError):
        return status.HTTP_403_FORBIDDEN
    if isinstance(exc, (ConfigurationError, InvalidGraphDataError, DataFileError)):
        return status.HTTP_400_BAD_REQUEST
    return status.HTTP_400_BAD_REQUEST


def _leitmotif_message(exc: LeitmotifError, http_status: int) -> str:
    if isinstance(exc, NoServingModelError) and "train_recommender" not in exc.message:
        return f"{exc.message} {NO_MODEL_HINT}"
    return exc.message


#: DRF's default messages name a problem without its fix; each is replaced by one that says what to send.
#: Keyed by (error code, DRF's exact default text); messages written by our serializers are left alone.
_DRF_DEFAULT_FIXES: dict[tuple[str | None, str | None], str] = {
    ("required", "This field is required."): "{field} is required: send it (the parameters are listed at /api/docs/).",
    (
        "blank",
        "This field may not be blank.",
    ): "{field} is empty: give a value, or leave {field} out if it is optional.",
    ("null", "This field may not be null."): "{field} may not be null: give a value, or leave {field} out.",
    ("invalid", "A valid integer is required."): "{field} must be a whole number, e.g. {field}=10.",
    ("invalid", "A valid number is required."): "{field} must be a number, e.g. {field}=0.5.",
    ("invalid", "Must be a valid boolean."): "{field} must be true or false.",
    ("not_a_list", None): "{field} must be a list (a JSON array, or the parameter repeated).",
    ("invalid_choice", None): "{field}: {message} Use one of the values listed for {field} at /api/docs/.",
    ("empty", "This list may not be empty."): "{field} is an empty list: give at least one value.",
}


def _with_fixes(detail: Any, field: str = "") -> Any:
    """``detail`` with DRF's default messages replaced by ones that say how to fix the request."""
    if isinstance(detail, dict):
        return {key: _with_fixes(value, key if key != "non_field_errors" else field) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_with_fixes(item, field) for item in detail]
    code = getattr(detail, "code", None)
    text = str(detail)
    template = _DRF_DEFAULT_FIXES.get((code, text)) or _DRF_DEFAULT_FIXES.get((code, None))
    if template is None or not field:
        return detail
    if code == "invalid_choice" and not text.endswith("is not a valid choice."):
        return detail
    if code == "not_a_list" and not text.startswith("Expected a list of items"):
        return detail
    return drf_exceptions.ErrorDetail(template.format(field=field, message=text), code=code)


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """Field errors as ``"field: message"`` lines, nested fields joined with dots."""
    if isinstance(detail, dict):
        lines: list[str] = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            lines.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
        return lines
    if isinstance(detail, list):
        lines = []
        for item in detail:
            lines.extend(_flatten(item, prefix))
        return lines
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def _plain(detail: Any) -> Any:
    """ErrorDetail trees as plain JSON data (strings stay strings)."""
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_plain(v) for v in detail]
    return str(detail)


def error_payload(*, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


def error_response(*, status_code: int, code: str, message: str, details: Any = None) -> JsonResponse:
    """The envelope as a plain Django response, for answers given outside DRF views."""
    return JsonResponse(error_payload(code=code, message=message, details=details), status=status_code)


def _drf_error(exc: drf_exceptions.APIException) -> tuple[str, str, Any]:
    """(code, message, details) of a DRF exception."""
    if isinstance(exc, drf_exceptions.ValidationError):
        exc.detail = _with_fixes(exc.detail)
        lines = _flatten(exc.detail)
        message = "The request is invalid: " + "; ".join(lines) if lines else "The request is invalid."
        fields = _plain(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields if isinstance(fields, list) else [fields]}
        return "invalid", message, {"fields": fields}
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    message = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else "; ".join(_flatten(exc.detail))
    details: dict[str, Any] = {}
    if isinstance(exc, drf_exceptions.Throttled):
        wait: float | None = getattr(exc, "wait", None)  # set by Throttled.__init__; missing from the stubs
        details["retry_after"] = wait
        if wait is not None:
            message = f"Too many requests: slow down and retry in {int(wait) + 1} seconds."
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        message = (
            "Authentication credentials were not provided: send `Authorization: Token <key>` "
            "(create one with `python manage.py create_api_client NAME`) or log in for a session."
        )
    if isinstance(exc, drf_exceptions.AuthenticationFailed) and code == "authentication_failed":
        message = f"{exc.detail} Check the token, or create a new one with `python manage.py create_api_client NAME`."
    return str(code), message, details


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Turn any exception raised in an API view into the envelope (DRF's ``EXCEPTION_HANDLER``).

    Unexpected exceptions become a 500 envelope too (and are logged with their traceback): the API
    never answers with an HTML page.
    """
    if isinstance(exc, Http404):
        message = str(exc) or "Not found."
        if (
            message in {"No %s matches the given query.", "Not found."}
            or message.startswith("No ")
            and "matches the given query" in message
        ):
            message = "Not found: check the id in the URL."
        exc = drf_exceptions.NotFound(message)
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses to buffer a JSON/form body over DATA_UPLOAD_MAX_MEMORY_SIZE: the client must send less.
        exc = PayloadTooLarge(_too_large_message())
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = drf_exceptions.ValidationError(detail)

    headers: dict[str, str] = {}
    if isinstance(exc, LeitmotifError):
        http_status = _leitmotif_status(exc)
        payload = error_payload(
            code=exc.code,
            message=_leitmotif_message(exc, http_status),
            details={"error_class": type(exc).__name__},
        )
    elif isinstance(exc, drf_exceptions.APIException):
        http_status = exc.status_code
        code, message, details = _drf_error(exc)
        payload = error_payload(code=code, message=message, details=details)
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait) + 1)
    else:
        view = context.get("view")
        logger.exception("Unhandled error in API view %s", type(view).__name__ if view else "?")
        http_status = status.HTTP_500_INTERNAL_SERVER_ERROR
        payload = error_payload(
            code="server_error",
            message="An unexpected error occurred on the server; it has been logged. Retry later or report it.",
        )
    set_rollback()
    return Response(payload, status=http_status, headers=headers)
