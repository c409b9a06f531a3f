"""Routes of the recommender's API (catalog browsing, the learner's ``/me/`` and ``/users/{id}/`` endpoints).

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
