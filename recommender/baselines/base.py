"""Common behaviour of every baseline: input checks, the fit/score life cycle, declared hyper-parameters.

Why a base class on top of the :class:`recommender.base.Recommender` protocol: the protocol says what
the evaluator calls; this class makes sure every baseline rejects the same bad inputs with the same
clear messages (non-binary matrix, wrong shapes, unknown users, scoring before fitting) and always
returns contiguous float32, so each model module only contains its own maths.

Hyper-parameters follow PyKEEN's convention: they are the keyword-only arguments of ``__init__`` (their
defaults are the model's defaults) and ``hpo_default`` is a small search space over some of them, in
PyKEEN's format (``dict(type=int, low=.., high=.., q=..)``, ``dict(type=float, low=.., high=.., scale="log")``,
``dict(type="categorical", choices=[..])``, ``dict(type=bool)``).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError
from recommender.base import ItemSideInfo, TrainingContext


class BaselineRecommender(ABC):
    """Base class of the registered baselines; subclasses implement ``_fit`` and ``_score``."""

    #: Versioned registry name (``baseline.ease.v1``); also what reports print.
    name: ClassVar[str]
    #: Short name people type (``ease``).
    alias: ClassVar[str]
    #: PyKEEN-style default search space; every key is an ``__init__`` parameter.
    hpo_default: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Content and graph models cannot work without ``context.side_info``.
    requires_side_info: ClassVar[bool] = False

    n_users: int
    n_items: int

    # --- declared hyper-parameters ----------------------------------------------------------------

    @classmethod
    def parameter_names(cls) -> list[str]:
        return list(cls.default_params())

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """The ``__init__`` keyword arguments and their defaults (the model's default configuration)."""
        signature = inspect.signature(cls.__init__)
        return {
            p.name: p.default
            for p in signature.parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }

    def get_params(self) -> dict[str, Any]:
        """Current hyper-parameter values (each ``__init__`` argument is stored under its own name)."""
        return {key: getattr(self, key) for key in self.parameter_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # --- life cycle ---------------------------------------------------------------------------------

    def fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext | None = None) -> Self:
        """Check the inputs, then learn from ``train`` (binary users × items). Returns ``self``."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ConfigurationError(f"{self.name}: seed must be an integer between 0 and 2**32 - 1, got {seed!r}.")
        context = context if context is not None else TrainingContext()
        if not isinstance(context, TrainingContext):
            raise ConfigurationError(f"{self.name}: context must be a TrainingContext, got {type(context).__name__}.")
        train = check_interaction_matrix(train, what="train", model=self.name)
        if train.nnz == 0:
            raise ConfigurationError(
                f"{self.name}: the train matrix has no interactions; there is nothing to learn from."
            )
        n_users, n_items = train.shape
        if context.validation is not None:
            validation = check_interaction_matrix(context.validation, what="context.validation", model=self.name)
            if validation.shape != train.shape:
                raise ConfigurationError(
                    f"{self.name}: context.validation has shape {validation.shape} but train has {train.shape}; "
                    "both must use the same user and item index."
                )
        if context.side_info is not None:
            check_side_info(context.side_info, n_items=n_items, model=self.name)
        elif self.requires_side_info:
            raise ConfigurationError(
                f"{self.name} needs item side information (tags and knowledge-graph triples); "
                "pass context=TrainingContext(side_info=...)."
            )
        self.n_users, self.n_items = n_users, n_items
        self._fitted = False
        self._fit(train, seed=int(seed), context=context)
        self._fitted = True
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user in ``users``: float32 (len(users) × n_items), higher is better."""
        if not getattr(self, "_fitted", False):
            raise ConfigurationError(f"{self.name}: call fit() before score().")
        users = self._check_users(users)
        if len(users) == 0:
            return np.zeros((0, self.n_items), dtype=np.float32)
        scores = np.ascontiguousarray(self._score(users), dtype=np.float32)
        assert scores.shape == (len(users), self.n_items), (scores.shape, len(users), self.n_items)
        return scores

    @abstractmethod
    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        """Learn from a checked binary float32 CSR matrix."""

    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """Scores for checked, non-empty int64 user indices."""

    def _check_users(self, users: Any) -> np.ndarray:
        array = np.asarray(users)
        if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
            raise ConfigurationError(
                f"{self.name}: users must be a 1-D array of integer user indices, got shape {array.shape} and dtype {array.dtype}."
            )
        array = array.astype(np.int64, copy=False)
        bad = array[(array < 0) | (array >= self.n_users)]
        if bad.size:
            raise ConfigurationError(
                f"{self.name}: user index {int(bad[0])} is out of range; the model was fitted on {self.n_users} users (0..{self.n_users - 1})."
            )
        return array


def check_interaction_matrix(matrix: Any, *, what: str, model: str) -> sp.csr_matrix:
    """A binary float32 CSR copy of ``matrix``, or a clear error saying what is wrong with it."""
    if not sp.issparse(matrix):
        raise ConfigurationError(
            f"{model}: {what} must be a scipy sparse users × items matrix (CSR), got {type(matrix).__name__}."
        )
    if matrix.ndim != 2:
        raise ConfigurationError(f"{model}: {what} must be 2-D (users × items), got {matrix.ndim}-D.")
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    if csr.nnz and not np.all(csr.data == 1.0):
        odd = float(csr.data[csr.data != 1.0][0])
        raise ConfigurationError(
            f"{model}: {what} must be binary (1 = interaction), but it holds the value {odd!r}; "
            "binarise it first, e.g. (matrix > 0).astype(np.float32)."
        )
    csr.sort_indices()
    return csr


def check_side_info(side_info: ItemSideInfo, *, n_items: int, model: str) -> None:
    """Check that the side information is aligned with the item index before any model relies on it."""
    if not isinstance(side_info, ItemSideInfo):
        raise ConfigurationError(f"{model}: context.side_info must be an ItemSideInfo, got {type(side_info).__name__}.")
    tags = side_info.item_tags
    if not sp.issparse(tags) or tags.ndim != 2 or tags.shape[0] != n_items:
        shape = getattr(tags, "shape", None)
        raise ConfigurationError(
            f"{model}: side_info.item_tags must be a sparse (n_items={n_items} × n_tags) matrix, got shape {shape}."
        )
    if tags.shape[1] != len(side_info.tag_names):
        raise ConfigurationError(
            f"{model}: side_info.item_tags has {tags.shape[1]} columns but tag_names lists {len(side_info.tag_names)} tags."
        )
    if tags.nnz and (np.asarray(tags.data) < 0).any():
        raise ConfigurationError(f"{model}: side_info.item_tags holds negative weights; tag weights are counts (>= 0).")
    n_entities, n_relations = len(side_info.entity_ids), len(side_info.relation_types)
    item_entity = np.asarray(side_info.item_entity)
    if item_entity.shape != (n_items,) or not np.issubdtype(item_entity.dtype, np.integer):
        raise ConfigurationError(
            f"{model}: side_info.item_entity must be an integer array with one entity index per item ({n_items}), "
            f"got shape {item_entity.shape} and dtype {item_entity.dtype}."
        )
    if n_items and (item_entity.min() < 0 or item_entity.max() >= n_entities):
        raise ConfigurationError(f"{model}: side_info.item_entity points outside entity_ids (0..{n_entities - 1}).")
    if len(np.unique(item_entity)) != n_items:
        raise ConfigurationError(
            f"{model}: side_info.item_entity maps two items to the same entity; each item needs its own entity."
        )
    triples = np.asarray(side_info.kg_triples)
    if triples.size == 0:
        return
    if triples.ndim != 2 or triples.shape[1] != 3 or not np.issubdtype(triples.dtype, np.integer):
        raise ConfigurationError(
            f"{model}: side_info.kg_triples must be an integer (m × 3) array of (head, relation, tail), got shape {triples.shape} and dtype {triples.dtype}."
        )
    entities = triples[:, [0, 2]]
    if entities.min() < 0 or entities.max() >= n_entities:
        raise ConfigurationError(
            f"{model}: side_info.kg_triples names an entity index outside entity_ids (0..{n_entities - 1})."
        )
    if triples[:, 1].min() < 0 or triples[:, 1].max() >= n_relations:
        raise ConfigurationError(
            f"{model}: side_info.kg_triples names a relation index outside relation_types (0..{n_relations - 1})."
        )
