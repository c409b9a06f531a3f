"""Top-k cosine neighbourhoods, shared by the user- and item-based k-NN baselines.

Why blocks: the full similarity matrix is dense (n × n). For Last.fm that is only 1,872² users or
3,846² items and would fit, but computing it ``block_size`` rows at a time keeps peak memory at
``block_size × n`` whatever the data size, and only the k best neighbours per row are kept (a sparse
n × k matrix), which is all scoring needs.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k_cosine_neighbours(vectors: sp.csr_matrix, *, k: int, shrink: float = 0.0, block_size: int = 512) -> sp.csr_matrix:
    """Sparse (n × n) matrix holding, for each row vector, its ``k`` most cosine-similar other rows.

    ``shrink`` adds a constant to the denominator (Koren-style shrinkage): similarities backed by few
    co-occurrences are pulled towards zero. Self-similarity and non-positive similarities are dropped;
    ties are broken by the lower index so the result is deterministic.
    """
    vectors = sp.csr_matrix(vectors, dtype=np.float64)
    n = vectors.shape[0]
    k = min(k, max(n - 1, 0))
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    transposed = vectors.T.tocsc()
    rows, cols, values = [], [], []
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        dots = (vectors[start:stop] @ transposed).toarray()
        denominator = norms[start:stop, None] * norms[None, :] + shrink
        with np.errstate(divide="ignore", invalid="ignore"):
            sims = np.where(denominator > 0, dots / denominator, 0.0)
        sims[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if k == 0:
            continue
        # stable argsort on -sims: best first, ties by lower index (argpartition is not deterministic in tie order)
        best = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        best_values = np.take_along_axis(sims, best, axis=1)
        keep = best_values > 0
        block_rows = np.repeat(np.arange(start, stop), k).reshape(-1, k)
        rows.append(block_rows[keep])
        cols.append(best[keep])
        values.append(best_values[keep])
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(values).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
