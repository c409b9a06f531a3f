"""Training of the joint model: one ensemble member at a time, ``L = L_rec + λ·L_kg``, early stopping.

**Objective.** ``L_rec`` (default) is the full softmax over items of each training pair (u, i) with
``i`` left out of the user's history and the user's *other* training items removed from the softmax —
the same question evaluation asks ("given the history, which unseen item comes next?"); items without
any training interaction are left out of the softmax too (no evidence either way; as permanent
negatives they taught the graph/content parts to push each cold item away from the users it suits).
A second softmax on the towers' logits alone (``tower_loss_weight``) keeps the towers a complete
recommender, since cold items have no neighbourhood term to lean on. BPR with one sampled negative
is the alternative to the softmax. ``L_kg`` is PyKEEN's TransE (margin ranking, unit-norm entities)
or ComplEx (softplus + L2) on a batch of KG triples with corrupted heads/tails, in the same step.
Early stopping watches validation Recall@10 and keeps the best epoch's weights (or, with
``average_epochs``, the mean of the best epochs' weights).

Why free of the recommender class: a member's training needs only the config, the fixed inputs, its
own network and random streams; keeping it here means the model class (:mod:`.joint`) only decides
*which* members to train and what to keep, and the order in which random numbers are drawn — which
makes a seed reproduce bit-identical weights — is visible in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from torch.nn import functional as F

from recommender.base import TrainingContext
from recommender.baselines.torch_utils import (
    InteractionSampler,
    TrainingHistory,
    bpr_loss,
    seeded_torch,
    train_module,
    validation_recall,
    validation_users,
)
from recommender.models.config import JointConfig
from recommender.models.inputs import JointInputs
from recommender.models.kge_init import initialise_from_kge_
from recommender.models.network import ItemSide, JointNetwork
from recommender.models.scoring import stored_neighbourhood, stored_user_scores

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pykeen.sampling import BasicNegativeSampler

    from kg.embeddings.artifacts import KgeArtifact
    from recommender.models.warm_start import JointWarmStart


@dataclass(eq=False)
class FittedMember:
    """One trained (or, without optimisation, only initialised) ensemble member and what its training recorded.

    ``kge_initialisation`` / ``warm_start_summary`` are ``None`` when that initialisation did not run,
    so the caller can keep what an earlier fit reported (as the model always did).
    """

    network: JointNetwork
    history: TrainingHistory
    #: Mean L_rec and L_kg per epoch.
    loss_parts: list[dict[str, float]]
    #: Epochs whose weights were averaged (or the best epoch alone).
    averaged_epochs: list[int]
    seed: int
    kge_initialisation: dict[str, Any] | None = None
    warm_start_summary: dict[str, Any] | None = None


def member_seed(seed: int, member: int) -> int:
    """Seed of ensemble member ``member``: member 0 is exactly the single model's run, the others draw from ``(seed, member)``.

    Why ``SeedSequence``: no member repeats another run's member 0 (seed + 1 would).
    """
    return seed if member == 0 else int(np.random.SeedSequence([seed, member]).generate_state(1)[0])


def fit_member(
    train: sp.csr_matrix,
    *,
    seed: int,
    rng: np.random.Generator,
    context: TrainingContext,
    inputs: JointInputs,
    config: JointConfig,
    model: str,
    kge_artifact: KgeArtifact | None = None,
    warm_start: JointWarmStart | None = None,
    member: int = 0,
    optimise: bool = True,
) -> FittedMember:
    """Initialise one network (fresh → KGE artifact → warm start) and, when ``optimise``, train it.

    Everything that draws torch random numbers runs under ``seeded_torch(seed)``; ``rng`` drives the
    batch order, KG triple order and negatives. ``model`` names the recommender in messages.
    """
    c = config
    validation = (
        sp.csr_matrix(context.validation) if context.validation is not None and context.validation.nnz else None
    )

    def score_alone(users: np.ndarray) -> np.ndarray:
        return stored_user_scores([network], users, inputs=inputs, config=c)

    kge_initialisation = warm_start_summary = None
    with seeded_torch(seed):
        network = JointNetwork(config=c, inputs=inputs)
        if kge_artifact is not None and c.use_graph:
            assert context.side_info is not None
            kge_initialisation = initialise_from_kge_(
                network, kge_artifact, side_info=context.side_info, config=c, model=model
            )
        if warm_start is not None:
            # no re-normalisation: every source row (parent, KGE artifact, fresh) is already unit-norm for TransE
            warm_start_summary = warm_start.apply_(network, member=member)
            if validation is not None:
                network.eval()
                warm_start_summary["validation_recall@10_at_start"] = validation_recall(
                    score_alone, train=train, validation=validation
                )
        if not optimise:
            network.eval()
            return FittedMember(network, TrainingHistory(), [], [], seed, kge_initialisation, warm_start_summary)
        trainer = MemberTrainer(network=network, inputs=inputs, config=c, rng=rng)
        history = trainer.train(train, validation=validation, score=score_alone, model=model)
        averaged_epochs = trainer.average_best_epochs(history)
    network.eval()
    return FittedMember(
        network, history, trainer.loss_parts, averaged_epochs, seed, kge_initialisation, warm_start_summary
    )


class SampledCandidates(NamedTuple):
    """One sampled-softmax step: the items its towers run on and the items its softmax scores.

    ``tower_items`` (sorted) are the batch's targets, every history item of its users (the user tower
    pools over them) and the uniform draws; ``tower_positions`` maps an item index to its row there
    (``n_items``, the history padding, to ``len(tower_items)``). ``columns`` (sorted) are the items the
    softmax scores, the targets (in-batch negatives for the other rows) and the uniform draws;
    ``column_rows`` are their rows in ``tower_items``, ``column_positions`` maps an item index to its
    column (anything else to ``len(columns)``), ``log_q`` is each column's ``log Q``.
    """

    tower_items: torch.Tensor
    tower_positions: torch.Tensor
    columns: torch.Tensor
    column_rows: torch.Tensor
    column_positions: torch.Tensor
    log_q: torch.Tensor


class MemberTrainer:
    """The optimisation of one network: batches, the two losses, Adam groups and epoch averaging.

    Why an object: an epoch's batch losses are produced lazily for :func:`train_module`, and the
    per-epoch loss parts and validation snapshots have to outlive each epoch.
    """

    def __init__(
        self, *, network: JointNetwork, inputs: JointInputs, config: JointConfig, rng: np.random.Generator
    ) -> None:
        self.network = network
        self.inputs = inputs
        self.config = config
        self.rng = rng
        #: Mean L_rec and L_kg per epoch.
        self.loss_parts: list[dict[str, float]] = []
        #: (validation recall, epoch, weights) of each validated epoch, kept only with ``average_epochs > 1``.
        self._snapshots: list[tuple[float, int, dict[str, torch.Tensor]]] = []
        #: The loss this catalogue trains with (``JointConfig.rec_loss_for``).
        self.rec_loss = config.rec_loss_for(inputs.n_items)
        #: Sampled softmax: the seen items negatives are drawn from and every item's ``log Q`` (built once).
        self._seen_items: np.ndarray | None = None
        self._log_q = torch.zeros(0)

    def train(
        self,
        train: sp.csr_matrix,
        *,
        validation: sp.csr_matrix | None,
        score: Callable[[np.ndarray], np.ndarray],
        model: str,
    ) -> TrainingHistory:
        """Run :func:`train_module` (early stopping on ``validation`` Recall@10 via ``score``) and return its history."""
        c = self.config
        sampler = InteractionSampler(train, rng=self.rng)
        kg_sampler = self._kg_sampler() if c.uses_kg_loss and len(self.inputs.kg_triples) else None
        evaluate = None
        if validation is not None:
            watched = validation_users(validation)
            if 0 < c.max_validation_users < len(watched):
                # its own stream, so sampling validation users leaves the training draws unchanged
                watched = np.sort(
                    np.random.default_rng(len(watched)).choice(watched, c.max_validation_users, replace=False)
                )

            def evaluate() -> float:
                recall = validation_recall(score, train=train, validation=validation, users=watched)
                if c.average_epochs > 1:
                    state = {key: value.detach().clone() for key, value in self.network.state_dict().items()}
                    self._snapshots.append((recall, len(self._snapshots) + 1, state))
                return recall

        self.loss_parts = []
        self._snapshots = []
        # fused: one pass over each tensor instead of six (the entity table dominates a step at scale)
        optimizer = torch.optim.Adam(
            self._parameter_groups(), lr=c.learning_rate, weight_decay=c.weight_decay, fused=True
        )
        return train_module(
            model_name=model,
            module=self.network,
            optimizer=optimizer,
            epochs=c.epochs,
            epoch_losses=lambda: self._epoch_losses(sampler, kg_sampler),
            evaluate=evaluate,
            patience=c.patience,
            after_step=self.network.normalise_entities,
        )

    def average_best_epochs(self, history: TrainingHistory) -> list[int]:
        """Load the mean weights of the ``average_epochs`` best-validated epochs; returns their numbers (sorted).

        Without snapshots (no validation, or ``average_epochs=1``) the early-stopping weights stay.
        TransE entity vectors are re-projected to unit norm after averaging, as after every step.
        """
        snapshots, self._snapshots = self._snapshots, []
        if self.config.average_epochs <= 1 or not snapshots:
            return [history.best_epoch] if history.best_epoch else []
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

    def _kg_sampler(self) -> BasicNegativeSampler:
        from pykeen.sampling import BasicNegativeSampler

        return BasicNegativeSampler(
            mapped_triples=torch.from_numpy(self.inputs.kg_triples),
            num_entities=self.inputs.n_entities,
            num_relations=max(self.inputs.n_relations, 1),
            num_negs_per_pos=self.config.kg_negatives,
        )

    def _epoch_losses(
        self, sampler: InteractionSampler, kg_sampler: BasicNegativeSampler | None
    ) -> Iterator[torch.Tensor]:
        """One epoch's batch losses ``L_rec (+ tower softmax) + λ·L_kg``; records the epoch's mean parts when done."""
        c, net, rng = self.config, self.network, self.rng
        n_steps = math.ceil(len(sampler) / c.batch_size)
        kg_order = rng.permutation(len(self.inputs.kg_triples)) if kg_sampler is not None else None
        kg_batch = c.kg_batch_size or (math.ceil(len(kg_order) / n_steps) if kg_order is not None else 0)
        kg_triples = torch.from_numpy(self.inputs.kg_triples)
        totals = {"rec": 0.0, "kg": 0.0}
        sampled = self.rec_loss == "sampled_softmax"
        for step, index in enumerate(sampler.shuffled_batches(c.batch_size)):
            users = torch.from_numpy(sampler.users[index])
            items = torch.from_numpy(sampler.items[index])
            hide = torch.rand(net.n_items) < c.item_id_dropout if c.item_id_dropout > 0 else None
            candidates = self._candidates(sampler.users[index], sampler.items[index]) if sampled else None
            if candidates is None:
                item_side = net.item_table(hide_ids=hide)
                user_side = net.user_side(users, item_side.vectors, exclude=items, history_dropout=c.history_dropout)
            else:
                tower_side = net.item_table(hide_ids=hide, items=candidates.tower_items)
                user_side = net.user_side(
                    users,
                    tower_side.vectors,
                    exclude=items,
                    history_dropout=c.history_dropout,
                    item_positions=candidates.tower_positions,
                )
                rows = candidates.column_rows
                item_side = ItemSide(
                    vectors=tower_side.vectors[rows],
                    bias=tower_side.bias[rows],
                    gate=None if tower_side.gate is None else tower_side.gate[rows],
                )
            neighbourhood = stored_neighbourhood(
                sampler.users[index],
                inputs=self.inputs,
                config=c,
                targets=sampler.items[index],
                columns=None if candidates is None else candidates.columns.numpy(),
            )
            logits = net.logits(user_side, item_side, neighbourhood=neighbourhood)
            rec = self._rec_loss(logits, users, items, sampler, candidates)
            if neighbourhood is not None and c.tower_loss_weight > 0:
                # the towers alone must rank well too: for cold items they are all there is
                tower_logits = net.logits(user_side, item_side, neighbourhood=None)
                rec = rec + c.tower_loss_weight * self._rec_loss(tower_logits, users, items, sampler, candidates)
            loss = rec
            totals["rec"] += float(rec.detach())
            if kg_sampler is not None and kg_order is not None and c.uses_kg_loss:
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

    def _candidates(self, users: np.ndarray, items: np.ndarray) -> SampledCandidates:
        """The items of one sampled-softmax step (see :class:`SampledCandidates`).

        Why history items feed the towers but not the softmax: a batch's histories cover most of a
        small catalogue, so scoring them all would make the "sampled" softmax a full one again. Drawn
        from ``self.rng`` after the batch order, so a seed still fixes every step.
        """
        net, c = self.network, self.config
        if self._seen_items is None:
            popularity = np.bincount(self.inputs.history[self.inputs.history < net.n_items], minlength=net.n_items)
            self._seen_items = np.flatnonzero(~self.inputs.unseen_items.astype(bool))
            # expected number of times each item is a column of one step: targets arrive in proportion
            # to their popularity, uniform draws with K / |seen|
            share = popularity / max(float(popularity.sum()), 1.0)
            expected = c.batch_size * share + min(1.0, c.sampled_negatives / max(len(self._seen_items), 1))
            self._log_q = torch.from_numpy(np.log(np.clip(expected, 1e-6, 1.0)).astype(np.float32))
        history = self.inputs.history[users]
        drawn = self._seen_items[self.rng.integers(0, len(self._seen_items), size=c.sampled_negatives)]
        columns = np.unique(np.concatenate([items, drawn]))
        tower_items = np.union1d(columns, history[history < net.n_items])
        tower_positions = np.full(net.n_items + 1, len(tower_items), dtype=np.int64)
        tower_positions[tower_items] = np.arange(len(tower_items))
        column_positions = np.full(net.n_items + 1, len(columns), dtype=np.int64)
        column_positions[columns] = np.arange(len(columns))
        columns_tensor = torch.from_numpy(columns.astype(np.int64))
        return SampledCandidates(
            tower_items=torch.from_numpy(tower_items.astype(np.int64)),
            tower_positions=torch.from_numpy(tower_positions),
            columns=columns_tensor,
            column_rows=torch.from_numpy(tower_positions[columns]),
            column_positions=torch.from_numpy(column_positions),
            log_q=self._log_q[columns_tensor],
        )

    def _rec_loss(
        self,
        logits: torch.Tensor,
        users: torch.Tensor,
        items: torch.Tensor,
        sampler: InteractionSampler,
        candidates: SampledCandidates | None = None,
    ) -> torch.Tensor:
        """Full softmax without the user's other training items (and, by default, unseen items), its sampled form, or BPR.

        Sampled: ``logits`` has one column per candidate; the user's other training items are removed
        as in the full softmax and every logit is corrected by ``− log Q`` (see ``sampled_negatives``).
        Candidates are seen items only, so ``unseen_items_as_negatives`` has nothing to add there.
        """
        net = self.network
        if candidates is not None:
            history = net.history[users]
            # the user's other training items among the columns are masked; the rest land on the dropped extra column
            others = candidates.column_positions[history.masked_fill(history == items.unsqueeze(1), net.n_items)]
            padded = torch.cat([logits - candidates.log_q, logits.new_zeros(len(users), 1)], dim=1)
            logits = padded.scatter(1, others, float("-inf"))[:, :-1]
            return F.cross_entropy(logits, candidates.column_positions[items])
        if self.rec_loss == "softmax":
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
