"""The fixed (non-trainable) inputs of the joint model, derived once from the training data and side info.

Why a separate, saveable object: scoring a user needs their training history, their behaviour
features and each item's graph links and content vectors, not only the trained weights. Keeping all
of them in one array bundle (``model_inputs.npz`` in an artifact) means a loaded model scores exactly
as the trained one did, without the catalog, the graph store or the text encoder being available.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError, DataFileError
from recommender.base import ItemSideInfo
from recommender.models.neighbourhood import (
    cold_transfer_matrix,
    cosine_item_similarity,
    ease_item_weights,
    history_matrix,
)

#: Names of the behaviour features, in column order (see :func:`behaviour_features`).
BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "log_history_size",
    "mean_log_item_popularity",
    "std_log_item_popularity",
    "share_long_tail_items",
    "share_items_with_tags",
    "share_items_with_graph_links",
)
#: An item played by at most this many training users counts as long tail.
LONG_TAIL_POPULARITY = 2


@dataclass(frozen=True, eq=False)
class JointInputs:
    """Arrays the network reads besides its weights; all in the dataset's user/item index space.

    ``history[u]`` lists user ``u``'s training items padded with ``n_items`` (the padding row);
    ``behaviour`` is standardised per column; ``item_neighbours`` is the row-normalised
    (n_items × n_entities) one-hop KG adjacency; ``unseen_items`` marks items without any training
    interaction (they score through graph + content only). ``content``/``audio`` are frozen item
    vectors (0 columns when absent). ``item_similarity``/``item_popularity`` feed the neighbourhood
    term (:mod:`.neighbourhood`; an empty matrix when it is switched off; the cosine is also what
    serving cites in "listeners who play X also play Y" explanations). ``item_ease`` is the dense
    EASE weight matrix of the EASE term, fit on ``history``, and ``ease_precision_diagonal`` the
    ``diag((XᵀX + λI)⁻¹)`` its leave-one-out correction needs (both empty when the term is off).
    ``cold_transfer`` lends unseen items the neighbourhood columns of their closest seen items by
    content (:func:`.neighbourhood.cold_transfer_matrix`; empty when switched off).
    """

    history: np.ndarray
    behaviour: np.ndarray
    unseen_items: np.ndarray
    item_entity: np.ndarray
    item_neighbours: sp.csr_matrix
    kg_triples: np.ndarray
    n_entities: int
    n_relations: int
    content: np.ndarray
    audio: np.ndarray
    item_similarity: sp.csr_matrix
    item_popularity: np.ndarray
    item_ease: np.ndarray
    ease_precision_diagonal: np.ndarray
    cold_transfer: sp.csr_matrix

    @property
    def n_users(self) -> int:
        return int(self.history.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.unseen_items.shape[0])

    # --- persistence --------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {}  # np.savez types **kwds beside its bool allow_pickle
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SPARSE_FIELDS:
                matrix = sp.csr_matrix(value)
                arrays.update(
                    {
                        f"{f.name}__data": matrix.data,
                        f"{f.name}__indices": matrix.indices,
                        f"{f.name}__indptr": matrix.indptr,
                        f"{f.name}__shape": np.asarray(matrix.shape),
                    }
                )
            else:
                arrays[f.name] = np.asarray(value)
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> JointInputs:
        try:
            with np.load(path, allow_pickle=False) as data:
                values = {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:
            raise DataFileError(
                f"not a readable model-input archive ({exc}); the artifact is corrupt, retrain it.", path=str(path)
            ) from exc
        for name, empty in _OPTIONAL_FIELDS.items():  # archives written before the field existed
            values.setdefault(name, empty())
        for name in _OPTIONAL_SPARSE_FIELDS:
            if f"{name}__data" not in values:
                empty = sp.csr_matrix((0, 0), dtype=np.float32)
                values.update(
                    {
                        f"{name}__data": empty.data,
                        f"{name}__indices": empty.indices,
                        f"{name}__indptr": empty.indptr,
                        f"{name}__shape": np.asarray(empty.shape),
                    }
                )
        needed = {f.name for f in fields(cls)} - set(_SPARSE_FIELDS)
        needed |= {f"{name}__{part}" for name in _SPARSE_FIELDS for part in ("data", "indices", "indptr", "shape")}
        missing = sorted(needed - set(values))
        if missing:
            raise DataFileError(
                f"model-input archive lacks {', '.join(missing)}; the artifact is incomplete, retrain it.",
                path=str(path),
            )
        for name in _SPARSE_FIELDS:
            values[name] = sp.csr_matrix(
                (values.pop(f"{name}__data"), values.pop(f"{name}__indices"), values.pop(f"{name}__indptr")),
                shape=tuple(int(x) for x in values.pop(f"{name}__shape")),
            )
        values["n_entities"] = int(values["n_entities"])
        values["n_relations"] = int(values["n_relations"])
        return cls(**values)


_SPARSE_FIELDS = ("item_neighbours", "item_similarity", "cold_transfer")
#: Sparse fields added after the first artifacts were written (absent = switched off).
_OPTIONAL_SPARSE_FIELDS = ("cold_transfer",)
#: Fields added after the first artifacts were written, with their "term switched off" value.
_OPTIONAL_FIELDS = {
    "item_ease": lambda: np.zeros((0, 0), dtype=np.float32),
    "ease_precision_diagonal": lambda: np.zeros(0, dtype=np.float64),
}


def build_inputs(
    *,
    train: sp.csr_matrix,
    side_info: ItemSideInfo | None,
    content: np.ndarray | None,
    audio: np.ndarray | None,
    cold_items: np.ndarray,
    max_history: int,
    neighbourhood_shrink: float | None,
    rng: np.random.Generator,
    ease_l2: float | None = None,
    cold_neighbours: int = 0,
    model: str,
) -> JointInputs:
    """Derive every fixed input from a checked binary ``train`` matrix (never from validation or test)."""
    n_users, n_items = train.shape
    unseen = np.diff(train.tocsc().indptr) == 0
    unseen[np.asarray(cold_items, dtype=np.int64)] = True
    if side_info is not None:
        item_entity = np.asarray(side_info.item_entity, dtype=np.int64)
        kg_triples = np.asarray(side_info.kg_triples, dtype=np.int64).reshape(-1, 3)
        n_entities, n_relations = len(side_info.entity_ids), len(side_info.relation_types)
        neighbours = item_neighbour_matrix(side_info, n_items=n_items)
        has_tags = np.diff(sp.csr_matrix(side_info.item_tags).indptr) > 0
    else:
        item_entity = np.zeros(0, dtype=np.int64)
        kg_triples = np.zeros((0, 3), dtype=np.int64)
        n_entities = n_relations = 0
        neighbours = sp.csr_matrix((n_items, 0), dtype=np.float32)
        has_tags = np.zeros(n_items, dtype=bool)
    has_links = np.diff(neighbours.indptr) > 0
    if neighbourhood_shrink is not None:
        similarity, popularity = cosine_item_similarity(train, shrink=neighbourhood_shrink)
    else:
        similarity, popularity = (
            sp.csr_matrix((n_items, n_items), dtype=np.float32),
            np.zeros(n_items, dtype=np.float32),
        )
    history = padded_histories(train, max_history=max_history, rng=rng)
    if ease_l2 is not None:
        # fit on the stored histories (= train unless a history was capped), so the training-time
        # leave-one-out correction is exact for the rows the model actually reads
        ease, ease_diagonal = ease_item_weights(history_matrix(history, n_items=n_items), l2=ease_l2)
    else:
        ease, ease_diagonal = np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.float64)
    if cold_neighbours > 0 and neighbourhood_shrink is not None and side_info is not None and unseen.any():
        from recommender.baselines.content_tags import tag_graph_vectors

        transfer = cold_transfer_matrix(tag_graph_vectors(side_info, n_items), unseen=unseen, k=cold_neighbours)
    else:
        transfer = sp.csr_matrix((0, 0), dtype=np.float32)
    return JointInputs(
        history=history,
        behaviour=behaviour_features(train, has_tags=has_tags, has_links=has_links),
        unseen_items=unseen,
        item_entity=item_entity,
        item_neighbours=neighbours,
        kg_triples=kg_triples,
        n_entities=n_entities,
        n_relations=n_relations,
        content=_frozen_matrix(content, n_items=n_items, what="content_embeddings", model=model),
        audio=_frozen_matrix(audio, n_items=n_items, what="audio_embeddings", model=model),
        item_similarity=similarity,
        item_popularity=popularity,
        item_ease=ease,
        ease_precision_diagonal=ease_diagonal,
        cold_transfer=transfer,
    )


def padded_histories(train: sp.csr_matrix, *, max_history: int, rng: np.random.Generator) -> np.ndarray:
    """(n_users × L) training items per user padded with ``n_items``; longer histories keep a seeded random subset."""
    n_users, n_items = train.shape
    counts = np.diff(train.indptr)
    width = max(1, min(int(counts.max(initial=0)), max_history))
    history = np.full((n_users, width), n_items, dtype=np.int64)
    for user in range(n_users):
        items = train.indices[train.indptr[user] : train.indptr[user + 1]]
        if len(items) > width:
            items = np.sort(rng.choice(items, size=width, replace=False))
        history[user, : len(items)] = items
    return history


def behaviour_features(train: sp.csr_matrix, *, has_tags: np.ndarray, has_links: np.ndarray) -> np.ndarray:
    """Standardised per-user features of listening behaviour (columns: :data:`BEHAVIOUR_FEATURES`).

    Popularity is the number of training users of an item, so nothing here looks at held-out data.
    Users without training items get all-zero (= average after standardisation) features.
    """
    n_users = train.shape[0]
    counts = np.diff(train.indptr).astype(np.float64)
    log_popularity = np.log1p(np.diff(train.tocsc().indptr).astype(np.float64))
    safe = np.maximum(counts, 1.0)
    mean_log_pop = (train @ log_popularity) / safe
    second_moment = (train @ log_popularity**2) / safe
    std_log_pop = np.sqrt(np.maximum(second_moment - mean_log_pop**2, 0.0))
    long_tail = (np.diff(train.tocsc().indptr) <= LONG_TAIL_POPULARITY).astype(np.float64)
    raw = np.stack(
        [
            np.log1p(counts),
            mean_log_pop,
            std_log_pop,
            (train @ long_tail) / safe,
            (train @ has_tags.astype(np.float64)) / safe,
            (train @ has_links.astype(np.float64)) / safe,
        ],
        axis=1,
    )
    active = counts > 0
    if active.any():
        mean = raw[active].mean(axis=0)
        std = raw[active].std(axis=0)
        raw = np.where(active[:, None], (raw - mean) / np.where(std > 1e-8, std, 1.0), 0.0)
    assert raw.shape == (n_users, len(BEHAVIOUR_FEATURES))
    return raw.astype(np.float32)


def item_neighbour_matrix(side_info: ItemSideInfo, *, n_items: int) -> sp.csr_matrix:
    """Row-normalised (n_items × n_entities): the entities one KG edge away from each item (either direction).

    Reuses the content baseline's adjacency (several relations to one entity count once); rows of
    items without edges stay empty, so their neighbour average is the zero vector.
    """
    from recommender.baselines.content_tags import item_graph_neighbours

    links = item_graph_neighbours(side_info, n_items).astype(np.float32)
    degree = np.asarray(links.sum(axis=1)).ravel()
    scale = sp.diags(np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0))
    out = (scale @ links).tocsr().astype(np.float32)
    out.sort_indices()
    return out


def _frozen_matrix(values: np.ndarray | None, *, n_items: int, what: str, model: str) -> np.ndarray:
    if values is None:
        return np.zeros((n_items, 0), dtype=np.float32)
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[0] != n_items or array.shape[1] == 0:
        raise ConfigurationError(
            f"{model}: {what} must be an (n_items={n_items} × d) matrix aligned with the item index, got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise ConfigurationError(f"{model}: {what} must hold finite numbers only.")
    return np.ascontiguousarray(array, dtype=np.float32)
