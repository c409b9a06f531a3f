"""The training opt-out: a flag on the learner's listener that the data every model trains on honours."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from catalog.models import Interaction, Listen, Listener
from privacy.models import DataRightsEvent
from privacy.services import training_opt_out_set
from recommender.data import InteractionDataset
from tests.privacy.conftest import PASSWORD, make_learner, train_and_publish

URL = "/api/v1/me/data/training-opt-out/"


def listening_learner(world, username: str = "ada"):
    user, listener = make_learner(username, email=f"{username}@example.org")
    for name in ("Glenn Gould", "Lang Lang", "Yuja Wang"):
        Listen.objects.create(listener=listener, artist=world.artists[name], play_count=5)
        Interaction.objects.create(listener=listener, kind="listen", artist=world.artists[name])
    return user, listener


@pytest.mark.django_db
def test_opted_out_listeners_are_left_out_of_the_training_data(world, sql_store):
    user, listener = listening_learner(world)
    stays, _ = listening_learner(world, "bob")
    everyone = InteractionDataset.from_catalog(store=sql_store)
    assert listener.pk in everyone.user_ids

    training_opt_out_set(user, True)
    without = InteractionDataset.from_catalog(store=sql_store)
    assert listener.pk not in without.user_ids
    assert Listener.objects.get(user=stays).pk in without.user_ids
    assert without.n_interactions == everyone.n_interactions - 3  # exactly their three listens
    assert set(without.item_ids) == set(everyone.item_ids)  # artists stay candidates for everyone

    training_opt_out_set(user, False)
    assert listener.pk in InteractionDataset.from_catalog(store=sql_store).user_ids


@pytest.mark.django_db
def test_the_retrain_honours_the_opt_out(world, sql_store):
    from recommender.serving.model_holder import model_holder
    from recommender.serving.selectors import recommendations_for_listener
    from recommender.training import USER_IDS_FILE

    user, listener = listening_learner(world)
    first = train_and_publish(world, sql_store)
    assert listener.pk in json.loads((first / USER_IDS_FILE).read_text())

    state = training_opt_out_set(user, True)
    assert state.training_opt_out and state.in_published_model  # the model serving now predates the choice

    second = train_and_publish(world, sql_store)
    assert listener.pk not in json.loads((second / USER_IDS_FILE).read_text())
    assert listener.pk not in model_holder().current().user_index
    # still personal: their own history is folded in when they ask
    assert recommendations_for_listener(listener, k=3)
    state = training_opt_out_set(user, True)
    assert state.training_opt_out and not state.in_published_model


@pytest.mark.django_db
def test_the_api_reads_and_sets_the_opt_out_and_audits_each_change(world):
    user, listener = listening_learner(world)
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(URL).json() == {
        "training_opt_out": False,
        "applies": True,
        "in_published_model": False,
        "message": "Your listening and interactions help train Leitmotif's recommender (you can opt out at any time).",
    }
    response = client.put(URL, {"training_opt_out": True}, format="json")
    assert response.status_code == 200 and response.json()["training_opt_out"] is True
    assert "left out of model training" in response.json()["message"]
    assert Listener.objects.get(pk=listener.pk).training_opt_out is True
    client.patch(URL, {"training_opt_out": True}, format="json")  # no change: not audited again
    client.patch(URL, {"training_opt_out": False}, format="json")
    assert list(DataRightsEvent.objects.order_by("id").values_list("action", "channel")) == [
        ("training_opt_out", "api"),
        ("training_opt_in", "api"),
    ]

    bad = client.put(URL, {"training_opt_out": "perhaps"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["fields"]["training_opt_out"]
    missing = client.put(URL, {}, format="json")
    assert missing.status_code == 400 and "training_opt_out is required" in missing.json()["error"]["message"]


@pytest.mark.django_db
def test_non_learners_have_nothing_to_opt_out_of(world):
    staff = get_user_model().objects.create_user("root", password=PASSWORD, is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    assert client.get(URL).json()["applies"] is False
    response = client.put(URL, {"training_opt_out": True}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "E023"
    assert not Listener.objects.filter(user=staff).exists()
