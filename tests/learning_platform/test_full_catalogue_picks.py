"""A learner who picks an artist outside the model's KGCN subset (Chopin) gets music led by its tags.

The 12-listener Last.FM folder of ``tests.helpers.recommender_data`` (Band 1-4 rock, Band 5-8 jazz, all
KGCN items) plus two artists KGCN does not cover, as the full HetRec catalogue has 13,786 of them:
"Frédéric Chopin" (listened and tagged jazz) and "Erik Satie" (listened, never tagged). The model is
trained on the KGCN subset only; serving must still use the Chopin pick (through its tags), and a Satie
pick must not crash anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from catalog.models import Artist
from learning_platform.learn import selectors
from tests.helpers.recommender_data import TINY, write_tiny_lastfm

JAZZ = {"Band 5", "Band 6", "Band 7", "Band 8"}


def write_with_non_kgcn_artists(root: Path) -> Path:
    write_tiny_lastfm(root)
    hetrec, kgcn = root / "lastfm-hetrec", root / "lastfm-kgcn"
    with (hetrec / "artists.dat").open("a") as f:
        f.write("9\tFrédéric Chopin\thttp://www.last.fm/music/Fr%C3%A9d%C3%A9ric+Chopin\t\n")
        f.write("10\tErik Satie\thttp://www.last.fm/music/Erik+Satie\t\n")
    with (kgcn / "user_artists.dat").open("a") as f:
        f.write("12\t9\t40\n14\t9\t30\n13\t10\t5\n")
    with (hetrec / "user_taggedartists.dat").open("a") as f:
        f.write("12\t9\t2\t1\t1\t2009\n14\t9\t2\t2\t1\t2009\n")
    return root


@pytest.fixture
def published(db, settings, tmp_path):
    import torch

    from kg.stores import get_store
    from recommender.data import InteractionDataset
    from recommender.explanations import invalidate_snapshots
    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_holder, model_publish
    from recommender.serving.selectors import snapshot_forget
    from recommender.training import recommender_train

    settings.KG_BACKEND = "sql"
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    data_dir = write_with_non_kgcn_artists(tmp_path / "lastfm")
    call_command("load_lastfm", data_dir=str(data_dir), backend="sql", no_progress=True)
    torch.set_num_threads(1)
    with get_store("sql") as store:
        dataset = InteractionDataset.from_catalog(store=store)
    assert len(dataset.item_ids) == 8  # the two non-KGCN artists are in the catalogue, not in training
    trained = recommender_train(
        dataset=dataset, config=JointConfig(**TINY).with_overrides(use_content=False), seed=0, output_dir=tmp_path / "m"
    )
    model_publish(trained.path)
    invalidate_snapshots()
    snapshot_forget()
    model_holder().reset()
    yield
    invalidate_snapshots()
    snapshot_forget()
    model_holder().reset()


@pytest.fixture
def learner(db):
    from recommender.serving.services import learner_listener

    return learner_listener(get_user_model().objects.create_user(username="ada", password="x"))


def test_a_chopin_pick_leads_to_the_artists_that_share_its_tags(published, learner):
    from recommender.serving.selectors import recommendations_for_listener
    from recommender.serving.services import interests_set

    chopin = Artist.objects.get(name="Frédéric Chopin")
    assert chopin.kgcn_entity is None
    interests_set(learner, [chopin.entity_id])
    recs = recommendations_for_listener(learner, k=4)
    assert len(recs) == 4 and all(r.artist is not None for r in recs)
    assert {r.artist.name for r in recs if r.artist is not None} == JAZZ
    assert all(r.explanation.sentence for r in recs)
    # 'You picked Frédéric Chopin → Frédéric Chopin has tag "jazz" → Band 5 has tag "jazz".'
    assert recs[0].explanation.paths[0].nodes[0]["id"] == chopin.entity_id


def test_an_untagged_non_kgcn_pick_does_not_break_recommendations(published, learner):
    from recommender.serving.selectors import recommendations_for_listener
    from recommender.serving.services import interests_set

    satie = Artist.objects.get(name="Erik Satie")
    interests_set(learner, [satie.entity_id])
    recs = recommendations_for_listener(learner, k=3)
    assert len(recs) == 3 and all(r.explanation.sentence for r in recs)


def test_onboarding_and_artist_pages_for_non_kgcn_artists(published, learner, client):
    from kg.stores import get_store

    with get_store("sql") as store:
        found = {c.name: c.detail for c in selectors.interest_candidates_search("i", store=store)}
    assert found["Frédéric Chopin"] == "2 listeners" + selectors.NOT_IN_MODEL_TAGGED
    assert found["Erik Satie"] == "1 listener" + selectors.NOT_IN_MODEL_UNTAGGED
    for name in ("Frédéric Chopin", "Erik Satie"):
        page = client.get(reverse("learn:artist", args=[Artist.objects.get(name=name).pk]))
        assert page.status_code == 200 and name in page.content.decode()
    client.force_login(learner.user)
    response = client.post(
        reverse("learn:onboarding"), {"entity_id": [Artist.objects.get(name="Frédéric Chopin").entity_id]}
    )
    assert response.status_code in (200, 302)
    assert client.get(reverse("learn:for_you")).status_code == 200
