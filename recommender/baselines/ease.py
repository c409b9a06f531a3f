"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): closed-form item-item weights.

B = argmin ||X − XB||² + λ||B||² subject to diag(B) = 0 has the solution P = (XᵀX + λI)⁻¹,
B = −P / diag(P) (column-wise), diag(B) = 0. One dense inverse of the item Gram matrix: 3,846² in
float64 is 118 MB and a few seconds on 2 cores, so no approximation is needed at this size.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.base import BaselineRecommender


class EASE(BaselineRecommender):
    name = "baseline.ease.v1"
    alias = "ease"
    hpo_default = {"l2": dict(type=float, low=1.0, high=5000.0, scale="log")}

    def __init__(self, *, l2: float = 200.0) -> None:
        self.l2 = check.positive_float(self.name, "l2", l2)

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        # seed unused: the solution is exact.
        gram = (train.T @ train).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        weights = precision / (-np.diag(precision))[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights = weights.astype(np.float32)
        self.train = train

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.train[users] @ self.weights
