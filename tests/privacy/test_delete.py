"""Deleting an account: every row goes in one transaction, the audit keeps counts only, the model forgets them."""

from __future__ import annotations

import json
import shutil

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db.models import Q
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.services import api_client_create
from catalog.models import Friendship, Interaction, Interest, Listen, Listener, TagAssignment
from curriculum.models import ConceptMastery, LearnerProfile
from ingestion.models import IngestionJob
from kg.models import CurationEvent
from privacy.models import DataRightsEvent, ForgottenListener
from privacy.selectors import forgetting_status, forgotten_listener_ids, learner_data_export, subject_reference
from privacy.services import PasswordConfirmationError, forgotten_listeners_prune, learner_account_delete
from tests.privacy.conftest import PASSWORD, make_learner, train_and_publish

DELETE_URL = "/api/v1/me/data/"
POST_DELETE_URL = "/api/v1/me/data/delete/"


def rows_of(user_id: int, listener_id: int, username: str) -> dict[str, int]:
    """Rows per model that belong to the account (by id, so it still works once the objects are gone)."""
    from axes.models import AccessAttempt, AccessLog

    return {
        "auth.User": get_user_model().objects.filter(pk=user_id).count(),
        "authtoken.Token": Token.objects.filter(user_id=user_id).count(),
        "admin.LogEntry": LogEntry.objects.filter(user_id=user_id).count(),
        "catalog.Listener": Listener.objects.filter(pk=listener_id).count(),
        "catalog.Listen": Listen.objects.filter(listener_id=listener_id).count(),
        "catalog.Interaction": Interaction.objects.filter(listener_id=listener_id).count(),
        "catalog.Interest": Interest.objects.filter(listener_id=listener_id).count(),
        "catalog.TagAssignment": TagAssignment.objects.filter(listener_id=listener_id).count(),
        "catalog.Friendship": Friendship.objects.filter(Q(listener_id=listener_id) | Q(friend_id=listener_id)).count(),
        "curriculum.LearnerProfile": LearnerProfile.objects.filter(user_id=user_id).count(),
        "curriculum.ConceptMastery": ConceptMastery.objects.filter(user_id=user_id).count(),
        "ingestion.IngestionJob": IngestionJob.objects.filter(submitted_by_id=user_id).count(),
        "axes.AccessAttempt": AccessAttempt.objects.filter(username=username).count(),
        "axes.AccessLog": AccessLog.objects.filter(username=username).count(),
    }


@pytest.fixture
def full_learner(learner, world):
    """The ``learner`` plus a token, an admin log entry, a tag, a friendship both ways and a graph edit."""
    listener = Listener.objects.get(user=learner)
    Token.objects.create(user=learner)
    LogEntry.objects.create(
        user=learner,
        content_type=ContentType.objects.get_for_model(Listener),
        object_id=str(listener.pk),
        object_repr="x",
        action_flag=ADDITION,
    )
    TagAssignment.objects.create(listener=listener, artist=world.artists["Buddy Guy"], tag=world.tags["blues"])
    Friendship.objects.create(listener=listener, friend=world.listeners[0])
    Friendship.objects.create(listener=world.listeners[1], friend=listener)
    CurationEvent.objects.create(actor=learner, action="entity.update", target="lastfm:artist:1")
    return learner


@pytest.mark.django_db
def test_deleting_removes_every_row_and_the_audit_keeps_only_counts(full_learner, world):
    user = full_learner
    listener_id = Listener.objects.get(user=user).pk
    token_key = Token.objects.get(user=user).key
    before = rows_of(user.pk, listener_id, user.username)
    assert all(before.values()), before  # every kind of row exists before
    others = Listen.objects.exclude(listener_id=listener_id).count()

    receipt = learner_account_delete(user, password_confirmation=PASSWORD, channel="web")

    after = rows_of(user.pk, listener_id, user.username)
    assert after == dict.fromkeys(before, 0)
    assert Listen.objects.count() == others  # nobody else's listening went
    assert receipt.deleted == {**before, **{k: v for k, v in receipt.deleted.items() if k not in before}}
    assert receipt.anonymised == {"kg.CurationEvent": 1}
    assert CurationEvent.objects.get().actor is None  # the graph's history stays, without the author
    assert not receipt.trained_row_masked  # no model is published

    event = DataRightsEvent.objects.get(action="delete")
    assert event.channel == "web" and event.subject == subject_reference(user.pk)
    for label, n in before.items():
        assert event.counts[label] == n
    # the subject is a keyed hash (checked above); hex digits can spell "ada" by chance, so it is left out here
    stored = json.dumps({"counts": event.counts, "details": event.details})
    for secret in ("ada", "ada@example.org", "192.0.2.7", "B.B. King", "notes.txt", "blues", token_key):
        assert secret not in stored
    assert not ForgottenListener.objects.exists()


