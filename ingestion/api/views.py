"""``/api/v1/ingestion/``: submit documents for ingestion (a queued job) and read the job's status and result.

Thin on purpose: reading and checking is :mod:`ingestion.documents`, queueing is :mod:`ingestion.jobs`.
Who may submit: staff, curators, and API clients whose account has the ``ingestion.add_ingestionjob``
permission (``create_api_client NAME --ingest``); read-only clients and learners get a 403 that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import CanIngest
from core.errors import DocumentInputError, IngestionJobError
from ingestion.api.serializers import IngestionJobSerializer, IngestionRequestSerializer
from ingestion.documents import documents_from_bytes, text_document
from ingestion.jobs import get_job, submit_job
from ingestion.models import IngestionJob

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class IngestionDocumentsView(generics.GenericAPIView):
    """POST documents (JSON or multipart files): returns 202 and the queued job to poll."""

    permission_classes = [CanIngest]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    serializer_class = IngestionRequestSerializer

    @extend_schema(
        summary="Queue documents for ingestion (NER, linking, relation extraction into the graph)",
        request={
            "application/json": IngestionRequestSerializer,
            "multipart/form-data": {
                "type": "object",
                "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
            },
        },
        responses={
            202: IngestionJobSerializer,
            400: OpenApiResponse(description="Malformed documents"),
            403: OpenApiResponse(description="Not allowed to ingest"),
        },
    )
    def post(self, request: Request) -> Response:
        documents = []
        uploads = request.FILES.getlist("files") if hasattr(request, "FILES") else []
        try:
            for upload in uploads:
                documents.extend(
                    documents_from_bytes(
                        upload.read(), name=upload.name, max_bytes=settings.INGESTION_MAX_DOCUMENT_BYTES
                    )
                )
        except DocumentInputError as exc:
            raise ValidationError({"files": [exc.message]}) from None
        if not uploads:
            serializer = IngestionRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            items = serializer.validated_data.get("documents") or []
            for position, item in enumerate(items):
                try:
                    documents.append(
                        text_document(
                            item["text"], name=item["name"], media_type=item["media_type"], title=item["title"]
                        )
                    )
                except DocumentInputError as exc:
                    raise ValidationError({f"documents[{position}].text": [exc.message]}) from None
        if not documents:
            raise ValidationError(
                {
                    "documents": [
                        'Send {"documents": [{"name": ..., "text": ...}]} as JSON, or upload files as multipart "files".'
                    ]
                }
            )
        try:
            job = submit_job(documents, user=request.user, origin="api")
        except IngestionJobError as exc:
            raise ValidationError({"documents": [exc.message]}) from None
        body = IngestionJobSerializer(job).data
        body["status_url"] = request.build_absolute_uri(f"/api/v1/ingestion/jobs/{job.pk}/")
        return Response(body, status=status.HTTP_202_ACCEPTED)


class IngestionJobListView(generics.ListAPIView):
    """My ingestion jobs (all jobs for staff), newest first."""

    permission_classes = [CanIngest]
    serializer_class = IngestionJobSerializer
    filter_backends: list = []

    def get_queryset(self):
        jobs = IngestionJob.objects.prefetch_related("documents").select_related("submitted_by")
        user = cast("User", self.request.user)  # CanIngest admits only signed-in accounts
        return jobs if user.is_staff else jobs.filter(submitted_by=user)


class IngestionJobDetailView(generics.GenericAPIView):
    permission_classes = [CanIngest]
    serializer_class = IngestionJobSerializer

    @extend_schema(
        summary="Status and result of an ingestion job",
        responses={200: IngestionJobSerializer, 404: OpenApiResponse(description="No such job")},
    )
    def get(self, request: Request, job_id: str) -> Response:
        try:
            job = get_job(job_id, user=request.user)
        except IngestionJobError as exc:
            raise NotFound(exc.message) from None
        return Response(IngestionJobSerializer(job).data)
