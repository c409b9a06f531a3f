"""Routes under ``/api/v1/ingestion/`` (mounted by ``learning_platform/api_urls.py``)."""

from django.urls import path, re_path

from ingestion.api import views

urlpatterns = [
    # POST /api/v1/ingestion/documents, with or without the trailing slash (APPEND_SLASH cannot redirect a POST).
    re_path(r"^documents/?$", views.IngestionDocumentsView.as_view(), name="ingestion-documents"),
    path("jobs/", views.IngestionJobListView.as_view(), name="ingestion-job-list"),
    path("jobs/<str:job_id>/", views.IngestionJobDetailView.as_view(), name="ingestion-job-detail"),
]
