"""Metric functions against examples computed by hand (the arithmetic is in the comments)."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.evaluation import metrics as M

# Three users, top-5 lists already turned into hit indicators.
#   user 0: hits at ranks 1 and 3, R = 3 relevant items in total
#   user 1: hit at rank 4,          R = 1
#   user 2: no hit,                 R = 2
HITS = np.array(
    [
        [1, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0],
    ],
    dtype=bool,
)
N_REL = np.array([3, 1, 2])


def test_hits_at_k_looks_up_each_users_relevant_set_and_ignores_empty_slots():
    # user 0 relevant {1, 2}: list [3, 1, -] -> [miss, hit, empty]
    # user 1 relevant {0}:    list [0, 2, 1] -> [hit, miss, miss]  (item 2 is relevant for user 0 only)
    relevant = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0]]))
    topk = np.array([[3, 1, M.NO_ITEM], [0, 2, 1]])
    assert M.hits_at_k(topk, relevant).tolist() == [[False, True, False], [True, False, False]]


def test_precision():
    # P@5: 2/5, 1/5, 0/5.  P@3: 2/3, 0/3, 0/3.
    np.testing.assert_allclose(M.precision_at_k(HITS, 5), [0.4, 0.2, 0.0])
    np.testing.assert_allclose(M.precision_at_k(HITS, 3), [2 / 3, 0.0, 0.0])


def test_recall():
    # R@5: 2/3, 1/1, 0/2.  R@3: 2/3, 0/1, 0/2.
    np.testing.assert_allclose(M.recall_at_k(HITS, N_REL, 5), [2 / 3, 1.0, 0.0])
    np.testing.assert_allclose(M.recall_at_k(HITS, N_REL, 3), [2 / 3, 0.0, 0.0])


def test_f1_is_harmonic_mean_and_zero_without_hits():
    # user 0: 2·0.4·(2/3) / (0.4 + 2/3) = 0.5333/1.0667 = 0.5
    # user 1: 2·0.2·1 / (0.2 + 1) = 0.4/1.2 = 1/3
    # user 2: P = R = 0 -> 0 (not NaN)
    np.testing.assert_allclose(M.f1_at_k(HITS, N_REL, 5), [0.5, 1 / 3, 0.0])


def test_ndcg_uses_log2_discount_and_ideal_capped_at_k():
    # user 0: DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
    #         IDCG (min(R=3, K=5) = 3 items) = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5 = 2.13093
    #         NDCG = 1.5 / 2.13093 = 0.70392
    # user 1: DCG = 1/log2(5) = 0.43068, IDCG = 1 -> 0.43068
    expected_0 = 1.5 / (1 + 1 / math.log2(3) + 0.5)
    np.testing.assert_allclose(M.ndcg_at_k(HITS, N_REL, 5), [expected_0, 1 / math.log2(5), 0.0])
    # Cap: R = 10 relevant but K = 2 and both slots are hits -> IDCG = 1 + 1/log2(3) = DCG -> NDCG = 1
    np.testing.assert_allclose(M.ndcg_at_k(np.ones((1, 2), bool), np.array([10]), 2), [1.0])


def test_mrr():
    # first hit at rank 1 -> 1, at rank 4 -> 1/4, none -> 0.  Within K=3 user 1 has no hit -> 0.
    np.testing.assert_allclose(M.mrr_at_k(HITS, 5), [1.0, 0.25, 0.0])
    np.testing.assert_allclose(M.mrr_at_k(HITS, 3), [1.0, 0.0, 0.0])


def test_average_precision_normalised_by_min_relevant_and_k():
    # user 0: (P@1·1 + P@3·1) / min(3, 5) = (1 + 2/3) / 3 = 0.55556
    # user 1: (P@4·1) / min(1, 5) = 0.25
    np.testing.assert_allclose(M.average_precision_at_k(HITS, N_REL, 5), [(1 + 2 / 3) / 3, 0.25, 0.0])
    # R = 10 > K = 2 with both slots hits: (1 + 1) / min(10, 2) = 1 (not 2/10)
    np.testing.assert_allclose(M.average_precision_at_k(np.ones((1, 2), bool), np.array([10]), 2), [1.0])


def test_hit_rate():
    np.testing.assert_allclose(M.hit_rate_at_k(HITS, 5), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(M.hit_rate_at_k(HITS, 3), [1.0, 0.0, 0.0])


def test_catalogue_coverage_counts_distinct_items_and_ignores_empty_slots():
    # items {0, 1, 2} recommended out of 5 -> 3/5
    assert M.catalogue_coverage(np.array([[0, 1], [1, 2], [2, M.NO_ITEM]]), 5) == pytest.approx(0.6)


def test_novelty_is_mean_self_information_with_add_one_popularity():
    # pop = [3, 1, 0] training users out of n = 3 -> p = (pop+1)/(n+1) = [1, 1/2, 1/4]
    # -log2 p = [0, 1, 2] bits; recommended items 0, 1, 2 (empty slot ignored) -> mean 1.0
    assert M.novelty(np.array([[0, 1], [2, M.NO_ITEM]]), np.array([3, 1, 0]), 3) == pytest.approx(1.0)


def test_auc_by_ranks_counts_ties_as_half():
    # positives 0.9, 0.3; negatives 0.9, 0.1.  Pairs: (0.9,0.9) tie = 0.5, (0.9,0.1) = 1, (0.3,0.9) = 0, (0.3,0.1) = 1
    # AUC = 2.5 / 4 = 0.625.  By ranks: ascending ranks 0.1->1, 0.3->2, 0.9,0.9->3.5; positives 3.5 + 2 = 5.5;
    # (5.5 - 2·3/2) / (2·2) = 2.5/4.
    assert M.auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.9, 0.3, 0.1])) == pytest.approx(0.625)
    assert M.auc(np.array([1, 0]), np.array([2.0, 1.0])) == 1.0
    assert M.auc(np.array([1, 0]), np.array([1.0, 1.0])) == 0.5


def test_auc_matches_sklearn_and_is_invariant_to_sigmoid():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + labels, 1)  # rounding creates many ties
    ours = M.auc(labels, scores)
    assert ours == pytest.approx(metrics.roc_auc_score(labels, scores))
    assert M.auc(labels, M.sigmoid(scores)) == pytest.approx(ours)


def test_f1_at_threshold():
    # predictions p >= 0.5: [1, 0, 1, 0, 1] vs labels [1, 1, 0, 0, 1]: TP = 2, FP = 1, FN = 1 -> 4 / 6
    labels = np.array([1, 1, 0, 0, 1])
    assert M.f1_at_threshold(labels, np.array([0.9, 0.4, 0.6, 0.1, 0.5])) == pytest.approx(2 / 3)
    assert M.f1_at_threshold(np.array([0, 0]), np.array([0.1, 0.2])) == 0.0  # no positives predicted or present


def test_sigmoid_is_stable_at_extremes():
    np.testing.assert_allclose(M.sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: M.precision_at_k(HITS, 0), "k must be a positive integer"),
        (lambda: M.precision_at_k(HITS, 6), "K ≥ 6"),
        (lambda: M.recall_at_k(HITS, np.array([3, 0, 2]), 5), "at least one relevant item"),
        (lambda: M.recall_at_k(HITS, np.array([3, 1]), 5), "one count per user"),
        (lambda: M.ndcg_at_k(HITS, np.array([1, 1, 2]), 5), "more hits than relevant"),
        (lambda: M.hits_at_k(np.array([1, 2]), sp.csr_matrix((1, 3))), "(users × K) matrix"),
        (lambda: M.auc(np.array([1, 1]), np.array([0.1, 0.2])), "needs both classes"),
        (lambda: M.auc(np.array([1, 2]), np.array([0.1, 0.2])), "labels must be 0 or 1"),
        (lambda: M.auc(np.array([1, 0]), np.array([np.nan, 0.2])), "finite"),
        (lambda: M.f1_at_threshold(np.array([1, 0]), np.array([1.5, 0.2])), "apply a sigmoid"),
        (lambda: M.novelty(np.array([[0]]), np.array([5]), 3), "0 ≤ pop ≤ n_users"),
    ],
)
def test_bad_inputs_are_rejected_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
