"""Routes of the recommender's API (catalog browsing, graph entities, the learner's ``/me/`` endpoints).

Included under ``/api/v1/`` by :mod:`learning_platform.api_urls`, which composes every app's routes.
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from recommender.api import ask, views

router = SimpleRouter()
router.register("artists", views.ArtistViewSet, basename="artist")
router.register("courses", views.CourseViewSet, basename="course")

urlpatterns = [
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
    path(
        "users/<int:listener_id>/recommendations/",
        views.ListenerRecommendationsView.as_view(),
        name="listener-recommendations",
    ),
]