@pytest.mark.django_db
def test_a_wrong_or_missing_password_deletes_nothing(learner):
    listener_id = Listener.objects.get(user=learner).pk
    before = rows_of(learner.pk, listener_id, learner.username)
    for password in ("", None, "not-my-password"):
        with pytest.raises(PasswordConfirmationError):
            learner_account_delete(learner, password_confirmation=password)
    assert rows_of(learner.pk, listener_id, learner.username) == before
    refused = DataRightsEvent.objects.filter(action="delete_refused")
    assert [e.details["reason"] for e in refused.order_by("id")] == ["missing", "missing", "wrong"]
    assert all(e.counts == {} for e in refused)


@pytest.mark.django_db
def test_the_api_refuses_a_missing_or_wrong_password_with_a_clear_400(learner):
    client = APIClient()
    client.force_authenticate(learner)
    missing = client.delete(DELETE_URL, {}, format="json")
    assert missing.status_code == 400
    error = missing.json()["error"]
    assert error["code"] == "invalid" and "password" in error["details"]["fields"]
    assert "password is required" in error["message"]

    wrong = client.post(POST_DELETE_URL, {"password": "guess"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["fields"]["password"] == [
        "That is not your current password; nothing was deleted."
    ]
    assert get_user_model().objects.filter(pk=learner.pk).exists()


@pytest.mark.django_db
def test_too_many_wrong_passwords_lock_deletion_like_the_login(learner, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = APIClient()
    client.force_authenticate(learner)
    for _ in range(2):
        assert client.delete(DELETE_URL, {"password": "guess"}, format="json").status_code == 400
    assert client.delete(DELETE_URL, {"password": "guess"}, format="json").status_code == 429  # the limit
    locked = client.delete(DELETE_URL, {"password": PASSWORD}, format="json")
    assert locked.status_code == 429, locked.content[:300]
    assert (
        locked.json()["error"]["code"] == "locked_out"
        and "Too many wrong passwords" in locked.json()["error"]["message"]
    )
    assert int(locked["Retry-After"]) > 0
    assert get_user_model().objects.filter(pk=learner.pk).exists()


@pytest.mark.django_db
def test_the_api_deletes_with_the_password_and_ends_the_session(learner):
    client = APIClient()
    assert client.login(username="ada", password=PASSWORD)
    response = client.delete(DELETE_URL, {"password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["deleted"] is True and body["rows_deleted"]["catalog.Interaction"] == 4
    assert body["trained_row_masked"] is False and "deleted" in body["message"]
    assert not get_user_model().objects.filter(username="ada").exists()
    assert client.get("/api/v1/me/data/").status_code == 401  # the session went with the account


@pytest.mark.django_db
def test_staff_and_read_only_clients_cannot_delete_themselves_here(world):
    staff = get_user_model().objects.create_user("root", password=PASSWORD, is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    response = client.post(POST_DELETE_URL, {"password": PASSWORD}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "E023"
    assert "administrator" in response.json()["error"]["message"]

    reporting = api_client_create(name="reporting", read_only=True)
    reader = APIClient(HTTP_AUTHORIZATION=f"Token {reporting.token}")
    assert reader.get("/api/v1/me/data/").status_code == 200  # may read its own data
    assert reader.delete(DELETE_URL, {"password": "x"}, format="json").status_code == 403
    assert get_user_model().objects.filter(username__in=["root", "reporting"]).count() == 2


@pytest.mark.django_db
def test_deleting_one_learner_leaves_another_untouched(learner, world):
    other, other_listener = make_learner("bob", email="bob@example.org")
    Listen.objects.create(listener=other_listener, artist=world.artists["Lang Lang"], play_count=2)
    before = rows_of(other.pk, other_listener.pk, "bob")
    learner_account_delete(learner, password_confirmation=PASSWORD)
    assert rows_of(other.pk, other_listener.pk, "bob") == before


# --- the published model forgets them -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_fold_in_only_learner_leaves_no_trace_in_any_model(published, world):
    from recommender.serving.model_holder import model_holder
    from recommender.serving.selectors import recommendations_for_listener

    user, listener = make_learner()  # signed up after the model was trained
    Interaction.objects.create(listener=listener, kind="like", artist=world.artists["Lang Lang"])
    Listen.objects.create(listener=listener, artist=world.artists["Lang Lang"], play_count=1)
    assert recommendations_for_listener(listener, k=3)
    assert listener.pk not in model_holder().current().user_index

    receipt = learner_account_delete(user, password_confirmation=PASSWORD)
    assert not receipt.trained_row_masked and receipt.artifacts == []
    assert not ForgottenListener.objects.exists()
    assert forgetting_status().pending == []
    assert recommendations_for_listener(world.listeners[0], k=3)  # serving goes on for everyone else


@pytest.mark.django_db
def test_a_trained_learner_is_masked_at_once_and_gone_after_the_retrain(
    world, sql_store, django_capture_on_commit_callbacks, capsys
):
    from recommender.serving.model_holder import model_holder
    from recommender.serving.selectors import recommendations_for_listener
    from recommender.training import USER_IDS_FILE

    user, listener = make_learner()
    for name in ("Glenn Gould", "Lang Lang", "Yuja Wang", "Mitsuko Uchida"):
        Listen.objects.create(listener=listener, artist=world.artists[name], play_count=7)
    first = train_and_publish(world, sql_store)
    assert listener.pk in json.loads((first / USER_IDS_FILE).read_text())
    assert listener.pk in model_holder().current().user_index  # a trained user row
    assert recommendations_for_listener(listener, k=3)
    held = learner_data_export(user)["models"]["trained_user_rows"]
    assert held == [{"artifact": first.name, "published": True}]  # the export says which model holds them

    with django_capture_on_commit_callbacks(execute=True):
        receipt = learner_account_delete(user, password_confirmation=PASSWORD)
    assert receipt.trained_row_masked and receipt.artifacts == [first.name]
    assert forgotten_listener_ids() == {listener.pk}
    event = DataRightsEvent.objects.get(action="delete")
    assert event.details["trained_row_masked"] is True and event.details["published_model_held_row"] is True

    # At once, in this process: no lookup reaches the row, even if the id came back (a restored database).
    assert listener.pk not in model_holder().current().user_index
    Listener.objects.create(pk=listener.pk)
    assert model_holder().current().user_index.get(listener.pk) is None
    Listener.objects.filter(pk=listener.pk).delete()
    status = forgetting_status()
    assert status.retrain_needed and [h.artifact for h in status.pending] == [first.name]
    call_command("privacy_forgetting")
    assert "retrain" in capsys.readouterr().out

    # The next retrain is made without them; once the old artifact is gone the mask goes too.
    second = train_and_publish(world, sql_store)
    assert listener.pk not in json.loads((second / USER_IDS_FILE).read_text())
    status = forgetting_status()
    assert not status.retrain_needed and [h.artifact for h in status.pending] == [first.name]
    assert forgotten_listeners_prune() == 0  # the older artifact still holds the row
    shutil.rmtree(first)
    call_command("privacy_forgetting", "--prune")
    assert "Dropped 1 mask entry" in capsys.readouterr().out
    assert not ForgottenListener.objects.exists() and forgetting_status().pending == []
    assert recommendations_for_listener(world.listeners[0], k=3)


@pytest.mark.django_db
def test_a_model_loaded_after_the_deletion_never_serves_the_forgotten_row(world, sql_store):
    """Another process, or a reload, builds the model from the artifact: the persisted mask drops the row."""
    from recommender.serving.masks import masked_listener_ids
    from recommender.serving.model_holder import model_holder

    _, listener = make_learner()
    for name in ("Glenn Gould", "Lang Lang", "Yuja Wang"):
        Listen.objects.create(listener=listener, artist=world.artists[name], play_count=5)
    train_and_publish(world, sql_store)
    assert listener.pk in model_holder().current().user_index
    ForgottenListener.objects.create(listener_id=listener.pk)  # as learner_account_delete records it
    assert listener.pk in masked_listener_ids()  # PrivacyConfig.ready registered the provider
    model_holder().reset()
    assert listener.pk not in model_holder().current().user_index
