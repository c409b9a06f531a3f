"""The trainable part of the joint recommender: item and user towers, the score, the KG loss.

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
normalisation); ``n_u(i)`` is the neighbourhood term (:mod:`.scoring`, :mod:`.neighbourhood`), passed in
as a :class:`Neighbourhood` because it is computed from numpy arrays outside the network.

**Why two towers and not ``F = MLP([f_user, f_item, f_graph])``:** the dot product makes scoring *all*
3,846 items one matrix product, which is what makes the full-softmax loss (every item is a negative in
every step) and full-ranking evaluation cheap on two CPU cores; a pairwise MLP would need B × N MLP
evaluations per step. The fusion MLPs live inside the towers.

**Saved artifacts depend on this module's attribute names**: every parameter's name (``item_id``,
``entities``, ``item_mlp``, ``neighbourhood_weight`` …) is a key of the ``model_state*.pt`` state dicts
(:mod:`.persistence`) and of the warm-start row matching (:data:`.warm_start.ROW_MATCHED_TABLES`).
Renaming one makes every published model fail to load.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from recommender.baselines.torch_utils import kg_contrast_loss, kg_tables_init_, mlp
from recommender.models.config import JointConfig
from recommender.models.inputs import BEHAVIOUR_FEATURES, JointInputs


class ItemSide(NamedTuple):
    """The item tower's output for every item; computed once per step (training) or per weights (serving)."""

    vectors: torch.Tensor  # (n_items × d)
    bias: torch.Tensor  # (n_items,)
    gate: torch.Tensor | None  # (n_items,) log-scale of the neighbourhood weight, if gated


class UserSide(NamedTuple):
    """The user tower's output for a batch of users (stored or folded-in histories)."""

    vectors: torch.Tensor  # (B × d)
    gate: torch.Tensor | None  # (B,)


class Neighbourhood(NamedTuple):
    """The (B × n_items) item-item terms summed over each user's history; ``None`` for a term switched off."""

    cosine: torch.Tensor | None
    ease: torch.Tensor | None


