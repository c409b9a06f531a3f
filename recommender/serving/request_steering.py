"""Steering the music ranking towards what one plain-English request names (its seed entities).

Why a graph neighbourhood *and* the model: "like Linkin Park" is best answered by the model folded in
from Linkin Park alone (co-listening), while "piano" or "calm" only reach artists through the graph. An
instrument seed is read through the tags about it (Tag -ABOUT_INSTRUMENT-> Instrument: "piano",
"classical piano", "jazz piano"), not through its courses and concepts, whose two-step neighbourhood
is every genre a course mentions (the walk that sent "calm piano music" to progressive rock). Concept
seeds steer only when the request names nothing closer to music: their associated tags are broad.
``music_ranking.steer_by_request`` blends the request's ranking with the personal one, the request first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from kg.schema.types import ABOUT_INSTRUMENT, CONCEPT_TYPE, INSTRUMENT_TYPE
from recommender.serving.ranking import standardised

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot
    from recommender.serving.graph_index import GraphIndex
    from recommender.serving.model_holder import ServingModel
    from recommender.serving.taste import Taste

#: Artists from the graph neighbourhood folded in when the request names no artist.
REQUEST_SEED_ARTISTS = 5


def request_nodes(snapshot: GraphSnapshot, entity_ids: tuple[str, ...]) -> list[int]:
    """Snapshot nodes the request steers by: instruments replaced by the tags about them, concepts kept
    only when nothing else is named."""
    nodes: list[int] = []
    concepts: list[int] = []
    about = snapshot.relation_index.get(ABOUT_INSTRUMENT)
    for entity_id in entity_ids:
        node = snapshot.node_index.get(entity_id)
        if node is None:
            continue
        kind = snapshot.types[node]
        if kind == CONCEPT_TYPE:
            concepts.append(node)
        elif kind == INSTRUMENT_TYPE and about is not None:
            start, end = int(snapshot.indptr[node]), int(snapshot.indptr[node + 1])
            tags = [
                int(other)
                for other, edge in zip(snapshot.adj_nodes[start:end].tolist(), snapshot.adj_edges[start:end].tolist())
                if int(snapshot.rels[edge]) == about
            ]
            nodes.extend(tags or [node])
        else:
            nodes.append(node)
    return list(dict.fromkeys(nodes or concepts))


def request_ranking(
    model: Any,
    serving: ServingModel,
    graph: GraphIndex,
    snapshot: GraphSnapshot,
    taste: Taste,
    graph_weight: float,
) -> np.ndarray | None:
    """A ranking of every artist built from the request's seeds alone (``None`` if they reach no artist).

    Seed artists are folded in as if they were the whole history; other seeds (tags, the tags about an
    instrument, concepts) spread over the graph to the artists around them, whose best are folded in the
    same way, and that neighbourhood is added at ``graph_weight`` standard deviations. So "like Linkin
    Park" ranks Linkin Park's neighbourhood first and the learner's own taste breaks the ties.
    """
    nodes = request_nodes(snapshot, taste.request)
    if not nodes:
        return None
    seed_items = [graph.item_of_node[n] for n in nodes if graph.item_of_node.get(n) is not None]
    affinity = graph.spread(nodes, steps=2)[graph.item_nodes_safe] * graph.item_has_node
    if affinity.max() > 0 and not seed_items:
        order = np.argsort(-affinity, kind="stable")
        seed_items = [int(i) for i in order[:REQUEST_SEED_ARTISTS] if affinity[i] > 0]
    if not seed_items:
        return None
    request_scores = model.score_history(
        [np.asarray(seed_items, dtype=np.int64)], user_indices=[None], item_has_tags=serving.item_has_tags
    )[0].astype(np.float64)
    request_scores = standardised(request_scores)
    if affinity.max() > 0:
        request_scores += graph_weight * affinity / affinity.max()
    return request_scores
