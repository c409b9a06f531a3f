"""The whole HetRec catalogue is loaded, but training and the offline protocols keep the KGCN population.

``InteractionDataset.from_catalog`` reads only artists with ``Artist.kgcn_entity`` set, so loading the
non-KGCN artists, their listeners' other listens and their tags must leave its users, items, listens
and tag matrix exactly as a KGCN-only load gave them. Checked here on the hand-made fixture (see
``test_lastfm_loader.py`` for what it holds); the slow real-data test there checks the real numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.models import Artist, Listener
from ingestion.loaders.lastfm import kgcn_subset_select, lastfm_dataset_read, lastfm_load
from recommender.data import InteractionDataset

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "lastfm"


@pytest.mark.django_db
def test_training_population_is_the_kgcn_subset_after_a_full_catalogue_load(sql_store):
    lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False)
    subset = kgcn_subset_select(dataset=lastfm_dataset_read(data_dir=FIXTURE_DIR))
    assert Artist.objects.count() == 5 and Listener.objects.count() == 3  # the catalogue is bigger ...

    dataset = InteractionDataset.from_catalog(store=sql_store)

    # ... but the population is the KGCN subset's: users 10, 11; items 1, 2, 3; listens (10,1) (10,2) (11,2).
    assert dataset.sources is not None
    assert sorted(dataset.sources.lastfm_user_ids.tolist()) == subset.user_ids == [10, 11]
    assert sorted(dataset.sources.lastfm_artist_ids.tolist()) == [a.artist.lastfm_id for a in subset.artists]
    assert dataset.matrix.nnz == len(subset.listens) == 3
    listened = {
        (int(dataset.sources.lastfm_user_ids[u]), int(dataset.sources.lastfm_artist_ids[i]))
        for u, i in zip(*dataset.matrix.nonzero())
    }
    assert listened == {(r.user_id, r.artist_id) for r in subset.listens}
    # Tag features only count tags on the items: artist 4's "unused tag" is not a feature. User 12 (no
    # KGCN listen) tagged item 1 "tropicália": the catalogue now keeps that row, so it counts. The real
    # data has no tag on a KGCN item from a user outside the 1,872 (checked: same 27,017 non-zeros, sum 44,585).
    assert dataset.side_info is not None
    assert sorted(dataset.side_info.tag_names) == ["die Ärzte", "metal", "tropicália"]
    assert dataset.side_info.item_tags.sum() == 4  # metal x2, tropicália, die Ärzte


@pytest.mark.django_db
def test_the_catalog_population_trains_on_every_artist_and_keeps_the_graph_of_all_of_them(sql_store, settings):
    from core.errors import ConfigurationError
    from recommender.training import product_dataset

    lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False)
    kgcn = InteractionDataset.from_catalog(store=sql_store)
    everyone = InteractionDataset.from_catalog(store=sql_store, population="catalog")
    assert everyone.n_items == Artist.objects.count() == 5 and kgcn.n_items == 3
    assert everyone.n_interactions > kgcn.n_interactions
    # the KGCN population leaves the other artists' edges out; the catalog population keeps them
    assert everyone.side_info is not None and kgcn.side_info is not None
    assert len(everyone.side_info.kg_triples) > len(kgcn.side_info.kg_triples)
    settings.RECOMMENDER_POPULATION = "catalog"
    assert product_dataset(store=sql_store).n_items == 5
    settings.RECOMMENDER_POPULATION = "kgcn"
    assert product_dataset(store=sql_store).n_items == 3
    with pytest.raises(ValueError, match="population must be one of kgcn, catalog"):
        InteractionDataset.from_catalog(store=sql_store, population="everyone")
    settings.RECOMMENDER_POPULATION = "everyone"
    with pytest.raises(ConfigurationError, match="population must be one of"):
        product_dataset(store=sql_store)
