"""WMF / implicit ALS (Hu, Koren & Volinsky 2008) through the ``implicit`` library (CPU).

Confidence weighting: observed pairs get c = 1 + alpha·x, unobserved pairs c = 1 with preference 0.
``implicit`` reads the matrix values *as* the confidence (its solver adds (c − 1)·yyᵀ per observed
item), and its own ``alpha`` merely multiplies them, so we pass ``1 + alpha·x`` and leave its
``alpha`` at 1 to get exactly the paper's weighting.

Determinism: factors are initialised from ``random_state=seed``; every user's (and item's) least
squares problem is solved independently, so results do not depend on the thread count. OpenBLAS is
limited to one thread during fitting because ``implicit`` parallelises itself (and warns otherwise).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from threadpoolctl import threadpool_limits

from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.base import BaselineRecommender


class WMF(BaselineRecommender):
    name = "baseline.wmf.v1"
    alias = "wmf"
    hpo_default = {
        "factors": dict(type=int, low=16, high=256, q=16),
        "regularization": dict(type=float, low=1e-3, high=10.0, scale="log"),
        "alpha": dict(type=float, low=1.0, high=100.0, scale="log"),
        "iterations": dict(type=int, low=5, high=30, q=5),
    }

    def __init__(
        self, *, factors: int = 64, regularization: float = 0.1, alpha: float = 20.0, iterations: int = 15
    ) -> None:
        self.factors = check.positive_int(self.name, "factors", factors)
        self.regularization = check.positive_float(self.name, "regularization", regularization, allow_zero=True)
        self.alpha = check.positive_float(self.name, "alpha", alpha, allow_zero=True)
        self.iterations = check.positive_int(self.name, "iterations", iterations)

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        confidence = train.copy()
        confidence.data = 1.0 + self.alpha * confidence.data
        with threadpool_limits(limits=1, user_api="blas"):
            als = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                # one knob for every baseline: the torch thread setting (2 on this machine)
                num_threads=torch.get_num_threads(),
                random_state=seed,
            )
            als.fit(confidence, show_progress=False)
        self.user_factors = np.asarray(als.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(als.item_factors, dtype=np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T
