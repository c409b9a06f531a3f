"""``GET /api/v1/jobs/`` and ``GET /api/v1/jobs/{id}``: status of background jobs for whoever submitted them (all for staff).

Thin on purpose: visibility is :func:`jobs.selectors.jobs_visible_to`. An ingestion job's id is also its
job id here (the same UUID), so ``/api/v1/jobs/{id}`` shows the queue's side of an ingestion job.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.models import Job
from jobs.selectors import JobNotFound, job_for_user, jobs_visible_to


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = [
            "id",
            "task_name",
            "arguments",
            "status",
            "attempts",
            "max_attempts",
            "progress",
            "progress_message",
            "error",
            "result",
            "created_at",
            "started_at",
            "next_attempt_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobListView(generics.ListAPIView):
    """My background jobs (every job for staff), newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = JobSerializer
    filter_backends: list = []

    def get_queryset(self):
        return jobs_visible_to(self.request.user)


class JobDetailView(generics.GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = JobSerializer

    @extend_schema(
        summary="Status, attempts, progress and error of a background job",
        responses={200: JobSerializer, 404: OpenApiResponse(description="No such job (or not yours)")},
    )
    def get(self, request: Request, job_id: str) -> Response:
        try:
            job = job_for_user(job_id, user=request.user)
        except JobNotFound as exc:
            raise NotFound(str(exc)) from None
        return Response(JobSerializer(job).data)
