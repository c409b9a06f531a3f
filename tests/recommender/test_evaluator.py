"""Full-ranking evaluation with tiny deterministic models written here (not the baselines registry)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.base import Recommender
from recommender.evaluation import metrics as M
from recommender.evaluation import splits as S
from recommender.evaluation.evaluator import evaluate_ctr, evaluate_topk, top_k_items
from tests.helpers.recommender_data import MostPopular, SeededRandom, synthetic_dataset


class Oracle:
    """Scores each user's held-out items 1 and everything else 0: knows the answers."""

    name = "oracle"

    def __init__(self, answers: sp.csr_matrix):
        self.answers = sp.csr_matrix(answers)

    def fit(self, train, *, seed, context=None):
        return self

    def score(self, users):
        return (self.answers[users] > 0).toarray().astype(np.float32)


class OracleWithProba(Oracle):
    def predict_proba(self, users, items):
        return np.asarray(self.answers[users, items] > 0, dtype=np.float64).ravel() * 0.8 + 0.1


class TrainLover:
    """Scores training items highest: the evaluator must still never recommend them."""

    name = "train-lover"

    def fit(self, train, *, seed, context=None):
        self.train, self.seed = train, seed
        return self

    def score(self, users):
        noise = np.stack([np.random.default_rng([self.seed, int(u)]).random(self.train.shape[1]) for u in users])
        return (10 * self.train[users].toarray() + noise).astype(np.float32)


@pytest.fixture(scope="module")
def split():
    return S.protocol_t_split(synthetic_dataset(), seed=0)


def test_tiny_models_follow_the_protocol(split):
    for model in (Oracle(split.test), TrainLover(), MostPopular(), SeededRandom()):
        assert isinstance(model.fit(split.train_binary(), seed=0), Recommender)


def test_oracle_gets_perfect_ranking_scores(split):
    result = evaluate_topk(Oracle(split.test).fit(split.train_binary(), seed=0), split, ks=(1, 3, 10))
    relevant = np.diff(split.test.indptr)
    relevant = relevant[relevant > 0]
    assert result.details["n_users_evaluated"] == relevant.size
    for k in (1, 3, 10):
        for name in ("ndcg", "map", "mrr", "hit_rate"):
            assert result.metrics[f"{name}@{k}"] == pytest.approx(1.0), name
        # all relevant items are ranked first, but only K fit and only R exist
        assert result.metrics[f"recall@{k}"] == pytest.approx(np.mean(np.minimum(relevant, k) / relevant))
        assert result.metrics[f"precision@{k}"] == pytest.approx(np.mean(np.minimum(relevant, k) / k))
    assert result.split == "T" and result.seed == 0 and result.model == "oracle"


def test_training_and_validation_items_are_never_recommended(split):
    model = TrainLover().fit(split.train_binary(), seed=0)
    result = evaluate_topk(model, split, ks=(5, 10))
    history = (split.train + split.validation).tocsr()
    top = result.per_user["top_items"]
    for row, user in enumerate(result.per_user["user"]):
        assert not set(top[row].tolist()) & set(history[user].indices.tolist())
    # evaluating the validation part masks training only, so validation items can be found
    validation_result = evaluate_topk(Oracle(split.validation), split, ks=(5,), part="validation")
    assert validation_result.metrics["hit_rate@5"] == pytest.approx(1.0)


def test_sparsity_subsets_rank_the_same_candidates_at_every_level(split):
    # A model that loves the *full* training set: in a 10 % subset the withheld 90 % are its favourites,
    # yet they are known positives of the user and must be excluded, exactly as at 100 %.
    subset = S.sparsity_splits(split, fractions=(0.1,))[0]
    model = TrainLover().fit(split.train_binary(), seed=0)
    result = evaluate_topk(model, subset, ks=(10,))
    history = (split.train + split.validation).tocsr()
    for row, user in enumerate(result.per_user["user"]):
        assert not set(result.per_user["top_items"][row].tolist()) & set(history[user].indices.tolist())
    full = evaluate_topk(model, S.sparsity_splits(split, fractions=(1.0,))[0], ks=(10,))
    # same scores, same candidates -> same lists and numbers (novelty differs only because its
    # popularity reference is the training set the model saw)
    assert np.array_equal(result.per_user["top_items"], full.per_user["top_items"])
    assert {k: v for k, v in result.metrics.items() if not k.startswith("novelty")} == {
        k: v for k, v in full.metrics.items() if not k.startswith("novelty")
    }


@pytest.mark.parametrize("model_class", [MostPopular, SeededRandom, TrainLover])
def test_batch_size_does_not_change_results(split, model_class):
    model = model_class().fit(split.train_binary(), seed=3)
    reference = evaluate_topk(model, split, batch_size=1000)
    for batch_size in (1, 7):
        other = evaluate_topk(model, split, batch_size=batch_size)
        assert other.metrics == reference.metrics
        assert np.array_equal(other.per_user["top_items"], reference.per_user["top_items"])


def test_popularity_beats_random_and_coverage_novelty_behave(split):
    popular = evaluate_topk(MostPopular().fit(split.train_binary(), seed=0), split, ks=(10,))
    random = evaluate_topk(SeededRandom().fit(split.train_binary(), seed=0), split, ks=(10,))
    assert popular.metrics["coverage@10"] < random.metrics["coverage@10"]
    assert popular.metrics["novelty@10"] < random.metrics["novelty@10"]
    assert 0 <= random.metrics["recall@10"] <= 1


