"""Regression and recovery metrics of predicted vectors.

MSLE on vectors with negative entries: the log needs non-negative values, so both the truth and the
prediction are shifted by the same constant ``shift = -min(training targets)`` (the smallest value of
any dimension of any *training* target, computed once and saved with the encoder) and predictions
below the shifted zero are clipped to it:
``MSLE = mean((log1p(y + shift) − log1p(max(ŷ + shift, 0)))²)``. Using the training minimum (not the
evaluated set's) keeps the metric free of test information and identical across variants.

Hits@k: for each evaluated work with a known composer/era/form, the true entity's rank among all
candidates of that type (see :mod:`.neighbours` for the scoring), then the share with rank ≤ k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from audio.encoder.neighbours import rank_entities, rank_of

HITS_AT: tuple[int, ...] = (1, 5, 10)


def regression_metrics(truth: np.ndarray, predicted: np.ndarray, *, shift: float) -> dict[str, float]:
    error = predicted - truth
    mse = float(np.mean(error**2))
    msle = float(np.mean((np.log1p(truth + shift) - np.log1p(np.maximum(predicted + shift, 0.0))) ** 2))
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.mean(np.abs(error))), "msle": msle}


def hits_metrics(
    predicted: np.ndarray,
    truths: Sequence[Mapping[str, str]],
    *,
    reference,
) -> dict[str, dict[str, float]]:
    """Hits@1/5/10 and mean rank per evaluated field; ``reference`` is a :class:`~.artifacts.ReferenceSpace`."""
    results: dict[str, dict[str, float]] = {}
    for field_name in reference.fields:
        ids, matrix, relation, vector_is_head = reference.candidates(field_name)
        ranks: list[int] = []
        for vector, truth in zip(predicted, truths):
            wanted = truth.get(field_name)
            if not wanted or wanted not in ids:
                continue
            ranked = rank_entities(
                reference.scoring,
                candidate_ids=ids,
                candidates=matrix,
                relation=relation,
                vector=vector,
                vector_is_head=vector_is_head,
            )
            ranks.append(rank_of(wanted, ranked) or len(ids))
        row: dict[str, float] = {"evaluated": len(ranks), "candidates": len(ids)}
        if ranks:
            array = np.asarray(ranks)
            for k in HITS_AT:
                row[f"hits@{k}"] = float(np.mean(array <= k))
                row[f"chance@{k}"] = min(1.0, k / len(ids))
            row["mean_rank"] = float(array.mean())
        results[field_name] = row
    return results
