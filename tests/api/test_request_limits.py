"""Bodies over Django's DATA_UPLOAD_MAX_MEMORY_SIZE get a 413 in the error envelope, never a 500, and write nothing."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from catalog.models import Interaction, Interest
from ingestion.models import IngestionJob

OVERSIZED = "x" * 3_000_000  # over the default 2.5 MB


@pytest.fixture
def staff_client() -> APIClient:
    user = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def learner_client() -> APIClient:
    user = get_user_model().objects.create_user("learner", password="pw-learner-123")
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_too_large(response) -> None:
    assert response.status_code == 413, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "multipart" in error["message"] and "MB" in error["message"]


@pytest.mark.django_db
def test_oversized_json_document_is_413_and_queues_nothing(staff_client):
    body = json.dumps({"documents": [{"text": OVERSIZED}]})
    assert_too_large(staff_client.post("/api/v1/ingestion/documents", data=body, content_type="application/json"))
    assert IngestionJob.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("post", "/api/v1/me/interactions/", {"kind": "listen", "artist": 1, "note": OVERSIZED}),
        ("put", "/api/v1/me/interests/", {"tags": [OVERSIZED]}),
        ("post", "/api/v1/learning/mastery/", {"concept": OVERSIZED}),
    ],
)
def test_oversized_learner_bodies_are_413_and_store_nothing(learner_client, method, path, payload):
    response = getattr(learner_client, method)(path, data=json.dumps(payload), content_type="application/json")
    assert_too_large(response)
    assert Interaction.objects.count() == 0
    assert Interest.objects.count() == 0
