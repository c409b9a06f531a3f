"""The joint KG recommender (``leitmotif.joint.v1``): contract, objective, ablations, cold start, artifacts, command.

Runs on the tiny clustered data of :mod:`tests.helpers.recommender_cases` (40 users × 30 items, two taste
groups with aligned tags and KG triples). Content vectors are the items' tag profiles passed as a
precomputed matrix, so only one small test loads the real sentence encoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from django.core.management import CommandError, call_command

from core.errors import ConfigurationError, DataFileError
from recommender.base import Recommender, TrainingContext
from recommender.baselines.torch_utils import seeded_torch
from recommender.models import available_recommenders, get_recommender, get_recommender_class
from recommender.models.config import JointConfig
from recommender.models.inputs import JointInputs
from recommender.models.joint import JointKGRecommender, JointNetwork, combine_member_scores
from recommender.models.neighbourhood import (
    cold_transfer_matrix,
    cosine_item_similarity,
    ease_item_weights,
    ease_scores,
    history_matrix,
    neighbourhood_scores,
    with_cold_transfer,
)
from recommender.training import load_trained_recommender, recommender_train
from tests.helpers.recommender_cases import TorchRecommenderCase, clustered_interactions, mean_cluster_auc
from tests.helpers.recommender_data import TINY, clustered_dataset, tag_content, write_tiny_lastfm


def build(data=None, **overrides: Any) -> JointKGRecommender:
    data = data or clustered_interactions()
    return get_recommender(
        "leitmotif", config=JointConfig(**{**TINY, **overrides}), content_embeddings=tag_content(data)
    )


class TestJointContract(TorchRecommenderCase):
    """The shared recommender contract (shapes, determinism, learning, bad users, early stopping)."""

    model = "leitmotif"
    params = TINY
    bad_params = {
        "lambda_kg": -0.1,
        "dropout": 1.0,
        "epochs": 0,
        "rec_loss": "mse",
        "use_graph": "yes",
        "temperature": 0.0,
    }
    min_cluster_auc = 0.85

    @classmethod  # the case's class-scoped fixtures call it on the class
    def build(cls, **overrides: Any):
        return build(**{**cls.params, **overrides})

    # The registry tests of the case assume the baselines' registry; these are the product-model versions.
    def test_registered_under_versioned_name_and_alias(self, fitted):
        cls = get_recommender_class("leitmotif")
        assert get_recommender_class("leitmotif.joint.v1") is cls is JointKGRecommender
        assert available_recommenders() == ["leitmotif.joint.v1"]
        assert fitted.name == "leitmotif.joint.v1" and isinstance(fitted, Recommender)
        with pytest.raises(ConfigurationError, match="leitmotif"):
            get_recommender_class("no-such-model")

    def test_default_configuration_is_valid(self):
        assert JointKGRecommender().get_params() == JointConfig().to_dict() == JointKGRecommender.default_params()

    def test_hpo_default_keys_are_init_parameters(self):
        assert JointKGRecommender.hpo_default == {}

    def test_hpo_default_bounds_are_accepted(self):
        """No search space is declared (the defaults were tuned on validation, see JointConfig); the tuned
        values themselves pass the config's checks when given back as overrides."""
        defaults = JointConfig()
        assert defaults.with_overrides(**defaults.to_dict()) == defaults

    def test_unknown_parameter_is_refused_with_the_valid_ones(self):
        with pytest.raises(ConfigurationError, match="no_such_parameter.*allowed:.*lambda_kg"):
            JointConfig().with_overrides(no_such_parameter=1)


@pytest.fixture(scope="module")
def data():
    return clustered_interactions()


@pytest.fixture(scope="module")
def fitted(data):
    return build(data).fit(data.train, seed=0, context=data.context)


def test_losses_are_finite_and_backward_reaches_every_part(fitted, data):
    assert fitted.history.losses and np.isfinite(fitted.history.losses).all()
    assert all(np.isfinite(p["rec"]) and p["kg"] > 0 and np.isfinite(p["kg"]) for p in fitted.loss_parts)
    with seeded_torch(0):  # the network's initial weights, rebuilt exactly as fit() built them
        initial = JointNetwork(config=fitted.config, inputs=fitted.inputs).state_dict()
    trained = fitted.network.state_dict()
    unchanged = [name for name, value in initial.items() if torch.equal(value, trained[name])]
    assert unchanged == [], f"no gradient reached {unchanged}"


