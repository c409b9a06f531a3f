"""Shared test case for recommenders (in the spirit of PyKEEN's ``tests/cases.py``).

A model's test class subclasses :class:`RecommenderCase`, names the model and a small, fast
configuration, and inherits every contract test: registry, declared hyper-parameters, input checks,
output shape/dtype, determinism under a seed, and a behavioural check that learning happened.

The data is tiny and has an obvious structure (:func:`clustered_interactions`): two groups of users,
each liking its own group of items, with tags and knowledge-graph triples aligned to the groups. Any
model that learns should rank a user's held-out items from their own group above the other group's.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import ConfigurationError
from recommender.base import ItemSideInfo, Recommender, TrainingContext
from recommender.baselines import get_model, get_model_class


@dataclass(frozen=True)
class ClusteredInteractions:
    train: sp.csr_matrix
    validation: sp.csr_matrix
    test: sp.csr_matrix
    side_info: ItemSideInfo
    user_cluster: np.ndarray
    item_cluster: np.ndarray
    #: one item per cluster whose interactions were all moved to ``test`` (never seen in training)
    cold_items: np.ndarray

    @property
    def context(self) -> TrainingContext:
        return TrainingContext(side_info=self.side_info, cold_items=self.cold_items)

    @property
    def n_users(self) -> int:
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        return self.train.shape[1]


@functools.cache
def clustered_interactions(*, seed: int = 7) -> ClusteredInteractions:
    """40 users (24 + 16, so item popularity differs between groups) × 30 items (15 + 15).

    In-group interactions have probability 0.5, cross-group 0.03. Per user, two in-group interactions
    go to test and one to validation. Tags: group 0 items carry rock/guitar/metal, group 1 items
    jazz/sax/swing, any item may carry the shared tag "live". KG: every item links to its group's genre,
    about half to its group's instrument, and neighbouring items of a group are linked by
    ``similar_to``; item i is entity ``item_entity[i]`` (shuffled, so models must use the mapping).
    """
    rng = np.random.default_rng(seed)
    user_cluster = np.repeat([0, 1], [24, 16])
    item_cluster = np.repeat([0, 1], [15, 15])
    same = user_cluster[:, None] == item_cluster[None, :]
    liked = rng.random(same.shape) < np.where(same, 0.5, 0.03)
    cold_items = np.array([14, 29])

    test = np.zeros_like(liked)
    validation = np.zeros_like(liked)
    test[:, cold_items] = liked[:, cold_items]
    liked[:, cold_items] = False
    for user in range(len(user_cluster)):
        own = np.flatnonzero(liked[user] & same[user])
        rng.shuffle(own)
        if len(own) >= 5:
            test[user, own[:2]] = True
            validation[user, own[2]] = True
            liked[user, own[:3]] = False
    as_csr = lambda m: sp.csr_matrix(m.astype(np.float32))  # noqa: E731

    tag_names = ["rock", "guitar", "metal", "jazz", "sax", "swing", "live"]
    item_tags = np.zeros((len(item_cluster), len(tag_names)), dtype=np.float32)
    for item, group in enumerate(item_cluster):
        for tag in rng.choice(3, size=2, replace=False) + 3 * group:
            item_tags[item, tag] = rng.integers(1, 6)
        if rng.random() < 0.3:
            item_tags[item, 6] = rng.integers(1, 3)

    n_items = len(item_cluster)
    item_entity = rng.permutation(n_items)
    extra = ["genre:rock", "genre:jazz", "instrument:guitar", "instrument:sax", "country:nowhere"]
    entity_ids = [f"artist:{e}" for e in range(n_items)] + extra
    genre, instrument, country = {0: n_items, 1: n_items + 1}, {0: n_items + 2, 1: n_items + 3}, n_items + 4
    relation_types = ["genre", "instrument", "similar_to", "origin"]
    triples = []
    for item, group in enumerate(item_cluster):
        head = int(item_entity[item])
        triples.append((head, 0, genre[group]))
        if item % 2 == 0:
            triples.append((head, 1, instrument[group]))
        if item + 1 < n_items and item_cluster[item + 1] == group:
            triples.append((head, 2, int(item_entity[item + 1])))
        if item % 5 == 0:
            triples.append((head, 3, country))
    side_info = ItemSideInfo(
        item_tags=sp.csr_matrix(item_tags),
        tag_names=tag_names,
        kg_triples=np.array(triples, dtype=np.int64),
        entity_ids=entity_ids,
        relation_types=relation_types,
        item_entity=item_entity.astype(np.int64),
    )
    return ClusteredInteractions(
        train=as_csr(liked),
        validation=as_csr(validation),
        test=as_csr(test),
        side_info=side_info,
        user_cluster=user_cluster,
        item_cluster=item_cluster,
        cold_items=cold_items,
    )


def mean_cluster_auc(scores: np.ndarray, data: ClusteredInteractions, *, cold: bool = False) -> float:
    """Mean over users of P(score of a held-out own-group item > score of an unseen other-group item).

    ``cold=False`` compares held-out warm items with warm other-group items; ``cold=True`` compares the
    cold items only (own group's cold item against the other group's). Ties count one half.
    """
    train = data.train.toarray() > 0
    test = data.test.toarray() > 0
    is_cold = np.isin(np.arange(data.n_items), data.cold_items)
    aucs = []
    for user in range(data.n_users):
        own = data.item_cluster == data.user_cluster[user]
        positives = np.flatnonzero(test[user] & own & (is_cold == cold))
        if cold:
            positives = np.flatnonzero(own & is_cold)
        negatives = np.flatnonzero(~own & ~train[user] & (is_cold == cold))
        if len(positives) == 0 or len(negatives) == 0:
            continue
        difference = scores[user, positives][:, None] - scores[user, negatives][None, :]
        aucs.append(np.mean((difference > 0) + 0.5 * (difference == 0)))
    return float(np.mean(aucs))


class RecommenderCase:
    """Contract tests every registered baseline must pass; subclasses set the class attributes."""

    #: registry alias of the model under test
    model: ClassVar[str]
    #: small configuration that trains in well under a second on the tiny data
    params: ClassVar[dict[str, Any]] = {}
    #: parameter -> invalid value; each must be refused with an error naming the parameter
    bad_params: ClassVar[dict[str, Any]] = {}
    #: minimum mean AUC of held-out own-group items against other-group items
    min_cluster_auc: ClassVar[float] = 0.8
    seed: ClassVar[int] = 3

    @classmethod
    def build(cls, **overrides: Any):
        return get_model(cls.model, **{**cls.params, **overrides})

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> ClusteredInteractions:
        return clustered_interactions()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, data):
        return cls.build().fit(data.train, seed=cls.seed, context=data.context)

    @pytest.fixture(scope="class")
    @classmethod
    def all_scores(cls, fitted, data) -> np.ndarray:
        return fitted.score(np.arange(data.n_users))

    # --- registry and declared hyper-parameters -------------------------------------------------

    def test_registered_under_versioned_name_and_alias(self, fitted):
        cls = get_model_class(self.model)
        assert get_model_class(cls.name) is cls
        assert cls.alias == self.model and cls.name == f"baseline.{self.model}.v1"
        assert fitted.name == cls.name
        assert isinstance(fitted, Recommender)

    def test_default_configuration_is_valid(self):
        cls = get_model_class(self.model)
        model = cls()
        assert model.get_params() == cls.default_params()

    def test_hpo_default_keys_are_init_parameters(self):
        cls = get_model_class(self.model)
        init_params = set(inspect.signature(cls.__init__).parameters) - {"self"}
        assert set(cls.hpo_default) <= init_params, set(cls.hpo_default) - init_params

    def test_hpo_default_bounds_are_accepted(self):
        cls = get_model_class(self.model)
        for name, spec in cls.hpo_default.items():
            kind = spec["type"]
            if kind in (int, float):
                assert spec["low"] < spec["high"], name
                values = [spec["low"], spec["high"]]
            elif kind is bool:
                values = [False, True]
            else:
                assert kind == "categorical", f"{name}: unknown search-space type {kind!r}"
                values = list(spec["choices"])
            for value in values:
                cls(**{name: value})

    def test_bad_params_are_refused_naming_the_parameter(self):
        assert self.bad_params or not get_model_class(self.model).parameter_names()
        for name, value in self.bad_params.items():
            with pytest.raises(ConfigurationError, match=name):
                self.build(**{name: value})

    def test_unknown_parameter_is_refused_with_the_valid_ones(self):
        cls = get_model_class(self.model)
        with pytest.raises(ConfigurationError, match="no parameter") as error:
            get_model(self.model, no_such_parameter=1)
        for name in cls.parameter_names():
            assert name in str(error.value)

    # --- fit/score contract ---------------------------------------------------------------------------

    def test_scores_have_shape_dtype_and_are_finite(self, all_scores, data):
        assert all_scores.shape == (data.n_users, data.n_items)
        assert all_scores.dtype == np.float32
        assert np.isfinite(all_scores).all()

    def test_scoring_a_subset_gives_the_same_rows(self, fitted, all_scores):
        users = np.array([5, 0, 33, 5])
        np.testing.assert_allclose(fitted.score(users), all_scores[users], rtol=1e-5, atol=1e-6)

    def test_empty_user_batch(self, fitted, data):
        assert fitted.score(np.array([], dtype=np.int64)).shape == (0, data.n_items)

    def test_same_seed_gives_identical_scores(self, all_scores, data):
        again = self.build().fit(data.train, seed=self.seed, context=data.context)
        np.testing.assert_array_equal(again.score(np.arange(data.n_users)), all_scores)

    def test_learns_the_cluster_structure(self, all_scores, data):
        assert mean_cluster_auc(all_scores, data) >= self.min_cluster_auc

    def test_bad_users_are_refused(self, fitted, data):
        with pytest.raises(ConfigurationError, match="out of range"):
            fitted.score(np.array([0, data.n_users]))
        with pytest.raises(ConfigurationError, match="out of range"):
            fitted.score(np.array([-1]))
        with pytest.raises(ConfigurationError, match="1-D array"):
            fitted.score(np.zeros((2, 2), dtype=np.int64))
        with pytest.raises(ConfigurationError, match="1-D array"):
            fitted.score(np.array([0.5]))

    def test_score_before_fit_is_refused(self):
        with pytest.raises(ConfigurationError, match="fit"):
            self.build().score(np.array([0]))


class TorchRecommenderCase(RecommenderCase):
    """Extra contract of the PyTorch baselines: early stopping on validation Recall@10."""

    def test_early_stopping_tracks_validation_recall(self, data):
        context = TrainingContext(side_info=data.side_info, validation=data.validation)
        model = self.build(epochs=4, patience=1).fit(data.train, seed=self.seed, context=context)
        epochs = [epoch for epoch, _ in model.history.validation_recall]
        assert epochs == list(range(1, len(epochs) + 1)) and 1 <= len(epochs) <= 4
        best = max(recall for _, recall in model.history.validation_recall)
        assert dict(model.history.validation_recall)[model.history.best_epoch] == best
        assert len(model.history.losses) == len(epochs)

    def test_fit_leaves_the_global_torch_random_state_alone(self, data):
        import torch

        before = torch.get_rng_state()
        self.build(epochs=1).fit(data.train, seed=self.seed, context=data.context)
        assert torch.equal(before, torch.get_rng_state())
