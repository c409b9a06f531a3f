"""Baseline recommenders: the registry, input checks, and every model's contract (see ``cases.py``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from core.errors import ConfigurationError
from recommender.base import TrainingContext
from recommender.baselines import available_models, get_model, get_model_class, model_aliases, resolve_model_name
from recommender.baselines.torch_utils import InteractionSampler, validation_recall
from tests.helpers.recommender_cases import (
    RecommenderCase,
    TorchRecommenderCase,
    clustered_interactions,
    mean_cluster_auc,
)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny batches gain nothing from a second thread, and on a busy 2-core machine every OpenMP
    barrier then waits for a descheduled thread (measured ~10× slower), so tests train on one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --- one class per registered model ---------------------------------------------------------------


class TestMostPopular(RecommenderCase):
    model = "most_popular"

    def test_learns_the_cluster_structure(self, all_scores, data):
        """Popularity ignores the user, so the behavioural check is: scores follow train counts."""
        counts = np.asarray(data.train.sum(axis=0)).ravel()
        np.testing.assert_array_equal(all_scores, np.tile(counts, (data.n_users, 1)).astype(np.float32))


class TestUserKNN(RecommenderCase):
    model = "user_knn"
    params = {"k": 10}
    bad_params = {"k": 0, "shrink": -1.0}


class TestItemKNN(RecommenderCase):
    model = "item_knn"
    params = {"k": 10, "shrink": 1.0}
    bad_params = {"k": True, "shrink": float("nan")}


class TestEASE(RecommenderCase):
    model = "ease"
    params = {"l2": 10.0}
    bad_params = {"l2": 0.0}


class TestWMF(RecommenderCase):
    model = "wmf"
    params = {"factors": 4, "regularization": 1.0, "alpha": 5.0, "iterations": 10}
    bad_params = {"factors": 0, "alpha": -1.0, "iterations": 2.5}


class TestBPRMF(TorchRecommenderCase):
    model = "bpr_mf"
    params = {"factors": 8, "epochs": 30, "batch_size": 64, "learning_rate": 0.05}
    bad_params = {"factors": -3, "learning_rate": 0.0, "epochs": 0, "batch_size": "64", "patience": 0}
    min_cluster_auc = 0.75


class TestNeuMF(TorchRecommenderCase):
    model = "neumf"
    params = {"predictive_factors": 8, "mlp_layers": 2, "epochs": 15, "batch_size": 64, "learning_rate": 0.02}
    bad_params = {"mlp_layers": 0, "n_negatives": 0, "weight_decay": -0.1}


class TestWideAndDeep(TorchRecommenderCase):
    model = "wide_deep"
    params = {"embedding_dim": 8, "hidden_dim": 16, "epochs": 20, "batch_size": 64, "learning_rate": 0.02}
    bad_params = {"embedding_dim": 0, "hidden_layers": 0, "max_tags": -1}


class TestContentTags(RecommenderCase):
    model = "content_tags"
    min_cluster_auc = 0.95
    bad_params = {"kg_weight": -0.5, "sublinear_tf": "yes"}

    def test_scores_cold_items_from_content(self, all_scores, data):
        """Items with no training interaction are still ranked by their tags and graph neighbours."""
        assert mean_cluster_auc(all_scores, data, cold=True) == 1.0

    def test_graph_features_alone_carry_the_clusters(self, data):
        no_tags = dataclasses.replace(
            data.side_info, item_tags=sp.csr_matrix(data.side_info.item_tags.shape, dtype=np.float32)
        )
        model = get_model("content_tags").fit(data.train, seed=0, context=TrainingContext(side_info=no_tags))
        assert mean_cluster_auc(model.score(np.arange(data.n_users)), data) >= 0.9


class TestKGEOnlyTransE(TorchRecommenderCase):
    model = "kge_only"
    params = {"interaction": "transe", "embedding_dim": 8, "epochs": 40, "batch_size": 64, "learning_rate": 0.1}
    bad_params = {"interaction": "rotate", "margin": 0, "scoring_norm": 0}
    min_cluster_auc = 0.7


class TestKGEOnlyComplEx(TestKGEOnlyTransE):
    params = {"interaction": "complex", "embedding_dim": 8, "epochs": 40, "batch_size": 64, "learning_rate": 0.05}
    min_cluster_auc = 0.7


def test_every_registered_model_has_a_test_class():
    tested = {
        case.model
        for case in (
            TestMostPopular,
            TestUserKNN,
            TestItemKNN,
            TestEASE,
            TestWMF,
            TestBPRMF,
            TestNeuMF,
            TestWideAndDeep,
            TestContentTags,
            TestKGEOnlyTransE,
        )
    }
    assert {get_model_class(name).alias for name in available_models()} == tested


# --- registry -------------------------------------------------------------------------------------


def test_available_models_are_versioned_and_have_aliases():
    names = available_models()
    assert len(names) == 10
    assert all(name.startswith("baseline.") and name.endswith(".v1") for name in names)
    assert sorted(model_aliases().values()) == names
    for alias, name in model_aliases().items():
        assert resolve_model_name(alias) == name
        assert resolve_model_name(name.upper()) == name


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ConfigurationError, match="Unknown baseline model 'svd'") as error:
        get_model("svd")
    for alias, name in model_aliases().items():
        assert alias in str(error.value) and name in str(error.value)
    with pytest.raises(ConfigurationError, match="Unknown baseline model"):
        get_model(None)  # type: ignore[arg-type]


def test_parameters_come_from_the_class_defaults():
    model = get_model("ease")
    assert model.get_params() == {"l2": 200.0}
    assert get_model("baseline.ease.v1", l2=5).l2 == 5.0


# --- input checks shared by all models ------------------------------------------------------------


@pytest.fixture
def data():
    return clustered_interactions()


def test_train_must_be_a_sparse_binary_matrix(data):
    model = get_model("ease")
    with pytest.raises(ConfigurationError, match="scipy sparse"):
        model.fit(data.train.toarray(), seed=0)
    counts = data.train.copy()
    counts.data[:] = 3.0
    with pytest.raises(ConfigurationError, match="must be binary.*value 3.0"):
        model.fit(counts, seed=0)
    with pytest.raises(ConfigurationError, match="no interactions"):
        model.fit(sp.csr_matrix((4, 5), dtype=np.float32), seed=0)


def test_explicit_zeros_and_other_sparse_formats_are_accepted(data):
    coo = data.train.tocoo()
    with_zero = sp.coo_matrix(
        (np.append(coo.data, 0.0), (np.append(coo.row, 0), np.append(coo.col, 0))), shape=coo.shape
    )
    reference = get_model("item_knn").fit(data.train, seed=0).score(np.arange(5))
    np.testing.assert_array_equal(get_model("item_knn").fit(with_zero, seed=0).score(np.arange(5)), reference)


def test_seed_must_be_a_non_negative_integer(data):
    for seed in (-1, 1.5, None, True):
        with pytest.raises(ConfigurationError, match="seed"):
            get_model("most_popular").fit(data.train, seed=seed)


def test_validation_must_match_train_shape(data):
    context = TrainingContext(validation=data.validation[:, :-1])
    with pytest.raises(ConfigurationError, match="context.validation has shape"):
        get_model("bpr_mf", epochs=1).fit(data.train, seed=0, context=context)


@pytest.mark.parametrize("name", ["content_tags", "wide_deep", "kge_only"])
def test_side_info_models_say_they_need_side_info(name, data):
    with pytest.raises(ConfigurationError, match="needs item side information"):
        get_model(name).fit(data.train, seed=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"item_tags": sp.csr_matrix((3, 7), dtype=np.float32)}, "item_tags must be a sparse"),
        ({"tag_names": ["only-one"]}, "tag_names lists 1"),
        ({"item_entity": np.zeros(30, dtype=np.int64)}, "same entity"),
        ({"item_entity": np.arange(30, dtype=np.int64) + 100}, "outside entity_ids"),
        ({"kg_triples": np.array([[0, 99, 1]])}, "relation index outside"),
        ({"kg_triples": np.array([[0, 0, 999]])}, "entity index outside"),
        ({"kg_triples": np.array([[0.0, 0.0, 1.0]])}, r"integer \(m × 3\)"),
    ],
)
def test_misaligned_side_info_is_refused(change, message, data):
    side_info = dataclasses.replace(data.side_info, **change)
    with pytest.raises(ConfigurationError, match=message):
        get_model("content_tags").fit(data.train, seed=0, context=TrainingContext(side_info=side_info))


def test_collaborative_models_ignore_side_info(data):
    plain = get_model("ease").fit(data.train, seed=0).score(np.arange(data.n_users))
    with_side_info = get_model("ease").fit(data.train, seed=0, context=data.context).score(np.arange(data.n_users))
    np.testing.assert_array_equal(plain, with_side_info)


def test_different_seeds_give_different_models(data):
    scores = [
        get_model("bpr_mf", factors=4, epochs=2, batch_size=64).fit(data.train, seed=seed).score(np.arange(3))
        for seed in (1, 2)
    ]
    assert not np.array_equal(*scores)


# --- shared torch utilities -------------------------------------------------------------------------


def test_negative_sampler_never_returns_training_items(data):
    sampler = InteractionSampler(data.train, rng=np.random.default_rng(0))
    users = np.repeat(np.arange(data.n_users), 20)
    negatives = sampler.negatives(users, 3)
    assert negatives.shape == (len(users), 3)
    dense = data.train.toarray() > 0
    assert not dense[users[:, None], negatives].any()


def test_validation_recall_counts_hits_in_the_top_k_excluding_train_items():
    train = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    validation = sp.csr_matrix(np.array([[0, 1, 0, 1], [0, 0, 1, 0]], dtype=np.float32))
    scores = np.array([[9.0, 3.0, 2.0, 1.0], [4.0, 3.0, 1.0, 2.0]], dtype=np.float32)
    # user 0: train item 0 excluded, top-2 = {1, 2} -> 1 of 2 hits; user 1: top-2 = {0, 1} -> 0 of 1
    assert validation_recall(lambda users: scores[users], train=train, validation=validation, k=2) == pytest.approx(
        0.25
    )