class JointNetwork(nn.Module):
    """The trainable part; parts switched off in the config have no parameters at all."""

    # Buffers registered in ``__init__`` (``persistent=False``: rebuilt from the inputs, never in a state
    # dict), declared here only so type checkers know they are tensors; ``item_entity``/``item_neighbours``
    # exist with ``use_graph``, ``content`` with ``use_content``, ``audio`` with audio vectors.
    history: torch.Tensor
    behaviour: torch.Tensor
    unseen_items: torch.Tensor
    item_entity: torch.Tensor
    item_neighbours: torch.Tensor
    content: torch.Tensor
    audio: torch.Tensor
    #: PyKEEN's TransE/ComplEx interaction (present when the KG loss is used).
    kg_interaction: nn.Module

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
            with torch.no_grad():  # in place: F.normalize's copy of the whole table cost as much again
                weight = self.entities.weight
                weight.div_(torch.linalg.vector_norm(weight, dim=-1, keepdim=True).clamp_min(1e-12))

    # --- towers -------------------------------------------------------------------------------------

    def item_table(self, *, hide_ids: torch.Tensor | None = None, items: torch.Tensor | None = None) -> ItemSide:
        """Vectors, biases (and neighbourhood gates) of every item, or of ``items`` only (in that order).

        ``hide_ids`` (one flag per item of the whole catalogue) marks items scored without their id.
        ``items`` is what the sampled softmax uses: the tower runs on the step's candidates instead of
        the whole catalogue, so a step costs the same whatever the catalogue's size.
        """
        hidden = self.unseen_items if hide_ids is None else (self.unseen_items | hide_ids)
        if items is None:
            ids, visible = self.item_id.weight, ~hidden
        else:
            ids, visible = self.item_id(items), ~hidden[items]
        parts = [ids * visible.unsqueeze(1).to(ids.dtype)]
        if self.entities is not None:
            if items is None:
                parts.append(self.entities.weight[self.item_entity])
                if self.config.graph_neighbours:
                    parts.append(torch.sparse.mm(self.item_neighbours, self.entities.weight))
            else:
                parts.extend(self._candidate_entity_parts(items))
        if self.content_projection is not None:
            parts.append(self.content_projection(self.content if items is None else self.content[items]))
        if self.audio_projection is not None:
            parts.append(self.audio_projection(self.audio if items is None else self.audio[items]))
        out = self.item_mlp(torch.cat(parts, dim=1))
        d = self.config.embedding_dim
        vectors = F.normalize(out[:, :d], dim=-1) if self.config.similarity == "cosine" else out[:, :d]
        return ItemSide(
            vectors=vectors, bias=out[:, d], gate=out[:, d + 1] if self.config.neighbourhood_gates else None
        )

    def _candidate_entity_parts(self, items: torch.Tensor) -> list[torch.Tensor]:
        """The entity vector (and neighbour mean) of each of ``items``, from ONE gather of the rows they use.

        Why: indexing the entity table and multiplying it by the neighbour matrix each give a backward
        pass a dense gradient the size of the whole table (184k rows at 16× Last.FM), so a step cost
        grew with the graph, not with the step. Gathering the used rows once makes the table-sized
        work one scatter; the vectors are the same numbers.
        """
        assert self.entities is not None
        entity = self.item_entity[items]
        if not self.config.graph_neighbours:
            return [self.entities.weight[entity]]
        neighbours = self.item_neighbours.index_select(0, items).coalesce()
        index = neighbours.indices()
        used, positions = torch.unique(torch.cat([entity, index[1]]), return_inverse=True)
        rows = self.entities.weight[used]
        # ``used`` is sorted, so renumbering the columns keeps the coalesced order
        local = torch.sparse_coo_tensor(
            torch.stack([index[0], positions[len(entity) :]]),
            neighbours.values(),
            (len(items), len(used)),
            is_coalesced=True,
            check_invariants=False,
        )
        return [rows[positions[: len(entity)]], torch.sparse.mm(local, rows)]

    def user_side(
        self,
        users: torch.Tensor,
        item_vectors: torch.Tensor,
        *,
        exclude: torch.Tensor | None = None,
        history_dropout: float = 0.0,
        item_positions: torch.Tensor | None = None,
    ) -> UserSide:
        """User tower for ``users``; ``exclude`` (one item per user) is removed from that user's history.

        ``item_vectors`` are every item's vectors, or (sampled softmax) only some items' vectors, with
        ``item_positions`` ((n_items + 1,) : the row of each item in ``item_vectors``, the padding index
        ``n_items`` mapped to ``len(item_vectors)``); every history item of ``users`` must have a row.
        """
        history = self.history[users]  # (B, L), padded with n_items
        mask = history < self.n_items
        if exclude is not None:
            mask &= history != exclude.unsqueeze(1)
        if history_dropout > 0:
            mask &= torch.rand(mask.shape) >= history_dropout
        if item_positions is not None:
            history = item_positions[history]
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

    def _kg_scores(self, positive: torch.Tensor, negative: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The interaction scores of both triple sets, with ONE lookup per table.

        Why: every lookup's backward writes a dense gradient the size of the whole entity table (184k
        rows at 16× Last.FM), so four lookups per step cost four table-sized fills and three additions;
        one lookup costs one. The scores are the same numbers.
        """
        assert self.entities is not None and self.relations is not None
        flat = torch.cat([positive.reshape(-1, 3), negative.reshape(-1, 3)])
        entities = self.entities(torch.cat([flat[:, 0], flat[:, 2]]))
        relations = self.relations(flat[:, 1])
        scores = self.kg_interaction(
            self._view(entities[: len(flat)]), self._view(relations), self._view(entities[len(flat) :])
        )
        split = positive.reshape(-1, 3).shape[0]
        return scores[:split].reshape(positive.shape[:-1]), scores[split:].reshape(negative.shape[:-1])

    def kg_loss(self, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        """TransE: margin ranking (PyKEEN's default); ComplEx: softplus with L2 on the used vectors (weight 0.01)."""
        positive_scores, negative_scores = self._kg_scores(positive, negative)
        loss = kg_contrast_loss(
            positive_scores, negative_scores, is_complex=self.is_complex, margin=self.config.kg_margin
        )
        if not self.is_complex:
            return loss
        assert self.entities is not None and self.relations is not None  # _kg_scores needed them already
        used = torch.cat([positive[:, [0, 2]].ravel(), negative[..., [0, 2]].ravel()])
        penalty = self.entities(used).pow(2).sum(-1).mean() + self.relations(positive[:, 1]).pow(2).sum(-1).mean()
        return loss + 0.01 * penalty