def test_training_positives_outscore_unseen_items(fitted, data):
    scores = fitted.score(np.arange(data.n_users))
    seen = data.train.toarray() > 0
    assert scores[seen].mean() > scores[~seen].mean() + 1.0


def test_ablation_flags_remove_their_parameters(data):
    def parameter_names(**overrides) -> set[str]:
        model = build(data, epochs=1, **overrides).fit(data.train, seed=0, context=data.context)
        return {name.split(".")[0] for name, _ in model.network.named_parameters()}

    full = parameter_names()
    assert {"entities", "relations", "content_projection", "attention", "neighbourhood_weight"} <= full
    assert not {"entities", "relations"} & parameter_names(use_graph=False)
    assert "content_projection" not in parameter_names(use_content=False)
    assert "attention" not in parameter_names(use_attention=False)
    assert "neighbourhood_weight" not in parameter_names(use_neighbourhood=False)


def test_neighbourhood_gates_and_bpr_variants_train(data):
    gated = build(data, epochs=2, neighbourhood_gates=True).fit(data.train, seed=0, context=data.context)
    assert gated.network.item_mlp[-1].out_features == TINY["embedding_dim"] + 2  # vector, bias, gate
    bpr = build(data, epochs=2, rec_loss="bpr").fit(data.train, seed=0, context=data.context)
    for model in (gated, bpr):
        assert np.isfinite(model.score(np.arange(data.n_users))).all() and np.isfinite(model.history.losses).all()


def test_lambda_zero_has_no_kg_loss_term(data):
    model = build(data, epochs=2, lambda_kg=0.0).fit(data.train, seed=0, context=data.context)
    assert not model.config.uses_kg_loss and not hasattr(model.network, "kg_interaction")
    assert [p["kg"] for p in model.loss_parts] == [0.0, 0.0]
    assert model.network.entities is not None  # the graph part stays, only its KG loss is gone


def test_complex_interaction_trains(data):
    model = build(data, epochs=2, kg_interaction="complex").fit(data.train, seed=0, context=data.context)
    assert model.network.entities.embedding_dim == 2 * TINY["graph_dim"]
    assert np.isfinite(model.score(np.arange(3))).all() and all(p["kg"] > 0 for p in model.loss_parts)


def test_cold_items_score_through_graph_and_content(fitted, data):
    scores = fitted.score(np.arange(data.n_users))
    assert np.isfinite(scores[:, data.cold_items]).all()
    assert fitted.inputs.unseen_items[data.cold_items].all()
    # each user's own group's cold item beats the other group's, with no interaction to go on
    assert mean_cluster_auc(scores, data, cold=True) >= 0.8


def test_cold_transfer_lends_each_unseen_item_its_closest_seen_items_columns():
    # items 0, 1, 2 seen; 3 and 4 unseen; 5 unseen and unlike anything (no borrowed column)
    vectors = sp.csr_matrix(
        np.array(
            [
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
                [3.0, 1.0, 0.0],
                [0.0, 2.0, 2.0],
                [0.0, 0.0, 0.0],
            ]
        )
    )
    unseen = np.array([False, False, False, True, True, True])
    transfer = cold_transfer_matrix(vectors, unseen=unseen, k=2).toarray()
    cos3 = np.array([3.0, 1.0]) / np.sqrt(10)  # item 3 ~ items 0 and 1
    np.testing.assert_allclose(transfer[[0, 1], 3], cos3 / cos3.sum(), rtol=1e-6)
    np.testing.assert_allclose(transfer[[1, 2], 4], [0.5, 0.5], rtol=1e-6)  # a tie: both, equally
    assert not transfer[:, :3].any() and not transfer[:, 5].any() and not transfer[3:].any()
    np.testing.assert_allclose(cold_transfer_matrix(vectors, unseen=unseen, k=1).toarray()[:, 3], [1, 0, 0, 0, 0, 0])

    cosine = np.array([[0.8, 0.2, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.6, 0.0, 0.0, 0.0]], dtype=np.float32)
    lent = with_cold_transfer(cosine, transfer=sp.csr_matrix(transfer), scale=1.5)
    np.testing.assert_allclose(lent[:, :3], cosine[:, :3])  # seen columns untouched
    np.testing.assert_allclose(lent[:, 3], 1.5 * cosine[:, :2] @ (cos3 / cos3.sum()), rtol=1e-6)
    np.testing.assert_allclose(lent[:, 4], 1.5 * 0.5 * (cosine[:, 1] + cosine[:, 2]), rtol=1e-6)
    assert not lent[:, 5].any()
    assert with_cold_transfer(cosine, transfer=sp.csr_matrix((0, 0)), scale=1.5) is cosine  # switched off
    with pytest.raises(ValueError, match="flag each of the 6 items"):
        cold_transfer_matrix(vectors, unseen=unseen[:4], k=2)


