"""Full-ranking top-K evaluation and CTR-style (Protocol C) evaluation of any ``Recommender``.

Why full ranking: ranking the held-out items against a handful of sampled negatives inflates every
metric and can even reorder models (Krichene & Rendle, "On Sampled Metrics for Item
Recommendation", KDD 2020). Here each test user's held-out items compete with *every* item the user
has not already interacted with.

Rules (the same for every model, so numbers are comparable):

* Evaluating the **test** part masks the user's training *and* validation items (both are known
  history at test time; counting a validation item as a miss would punish a model for finding a real
  positive). Evaluating the **validation** part masks training items only. Sparsity subsets also
  mask their ``withheld`` training pairs, so every sparsity level ranks the same candidates.
* Users with no held-out item in the evaluated part are skipped (they have nothing to find).
* Ties are broken by the lower item index, so the same scores always give the same lists,
  whatever the batch size.
* **Cold start**: the test part contains only interactions with the held-out cold items. Each user's
  list is still ranked over *all* items not in their training/validation history (warm and cold); a
  hit is a cold item the user listened to. Ranking only among the cold items would tell the model
  which items are new and inflate the numbers; this rule asks whether the model surfaces new items
  against the whole catalogue, which is what a product needs.
* **Cost and the optional user sample**: full ranking scores every evaluated user against every item,
  so it grows with users × items (16× from 1× to 4× the Last.FM size). ``max_users`` (default: all)
  evaluates a seeded uniform sample of the users with held-out items instead; every sampled user is
  still ranked against all items, so the per-user numbers are exactly the full run's, only fewer users
  are averaged. ``details["user_sample"]`` records the sample (size, seed, number of eligible users).
  Coverage@K is over the evaluated users' lists, so it is lower on a sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from recommender.base import Recommender
from recommender.evaluation import metrics as M
from recommender.evaluation.splits import CTRSplit, TopKSplit

DEFAULT_KS = (5, 10, 20)
DEFAULT_BATCH_SIZE = 1024
RANKING_METRICS = ("precision", "recall", "f1", "ndcg", "mrr", "map", "hit_rate")


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """One model on one split and seed: ``metrics`` maps names like ``recall@10`` or ``auc`` to floats.

    ``details`` holds counts and the rules applied (JSON-serialisable); ``per_user`` keeps per-user
    values (``user`` = user indices, ``top_items`` = their top-K lists) for paired significance tests
    and inspection; it is not written to reports.
    """

    model: str
    split: str
    protocol: str
    seed: int
    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    per_user: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "split": self.split,
            "protocol": self.protocol,
            "seed": self.seed,
            "metrics": dict(self.metrics),
            "details": dict(self.details),
        }


def _model_name(model: Recommender) -> str:
    return str(getattr(model, "name", "") or type(model).__name__)


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(sorted(set(ks)))
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks!r}.")
    return tuple(int(k) for k in ks)


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)


def _check_max_users(max_users: int | None) -> int | None:
    if max_users is None:
        return None
    if isinstance(max_users, bool) or not isinstance(max_users, (int, np.integer)) or max_users < 1:
        raise ValueError(f"max_users must be a positive integer or None (every user), got {max_users!r}.")
    return int(max_users)


def sample_users(users: np.ndarray, *, max_users: int | None, seed: int) -> np.ndarray:
    """``users`` itself if there are at most ``max_users`` (or ``None``), else a seeded uniform sample, sorted.

    The sample is drawn without replacement with ``numpy.random.default_rng(seed)``, so one seed always
    picks the same users of the same split.
    """
    if max_users is None or users.size <= max_users:
        return users
    return np.sort(np.random.default_rng(seed).choice(users, size=max_users, replace=False))


def _score_batch(model: Recommender, users: np.ndarray, n_items: int) -> np.ndarray:
    """``model.score`` as a fresh float32 array, with its shape and values checked."""
    scores = np.array(model.score(users), dtype=np.float32, copy=True)
    if scores.shape != (len(users), n_items):
        raise ValueError(
            f"model {_model_name(model)!r} returned scores of shape {scores.shape} for {len(users)} users; "
            f"expected ({len(users)}, {n_items}), one score per item."
        )
    if np.isnan(scores).any():
        bad = users[np.isnan(scores).any(axis=1)][:5].tolist()
        raise ValueError(f"model {_model_name(model)!r} returned NaN scores (e.g. for user indices {bad}).")
    return scores


def top_k_items(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best items per row, best first; ties go to the lower item index.

    ``-inf`` marks excluded items: a slot that can only be filled by one is :data:`metrics.NO_ITEM`.
    ``np.argpartition`` finds the top ``k`` in linear time; only rows whose ``k``-th score is tied
    with items outside the cut (e.g. a popularity model, or fewer than ``k`` candidates) are fully
    sorted, so the result does not depend on how rows were batched.
    """
    scores = np.asarray(scores)
    n_rows, n_items = scores.shape
    k_eff = min(k, n_items)
    top = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    top_scores = np.take_along_axis(scores, top, axis=1)
    kth = top_scores.min(axis=1, keepdims=True)
    n_at_least = (scores >= kth).sum(axis=1)
    ambiguous = n_at_least > k_eff
    if ambiguous.any():
        top[ambiguous] = np.argsort(-scores[ambiguous], axis=1, kind="stable")[:, :k_eff]
        top_scores[ambiguous] = np.take_along_axis(scores[ambiguous], top[ambiguous], axis=1)
    order = np.lexsort((top, -top_scores), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    top = np.where(np.isneginf(top_scores), M.NO_ITEM, top)
    if k_eff < k:
        top = np.hstack([top, np.full((n_rows, k - k_eff), M.NO_ITEM, dtype=top.dtype)])
    return top.astype(np.int64)


def _mask(scores: np.ndarray, excluded: sp.csr_matrix) -> None:
    rows = np.repeat(np.arange(excluded.shape[0]), np.diff(excluded.indptr))
    scores[rows, excluded.indices] = -np.inf


def evaluate_topk(
    model: Recommender,
    split: TopKSplit,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    part: str = "test",
    progress: bool = False,
    max_users: int | None = None,
    sample_seed: int | None = None,
) -> EvaluationResult:
    """Rank every candidate item for every user with held-out items and compute all ranking metrics.

    Metrics (means over evaluated users; see :mod:`recommender.evaluation.metrics` for formulas):
    ``precision@K, recall@K, f1@K, ndcg@K, mrr@K, map@K, hit_rate@K`` plus ``coverage@K`` (share of
    items in any list) and ``novelty@K`` (mean self-information with popularity from training users).

    ``max_users`` (default ``None``: every user) evaluates at most that many users with held-out items,
    a seeded uniform sample (:func:`sample_users`, seed ``sample_seed``, default the split's seed); the
    sample is recorded in ``details["user_sample"]``.
    """
    if not isinstance(split, TopKSplit):
        raise TypeError(
            f"evaluate_topk needs a TopKSplit (Protocol T, sparsity or cold start), got {type(split).__name__}; use evaluate_ctr for Protocol C."
        )
    if part not in ("test", "validation"):
        raise ValueError(f"part must be 'test' or 'validation', got {part!r}.")
    ks = _check_ks(ks)
    batch_size = _check_batch_size(batch_size)
    max_users = _check_max_users(max_users)
    k_max = ks[-1]

    relevant = (split.test if part == "test" else split.validation).tocsr()
    excluded = split.not_rankable(part)
    n_relevant_all = np.diff(relevant.indptr)
    eligible = np.flatnonzero(n_relevant_all > 0).astype(np.int64)
    if eligible.size == 0:
        raise ValueError(f"split {split.label!r} has no users with {part} items; nothing to evaluate.")
    seed = split.seed if sample_seed is None else int(sample_seed)
    users = sample_users(eligible, max_users=max_users, seed=seed)

    train_binary = split.train_binary()
    item_popularity = np.diff(train_binary.tocsc().indptr)
    n_train_users = int(np.sum(np.diff(train_binary.indptr) > 0))

    per_user: dict[str, list[np.ndarray]] = {f"{m}@{k}": [] for k in ks for m in RANKING_METRICS}
    lists: list[np.ndarray] = []
    starts = range(0, users.size, batch_size)
    for start in tqdm(
        starts, desc=f"evaluate {_model_name(model)} on {split.label}", disable=not progress, unit="batch"
    ):
        batch = users[start : start + batch_size]
        scores = _score_batch(model, batch, split.n_items)
        _mask(scores, excluded[batch])
        top = top_k_items(scores, k_max)
        for name, values in ranking_metrics(top, relevant[batch], n_relevant_all[batch], ks).items():
            per_user[name].append(values)
        lists.append(top)

    all_lists = np.vstack(lists)
    per_user_arrays = {name: np.concatenate(values) for name, values in per_user.items()}
    metrics = {name: float(values.mean()) for name, values in per_user_arrays.items()}
    metrics.update(
        list_metrics(all_lists, ks, n_items=split.n_items, item_popularity=item_popularity, n_train_users=n_train_users)
    )
    per_user_arrays["user"] = users
    per_user_arrays["top_items"] = all_lists
    details = topk_details(split, part=part, ks=ks, users=users, n_relevant_pairs=int(n_relevant_all[users].sum()))
    if max_users is not None:
        details["user_sample"] = {
            "max_users": max_users,
            "seed": seed,
            "n_eligible_users": int(eligible.size),
            "sampled": bool(users.size < eligible.size),
        }
    return EvaluationResult(
        model=_model_name(model),
        split=split.label,
        protocol=split.protocol,
        seed=split.seed,
        metrics=metrics,
        details=details,
        per_user=per_user_arrays,
    )


def ranking_metrics(
    top: np.ndarray, relevant: sp.csr_matrix, n_relevant: np.ndarray, ks: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per-user ``precision@K … hit_rate@K`` of top-K lists (rows of ``top``) against their relevant items."""
    hits = M.hits_at_k(top, relevant)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        out[f"precision@{k}"] = M.precision_at_k(hits, k)
        out[f"recall@{k}"] = M.recall_at_k(hits, n_relevant, k)
        out[f"f1@{k}"] = M.f1_at_k(hits, n_relevant, k)
        out[f"ndcg@{k}"] = M.ndcg_at_k(hits, n_relevant, k)
        out[f"mrr@{k}"] = M.mrr_at_k(hits, k)
        out[f"map@{k}"] = M.average_precision_at_k(hits, n_relevant, k)
        out[f"hit_rate@{k}"] = M.hit_rate_at_k(hits, k)
    return out


def list_metrics(
    all_lists: np.ndarray, ks: Sequence[int], *, n_items: int, item_popularity: np.ndarray, n_train_users: int
) -> dict[str, float]:
    """``coverage@K`` and ``novelty@K`` of every user's list together."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"coverage@{k}"] = M.catalogue_coverage(all_lists[:, :k], n_items)
        out[f"novelty@{k}"] = M.novelty(all_lists[:, :k], item_popularity, max(n_train_users, 1))
    return out


def topk_details(
    split: TopKSplit, *, part: str, ks: Sequence[int], users: np.ndarray, n_relevant_pairs: int
) -> dict[str, Any]:
    """The rules and counts every top-K result records."""
    details: dict[str, Any] = {
        "part": part,
        "ks": list(ks),
        "n_users_evaluated": int(users.size),
        "n_items": split.n_items,
        "n_relevant_pairs": n_relevant_pairs,
        "candidates": "all items not in the user's training"
        + (" set" if part == "validation" else " or validation set")
        + (" (including pairs withheld from this sparsity subset)" if split.withheld is not None else ""),
        "tie_break": "lower item index first",
    }
    if split.cold_items.size:
        details["n_cold_items"] = int(split.cold_items.size)
        details["cold_start_rule"] = "ranked over all non-history items; hits counted on cold items only"
    return details


CALIBRATIONS = ("platt", "sigmoid")


def evaluate_ctr(
    model: Recommender,
    split: CTRSplit,
    *,
    part: str = "test",
    batch_size: int = DEFAULT_BATCH_SIZE,
    threshold: float = 0.5,
    calibration: str = "platt",
) -> EvaluationResult:
    """AUC and F1 at ``threshold`` on Protocol C's labelled pairs (positives + one sampled negative each).

    AUC is rank-based, so it is the same for raw scores and for any monotone transform of them.
    F1 needs probabilities: if the model has ``predict_proba(users, items)`` (returning one value in
    [0, 1] per pair) it is used for both metrics. Otherwise most models' scores are not probabilities
    (a co-occurrence count, a cosine, a negative distance), so "score > 0.5" would measure the scale of
    the score rather than the model; ``calibration="platt"`` (default) therefore fits a one-feature
    logistic regression on the *validation* part's labelled pairs and applies it to ``part`` (Platt
    scaling; test labels are never used), and ``"sigmoid"`` takes sigmoid(score), meaningful only for
    logits. ``details["probability_source"]`` records which one was used.
    """
    if not isinstance(split, CTRSplit):
        raise TypeError(f"evaluate_ctr needs a Protocol C split (CTRSplit), got {type(split).__name__}.")
    batch_size = _check_batch_size(batch_size)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie strictly between 0 and 1, got {threshold!r}.")
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}.")
    pairs, labels = split.labelled_pairs(part)
    users, items = pairs[:, 0], pairs[:, 1]
    predict_proba = getattr(model, "predict_proba", None)
    if callable(predict_proba):
        probabilities = np.asarray(predict_proba(users, items), dtype=np.float64)
        if probabilities.shape != (len(pairs),):
            raise ValueError(
                f"model {_model_name(model)!r}.predict_proba returned shape {probabilities.shape}; expected ({len(pairs)},)."
            )
        if not np.all((probabilities >= 0) & (probabilities <= 1)):
            raise ValueError(f"model {_model_name(model)!r}.predict_proba returned values outside [0, 1] (or NaN).")
        scores, source = probabilities, "predict_proba"
    else:
        scores = _pair_scores(model, pairs, n_items=split.n_items, batch_size=batch_size)
        if calibration == "platt" and part != "validation":
            fit_pairs, fit_labels = split.labelled_pairs("validation")
            fit_scores = _pair_scores(model, fit_pairs, n_items=split.n_items, batch_size=batch_size)
            probabilities, source = _platt_probabilities(fit_scores, fit_labels, scores), "platt(validation)"
        else:
            probabilities, source = M.sigmoid(scores), "sigmoid(score)"
    metrics = {
        "auc": M.auc(labels, scores),
        f"f1@{threshold:g}": M.f1_at_threshold(labels, probabilities, threshold=threshold),
    }
    details = {
        "part": part,
        "n_pairs": int(len(pairs)),
        "n_positives": int(labels.sum()),
        "probability_source": source,
        "threshold": threshold,
    }
    return EvaluationResult(
        model=_model_name(model),
        split=split.label,
        protocol=split.protocol,
        seed=split.seed,
        metrics=metrics,
        details=details,
    )


def _pair_scores(model: Recommender, pairs: np.ndarray, *, n_items: int, batch_size: int) -> np.ndarray:
    """``model``'s score of each (user, item) row of ``pairs``, scoring each user's full row once."""
    users, items = pairs[:, 0], pairs[:, 1]
    scores = np.empty(len(pairs), dtype=np.float64)
    unique_users = np.unique(users)
    for start in range(0, unique_users.size, batch_size):
        batch = unique_users[start : start + batch_size]
        batch_scores = _score_batch(model, batch, n_items)
        in_batch = (users >= batch[0]) & (users <= batch[-1])
        row = np.searchsorted(batch, users[in_batch])
        scores[in_batch] = batch_scores[row, items[in_batch]]
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"model {_model_name(model)!r} returned non-finite scores for labelled pairs.")
    return scores


def _platt_probabilities(fit_scores: np.ndarray, fit_labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    if np.unique(fit_labels).size < 2:
        raise ValueError("Platt calibration needs validation pairs of both labels; this split has one class only.")
    centre, scale = float(fit_scores.mean()), float(fit_scores.std()) or 1.0
    regression = LogisticRegression(C=1e6).fit(((fit_scores - centre) / scale)[:, None], fit_labels)
    return regression.predict_proba(((scores - centre) / scale)[:, None])[:, 1]
