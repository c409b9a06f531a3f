"""Routes of the versioned API, mounted at ``/api/v1/`` by ``learning_platform/urls.py``."""
from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from recommender.api import ask, views

app_name = "api"

router = SimpleRouter()
router.register("artists", views.ArtistViewSet, basename="artist")
router.register("courses", views.CourseViewSet, basename="course")

urlpatterns = [
    path("health/", views.HealthView.as_view(), name="health"),
    path("", include(router.urls)),
    path("entities/", views.EntityListView.as_view(), name="entity-list"),
    path("entities/<str:entity_id>/", views.EntityDetailView.as_view(), name="entity-detail"),
    path("entities/<str:entity_id>/neighbours/", views.EntityNeighboursView.as_view(), name="entity-neighbours"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/history/", views.MyHistoryView.as_view(), name="me-history"),
    path("me/recommendations/", views.MyRecommendationsView.as_view(), name="me-recommendations"),
    path("me/interactions/", views.MyInteractionsView.as_view(), name="me-interactions"),
    path("me/ask/", ask.AskView.as_view(), name="me-ask"),
    path("me/interests/", views.MyInterestsView.as_view(), name="me-interests"),
    path("users/<int:listener_id>/history/", views.ListenerHistoryView.as_view(), name="listener-history"),
    path("users/<int:listener_id>/recommendations/", views.ListenerRecommendationsView.as_view(), name="listener-recommendations"),
    path("ingestion/", include("ingestion.api.urls")),
    path("audio", include("ingestion.audio.api_urls")),
    path("learning/", include("learning_platform.curriculum.api_urls")),
    # Last: anything else under /api/v1/ is a 404 in the error envelope.
    re_path(r"^(?P<unmatched>.*)$", views.api_not_found, name="not-found"),
]