def test_borrowed_neighbourhood_lets_cold_items_into_lists_beside_warm_ones(data):
    """Without the borrowed columns a cold item must beat warm items' co-listening evidence with its towers alone."""
    users = np.arange(data.n_users)

    def cold_in_top(model) -> float:
        scores = model.score(users)
        scores[data.train.nonzero()] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :5]
        return float(np.isin(top, data.cold_items).any(axis=1).mean())

    lent = build(data).fit(data.train, seed=0, context=data.context)
    plain = build(data, cold_neighbours=0).fit(data.train, seed=0, context=data.context)
    assert lent.inputs.cold_transfer.nnz and plain.inputs.cold_transfer.nnz == 0
    assert set(lent.inputs.cold_transfer.tocoo().col) <= set(np.flatnonzero(lent.inputs.unseen_items))
    assert cold_in_top(lent) > cold_in_top(plain)
    # the towers and their weights are untouched by the option: only the neighbourhood columns differ
    np.testing.assert_array_equal(lent.inputs.item_similarity.toarray(), plain.inputs.item_similarity.toarray())


def test_cold_item_lenders_name_the_seen_items_a_cold_item_borrows_from(fitted, data):
    cold = int(data.cold_items[0])
    lenders = fitted.cold_item_lenders(cold, np.zeros(0, dtype=np.int64))
    assert lenders and not fitted.inputs.unseen_items[[lender for lender, _, _ in lenders]].any()
    assert sum(weight for _, weight, _ in lenders) == pytest.approx(1.0, rel=1e-5)
    assert all(source is None for _, _, source in lenders)  # an empty history co-listens with nothing
    similarity = fitted.inputs.item_similarity.toarray()
    history = np.flatnonzero(similarity[:, lenders[0][0]] > 0)[:3]
    with_history = fitted.cold_item_lenders(cold, history)
    lender, _, source = with_history[0]
    assert source in history and similarity[source, lender] == similarity[history, lender].max() > 0
    assert fitted.strongest_co_listeners(history, [lender]) == [
        (source, pytest.approx(float(similarity[source, lender])))
    ]
    assert fitted.strongest_co_listeners(np.zeros(0, dtype=np.int64), [lender, cold]) == [(None, 0.0), (None, 0.0)]
    assert fitted.strongest_co_listeners(history, [cold]) == [(None, 0.0)]  # nobody co-listened with a cold item
    assert (
        fitted.cold_item_lenders(int(np.flatnonzero(~fitted.inputs.unseen_items)[0]), history) == []
    )  # a seen item borrows nothing


def test_model_inputs_written_before_cold_transfer_still_load(fitted, tmp_path):
    fitted.inputs.save(tmp_path / "inputs.npz")
    with np.load(tmp_path / "inputs.npz") as archive:
        old = {name: archive[name] for name in archive.files if not name.startswith("cold_transfer__")}
    np.savez(tmp_path / "old.npz", **old)
    loaded = JointInputs.load(tmp_path / "old.npz")
    assert loaded.cold_transfer.nnz == 0
    cosine = np.ones((2, fitted.n_items), dtype=np.float32)
    assert with_cold_transfer(cosine, transfer=loaded.cold_transfer, scale=1.5) is cosine


def test_neighbourhood_training_column_leaves_the_user_out():
    # users 0 and 1 both played items 0 and 1; user 2 only item 1
    train = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float32))
    similarity, popularity = cosine_item_similarity(train, shrink=1.0)
    history = np.array([[0, 1]])
    plain = neighbourhood_scores(history, similarity=similarity, popularity=popularity, shrink=1.0)
    assert plain[0, 2] == pytest.approx(1 / (np.sqrt(3) + 1))  # item 1 ~ item 2 through user 2
    loo = neighbourhood_scores(history, similarity=similarity, popularity=popularity, shrink=1.0, targets=np.array([1]))
    naive = neighbourhood_scores(np.array([[0]]), similarity=similarity, popularity=popularity, shrink=1.0)
    # naive: item 0 ~ item 1 counts user 0's own pair, 2 / (√2·√3 + 1); without user 0 it is 1 / (√2·√2 + 1)
    assert naive[0, 1] == pytest.approx(2 / (np.sqrt(6) + 1)) and loo[0, 1] == pytest.approx(1 / 3)
    np.testing.assert_allclose(np.delete(loo, 1, axis=1), np.delete(naive, 1, axis=1))  # other columns unchanged


