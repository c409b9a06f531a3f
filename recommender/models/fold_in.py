"""Fold-in: score users described by an item history with a fitted joint model, without retraining.

Serving scores the *current* history of a listener (including events after training, or a learner who
signed up since), so everything the user tower reads from stored per-user arrays is rebuilt here from
the history alone: the attention pool over the item tower's vectors, the behaviour features and the
neighbourhood terms. For a training user whose history is unchanged this reproduces the model's own
scores (up to float32 rounding); :meth:`JointKGRecommender.score_history` is the entry point.

Why caches: a request scores one user, but the item tower (all items through an MLP) and the affine
map that standardises behaviour features depend only on the weights and inputs, so :class:`FoldInCache`
keeps them until the weights or inputs change.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from core.errors import ConfigurationError
from recommender.models.config import JointConfig
from recommender.models.inputs import LONG_TAIL_POPULARITY, JointInputs
from recommender.models.network import ItemSide, JointNetwork, Neighbourhood
from recommender.models.scoring import cold_transferred, combine_member_scores

History = np.ndarray | Sequence[int]


def fold_in_rows(histories: Sequence[History], *, n_items: int, max_history: int, model: str) -> list[np.ndarray]:
    """Each history as sorted distinct item indices: duplicates keep their last position, then the last ``max_history``.

    Why the *last* items: callers list the most important/recent items last. Bad indices raise a
    :class:`ConfigurationError` naming ``model``.
    """
    rows: list[np.ndarray] = []
    for b, history in enumerate(histories):
        items = np.asarray(history)
        if items.size == 0:
            rows.append(np.zeros(0, dtype=np.int64))
            continue
        if items.ndim != 1 or not np.issubdtype(items.dtype, np.integer):
            raise ConfigurationError(
                f"{model}: history {b} must be a one-dimensional list of item indices, got {items!r:.80}."
            )
        if items.min() < 0 or items.max() >= n_items:
            raise ConfigurationError(f"{model}: history {b} names an item index outside 0..{n_items - 1}.")
        # distinct items, keeping each one's last position, then the last max_history of them
        reversed_items = items[::-1]
        _, first = np.unique(reversed_items, return_index=True)
        kept = reversed_items[np.sort(first)][:max_history]
        rows.append(np.sort(kept).astype(np.int64))
    return rows


def pad_rows(rows: list[np.ndarray], *, n_items: int) -> np.ndarray:
    """(len(rows) × L) item indices padded with ``n_items``, the layout of the stored training histories."""
    width = max([1, *(len(r) for r in rows)])
    padded = np.full((len(rows), width), n_items, dtype=np.int64)
    for b, items in enumerate(rows):
        padded[b, : len(items)] = items
    return padded


def user_id_rows(user_indices: Sequence[int | None], *, n_users: int, model: str) -> tuple[np.ndarray, np.ndarray]:
    """``(known, ids)``: which rows name a training user and which; ``None`` rows get a zero id embedding."""
    known = np.zeros(len(user_indices), dtype=bool)
    ids = np.zeros(len(user_indices), dtype=np.int64)
    for b, user in enumerate(user_indices):
        if user is None:
            continue
        if isinstance(user, bool) or not isinstance(user, (int, np.integer)) or not 0 <= int(user) < n_users:
            raise ConfigurationError(f"{model}: user index {user!r} is not a training user (0..{n_users - 1}) or None.")
        known[b], ids[b] = True, int(user)
    return known, ids


# --- behaviour features ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BehaviourMap:
    """Per-item raw-feature inputs and the per-column affine map ``behaviour = slope·raw + intercept``.

    Why a fitted map: the standardisation training applied (per-column mean and std over active training
    users) is not stored in the artifact, so :func:`behaviour_map` recovers it exactly by regressing the
    stored ``inputs.behaviour`` on the same raw features recomputed from the stored training histories.
    """

    n_items: int
    log_popularity: np.ndarray
    long_tail: np.ndarray
    has_tags: np.ndarray
    has_links: np.ndarray
    slope: np.ndarray = field(default_factory=lambda: np.zeros(0))
    intercept: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def raw(self, padded: np.ndarray) -> np.ndarray:
        """Unstandardised behaviour features (:data:`.inputs.BEHAVIOUR_FEATURES` order) of padded histories."""
        valid = padded < self.n_items
        safe_index = np.where(valid, padded, 0)
        counts = valid.sum(axis=1).astype(np.float64)
        safe = np.maximum(counts, 1.0)

        def mean_of(values: np.ndarray) -> np.ndarray:
            return np.where(valid, values[safe_index], 0.0).sum(axis=1) / safe

        log_pop = self.log_popularity
        mean_log_pop = mean_of(log_pop)
        std_log_pop = np.sqrt(np.maximum(mean_of(log_pop**2) - mean_log_pop**2, 0.0))
        return np.stack(
            [
                np.log1p(counts),
                mean_log_pop,
                std_log_pop,
                mean_of(self.long_tail),
                mean_of(self.has_tags),
                mean_of(self.has_links),
            ],
            axis=1,
        )

    def rows(self, padded: np.ndarray) -> np.ndarray:
        """Standardised float32 behaviour features of padded histories; an empty history gets zeros, as in training."""
        raw = self.raw(padded)
        active = (padded < self.n_items).any(axis=1, keepdims=True)
        out = np.where(active, raw * self.slope + self.intercept, 0.0)
        return out.astype(np.float32)


def behaviour_map(
    inputs: JointInputs, *, max_history: int, item_has_tags: np.ndarray | None, model: str
) -> BehaviourMap:
    """Fit the :class:`BehaviourMap` of ``inputs`` (raw features use the *training* item statistics).

    ``item_has_tags`` is the one behaviour input the artifact does not store; without it "has any graph
    link" stands in for it.
    """
    n_items = inputs.n_items
    history = inputs.history
    valid = history < n_items
    column_counts = np.bincount(history[valid], minlength=n_items).astype(np.float64)
    popularity = inputs.item_popularity.astype(np.float64)
    if popularity.shape != (n_items,) or not popularity.any():
        popularity = column_counts  # neighbourhood term off: the stored histories hold the same counts
    has_links = np.diff(sp.csr_matrix(inputs.item_neighbours).indptr) > 0
    if inputs.item_neighbours.shape[0] != n_items:
        has_links = np.zeros(n_items, dtype=bool)
    if item_has_tags is None:
        has_tags = has_links
    else:
        has_tags = np.asarray(item_has_tags, dtype=bool)
        if has_tags.shape != (n_items,):
            raise ConfigurationError(
                f"{model}: item_has_tags must have one flag per item ({n_items}), got shape {has_tags.shape}."
            )
    unfitted = BehaviourMap(
        n_items=n_items,
        log_popularity=np.log1p(popularity),
        long_tail=(popularity <= LONG_TAIL_POPULARITY).astype(np.float64),
        has_tags=has_tags.astype(np.float64),
        has_links=has_links.astype(np.float64),
    )
    raw = unfitted.raw(history)
    counts = valid.sum(axis=1)
    width = history.shape[1]
    # users whose stored history may be a truncated subset (exactly full rows at the cap) are left out
    exact = (counts > 0) & ((counts < width) | (width < max_history))
    if not exact.any():
        exact = counts > 0
    slope = np.ones(raw.shape[1])
    intercept = np.zeros(raw.shape[1])
    target = inputs.behaviour.astype(np.float64)
    for column in range(raw.shape[1]):
        x, y = raw[exact, column], target[exact, column]
        if len(x) == 0:
            continue
        spread = x.var()
        if spread > 1e-12:
            slope[column] = float(((x - x.mean()) * (y - y.mean())).mean() / spread)
            intercept[column] = float(y.mean() - slope[column] * x.mean())
        else:  # a constant column was only centred (std below 1e-8 divides by 1)
            intercept[column] = float((y - x).mean())
    return BehaviourMap(
        n_items=n_items,
        log_popularity=unfitted.log_popularity,
        long_tail=unfitted.long_tail,
        has_tags=unfitted.has_tags,
        has_links=unfitted.has_links,
        slope=slope,
        intercept=intercept,
    )


# --- neighbourhood terms of explicit histories -----------------------------------------------------


def history_cosine(rows: list[np.ndarray], *, inputs: JointInputs, config: JointConfig) -> np.ndarray:
    """``n_u(i) = Σ_{j∈H} s(j, i)`` for each history: the rows of the stored similarity summed with ``bincount``.

    The same term as :func:`.neighbourhood.neighbourhood_scores` without targets (scoring time), computed
    straight from the CSR arrays: for one user that is ~50 short slices instead of building a sparse
    matrix and a sparse product (≈10× less overhead per request).
    """
    n_items = inputs.n_items
    similarity = inputs.item_similarity
    out = np.zeros((len(rows), n_items), dtype=np.float32)
    indptr, indices, data = similarity.indptr, similarity.indices, similarity.data
    for b, items in enumerate(rows):
        if not len(items):
            continue
        starts, ends = indptr[items], indptr[items + 1]
        if not (ends - starts).sum():
            continue
        positions = np.concatenate([np.arange(start, end) for start, end in zip(starts, ends)])
        out[b] = np.bincount(indices[positions], weights=data[positions], minlength=n_items)
    return cold_transferred(out, inputs=inputs, config=config)


def history_ease(rows: list[np.ndarray], *, inputs: JointInputs) -> np.ndarray:
    """``e_u(i) = Σ_{j∈H} B_ji`` for each history: the stored EASE rows summed (as :func:`.neighbourhood.ease_scores`)."""
    weights = inputs.item_ease
    out = np.zeros((len(rows), inputs.n_items), dtype=np.float32)
    for b, items in enumerate(rows):
        if len(items):
            out[b] = weights[items].sum(axis=0, dtype=np.float32)
    return out


def history_neighbourhood(rows: list[np.ndarray], *, inputs: JointInputs, config: JointConfig) -> Neighbourhood | None:
    """The configured neighbourhood terms of explicit histories (``None`` when the term is off)."""
    if not config.use_neighbourhood:
        return None
    cosine = (
        torch.from_numpy(history_cosine(rows, inputs=inputs, config=config))
        if config.uses_cosine_neighbourhood
        else None
    )
    ease = torch.from_numpy(history_ease(rows, inputs=inputs)) if config.uses_ease_neighbourhood else None
    return Neighbourhood(cosine=cosine, ease=ease)


# --- caches and scores -----------------------------------------------------------------------------


class FoldInCache:
    """What fold-in reuses across requests: each network's inference item table, and one behaviour map.

    Item tables are keyed on the network and its parameters' in-place version counters, so an optimiser
    step (or loading other weights) invalidates them; the behaviour map on the inputs object and the
    ``item_has_tags`` flags. An entry refers to its network weakly (a refit's old networks can go) and
    to its inputs strongly (one entry), so a key can never match a new object that reused an ``id``.
    """

    def __init__(self) -> None:
        self._item_tables: dict[
            int, tuple[weakref.ref[JointNetwork], tuple[int, ...], tuple[ItemSide, torch.Tensor]]
        ] = {}
        self._behaviour: tuple[JointInputs, bytes | None, BehaviourMap] | None = None

    def item_table(self, network: JointNetwork) -> tuple[ItemSide, torch.Tensor]:
        """The inference item table of ``network`` and its vectors with a zero padding row appended.

        Callers must hold ``torch.no_grad``.
        """
        key = tuple(p._version for p in network.parameters())
        cached = self._item_tables.get(id(network))
        if cached is not None and cached[0]() is network and cached[1] == key:
            return cached[2]
        network.eval()
        with torch.no_grad():
            table = network.item_table()
            padded = torch.cat([table.vectors, table.vectors.new_zeros(1, table.vectors.shape[1])])
        self._item_tables[id(network)] = (weakref.ref(network), key, (table, padded))
        return table, padded

    def behaviour_map(
        self, inputs: JointInputs, *, max_history: int, item_has_tags: np.ndarray | None, model: str
    ) -> BehaviourMap:
        """:func:`behaviour_map` of ``inputs``, recomputed only when the inputs or ``item_has_tags`` change."""
        flags = None if item_has_tags is None else np.asarray(item_has_tags, dtype=bool).tobytes()
        cached = self._behaviour
        if cached is not None and cached[0] is inputs and cached[1] == flags:
            return cached[2]
        stats = behaviour_map(inputs, max_history=max_history, item_has_tags=item_has_tags, model=model)
        self._behaviour = (inputs, flags, stats)
        return stats


def fold_in_scores(
    rows: list[np.ndarray],
    *,
    padded: np.ndarray,
    known: np.ndarray,
    ids: np.ndarray,
    behaviour: np.ndarray,
    networks: Sequence[JointNetwork],
    inputs: JointInputs,
    config: JointConfig,
    cache: FoldInCache,
) -> np.ndarray:
    """(len(rows) × n_items) float32 scores of non-empty ``rows`` (from :func:`fold_in_rows`), combined over ``networks``.

    ``padded`` is :func:`pad_rows` of ``rows``, ``known``/``ids`` come from :func:`user_id_rows` and
    ``behaviour`` from :meth:`BehaviourMap.rows`.
    """
    neighbourhood = history_neighbourhood(rows, inputs=inputs, config=config)
    members = []
    with torch.no_grad():
        for net in networks:
            if net.training:
                net.eval()
            items, padded_vectors = cache.item_table(net)
            id_vectors = net.user_id(torch.from_numpy(ids)) * torch.from_numpy(known).unsqueeze(1).to(torch.float32)
            user = net.user_side_from(torch.from_numpy(padded), torch.from_numpy(behaviour), id_vectors, padded_vectors)
            members.append(net.logits(user, items, neighbourhood=neighbourhood).numpy())
    return np.ascontiguousarray(combine_member_scores(members), dtype=np.float32)
