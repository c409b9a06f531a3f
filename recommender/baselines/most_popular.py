"""Most-popular baseline: every user gets the items ranked by how many users interacted with them in train.

Why keep it: it is the floor any personalised model must beat, and on long-tailed data such as Last.fm
it is surprisingly hard to beat on accuracy (and easy to beat on coverage/novelty).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recommender.base import TrainingContext
from recommender.baselines.base import BaselineRecommender


class MostPopular(BaselineRecommender):
    name = "baseline.most_popular.v1"
    alias = "most_popular"
    hpo_default = {}

    def __init__(self) -> None:
        self.item_popularity: np.ndarray | None = None

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        # seed unused: counting is deterministic.
        self.item_popularity = np.asarray(train.sum(axis=0), dtype=np.float32).ravel()

    def _score(self, users: np.ndarray) -> np.ndarray:
        assert self.item_popularity is not None  # set by _fit; score() refuses a model that was not fitted
        return np.broadcast_to(self.item_popularity, (len(users), self.n_items))

    def score_picks(self, items: Sequence[int], tags: Sequence[int]) -> np.ndarray:
        """A new learner's scores from onboarding picks: the same popularity list whatever they picked."""
        assert self.item_popularity is not None  # set by _fit
        return self.item_popularity.astype(np.float64)
