"""Export: every model that references the learner is in it, token keys never are, and each export is audited."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Listener
from privacy.models import DataRightsEvent
from privacy.selectors import (
    COVERED_MODELS,
    EXPORT_SCHEMA,
    EXPORT_SCHEMA_VERSION,
    learner_data_export,
    subject_reference,
)
from tests.privacy.conftest import make_learner

EXPORT_URL = "/api/v1/me/data/"


def test_every_model_referencing_a_user_or_listener_is_covered():
    """A new foreign key to the user or the listener fails here until export and deletion handle it."""
    referencing = set()
    for model in (get_user_model(), Listener):
        for relation in model._meta.related_objects:
            referencing.add(relation.related_model._meta.label)
    for model in (get_user_model(), Listener):  # related_name="+" (Friendship.friend, Job.submitted_by): found by field
        from django.apps import apps

        for candidate in apps.get_models():
            for f in candidate._meta.get_fields():
                if getattr(f, "related_model", None) is model and f.concrete and f.many_to_one:
                    referencing.add(candidate._meta.label)
    assert referencing - COVERED_MODELS == set()


@pytest.mark.django_db
def test_the_export_holds_everything_and_never_a_token_key(learner, world):
    token = Token.objects.create(user=learner)
    export = learner_data_export(learner)
    text = json.dumps(export)

    assert export["schema"] == EXPORT_SCHEMA and export["schema_version"] == EXPORT_SCHEMA_VERSION
    assert export["generated_at"]
    assert export["account"]["username"] == "ada" and export["account"]["email"] == "ada@example.org"
    assert export["profile"]["level"] == "intermediate"
    assert export["listener"]["training_opt_out"] is False
    assert [i["name"] for i in export["interests"]] == ["blues"]
    assert [(r["artist"]["name"], r["play_count"]) for r in export["listens"]] == [("B.B. King", 3)]
    assert [e["kind"] for e in export["interactions"]] == ["listen", "like", "enroll", "complete"]
    assert [c["course"]["title"] for c in export["progress"]["courses_completed"]] == ["Blues for Beginners"]
    assert [m["concept_id"] for m in export["mastery"]] == ["leitmotif:concept:blues-scale"]
    assert export["ingestion_jobs"][0]["payload"] == [{"name": "notes.txt", "text": "B.B. King"}]
    assert export["login_records"]["accessattempt"][0]["ip_address"] == "192.0.2.7"
    assert len(export["login_records"]["accesslog"]) == 1
    # tokens are listed, never revealed
    assert export["api_tokens"] == [{"key": token.key[:4] + "…", "created": token.created.isoformat()}]
    assert token.key not in text
    assert learner.password not in text and "password" not in export["account"]
    assert export["counts"] == {
        "auth.User": 1,
        "authtoken.Token": 1,
        "axes.AccessAttempt": 1,
        "axes.AccessLog": 1,
        "catalog.Interaction": 4,
        "catalog.Interest": 1,
        "catalog.Listen": 1,
        "catalog.Listener": 1,
        "curriculum.ConceptMastery": 1,
        "curriculum.LearnerProfile": 1,
        "ingestion.IngestionJob": 1,
    }
    # nobody else's rows: the Last.FM listeners of the world stay out
    assert all(r["artist"]["name"] == "B.B. King" for r in export["listens"])


@pytest.mark.django_db
def test_an_account_with_nothing_yet_exports_without_creating_anything():
    user = get_user_model().objects.create_user("nobody", password="x-y-z-123-abc")
    export = learner_data_export(user)
    assert export["listener"] is None and export["profile"] is None and export["listens"] == []
    assert export["counts"] == {"auth.User": 1}
    assert not Listener.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_the_api_exports_inline_or_as_a_download_and_audits_counts_only(learner):
    client = APIClient()
    client.force_authenticate(learner)
    response = client.get(EXPORT_URL)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["account"]["username"] == "ada"

    response = client.get(EXPORT_URL, {"download": "true"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="leitmotif-my-data-')
    assert json.loads(response.content)["counts"]["catalog.Interaction"] == 4

    events = list(DataRightsEvent.objects.filter(action="export"))
    assert len(events) == 2 and {e.channel for e in events} == {"api"}
    event = events[0]
    assert event.subject == subject_reference(learner.pk) and str(learner.pk) != event.subject
    stored = json.dumps([event.counts, event.details, event.subject])
    assert "ada" not in stored and "B.B. King" not in stored
    # the learner's own audit trail is part of the next export
    assert [e["action"] for e in learner_data_export(learner)["data_rights_events"]] == ["export", "export"]

    bad = client.get(EXPORT_URL, {"download": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


@pytest.mark.django_db
def test_each_caller_only_ever_gets_their_own_data(learner, world):
    other, _ = make_learner("bob", email="bob@example.org")
    client = APIClient()
    client.force_authenticate(other)
    export = client.get(EXPORT_URL).json()
    assert export["account"]["username"] == "bob"
    assert export["listens"] == [] and export["interactions"] == [] and export["profile"] is None
    assert "ada" not in json.dumps(export)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", EXPORT_URL, None),
        ("delete", EXPORT_URL, {"password": "x"}),
        ("post", EXPORT_URL + "delete/", {"password": "x"}),
        ("get", EXPORT_URL + "training-opt-out/", None),
        ("put", EXPORT_URL + "training-opt-out/", {"training_opt_out": True}),
        ("patch", EXPORT_URL + "training-opt-out/", {"training_opt_out": True}),
    ],
)
def test_anonymous_callers_get_401_in_the_envelope(method, path, body):
    response = getattr(APIClient(), method)(path, data=body, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not DataRightsEvent.objects.exists()


@pytest.mark.django_db
def test_the_schema_lists_every_status_of_each_endpoint():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    data = schema["paths"]["/api/v1/me/data/"]
    delete_post = schema["paths"]["/api/v1/me/data/delete/"]["post"]
    opt_out = schema["paths"]["/api/v1/me/data/training-opt-out/"]
    assert {"200", "400", "401", "429"} <= set(data["get"]["responses"])
    for operation in (data["delete"], delete_post, opt_out["put"], opt_out["patch"]):
        assert {"200", "400", "401", "403", "413", "415", "429"} <= set(operation["responses"])
    assert {"200", "401", "429"} <= set(opt_out["get"]["responses"])
    # the deletion's own refusals are described precisely, not generically
    assert "password" in data["delete"]["responses"]["400"]["description"]
    assert "E023" in data["delete"]["responses"]["403"]["description"]
    assert "locked_out" in delete_post["responses"]["429"]["description"]
    assert "password" in data["delete"]["description"]
    assert "PasswordConfirmation" in str(delete_post["requestBody"])
    assert "password" in schema["components"]["schemas"]["PasswordConfirmationRequest"]["required"]