def test_neighbourhood_columns_are_the_same_numbers_as_the_full_rows():
    rng = np.random.default_rng(0)
    train = sp.csr_matrix((rng.random((30, 12)) < 0.3).astype(np.float32))
    similarity, popularity = cosine_item_similarity(train, shrink=1.0)
    history = np.array([[0, 3, 5, 12], [1, 2, 12, 12]])  # padded with n_items = 12
    targets = np.array([3, 2])
    columns = np.array([2, 3, 7, 9])
    kwargs = {"similarity": similarity, "popularity": popularity, "shrink": 1.0, "targets": targets}
    full = neighbourhood_scores(history, **kwargs)
    np.testing.assert_allclose(neighbourhood_scores(history, columns=columns, **kwargs), full[:, columns])


def test_sampled_softmax_trains_on_the_steps_candidates_and_ranks_like_the_full_one(data):
    """The sampled loss sees only part of the catalogue per step, yet learns the same taste groups."""
    sampled = build(data, rec_loss="sampled_softmax", sampled_negatives=4).fit(data.train, seed=0, context=data.context)
    scores = sampled.score(np.arange(data.n_users))
    assert np.isfinite(sampled.history.losses).all() and np.isfinite(scores).all()
    seen = data.train.toarray() > 0
    assert scores[seen].mean() > scores[~seen].mean() + 1.0
    assert mean_cluster_auc(scores, data) >= 0.8
    again = build(data, rec_loss="sampled_softmax", sampled_negatives=4).fit(data.train, seed=0, context=data.context)
    np.testing.assert_array_equal(again.score(np.arange(data.n_users)), scores)  # the seed fixes every draw


def test_sampled_softmax_towers_see_every_history_item_and_the_softmax_scores_targets_and_draws(data):
    from recommender.models.fitting import MemberTrainer

    model = build(data, rec_loss="sampled_softmax", sampled_negatives=3, epochs=1).fit(
        data.train, seed=0, context=data.context
    )
    trainer = MemberTrainer(
        network=model.network, inputs=model.inputs, config=model.config, rng=np.random.default_rng(0)
    )
    users, items = np.array([0, 1, 2]), np.array([int(data.train[u].indices[0]) for u in (0, 1, 2)])
    candidates = trainer._candidates(users, items)
    tower, columns = candidates.tower_items.numpy(), candidates.columns.numpy()
    history = model.inputs.history[users]
    assert set(items) | set(history[history < model.inputs.n_items].tolist()) <= set(tower.tolist())
    assert set(items) <= set(columns.tolist()) <= set(tower.tolist())
    assert (np.diff(tower) > 0).all() and (np.diff(columns) > 0).all()
    assert not model.inputs.unseen_items[tower].any()
    assert (candidates.tower_positions.numpy()[tower] == np.arange(len(tower))).all()
    assert candidates.tower_positions[model.inputs.n_items] == len(tower)  # the padding row
    assert (tower[candidates.column_rows.numpy()] == columns).all()
    assert (candidates.column_positions.numpy()[columns] == np.arange(len(columns))).all()
    assert len(candidates.log_q) == len(columns) and torch.isfinite(candidates.log_q).all()
    assert (candidates.log_q <= 0).all()


def test_auto_loss_is_the_full_softmax_for_small_catalogues_and_the_sampled_one_for_large():
    config = JointConfig()
    assert config.rec_loss == "auto"
    assert config.rec_loss_for(3_846) == "softmax"  # the KGCN subset every default was tuned on
    assert config.rec_loss_for(17_632) == "sampled_softmax"  # the full HetRec catalogue
    assert JointConfig(neighbourhood_terms="cosine+ease").rec_loss_for(17_632) == "softmax"
    assert JointConfig(rec_loss="bpr").rec_loss_for(17_632) == "bpr"


def test_sampled_softmax_refuses_the_dense_ease_term():
    with pytest.raises(ConfigurationError, match="sampled_softmax"):
        JointConfig(rec_loss="sampled_softmax", neighbourhood_terms="cosine+ease")


