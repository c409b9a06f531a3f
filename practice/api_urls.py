"""Routes under ``/api/v1/practice/`` (mounted by ``learning_platform/api_urls.py`` inside the ``api`` namespace)."""

from django.urls import re_path

from practice import api

urlpatterns = [
    re_path(r"^sessions/?$", api.SessionListView.as_view(), name="practice-sessions"),
    re_path(r"^sessions/(?P<session_id>[^/]+)/?$", api.SessionDetailView.as_view(), name="practice-session"),
]
