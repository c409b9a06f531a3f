"""The neighbourhood term of the joint model: how similar an item is to the user's history (Koren 2008).

``n_u(i) = Σ_{j ∈ H(u)} s(j, i)`` with the shrunk cosine ``s(j, i) = C_ji / (√p_j·√p_i + shrink)`` (``C`` =
co-occurrence counts, ``p`` = popularity, both from the training matrix). The model adds ``w · n_u(i)``
(``w`` learned) to the two-tower score, the "factorization meets the neighborhood" idea: latent
factors capture broad taste, the neighbourhood captures the strong item-to-item signal of small data
that a 64-dimensional dot product smooths away.

**Leave-one-out correction.** Training asks "given H(u) \\ {t}, rank t". Computed naively, ``s(j, t)``
would include user ``u``'s own co-occurrence of ``j`` and ``t`` — the very pair being predicted — and the
model would learn to over-trust the term (for an item with two listeners, half of the evidence is the
answer). So for the target column only, ``u``'s contribution is removed: ``C_jt − 1`` and ``p_t − 1``;
every other column is unaffected because ``u`` has not listened to those items. At scoring time the
held-out items were never in training, so the plain formula is already the honest one.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cosine_item_similarity(train: sp.csr_matrix, *, shrink: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """Exact shrunk cosine between item columns (zero diagonal) and the item popularities it used."""
    train = sp.csr_matrix(train, dtype=np.float64)
    co_occurrence = (train.T @ train).tocoo()
    off_diagonal = co_occurrence.row != co_occurrence.col
    rows, cols, counts = co_occurrence.row[off_diagonal], co_occurrence.col[off_diagonal], co_occurrence.data[off_diagonal]
    popularity = np.asarray(train.sum(axis=0)).ravel()
    root = np.sqrt(popularity)
    values = counts / (root[rows] * root[cols] + shrink)
    n_items = train.shape[1]
    similarity = sp.csr_matrix((values.astype(np.float32), (rows, cols)), shape=(n_items, n_items))
    similarity.sort_indices()
    return similarity, popularity.astype(np.float32)


def history_matrix(history: np.ndarray, *, n_items: int, exclude: np.ndarray | None = None) -> sp.csr_matrix:
    """Binary (B × n_items) rows from padded histories (padding = ``n_items``), minus one ``exclude`` item per row."""
    valid = history < n_items
    if exclude is not None:
        valid &= history != exclude[:, None]
    rows = np.nonzero(valid)[0]
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, history[valid])), shape=(len(history), n_items))


def neighbourhood_scores(
    history: np.ndarray,
    *,
    similarity: sp.csr_matrix,
    popularity: np.ndarray,
    shrink: float,
    targets: np.ndarray | None = None,
) -> np.ndarray:
    """(B × n_items) ``n_u(i)`` for padded ``history`` rows; with ``targets``, leave-one-out for each row's target.

    With ``targets`` the target is removed from its row's history and its own column is recomputed
    without that user's co-occurrences (see the module docstring).
    """
    n_items = similarity.shape[0]
    members = history_matrix(history, n_items=n_items, exclude=targets)
    scores = np.asarray((members @ similarity).todense(), dtype=np.float32)
    if targets is None:
        return scores
    coo = members.tocoo()
    rows, items = coo.row, coo.col
    row_targets = targets[rows]
    root = np.sqrt(popularity.astype(np.float64))
    # recover the exact co-occurrence count from the stored cosine, then take this user's pair out
    stored = _lookup(similarity, items, row_targets)
    counts = np.rint(stored * (root[items] * root[row_targets] + shrink))
    root_without_user = np.sqrt(np.maximum(popularity[row_targets].astype(np.float64) - 1.0, 0.0))
    corrected = np.maximum(counts - 1.0, 0.0) / (root[items] * root_without_user + shrink)
    column = np.bincount(rows, weights=corrected, minlength=len(history))
    scores[np.arange(len(history)), targets] = column.astype(np.float32)
    return scores


def _lookup(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``matrix[rows[k], cols[k]]`` for every k (0 where not stored), by binary search in the sorted CSR keys."""
    if len(rows) == 0 or matrix.nnz == 0:
        return np.zeros(len(rows), dtype=np.float64)
    n_cols = matrix.shape[1]
    stored_rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = stored_rows * n_cols + matrix.indices  # ascending: canonical CSR (sorted indices)
    wanted = rows.astype(np.int64) * n_cols + cols.astype(np.int64)
    position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[position] == wanted, matrix.data[position], 0.0).astype(np.float64)
