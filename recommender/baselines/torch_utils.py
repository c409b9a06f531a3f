"""Everything the PyTorch baselines share: seeding, negative sampling, batching, the training loop
with early stopping on validation Recall@k, and batched all-items scoring.

Why one module: BPR-MF, NeuMF, Wide & Deep and the KGE baseline differ only in their network and
loss; sampling, the optimisation loop, early stopping and determinism are written once here so a fix
lands in all of them.

Determinism: training runs inside :func:`seeded_torch`, which forks the global torch RNG (callers'
random state is untouched), seeds it, and turns on ``torch.use_deterministic_algorithms``; numpy
sampling uses a ``np.random.Generator`` from the same seed. Thread count is whatever
``torch.set_num_threads`` says (2 on this machine); results are reproducible for a fixed thread count.
"""

from __future__ import annotations

import contextlib
import math
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from core.errors import ConfigurationError
from recommender.base import TrainingContext
from recommender.baselines import params as check
from recommender.baselines.base import BaselineRecommender

#: Early stopping watches Recall@10 on the validation matrix (the project's headline cut-off).
VALIDATION_CUTOFF = 10
#: Early stopping scores at most this many validation users (a fixed, seeded sample): scoring every
#: user through an MLP after every epoch would cost more than the epoch itself.
VALIDATION_MAX_USERS = 512


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Seed torch for the block and make its kernels deterministic, then restore the caller's state."""
    previous = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)


# --- negative sampling and batching -----------------------------------------------------------------


