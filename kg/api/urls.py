"""Routes of the knowledge-graph API under ``/api/v1/`` (mounted by ``learning_platform/api_urls.py``)."""

from django.urls import path

from kg.api import views

urlpatterns = [
    path("entities/", views.EntityListView.as_view(), name="entity-list"),
    path("entities/<str:entity_id>/", views.EntityDetailView.as_view(), name="entity-detail"),
    path("entities/<str:entity_id>/neighbours/", views.EntityNeighboursView.as_view(), name="entity-neighbours"),
]
