"""Top-k cosine neighbourhoods, shared by the user- and item-based k-NN baselines.

Why blocks: the full similarity matrix is dense (n × n). For Last.fm that is only 1,872² users or
3,846² items and would fit, but computing it ``block_size`` rows at a time keeps peak memory at
``block_size × n`` whatever the data size, and only the k best neighbours per row are kept (a sparse
n × k matrix), which is all scoring needs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k_cosine_neighbours(
    vectors: sp.csr_matrix,
    *,
    k: int,
    shrink: float = 0.0,
    block_size: int = 512,
    rows: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Sparse (n × n) matrix holding, for each row vector, its ``k`` most cosine-similar other rows.

    ``shrink`` adds a constant to the denominator (Koren-style shrinkage): similarities backed by few
    co-occurrences are pulled towards zero. Self-similarity and non-positive similarities are dropped;
    ties are broken by the lower index so the result is deterministic. ``rows`` and ``candidates``
    (index arrays, default all) restrict whose neighbours are found and among which rows: the joint
    model looks for each unplayed item's neighbours among the played ones only.
    """
    vectors = sp.csr_matrix(vectors, dtype=np.float64)
    n = vectors.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    candidates = np.arange(n) if candidates is None else np.asarray(candidates, dtype=np.int64)
    k = min(k, len(candidates))
    if k == 0 or len(rows) == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    transposed = vectors[candidates].T.tocsc()
    candidate_norms = norms[candidates]
    position = np.full(n, -1, dtype=np.int64)  # where each row sits among the candidates (its self-similarity)
    position[candidates] = np.arange(len(candidates))
    found_rows, found_cols, found_values = [], [], []
    for start in range(0, len(rows), block_size):
        block = rows[start : start + block_size]
        dots = (vectors[block] @ transposed).toarray()
        denominator = norms[block, None] * candidate_norms[None, :] + shrink
        with np.errstate(divide="ignore", invalid="ignore"):
            sims = np.where(denominator > 0, dots / denominator, 0.0)
        own = position[block] >= 0
        sims[np.flatnonzero(own), position[block][own]] = 0.0
        # stable argsort on -sims: best first, ties by lower index (argpartition is not deterministic in tie order)
        best = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        best_values = np.take_along_axis(sims, best, axis=1)
        keep = best_values > 0
        found_rows.append(np.repeat(block, k).reshape(-1, k)[keep])
        found_cols.append(candidates[best][keep])
        found_values.append(best_values[keep])
    return sp.csr_matrix(
        (np.concatenate(found_values).astype(np.float32), (np.concatenate(found_rows), np.concatenate(found_cols))),
        shape=(n, n),
    )