class InteractionSampler:
    """Training pairs of a binary matrix plus uniformly drawn items the user did *not* interact with.

    Negatives are drawn by rejection: draw uniformly, redraw the ones that hit a training positive
    (membership is a binary search in the sorted ``user * n_items + item`` keys), up to
    ``max_rounds`` times. Only a user who has interacted with (almost) every item can keep a
    positive among the "negatives"; that cannot happen on real data and merely adds noise.
    """

    def __init__(self, train: sp.csr_matrix, *, rng: np.random.Generator, max_rounds: int = 25) -> None:
        coo = train.tocoo()
        self.n_users, self.n_items = train.shape
        self.users = coo.row.astype(np.int64)
        self.items = coo.col.astype(np.int64)
        self._keys = np.sort(self.users * self.n_items + self.items)
        self.rng = rng
        self.max_rounds = max_rounds

    def __len__(self) -> int:
        return len(self.users)

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        position = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return self._keys[position] == keys

    def negatives(self, users: np.ndarray, n_negatives: int) -> np.ndarray:
        """(len(users) × n_negatives) item indices not in each user's training set."""
        candidates = self.rng.integers(0, self.n_items, size=(len(users), n_negatives))
        owners = np.broadcast_to(users[:, None], candidates.shape)
        for _ in range(self.max_rounds):
            clash = self.is_positive(owners, candidates)
            if not clash.any():
                break
            candidates[clash] = self.rng.integers(0, self.n_items, size=int(clash.sum()))
        return candidates

    def shuffled_batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Indices into the positive pairs, shuffled, ``batch_size`` at a time (one epoch)."""
        order = self.rng.permutation(len(self.users))
        for start in range(0, len(order), batch_size):
            yield order[start : start + batch_size]

    def pairwise_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One epoch of (users, positive items, negative items) for BPR-style losses."""
        for index in self.shuffled_batches(batch_size):
            users = self.users[index]
            negatives = self.negatives(users, 1)[:, 0]
            yield torch.from_numpy(users), torch.from_numpy(self.items[index]), torch.from_numpy(negatives)

    def pointwise_batches(
        self, batch_size: int, n_negatives: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One epoch of (users, items, labels): each positive followed by ``n_negatives`` sampled zeros."""
        for index in self.shuffled_batches(batch_size):
            users = self.users[index]
            negatives = self.negatives(users, n_negatives)
            all_users = np.concatenate([users, np.repeat(users, n_negatives)])
            all_items = np.concatenate([self.items[index], negatives.ravel()])
            labels = np.concatenate([np.ones(len(users)), np.zeros(negatives.size)]).astype(np.float32)
            yield torch.from_numpy(all_users), torch.from_numpy(all_items), torch.from_numpy(labels)


# --- validation metric and early stopping -----------------------------------------------------------


def validation_recall(
    score_users: Callable[[np.ndarray], np.ndarray],
    *,
    train: sp.csr_matrix,
    validation: sp.csr_matrix,
    k: int = VALIDATION_CUTOFF,
    users: np.ndarray | None = None,
    batch_size: int = 256,
) -> float:
    """Mean Recall@k over ``users`` (default: all users with validation items), train items excluded.

    Recall here is hits / |validation items of the user|. It only steers early stopping; reported
    metrics come from the evaluation package.
    """
    if users is None:
        users = validation_users(validation)
    if len(users) == 0:
        return 0.0
    total = 0.0
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = np.array(score_users(batch), dtype=np.float32, copy=True)
        seen = train[batch].tocoo()
        scores[seen.row, seen.col] = -np.inf
        top = np.argpartition(-scores, kth=min(k, scores.shape[1] - 1), axis=1)[:, :k]
        truth = validation[batch].toarray()
        hits = np.take_along_axis(truth, top, axis=1).sum(axis=1)
        total += float(np.sum(hits / np.maximum(truth.sum(axis=1), 1)))
    return total / len(users)


def validation_users(
    validation: sp.csr_matrix, *, max_users: int | None = None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Users with at least one validation item; a sorted random sample of ``max_users`` of them if given."""
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    if max_users is not None and len(users) > max_users:
        if rng is None:
            raise ValueError("validation_users needs an rng to sample users")
        users = np.sort(rng.choice(users, size=max_users, replace=False))
    return users


class EarlyStopping:
    """Remember the best validation score and weights; stop after ``patience`` evaluations without gain."""

    def __init__(self, *, patience: int) -> None:
        self.patience = patience
        self.best_score = -math.inf
        self.best_epoch: int | None = None
        self._best_state: dict[str, torch.Tensor] | None = None
        self._evaluations_without_gain = 0

    def update(self, *, epoch: int, score: float, module: nn.Module) -> bool:
        """Record ``score``; return True when training should stop."""
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self._best_state = {key: value.detach().clone() for key, value in module.state_dict().items()}
            self._evaluations_without_gain = 0
            return False
        self._evaluations_without_gain += 1
        return self._evaluations_without_gain >= self.patience

    def restore_best(self, module: nn.Module) -> None:
        if self._best_state is not None:
            module.load_state_dict(self._best_state)


@dataclass
class TrainingHistory:
    """What happened during training, kept on the model (``model.history``) for reports."""

    losses: list[float] = field(default_factory=list)
    #: (epoch, validation Recall@k) after each epoch, when a validation matrix was given.
    validation_recall: list[tuple[int, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False


def train_module(
    *,
    model_name: str,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    epoch_losses: Callable[[], Iterable[torch.Tensor]],
    evaluate: Callable[[], float] | None = None,
    patience: int = 3,
    after_step: Callable[[], None] | None = None,
) -> TrainingHistory:
    """Mini-batch training: ``epoch_losses()`` yields one loss tensor per batch of an epoch.

    With ``evaluate`` (validation Recall@k), the weights of the best epoch are restored at the end and
    training stops after ``patience`` epochs without improvement.
    """
    history = TrainingHistory()
    stopper = EarlyStopping(patience=patience) if evaluate is not None else None
    progress = tqdm(range(1, epochs + 1), desc=f"{model_name} epochs", unit="epoch", leave=False, disable=None)
    for epoch in progress:
        module.train()
        total, batches = 0.0, 0
        for loss in epoch_losses():
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            total += float(loss.detach())
            batches += 1
        mean_loss = total / max(batches, 1)
        if not math.isfinite(mean_loss):
            raise ConfigurationError(
                f"{model_name}: the training loss became {mean_loss} at epoch {epoch}; lower learning_rate or raise regularisation."
            )
        history.losses.append(mean_loss)
        postfix = {"loss": f"{mean_loss:.4f}"}
        if stopper is not None:
            module.eval()
            assert evaluate is not None  # there is a stopper only with evaluate
            with torch.no_grad():
                recall = evaluate()
            history.validation_recall.append((epoch, recall))
            postfix[f"val_recall@{VALIDATION_CUTOFF}"] = f"{recall:.4f}"
            if stopper.update(epoch=epoch, score=recall, module=module):
                history.stopped_early = epoch < epochs
                progress.set_postfix(postfix)
                break
        progress.set_postfix(postfix)
    progress.close()
    if stopper is not None:
        stopper.restore_best(module)
        history.best_epoch = stopper.best_epoch
    module.eval()
    return history


# --- losses --------------------------------------------------------------------------------------------


def bpr_loss(difference: torch.Tensor) -> torch.Tensor:
    """−log σ(x̂_ui − x̂_uj), written as softplus(−d).

    Why not ``F.logsigmoid`` / ``F.binary_cross_entropy_with_logits``: their CPU kernel opens an
    OpenMP parallel region even for a few hundred numbers; on a busy 2-core machine that made each
    call ~100× slower (15 ms instead of 0.1 ms). ``softplus`` is the same maths without that cost.
    """
    return F.softplus(-difference).mean()


def binary_cross_entropy_with_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean BCE on logits, = softplus(x) − y·x (numerically stable); see :func:`bpr_loss` for why."""
    return (F.softplus(logits) - labels * logits).mean()


# --- batched scoring of all items ---------------------------------------------------------------------


def pairwise_mlp_scores(
    user_hidden: torch.Tensor,
    item_hidden: torch.Tensor,
    head: Callable[[torch.Tensor], torch.Tensor],
    *,
    max_elements: int = 1 << 23,
) -> torch.Tensor:
    """Run an MLP over every (user, item) pair without a Python loop over items.

    The first layer of an MLP on ``[user features ‖ item features]`` splits into a user part and an
    item part (W·[u ‖ i] + b = W_u·u + W_i·i + b), so callers pass those pre-activations
    (B × h and N × h); this function adds them by broadcasting, applies ReLU and ``head`` (the rest of
    the MLP ending in one output). Users are processed in chunks so at most ``max_elements`` floats
    of B × N × h are alive at once.
    """
    n_items, hidden = item_hidden.shape
    chunk = max(1, max_elements // max(n_items * hidden, 1))
    parts = []
    for start in range(0, user_hidden.shape[0], chunk):
        pairs = torch.relu(user_hidden[start : start + chunk, None, :] + item_hidden[None, :, :])
        parts.append(head(pairs).squeeze(-1))
    return torch.cat(parts, dim=0)


def mlp(sizes: list[int], *, dropout: float = 0.0) -> nn.Sequential:
    """Linear → ReLU (→ Dropout) stack over ``sizes`` (input first); no activation after the last layer."""
    layers: list[nn.Module] = []
    for index, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(size_in, size_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


# --- knowledge-graph embedding tables shared by KGE-only and the joint model ------------------------


def kg_tables_init_(entities: nn.Embedding, relations: nn.Embedding, *, is_complex: bool) -> None:
    """PyKEEN's initialisation: ComplEx N(0, 0.1); TransE Xavier-uniform with unit-norm relations and entities."""
    if is_complex:
        nn.init.normal_(entities.weight, std=0.1)
        nn.init.normal_(relations.weight, std=0.1)
        return
    nn.init.xavier_uniform_(entities.weight)
    nn.init.xavier_uniform_(relations.weight)
    with torch.no_grad():
        relations.weight.copy_(F.normalize(relations.weight, dim=-1))
        entities.weight.copy_(F.normalize(entities.weight, dim=-1))


def kg_contrast_loss(
    positive_scores: torch.Tensor, negative_scores: torch.Tensor, *, is_complex: bool, margin: float
) -> torch.Tensor:
    """PyKEEN's default losses, without regularisation (the caller adds its own).

    TransE: margin ranking of each positive triple against its corrupted ones (``negative_scores`` has
    one row per positive); ComplEx: binary cross-entropy, positives labelled 1 and negatives 0.
    """
    if not is_complex:
        expanded = positive_scores[:, None].expand_as(negative_scores)
        return F.margin_ranking_loss(expanded, negative_scores, torch.ones_like(negative_scores), margin=margin)
    scores = torch.cat([positive_scores, negative_scores.ravel()])
    labels = torch.cat([torch.ones_like(positive_scores), torch.zeros_like(negative_scores.ravel())])
    return binary_cross_entropy_with_logits(scores, labels)


# --- base class of the torch baselines -----------------------------------------------------------------


class TorchRecommender(BaselineRecommender):
    """Fit/score plumbing of the torch baselines: seeding, sampler, optimiser, early stopping.

    Subclasses set their own hyper-parameters plus the common ones checked by
    :meth:`_init_training` (epochs, batch_size, learning_rate, patience), and implement
    :meth:`_build` (the network), :meth:`_epoch_losses` (one epoch of batch losses) and
    :meth:`_score_tensor` (all-items scores for a batch of users, as batched matrix ops).
    """

    network: nn.Module
    history: TrainingHistory

    def _init_training(
        self, *, epochs: int, batch_size: int, learning_rate: float, patience: int, weight_decay: float = 0.0
    ) -> None:
        self.epochs = check.positive_int(self.name, "epochs", epochs)
        self.batch_size = check.positive_int(self.name, "batch_size", batch_size)
        self.learning_rate = check.positive_float(self.name, "learning_rate", learning_rate)
        self.patience = check.positive_int(self.name, "patience", patience)
        self.weight_decay = check.positive_float(self.name, "weight_decay", weight_decay, allow_zero=True)

    @abstractmethod
    def _build(self, train: sp.csr_matrix, context: TrainingContext) -> nn.Module: ...

    @abstractmethod
    def _epoch_losses(self, sampler: InteractionSampler) -> Iterable[torch.Tensor]: ...

    @abstractmethod
    def _score_tensor(self, users: torch.Tensor) -> torch.Tensor: ...

    def _optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)

    def _after_step(self) -> None:
        """Hook for constraints applied after each optimiser step (e.g. TransE's unit-norm entities)."""

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        rng = np.random.default_rng(seed)
        with seeded_torch(seed):
            self.network = self._build(train, context)
            sampler = InteractionSampler(train, rng=rng)
            evaluate = None
            if context.validation is not None and context.validation.nnz:
                validation = context.validation
                users = validation_users(validation, max_users=VALIDATION_MAX_USERS, rng=rng)

                def evaluate() -> float:
                    return validation_recall(self._score_numpy, train=train, validation=validation, users=users)

            self.history = train_module(
                model_name=self.name,
                module=self.network,
                optimizer=self._optimizer(),
                epochs=self.epochs,
                epoch_losses=lambda: self._epoch_losses(sampler),
                evaluate=evaluate,
                patience=self.patience,
                after_step=self._after_step,
            )

    def _score_numpy(self, users: np.ndarray) -> np.ndarray:
        self.network.eval()
        with torch.no_grad():
            return self._score_tensor(torch.as_tensor(users, dtype=torch.long)).numpy()

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._score_numpy(users)


class PointwiseNetwork(Protocol):
    """What :class:`PointwiseTorchRecommender` calls on its network (an ``nn.Module`` built by ``_build``)."""

    def pair_logits(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor: ...

    def all_item_logits(self, users: torch.Tensor) -> torch.Tensor: ...


class PointwiseTorchRecommender(TorchRecommender):
    """NCF-style training shared by NeuMF and Wide & Deep: binary cross-entropy on each observed pair
    and ``n_negatives`` sampled unobserved items; the network provides ``pair_logits(users, items)``
    for training and ``all_item_logits(users)`` for scoring."""

    n_negatives: int

    def _epoch_losses(self, sampler: InteractionSampler) -> Iterator[torch.Tensor]:
        network = cast(PointwiseNetwork, self.network)
        for users, items, labels in sampler.pointwise_batches(self.batch_size, self.n_negatives):
            yield binary_cross_entropy_with_logits(network.pair_logits(users, items), labels)

    def _score_tensor(self, users: torch.Tensor) -> torch.Tensor:
        return cast(PointwiseNetwork, self.network).all_item_logits(users)
