"""Ranking artists for a listener: the published model's fold-in, steered by the graph, explained.

The joint model (:mod:`.model_holder`) scores every artist for a representation folded in from the
listener's *current* history (:meth:`JointKGRecommender.score_history`), so new events count at once.
Onboarding picks that are not artists (tags, instruments, genres) reach the artists through the shared
graph: a two-step spread over the graph snapshot gives each artist an affinity that is added to the
model score, and for a listener with no history yet the closest artists seed the folded-in history. A
request's seeds ("something like Linkin Park") are blended in by :func:`steer_by_request`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from catalog.models import Listener
from recommender.serving.artist_rows import model_artists
from recommender.serving.graph_index import GraphIndex, graph_index
from recommender.serving.phrasing import MAX_EXPLANATION_SOURCES, explain_paths, music_fallback
from recommender.serving.ranking import ListPlan, standardised
from recommender.serving.results import Recommendation
from recommender.serving.taste import Taste

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot
    from recommender.serving.model_holder import ServingModel

#: A request's seeds against the personal ranking: the personal part is added at this weight (standardised).
REQUEST_PERSONAL_WEIGHT = 0.3
#: Weight (in standard deviations of the request's model scores) of the request's graph neighbourhood.
REQUEST_GRAPH_WEIGHT = 2.0
#: Weight of the graph affinity of non-artist onboarding picks, in standard deviations of the model's scores.
INTEREST_WEIGHT = 2.0
#: Artists that seed the folded-in history of a listener who has only non-artist picks.
INTEREST_SEED_ARTISTS = 5


def rank_music(
    listener: Listener,
    serving: ServingModel,
    snapshot: GraphSnapshot,
    taste: Taste,
    *,
    k: int,
    exclude_seen: bool,
    tag_node: int | None,
    plan: ListPlan,
    near_nodes: Sequence[int] = (),
) -> tuple[list[Recommendation], np.ndarray]:
    """The top ``k`` artists for ``taste`` (explained) and their model item indices."""
    model = serving.model
    graph = graph_index(snapshot, serving)
    history = [serving.item_index[pk] for pk, _, _ in taste.artists if pk in serving.item_index]
    interest_nodes = [snapshot.node_index[e] for e, _ in taste.interests if e in snapshot.node_index]
    artist_interest_items = [graph.item_of_node[n] for n in interest_nodes if graph.item_of_node.get(n) is not None]
    other_interest_nodes = [n for n in interest_nodes if graph.item_of_node.get(n) is None]
    affinity = None
    if other_interest_nodes:
        affinity = graph.spread(other_interest_nodes, steps=2)[graph.item_nodes_safe] * graph.item_has_node
    pseudo: list[int] = []
    if not history and affinity is not None and affinity.any():
        popularity = (
            model.inputs.item_popularity
            if model.inputs.item_popularity.shape == affinity.shape
            else np.zeros_like(affinity)
        )
        order = np.lexsort((-popularity, -affinity))
        pseudo = [int(i) for i in order[:INTEREST_SEED_ARTISTS] if affinity[i] > 0]
    folded = artist_interest_items + pseudo + history  # most important last: score_history keeps the tail
    user_index = serving.user_index.get(listener.pk)
    scores = model.score_history(
        [np.asarray(folded, dtype=np.int64)], user_indices=[user_index], item_has_tags=serving.item_has_tags
    )[0].astype(np.float64)
    ranking = scores.copy()
    if affinity is not None and affinity.max() > 0:
        ranking += INTEREST_WEIGHT * float(scores.std() or 1.0) * affinity / affinity.max()
    if taste.request:
        ranking = steer_by_request(ranking, model, serving, graph, snapshot, taste, user_index)
    allowed = np.ones(model.n_items, dtype=bool)
    for pk in taste.skipped:
        if pk in serving.item_index:
            allowed[serving.item_index[pk]] = False
    if exclude_seen:
        allowed[[serving.item_index[pk] for pk in taste.seen_artists if pk in serving.item_index]] = False
        allowed[artist_interest_items] = False
        # "Something like X" asks for others than X.
        allowed[
            [
                graph.item_of_node[snapshot.node_index[e]]
                for e in taste.request
                if graph.item_of_node.get(snapshot.node_index[e]) is not None
            ]
        ] = False
    if tag_node is not None:
        allowed &= graph.items_next_to(tag_node)
    if near_nodes:
        allowed &= np.logical_or.reduce([graph.items_next_to(n) for n in near_nodes])
    chosen = plan.choose(ranking, allowed, k)
    if not len(chosen):
        return [], chosen
    pks = [int(serving.item_ids[i]) for i in chosen]
    artists = model_artists(serving, pks)
    sources = (
        list(taste.request)
        + [e for _, e, _ in taste.artists[-MAX_EXPLANATION_SOURCES:]]
        + [e for e, _ in taste.interests]
    )
    targets = [artists[pk].entity_id for pk in pks]
    explanations = explain_paths(snapshot, sources=sources, targets=targets, roles=taste.roles)
    history_items = np.asarray(sorted(set(folded)), dtype=np.int64)
    results = []
    for rank, (item, pk) in enumerate(zip(chosen, pks), start=1):
        artist = artists[pk]
        explanation = explanations.get(artist.entity_id)
        if explanation is None or not explanation.paths:
            explanation = music_fallback(serving, artist, int(item), history_items)
        elif explanation.evidence.get("weak"):
            # Every path needs a noise tag ("seen live", "none"): the co-listening link the model used
            # is a better reason; with none, the weak but true path stays (it beats "popular").
            similar = music_fallback(serving, artist, int(item), history_items, similar_only=True)
            explanation = similar or explanation
        assert explanation is not None  # music_fallback without similar_only always explains
        results.append(
            Recommendation(
                rank=rank,
                score=float(scores[item]),
                kind="music",
                entity_id=artist.entity_id,
                artist=artist,
                course=None,
                explanation=explanation,
            )
        )
    return results, chosen


def steer_by_request(
    ranking: np.ndarray,
    model: Any,
    serving: ServingModel,
    graph: GraphIndex,
    snapshot: GraphSnapshot,
    taste: Taste,
    user_index: int | None,
) -> np.ndarray:
    """Blend the personal ranking with one built from the request's seeds alone (standardised, request first).

    Seed artists are folded in as if they were the whole history; other seeds (tags, instruments, concepts)
    spread over the graph to the artists around them, whose best are folded in the same way. So "like
    Linkin Park" ranks Linkin Park's neighbourhood first and the learner's own taste breaks the ties.
    """
    nodes = [snapshot.node_index[e] for e in taste.request]
    seed_items = [graph.item_of_node[n] for n in nodes if graph.item_of_node.get(n) is not None]
    # Two graph steps from every seed: an artist's tags and the artists sharing them, an instrument's
    # tags and courses, a concept's tags... the request's neighbourhood, whatever the model learned.
    affinity = graph.spread(nodes, steps=2)[graph.item_nodes_safe] * graph.item_has_node
    if affinity.max() > 0 and not seed_items:
        order = np.argsort(-affinity, kind="stable")
        seed_items = [int(i) for i in order[:INTEREST_SEED_ARTISTS] if affinity[i] > 0]
    if not seed_items:
        return ranking
    request_scores = model.score_history(
        [np.asarray(seed_items, dtype=np.int64)], user_indices=[None], item_has_tags=serving.item_has_tags
    )[0].astype(np.float64)
    request_scores = standardised(request_scores)
    if affinity.max() > 0:
        request_scores += REQUEST_GRAPH_WEIGHT * affinity / affinity.max()
    return standardised(request_scores) + REQUEST_PERSONAL_WEIGHT * standardised(ranking)
