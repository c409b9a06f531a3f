"""Leitmotif's product recommender: a two-tower model trained jointly with a KG embedding, ``L = L_rec + λ·L_kg``.

**Item tower.** ``f_item(i) = MLP([id_i ‖ graph_i ‖ W_c·content_i ‖ W_a·audio_i])`` → a vector and a bias.
``graph_i`` is the item's own entity vector next to the mean of its one-hop KG neighbours' vectors
(genres, tags, places …); the entity table is shared with the KG loss, so the graph structure shapes
the vectors the recommender reads. ``content_i`` is a frozen sentence embedding (all-MiniLM-L6-v2 of
"artist name + top tags", see :mod:`recommender.content`), ``audio_i`` an optional frozen audio
embedding (absent today). Items without training interactions (cold start) always score with their id
part set to zero; ``item_id_dropout`` hides random items' ids in training so the tower learns to rank
from graph + content alone.

**User tower.** ``f_user(u) = MLP([id_u ‖ W_h·Σ_j a_j·f_item(j) ‖ MLP(behaviour_u)])`` where ``j`` runs over
the user's training history and ``a = softmax(v·tanh(W·f_item(j)))`` over the (masked, padded)
history; behaviour features are listening statistics from the training matrix (:mod:`.inputs`).

**Score.** ``s(u, i) = (cos(f_user(u), f_item(i)) + b_i + w·n_u(i)) / τ`` (``similarity="dot"`` drops the
normalisation). ``n_u(i)`` is the neighbourhood term of :mod:`.neighbourhood` (Koren 2008): on data
this small, item-to-item co-listening carries signal a 64-dimensional factor model smooths away, and
the learned weight ``w`` lets training decide how much of it to keep (``use_neighbourhood=False`` to
ablate). Items no training user played borrow the neighbourhood columns of their closest seen items
by tags + KG links (``cold_neighbours``; :func:`.neighbourhood.cold_transfer_matrix`), so a new artist
competes with warm ones on the same scale instead of through the towers alone. ``neighbourhood_terms`` can add or swap in EASE's closed-form item-item weights (the EASE
baseline's, with an exact leave-one-out refit in training, own learned weight ``w_e``); on Last.FM
validation it did not beat the cosine (see the tuning notes in :mod:`.config`), so it is off by default. Cosine with a temperature bounds the tower's logits, which on validation both trained more
stably and let the neighbourhood term count (with raw dot products the towers drowned it out).

**Why two towers and not ``F = MLP([f_user, f_item, f_graph])``:** the dot product makes scoring *all*
3,846 items one matrix product, which is what makes the full-softmax loss (every item is a negative in
every step) and full-ranking evaluation cheap on two CPU cores; a pairwise MLP would need B × N MLP
evaluations per step. The fusion MLPs live inside the towers.

**Objective.** ``L_rec`` (default) is the full softmax over items of each training pair (u, i) with
``i`` left out of the user's history and the user's *other* training items removed from the softmax —
the same question evaluation asks ("given the history, which unseen item comes next?"); items without
any training interaction are left out of the softmax too (no evidence either way; as permanent
negatives they taught the graph/content parts to push each cold item away from the users it suits).
A second softmax on the towers' logits alone (``tower_loss_weight``) keeps the towers a complete
recommender, since cold items have no neighbourhood term to lean on. BPR with one sampled negative
is the alternative to the softmax. ``L_kg`` is PyKEEN's TransE (margin ranking, unit-norm entities)
or ComplEx (softplus + L2) on a batch of KG triples with corrupted heads/tails, in the same step.
Early stopping watches validation Recall@10 and keeps the best epoch's weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from core.artifacts import read_json, write_json
from core.errors import ConfigurationError, DataFileError
from recommender.base import TrainingContext
from recommender.baselines.base import BaselineRecommender
from recommender.baselines.torch_utils import (
    InteractionSampler,
    TrainingHistory,
    bpr_loss,
    kg_contrast_loss,
    kg_tables_init_,
    mlp,
    seeded_torch,
    train_module,
    validation_recall,
)
from recommender.models.config import JointConfig
from recommender.models.inputs import BEHAVIOUR_FEATURES, LONG_TAIL_POPULARITY, JointInputs, build_inputs
from recommender.models.neighbourhood import ease_scores, neighbourhood_scores, with_cold_transfer

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kg.embeddings.artifacts import KgeArtifact
    from recommender.models.warm_start import JointWarmStart

MODEL_STATE_FILE = "model_state.pt"
MODEL_INPUTS_FILE = "model_inputs.npz"
#: Entity ids and relation types behind the rows of the entity/relation tables (what a warm start matches
#: by); artifacts written before warm starts existed lack it.
GRAPH_IDS_FILE = "graph_ids.json"


def member_state_file(member: int) -> str:
    """Weights file of ensemble member ``member``; member 0 keeps the single model's name, so older artifacts load."""
    return MODEL_STATE_FILE if member == 0 else f"model_state_{member}.pt"