def test_validation_users_can_be_sampled_for_early_stopping(data):
    context = TrainingContext(side_info=data.side_info, validation=data.validation)
    model = build(data, epochs=2, patience=5, max_validation_users=3).fit(data.train, seed=0, context=context)
    recalls = [recall for _, recall in model.history.validation_recall]
    assert len(recalls) == 2 and all(0.0 <= recall <= 1.0 for recall in recalls)


def test_ease_training_scores_equal_a_refit_without_the_pair():
    """The rank-2 Woodbury correction gives exactly EASE refit on the data minus (u, t), in every column."""
    rng = np.random.default_rng(0)
    dense = (rng.random((25, 10)) < 0.35).astype(np.float32)
    dense[:3, :4] = 1.0
    history = np.full((25, 10), 10)
    for user, row in enumerate(dense):
        items = np.nonzero(row)[0]
        history[user, : len(items)] = items
    weights, diagonal = ease_item_weights(sp.csr_matrix(dense), l2=3.0)
    np.testing.assert_allclose(
        diagonal, np.diag(np.linalg.inv(dense.T.astype(float) @ dense + 3.0 * np.eye(10))), rtol=1e-6
    )
    users, targets = np.array([0, 0, 1, 2]), np.array([0, 3, 1, 2])
    loo = ease_scores(history[users], weights=weights, precision_diagonal=diagonal, targets=targets)
    for row, (user, target) in enumerate(zip(users, targets, strict=True)):
        without = dense.astype(float).copy()
        without[user, target] = 0.0
        precision = np.linalg.inv(without.T @ without + 3.0 * np.eye(10))
        refit = -precision / np.diag(precision)[None, :]
        np.fill_diagonal(refit, 0.0)
        np.testing.assert_allclose(loo[row], without[user] @ refit, atol=1e-5)
    plain = ease_scores(history[:2], weights=weights, precision_diagonal=diagonal)
    np.testing.assert_allclose(plain, history_matrix(history[:2], n_items=10) @ weights, atol=1e-6)


def test_ease_neighbourhood_trains_saves_and_folds_in(data, tmp_path):
    model = build(data, epochs=2, neighbourhood_terms="cosine+ease", ease_l2=5.0, average_epochs=2)
    model.fit(data.train, seed=0, context=TrainingContext(side_info=data.side_info, validation=data.validation))
    names = {name for name, _ in model.network.named_parameters()}
    assert {"neighbourhood_weight", "ease_weight"} <= names and model.inputs.item_ease.shape == (30, 30)
    assert model.describe()["averaged_epochs"] == [1, 2]
    users = np.arange(data.n_users)
    histories = [row[row < model.n_items] for row in model.inputs.history]
    has_tags = np.diff(data.side_info.item_tags.tocsr().indptr) > 0
    folded = model.score_history(histories, user_indices=list(users), item_has_tags=has_tags)
    np.testing.assert_allclose(folded, model.score(users), rtol=1e-4, atol=1e-3)
    model.save_weights(tmp_path)
    loaded = JointKGRecommender.load_weights(tmp_path, config=model.config)
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    only = build(data, epochs=1, neighbourhood_terms="ease").fit(data.train, seed=0, context=data.context)
    assert "neighbourhood_weight" not in {name for name, _ in only.network.named_parameters()}


def test_an_ensemble_averages_standardised_members_and_round_trips(data, tmp_path):
    single = build(data, epochs=3).fit(data.train, seed=0, context=data.context)
    ensemble = build(data, epochs=3, ensemble_members=2).fit(data.train, seed=0, context=data.context)
    users = np.arange(data.n_users)
    first, second = ensemble.networks()
    # member 0 is the single model exactly; member 1 is a different network
    np.testing.assert_array_equal(first.item_id.weight.detach().numpy(), single.network.item_id.weight.detach().numpy())
    assert not torch.equal(first.item_id.weight, second.item_id.weight)
    with torch.no_grad():
        members = [
            net.scores(torch.from_numpy(users), neighbourhood=ensemble._neighbourhood(users)).numpy()
            for net in (first, second)
        ]
    np.testing.assert_allclose(ensemble.score(users), combine_member_scores(members), rtol=1e-6)
    z = [(m - m.mean(1, keepdims=True)) / m.std(1, keepdims=True) for m in members]
    np.testing.assert_allclose(combine_member_scores(members), (z[0] + z[1]) / 2, rtol=1e-5, atol=1e-6)
    assert ensemble.describe()["ensemble_members"] == 2 and len(ensemble.describe()["other_members"]) == 1
    # fold-in scores every member too
    histories = [row[row < ensemble.n_items] for row in ensemble.inputs.history]
    has_tags = np.diff(data.side_info.item_tags.tocsr().indptr) > 0
    folded = ensemble.score_history(histories, user_indices=list(users), item_has_tags=has_tags)
    np.testing.assert_allclose(folded, ensemble.score(users), rtol=1e-4, atol=1e-3)
    written = ensemble.save_weights(tmp_path)
    assert {"model_state.pt", "model_state_1.pt"} <= set(written)
    loaded = JointKGRecommender.load_weights(tmp_path, config=ensemble.config)
    np.testing.assert_array_equal(loaded.score(users), ensemble.score(users))
    (tmp_path / "model_state_1.pt").unlink()
    with pytest.raises(DataFileError, match="model_state_1.pt"):
        JointKGRecommender.load_weights(tmp_path, config=ensemble.config)


