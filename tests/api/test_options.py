"""``OPTIONS`` answers on every API endpoint, for learners and anonymous callers alike (never a 500)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

ENDPOINTS = [
    "/api/v1/health/",
    "/api/v1/artists/",
    "/api/v1/courses/",
    "/api/v1/entities/",
    "/api/v1/me/",
    "/api/v1/me/history/",
    "/api/v1/me/recommendations/",
    "/api/v1/me/interactions/",
    "/api/v1/me/ask/",
    "/api/v1/me/interests/",
    "/api/v1/learning/profile/",
    "/api/v1/learning/mastery/",
    "/api/v1/learning/next-steps/",
    "/api/v1/learning/path/",
    "/api/v1/learning/concepts/",
    "/api/v1/ingestion/documents",
    "/api/v1/ingestion/jobs/",
    "/api/v1/audio",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ENDPOINTS)
def test_options_never_fails(path):
    learner = get_user_model().objects.create_user("learner", password="pw-learner-123")
    client = APIClient()
    client.force_authenticate(learner)
    response = client.options(path)
    assert response.status_code in (200, 403), (path, response.status_code, response.content[:200])
    anonymous = APIClient().options(path)
    assert anonymous.status_code < 500, (path, anonymous.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/me/interests/", "/api/v1/learning/profile/"])
def test_options_describes_the_put_body_of_views_without_a_queryset(path):
    learner = get_user_model().objects.create_user("learner", password="pw-learner-123")
    client = APIClient()
    client.force_authenticate(learner)
    body = client.options(path).json()
    assert "PUT" in body["actions"]
