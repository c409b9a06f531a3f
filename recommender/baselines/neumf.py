"""NeuMF (He et al. 2017, "Neural Collaborative Filtering"): a GMF tower and an MLP tower fused by one output layer.

GMF: element-wise product of user/item embeddings (size ``predictive_factors``). MLP: concatenated
user/item embeddings through a halving tower of ``mlp_layers`` layers whose last layer has
``predictive_factors`` units (the paper's "tower pattern": e.g. 64 → 32 → 16). Both towers are
concatenated and mapped to one logit; training is binary cross-entropy on each training pair plus
``n_negatives`` sampled non-interacted items (the paper uses 4). Trained jointly from scratch
(the paper's optional GMF/MLP pre-training is left out; it reports modest gains).

Scoring all items is batched: the output layer splits into a GMF part (a matrix product) and an MLP
part whose first layer splits into user and item halves (see :func:`.torch_utils.pairwise_mlp_scores`).
"""

from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import nn

from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.torch_utils import PointwiseTorchRecommender, mlp, pairwise_mlp_scores


class _NeuMFNetwork(nn.Module):
    def __init__(self, n_users: int, n_items: int, predictive_factors: int, mlp_layers: int) -> None:
        super().__init__()
        tower = [predictive_factors * 2 ** (mlp_layers - 1 - layer) for layer in range(mlp_layers)]
        mlp_embedding = tower[0] // 2 if mlp_layers > 1 else predictive_factors
        self.gmf_user = nn.Embedding(n_users, predictive_factors)
        self.gmf_item = nn.Embedding(n_items, predictive_factors)
        self.mlp_user = nn.Embedding(n_users, mlp_embedding)
        self.mlp_item = nn.Embedding(n_items, mlp_embedding)
        for embedding in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(embedding.weight, std=0.01)
        # first tower layer kept separate so it can be split into user and item halves when scoring
        self.first_layer = nn.Linear(2 * mlp_embedding, tower[0])
        self.tower_rest = mlp(tower) if mlp_layers > 1 else nn.Identity()
        self.output = nn.Linear(2 * predictive_factors, 1)
        self.predictive_factors = predictive_factors
        self.mlp_embedding = mlp_embedding

    def _tower_head(self, hidden: torch.Tensor) -> torch.Tensor:
        """From the first layer's activations to the MLP tower's share of the output logit."""
        mlp_out = self.tower_rest(hidden)
        if not isinstance(self.tower_rest, nn.Identity):
            mlp_out = torch.relu(mlp_out)
        return mlp_out @ self.output.weight[0, self.predictive_factors :].unsqueeze(-1)

    def pair_logits(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        gmf = self.gmf_user(users) * self.gmf_item(items)
        hidden = torch.relu(self.first_layer(torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=-1)))
        mlp_part = self._tower_head(hidden).squeeze(-1)
        return gmf @ self.output.weight[0, : self.predictive_factors] + mlp_part + self.output.bias

    def all_item_logits(self, users: torch.Tensor) -> torch.Tensor:
        gmf_weight = self.output.weight[0, : self.predictive_factors]
        gmf = (self.gmf_user(users) * gmf_weight) @ self.gmf_item.weight.T
        w_user = self.first_layer.weight[:, : self.mlp_embedding]
        w_item = self.first_layer.weight[:, self.mlp_embedding :]
        user_hidden = self.mlp_user(users) @ w_user.T + self.first_layer.bias
        item_hidden = self.mlp_item.weight @ w_item.T
        return gmf + pairwise_mlp_scores(user_hidden, item_hidden, self._tower_head) + self.output.bias


class NeuMF(PointwiseTorchRecommender):
    name = "baseline.neumf.v1"
    alias = "neumf"
    hpo_default = {
        "predictive_factors": dict(type=int, low=8, high=64, q=8),
        "mlp_layers": dict(type=int, low=1, high=4),
        "n_negatives": dict(type=int, low=1, high=8),
        "learning_rate": dict(type=float, low=1e-4, high=1e-2, scale="log"),
    }

    def __init__(
        self,
        *,
        predictive_factors: int = 16,
        mlp_layers: int = 3,
        n_negatives: int = 4,
        weight_decay: float = 0.0,
        learning_rate: float = 3e-3,
        epochs: int = 30,
        batch_size: int = 256,
        patience: int = 5,
    ) -> None:
        self.predictive_factors = check.positive_int(self.name, "predictive_factors", predictive_factors)
        self.mlp_layers = check.positive_int(self.name, "mlp_layers", mlp_layers)
        self.n_negatives = check.positive_int(self.name, "n_negatives", n_negatives)
        self._init_training(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            patience=patience,
            weight_decay=weight_decay,
        )

    def _build(self, train: sp.csr_matrix, context: TrainingContext) -> nn.Module:
        return _NeuMFNetwork(self.n_users, self.n_items, self.predictive_factors, self.mlp_layers)
