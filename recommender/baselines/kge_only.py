"""KGE-only recommender: users become entities, interactions become ``(user, INTERACTS, item)`` triples,
and a knowledge-graph embedding (TransE or ComplEx) is trained on them together with the item KG.

score(u, i) = f(e_u, r_INTERACTS, e_i), with f PyKEEN's interaction function
(:class:`pykeen.nn.modules.TransEInteraction`: −‖h + r − t‖_p; :class:`~pykeen.nn.modules.ComplExInteraction`:
Re⟨h, r, t̄⟩). This is the "graph only, no recommender architecture" reference point for the product model.

Why PyKEEN's interaction modules with our own loop rather than ``pykeen.pipeline``: the pipeline's
training loop runs a full ``gc.collect()`` every epoch (≈0.3 s here) and a batch-size search, and it
cannot early-stop on Recall@10; the shared loop in :mod:`.torch_utils` gives seeding, validation
early stopping and progress like the other torch baselines.

Negatives: KG triples are corrupted by :class:`pykeen.sampling.BasicNegativeSampler` (head or tail
replaced by a uniform entity); interaction triples get a tail drawn from items the user did not
interact with, which is the ranking question the model is used for. Losses follow PyKEEN's defaults:
margin ranking for TransE (entity vectors kept at unit L2 norm after every step), softplus (binary
cross-entropy) with L2 regularisation for ComplEx.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.torch_utils import InteractionSampler, TorchRecommender, kg_contrast_loss, kg_tables_init_

INTERACTIONS = ("transe", "complex")


class _KgeNetwork(nn.Module):
    """Entity and relation embeddings (real tensors; ComplEx views pairs of reals as complex numbers)."""

    def __init__(self, *, interaction: str, n_entities: int, n_relations: int, dim: int, scoring_norm: int) -> None:
        super().__init__()
        from pykeen.nn.modules import ComplExInteraction, TransEInteraction

        self.is_complex = interaction == "complex"
        width = 2 * dim if self.is_complex else dim
        self.entities = nn.Embedding(n_entities, width)
        self.relations = nn.Embedding(n_relations, width)
        self.interaction = ComplExInteraction() if self.is_complex else TransEInteraction(p=scoring_norm)
        kg_tables_init_(self.entities, self.relations, is_complex=self.is_complex)

    def normalise_entities(self) -> None:
        with torch.no_grad():
            self.entities.weight.copy_(F.normalize(self.entities.weight, dim=-1))

    def _view(self, vectors: torch.Tensor) -> torch.Tensor:
        if not self.is_complex:
            return vectors
        return torch.view_as_complex(vectors.reshape(*vectors.shape[:-1], -1, 2))

    def score(self, heads: torch.Tensor, relations: torch.Tensor, tails: torch.Tensor) -> torch.Tensor:
        """Scores of index tensors of equal shape."""
        return self.interaction(
            self._view(self.entities(heads)), self._view(self.relations(relations)), self._view(self.entities(tails))
        )

    def score_tails(
        self, heads: torch.Tensor, relation: int, tails: torch.Tensor, *, max_elements: int = 1 << 23
    ) -> torch.Tensor:
        """(len(heads) × len(tails)) scores by broadcasting, ``max_elements`` floats at a time."""
        r = self._view(self.relations.weight[relation])[None, None, :]
        t = self._view(self.entities(tails))[None, :, :]
        chunk = max(1, max_elements // max(len(tails) * self.entities.embedding_dim, 1))
        parts = [
            self.interaction(self._view(self.entities(heads[start : start + chunk]))[:, None, :], r, t)
            for start in range(0, len(heads), chunk)
        ]
        return torch.cat(parts, dim=0)


class KGEOnly(TorchRecommender):
    name = "baseline.kge_only.v1"
    alias = "kge_only"
    requires_side_info = True
    hpo_default = {
        "interaction": dict(type="categorical", choices=list(INTERACTIONS)),
        "embedding_dim": dict(type=int, low=16, high=128, q=16),
        "n_negatives": dict(type=int, low=1, high=8),
        "learning_rate": dict(type=float, low=1e-3, high=5e-2, scale="log"),
    }

    def __init__(
        self,
        *,
        interaction: str = "transe",
        embedding_dim: int = 64,
        scoring_norm: int = 1,
        margin: float = 1.0,
        regularization: float = 0.01,
        n_negatives: int = 4,
        learning_rate: float = 0.01,
        epochs: int = 40,
        batch_size: int = 1024,
        # TransE's validation recall dips for several epochs before it climbs (seen on Last.fm)
        patience: int = 10,
    ) -> None:
        self.interaction = check.choice(self.name, "interaction", interaction, INTERACTIONS)
        self.embedding_dim = check.positive_int(self.name, "embedding_dim", embedding_dim)
        #: TransE only: p of the distance norm.
        self.scoring_norm = check.positive_int(self.name, "scoring_norm", scoring_norm)
        #: TransE only: margin of the ranking loss.
        self.margin = check.positive_float(self.name, "margin", margin)
        #: ComplEx only: weight of the L2 penalty (mean square of the batch's embeddings; PyKEEN's default 0.01).
        self.regularization = check.positive_float(self.name, "regularization", regularization, allow_zero=True)
        self.n_negatives = check.positive_int(self.name, "n_negatives", n_negatives)
        self._init_training(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, patience=patience)

    def _build(self, train: sp.csr_matrix, context: TrainingContext) -> nn.Module:
        from pykeen.sampling import BasicNegativeSampler

        side_info = context.side_info
        assert side_info is not None  # requires_side_info: fit() refused a context without it
        n_kg_entities, n_kg_relations = len(side_info.entity_ids), len(side_info.relation_types)
        self.item_entity = torch.as_tensor(np.asarray(side_info.item_entity, dtype=np.int64))
        self.user_offset = n_kg_entities  # user u is entity n_kg_entities + u
        self.interacts_relation = n_kg_relations  # one new relation after the KG's own
        n_entities, n_relations = n_kg_entities + self.n_users, n_kg_relations + 1
        self.kg_triples = torch.as_tensor(np.asarray(side_info.kg_triples, dtype=np.int64).reshape(-1, 3))
        self.kg_sampler = BasicNegativeSampler(
            mapped_triples=self.kg_triples,
            # corrupt KG triples with KG entities only: a user is never a plausible genre or artist
            num_entities=n_kg_entities,
            num_relations=n_kg_relations,
            num_negs_per_pos=self.n_negatives,
        )
        return _KgeNetwork(
            interaction=self.interaction,
            n_entities=n_entities,
            n_relations=n_relations,
            dim=self.embedding_dim,
            scoring_norm=self.scoring_norm,
        )

    def _after_step(self) -> None:
        if self.interaction == "transe":
            net: _KgeNetwork = self.network  # type: ignore[assignment]
            net.normalise_entities()

    def _interaction_triples(self, users: np.ndarray, items: np.ndarray) -> torch.Tensor:
        heads = torch.as_tensor(users) + self.user_offset
        relations = torch.full_like(heads, self.interacts_relation)
        return torch.stack([heads, relations, self.item_entity[torch.as_tensor(items)]], dim=-1)

    def _epoch_losses(self, sampler: InteractionSampler) -> Iterator[torch.Tensor]:
        n_kg = len(self.kg_triples)
        order = sampler.rng.permutation(n_kg + len(sampler))
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            kg_index, pair_index = index[index < n_kg], index[index >= n_kg] - n_kg
            kg_positive = self.kg_triples[torch.as_tensor(kg_index)]
            if len(kg_index):
                kg_negative = self.kg_sampler.corrupt_batch(kg_positive)  # (b, n_negatives, 3)
            else:  # PyKEEN's sampler cannot corrupt an empty batch
                kg_negative = kg_positive.new_empty((0, self.n_negatives, 3))
            users = sampler.users[pair_index]
            pair_positive = self._interaction_triples(users, sampler.items[pair_index])
            negative_items = sampler.negatives(users, self.n_negatives)
            pair_negative = self._interaction_triples(np.repeat(users, self.n_negatives), negative_items.ravel())
            positive = torch.cat([kg_positive, pair_positive])
            negative = torch.cat([kg_negative, pair_negative.view(-1, self.n_negatives, 3)])
            yield self._loss(positive, negative)

    def _loss(self, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        net: _KgeNetwork = self.network  # type: ignore[assignment]
        positive_scores = net.score(positive[:, 0], positive[:, 1], positive[:, 2])
        negative_scores = net.score(negative[..., 0], negative[..., 1], negative[..., 2])
        loss = kg_contrast_loss(positive_scores, negative_scores, is_complex=net.is_complex, margin=self.margin)
        if not net.is_complex:
            return loss
        used = torch.cat([positive[:, [0, 2]].ravel(), negative[..., [0, 2]].ravel()])
        # mean over elements, like PyKEEN's LpRegularizer(p=2, normalize=True) that its ComplEx uses
        penalty = net.entities(used).pow(2).mean() + net.relations(positive[:, 1]).pow(2).mean()
        return loss + self.regularization * penalty

    def _score_tensor(self, users: torch.Tensor) -> torch.Tensor:
        net: _KgeNetwork = self.network  # type: ignore[assignment]
        return net.score_tails(users + self.user_offset, self.interacts_relation, self.item_entity)
