"""BPR-MF (Rendle et al. 2009): latent user/item factors trained with the Bayesian Personalised Ranking loss.

x̂_ui = p_u · q_i + b_i, loss = −log σ(x̂_ui − x̂_uj) for a training pair (u, i) and a sampled item j
the user did not interact with, plus L2 on the factors used in the batch (the paper's λ).

Why PyTorch rather than ``implicit.cpu.bpr``: implicit's BPR is Hogwild-parallel (not reproducible
with more than one thread) and retrains from scratch on every ``fit``, so it cannot early-stop on
validation Recall@10; here sampling, seeding and early stopping are shared with the other torch
baselines (:mod:`.torch_utils`).
"""

from __future__ import annotations

from collections.abc import Iterator

import scipy.sparse as sp
import torch
from torch import nn

from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.torch_utils import InteractionSampler, TorchRecommender, bpr_loss


class _FactorModel(nn.Module):
    def __init__(self, n_users: int, n_items: int, factors: int) -> None:
        super().__init__()
        self.user_factors = nn.Embedding(n_users, factors)
        self.item_factors = nn.Embedding(n_items, factors)
        self.item_bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.user_factors.weight, std=0.1)
        nn.init.normal_(self.item_factors.weight, std=0.1)
        nn.init.zeros_(self.item_bias.weight)

    def pair_scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.user_factors(users) * self.item_factors(items)).sum(-1) + self.item_bias(items).squeeze(-1)

    def all_item_scores(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_factors(users) @ self.item_factors.weight.T + self.item_bias.weight.T


class BPRMF(TorchRecommender):
    name = "baseline.bpr_mf.v1"
    alias = "bpr_mf"
    hpo_default = {
        "factors": dict(type=int, low=16, high=256, q=16),
        "regularization": dict(type=float, low=1e-6, high=1e-2, scale="log"),
        "learning_rate": dict(type=float, low=1e-3, high=5e-2, scale="log"),
    }

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 1e-4,
        learning_rate: float = 0.005,
        epochs: int = 100,
        batch_size: int = 1024,
        patience: int = 10,
    ) -> None:
        self.factors = check.positive_int(self.name, "factors", factors)
        self.regularization = check.positive_float(self.name, "regularization", regularization, allow_zero=True)
        self._init_training(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, patience=patience)

    def _build(self, train: sp.csr_matrix, context: TrainingContext) -> nn.Module:
        return _FactorModel(self.n_users, self.n_items, self.factors)

    def _epoch_losses(self, sampler: InteractionSampler) -> Iterator[torch.Tensor]:
        net: _FactorModel = self.network  # type: ignore[assignment]
        for users, positives, negatives in sampler.pairwise_batches(self.batch_size):
            difference = net.pair_scores(users, positives) - net.pair_scores(users, negatives)
            l2 = (
                net.user_factors(users).pow(2).sum()
                + net.item_factors(positives).pow(2).sum()
                + net.item_factors(negatives).pow(2).sum()
            ) / len(users)
            yield bpr_loss(difference) + self.regularization * l2

    def _score_tensor(self, users: torch.Tensor) -> torch.Tensor:
        net: _FactorModel = self.network  # type: ignore[assignment]
        return net.all_item_scores(users)
