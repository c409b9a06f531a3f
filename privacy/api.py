"""``/api/v1/me/data/``: the caller's own data rights — export, delete the account, the training opt-out.

Thin, like every API module: a small serializer validates the input, one selector or service does the work.
Every endpoint is about ``request.user`` only (there is no way to name another account); anonymous callers
get 401, read-only API clients may only read (403 on writes), and staff, curator and API-client accounts
cannot delete themselves here (403, E023: an administrator removes them). Errors leave in the envelope of
:mod:`api.exceptions`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import ENVELOPE, ERRORS
from privacy import selectors, services
from privacy.downloads import export_download_response
from privacy.messages import deletion_message, opt_out_message
from privacy.models import DataRightsEvent
from privacy.serializers import (
    DataExportSerializer,
    DeletionReceiptSerializer,
    ExportQuerySerializer,
    PasswordConfirmationSerializer,
    TrainingOptOutInputSerializer,
    TrainingOptOutSerializer,
)

CHANNEL = DataRightsEvent.Channel.API


def _errors(*codes: int, **described: str) -> dict[int, OpenApiResponse]:
    """The shared envelope responses for ``codes``; ``e403="..."`` replaces one description with a precise one."""
    out = {code: ERRORS[code] for code in codes}
    for key, description in described.items():
        out[int(key[1:])] = OpenApiResponse(ENVELOPE, description=description)
    return dict(sorted(out.items()))


DELETE_ERRORS = _errors(
    401,
    e400="The password is missing, or is not your current one (nothing was deleted).",
    e403="A read-only API client; a staff, curator or API-client account (E023: an administrator removes those); "
    "or a session request without its CSRF token.",
    e413="The body is larger than the server accepts; the message gives the limit.",
    e415="Unsupported media type; send the password as application/json (or a form).",
    e429="Too many requests, or too many wrong passwords (code locked_out; Retry-After says when to retry).",
)
OPT_OUT_WRITE_ERRORS = _errors(
    400,
    401,
    429,
    e403="A read-only API client, or an account that is not a learner (E023: only learners have listening to opt out).",
)


class AccountLocked(exceptions.APIException):
    """429 ``locked_out``: django-axes refuses the password check for a while (``wait`` becomes Retry-After)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many wrong passwords: try again later."
    default_code = "locked_out"

    def __init__(self, detail: str, *, wait: int | None = None) -> None:
        super().__init__(detail)
        self.wait = wait


def _body(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _delete(request: Request) -> Response:
    password = _body(PasswordConfirmationSerializer, request)["password"]
    try:
        receipt = services.learner_account_delete(
            request.user, password_confirmation=password, request=request._request, channel=CHANNEL
        )
    except services.PasswordConfirmationError as exc:
        if exc.locked:
            raise AccountLocked(exc.message, wait=exc.retry_after) from None
        raise exceptions.ValidationError({"password": [exc.message]}) from None
    if request._request.session.session_key is not None:
        logout(request._request)
    data = {
        "deleted": True,
        "rows_deleted": receipt.deleted,
        "rows_anonymised": receipt.anonymised,
        "trained_row_masked": receipt.trained_row_masked,
        "message": deletion_message(trained_row_masked=receipt.trained_row_masked),
    }
    return Response(DeletionReceiptSerializer(data).data)


class MyDataView(generics.GenericAPIView):
    """Everything the platform holds about me (GET), or delete my account and all of it (DELETE)."""

    serializer_class = DataExportSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="Export everything Leitmotif holds about me (JSON; ?download=true for a file)",
        parameters=[ExportQuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse(
                DataExportSerializer,
                description="The export: profile, interests, listens, interactions, progress, mastery, ingestion "
                "jobs, API tokens (listed, never revealed), login records, and which models were trained with "
                "my listening. With download=true, the same JSON as an attachment.",
            ),
            **_errors(400, 401, 429),
        },
    )
    def get(self, request: Request) -> Response | HttpResponse:
        params = ExportQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        export = services.learner_data_export_deliver(request.user, channel=CHANNEL)
        if params.validated_data["download"]:
            return export_download_response(export)
        return Response(export)

    @extend_schema(
        summary="Delete my account and everything Leitmotif holds about me (confirm with the current password)",
        description='Send the current password as the JSON body, `{"password": "..."}`. OpenAPI 3.0 cannot '
        "describe a DELETE body, so the same operation is also POST /api/v1/me/data/delete/ with the body "
        "documented there. Cannot be undone; the answer says how many rows of each kind went.",
        request=PasswordConfirmationSerializer,
        responses={200: DeletionReceiptSerializer, **DELETE_ERRORS},
    )
    def delete(self, request: Request) -> Response:
        return _delete(request)


class MyAccountDeleteView(generics.GenericAPIView):
    """The same deletion as ``DELETE /me/data/``, for clients that cannot send a body with DELETE."""

    serializer_class = PasswordConfirmationSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="Delete my account and everything Leitmotif holds about me (POST form of DELETE /me/data/)",
        request=PasswordConfirmationSerializer,
        responses={200: DeletionReceiptSerializer, **DELETE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return _delete(request)


class MyTrainingOptOutView(generics.GenericAPIView):
    """Whether my listening and interactions may train the recommender (the next retrain honours a change)."""

    serializer_class = TrainingOptOutInputSerializer  # the browsable API's form and OPTIONS describe the input
    pagination_class = None
    filter_backends: list = []

    def _answer(self, state: selectors.TrainingOptOutState) -> Response:
        data = {
            "training_opt_out": state.training_opt_out,
            "applies": state.applies,
            "in_published_model": state.in_published_model,
            "message": opt_out_message(state),
        }
        return Response(TrainingOptOutSerializer(data).data)

    @extend_schema(summary="My training opt-out", responses={200: TrainingOptOutSerializer, **_errors(401, 429)})
    def get(self, request: Request) -> Response:
        return self._answer(selectors.training_opt_out_state(request.user))

    @extend_schema(
        summary="Opt out of (true) or back into (false) model training",
        request=TrainingOptOutInputSerializer,
        responses={200: TrainingOptOutSerializer, **OPT_OUT_WRITE_ERRORS},
    )
    def put(self, request: Request) -> Response:
        data = _body(TrainingOptOutInputSerializer, request)
        return self._answer(services.training_opt_out_set(request.user, data["training_opt_out"], channel=CHANNEL))

    @extend_schema(
        summary="Opt out of (true) or back into (false) model training",
        request=TrainingOptOutInputSerializer,
        responses={200: TrainingOptOutSerializer, **OPT_OUT_WRITE_ERRORS},
    )
    def patch(self, request: Request) -> Response:
        return self.put(request)
