"""Evidence behind a joint-model score that explanations can cite: co-listening sources and cold-item lenders.

Why next to the model and not in serving: the evidence is read from the model's own fixed inputs (the
co-listening cosine of the neighbourhood term, the cold-transfer matrix), so it stays true to what the
model actually scored; serving (:mod:`recommender.serving.phrasing`) only turns it into sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.models.inputs import JointInputs


def strongest_co_listeners(
    history: np.ndarray, items: Sequence[int], *, inputs: JointInputs
) -> list[tuple[int | None, float]]:
    """For each of ``items``: the ``history`` item most co-listened with it and that similarity (``(None, 0.0)`` if none).

    The co-listening cosine is the neighbourhood term's own evidence, so this is what serving cites in
    "listeners who play X also play Y" (first history item on ties).
    """
    n_items = inputs.n_items
    similarity = inputs.item_similarity
    history = np.asarray(history, dtype=np.int64)
    if not len(history) or not len(items) or similarity.shape != (n_items, n_items) or not similarity.nnz:
        return [(None, 0.0) for _ in items]
    block = similarity[history][:, list(items)].toarray()  # (history × items)
    best = block.argmax(axis=0)
    strength = block[best, np.arange(block.shape[1])]
    return [
        (int(history[b]), float(v)) if v > 0 else (None, 0.0)
        for b, v in zip(best.tolist(), strength.tolist(), strict=True)
    ]


def cold_item_lenders(item: int, history: np.ndarray, *, inputs: JointInputs) -> list[tuple[int, float, int | None]]:
    """Why an item nobody played in training scores: the seen items that lend it their co-listening column.

    Returns ``(lender, weight, source)`` triples, strongest evidence for *this* history first:
    ``weight`` is the lender's share of the borrowed column, ``source`` the history item most
    co-listened with the lender (``None`` when the history has none). Empty for a seen item or
    when the transfer is off. Serving turns this into "new here; it resembles Y, which listeners
    of Z also play" instead of citing a popularity the item does not have.
    """
    n_items = inputs.n_items
    transfer = inputs.cold_transfer
    if transfer.shape != (n_items, n_items) or not 0 <= item < n_items:
        return []
    column = transfer[:, item].tocoo()
    lenders, weights = column.row.tolist(), column.data.tolist()
    out = [
        (strength * weight, lender, float(weight), source)
        for lender, weight, (source, strength) in zip(
            lenders, weights, strongest_co_listeners(history, lenders, inputs=inputs), strict=True
        )
    ]
    out.sort(key=lambda row: (-row[0], -row[2], row[1]))
    return [(lender, weight, source) for _, lender, weight, source in out]
