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

**Items nobody has played in training** (new artists, or ones whose few listens all fell into
validation/test) have an empty column, so co-listening alone could never put them in a list, and
their towers-only score cannot compete with a warm item's ``w·n_u(i)``. :func:`cold_transfer_matrix`
lends each such item the columns of its ``k`` most similar *known* items by content (tags + KG links,
cosine-weighted mean), scaled by ``cold_transfer_scale``: "people whose history is close to Y are
likely to like X, which resembles Y" (a content-to-collaborative mapping, cf. Gantner et al. 2010).
The borrowed term is kept apart from the similarity itself, so "listeners who play X also play Y"
explanations only ever cite real co-listening.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cosine_item_similarity(train: sp.csr_matrix, *, shrink: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """Exact shrunk cosine between item columns (zero diagonal) and the item popularities it used."""
    train = sp.csr_matrix(train, dtype=np.float64)
    co_occurrence = (train.T @ train).tocoo()
    off_diagonal = co_occurrence.row != co_occurrence.col
    rows, cols, counts = (
        co_occurrence.row[off_diagonal],
        co_occurrence.col[off_diagonal],
        co_occurrence.data[off_diagonal],
    )
    popularity = np.asarray(train.sum(axis=0)).ravel()
    root = np.sqrt(popularity)
    values = counts / (root[rows] * root[cols] + shrink)
    n_items = train.shape[1]
    similarity = sp.csr_matrix((values.astype(np.float32), (rows, cols)), shape=(n_items, n_items))
    similarity.sort_indices()
    return similarity, popularity.astype(np.float32)


def cold_transfer_matrix(item_vectors: sp.csr_matrix, *, unseen: np.ndarray, k: int) -> sp.csr_matrix:
    """(n_items × n_items) ``T`` with ``T[j, i]`` = weight of known item ``j`` in unseen item ``i``'s borrowed column.

    For each unseen item ``i`` (``unseen[i]``), its ``k`` most cosine-similar items among the seen ones
    (rows of ``item_vectors``; :func:`~recommender.baselines.similarity.top_k_cosine_neighbours`, ties to
    the lower index) with positive similarity, weights normalised to sum to 1; other columns are empty.
    ``scores @ T`` then gives every unseen column the weighted mean of its neighbours' columns.
    """
    from recommender.baselines.similarity import top_k_cosine_neighbours

    n_items = item_vectors.shape[0]
    unseen = np.asarray(unseen, dtype=bool)
    if unseen.shape != (n_items,):
        raise ValueError(f"unseen must flag each of the {n_items} items, got shape {unseen.shape}.")
    neighbours = top_k_cosine_neighbours(
        item_vectors, k=k, rows=np.flatnonzero(unseen), candidates=np.flatnonzero(~unseen)
    )
    totals = np.asarray(neighbours.sum(axis=1), dtype=np.float64).ravel()
    weights = sp.diags(np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)) @ neighbours.astype(
        np.float64
    )
    transfer = sp.csr_matrix(weights.T, dtype=np.float32)
    transfer.sort_indices()
    return transfer


def with_cold_transfer(scores: np.ndarray, *, transfer: sp.csr_matrix, scale: float) -> np.ndarray:
    """``scores`` (B × n_items) with each unseen column replaced by ``scale ×`` its borrowed mean (see :func:`cold_transfer_matrix`).

    Unseen columns hold 0 before (nobody co-listened), so adding is replacing; seen columns are
    untouched because ``T`` has no entries there. A no-op for an empty ``T`` (transfer switched off).
    """
    if transfer.nnz == 0 or scale == 0 or scores.shape[0] == 0:
        return scores
    borrowed = np.asarray((transfer.T @ scores.T).T, dtype=np.float32)
    return scores + np.float32(scale) * borrowed


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
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """(B × n_items) ``n_u(i)`` for padded ``history`` rows; with ``targets``, leave-one-out for each row's target.

    With ``targets`` the target is removed from its row's history and its own column is recomputed
    without that user's co-occurrences (see the module docstring). With ``columns`` (sorted, unique
    item indices that include every target) only those columns are returned, (B × len(columns)):
    what a sampled-softmax step needs, without a dense row over the whole catalogue.
    """
    n_items = similarity.shape[0]
    members = history_matrix(history, n_items=n_items, exclude=targets)
    if columns is None:
        scores = np.asarray((members @ similarity).todense(), dtype=np.float32)
    else:
        # slice the columns first: the product then costs the chosen columns' entries, not the catalogue's
        scores = np.asarray((members @ similarity[:, columns]).todense(), dtype=np.float32)
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
    target_columns = targets if columns is None else np.searchsorted(columns, targets)
    scores[np.arange(len(history)), target_columns] = column.astype(np.float32)
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


# --- the EASE term -------------------------------------------------------------------------------------


