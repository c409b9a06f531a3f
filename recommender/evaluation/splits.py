"""Seeded, reproducible train/validation/test splits for the four evaluation protocols.

Why these rules (each one is also written into the split's ``config`` so reports carry it):

* **Protocol T** (top-K ranking): every listened artist is a positive; each user's positives are
  shuffled and split 80/10/10. Test and validation each get ``max(1, round(0.1 · n))`` items (round
  half up), the rest is training. Users with fewer than 3 positives keep *all* of them in training
  and are not evaluated: with 1 item, holding it out would leave the user without any history (a
  cold-user problem this protocol does not measure), and with 2 items one of validation/test would
  have to stay empty. On the KGCN Last.FM subset this excludes 14 of 1,872 users and yields
  79.1 / 10.5 / 10.5 % of the interactions.
* **Protocol C** (click-through style, as in KGCN): a global 60/20/20 random split of the positive
  pairs; validation and test each get one sampled negative per positive (a uniformly drawn artist the
  user never listened to, in any part; a (user, item) negative is used at most once across
  validation and test). Training holds positives only: models sample their own negatives.
* **Sparsity**: nested subsets of the Protocol T training set, drawn *per user*: each user keeps
  ``max(1, round(f · n_train))`` of their training items, chosen by one fixed random order of that
  user's items, so the 10 % subset ⊂ 20 % ⊂ … ⊂ 100 %. Per user (not global) so every evaluated user
  stays warm and the curve measures sparser histories, not a growing share of cold users;
  validation and test are Protocol T's, unchanged. The training interactions left out of a subset
  are kept as ``withheld``: the evaluator excludes them from the candidates (they are real positives,
  neither to be counted as misses nor as hits), so every sparsity level ranks the same candidates.
* **Cold start** (items): 10 % of the items that have interactions are held out entirely; test = all
  interactions of those items (only for users who still have a training interaction, so the result
  is not mixed with user cold start; the number of dropped users is recorded), training = every
  other interaction minus a per-user 10 % validation set (users with < 2 warm items keep all of them).

All matrices keep the play counts as values; :meth:`TopKSplit.train_binary` is what models are fit on.

**Export** (:func:`export_split`, :func:`import_split`): a TSV plus a JSON sidecar (``t_seed0.tsv`` +
``t_seed0.json``), so an external library can run the identical split and its results join back to the
source data. A split of catalog data (its dataset carries :class:`~recommender.data.SourceIds`) has the
columns

``listener_pk  artist_pk  weight  split  lastfm_user_id  lastfm_artist_id  artist_entity_id``

* ``listener_pk``/``artist_pk``: *internal* catalog primary keys of the exporting database. They follow
  the load order (on the full data listener_pk 1 is Last.FM user 2, artist_pk 21 is artist 52), so
  never join on them;
* ``weight``: play count, 0 = a sampled negative (Protocol C only); ``split``: train, validation, test, or
  ``withheld`` (sparsity subsets: training pairs not given to the model, to exclude from ranking);
* ``lastfm_user_id``: the Last.FM ``userID`` of ``user_artists.dat``; **empty** for a learner account
  (someone who signed up in Leitmotif and has no Last.FM id), which only ``listener_pk`` identifies;
* ``lastfm_artist_id``: the Last.FM artist ``id`` (``artists.dat``; ``artistID`` of ``user_artists.dat``);
* ``artist_entity_id``: the artist's graph entity id (``lastfm:artist:<id>``).

The sidecar (format ``leitmotif.split.v2``) repeats the column meanings, the protocol config and row
counts, and lists every user and item of the split (its candidates, also those without rows) as aligned
lists ``user_ids``/``item_ids`` (primary keys), ``lastfm_user_ids`` (``null`` = learner account),
``lastfm_artist_ids`` and ``artist_entity_ids``. :func:`import_split` matches rows by these source ids
(checking that the row's primary keys and entity id agree with the sidecar) and, given a ``dataset``,
maps them into that dataset's index space by Last.FM id, so an export also loads into a database
loaded in another order. A split without source ids (a dataset built with
:meth:`~recommender.data.InteractionDataset.from_arrays`) keeps the v1 layout ``user_id  item_id
weight  split`` with the dataset's own ids; v1 exports still import (matched by those ids).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.errors import DataFileError
from recommender.base import ItemSideInfo, TrainingContext
from recommender.data import NO_LASTFM_ID, InteractionDataset, SourceIds

PROTOCOL_T = "T"
PROTOCOL_C = "C"
PROTOCOL_SPARSITY = "sparsity"
PROTOCOL_COLD_START = "cold_start"
TOPK_PROTOCOLS = (PROTOCOL_T, PROTOCOL_SPARSITY, PROTOCOL_COLD_START)

DEFAULT_SPARSITY_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 1.0)
SPLIT_PARTS = ("train", "validation", "test")
#: Extra TSV split value of sparsity subsets: training pairs not given to the model, excluded from ranking.
WITHHELD = "withheld"
#: Columns of a split that carries source ids (see the module docstring).
SOURCE_COLUMNS = (
    "listener_pk",
    "artist_pk",
    "weight",
    "split",
    "lastfm_user_id",
    "lastfm_artist_id",
    "artist_entity_id",
)
#: Columns of a split without source ids, and of every ``leitmotif.split.v1`` export.
ID_COLUMNS = ("user_id", "item_id", "weight", "split")
TSV_HEADER = "\t".join(ID_COLUMNS)
SOURCE_TSV_HEADER = "\t".join(SOURCE_COLUMNS)
SIDECAR_FORMAT = "leitmotif.split.v2"
SIDECAR_FORMAT_V1 = "leitmotif.split.v1"
COLUMN_MEANINGS = {
    "listener_pk": (
        "internal: catalog Listener primary key in the database that exported the split; it follows the load "
        "order, so join on lastfm_user_id instead"
    ),
    "artist_pk": (
        "internal: catalog Artist primary key in the database that exported the split; join on lastfm_artist_id "
        "or artist_entity_id instead"
    ),
    "user_id": "the dataset's user id (InteractionDataset.user_ids)",
    "item_id": "the dataset's item id (InteractionDataset.item_ids)",
    "weight": "play count; 0 marks a sampled negative (Protocol C only)",
    "split": (
        "train, validation, test; 'withheld' (sparsity only) = training pairs not given to the model, exclude "
        "them from ranking"
    ),
    "lastfm_user_id": (
        "Last.FM userID (user_artists.dat, user_friends.dat, user_taggedartists.dat); EMPTY for a learner "
        "account (someone who signed up in Leitmotif and has no Last.FM id), which only listener_pk identifies"
    ),
    "lastfm_artist_id": "Last.FM artist id (artists.dat id, user_artists.dat artistID)",
    "artist_entity_id": "the artist's knowledge-graph entity id (lastfm:artist:<id>)",
}

# Independent random streams per protocol, so Protocol T and Protocol C with the same seed are not
# accidentally correlated, and a sparsity subset does not replay the draws of its base split.
_STREAM = {PROTOCOL_T: 1, PROTOCOL_C: 2, PROTOCOL_SPARSITY: 3, PROTOCOL_COLD_START: 4}


def _rng(protocol: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([_STREAM[protocol], seed])


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def _check_fraction(name: str, value: float, *, allow_zero: bool = False, allow_one: bool = False) -> float:
    low_ok = value >= 0 if allow_zero else value > 0
    high_ok = value <= 1 if allow_one else value < 1
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not (low_ok and high_ok):
        bounds = f"{'[' if allow_zero else '('}0, 1{']' if allow_one else ')'}"
        raise ValueError(f"{name} must be a number in {bounds}, got {value!r}.")
    return float(value)


def _json_normalised(config: dict[str, Any]) -> dict[str, Any]:
    """Config as it will read back from JSON (tuples → lists), so export/import round-trips exactly."""
    return json.loads(json.dumps(config))


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5).astype(np.int64)


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = matrix.copy().astype(np.float32)
    out.data[:] = 1.0
    return out


def _select(matrix: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """The entries of ``matrix`` (canonical CSR) whose position in ``matrix.data`` has ``keep`` True."""
    coo = matrix.tocoo()
    out = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape, dtype=matrix.dtype)
    out.sort_indices()
    return out


def _row_of_entries(matrix: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def _random_rank_within_rows(matrix: sp.csr_matrix, rng: np.random.Generator) -> np.ndarray:
    """For every stored entry, its position (0-based) in a uniformly random order of its row."""
    rows = _row_of_entries(matrix)
    order = np.lexsort((rng.random(matrix.nnz), rows))
    ranks = np.empty(matrix.nnz, dtype=np.int64)
    ranks[order] = np.arange(matrix.nnz) - matrix.indptr[rows[order]]
    return ranks


def _per_user_holdout(
    matrix: sp.csr_matrix, rng: np.random.Generator, *, fractions: Sequence[float], min_items: int
) -> np.ndarray:
    """Label each entry 0 (train) or ``k`` (k-th holdout) by a random per-user partition.

    Holdout ``k`` gets ``max(1, round(fractions[k-1] · n))`` of a user's ``n`` items when
    ``n >= min_items``, otherwise nothing; at least one item always stays in training.
    """
    matrix = matrix.tocsr()
    matrix.sort_indices()
    counts = np.diff(matrix.indptr)
    rows = _row_of_entries(matrix)
    ranks = _random_rank_within_rows(matrix, rng)
    labels = np.zeros(matrix.nnz, dtype=np.int8)
    start = np.zeros(matrix.shape[0], dtype=np.int64)
    for k, fraction in enumerate(fractions, start=1):
        size = np.where(counts >= min_items, np.maximum(1, _round_half_up(fraction * counts)), 0)
        size = np.minimum(size, np.maximum(counts - start - 1, 0))  # never empty a user's training set
        stop = start + size
        labels[(ranks >= start[rows]) & (ranks < stop[rows])] = k
        start = stop
    return labels


# --- split containers ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TopKSplit:
    """A ranking split (Protocol T, a sparsity subset, or cold start) in the dataset's index space.

    ``train``/``validation``/``test`` are (n_users × n_items) CSR matrices of play counts; no
    (user, item) pair is in more than one of them. ``cold_items`` lists item indices that have no
    training or validation interaction (cold start only). ``withheld`` (sparsity subsets only) holds
    the base training pairs left out of this subset: never shown to the model, never ranked.
    ``sources`` (splits of catalog data) gives the Last.FM and graph ids of ``user_ids``/``item_ids``.
    """

    protocol: str
    seed: int
    config: dict[str, Any]
    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    validation: sp.csr_matrix
    test: sp.csr_matrix
    cold_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    withheld: sp.csr_matrix | None = None
    sources: SourceIds | None = None

    @property
    def n_users(self) -> int:
        return int(self.train.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.train.shape[1])

    @property
    def label(self) -> str:
        """Short name used in reports: ``T``, ``sparsity@0.1``, ``cold_start``."""
        if self.protocol == PROTOCOL_SPARSITY:
            return f"{PROTOCOL_SPARSITY}@{self.config['fraction']:g}"
        return self.protocol

    def train_binary(self) -> sp.csr_matrix:
        return _binary(self.train)

    def training_context(self, *, side_info: ItemSideInfo | None = None) -> TrainingContext:
        """What a model may see besides ``train``: side info, validation (binary) and the cold items."""
        return TrainingContext(
            side_info=side_info, validation=_binary(self.validation), cold_items=self.cold_items.copy()
        )

    def parts(self) -> dict[str, sp.csr_matrix]:
        parts = {"train": self.train, "validation": self.validation, "test": self.test}
        if self.withheld is not None:
            parts[WITHHELD] = self.withheld
        return parts

    def not_rankable(self, part: str = "test") -> sp.csr_matrix:
        """Pairs excluded from the candidates when evaluating ``part``: the user's known history.

        For ``test``: training, validation and withheld pairs; for ``validation``: training and withheld.
        """
        if part not in ("test", "validation"):
            raise ValueError(f"part must be 'test' or 'validation', got {part!r}.")
        excluded = self.train.copy()
        if part == "test":
            excluded = excluded + self.validation
        if self.withheld is not None:
            excluded = excluded + self.withheld
        return excluded.tocsr()


@dataclass(frozen=True, eq=False)
class CTRSplit:
    """Protocol C: positives split 60/20/20 plus sampled negatives for validation and test.

    ``validation``/``test`` hold the positive pairs with their play counts;
    ``validation_negatives``/``test_negatives`` mark the sampled negative pairs with 1.0.
    """

    protocol: str
    seed: int
    config: dict[str, Any]
    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    validation: sp.csr_matrix
    test: sp.csr_matrix
    validation_negatives: sp.csr_matrix
    test_negatives: sp.csr_matrix
    sources: SourceIds | None = None

    @property
    def n_users(self) -> int:
        return int(self.train.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.train.shape[1])

    @property
    def label(self) -> str:
        return self.protocol

    def train_binary(self) -> sp.csr_matrix:
        return _binary(self.train)

    def training_context(self, *, side_info: ItemSideInfo | None = None) -> TrainingContext:
        return TrainingContext(side_info=side_info, validation=_binary(self.validation))

    def labelled_pairs(self, part: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """``(pairs, labels)`` of a part: (n × 2) [user, item] index rows sorted by (user, item), labels 1/0."""
        if part not in ("validation", "test"):
            raise ValueError(f"part must be 'validation' or 'test', got {part!r}.")
        positives = self.validation if part == "validation" else self.test
        negatives = self.validation_negatives if part == "validation" else self.test_negatives
        pos, neg = positives.tocoo(), negatives.tocoo()
        users = np.concatenate([pos.row, neg.row]).astype(np.int64)
        items = np.concatenate([pos.col, neg.col]).astype(np.int64)
        labels = np.concatenate([np.ones(pos.nnz, dtype=np.int8), np.zeros(neg.nnz, dtype=np.int8)])
        order = np.lexsort((items, users))
        return np.stack([users[order], items[order]], axis=1), labels[order]


Split = TopKSplit | CTRSplit


# --- protocols ------------------------------------------------------------------------------


def protocol_t_split(
    dataset: InteractionDataset,
    *,
    seed: int,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    min_items_for_holdout: int = 3,
) -> TopKSplit:
    """Per-user random train/validation/test split of every user's positives (see module docstring)."""
    seed = _check_seed(seed)
    validation_fraction = _check_fraction("validation_fraction", validation_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if validation_fraction + test_fraction >= 1:
        raise ValueError("validation_fraction + test_fraction must be below 1 so training keeps items.")
    if min_items_for_holdout < 3:
        raise ValueError("min_items_for_holdout must be at least 3 (one item each for train, validation and test).")
    matrix = dataset.matrix.tocsr()
    matrix.sort_indices()
    labels = _per_user_holdout(
        matrix, _rng(PROTOCOL_T, seed), fractions=(test_fraction, validation_fraction), min_items=min_items_for_holdout
    )
    config = {
        "protocol": PROTOCOL_T,
        "seed": seed,
        "fractions": {
            "train": round(1 - validation_fraction - test_fraction, 10),
            "validation": validation_fraction,
            "test": test_fraction,
        },
        "per_user_holdout": "max(1, round_half_up(fraction * n_user_items))",
        "min_items_for_holdout": min_items_for_holdout,
        "users_train_only": int(
            np.sum((np.diff(matrix.indptr) > 0) & (np.diff(matrix.indptr) < min_items_for_holdout))
        ),
    }
    return TopKSplit(
        protocol=PROTOCOL_T,
        seed=seed,
        config=_json_normalised(config),
        user_ids=dataset.user_ids.copy(),
        item_ids=dataset.item_ids.copy(),
        sources=dataset.sources,
        train=_select(matrix, labels == 0),
        validation=_select(matrix, labels == 2),
        test=_select(matrix, labels == 1),
    )


def sparsity_splits(base: TopKSplit, *, fractions: Sequence[float] = DEFAULT_SPARSITY_FRACTIONS) -> list[TopKSplit]:
    """Nested per-user subsets of a Protocol T training set; validation and test are shared unchanged.

    One random order of each user's training items (seeded by ``base.seed``) is cut at
    ``max(1, round(f · n_train))`` for every ``f``, which makes the subsets nested by construction.
    """
    if base.protocol != PROTOCOL_T:
        raise ValueError(f"sparsity subsets are drawn from a Protocol T split, got protocol {base.protocol!r}.")
    fractions = sorted({_check_fraction("fraction", f, allow_one=True) for f in fractions})
    if not fractions:
        raise ValueError("give at least one sparsity fraction.")
    train = base.train.tocsr()
    ranks = _random_rank_within_rows(train, _rng(PROTOCOL_SPARSITY, base.seed))
    counts = np.diff(train.indptr)[_row_of_entries(train)]
    out = []
    for fraction in fractions:
        keep = ranks < np.maximum(1, _round_half_up(fraction * counts))
        config = {
            "protocol": PROTOCOL_SPARSITY,
            "seed": base.seed,
            "fraction": fraction,
            # The per-user floor of one item makes small fractions keep a little more than nominal.
            "actual_fraction": round(float(keep.sum()) / max(train.nnz, 1), 6),
            "subset_rule": "per user: keep max(1, round_half_up(fraction * n_train_items)) items of one fixed random order",
            "base": base.config,
        }
        out.append(
            TopKSplit(
                protocol=PROTOCOL_SPARSITY,
                seed=base.seed,
                config=_json_normalised(config),
                user_ids=base.user_ids.copy(),
                item_ids=base.item_ids.copy(),
                train=_select(train, keep),
                validation=base.validation.copy(),
                test=base.test.copy(),
                withheld=_select(train, ~keep),
                sources=base.sources,
            )
        )
    return out


def cold_start_split(
    dataset: InteractionDataset, *, seed: int, item_fraction: float = 0.1, validation_fraction: float = 0.1
) -> TopKSplit:
    """Hold out ``item_fraction`` of the interacted items entirely; test = their interactions (see module docstring)."""
    seed = _check_seed(seed)
    item_fraction = _check_fraction("item_fraction", item_fraction)
    validation_fraction = _check_fraction("validation_fraction", validation_fraction, allow_zero=True)
    rng = _rng(PROTOCOL_COLD_START, seed)
    matrix = dataset.matrix.tocsr()
    matrix.sort_indices()
    interacted = np.flatnonzero(np.diff(matrix.tocsc().indptr) > 0)
    if len(interacted) < 2:
        raise ValueError("cold start needs at least two items with interactions (one cold, one warm).")
    n_cold = min(max(1, int(_round_half_up(np.array(item_fraction * len(interacted))))), len(interacted) - 1)
    cold_items = np.sort(rng.choice(interacted, size=n_cold, replace=False)).astype(np.int64)
    is_cold_entry = np.isin(matrix.indices, cold_items)
    warm = _select(matrix, ~is_cold_entry)
    cold = _select(matrix, is_cold_entry)
    warm_users = np.diff(warm.indptr) > 0
    dropped_users = int(np.sum((np.diff(cold.indptr) > 0) & ~warm_users))
    test = _select(cold, warm_users[_row_of_entries(cold)])
    if validation_fraction > 0:
        labels = _per_user_holdout(warm, rng, fractions=(validation_fraction,), min_items=2)
    else:
        labels = np.zeros(warm.nnz, dtype=np.int8)
    config = {
        "protocol": PROTOCOL_COLD_START,
        "seed": seed,
        "item_fraction": item_fraction,
        "validation_fraction": validation_fraction,
        "n_cold_items": n_cold,
        "cold_item_pool": "items with at least one interaction",
        "test_users_dropped_without_training": dropped_users,
        "evaluation_rule": "rank all items not in the user's training/validation set; count hits on cold items only",
    }
    return TopKSplit(
        protocol=PROTOCOL_COLD_START,
        seed=seed,
        config=_json_normalised(config),
        user_ids=dataset.user_ids.copy(),
        item_ids=dataset.item_ids.copy(),
        sources=dataset.sources,
        train=_select(warm, labels == 0),
        validation=_select(warm, labels == 1),
        test=test,
        cold_items=cold_items,
    )


def protocol_c_split(
    dataset: InteractionDataset,
    *,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> CTRSplit:
    """Global 60/20/20 split of positive pairs with one sampled negative per validation/test positive."""
    seed = _check_seed(seed)
    validation_fraction = _check_fraction("validation_fraction", validation_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if validation_fraction + test_fraction >= 1:
        raise ValueError("validation_fraction + test_fraction must be below 1 so training keeps pairs.")
    rng = _rng(PROTOCOL_C, seed)
    matrix = dataset.matrix.tocsr()
    matrix.sort_indices()
    nnz = matrix.nnz
    order = rng.permutation(nnz)
    n_validation = int(_round_half_up(np.array(validation_fraction * nnz)))
    n_test = int(_round_half_up(np.array(test_fraction * nnz)))
    labels = np.zeros(nnz, dtype=np.int8)
    labels[order[:n_validation]] = 1
    labels[order[n_validation : n_validation + n_test]] = 2
    validation, test = _select(matrix, labels == 1), _select(matrix, labels == 2)
    negatives = _sample_negatives(positives=matrix, needed=[np.diff(validation.indptr), np.diff(test.indptr)], rng=rng)
    config = {
        "protocol": PROTOCOL_C,
        "seed": seed,
        "fractions": {
            "train": round(1 - validation_fraction - test_fraction, 10),
            "validation": validation_fraction,
            "test": test_fraction,
        },
        "split_rule": "global random split of positive pairs",
        "negatives_per_positive": 1,
        "negative_rule": "uniform over items the user never listened to; each negative pair used once across validation and test",
        "train_negatives": "none (models sample their own)",
    }
    return CTRSplit(
        protocol=PROTOCOL_C,
        seed=seed,
        config=_json_normalised(config),
        user_ids=dataset.user_ids.copy(),
        item_ids=dataset.item_ids.copy(),
        sources=dataset.sources,
        train=_select(matrix, labels == 0),
        validation=validation,
        test=test,
        validation_negatives=negatives[0],
        test_negatives=negatives[1],
    )


def _sample_negatives(
    *, positives: sp.csr_matrix, needed: Sequence[np.ndarray], rng: np.random.Generator
) -> list[sp.csr_matrix]:
    """Per part, ``needed[p][u]`` distinct items user ``u`` never interacted with (disjoint across parts).

    Vectorised rejection sampling: interactions are sparse, so nearly every uniform draw is accepted;
    a feasibility check up front guarantees the loop ends.
    """
    n_users, n_items = positives.shape
    total_needed = np.sum(needed, axis=0)
    free = n_items - np.diff(positives.indptr)
    if np.any(total_needed > free):
        u = int(np.flatnonzero(total_needed > free)[0])
        raise ValueError(
            f"user index {u} needs {int(total_needed[u])} negatives but only {int(free[u])} items were never played; "
            "this data set is too dense for one negative per positive."
        )
    part_of = np.concatenate([np.full(int(n.sum()), p, dtype=np.int64) for p, n in enumerate(needed)])
    users = np.concatenate([np.repeat(np.arange(n_users), n) for n in needed]).astype(np.int64)
    taken = np.unique(_row_of_entries(positives).astype(np.int64) * n_items + positives.indices)
    chosen = np.full(len(users), -1, dtype=np.int64)
    pending = np.arange(len(users))
    while pending.size:
        candidates = rng.integers(0, n_items, size=pending.size)
        keys = users[pending] * n_items + candidates
        ok = ~np.isin(keys, taken)
        first = np.zeros(pending.size, dtype=bool)
        first[np.unique(keys, return_index=True)[1]] = True
        ok &= first
        chosen[pending[ok]] = candidates[ok]
        taken = np.union1d(taken, keys[ok])
        pending = pending[~ok]
    out = []
    for p in range(len(needed)):
        mask = part_of == p
        m = sp.csr_matrix(
            (np.ones(int(mask.sum()), dtype=np.float32), (users[mask], chosen[mask])),
            shape=positives.shape,
            dtype=np.float32,
        )
        m.sort_indices()
        out.append(m)
    return out


# --- TSV export / import ----------------------------------------------------------------------


def sidecar_path(tsv_path: str | Path) -> Path:
    """``splits/t_seed0.tsv`` → ``splits/t_seed0.json``."""
    return Path(tsv_path).with_suffix(".json")


def _format_weight(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _integer_ids(ids: np.ndarray, label: str) -> list[int]:
    if not np.issubdtype(np.asarray(ids).dtype, np.integer):
        raise ValueError(f"TSV export needs integer catalog ids; {label} has dtype {np.asarray(ids).dtype}.")
    return [int(x) for x in ids]


def _source_lists(sources: SourceIds, n_users: int, n_items: int) -> tuple[list[int | None], list[int], list[str]]:
    """The sidecar lists of ``sources``: Last.FM user ids (``None`` = learner), Last.FM artist ids, entity ids."""
    if len(sources.lastfm_user_ids) != n_users or len(sources.lastfm_artist_ids) != n_items:
        raise ValueError(
            f"the split's sources cover {len(sources.lastfm_user_ids)} users × {len(sources.lastfm_artist_ids)} items "
            f"but the split has {n_users} × {n_items}."
        )
    users = [None if int(x) == NO_LASTFM_ID else int(x) for x in sources.lastfm_user_ids]
    artists = [int(x) for x in sources.lastfm_artist_ids]
    entities = [str(x) for x in sources.artist_entity_ids]
    bad = next((e for e in entities if not e or any(c in e for c in "\t\r\n")), None)
    if bad is not None:
        raise ValueError(f"artist entity id {bad!r} cannot be written to a TSV cell (empty, or holds a tab/newline).")
    return users, artists, entities


def export_split(split: Split, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (TSV, layout in the module docstring) and its JSON sidecar; returns both paths.

    A split with ``sources`` gets the source-id columns (Last.FM user/artist id, artist entity id) beside
    the internal primary keys; one without keeps the v1 layout. Both files are written to temporary
    names and renamed into place, so an interrupted export never leaves a half-written split next to a
    valid sidecar (or replaces a good one with a broken one).
    """
    path = Path(path)
    sidecar = sidecar_path(path)
    if path == sidecar:
        raise ValueError(f"{path}: use a name ending in .tsv so the sidecar ({sidecar.name}) does not overwrite it.")
    user_ids = _integer_ids(split.user_ids, "user_ids")
    item_ids = _integer_ids(split.item_ids, "item_ids")
    columns = ID_COLUMNS if split.sources is None else SOURCE_COLUMNS
    # Per-index cells, so each row is two look-ups: "<user>" … "<item>" and, with sources, their source ids.
    user_cell = [str(u) for u in user_ids]
    item_cell = [str(i) for i in item_ids]
    user_tail = item_tail = None
    if split.sources is not None:
        lastfm_users, lastfm_artists, entities = _source_lists(split.sources, len(user_ids), len(item_ids))
        user_tail = ["" if u is None else str(u) for u in lastfm_users]
        item_tail = [f"{a}\t{e}" for a, e in zip(lastfm_artists, entities)]
    sections: list[tuple[str, sp.csr_matrix, bool]] = (
        [(name, m, True) for name, m in split.parts().items()]
        if isinstance(split, TopKSplit)
        else [
            ("train", split.train, True),
            ("validation", split.validation, True),
            ("validation", split.validation_negatives, False),
            ("test", split.test, True),
            ("test", split.test_negatives, False),
        ]
    )
    rows: list[str] = ["\t".join(columns)]
    counts: dict[str, int] = {"train": 0, "validation": 0, "test": 0, "negatives": 0}
    if isinstance(split, TopKSplit) and split.withheld is not None:
        counts[WITHHELD] = 0
    for name, matrix, positive in sections:
        coo = matrix.tocoo()
        order = np.lexsort((coo.col, coo.row))
        for r, c, w in zip(coo.row[order].tolist(), coo.col[order].tolist(), coo.data[order].tolist()):
            row = f"{user_cell[r]}\t{item_cell[c]}\t{_format_weight(w) if positive else '0'}\t{name}"
            rows.append(row if user_tail is None or item_tail is None else f"{row}\t{user_tail[r]}\t{item_tail[c]}")
        counts[name] += coo.nnz
        if not positive:
            counts["negatives"] += coo.nnz
    meta: dict[str, Any] = {
        "format": SIDECAR_FORMAT,
        "protocol": split.protocol,
        "seed": split.seed,
        "config": split.config,
        "tsv": path.name,
        "columns": list(columns),
        "column_meanings": {c: COLUMN_MEANINGS[c] for c in columns},
        "rows": counts,
        "user_ids": user_ids,
        "item_ids": item_ids,
        "cold_item_ids": [item_ids[i] for i in getattr(split, "cold_items", [])],
    }
    if split.sources is not None:
        meta["ids"] = (
            "user_ids, item_ids and cold_item_ids are internal catalog primary keys (Listener, Artist) of the "
            "exporting database; lastfm_user_ids, lastfm_artist_ids and artist_entity_ids are aligned with them "
            "and join to the Last.FM files and the graph. A null lastfm_user_id is a learner account (no Last.FM "
            "id; its TSV lastfm_user_id cell is empty)."
        )
        meta["lastfm_user_ids"] = lastfm_users
        meta["lastfm_artist_ids"] = lastfm_artists
        meta["artist_entity_ids"] = entities
        meta["learner_accounts"] = sum(u is None for u in lastfm_users)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, "\n".join(rows) + "\n")
    _atomic_write(sidecar, json.dumps(meta, indent=1) + "\n")
    return path, sidecar


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_sidecar(path: Path) -> dict[str, Any]:
    """The validated sidecar of ``path``; ``columns`` is always set (the v1 layout for v1 sidecars)."""
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        raise DataFileError(
            f"split sidecar is missing; export writes it next to the TSV as {sidecar.name}.", path=str(sidecar)
        )
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"not valid JSON ({exc.msg}).", path=str(sidecar), line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise DataFileError("not UTF-8 text.", path=str(sidecar)) from exc
    if not isinstance(meta, dict):
        raise DataFileError("must hold a JSON object.", path=str(sidecar))
    required = {"format", "protocol", "seed", "config", "rows", "user_ids", "item_ids", "cold_item_ids"}
    missing = sorted(required - meta.keys())
    if missing:
        raise DataFileError(f"missing keys {', '.join(missing)}.", path=str(sidecar))
    if meta["format"] not in (SIDECAR_FORMAT, SIDECAR_FORMAT_V1):
        raise DataFileError(
            f"format {meta['format']!r} is neither {SIDECAR_FORMAT!r} nor {SIDECAR_FORMAT_V1!r}.", path=str(sidecar)
        )
    if meta["protocol"] not in (*TOPK_PROTOCOLS, PROTOCOL_C):
        raise DataFileError(
            f"unknown protocol {meta['protocol']!r}; expected one of T, C, sparsity, cold_start.", path=str(sidecar)
        )
    for key in ("user_ids", "item_ids", "cold_item_ids"):
        values = meta[key]
        if not isinstance(values, list) or not all(_is_int(v) for v in values):
            raise DataFileError(f"{key} must be a list of integer catalog ids.", path=str(sidecar))
        if len(set(values)) != len(values):
            raise DataFileError(f"{key} contains duplicate ids.", path=str(sidecar))
    if not set(meta["cold_item_ids"]) <= set(meta["item_ids"]):
        raise DataFileError("cold_item_ids must be a subset of item_ids.", path=str(sidecar))
    if not isinstance(meta["rows"], dict) or not all(_is_int(meta["rows"].get(k)) for k in (*SPLIT_PARTS, "negatives")):
        raise DataFileError("rows must map train, validation, test and negatives to integer counts.", path=str(sidecar))
    if not isinstance(meta["config"], dict) or not _is_int(meta["seed"]):
        raise DataFileError("config must be an object and seed an integer.", path=str(sidecar))
    if meta["format"] == SIDECAR_FORMAT_V1:
        meta["columns"] = list(ID_COLUMNS)
    elif meta.get("columns") not in (list(ID_COLUMNS), list(SOURCE_COLUMNS)):
        raise DataFileError(
            f"columns must be {list(SOURCE_COLUMNS)} or {list(ID_COLUMNS)}, got {meta.get('columns')!r}.",
            path=str(sidecar),
        )
    if tuple(meta["columns"]) == SOURCE_COLUMNS:
        _check_sidecar_sources(meta, sidecar)
    return meta


def _check_sidecar_sources(meta: dict[str, Any], sidecar: Path) -> None:
    checks = (
        ("lastfm_user_ids", "user_ids", lambda v: v is None or _is_int(v), "an integer Last.FM user id or null"),
        ("lastfm_artist_ids", "item_ids", _is_int, "an integer Last.FM artist id"),
        ("artist_entity_ids", "item_ids", lambda v: isinstance(v, str) and v != "", "a non-empty entity id string"),
    )
    for key, aligned, ok, what in checks:
        values = meta.get(key)
        if not isinstance(values, list) or len(values) != len(meta[aligned]):
            raise DataFileError(
                f"{key} must be a list aligned with {aligned} ({len(meta[aligned])} entries).", path=str(sidecar)
            )
        if not all(ok(v) for v in values):
            raise DataFileError(f"every entry of {key} must be {what}.", path=str(sidecar))
        present = [v for v in values if v is not None]
        if len(set(present)) != len(present):
            raise DataFileError(f"{key} contains duplicate ids.", path=str(sidecar))


@dataclass(frozen=True)
class _Exported:
    """The users and items of a sidecar, looked up the way its rows name them."""

    with_sources: bool
    user_pks: list[int]
    item_pks: list[int]
    pk_user: dict[int, int]
    pk_item: dict[int, int]
    lastfm_users: list[int | None]
    lastfm_artists: list[int]
    entities: list[str]
    lastfm_user: dict[int, int]
    learner: dict[int, int]
    lastfm_artist: dict[int, int]

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> _Exported:
        with_sources = tuple(meta["columns"]) == SOURCE_COLUMNS
        users = meta["lastfm_user_ids"] if with_sources else []
        artists = meta["lastfm_artist_ids"] if with_sources else []
        return cls(
            with_sources=with_sources,
            user_pks=meta["user_ids"],
            item_pks=meta["item_ids"],
            pk_user={u: k for k, u in enumerate(meta["user_ids"])},
            pk_item={i: k for k, i in enumerate(meta["item_ids"])},
            lastfm_users=users,
            lastfm_artists=artists,
            entities=meta["artist_entity_ids"] if with_sources else [],
            lastfm_user={u: k for k, u in enumerate(users) if u is not None},
            learner={meta["user_ids"][k]: k for k, u in enumerate(users) if u is None},
            lastfm_artist={a: k for k, a in enumerate(artists)},
        )

    def user_label(self, k: int, *, pk: bool = False) -> str:
        """``user 1000`` (no source ids), ``Last.FM user 2`` (``pk``: ``… (listener_pk 1)``), ``learner listener_pk 7``."""
        if not self.with_sources:
            return f"user {self.user_pks[k]}"
        lastfm = self.lastfm_users[k]
        if lastfm is None:
            return f"learner listener_pk {self.user_pks[k]}"
        return f"Last.FM user {lastfm}" + (f" (listener_pk {self.user_pks[k]} in the export)" if pk else "")

    def item_label(self, k: int, *, pk: bool = False) -> str:
        if not self.with_sources:
            return f"item {self.item_pks[k]}"
        return f"Last.FM artist {self.lastfm_artists[k]}" + (
            f" (artist_pk {self.item_pks[k]} in the export)" if pk else ""
        )

    def sources(self) -> SourceIds | None:
        if not self.with_sources:
            return None
        return SourceIds(
            lastfm_user_ids=np.asarray([NO_LASTFM_ID if u is None else u for u in self.lastfm_users], dtype=np.int64),
            lastfm_artist_ids=np.asarray(self.lastfm_artists, dtype=np.int64),
            artist_entity_ids=np.asarray(self.entities, dtype=object),
        )


def _target_indices(exported: _Exported, dataset: InteractionDataset | None) -> tuple[np.ndarray, np.ndarray]:
    """Index in ``dataset`` (or the sidecar when None) of every sidecar user and item; -1 = not in the dataset.

    Source-id exports are matched by Last.FM id (learner accounts, which have none, by primary key); an item
    whose graph entity id differs in the dataset gets -2. Exports without source ids are matched by id.
    """
    n_users, n_items = len(exported.user_pks), len(exported.item_pks)
    if dataset is None:
        return np.arange(n_users, dtype=np.int64), np.arange(n_items, dtype=np.int64)
    if not exported.with_sources:
        user_at = {int(u): k for k, u in enumerate(dataset.user_ids)}
        item_at = {int(i): k for k, i in enumerate(dataset.item_ids)}
        users = [user_at.get(u, -1) for u in exported.user_pks]
        items = [item_at.get(i, -1) for i in exported.item_pks]
        return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    if dataset.sources is None:
        raise ValueError(
            "this export carries source ids but the dataset does not, so its rows cannot be matched by Last.FM id; "
            "build the dataset with InteractionDataset.from_catalog()."
        )
    lastfm_at = {int(u): k for k, u in enumerate(dataset.sources.lastfm_user_ids) if int(u) != NO_LASTFM_ID}
    learner_at = {
        int(pk): k
        for k, (pk, u) in enumerate(zip(dataset.user_ids, dataset.sources.lastfm_user_ids))
        if int(u) == NO_LASTFM_ID
    }
    artist_at = {int(a): k for k, a in enumerate(dataset.sources.lastfm_artist_ids)}
    users = [
        learner_at.get(pk, -1) if lastfm is None else lastfm_at.get(lastfm, -1)
        for pk, lastfm in zip(exported.user_pks, exported.lastfm_users)
    ]
    items = []
    for artist, entity in zip(exported.lastfm_artists, exported.entities):
        k = artist_at.get(artist, -1)
        items.append(k if k < 0 or str(dataset.sources.artist_entity_ids[k]) == entity else -2)
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)


def _parse_int(raw: str) -> int:
    """``int(raw)`` for plain decimal integers only (no spaces, signs, underscores)."""
    if not raw.isascii() or not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


class _RowError(Exception):
    """A bad row; :func:`import_split` adds the file and line."""


def _row_ids_without_sources(fields: list[str], exported: _Exported) -> tuple[int, int]:
    user_raw, item_raw = fields[0], fields[1]
    try:
        user, item = int(user_raw), int(item_raw)
    except ValueError:
        raise _RowError(f"user_id and item_id must be integers, got {user_raw!r} and {item_raw!r}.") from None
    if user not in exported.pk_user:
        raise _RowError(f"user_id {user} is not listed in the sidecar's user_ids.")
    if item not in exported.pk_item:
        raise _RowError(f"item_id {item} is not listed in the sidecar's item_ids.")
    return exported.pk_user[user], exported.pk_item[item]


def _row_ids_with_sources(fields: list[str], exported: _Exported) -> tuple[int, int]:
    """Sidecar indices of a source-id row, found by Last.FM id; its primary keys and entity id must agree."""
    listener_raw, artist_raw, _, _, lastfm_user_raw, lastfm_artist_raw, entity = fields
    try:
        listener_pk, artist_pk = _parse_int(listener_raw), _parse_int(artist_raw)
    except ValueError:
        raise _RowError(
            f"listener_pk and artist_pk must be integers, got {listener_raw!r} and {artist_raw!r}."
        ) from None
    try:
        lastfm_user = None if lastfm_user_raw == "" else _parse_int(lastfm_user_raw)
    except ValueError:
        raise _RowError(
            f"lastfm_user_id must be an integer, or empty for a learner account, got {lastfm_user_raw!r}."
        ) from None
    try:
        lastfm_artist = _parse_int(lastfm_artist_raw)
    except ValueError:
        raise _RowError(f"lastfm_artist_id must be an integer, got {lastfm_artist_raw!r}.") from None
    if not entity:
        raise _RowError("artist_entity_id is empty.")

    if lastfm_user is None:
        u = exported.learner.get(listener_pk)
        if u is None:
            k = exported.pk_user.get(listener_pk)
            if k is not None:
                raise _RowError(
                    f"lastfm_user_id is empty (a learner account) but the sidecar lists listener_pk {listener_pk} "
                    f"as Last.FM user {exported.lastfm_users[k]}."
                )
            raise _RowError(f"learner listener_pk {listener_pk} is not listed in the sidecar's user_ids.")
    else:
        u = exported.lastfm_user.get(lastfm_user)
        if u is None:
            raise _RowError(f"Last.FM user {lastfm_user} is not listed in the sidecar's lastfm_user_ids.")
        if exported.user_pks[u] != listener_pk:
            raise _RowError(
                f"listener_pk {listener_pk} does not match Last.FM user {lastfm_user}, which the sidecar lists as "
                f"listener_pk {exported.user_pks[u]}."
            )
    i = exported.lastfm_artist.get(lastfm_artist)
    if i is None:
        raise _RowError(f"Last.FM artist {lastfm_artist} is not listed in the sidecar's lastfm_artist_ids.")
    if exported.item_pks[i] != artist_pk:
        raise _RowError(
            f"artist_pk {artist_pk} does not match Last.FM artist {lastfm_artist}, which the sidecar lists as "
            f"artist_pk {exported.item_pks[i]}."
        )
    if exported.entities[i] != entity:
        raise _RowError(
            f"artist_entity_id {entity!r} does not match Last.FM artist {lastfm_artist}, which the sidecar lists "
            f"as {exported.entities[i]!r}."
        )
    return u, i


def import_split(path: str | Path, *, dataset: InteractionDataset | None = None) -> Split:
    """Read a split written by :func:`export_split` (or by hand in the same format), validating every line.

    Rows of an export with source ids are matched by their Last.FM user and artist ids (a learner account,
    with an empty ``lastfm_user_id``, by ``listener_pk``); their primary keys and entity id must agree with
    the sidecar. Without ``dataset`` the split has the sidecar's users and items (and ``sources``); with
    it, the rows are mapped into ``dataset``'s index space by those source ids (v1 exports, which have
    none, by id), so an export loads into a database that was loaded in another order, and every row must
    name a user and item of ``dataset``.

    Raises :class:`~core.errors.DataFileError` naming the file and line for: a wrong header, a wrong
    number of columns, non-integer ids, ids not in the sidecar (or not in ``dataset``), primary keys or
    entity ids that disagree with the sidecar, a non-numeric, negative or non-finite weight, an unknown
    split name, a repeated pair, a pair in two parts, a negative (weight 0) outside Protocol C
    validation/test, a cold item in training, and row counts that differ from the sidecar (a truncated file).
    """
    path = Path(path)
    meta = _read_sidecar(path)
    protocol = meta["protocol"]
    is_ctr = protocol == PROTOCOL_C
    exported = _Exported.from_meta(meta)
    columns = tuple(meta["columns"])
    header = "\t".join(columns)
    row_ids = _row_ids_with_sources if exported.with_sources else _row_ids_without_sources
    user_target, item_target = _target_indices(exported, dataset)
    cold_exported = [exported.pk_item[i] for i in meta["cold_item_ids"]]
    missing_cold = [k for k in cold_exported if item_target[k] < 0]
    if missing_cold:
        raise DataFileError(
            f"cold item {exported.item_label(missing_cold[0], pk=True)} is not in the dataset"
            f"{' with the same artist_entity_id' if item_target[missing_cold[0]] == -2 else ''}.",
            path=str(sidecar_path(path)),
        )
    cold = {int(item_target[k]) for k in cold_exported}
    if not path.exists():
        raise DataFileError("split file not found.", path=str(path))

    entries: dict[str, dict[str, list]] = {
        name: {"u": [], "i": [], "w": []} for name in (*SPLIT_PARTS, WITHHELD, "validation_neg", "test_neg")
    }
    seen: dict[tuple[int, int], tuple[int, str, bool]] = {}
    allowed = (*SPLIT_PARTS, WITHHELD) if protocol == PROTOCOL_SPARSITY else SPLIT_PARTS
    line_no = 0
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for line_no, raw in enumerate(handle, start=1):
                line = raw.rstrip("\n").rstrip("\r")
                if line_no == 1:
                    if line != header:
                        raise DataFileError(
                            f"header must be {header!r} (tab-separated), got {line!r}.", path=str(path), line=1
                        )
                    continue
                try:
                    u, i, weight, part = _parse_row(
                        line, columns=columns, row_ids=row_ids, exported=exported, allowed=allowed
                    )
                    user, item = exported.user_label(u), exported.item_label(i)
                    if user_target[u] < 0:
                        raise _RowError(f"{exported.user_label(u, pk=True)} is not in the dataset.")
                    if item_target[i] < 0:
                        raise _RowError(
                            f"{exported.item_label(i, pk=True)} is not in the dataset"
                            f"{' with the same artist_entity_id' if item_target[i] == -2 else ''}."
                        )
                    u, i = int(user_target[u]), int(item_target[i])
                    positive = weight > 0
                    if not positive and not (is_ctr and part != "train"):
                        raise _RowError(
                            "weight 0 (a sampled negative) is only allowed in Protocol C validation/test rows; "
                            "positives need a play count > 0."
                        )
                    if (u, i) in seen:
                        first_line, first_part, _ = seen[(u, i)]
                        what = "repeats" if first_part == part else f"is already in {first_part} at"
                        raise _RowError(
                            f"pair ({user}, {item}) {what} line {first_line}; every pair belongs to exactly one part."
                        )
                    if part == "train" and i in cold:
                        raise _RowError(f"{item} is a held-out cold item and must not appear in train.")
                except _RowError as exc:
                    raise DataFileError(str(exc), path=str(path), line=line_no) from None
                seen[(u, i)] = (line_no, part, positive)
                bucket = entries[part if positive else f"{part}_neg"]
                bucket["u"].append(u)
                bucket["i"].append(i)
                bucket["w"].append(weight)
    except UnicodeDecodeError as exc:
        raise DataFileError("not UTF-8 text.", path=str(path), line=line_no + 1) from exc
    if line_no == 0:
        raise DataFileError(f"file is empty; the first line must be the header {header!r}.", path=str(path), line=1)

    counts = {
        name: len(entries[name]["u"]) + len(entries.get(f"{name}_neg", {"u": []})["u"])
        for name in (*SPLIT_PARTS, WITHHELD)
    }
    counts["negatives"] = len(entries["validation_neg"]["u"]) + len(entries["test_neg"]["u"])
    for key in counts:
        expected = meta["rows"].get(key, 0)
        if counts[key] != expected:
            raise DataFileError(
                f"{counts[key]} {key} rows but the sidecar says {expected}; the file looks truncated or edited.",
                path=str(path),
                line=line_no,
            )

    if dataset is None:
        user_ids = np.asarray(exported.user_pks, dtype=np.int64)
        item_ids = np.asarray(exported.item_pks, dtype=np.int64)
        sources = exported.sources()
    else:
        user_ids, item_ids, sources = dataset.user_ids.copy(), dataset.item_ids.copy(), dataset.sources
    shape = (len(user_ids), len(item_ids))

    def matrix(name: str) -> sp.csr_matrix:
        b = entries[name]
        m = sp.csr_matrix(
            (
                np.asarray(b["w"], dtype=np.float32),
                (np.asarray(b["u"], dtype=np.int64), np.asarray(b["i"], dtype=np.int64)),
            ),
            shape=shape,
            dtype=np.float32,
        )
        m.sort_indices()
        return m

    common = dict(
        protocol=protocol,
        seed=meta["seed"],
        config=meta["config"],
        user_ids=user_ids,
        item_ids=item_ids,
        train=matrix("train"),
        validation=matrix("validation"),
        test=matrix("test"),
        sources=sources,
    )
    if is_ctr:
        validation_negatives, test_negatives = _binary(matrix("validation_neg")), _binary(matrix("test_neg"))
        return CTRSplit(**common, validation_negatives=validation_negatives, test_negatives=test_negatives)
    withheld = matrix(WITHHELD) if WITHHELD in meta["rows"] else None
    return TopKSplit(**common, cold_items=np.asarray(sorted(cold), dtype=np.int64), withheld=withheld)


def _parse_row(
    line: str,
    *,
    columns: tuple[str, ...],
    row_ids: Callable[[list[str], _Exported], tuple[int, int]],
    exported: _Exported,
    allowed: tuple[str, ...],
) -> tuple[int, int, float, str]:
    """``(sidecar user index, sidecar item index, weight, split)`` of one data line, or :class:`_RowError`."""
    if not line.strip():
        raise _RowError("empty line; remove it.")
    fields = line.split("\t")
    if len(fields) != len(columns):
        raise _RowError(f"expected {len(columns)} tab-separated columns ({', '.join(columns)}), got {len(fields)}.")
    u, i = row_ids(fields, exported)
    weight_raw, part = fields[2], fields[3]
    try:
        weight = float(weight_raw)
    except ValueError:
        raise _RowError(f"weight must be a number, got {weight_raw!r}.") from None
    if not math.isfinite(weight) or weight < 0:
        raise _RowError(f"weight must be a finite play count ≥ 0, got {weight_raw!r}.")
    if part not in allowed:
        raise _RowError(f"split must be one of {', '.join(allowed)}, got {part!r}.")
    return u, i, weight, part
