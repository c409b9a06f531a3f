"""Item-based collaborative filtering (Deshpande & Karypis 2004): sum of similarities to the user's items.

Each training item keeps only its k most cosine-similar items (columns compared as binary vectors over
users); a user's score for item i adds the similarity of every item in their history that has i among
its neighbours. Optional shrinkage damps similarities supported by few common users.
"""

from __future__ import annotations

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
