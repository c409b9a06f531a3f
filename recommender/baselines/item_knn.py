"""Item-based collaborative filtering (Deshpande & Karypis 2004): sum of similarities to the user's items.

Each training item keeps only its k most cosine-similar items (columns compared as binary vectors over
users); a user's score for item i adds the similarity of every item in their history that has i among
its neighbours. Optional shrinkage damps similarities supported by few common users.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.base import BaselineRecommender
from recommender.baselines.similarity import top_k_cosine_neighbours


class ItemKNN(BaselineRecommender):
    """score(u, ·) = x_u · W, where row j of W holds item j's k nearest items."""

    name = "baseline.item_knn.v1"
    alias = "item_knn"
    hpo_default = {
        "k": dict(type=int, low=10, high=400, q=10),
        "shrink": dict(type=float, low=0.0, high=100.0),
    }

    def __init__(self, *, k: int = 100, shrink: float = 10.0) -> None:
        self.k = check.positive_int(self.name, "k", k)
        self.shrink = check.positive_float(self.name, "shrink", shrink, allow_zero=True)

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        self.neighbours = top_k_cosine_neighbours(train.T.tocsr(), k=self.k, shrink=self.shrink)
        self.train = train

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self.train[users] @ self.neighbours).toarray()

    def score_picks(self, items: Sequence[int], tags: Sequence[int]) -> np.ndarray:
        """A new learner's scores from onboarding picks: the summed neighbour rows of the picked artists.

        Tags mean nothing to item-KNN. Items no pick reaches tie at 0 and are ordered by training
        popularity (a tiny tie-break), so a learner with no artist picks gets the popular list rather
        than the lowest item indices.
        """
        popularity = np.asarray(self.train.sum(axis=0), dtype=np.float64).ravel()
        tie_break = 1e-9 * popularity / (popularity.max() or 1.0)
        if not len(items):
            return tie_break
        return np.asarray(self.neighbours[list(items)].sum(axis=0), dtype=np.float64).ravel() + tie_break
