"""Ranking and classification metrics, vectorised over users with numpy.

Why hand-written: the ranking metrics must follow one exact, documented definition (the literature
differs on the IDCG cap and the AP normaliser, and those choices change numbers by several points),
and they must run on a whole (users × K) top-K matrix at once. AUC uses scipy's tie-aware ranking.

Notation for one user: ``rel_r`` ∈ {0, 1} says whether the item at rank ``r`` (1-based) of the top-K
list is relevant (a held-out positive of that user); ``R`` = number of relevant items of the user
(all of them, not only those retrieved). Per-user functions return one value per row; the evaluator
averages them over users with ``R > 0``.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

#: Marks an empty slot of a top-K list (the user had fewer than K candidate items).
NO_ITEM = -1


def hits_at_k(topk: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """``hits[u, r]`` = whether ``topk[u, r]`` is in row ``u`` of ``relevant`` (a boolean (users × K) array).

    ``topk`` is an integer (users × K) matrix of item indices, best first; :data:`NO_ITEM` slots are
    never hits. ``relevant`` has one row per row of ``topk``.
    """
    topk = np.asarray(topk)
    if topk.ndim != 2:
        raise ValueError(f"topk must be a (users × K) matrix, got shape {topk.shape}.")
    relevant = sp.csr_matrix(relevant)
    if relevant.shape[0] != topk.shape[0]:
        raise ValueError(f"relevant has {relevant.shape[0]} rows but topk has {topk.shape[0]}.")
    n_items = relevant.shape[1]
    rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    relevant_keys = rows * n_items + relevant.indices.astype(np.int64)
    query = np.arange(topk.shape[0], dtype=np.int64)[:, None] * n_items + topk.astype(np.int64)
    return np.isin(query, relevant_keys) & (topk != NO_ITEM)


@overload
def _check(hits: np.ndarray, k: int) -> tuple[np.ndarray, None]: ...
@overload
def _check(hits: np.ndarray, k: int, n_relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def _check(hits: np.ndarray, k: int, n_relevant: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    hits = np.asarray(hits, dtype=bool)
    if hits.ndim != 2 or hits.shape[1] < k:
        raise ValueError(f"hits must be a (users × K) matrix with K ≥ {k}, got shape {hits.shape}.")
    if n_relevant is None:
        return hits[:, :k], None
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    if n_relevant.shape != (hits.shape[0],):
        raise ValueError(f"n_relevant must have one count per user ({hits.shape[0]}), got shape {n_relevant.shape}.")
    if np.any(n_relevant <= 0):
        raise ValueError("every user needs at least one relevant item; leave users without held-out items out.")
    if np.any(hits[:, :k].sum(axis=1) > n_relevant):
        raise ValueError("a user has more hits than relevant items; n_relevant must count all relevant items.")
    return hits[:, :k], n_relevant


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """P@K = (1/K) Σ_{r=1..K} rel_r  (empty slots count as misses)."""
    h, _ = _check(hits, k)
    return h.sum(axis=1) / k


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """R@K = Σ_{r=1..K} rel_r / R."""
    h, n = _check(hits, k, n_relevant)
    return h.sum(axis=1) / n


def f1_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """F1@K = 2 · P@K · R@K / (P@K + R@K), and 0 when both are 0."""
    p = precision_at_k(hits, k)
    r = recall_at_k(hits, n_relevant, k)
    denominator = p + r
    return np.divide(2 * p * r, denominator, out=np.zeros_like(p), where=denominator > 0)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))  # 1/log2(r+1) for r = 1..K


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """NDCG@K = DCG@K / IDCG@K with binary relevance and a log2 discount.

    DCG@K = Σ_{r=1..K} rel_r / log2(r + 1);  IDCG@K = Σ_{r=1..min(R, K)} 1 / log2(r + 1)
    (the ideal list puts all relevant items first, but only K of them fit, hence the cap).
    """
    h, n = _check(hits, k, n_relevant)
    discounts = _discounts(k)
    dcg = h @ discounts
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n, k).astype(np.int64)]
    return dcg / ideal


def mrr_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """RR@K = 1 / (rank of the first relevant item) if it is within the top K, else 0."""
    h, _ = _check(hits, k)
    first = np.argmax(h, axis=1)
    return np.where(h.any(axis=1), 1.0 / (first + 1), 0.0)


def average_precision_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """AP@K = Σ_{r=1..K} P@r · rel_r / min(R, K)  (MAP@K is its mean over users).

    The normaliser min(R, K) makes a perfect top-K list score 1 even when R > K.
    """
    h, n = _check(hits, k, n_relevant)
    cumulative_hits = np.cumsum(h, axis=1)
    precision_at_r = cumulative_hits / np.arange(1, k + 1)
    return (precision_at_r * h).sum(axis=1) / np.minimum(n, k)


def hit_rate_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """HR@K = 1 if at least one relevant item is in the top K, else 0."""
    h, _ = _check(hits, k)
    return np.asarray(h.any(axis=1)).astype(np.float64)


def catalogue_coverage(topk: np.ndarray, n_items: int) -> float:
    """Coverage@K = |∪_u top-K(u)| / n_items: the share of the catalogue recommended to anyone."""
    if n_items < 1:
        raise ValueError("n_items must be positive.")
    items = np.asarray(topk).ravel()
    return float(np.unique(items[items != NO_ITEM]).size / n_items)


def novelty(topk: np.ndarray, item_popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information of the recommended items: mean_{u, r} −log2 p(i_{u,r}).

    p(i) = (pop_i + 1) / (n_users + 1), where pop_i is the number of training users who interacted
    with item i. The add-one keeps never-seen (cold) items finite at log2(n_users + 1) bits instead of
    infinite; an item every training user has gets ~0 bits. Empty slots are ignored.
    """
    popularity = np.asarray(item_popularity, dtype=np.float64)
    if n_users < 1 or np.any(popularity < 0) or np.any(popularity > n_users):
        raise ValueError("item_popularity must count users (0 ≤ pop ≤ n_users) and n_users must be positive.")
    items = np.asarray(topk).ravel()
    items = items[items != NO_ITEM]
    if items.size == 0:
        return float("nan")
    share = (popularity[items] + 1.0) / (n_users + 1.0)
    return float(np.mean(-np.log2(share)))


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank (Mann-Whitney U) formula, with ties counted as half.

    AUC = (Σ_{i ∈ pos} rank_i − n_pos (n_pos + 1) / 2) / (n_pos · n_neg), where ranks are 1-based
    ascending ranks of the scores and tied scores share their average rank. It equals the probability
    that a random positive scores higher than a random negative; any increasing transform of the
    scores (e.g. a sigmoid) leaves it unchanged.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError(
            f"labels and scores must be 1-D arrays of the same length, got {labels.shape} and {scores.shape}."
        )
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError("labels must be 0 or 1.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no NaN or infinity).")
    positive = labels == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUC needs both classes; got {n_pos} positives and {n_neg} negatives.")
    ranks = rankdata(scores, method="average")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def f1_at_threshold(labels: np.ndarray, probabilities: np.ndarray, *, threshold: float = 0.5) -> float:
    """F1 of the hard predictions ``probability ≥ threshold``: 2·TP / (2·TP + FP + FN) (0 if undefined)."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if labels.shape != probabilities.shape or labels.ndim != 1:
        raise ValueError("labels and probabilities must be 1-D arrays of the same length.")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError("labels must be 0 or 1.")
    if not np.all((probabilities >= 0) & (probabilities <= 1)):
        raise ValueError("probabilities must lie in [0, 1]; apply a sigmoid to raw scores first.")
    predicted = probabilities >= threshold
    actual = labels == 1
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    denominator = 2 * tp + fp + fn
    return float(2 * tp / denominator) if denominator else 0.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function 1 / (1 + e^−x)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1.0 + e)
    return out