def combine_member_scores(members: list[np.ndarray]) -> np.ndarray:
    """One member: its scores unchanged. Several: the mean of each member's per-user standardised scores.

    Why standardise: every member's logits carry its own learned temperature-like scale (cosine / τ
    plus its own neighbourhood weight and biases), so a plain mean would let the most confident
    member dominate; z-scores per user row put each member's ranking on one footing.
    """
    if len(members) == 1:
        return members[0]
    total = np.zeros_like(members[0], dtype=np.float64)
    for scores in members:
        scores = scores.astype(np.float64)
        spread = scores.std(axis=1, keepdims=True)
        total += (scores - scores.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
    return (total / len(members)).astype(np.float32)


class ItemSide(NamedTuple):
    vectors: torch.Tensor  # (n_items × d)
    bias: torch.Tensor  # (n_items,)
    gate: torch.Tensor | None  # (n_items,) log-scale of the neighbourhood weight, if gated


class UserSide(NamedTuple):
    vectors: torch.Tensor  # (B × d)
    gate: torch.Tensor | None  # (B,)


class Neighbourhood(NamedTuple):
    """The (B × n_items) item-item terms summed over each user's history; ``None`` for a term switched off."""

    cosine: torch.Tensor | None
    ease: torch.Tensor | None


class JointNetwork(nn.Module):
    """The trainable part; parts switched off in the config have no parameters at all."""

    def __init__(self, *, config: JointConfig, inputs: JointInputs) -> None:
        super().__init__()
        c = config
        self.config = c
        self.n_items = inputs.n_items
        self.is_complex = c.kg_interaction == "complex"
        self.register_buffer("history", torch.from_numpy(inputs.history), persistent=False)
        self.register_buffer("behaviour", torch.from_numpy(inputs.behaviour), persistent=False)
        self.register_buffer("unseen_items", torch.from_numpy(inputs.unseen_items.astype(bool)), persistent=False)

        self.item_id = nn.Embedding(inputs.n_items, c.id_dim)
        nn.init.normal_(self.item_id.weight, std=0.05)
        item_width = c.id_dim
        self.entities: nn.Embedding | None = None
        self.relations: nn.Embedding | None = None
        if c.use_graph:
            graph_width = 2 * c.graph_dim if self.is_complex else c.graph_dim  # ComplEx: [real | imaginary]
            self.entities = nn.Embedding(inputs.n_entities, graph_width)
            self.relations = nn.Embedding(max(inputs.n_relations, 1), graph_width)
            self.register_buffer("item_entity", torch.from_numpy(inputs.item_entity), persistent=False)
            neighbours = inputs.item_neighbours.tocoo()
            indices = torch.from_numpy(np.vstack([neighbours.row, neighbours.col]).astype(np.int64))
            values = torch.from_numpy(neighbours.data.astype(np.float32))
            self.register_buffer(
                "item_neighbours",
                torch.sparse_coo_tensor(indices, values, size=neighbours.shape, check_invariants=True).coalesce(),
                persistent=False,
            )
            self._init_graph()
            item_width += graph_width * (2 if c.graph_neighbours else 1)
        self.content_projection: nn.Linear | None = None
        if c.use_content:
            self.register_buffer("content", torch.from_numpy(inputs.content), persistent=False)
            self.content_projection = nn.Linear(inputs.content.shape[1], c.content_dim)
            item_width += c.content_dim
        self.audio_projection: nn.Linear | None = None
        if inputs.audio.shape[1]:
            self.register_buffer("audio", torch.from_numpy(inputs.audio), persistent=False)
            self.audio_projection = nn.Linear(inputs.audio.shape[1], c.content_dim)
            item_width += c.content_dim
        # extra outputs: the item bias, then (with neighbourhood gates) the item's gate
        gates = 1 if c.neighbourhood_gates else 0
        self.item_mlp = mlp([item_width, c.hidden_dim, c.embedding_dim + 1 + gates], dropout=c.dropout)

        self.user_id = nn.Embedding(inputs.n_users, c.id_dim)
        nn.init.normal_(self.user_id.weight, std=0.05)
        self.history_projection = nn.Linear(c.embedding_dim, c.embedding_dim)
        self.attention: nn.Sequential | None = None
        if c.use_attention:
            self.attention = nn.Sequential(
                nn.Linear(c.embedding_dim, c.attention_dim), nn.Tanh(), nn.Linear(c.attention_dim, 1, bias=False)
            )
        self.behaviour_mlp = nn.Sequential(nn.Linear(len(BEHAVIOUR_FEATURES), c.behaviour_dim), nn.ReLU())
        self.user_mlp = mlp(
            [c.id_dim + c.embedding_dim + c.behaviour_dim, c.hidden_dim, c.embedding_dim + gates], dropout=c.dropout
        )
        # one learned weight per neighbourhood term (the cosine keeps its original parameter name)
        self.neighbourhood_weight: nn.Parameter | None = None
        if c.uses_cosine_neighbourhood:
            self.neighbourhood_weight = nn.Parameter(torch.tensor(1.0))
        self.ease_weight: nn.Parameter | None = None
        if c.uses_ease_neighbourhood:
            self.ease_weight = nn.Parameter(torch.tensor(float(c.ease_weight_init)))

        if c.uses_kg_loss:
            from pykeen.nn.modules import ComplExInteraction, TransEInteraction

            self.kg_interaction = ComplExInteraction() if self.is_complex else TransEInteraction(p=1)

    def _init_graph(self) -> None:
        assert self.entities is not None and self.relations is not None
        kg_tables_init_(self.entities, self.relations, is_complex=self.is_complex)

    def normalise_entities(self) -> None:
        """TransE's constraint (applied after every step): entity vectors have unit L2 norm."""
        if self.entities is not None and not self.is_complex:
            with torch.no_grad():
                self.entities.weight.copy_(F.normalize(self.entities.weight, dim=-1))

    # --- towers -------------------------------------------------------------------------------------

    def item_table(self, *, hide_ids: torch.Tensor | None = None) -> ItemSide:
        """Vectors, biases (and neighbourhood gates) of every item; ``hide_ids`` marks items scored without their id."""
        hidden = self.unseen_items if hide_ids is None else (self.unseen_items | hide_ids)
        parts = [self.item_id.weight * (~hidden).unsqueeze(1).to(self.item_id.weight.dtype)]
        if self.entities is not None:
            parts.append(self.entities.weight[self.item_entity])
            if self.config.graph_neighbours:
                parts.append(torch.sparse.mm(self.item_neighbours, self.entities.weight))
        if self.content_projection is not None:
            parts.append(self.content_projection(self.content))
        if self.audio_projection is not None:
            parts.append(self.audio_projection(self.audio))
        out = self.item_mlp(torch.cat(parts, dim=1))
        d = self.config.embedding_dim
        vectors = F.normalize(out[:, :d], dim=-1) if self.config.similarity == "cosine" else out[:, :d]
        return ItemSide(
            vectors=vectors, bias=out[:, d], gate=out[:, d + 1] if self.config.neighbourhood_gates else None
        )

    def user_side(
        self,
        users: torch.Tensor,
        item_vectors: torch.Tensor,
        *,
        exclude: torch.Tensor | None = None,
        history_dropout: float = 0.0,
    ) -> UserSide:
        """User tower for ``users``; ``exclude`` (one item per user) is removed from that user's history."""
        history = self.history[users]  # (B, L), padded with n_items
        mask = history < self.n_items
        if exclude is not None:
            mask &= history != exclude.unsqueeze(1)
        if history_dropout > 0:
            mask &= torch.rand(mask.shape) >= history_dropout
        padded = torch.cat([item_vectors, item_vectors.new_zeros(1, item_vectors.shape[1])])
        members = padded[history]  # (B, L, d)
        if self.attention is not None:
            logits = self.attention(members).squeeze(-1).masked_fill(~mask, -1e9)
            weights = torch.softmax(logits, dim=1) * mask  # all-masked rows pool to the zero vector
        else:
            weights = mask.float() / mask.sum(dim=1, keepdim=True).clamp(min=1)
        pooled = self.history_projection(torch.bmm(weights.unsqueeze(1), members).squeeze(1))
        behaviour = self.behaviour_mlp(self.behaviour[users])
        out = self.user_mlp(torch.cat([self.user_id(users), pooled, behaviour], dim=1))
        d = self.config.embedding_dim
        vectors = F.normalize(out[:, :d], dim=-1) if self.config.similarity == "cosine" else out[:, :d]
        return UserSide(vectors=vectors, gate=out[:, d] if self.config.neighbourhood_gates else None)

    def user_side_from(
        self,
        history: torch.Tensor,
        behaviour: torch.Tensor,
        id_vectors: torch.Tensor,
        padded_item_vectors: torch.Tensor,
    ) -> UserSide:
        """User tower over explicit inputs (fold-in at serving time); same maths as :meth:`user_side` at inference.

        ``history`` (B × L) item indices padded with ``n_items``; ``behaviour`` (B × len(BEHAVIOUR_FEATURES))
        standardised features; ``id_vectors`` (B × id_dim) the user-id embeddings (zero rows for users the
        model never saw); ``padded_item_vectors`` ((n_items + 1) × d) the item vectors with a zero padding
        row appended (cached by the caller: it is the same for every request). Why a second method instead of parameters on ``user_side``: training and
        evaluation keep reading the stored buffers untouched, serving passes what it computed.
        """
        mask = history < self.n_items
        members = padded_item_vectors[history]  # (B, L, d)
        if self.attention is not None:
            logits = self.attention(members).squeeze(-1).masked_fill(~mask, -1e9)
            weights = torch.softmax(logits, dim=1) * mask
        else:
            weights = mask.float() / mask.sum(dim=1, keepdim=True).clamp(min=1)
        pooled = self.history_projection(torch.bmm(weights.unsqueeze(1), members).squeeze(1))
        out = self.user_mlp(torch.cat([id_vectors, pooled, self.behaviour_mlp(behaviour)], dim=1))
        d = self.config.embedding_dim
        vectors = F.normalize(out[:, :d], dim=-1) if self.config.similarity == "cosine" else out[:, :d]
        return UserSide(vectors=vectors, gate=out[:, d] if self.config.neighbourhood_gates else None)

    def scores(self, users: torch.Tensor, *, neighbourhood: Neighbourhood | None = None) -> torch.Tensor:
        """(len(users) × n_items) inference scores (full histories, no dropout)."""
        items = self.item_table()
        return self.logits(self.user_side(users, items.vectors), items, neighbourhood=neighbourhood)

    def logits(self, user: UserSide, items: ItemSide, *, neighbourhood: Neighbourhood | None) -> torch.Tensor:
        """``(f_user·f_item + b_item + g·(w·n_u(i) + w_e·e_u(i))) / temperature`` for every user row and item column.

        ``n`` is the cosine term, ``e`` the EASE term (each only when configured), ``g`` the optional
        per-user/item gate. ``neighbourhood=None`` gives the towers' logits alone (what cold items rely
        on; see ``tower_loss_weight``).
        """
        out = user.vectors @ items.vectors.T + items.bias
        if neighbourhood is not None:
            term = None
            for weight, values in (
                (self.neighbourhood_weight, neighbourhood.cosine),
                (self.ease_weight, neighbourhood.ease),
            ):
                if weight is not None and values is not None:
                    term = weight * values if term is None else term + weight * values
            if term is not None:
                if user.gate is not None and items.gate is not None:
                    term = term * torch.exp(user.gate[:, None] + items.gate[None, :])
                out = out + term
        return out / self.config.temperature

    # --- KG loss ------------------------------------------------------------------------------------

    def _view(self, vectors: torch.Tensor) -> torch.Tensor:
        if not self.is_complex:
            return vectors
        half = vectors.shape[-1] // 2
        return torch.complex(vectors[..., :half], vectors[..., half:])

    def kg_scores(self, triples: torch.Tensor) -> torch.Tensor:
        assert self.entities is not None and self.relations is not None
        return self.kg_interaction(
            self._view(self.entities(triples[..., 0])),
            self._view(self.relations(triples[..., 1])),
            self._view(self.entities(triples[..., 2])),
        )

    def kg_loss(self, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        """TransE: margin ranking (PyKEEN's default); ComplEx: softplus with L2 on the used vectors (weight 0.01)."""
        positive_scores, negative_scores = self.kg_scores(positive), self.kg_scores(negative)
        loss = kg_contrast_loss(
            positive_scores, negative_scores, is_complex=self.is_complex, margin=self.config.kg_margin
        )
        if not self.is_complex:
            return loss
        used = torch.cat([positive[:, [0, 2]].ravel(), negative[..., [0, 2]].ravel()])
        penalty = self.entities(used).pow(2).sum(-1).mean() + self.relations(positive[:, 1]).pow(2).sum(-1).mean()
        return loss + 0.01 * penalty


class JointKGRecommender(BaselineRecommender):
    """The product model (registry name ``leitmotif.joint.v1``, alias ``leitmotif``); see the module docstring.

    Build with a :class:`JointConfig` and the frozen item inputs that do not come through
    :class:`TrainingContext`: ``content_embeddings`` (n_items × d, required when ``use_content``),
    ``audio_embeddings`` (optional) and ``kge_artifact`` (a loaded PyKEEN artifact whose vectors
    initialise the entity table; matched by entity id, the rest stays randomly initialised) and
    ``warm_start`` (a :class:`~recommender.models.warm_start.JointWarmStart`: the weights of a previously
    trained model, matched by id, applied after the KGE vectors so the parent's jointly trained rows win).
    """

    name: ClassVar[str] = "leitmotif.joint.v1"
    alias: ClassVar[str] = "leitmotif"
    requires_side_info: ClassVar[bool] = False

    network: JointNetwork
    inputs: JointInputs
    history: TrainingHistory

    def __init__(
        self,
        config: JointConfig | None = None,
        *,
        content_embeddings: np.ndarray | None = None,
        audio_embeddings: np.ndarray | None = None,
        kge_artifact: KgeArtifact | None = None,
        warm_start: JointWarmStart | None = None,
    ) -> None:
        config = JointConfig() if config is None else config
        if not isinstance(config, JointConfig):
            raise ConfigurationError(f"{self.name}: config must be a JointConfig, got {type(config).__name__}.")
        self.config = config
        self.content_embeddings = content_embeddings
        self.audio_embeddings = audio_embeddings
        self.kge_artifact = kge_artifact
        self.warm_start = warm_start
        #: How many entity/relation vectors came from ``kge_artifact`` (filled by ``fit``).
        self.kge_initialisation: dict[str, Any] = {}
        #: What came from ``warm_start`` (filled by ``fit``), plus validation Recall@10 before any training step.
        self.warm_start_summary: dict[str, Any] = {}
        #: ``{"entities": [...], "relations": [...]}`` behind the graph tables' rows (filled by ``fit``).
        self.graph_ids: dict[str, list[str]] | None = None
        self._optimise = True
        #: Mean L_rec and L_kg per epoch (filled by ``fit``).
        self.loss_parts: list[dict[str, float]] = []

    # --- declared parameters: the config is the single source ---------------------------------------

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return JointConfig().to_dict()

    def get_params(self) -> dict[str, Any]:
        return self.config.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # --- training -----------------------------------------------------------------------------------

    def initialise(
        self, train: sp.csr_matrix, *, seed: int, context: TrainingContext | None = None
    ) -> JointKGRecommender:
        """``fit`` without a single optimisation step: inputs built, weights initialised (KGE artifact, warm start).

        Why: a warm-started model that has not trained yet must score exactly like its parent on unchanged
        data; this is how that promise is checked, and how a caller inspects a warm start before training.
        """
        self._optimise = False
        try:
            return self.fit(train, seed=seed, context=context)
        finally:
            self._optimise = True

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        c = self.config
        if c.use_graph and (context.side_info is None or len(context.side_info.entity_ids) == 0):
            raise ConfigurationError(
                f"{self.name}: use_graph needs knowledge-graph side information (context.side_info with entities); "
                "build the dataset with a graph store or set use_graph=False."
            )
        if c.use_content and self.content_embeddings is None:
            raise ConfigurationError(
                f"{self.name}: use_content needs content_embeddings (n_items × d); compute them with "
                "recommender.content.item_content_embeddings or set use_content=False."
            )
        rng = np.random.default_rng(seed)
        self.inputs = build_inputs(
            train=train,
            side_info=context.side_info,
            content=self.content_embeddings if c.use_content else None,
            audio=self.audio_embeddings,
            cold_items=context.cold_items,
            max_history=c.max_history,
            neighbourhood_shrink=c.neighbourhood_shrink if c.use_neighbourhood else None,
            ease_l2=c.ease_l2 if c.uses_ease_neighbourhood else None,
            cold_neighbours=c.cold_neighbours if c.uses_cold_transfer else 0,
            rng=rng,
            model=self.name,
        )
        self.graph_ids = None
        if context.side_info is not None:
            self.graph_ids = {
                "entities": list(context.side_info.entity_ids),
                "relations": list(context.side_info.relation_types),
            }
        self._ensemble: list[JointNetwork] = []
        trained = []
        for member in range(c.ensemble_members):
            # member 0 is exactly the single model (same seed, same random stream); the others draw
            # their own streams from (seed, member), so no member repeats another run's member 0
            member_seed = seed if member == 0 else int(np.random.SeedSequence([seed, member]).generate_state(1)[0])
            member_rng = rng if member == 0 else np.random.default_rng(member_seed)
            self._fit_member(train, seed=member_seed, rng=member_rng, context=context, member=member)
            trained.append((self.network, self.history, self.loss_parts, self.averaged_epochs, member_seed))
        self.network, self.history, self.loss_parts, self.averaged_epochs, _ = trained[0]
        self.member_summaries = [
            {"seed": member_seed, "best_epoch": history.best_epoch, "validation_recall@10": history.validation_recall}
            for _, history, _, _, member_seed in trained[1:]
        ]
        self._ensemble = [network for network, *_ in trained]

    def _fit_member(
        self, train: sp.csr_matrix, *, seed: int, rng: np.random.Generator, context: TrainingContext, member: int = 0
    ) -> None:
        """Initialise and train one network into ``self.network`` (``self.history`` …); scoring meanwhile uses it alone."""
        c = self.config
        with seeded_torch(seed):
            self.network = JointNetwork(config=c, inputs=self.inputs)
            if self.kge_artifact is not None and c.use_graph:
                self.kge_initialisation = self._initialise_from_artifact(context)
            if self.warm_start is not None:
                # no re-normalisation: every source row (parent, KGE artifact, fresh) is already unit-norm for TransE
                self.warm_start_summary = self.warm_start.apply_(self.network, member=member)
                if context.validation is not None and context.validation.nnz:
                    self.network.eval()
                    self.warm_start_summary["validation_recall@10_at_start"] = validation_recall(
                        self._score_numpy, train=train, validation=sp.csr_matrix(context.validation)
                    )
            if not self._optimise:
                self.history = TrainingHistory()
                self.loss_parts, self.averaged_epochs = [], []
                self.network.eval()
                return
            sampler = InteractionSampler(train, rng=rng)
            kg_sampler = self._kg_sampler() if c.uses_kg_loss and len(self.inputs.kg_triples) else None
            evaluate = None
            if context.validation is not None and context.validation.nnz:
                validation = sp.csr_matrix(context.validation)

                def evaluate() -> float:
                    recall = validation_recall(self._score_numpy, train=train, validation=validation)
                    if c.average_epochs > 1:
                        state = {key: value.detach().clone() for key, value in self.network.state_dict().items()}
                        self._snapshots.append((recall, len(self._snapshots) + 1, state))
                    return recall

            self.loss_parts = []
            self._snapshots: list[tuple[float, int, dict[str, torch.Tensor]]] = []
            optimizer = torch.optim.Adam(self._parameter_groups(), lr=c.learning_rate, weight_decay=c.weight_decay)
            self.history = train_module(
                model_name=self.name,
                module=self.network,
                optimizer=optimizer,
                epochs=c.epochs,
                epoch_losses=lambda: self._epoch_losses(sampler, kg_sampler, rng),
                evaluate=evaluate,
                patience=c.patience,
                after_step=self.network.normalise_entities,
            )
            self.averaged_epochs = self._average_best_epochs()
        self.network.eval()

    def _average_best_epochs(self) -> list[int]:
        """Load the mean weights of the ``average_epochs`` best-validated epochs; returns their numbers (sorted).

        Without snapshots (no validation, or ``average_epochs=1``) the early-stopping weights stay.
        TransE entity vectors are re-projected to unit norm after averaging, as after every step.
        """
        snapshots, self._snapshots = getattr(self, "_snapshots", []), []
        if self.config.average_epochs <= 1 or not snapshots:
            return [self.history.best_epoch] if getattr(self, "history", None) and self.history.best_epoch else []
        chosen = sorted(snapshots, key=lambda item: (-item[0], item[1]))[: self.config.average_epochs]
        states = [state for _, _, state in chosen]
        averaged = {
            key: torch.stack([state[key].float() for state in states]).mean(dim=0).to(states[0][key].dtype)
            for key in states[0]
        }
        self.network.load_state_dict(averaged)
        self.network.normalise_entities()
        return sorted(epoch for _, epoch, _ in chosen)

    def _parameter_groups(self) -> list[dict[str, Any]]:
        """Adam groups: the neighbourhood terms' scalar weights get ``neighbourhood_weight_lr`` × the shared rate."""
        net, c = self.network, self.config
        scalars = [w for w in (net.neighbourhood_weight, net.ease_weight) if w is not None]
        chosen = {id(w) for w in scalars}
        groups: list[dict[str, Any]] = [{"params": [p for p in net.parameters() if id(p) not in chosen]}]
        if scalars:
            groups.append({"params": scalars, "lr": c.learning_rate * c.neighbourhood_weight_lr})
        return groups

    def _kg_sampler(self):
        from pykeen.sampling import BasicNegativeSampler

        return BasicNegativeSampler(
            mapped_triples=torch.from_numpy(self.inputs.kg_triples),
            num_entities=self.inputs.n_entities,
            num_relations=max(self.inputs.n_relations, 1),
            num_negs_per_pos=self.config.kg_negatives,
        )

    def _epoch_losses(
        self, sampler: InteractionSampler, kg_sampler, rng: np.random.Generator
    ) -> Iterator[torch.Tensor]:
        c, net = self.config, self.network
        n_steps = math.ceil(len(sampler) / c.batch_size)
        kg_order = rng.permutation(len(self.inputs.kg_triples)) if kg_sampler is not None else None
        kg_batch = c.kg_batch_size or (math.ceil(len(kg_order) / n_steps) if kg_order is not None else 0)
        kg_triples = torch.from_numpy(self.inputs.kg_triples)
        totals = {"rec": 0.0, "kg": 0.0}
        for step, index in enumerate(sampler.shuffled_batches(c.batch_size)):
            users = torch.from_numpy(sampler.users[index])
            items = torch.from_numpy(sampler.items[index])
            hide = torch.rand(net.n_items) < c.item_id_dropout if c.item_id_dropout > 0 else None
            item_side = net.item_table(hide_ids=hide)
            user_side = net.user_side(users, item_side.vectors, exclude=items, history_dropout=c.history_dropout)
            neighbourhood = self._neighbourhood(sampler.users[index], targets=sampler.items[index])
            logits = net.logits(user_side, item_side, neighbourhood=neighbourhood)
            rec = self._rec_loss(logits, users, items, sampler)
            if neighbourhood is not None and c.tower_loss_weight > 0:
                # the towers alone must rank well too: for cold items they are all there is
                tower_logits = net.logits(user_side, item_side, neighbourhood=None)
                rec = rec + c.tower_loss_weight * self._rec_loss(tower_logits, users, items, sampler)
            loss = rec
            totals["rec"] += float(rec.detach())
            if kg_sampler is not None and c.uses_kg_loss:
                start = (step * kg_batch) % max(len(kg_order), 1)
                chosen = kg_order[start : start + kg_batch]
                if len(chosen):
                    positive_triples = kg_triples[torch.from_numpy(chosen)]
                    negative_triples = kg_sampler.corrupt_batch(positive_triples)
                    kg = net.kg_loss(positive_triples, negative_triples)
                    loss = loss + c.lambda_kg * kg
                    totals["kg"] += float(kg.detach())
            yield loss
        self.loss_parts.append({name: value / max(n_steps, 1) for name, value in totals.items()})

    def _rec_loss(
        self, logits: torch.Tensor, users: torch.Tensor, items: torch.Tensor, sampler: InteractionSampler
    ) -> torch.Tensor:
        net = self.network
        if self.config.rec_loss == "softmax":
            # the user's other training items are known history, not negatives (as in evaluation)
            history = net.history[users]
            others = history.masked_fill(history == items.unsqueeze(1), net.n_items)
            padded = torch.cat([logits, logits.new_zeros(len(users), 1)], dim=1)
            logits = padded.scatter(1, others, float("-inf"))[:, :-1]
            if not self.config.unseen_items_as_negatives:
                logits = logits.masked_fill(net.unseen_items, float("-inf"))
            return F.cross_entropy(logits, items)
        negatives = torch.from_numpy(sampler.negatives(users.numpy(), 1)[:, 0])
        rows = torch.arange(len(users))
        return bpr_loss(logits[rows, items] - logits[rows, negatives])

    def _initialise_from_artifact(self, context: TrainingContext) -> dict[str, Any]:
        """Copy the artifact's vectors of entities/relations that also exist in this graph (matched by id)."""
        artifact, net = self.kge_artifact, self.network
        assert net.entities is not None and net.relations is not None and context.side_info is not None
        alias = artifact.config.spec.alias
        if alias != self.config.kg_interaction:
            raise ConfigurationError(
                f"{self.name}: the KGE artifact {artifact.path} holds {alias} vectors but kg_interaction is "
                f"{self.config.kg_interaction!r}; set kg_interaction={alias!r} or pick a {self.config.kg_interaction} artifact."
            )
        width = net.entities.embedding_dim
        if artifact.entity_embeddings.shape[1] != width:
            raise ConfigurationError(
                f"{self.name}: the KGE artifact {artifact.path} has {artifact.entity_embeddings.shape[1]}-wide vectors but "
                f"graph_dim={self.config.graph_dim} needs {width}; set graph_dim={artifact.config.embedding_dim}."
            )
        counts: dict[str, Any] = {"artifact": str(artifact.path)}
        for label, table, ids, source, mapping in (
            ("entities", net.entities, context.side_info.entity_ids, artifact.entity_embeddings, artifact.entity_to_id),
            (
                "relations",
                net.relations,
                context.side_info.relation_types,
                artifact.relation_embeddings,
                artifact.relation_to_id,
            ),
        ):
            rows = [(k, mapping[name]) for k, name in enumerate(ids) if name in mapping]
            if rows:
                ours, theirs = (torch.as_tensor(x, dtype=torch.long) for x in zip(*rows, strict=True))
                with torch.no_grad():
                    table.weight[ours] = torch.from_numpy(source)[theirs]
            counts[label] = {"initialised": len(rows), "total": len(ids)}
        if counts["entities"]["initialised"] == 0:
            raise ConfigurationError(
                f"{self.name}: none of the graph's {len(context.side_info.entity_ids)} entities is in the KGE artifact "
                f"{artifact.path}; it was trained on a different graph. Retrain it with `python manage.py train_kge`."
            )
        return counts

    # --- scoring ------------------------------------------------------------------------------------

    def _neighbourhood(self, users: np.ndarray, *, targets: np.ndarray | None = None) -> Neighbourhood | None:
        """The configured neighbourhood terms of ``users``' stored histories; with ``targets``, left-one-out (training)."""
        c = self.config
        if not c.use_neighbourhood:
            return None
        history = self.inputs.history[users]
        cosine = ease = None
        if c.uses_cosine_neighbourhood:
            cosine = torch.from_numpy(
                self._with_cold_transfer(
                    neighbourhood_scores(
                        history,
                        similarity=self.inputs.item_similarity,
                        popularity=self.inputs.item_popularity,
                        shrink=c.neighbourhood_shrink,
                        targets=targets,
                    )
                )
            )
        if c.uses_ease_neighbourhood:
            ease = torch.from_numpy(
                ease_scores(
                    history,
                    weights=self.inputs.item_ease,
                    precision_diagonal=self.inputs.ease_precision_diagonal,
                    targets=targets,
                )
            )
        return Neighbourhood(cosine=cosine, ease=ease)

    def networks(self) -> list[JointNetwork]:
        """The trained ensemble, or during training (and for one member) just the network being trained."""
        ensemble = getattr(self, "_ensemble", None) or []
        return ensemble if len(ensemble) > 1 else [self.network]

    def _score_numpy(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        neighbourhood = self._neighbourhood(users)
        rows = []
        with torch.no_grad():
            for network in self.networks():
                network.eval()
                rows.append(network.scores(torch.from_numpy(users), neighbourhood=neighbourhood).numpy())
        return combine_member_scores(rows)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._score_numpy(users)

    # --- persistence (the artifact directory is written by recommender.training) --------------------

    def save_weights(self, directory: Path) -> list[str]:
        """Write the trained weights and fixed inputs into ``directory``; returns the file names written."""
        if not getattr(self, "_fitted", False):
            raise ConfigurationError(f"{self.name}: call fit() before saving the model.")
        written = []
        for member, network in enumerate(self.networks()):
            name = member_state_file(member)
            torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, Path(directory) / name)
            written.append(name)
        self.inputs.save(Path(directory) / MODEL_INPUTS_FILE)
        written.append(MODEL_INPUTS_FILE)
        if self.graph_ids is not None:
            write_json(Path(directory) / GRAPH_IDS_FILE, self.graph_ids)
            written.append(GRAPH_IDS_FILE)
        return written

    @classmethod
    def load_weights(cls, directory: Path, *, config: JointConfig) -> JointKGRecommender:
        """Rebuild a fitted model from :meth:`save_weights` output and its config; scores equal the saved model's."""
        directory = Path(directory)
        model = cls(config)
        model.inputs = JointInputs.load(directory / MODEL_INPUTS_FILE)
        networks = []
        for member in range(config.ensemble_members):
            state_path = directory / member_state_file(member)
            try:
                network = JointNetwork(config=config, inputs=model.inputs)
                network.load_state_dict(torch.load(state_path, map_location="cpu", weights_only=True))
            except (RuntimeError, OSError, ValueError) as exc:
                raise DataFileError(
                    f"model state does not fit config.json ({exc}); the artifact is corrupt, retrain it.",
                    path=str(state_path),
                ) from exc
            network.eval()
            networks.append(network)
        model.network, model._ensemble = networks[0], networks
        model.n_users, model.n_items = model.inputs.n_users, model.inputs.n_items
        model.graph_ids = _read_graph_ids(directory / GRAPH_IDS_FILE, inputs=model.inputs)
        model._fitted = True
        return model

    # --- fold-in: score an arbitrary history without retraining (serving) ----------------------------

    def score_history(
        self,
        histories: Sequence[np.ndarray | Sequence[int]],
        *,
        user_indices: Sequence[int | None],
        item_has_tags: np.ndarray | None = None,
    ) -> np.ndarray:
        """(len(histories) × n_items) scores of users described by their item histories, without retraining.

        Each user representation is rebuilt from ``histories[b]`` (item indices; duplicates ignored,
        the *last* ``max_history`` distinct items kept, so callers list the most important/recent last):
        attention pooling over the item tower's (cached) vectors, behaviour features recomputed from
        that history (:meth:`behaviour_from_histories`) and the neighbourhood term over it. The user-id
        embedding is used for ``user_indices[b]`` known at training time and is zero for ``None`` (a
        learner who signed up after training — what the towers see for a user without id evidence).

        For a training user whose history is unchanged this reproduces :meth:`score` (up to float32
        rounding; a test checks it), provided ``item_has_tags`` is the training data's "item has tags"
        flag (``side_info.item_tags`` rows with any entry). That flag is the one behaviour input the
        artifact does not store; without it, "has any graph link" stands in for it (on Last.FM every
        tagged artist also has HAS_TAG edges, so only untagged-but-linked artists differ).
        """
        if not getattr(self, "_fitted", False):
            raise ConfigurationError(f"{self.name}: call fit() before score_history().")
        rows = self._fold_in_rows(histories)
        user_indices = list(user_indices)
        if len(user_indices) != len(rows):
            raise ConfigurationError(
                f"{self.name}: user_indices has {len(user_indices)} entries but {len(rows)} histories were given; pass one per history (None for new users)."
            )
        if not rows:
            return np.zeros((0, self.n_items), dtype=np.float32)
        width = max(1, max(len(r) for r in rows))
        padded = np.full((len(rows), width), self.n_items, dtype=np.int64)
        for b, items in enumerate(rows):
            padded[b, : len(items)] = items
        known = np.zeros(len(rows), dtype=bool)
        ids = np.zeros(len(rows), dtype=np.int64)
        for b, user in enumerate(user_indices):
            if user is None:
                continue
            if isinstance(user, bool) or not isinstance(user, (int, np.integer)) or not 0 <= int(user) < self.n_users:
                raise ConfigurationError(
                    f"{self.name}: user index {user!r} is not a training user (0..{self.n_users - 1}) or None."
                )
            known[b], ids[b] = True, int(user)
        behaviour = self._behaviour_rows(padded, item_has_tags=item_has_tags)
        neighbourhood = None
        if self.config.use_neighbourhood:
            cosine = (
                torch.from_numpy(self._history_neighbourhood(rows)) if self.config.uses_cosine_neighbourhood else None
            )
            ease = torch.from_numpy(self._history_ease(rows)) if self.config.uses_ease_neighbourhood else None
            neighbourhood = Neighbourhood(cosine=cosine, ease=ease)
        members = []
        with torch.no_grad():
            for net in self.networks():
                if net.training:
                    net.eval()
                items, padded_vectors = self._cached_item_table(net)
                id_vectors = net.user_id(torch.from_numpy(ids)) * torch.from_numpy(known).unsqueeze(1).to(torch.float32)
                user = net.user_side_from(
                    torch.from_numpy(padded), torch.from_numpy(behaviour), id_vectors, padded_vectors
                )
                members.append(net.logits(user, items, neighbourhood=neighbourhood).numpy())
        return np.ascontiguousarray(combine_member_scores(members), dtype=np.float32)

    def _history_neighbourhood(self, rows: list[np.ndarray]) -> np.ndarray:
        """``n_u(i) = Σ_{j∈H} s(j, i)`` for each history: the rows of the stored similarity summed with ``bincount``.

        The same term as :func:`.neighbourhood.neighbourhood_scores` without targets (scoring time), computed
        straight from the CSR arrays: for one user that is ~50 short slices instead of building a sparse
        matrix and a sparse product (≈10× less overhead per request).
        """
        similarity = self.inputs.item_similarity
        out = np.zeros((len(rows), self.n_items), dtype=np.float32)
        indptr, indices, data = similarity.indptr, similarity.indices, similarity.data
        for b, items in enumerate(rows):
            if not len(items):
                continue
            starts, ends = indptr[items], indptr[items + 1]
            if not (ends - starts).sum():
                continue
            positions = np.concatenate([np.arange(start, end) for start, end in zip(starts, ends)])
            out[b] = np.bincount(indices[positions], weights=data[positions], minlength=self.n_items)
        return self._with_cold_transfer(out)

    def cold_item_lenders(self, item: int, history: np.ndarray) -> list[tuple[int, float, int | None]]:
        """Why an item nobody played in training scores: the seen items that lend it their co-listening column.

        Returns ``(lender, weight, source)`` triples, strongest evidence for *this* history first:
        ``weight`` is the lender's share of the borrowed column, ``source`` the history item most
        co-listened with the lender (``None`` when the history has none). Empty for a seen item or
        when the transfer is off. Serving turns this into "new here; it resembles Y, which listeners
        of Z also play" instead of citing a popularity the item does not have.
        """
        transfer = self.inputs.cold_transfer
        if transfer.shape != (self.n_items, self.n_items) or not 0 <= item < self.n_items:
            return []
        column = transfer[:, item].tocoo()
        lenders, weights = column.row.tolist(), column.data.tolist()
        out = [
            (strength * weight, lender, float(weight), source)
            for lender, weight, (source, strength) in zip(
                lenders, weights, self.strongest_co_listeners(history, lenders), strict=True
            )
        ]
        out.sort(key=lambda row: (-row[0], -row[2], row[1]))
        return [(lender, weight, source) for _, lender, weight, source in out]

    def strongest_co_listeners(self, history: np.ndarray, items: Sequence[int]) -> list[tuple[int | None, float]]:
        """For each of ``items``: the ``history`` item most co-listened with it and that similarity (``(None, 0.0)`` if none).

        The co-listening cosine is the neighbourhood term's own evidence, so this is what serving cites in
        "listeners who play X also play Y" (first history item on ties).
        """
        similarity = self.inputs.item_similarity
        history = np.asarray(history, dtype=np.int64)
        if not len(history) or not len(items) or similarity.shape != (self.n_items, self.n_items) or not similarity.nnz:
            return [(None, 0.0) for _ in items]
        block = similarity[history][:, list(items)].toarray()  # (history × items)
        best = block.argmax(axis=0)
        strength = block[best, np.arange(block.shape[1])]
        return [
            (int(history[b]), float(v)) if v > 0 else (None, 0.0)
            for b, v in zip(best.tolist(), strength.tolist(), strict=True)
        ]

    def _with_cold_transfer(self, cosine: np.ndarray) -> np.ndarray:
        """The cosine term with unseen items' borrowed columns (:func:`.neighbourhood.with_cold_transfer`)."""
        return with_cold_transfer(cosine, transfer=self.inputs.cold_transfer, scale=self.config.cold_transfer_scale)

    def _history_ease(self, rows: list[np.ndarray]) -> np.ndarray:
        """``e_u(i) = Σ_{j∈H} B_ji`` for each history: the stored EASE rows summed (as :func:`.neighbourhood.ease_scores`)."""
        weights = self.inputs.item_ease
        out = np.zeros((len(rows), self.n_items), dtype=np.float32)
        for b, items in enumerate(rows):
            if len(items):
                out[b] = weights[items].sum(axis=0, dtype=np.float32)
        return out

    def behaviour_from_histories(
        self, histories: Sequence[np.ndarray | Sequence[int]], *, item_has_tags: np.ndarray | None = None
    ) -> np.ndarray:
        """Standardised behaviour features (:data:`BEHAVIOUR_FEATURES`) of arbitrary histories, as training computed them.

        Raw features use the *training* item statistics (popularity, long tail, tags, graph links).
        The standardisation (per-column mean and std over active training users) is not stored in the
        artifact, so it is recovered exactly by regressing the stored ``inputs.behaviour`` on the same
        raw features recomputed from the stored training histories (a linear map per column). An
        empty history gets all zeros, as in training.
        """
        rows = self._fold_in_rows(histories)
        width = max([1, *(len(r) for r in rows)])
        padded = np.full((len(rows), width), self.n_items, dtype=np.int64)
        for b, items in enumerate(rows):
            padded[b, : len(items)] = items
        return self._behaviour_rows(padded, item_has_tags=item_has_tags)

    def _fold_in_rows(self, histories: Sequence[np.ndarray | Sequence[int]]) -> list[np.ndarray]:
        rows: list[np.ndarray] = []
        for b, history in enumerate(histories):
            items = np.asarray(history)
            if items.size == 0:
                rows.append(np.zeros(0, dtype=np.int64))
                continue
            if items.ndim != 1 or not np.issubdtype(items.dtype, np.integer):
                raise ConfigurationError(
                    f"{self.name}: history {b} must be a one-dimensional list of item indices, got {items!r:.80}."
                )
            if items.min() < 0 or items.max() >= self.n_items:
                raise ConfigurationError(f"{self.name}: history {b} names an item index outside 0..{self.n_items - 1}.")
            # distinct items, keeping each one's last position, then the last max_history of them
            reversed_items = items[::-1]
            _, first = np.unique(reversed_items, return_index=True)
            kept = reversed_items[np.sort(first)][: self.config.max_history]
            rows.append(np.sort(kept).astype(np.int64))
        return rows

    def _fold_in_statistics(self, item_has_tags: np.ndarray | None) -> dict[str, np.ndarray]:
        """Per-item raw-feature inputs and the per-column affine map ``behaviour = slope·raw + intercept``."""
        has_tags_key = (
            id(self.inputs),
            None if item_has_tags is None else np.asarray(item_has_tags, dtype=bool).tobytes(),
        )
        cached = getattr(self, "_fold_in_cache", None)
        if cached is not None and cached["key"] == has_tags_key:
            return cached
        inputs = self.inputs
        n_items = self.n_items
        history = inputs.history
        valid = history < n_items
        column_counts = np.bincount(history[valid], minlength=n_items).astype(np.float64)
        popularity = inputs.item_popularity.astype(np.float64)
        if popularity.shape != (n_items,) or not popularity.any():
            popularity = column_counts  # neighbourhood term off: the stored histories hold the same counts
        has_links = np.diff(sp.csr_matrix(inputs.item_neighbours).indptr) > 0
        if inputs.item_neighbours.shape[0] != n_items:
            has_links = np.zeros(n_items, dtype=bool)
        if item_has_tags is None:
            has_tags = has_links
        else:
            has_tags = np.asarray(item_has_tags, dtype=bool)
            if has_tags.shape != (n_items,):
                raise ConfigurationError(
                    f"{self.name}: item_has_tags must have one flag per item ({n_items}), got shape {has_tags.shape}."
                )
        stats = {
            "key": has_tags_key,
            "log_popularity": np.log1p(popularity),
            "long_tail": (popularity <= LONG_TAIL_POPULARITY).astype(np.float64),
            "has_tags": has_tags.astype(np.float64),
            "has_links": has_links.astype(np.float64),
        }
        raw = self._raw_behaviour(history, stats)
        counts = valid.sum(axis=1)
        width = history.shape[1]
        # users whose stored history may be a truncated subset (exactly full rows at the cap) are left out
        exact = (counts > 0) & ((counts < width) | (width < self.config.max_history))
        if not exact.any():
            exact = counts > 0
        slope = np.ones(raw.shape[1])
        intercept = np.zeros(raw.shape[1])
        target = inputs.behaviour.astype(np.float64)
        for column in range(raw.shape[1]):
            x, y = raw[exact, column], target[exact, column]
            if len(x) == 0:
                continue
            spread = x.var()
            if spread > 1e-12:
                slope[column] = float(((x - x.mean()) * (y - y.mean())).mean() / spread)
                intercept[column] = float(y.mean() - slope[column] * x.mean())
            else:  # a constant column was only centred (std below 1e-8 divides by 1)
                intercept[column] = float((y - x).mean())
        stats["slope"], stats["intercept"] = slope, intercept
        self._fold_in_cache = stats
        return stats

    def _raw_behaviour(self, padded: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:
        n_items = self.n_items
        valid = padded < n_items
        safe_index = np.where(valid, padded, 0)
        counts = valid.sum(axis=1).astype(np.float64)
        safe = np.maximum(counts, 1.0)

        def mean_of(values: np.ndarray) -> np.ndarray:
            return np.where(valid, values[safe_index], 0.0).sum(axis=1) / safe

        log_pop = stats["log_popularity"]
        mean_log_pop = mean_of(log_pop)
        std_log_pop = np.sqrt(np.maximum(mean_of(log_pop**2) - mean_log_pop**2, 0.0))
        return np.stack(
            [
                np.log1p(counts),
                mean_log_pop,
                std_log_pop,
                mean_of(stats["long_tail"]),
                mean_of(stats["has_tags"]),
                mean_of(stats["has_links"]),
            ],
            axis=1,
        )

    def _behaviour_rows(self, padded: np.ndarray, *, item_has_tags: np.ndarray | None) -> np.ndarray:
        stats = self._fold_in_statistics(item_has_tags)
        raw = self._raw_behaviour(padded, stats)
        active = (padded < self.n_items).any(axis=1)
        out = np.where(active[:, None], raw * stats["slope"] + stats["intercept"], 0.0)
        return out.astype(np.float32)

    def _cached_item_table(self, network: JointNetwork | None = None) -> tuple[ItemSide, torch.Tensor]:
        """The inference item table of ``network`` (default: the first member) and its vectors with a zero padding row.

        Computed once per set of weights: keyed on the parameters' in-place version counters, so an
        optimiser step (or loading other weights) invalidates it; callers must hold ``torch.no_grad``.
        """
        network = self.network if network is None else network
        key = tuple(p._version for p in network.parameters())
        caches = getattr(self, "_item_table_cache", None)
        if not isinstance(caches, dict):
            caches = self._item_table_cache = {}
        cached = caches.get(id(network))
        if cached is not None and cached[0] == key:
            return cached[1]
        network.eval()
        with torch.no_grad():
            table = network.item_table()
            padded = torch.cat([table.vectors, table.vectors.new_zeros(1, table.vectors.shape[1])])
        caches[id(network)] = (key, (table, padded))
        return table, padded

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary of what was trained (for metrics.json and the command's output)."""
        history = getattr(self, "history", None)
        return {
            "parameters": int(sum(p.numel() for network in self.networks() for p in network.parameters())),
            "best_epoch": history.best_epoch if history else None,
            "stopped_early": history.stopped_early if history else None,
            "epoch_losses": history.losses if history else [],
            "epoch_loss_parts": self.loss_parts,
            "validation_recall@10": history.validation_recall if history else [],
            "averaged_epochs": getattr(self, "averaged_epochs", []),
            "ensemble_members": len(self.networks()),
            "other_members": getattr(self, "member_summaries", []),
            "neighbourhood_weights": {
                name: round(float(weight.detach()), 6)
                for name, weight in (("cosine", self.network.neighbourhood_weight), ("ease", self.network.ease_weight))
                if weight is not None
            },
            "kge_initialisation": self.kge_initialisation,
            "warm_start": self.warm_start_summary,
            "inputs": {
                "max_history": int(self.inputs.history.shape[1]),
                "behaviour_features": list(BEHAVIOUR_FEATURES),
                "unseen_items": int(self.inputs.unseen_items.sum()),
                "kg_triples": int(len(self.inputs.kg_triples)),
                "content_dim": int(self.inputs.content.shape[1]),
                "audio_dim": int(self.inputs.audio.shape[1]),
            },
        }


def _read_graph_ids(path: Path, *, inputs: JointInputs) -> dict[str, list[str]] | None:
    """The entity/relation ids of a saved model (``None`` for artifacts written before they were stored)."""
    if not path.is_file():
        return None
    data = read_json(path)
    ok = isinstance(data, dict) and all(
        isinstance(data.get(key), list) and all(isinstance(x, str) for x in data[key])
        for key in ("entities", "relations")
    )
    if not ok or len(data["entities"]) != inputs.n_entities or len(data["relations"]) != inputs.n_relations:
        raise DataFileError(
            f"must list the model's {inputs.n_entities} entity ids and {inputs.n_relations} relation types; the artifact is corrupt, retrain it.",
            path=str(path),
        )
    return {"entities": data["entities"], "relations": data["relations"]}
