"""Ids that are not whole numbers in range are refused with a message, never truncated or a 500."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from catalog.models import Artist, Interaction


@pytest.fixture
def learner_client() -> APIClient:
    user = get_user_model().objects.create_user("learner", password="pw-learner-123")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "mention"),
    [
        ("1e999", "numeric id"),
        ("1.5", "numeric id"),
        ("true", "numeric id"),
        ("0", "from 1 to"),
        ("-3", "from 1 to"),
        (str(10**30), "from 1 to"),
        ('"abc"', "numeric id"),
    ],
)
def test_interaction_artist_id_must_be_a_whole_number_in_range(learner_client, raw, mention):
    Artist.objects.create(pk=1, lastfm_id=1, name="Artist One")
    body = f'{{"kind": "listen", "artist": {raw}}}'
    response = learner_client.post("/api/v1/me/interactions/", data=body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert mention in error["message"] and "/api/v1/artists/?q=NAME" in error["message"]
    assert Interaction.objects.count() == 0


@pytest.mark.django_db
def test_a_numeric_string_id_still_works(learner_client):
    Artist.objects.create(pk=1, lastfm_id=1, name="Artist One")
    body = json.dumps({"kind": "listen", "artist": "1"})
    response = learner_client.post("/api/v1/me/interactions/", data=body, content_type="application/json")
    assert response.status_code in (200, 201), response.content[:300]


@pytest.mark.django_db
def test_an_empty_kind_means_the_default_on_every_endpoint(learner_client):
    """``kind=`` (as an HTML form sends it) is the same as leaving kind out, on both list endpoints."""
    for path in ("/api/v1/me/recommendations/?kind=", "/api/v1/me/ask/?q=jazz&kind="):
        response = learner_client.get(path)
        # No model is published in this test: the request itself was accepted (503), not refused (400).
        assert response.status_code == 503, (path, response.content[:200])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "mention"),
    [
        ("/api/v1/me/ask/?q=", "q is empty: write the request in plain words"),
        ("/api/v1/me/ask/", "q is required: write the request in plain words"),
        ("/api/v1/me/ask/?q=jazz&kind=film", 'kind must be "music" or "course"'),
        ("/api/v1/me/ask/?q=jazz&k=lots", "k must be a whole number"),
    ],
)
def test_refusals_say_what_to_send(learner_client, path, mention):
    response = learner_client.get(path)
    assert response.status_code == 400
    assert mention in response.json()["error"]["message"]
