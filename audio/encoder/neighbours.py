"""Where a predicted vector lands: likely composers, eras and forms, and the works it sounds like.

Entities are ranked by the **KGE scoring function of the relevant relation** (not by cosine), because
that is what the embedding was trained to make true: a TransE vector of a Bach chorale is close to
``bach + COMPOSED``, not to ``bach`` itself. For the composer the predicted work is the tail
(``score(person, COMPOSED, work)``); for era and form it is the head (``score(work, IN_ERA, era)``).
TransE scores are ``-‖h + r − t‖₁`` (PyKEEN's L1 TransE), ComplEx scores ``Re⟨h, r, t̄⟩`` over the
``[real | imaginary]`` layout; a space without relation vectors (WMF) falls back to cosine.

Similar works are ranked by cosine similarity between the predicted vector and each work's target
vector: "sounds like" asks which works occupy the same region of the space, not which relation holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def relation_scores(
    scoring: str, *, candidates: np.ndarray, relation: np.ndarray | None, vector: np.ndarray, vector_is_head: bool
) -> np.ndarray:
    """Score of ``vector`` against every row of ``candidates`` through ``relation`` (higher = more plausible)."""
    if scoring == "cosine" or relation is None:
        return cosine(candidates, vector)
    heads, tails = (vector[None, :], candidates) if vector_is_head else (candidates, vector[None, :])
    if scoring == "transe":
        return -np.abs(heads + relation[None, :] - tails).sum(axis=1)
    if scoring == "complex":
        half = vector.shape[0] // 2

        def split(array: np.ndarray) -> np.ndarray:
            return array[..., :half] + 1j * array[..., half:]

        h, r, t = (
            split(np.broadcast_to(heads, candidates.shape)),
            split(relation),
            split(np.broadcast_to(tails, candidates.shape)),
        )
        return np.real((h * r[None, :] * np.conj(t)).sum(axis=1))
    raise ValueError(f"unknown scoring {scoring!r}")


def cosine(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1) * max(float(np.linalg.norm(vector)), 1e-12)
    return (matrix @ vector) / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class Ranked:
    entity_id: str
    score: float
    rank: int


def rank_entities(
    scoring: str,
    *,
    candidate_ids: Sequence[str],
    candidates: np.ndarray,
    relation: np.ndarray | None,
    vector: np.ndarray,
    vector_is_head: bool,
    k: int | None = None,
) -> list[Ranked]:
    """Candidates best first (ties broken by id, so the order is deterministic)."""
    if not len(candidate_ids):
        return []
    scores = relation_scores(
        scoring, candidates=candidates, relation=relation, vector=vector, vector_is_head=vector_is_head
    )
    order = sorted(range(len(candidate_ids)), key=lambda index: (-float(scores[index]), candidate_ids[index]))
    if k is not None:
        order = order[:k]
    return [
        Ranked(candidate_ids[index], round(float(scores[index]), 6), position + 1)
        for position, index in enumerate(order)
    ]


def rank_of(truth: str, ranked: Sequence[Ranked]) -> int | None:
    for entry in ranked:
        if entry.entity_id == truth:
            return entry.rank
    return None


def _plural(form: str) -> str:
    lowered = form[0].lower() + form[1:] if form and not form[:2].isupper() else form
    return lowered + ("es" if lowered.endswith(("s", "x", "ch", "sh")) else "s")


def shared_facts(one: Mapping[str, str | None], other: Mapping[str, str | None]) -> str:
    """What two works have in common, as a phrase: ``both Baroque chorales``, ``both by Joseph Haydn``."""
    era = one.get("era") if one.get("era") and one.get("era") == other.get("era") else None
    form = one.get("form") if one.get("form") and one.get("form") == other.get("form") else None
    composer = one.get("composer") if one.get("composer") and one.get("composer") == other.get("composer") else None
    phrase = ""
    if era and form:
        phrase = f"both {era} {_plural(form)}"
    elif form:
        phrase = f"both {_plural(form)}"
    elif era:
        phrase = f"both from the {era} era"
    if composer:
        phrase = f"{phrase} by {composer}" if phrase else f"both by {composer}"
    return phrase


def sounds_like_explanation(title: str, similarity: float, shared: str) -> str:
    text = f"sounds like {title}: predicted vector close to {title}'s (cosine {similarity:.2f})"
    return f"{text}; {shared}" if shared else text
