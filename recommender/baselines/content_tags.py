"""Content-based baseline: cosine between a user's content profile and each item's content vector.

Item vector = [TF-IDF of the item's tags ‖ kg_weight × TF-IDF of its knowledge-graph neighbours]
(one-hot of every entity linked to the item by a triple, in either direction; IDF down-weights hub
entities such as a genre shared by thousands of artists). Each block is L2-normalised before
stacking so ``kg_weight`` alone sets their balance. User profile = sum of the vectors of the user's
training items. Item vectors never look at interactions, so items nobody has played yet (cold
start) are scored like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

from recommender.base import ItemSideInfo, TrainingContext
from recommender.baselines import params as check
from recommender.baselines.base import BaselineRecommender


def item_graph_neighbours(side_info: ItemSideInfo, n_items: int) -> sp.csr_matrix:
    """(n_items × n_entities) binary matrix: entity e is linked to item i by some KG triple."""
    n_entities = len(side_info.entity_ids)
    triples = np.asarray(side_info.kg_triples, dtype=np.int64).reshape(-1, 3)
    item_of_entity = np.full(n_entities, -1, dtype=np.int64)
    item_of_entity[np.asarray(side_info.item_entity, dtype=np.int64)] = np.arange(n_items)
    heads, tails = triples[:, 0], triples[:, 2]
    from_head = item_of_entity[heads] >= 0
    from_tail = item_of_entity[tails] >= 0
    rows = np.concatenate([item_of_entity[heads[from_head]], item_of_entity[tails[from_tail]]])
    cols = np.concatenate([tails[from_head], heads[from_tail]])
    links = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_items, n_entities))
    links.sum_duplicates()
    links.data[:] = 1.0  # several triples (different relations) to the same entity count once
    return links


def tag_graph_vectors(
    side_info: ItemSideInfo, n_items: int, *, kg_weight: float = 0.5, sublinear_tf: bool = True
) -> sp.csr_matrix:
    """L2-normalised (n_items × (n_tags + n_entities)) vectors: TF-IDF of tags ‖ ``kg_weight`` × TF-IDF of KG links.

    Shared with the joint model, which uses the same vectors to find a cold item's closest known items
    (:func:`recommender.models.neighbourhood.cold_transfer_matrix`).
    """
    tags = sp.csr_matrix(side_info.item_tags, dtype=np.float64)
    blocks = [TfidfTransformer(sublinear_tf=sublinear_tf).fit_transform(tags)]
    if kg_weight > 0:
        links = item_graph_neighbours(side_info, n_items)
        blocks.append(kg_weight * TfidfTransformer().fit_transform(links))
    return normalize(sp.hstack(blocks, format="csr"), norm="l2").astype(np.float32)


class ContentTags(BaselineRecommender):
    name = "baseline.content_tags.v1"
    alias = "content_tags"
    requires_side_info = True
    hpo_default = {
        "kg_weight": dict(type=float, low=0.0, high=2.0),
        "sublinear_tf": dict(type=bool),
    }

    def __init__(self, *, kg_weight: float = 0.5, sublinear_tf: bool = True) -> None:
        self.kg_weight = check.positive_float(self.name, "kg_weight", kg_weight, allow_zero=True)
        self.sublinear_tf = check.boolean(self.name, "sublinear_tf", sublinear_tf)

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        # seed unused: TF-IDF and cosine are deterministic.
        assert context.side_info is not None  # requires_side_info: fit() refused a context without it
        self.item_vectors = tag_graph_vectors(
            context.side_info, self.n_items, kg_weight=self.kg_weight, sublinear_tf=self.sublinear_tf
        )
        self.user_profiles = normalize(train @ self.item_vectors, norm="l2").astype(np.float32)
        self.n_tags = int(context.side_info.item_tags.shape[1])

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self.user_profiles[users] @ self.item_vectors.T).toarray()

    def score_picks(self, items: Sequence[int], tags: Sequence[int]) -> np.ndarray:
        """A new learner's scores from onboarding picks: cosine with the picked artists' vectors plus the picked tags.

        A picked tag is a unit vector on its tag column (the tag block comes first in the item vectors),
        weighted like one artist, so "classical" pulls towards artists whose tag profile is classical.
        """
        n_columns = self.item_vectors.shape[1]
        profile = np.zeros(n_columns, dtype=np.float64)
        if len(items):
            profile += np.asarray(self.item_vectors[list(items)].sum(axis=0), dtype=np.float64).ravel()
        for tag in tags:
            if 0 <= tag < self.n_tags:
                profile[tag] += 1.0
        norm = np.linalg.norm(profile)
        if norm == 0:
            return np.zeros(self.n_items, dtype=np.float64)
        return np.asarray(self.item_vectors @ (profile / norm), dtype=np.float64).ravel()