def test_training_splits_above_the_ensemble_limit_train_one_network_and_say_so(data, tmp_path):
    config = JointConfig(ensemble_members=3, ensemble_max_train_pairs=100)
    assert config.members_for(100) == 3 and config.members_for(101) == 1
    assert JointConfig(ensemble_members=3, ensemble_max_train_pairs=0).members_for(10**9) == 3
    limit = int(data.train.nnz) - 1
    model = build(data, epochs=1, ensemble_members=2, ensemble_max_train_pairs=limit)
    model.fit(data.train, seed=0, context=data.context)
    assert len(model.networks()) == 1
    # the saved config is what was trained, so the artifact loads (and re-runs) as it is
    assert model.config.ensemble_members == 1 and model.describe()["ensemble_members"] == 1
    model.save_weights(tmp_path)
    loaded = JointKGRecommender.load_weights(tmp_path, config=model.config)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(loaded.score(users), model.score(users))


def test_bad_inputs_are_refused_with_what_to_fix(data):
    for kwargs, message in (
        (dict(neighbourhood_terms="knn"), "neighbourhood_terms"),
        (dict(ease_l2=0), "ease_l2"),
        (dict(neighbourhood_weight_lr=-1.0), "neighbourhood_weight_lr"),
        (dict(average_epochs=0), "average_epochs"),
        (dict(ease_weight_init=float("inf")), "ease_weight_init"),
        (dict(lambda_kg=-1), "lambda_kg"),
        (dict(rec_loss="mse"), "rec_loss"),
        (dict(kg_interaction="distmult"), "kg_interaction"),
        (dict(dropout=1.5), "dropout"),
        (dict(batch_size=0), "batch_size"),
        (dict(use_content=1), "use_content"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(cold_neighbours=-1), "cold_neighbours"),
        (dict(cold_neighbours=2.5), "cold_neighbours"),
        (dict(cold_transfer_scale=-0.5), "cold_transfer_scale"),
        (dict(ensemble_members=0), "ensemble_members"),
        (dict(ensemble_max_train_pairs=-1), "ensemble_max_train_pairs"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            JointConfig(**kwargs)
    with pytest.raises(ConfigurationError, match="must be a JSON object"):
        JointConfig.from_dict([1, 2])
    with pytest.raises(ConfigurationError, match="use_content needs content_embeddings"):
        JointKGRecommender(JointConfig(**TINY)).fit(data.train, seed=0, context=data.context)
    with pytest.raises(ConfigurationError, match="use_graph needs knowledge-graph side information"):
        build(data).fit(data.train, seed=0, context=TrainingContext())
    with pytest.raises(ConfigurationError, match=r"content_embeddings must be an \(n_items=30"):
        JointKGRecommender(JointConfig(**TINY), content_embeddings=np.ones((5, 3))).fit(
            data.train, seed=0, context=data.context
        )
    with pytest.raises(ConfigurationError, match="must be binary"):
        build(data).fit(data.train * 3, seed=0, context=data.context)
    with pytest.raises(ConfigurationError, match="config must be a JointConfig"):
        JointKGRecommender({"epochs": 3})


# --- training service and artifacts ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    return recommender_train(
        dataset=clustered_dataset(data),
        config=JointConfig(**TINY),
        seed=1,
        content_embeddings=tag_content(data),
        output_dir=tmp_path_factory.mktemp("artifacts"),
    )


def test_service_saves_a_versioned_artifact_with_validation_metrics_only(trained):
    path = trained.path
    assert path.parent.is_dir() and path.name.startswith("leitmotif-")
    config = json.loads((path / "config.json").read_text())
    assert (
        config["seed"] == 1
        and config["split"]["protocol"] == "T"
        and config["config"]["lambda_kg"] == JointConfig().lambda_kg
    )
    metrics = json.loads((path / "metrics.json").read_text())
    assert "recall@10" in metrics["validation"] and "test" not in metrics
    assert json.loads((path / "item_ids.json").read_text())[:2] == [500, 501]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no partial directory left


def test_saved_model_reloads_with_identical_scores(trained, data):
    loaded = load_trained_recommender(trained.path)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(loaded.model.score(users), trained.model.score(users))
    np.testing.assert_array_equal(loaded.item_ids, trained.item_ids)
    assert loaded.config == trained.config and loaded.seed == 1


def test_an_artifact_trained_above_the_ensemble_limit_saves_and_reloads_its_one_network(data, tmp_path):
    trained = recommender_train(
        dataset=clustered_dataset(data),
        config=JointConfig(**{**TINY, "ensemble_members": 2, "ensemble_max_train_pairs": 1}),
        seed=1,
        content_embeddings=tag_content(data),
        output_dir=tmp_path,
    )
    saved = json.loads((trained.path / "config.json").read_text())["config"]
    assert saved["ensemble_members"] == 1 == trained.config.ensemble_members
    loaded = load_trained_recommender(trained.path)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(loaded.model.score(users), trained.model.score(users))


def test_edited_artifact_is_refused(trained, tmp_path):
    import shutil

    edited, incomplete = tmp_path / "edited", tmp_path / "incomplete"
    shutil.copytree(trained.path, edited)
    shutil.copytree(trained.path, incomplete)
    (edited / "item_ids.json").write_text("[1, 2]\n")
    with pytest.raises(DataFileError, match="item_ids.json: checksum does not match"):
        load_trained_recommender(edited)
    (incomplete / "model_state.pt").unlink()
    with pytest.raises(DataFileError, match="model_state.pt: artifact file is missing"):
        load_trained_recommender(incomplete)
    with pytest.raises(DataFileError, match="not found"):
        load_trained_recommender(tmp_path / "nothing-here")


def test_test_metrics_only_on_request(data, tmp_path):
    result = recommender_train(
        dataset=clustered_dataset(data),
        config=JointConfig(**{**TINY, "epochs": 1}),
        seed=0,
        content_embeddings=tag_content(data),
        evaluate_test=True,
        save=False,
    )
    assert result.path is None and "recall@10" in result.metrics["test"]
    with pytest.raises(ConfigurationError, match="neither content_embeddings nor a content_encoder"):
        recommender_train(dataset=clustered_dataset(data), config=JointConfig(**TINY), content_encoder=None, save=False)


# --- content vectors --------------------------------------------------------------------------------


def test_item_texts_name_the_artist_and_its_top_tags(data):
    from recommender.content import item_texts

    texts = item_texts(names=[f"Artist {i}" for i in range(data.n_items)], side_info=data.side_info, top_tags=2)
    tags = data.side_info.item_tags.toarray()[0]
    best = [
        data.side_info.tag_names[t]
        for t in sorted(np.flatnonzero(tags), key=lambda t: (-tags[t], data.side_info.tag_names[t]))[:2]
    ]
    assert texts[0] == f"Artist 0. Tags: {', '.join(best)}"
    with pytest.raises(ConfigurationError, match="names has 2 entries"):
        item_texts(names=["a", "b"], side_info=data.side_info)


def test_minilm_encodes_and_caches_three_texts(tmp_path):
    from recommender.content import encode_texts, texts_digest

    texts = ["Metallica. Tags: thrash metal", "Slayer. Tags: thrash metal", "Miles Davis. Tags: jazz, trumpet"]
    vectors = encode_texts(texts, cache_dir=tmp_path)
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    cached = tmp_path / f"{texts_digest(texts, encoder_name='all-MiniLM-L6-v2')}.npy"
    assert cached.is_file()
    np.testing.assert_array_equal(encode_texts(texts, cache_dir=tmp_path), vectors)  # served from the cache
    cached.write_bytes(b"not numpy")
    with pytest.raises(DataFileError, match="delete the file"):
        encode_texts(texts, cache_dir=tmp_path)


def test_a_changed_text_list_encodes_only_the_new_texts(tmp_path):
    from recommender.content import encode_texts

    class CountingEncoder:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def encode(self, texts, **_: Any) -> np.ndarray:
            self.seen += list(texts)
            return np.stack([np.eye(4, dtype=np.float32)[len(t) % 4] for t in texts])

    first = CountingEncoder()
    before = encode_texts(["a", "bb", "ccc"], encoder=first, cache_dir=tmp_path)
    second = CountingEncoder()
    after = encode_texts(["bb", "dddd", "a"], encoder=second, cache_dir=tmp_path)
    assert second.seen == ["dddd"]  # the two known texts come from the earlier entry
    np.testing.assert_array_equal(after[0], before[1])
    np.testing.assert_array_equal(after[2], before[0])
    third = CountingEncoder()
    np.testing.assert_array_equal(encode_texts(["bb", "dddd", "a"], encoder=third, cache_dir=tmp_path), after)
    assert third.seen == []


# --- management command ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_trains_on_a_tiny_catalog(tmp_path, capsys):
    call_command("load_lastfm", data_dir=str(write_tiny_lastfm(tmp_path / "data")), backend="sql", no_progress=True)
    capsys.readouterr()
    call_command(
        "train_recommender",
        epochs=2,
        seed=0,
        backend="sql",
        no_content=True,
        no_progress=True,
        output_dir=str(tmp_path / "artifacts"),
    )
    out = capsys.readouterr().out
    assert "12 users × 8 items" in out and "Validation (Protocol T, full ranking): recall@10" in out
    path = Path(out.strip().splitlines()[-1].split("Saved the artifact to ")[1])
    assert load_trained_recommender(path).config.use_content is False
    with pytest.raises(CommandError, match="KGE artifact directory not found"):
        call_command(
            "train_recommender", kge_artifact=str(tmp_path / "no-kge"), backend="sql", no_content=True, no_progress=True
        )


@pytest.mark.django_db
def test_command_on_an_empty_catalog_says_to_load_data(tmp_path):
    with pytest.raises(CommandError, match="load_lastfm"):
        call_command("train_recommender", backend="sql", no_content=True, no_progress=True, output_dir=str(tmp_path))
    with pytest.raises(CommandError, match="lambda_kg"):
        call_command("train_recommender", lambda_kg=-1.0, backend="sql", no_progress=True, output_dir=str(tmp_path))


# --- initialisation from a PyKEEN artifact -----------------------------------------------------------


def test_entity_vectors_start_from_a_kge_artifact(data, tmp_path):
    from kg.embeddings.artifacts import load_kge_artifact, save_kge_artifact
    from kg.embeddings.config import KgeConfig
    from kg.embeddings.training import kge_train

    info = data.side_info
    labelled = np.array(
        [(info.entity_ids[h], info.relation_types[r], info.entity_ids[t]) for h, r, t in info.kg_triples]
    )
    result = kge_train(
        triples=labelled, config=KgeConfig(model="transe", embedding_dim=TINY["graph_dim"], epochs=2, seed=0)
    )
    artifact = load_kge_artifact(save_kge_artifact(result=result, directory=tmp_path))

    # learning rate ~0 so the trained table still shows where it started
    model = get_recommender(
        "leitmotif",
        config=JointConfig(**{**TINY, "epochs": 1, "learning_rate": 1e-12}),
        content_embeddings=tag_content(data),
        kge_artifact=artifact,
    )
    model.fit(data.train, seed=0, context=data.context)
    matched = [k for k, e in enumerate(info.entity_ids) if e in artifact.entity_to_id]
    assert (
        model.kge_initialisation["entities"] == {"initialised": len(matched), "total": len(info.entity_ids)} and matched
    )
    k = matched[0]
    np.testing.assert_allclose(
        model.network.entities.weight[k].detach().numpy(),
        artifact.entity_embeddings[artifact.entity_to_id[info.entity_ids[k]]],
        atol=1e-5,
    )

    for overrides, message in (
        (dict(kg_interaction="complex"), "holds transe vectors"),
        (dict(graph_dim=8), "graph_dim=16"),
    ):
        wrong = get_recommender(
            "leitmotif",
            config=JointConfig(**{**TINY, **overrides}),
            content_embeddings=tag_content(data),
            kge_artifact=artifact,
        )
        with pytest.raises(ConfigurationError, match=message):
            wrong.fit(data.train, seed=0, context=data.context)