def ease_item_weights(members: sp.csr_matrix, *, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """EASE's item-item weights ``B`` (float32, zero diagonal) on ``members`` and ``d = diag(P)``, ``P = (XᵀX + λI)⁻¹``.

    ``B`` comes from the EASE baseline itself (:class:`recommender.baselines.ease.EASE`, the same
    closed form the baseline is evaluated with). The leave-one-out correction also needs ``P``; it is
    not recomputed but recovered from ``B``: EASE sets ``B_kj = −P_kj / P_jj`` (k ≠ j), and column j of
    ``G·P = I`` gives ``P_jj · (G_jj − Σ_{k≠j} G_kj·B_kj) = 1`` — an O(nnz) step instead of a second inverse.
    """
    from recommender.baselines.ease import EASE

    members = sp.csr_matrix(members, dtype=np.float64)
    weights = EASE(l2=l2).fit(sp.csr_matrix(members, dtype=np.float32), seed=0).weights
    gram = (members.T @ members).tocsr()
    gram_diagonal = gram.diagonal() + l2
    coupled = np.asarray(gram.multiply(weights.astype(np.float64)).sum(axis=0)).ravel()  # Σ_k G_kj B_kj (B_jj = 0)
    precision_diagonal = 1.0 / (gram_diagonal - coupled)
    return np.ascontiguousarray(weights, dtype=np.float32), precision_diagonal.astype(np.float64)


def ease_scores(
    history: np.ndarray,
    *,
    weights: np.ndarray,
    precision_diagonal: np.ndarray,
    targets: np.ndarray | None = None,
) -> np.ndarray:
    """(B × n_items) ``e_u(i) = Σ_{j ∈ H(u)} B_ji``; with ``targets``, *exact* leave-one-out EASE for each row.

    At scoring time a held-out item never co-occurred with anything in training, so ``H(u) @ B`` is
    honest. In training the pair (u, t) is asked with ``t`` removed from the history, but ``B`` was fit
    on u's full row, which holds the answer (``B_jt`` learned from u's own co-listening of j and t). The
    honest weights are EASE refit without that one interaction: the Gram matrix loses ``y·e_tᵀ + e_t·yᵀ
    + e_t·e_tᵀ`` (``y`` = u's row without ``t``), a rank-2 change, so by Woodbury
    ``P' = P − P·U·S·Uᵀ·P`` with ``U = [y, e_t]``, ``S = (C⁻¹ + UᵀPU)⁻¹`` (2 × 2, ``C⁻¹ = [[1, −1], [−1, 0]]``), and
    ``yᵀB'_{·i} = −(yᵀP')_i / P'_ii`` for every column i — all from ``y·B``, the rows ``B_t·`` and ``d``,
    never the dense ``P`` (``P_kj = −B_kj·d_j``, ``P_jj = d_j``). Unlike the cosine, every column moves
    a little (refitting is global), so every column is recomputed. Histories must be rows of the
    matrix ``B`` was fit on for the correction to be exact (they are: the model fits ``B`` on its
    stored histories).
    """
    n_items = weights.shape[0]
    members = history_matrix(history, n_items=n_items, exclude=targets)
    plain = np.asarray(members @ weights, dtype=np.float32)
    if targets is None:
        return plain
    d = precision_diagonal
    rows = np.arange(len(history))
    member_dense = members.toarray().astype(np.float64)  # y, (B × n)
    y_p = member_dense * d - plain.astype(np.float64) * d  # yᵀP: (yB)_i·(−d_i) + y_i·d_i
    t_p = -weights[targets].astype(np.float64) * d  # P_t·
    t_p[rows, targets] = d[targets]
    m11 = (y_p * member_dense).sum(axis=1)  # yᵀPy
    m12 = y_p[rows, targets]  # yᵀP e_t
    m22 = d[targets]  # P_tt
    # S = (C⁻¹ + M)⁻¹ for A = [[1 + m11, m12 − 1], [m12 − 1, m22]]
    a11, a12, a22 = 1.0 + m11, m12 - 1.0, m22
    det = a11 * a22 - a12 * a12
    s11, s12, s22 = a22 / det, -a12 / det, a11 / det
    # yᵀP' = yᵀP − [m11, m12]·S·[yᵀP; P_t·]
    c1 = m11 * s11 + m12 * s12
    c2 = m11 * s12 + m12 * s22
    y_p_new = y_p - c1[:, None] * y_p - c2[:, None] * t_p
    # diag(P')_i = d_i − [yP_i, P_ti]·S·[yP_i, P_ti]ᵀ
    diagonal_new = d[None, :] - (s11[:, None] * y_p**2 + 2.0 * s12[:, None] * y_p * t_p + s22[:, None] * t_p**2)
    scores = -y_p_new / diagonal_new
    scores += member_dense  # B'_jj = 0, not −1: the history's own columns drop their self term
    return scores.astype(np.float32)
