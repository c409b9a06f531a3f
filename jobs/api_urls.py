"""Routes under ``/api/v1/jobs/`` (mounted by ``learning_platform/api_urls.py``)."""

from django.urls import path, re_path

from jobs import api

urlpatterns = [
    path("", api.JobListView.as_view(), name="job-list"),
    # GET /api/v1/jobs/{id}, with or without the trailing slash.
    re_path(r"^(?P<job_id>[^/]+)/?$", api.JobDetailView.as_view(), name="job-detail"),
]
