"""Fixtures of the recommender's API tests (``test_api``, ``test_api_rerank``, ``test_understanding``).

A tiny catalog (five artists, three tags, two courses) with its graph in the sql store of the test database,
learner and staff accounts on it, and ``served``: that catalog grown to two taste groups with a tiny model
trained on it and published, the way the serving tests do it.

The catalog and account fixtures (``api_settings``, ``catalog``, ``alice``, ``bob``, ``staff``, ``as_alice``)
are shared with the graph API tests: :mod:`tests.helpers.api_fixtures`.
"""

from __future__ import annotations

import pytest

from tests.helpers.recommender_data import TINY, two_taste_groups


@pytest.fixture
def served(catalog, sql_store, settings, tmp_path):
    """Sixteen Last.FM listeners in two taste groups (blues, jazz), a model trained on them and published."""

    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_holder, model_publish
    from recommender.serving.selectors import snapshot_forget
    from recommender.training import recommender_train

    artists, genre, dataset, content = two_taste_groups(catalog, sql_store)
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    trained = recommender_train(dataset=dataset, config=JointConfig(**TINY), seed=0, content_embeddings=content)
    model_publish(trained.path)
    model_holder().reset()
    snapshot_forget()
    yield {"artists": artists, "genre": genre, "courses": catalog["courses"]}
    model_holder().reset()
    snapshot_forget()
