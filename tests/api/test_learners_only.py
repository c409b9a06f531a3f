"""Only learners have listening histories: staff, curators and API clients never get one as a side effect."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import CURATOR_GROUP, is_learner
from api.services import api_client_create
from catalog.models import Artist, Listener


def _staff():
    return get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)


def _curator():
    user = get_user_model().objects.create_user("curator", password="pw-curator-123")
    user.groups.add(Group.objects.get_or_create(name=CURATOR_GROUP)[0])
    return user


def _api_client():
    api_client_create(name="program", read_only=False)
    return get_user_model().objects.get(username="program")


NON_LEARNERS = {"staff": _staff, "curator": _curator, "api client": _api_client}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", NON_LEARNERS)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/me/recommendations/", None),
        ("get", "/api/v1/me/recommendations/?kind=course", None),
        ("post", "/api/v1/me/interactions/", {"kind": "listen", "artist": 1}),
        ("put", "/api/v1/me/interests/", {"entity_ids": []}),
    ],
)
def test_non_learners_get_403_and_no_listener(kind, method, path, body):
    Artist.objects.create(pk=1, lastfm_id=1, name="Artist One", entity_id="lastfm:artist:1")
    user = NON_LEARNERS[kind]()
    assert not is_learner(user)
    client = APIClient()
    client.force_authenticate(user)
    response = getattr(client, method)(path, data=body, format="json")
    assert response.status_code == 403, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "E023" and "learner" in error["message"]
    assert not Listener.objects.filter(user=user).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["staff", "curator"])
def test_learner_pages_tell_non_learners_what_they_are(kind):
    user = NON_LEARNERS[kind]()
    client = Client()
    client.force_login(user)
    response = client.get("/for-you/")
    assert response.status_code == 403
    assert "Learner pages are for learner accounts" in response.content.decode()
    assert not Listener.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_a_signed_up_learner_is_a_learner():
    user = get_user_model().objects.create_user("learner", password="pw-learner-123")
    assert is_learner(user)
