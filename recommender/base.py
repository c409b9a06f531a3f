"""Contracts shared by evaluation, baselines and the product model.

Why index spaces instead of database ids: evaluation and training work on dense matrices, so users
and items are re-indexed ``0..n-1`` once (:class:`InteractionDataset`) and every model speaks that
index space. Mapping back to catalog rows happens at the edges (serving, reports).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class ItemSideInfo:
    """Content and graph information about items, aligned with the dataset's item index.

    ``item_tags``: (n_items × n_tags) CSR of tag weights (how many users applied the tag).
    ``kg_triples``: (m × 3) int array of (head, relation, tail) over ``entity_ids``/``relation_types``;
    item ``i`` is entity ``item_entity[i]`` in that array. Content/graph baselines and the product
    model read this; pure collaborative models ignore it.
    """

    item_tags: sp.csr_matrix
    tag_names: list[str]
    kg_triples: np.ndarray
    entity_ids: list[str]
    relation_types: list[str]
    item_entity: np.ndarray


@dataclass(frozen=True)
class TrainingContext:
    """Everything a model may use besides the training matrix. Never holds test data."""

    side_info: ItemSideInfo | None = None
    #: Validation matrix (same shape as train) for early stopping/tuning only.
    validation: sp.csr_matrix | None = None
    #: Items whose interactions were removed from training entirely (cold-start protocol).
    cold_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@runtime_checkable
class Recommender(Protocol):
    """A model that scores every item for a batch of users.

    ``fit`` receives a binary (n_users × n_items) CSR training matrix; ``score`` returns a dense
    float32 array (len(users) × n_items), higher is better. Excluding training items from the ranking
    is the evaluator's job, not the model's.
    """

    @property
    def name(self) -> str: ...  # read-only: models set it as a class attribute

    def fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext | None = None) -> Recommender: ...

    def score(self, users: np.ndarray) -> np.ndarray: ...
