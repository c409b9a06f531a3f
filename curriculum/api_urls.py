"""Routes under ``/api/v1/learning/`` (mounted by ``learning_platform/api_urls.py`` inside the ``api`` namespace)."""

from django.urls import path

from curriculum import api_views

urlpatterns = [
    path("profile/", api_views.ProfileView.as_view(), name="learning-profile"),
    path("mastery/", api_views.MasteryView.as_view(), name="learning-mastery"),
    path("next-steps/", api_views.NextStepsView.as_view(), name="learning-next-steps"),
    path("path/", api_views.PathView.as_view(), name="learning-path"),
    path("concepts/", api_views.ConceptListView.as_view(), name="learning-concepts"),
]
