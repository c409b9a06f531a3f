"""Scores of the joint model's networks: the neighbourhood terms of stored users and the ensemble mean.

Why a module of its own: training (validation recall for early stopping), :meth:`JointKGRecommender.score`
and the fold-in all score through these same functions, so a fitted model, a reloaded artifact and a
served request rank with one piece of code. The networks hold the towers (:mod:`.network`); the
item-item terms are numpy over the fixed :class:`~recommender.models.inputs.JointInputs`, and the mean
over ensemble members lives here because every caller combines members the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from recommender.models.config import JointConfig
from recommender.models.inputs import JointInputs
from recommender.models.neighbourhood import ease_scores, neighbourhood_scores, with_cold_transfer
from recommender.models.network import JointNetwork, Neighbourhood


def combine_member_scores(members: list[np.ndarray]) -> np.ndarray:
    """One member: its scores unchanged. Several: the mean of each member's per-user standardised scores.

    Why standardise: every member's logits carry its own learned temperature-like scale (cosine / τ
    plus its own neighbourhood weight and biases), so a plain mean would let the most confident
    member dominate; z-scores per user row put each member's ranking on one footing.
    """
    if len(members) == 1:
        return members[0]
    # The same arithmetic as ``(s - s.mean()) / s.std()`` (bit for bit), with each mean computed once
    # and the centring done in place: half the cost of a batch at 60k items.
    total = np.zeros(members[0].shape, dtype=np.float64)
    for scores in members:
        centred = scores.astype(np.float64)
        n = centred.shape[1]
        np.subtract(centred, np.add.reduce(centred, axis=1, keepdims=True) / n, out=centred)
        spread = np.sqrt(np.add.reduce(centred * centred, axis=1, keepdims=True) / n)
        centred /= np.where(spread > 0, spread, 1.0)
        total += centred
    total /= len(members)
    return total.astype(np.float32)


def cold_transferred(cosine: np.ndarray, *, inputs: JointInputs, config: JointConfig) -> np.ndarray:
    """The cosine term with unseen items' borrowed columns (:func:`.neighbourhood.with_cold_transfer`)."""
    return with_cold_transfer(cosine, transfer=inputs.cold_transfer, scale=config.cold_transfer_scale)


def stored_neighbourhood(
    users: np.ndarray,
    *,
    inputs: JointInputs,
    config: JointConfig,
    targets: np.ndarray | None = None,
    columns: np.ndarray | None = None,
) -> Neighbourhood | None:
    """The configured neighbourhood terms of ``users``' stored histories; with ``targets``, left-one-out (training).

    ``columns`` (sorted unique item indices, sampled-softmax training) keeps only those items' columns
    and skips the cold transfer: it fills only unseen items' columns, which that loss never scores.
    """
    c = config
    if not c.use_neighbourhood:
        return None
    history = inputs.history[users]
    cosine = ease = None
    if c.uses_cosine_neighbourhood:
        scores = neighbourhood_scores(
            history,
            similarity=inputs.item_similarity,
            popularity=inputs.item_popularity,
            shrink=c.neighbourhood_shrink,
            targets=targets,
            columns=columns,
        )
        cosine = torch.from_numpy(scores if columns is not None else cold_transferred(scores, inputs=inputs, config=c))
    if columns is not None and c.uses_ease_neighbourhood:
        raise ValueError("The EASE term has no sampled form (JointConfig refuses it with rec_loss='sampled_softmax').")
    if c.uses_ease_neighbourhood:
        ease = torch.from_numpy(
            ease_scores(
                history,
                weights=inputs.item_ease,
                precision_diagonal=inputs.ease_precision_diagonal,
                targets=targets,
            )
        )
    return Neighbourhood(cosine=cosine, ease=ease)


def stored_user_scores(
    networks: Sequence[JointNetwork], users: np.ndarray, *, inputs: JointInputs, config: JointConfig
) -> np.ndarray:
    """(len(users) × n_items) inference scores of training users, combined over ``networks`` (ensemble members).

    With one network (every member while it trains) this is that network's own scores, which is what
    early stopping watches.
    """
    users = np.asarray(users, dtype=np.int64)
    neighbourhood = stored_neighbourhood(users, inputs=inputs, config=config)
    rows = []
    with torch.no_grad():
        for network in networks:
            network.eval()
            rows.append(network.scores(torch.from_numpy(users), neighbourhood=neighbourhood).numpy())
    return combine_member_scores(rows)
