"""User-based collaborative filtering: items liked by the k most similar users (cosine on binary rows).

Memory: neighbours are found block by block (see :mod:`.similarity`), so the dense n_users² matrix
is never held at once; only the k best neighbours per user are stored (n_users × k). For Last.fm
(1,872 users) the dense matrix would be 28 MB and fine too, but the blocked form costs nothing extra
and keeps the model usable on larger user bases.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.base import BaselineRecommender
from recommender.baselines.similarity import top_k_cosine_neighbours


class UserKNN(BaselineRecommender):
    """score(u, i) = Σ_{v ∈ N_k(u), v interacted with i} cos(u, v)."""

    name = "baseline.user_knn.v1"
    alias = "user_knn"
    hpo_default = {
        "k": dict(type=int, low=10, high=200, q=10),
        "shrink": dict(type=float, low=0.0, high=50.0),
    }

    def __init__(self, *, k: int = 50, shrink: float = 0.0) -> None:
        self.k = check.positive_int(self.name, "k", k)
        self.shrink = check.positive_float(self.name, "shrink", shrink, allow_zero=True)

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        self.neighbours = top_k_cosine_neighbours(train, k=self.k, shrink=self.shrink)
        self.train = train

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self.neighbours[users] @ self.train).toarray()
