"""Routes under ``/api/v1/me/data/`` (mounted by ``learning_platform/api_urls.py`` inside the ``api`` namespace)."""

from django.urls import path

from privacy import api

urlpatterns = [
    path("", api.MyDataView.as_view(), name="me-data"),
    path("delete/", api.MyAccountDeleteView.as_view(), name="me-data-delete"),
    path("training-opt-out/", api.MyTrainingOptOutView.as_view(), name="me-data-training-opt-out"),
]
