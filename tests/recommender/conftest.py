"""Fixtures of the recommender's API tests (``test_api``, ``test_api_rerank``, ``test_understanding``).

A tiny catalog (five artists, three tags, two courses) with its graph in the sql store of the test database,
learner and staff accounts on it, and ``served``: that catalog grown to two taste groups with a tiny model
trained on it and published, the way the serving tests do it.

The catalog and account fixtures (``api_settings``, ``catalog``, ``alice``, ``bob``, ``staff``, ``as_alice``)
are shared with the graph API tests: :mod:`tests.helpers.api_fixtures`.
"""

from __future__ import annotations

import pytest

from catalog.models import Artist, Listen, Listener
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.recommender_data import TINY


@pytest.fixture
def served(catalog, sql_store, settings, tmp_path):
    """Sixteen Last.FM listeners in two taste groups (blues, jazz), a model trained on them and published."""
    import numpy as np

    from recommender.data import InteractionDataset
    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_holder, model_publish
    from recommender.serving.selectors import snapshot_forget
    from recommender.training import recommender_train

    tags = catalog["tags"]
    extra = [
        ("Zeta Blues", "blues"),
        ("Eta Blues", "blues"),
        ("Theta Blues", "blues"),
        ("Iota Jazz", "jazz"),
        ("Kappa Jazz", "jazz"),
        ("Lambda Jazz", "jazz"),
    ]
    artists = list(catalog["artists"])
    for i, (name, _) in enumerate(extra, start=len(artists)):
        artists.append(
            Artist.objects.create(lastfm_id=i + 1, name=name, entity_id=f"lastfm:artist:{i + 1}", kgcn_entity=100 + i)
        )
    genre = {a.pk: ("blues" if "Blues" in a.name else "jazz" if "Jazz" in a.name else "rock") for a in artists}
    sql_store.upsert_entities([EntityRecord(id=a.entity_id, type="Artist", name=a.name) for a in artists[5:]])
    sql_store.upsert_relations(
        [RelationRecord(head=a.entity_id, type="HAS_TAG", tail=tags[genre[a.pk]].entity_id) for a in artists[5:]]
    )
    rng = np.random.default_rng(0)
    for u in range(16):
        listener = Listener.objects.create(lastfm_id=2000 + u)
        group = "blues" if u % 2 == 0 else "jazz"
        mine = [a for a in artists if genre[a.pk] == group]
        for artist in rng.permutation(mine)[: len(mine) - 1]:
            Listen.objects.create(listener=listener, artist=artist, play_count=int(rng.integers(5, 50)))
    dataset = InteractionDataset.from_catalog(store=sql_store)
    content = np.stack([np.eye(3)[["blues", "jazz", "rock"].index(genre[int(pk)])] for pk in dataset.item_ids])
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    trained = recommender_train(dataset=dataset, config=JointConfig(**TINY), seed=0, content_embeddings=content)
    model_publish(trained.path)
    model_holder().reset()
    snapshot_forget()
    yield {"artists": artists, "genre": genre, "courses": catalog["courses"]}
    model_holder().reset()
    snapshot_forget()
