"""Cutting the final list from a ranking: the plain top k, or a re-ranked top k of a deeper pool.

Why shared: music and courses are scored differently (:mod:`.music_ranking`, :mod:`.course_ranking`)
but cut the same way, with the same tie rule (lower index first), so results stay stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class ListPlan:
    """How to cut the final list from the ranking: the re-ranker and what it reads."""

    spec: Any  # recommender.reranking.RerankSpec
    facts: Any  # .learning.ItemFacts of the kind ranked
    unit: np.ndarray | None
    profile: np.ndarray | None

    def choose(self, ranking: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
        """The final ``k`` indices: the plain top ``k``, or the re-ranked top ``k`` of a deeper pool."""
        from recommender.reranking import RerankContext, pool_size
        from recommender.reranking import rerank as rerank_list

        if self.spec.is_identity:
            return top(ranking, allowed, k)
        pool = top(ranking, allowed, pool_size(k))
        if not len(pool):
            return pool
        context = RerankContext(
            item_popularity=self.facts.popularity,
            item_features=self.facts.features,
            item_moods=self.facts.moods,
            mood_profile=self.profile,
            item_concepts=self.facts.concepts.dense_item_concepts,
            unit=self.unit,
        )
        return rerank_list(self.spec, pool, ranking[pool], k, context)


def top(ranking: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best allowed entries, best first (ties: lower index first, so results are stable)."""
    candidates = np.flatnonzero(allowed)
    if len(candidates) == 0:
        return candidates
    values = ranking[candidates]
    if len(candidates) > k:
        part = np.argpartition(-values, k - 1)[:k]
        candidates, values = candidates[part], values[part]
    order = np.lexsort((candidates, -values))
    return candidates[order]


def standardised(values: np.ndarray) -> np.ndarray:
    """``values`` shifted to mean 0 and scaled to standard deviation 1 (left unscaled when constant)."""
    spread = float(values.std())
    return (values - values.mean()) / (spread if spread > 0 else 1.0)