def test_top_k_items_breaks_ties_by_lower_index_and_marks_missing_candidates():
    scores = np.array(
        [
            [0.5, 0.9, 0.5, 0.5, 0.1],
            [-np.inf, 2.0, -np.inf, -np.inf, -np.inf],
        ],
        dtype=np.float32,
    )
    # row 0: 0.9 (item 1) first, then the tie at 0.5 resolved as items 0, 2 (item 3 is cut)
    # row 1: only item 1 is a candidate; the other slots stay empty
    assert top_k_items(scores, 3).tolist() == [[1, 0, 2], [1, M.NO_ITEM, M.NO_ITEM]]
    assert top_k_items(scores, 7).shape == (2, 7)  # K larger than the catalogue is padded


def test_cold_start_counts_hits_on_cold_items_only():
    dataset = synthetic_dataset()
    cold = S.cold_start_split(dataset, seed=0)
    oracle = evaluate_topk(Oracle(cold.test), cold, ks=(5,))
    assert oracle.metrics["ndcg@5"] == pytest.approx(1.0)
    assert oracle.details["n_cold_items"] == cold.cold_items.size

    class WarmOnly(MostPopular):
        """Never puts a cold item anywhere near the top: no cold hits possible with K small."""

        def score(self, users):
            scores = super().score(users) + 1.0
            scores[:, cold.cold_items] = -1.0
            return scores

    warm = evaluate_topk(WarmOnly().fit(cold.train_binary(), seed=0), cold, ks=(5,))
    assert warm.metrics["recall@5"] == 0.0 and warm.metrics["hit_rate@5"] == 0.0


def test_bad_models_and_arguments_get_clear_errors(split):
    class WrongShape(MostPopular):
        def score(self, users):
            return super().score(users)[:, :-1]

    class NaNScores(MostPopular):
        def score(self, users):
            out = super().score(users)
            out[0, 0] = np.nan
            return out

    with pytest.raises(ValueError, match="one score per item"):
        evaluate_topk(WrongShape().fit(split.train_binary(), seed=0), split)
    with pytest.raises(ValueError, match="NaN scores"):
        evaluate_topk(NaNScores().fit(split.train_binary(), seed=0), split)
    model = MostPopular().fit(split.train_binary(), seed=0)
    with pytest.raises(ValueError, match="ks must be positive"):
        evaluate_topk(model, split, ks=(0, 5))
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_topk(model, split, batch_size=0)
    with pytest.raises(ValueError, match="part must be"):
        evaluate_topk(model, split, part="train")
    with pytest.raises(TypeError, match="evaluate_ctr"):
        evaluate_topk(model, S.protocol_c_split(synthetic_dataset(), seed=0))
    with pytest.raises(TypeError, match="Protocol C"):
        evaluate_ctr(model, split)


# --- Protocol C ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctr_split():
    return S.protocol_c_split(synthetic_dataset(), seed=0)


def test_ctr_oracle_is_perfect_with_predict_proba(ctr_split):
    result = evaluate_ctr(OracleWithProba(ctr_split.test), ctr_split)
    assert result.metrics == {"auc": 1.0, "f1@0.5": 1.0}
    assert result.details["probability_source"] == "predict_proba"
    assert result.details["n_pairs"] == 2 * ctr_split.test.nnz


def test_ctr_without_predict_proba_uses_sigmoid_of_scores(ctr_split):
    # Oracle scores are 1 (positive) / 0 (negative): AUC is perfect whatever the transform, but
    # sigmoid(0) = 0.5 predicts every negative as positive: F1 = 2TP / (2TP + FP) = 2n / 3n = 2/3.
    result = evaluate_ctr(Oracle(ctr_split.test), ctr_split, batch_size=3, calibration="sigmoid")
    assert result.metrics["auc"] == 1.0
    assert result.metrics["f1@0.5"] == pytest.approx(2 / 3)
    assert result.details["probability_source"] == "sigmoid(score)"
    random = evaluate_ctr(SeededRandom().fit(ctr_split.train_binary(), seed=0), ctr_split)
    assert random.metrics["auc"] == pytest.approx(0.5, abs=0.1)
    assert (
        evaluate_ctr(SeededRandom().fit(ctr_split.train_binary(), seed=0), ctr_split, batch_size=5).metrics
        == random.metrics
    )


def test_ctr_platt_calibration_learns_the_threshold_on_validation_only(ctr_split):
    # Scores 1 / 0 are not probabilities; Platt scaling fitted on validation pairs maps them to ≈1 / ≈0.
    knows_both = Oracle(ctr_split.test + ctr_split.validation)
    result = evaluate_ctr(knows_both, ctr_split)
    assert result.details["probability_source"] == "platt(validation)"
    assert result.metrics == {"auc": 1.0, "f1@0.5": pytest.approx(1.0)}
    # An oracle of the test part alone looks random on validation: calibration cannot peek at test labels.
    blind = evaluate_ctr(Oracle(ctr_split.test), ctr_split)
    assert blind.metrics["auc"] == 1.0 and blind.metrics["f1@0.5"] < 0.9
    with pytest.raises(ValueError, match="calibration must be"):
        evaluate_ctr(knows_both, ctr_split, calibration="isotonic")


def test_ctr_rejects_probabilities_outside_unit_interval(ctr_split):
    class Overconfident(Oracle):
        def predict_proba(self, users, items):
            return np.full(len(users), 1.5)

    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        evaluate_ctr(Overconfident(ctr_split.test), ctr_split)
