"""Ranking artists for a listener: the published model's fold-in, steered by the graph, explained.

The joint model (:mod:`.model_holder`) scores every artist for a representation folded in from the
listener's *current* history (:meth:`JointKGRecommender.score_history`), so new events count at once.
Explicit onboarding picks weigh most (:func:`music_scores`): picked artists are folded in last (the
most important history) and their own co-listening is added at :data:`PICK_NEIGHBOUR_WEIGHT`; picked
tags and instruments reach artists by the tag's *share* of each artist's tags (:func:`interest_affinity`),
added at :data:`INTEREST_WEIGHT`; for a learner with neither artists nor history, the best-known artists
of the picked tags seed the folded-in history. The constants were chosen on the onboarding protocol's
validation learners (``benchmarks/onboarding.py``, ``benchmarks/results/onboarding_tuning*.json``). A
request's seeds ("something like Linkin Park") are blended in by :func:`steer_by_request`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
#: Exponent on a picked tag's share of an artist's tags (below 1 flattens: a tag that is 30 % of what
#: listeners call an artist counts almost as much as one that is 90 %).
TAG_SHARE_POWER = 0.5
#: Weight (in standard deviations of the model's scores) of the co-listening with the picked artists.
PICK_NEIGHBOUR_WEIGHT = 4.0
#: How much an artist's listener count lifts it among the graph seeds of a tag-only learner
#: (affinity × log(1 + listeners)^power): the best-known artists of the picked genre seed the fold-in.
SEED_POPULARITY_POWER = 1.0


@dataclass(frozen=True, eq=False)
class MusicScores:
    """What :func:`music_scores` computed for one taste: the model's scores, the final ranking and its inputs.

    ``pick_items`` are the picked artists (model items), ``folded`` everything folded into the user tower
    (picks, graph seeds, history; most important last) and ``evidence_items`` the artists a fallback
    reason may cite: the learner's own picks and history, never a graph seed they did not choose.
    """

    scores: np.ndarray
    ranking: np.ndarray
    folded: list[int]
    pick_items: list[int]
    evidence_items: np.ndarray
    user_index: int | None


def interest_affinity(graph: GraphIndex, snapshot: GraphSnapshot, nodes: Sequence[int]) -> np.ndarray | None:
    """How close each artist is to the learner's non-artist picks (0..1 per pick kind), or None without any.

    A picked tag (and the tags of a picked instrument: Piano → "piano") reaches artists by its *share*
    of their tag assignments (:attr:`GraphIndex.tag_shares`), so an artist one listener once called
    "classical" is not a classical artist. A picked artist the model does not know (the catalogue holds
    every HetRec artist, the model only the KGCN subset) reaches artists through its own tag profile
    (:meth:`GraphIndex.artist_tag_profile`). Picks that are no Last.FM tag (a concept, a course, a tag
    nobody assigned, an artist without descriptive tags) spread over the graph for two steps as before.
    """
    if not nodes:
        return None
    tag_nodes: list[int] = []
    profiles: list[dict[int, float]] = []
    other: list[int] = []
    tagged = graph.tagged_nodes
    for node in nodes:
        if tagged[node]:
            tag_nodes.append(node)
        elif snapshot.types[node] == "Instrument" and any(tagged[t] for t in graph.instrument_tags(node)):
            tag_nodes.extend(t for t in graph.instrument_tags(node) if tagged[t])
        elif snapshot.types[node] == "Artist" and (profile := graph.artist_tag_profile(node)):
            profiles.append(profile)
        else:
            other.append(node)
    affinity = np.zeros(len(graph.item_has_node))
    if tag_nodes:
        shares = np.asarray(graph.tag_shares[tag_nodes].sum(axis=0)).ravel() ** TAG_SHARE_POWER
        if shares.max() > 0:
            affinity += shares / shares.max()
    for profile in profiles:
        # A picked artist the model does not know: artists whose tags look like its tags, in the
        # proportions its listeners gave them (0.4 "classical" + 0.2 "piano" … for Chopin).
        weights = np.asarray(list(profile.values()))
        shares = np.asarray(graph.tag_shares[list(profile)].T @ weights).ravel()
        if shares.max() > 0:
            affinity += (shares / shares.max()) ** TAG_SHARE_POWER
    if other:
        spread = graph.spread(other, steps=2)[graph.item_nodes_safe] * graph.item_has_node
        if spread.max() > 0:
            affinity += spread / spread.max()
    return affinity if affinity.any() else None


def music_scores(
    serving: ServingModel,
    snapshot: GraphSnapshot,
    taste: Taste,
    *,
    user_index: int | None,
) -> MusicScores:
    """Score every artist for ``taste``: the fold-in of picks and history, plus the picks' graph affinity.

    The one scoring path of the product for every listener, a new learner with onboarding picks included
    (the onboarding evaluation, :mod:`recommender.evaluation.onboarding`, calls exactly this). Explicit
    picks weigh most: picked artists are folded in as the most important history and the affinity of
    picked tags and instruments is added at :data:`INTEREST_WEIGHT` standard deviations; without picked
    artists or history, the artists closest to the picked tags seed the fold-in.
    """
    model = serving.model
    graph = graph_index(snapshot, serving)
    history = [serving.item_index[pk] for pk, _, _ in taste.artists if pk in serving.item_index]
    interest_nodes = [snapshot.node_index[e] for e, _ in taste.interests if e in snapshot.node_index]
    artist_interest_items = [graph.item_of_node[n] for n in interest_nodes if graph.item_of_node.get(n) is not None]
    other_interest_nodes = [n for n in interest_nodes if graph.item_of_node.get(n) is None]
    affinity = interest_affinity(graph, snapshot, other_interest_nodes)
    pseudo: list[int] = []
    if not history and not artist_interest_items and affinity is not None:
        popularity = (
            model.inputs.item_popularity
            if model.inputs.item_popularity.shape == affinity.shape
            else np.zeros_like(affinity)
        )
        order = np.lexsort((-popularity, -(affinity * np.log1p(popularity) ** SEED_POPULARITY_POWER)))
        pseudo = [int(i) for i in order[:INTEREST_SEED_ARTISTS] if affinity[i] > 0]
    # most important last (score_history keeps the tail): graph seeds, then history, then the picked artists
    folded = pseudo + history + artist_interest_items
    scores = model.score_history(
        [np.asarray(folded, dtype=np.int64)], user_indices=[user_index], item_has_tags=serving.item_has_tags
    )[0].astype(np.float64)
    ranking = scores.copy()
    if affinity is not None:
        ranking += INTEREST_WEIGHT * float(scores.std() or 1.0) * affinity / affinity.max()
    if artist_interest_items and PICK_NEIGHBOUR_WEIGHT > 0:
        similarity = model.inputs.item_similarity
        if similarity.shape == (model.n_items, model.n_items) and similarity.nnz:
            # the co-listening of the picked artists themselves, apart from the folded history: a pick is
            # the learner's own word, a history of three artists is too short for the towers to read
            near = np.asarray(similarity[artist_interest_items].sum(axis=0), dtype=np.float64).ravel()
            if near.max() > 0:
                ranking += PICK_NEIGHBOUR_WEIGHT * float(scores.std() or 1.0) * near / near.max()
    if taste.request:
        ranking = steer_by_request(ranking, model, serving, graph, snapshot, taste, user_index)
    evidence_items = np.asarray(sorted(set(history) | set(artist_interest_items)), dtype=np.int64)
    return MusicScores(
        scores=scores,
        ranking=ranking,
        folded=folded,
        pick_items=artist_interest_items,
        evidence_items=evidence_items,
        user_index=user_index,
    )


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
    scored = music_scores(serving, snapshot, taste, user_index=serving.user_index.get(listener.pk))
    allowed = np.ones(model.n_items, dtype=bool)
    for pk in taste.skipped:
        if pk in serving.item_index:
            allowed[serving.item_index[pk]] = False
    if exclude_seen:
        allowed[[serving.item_index[pk] for pk in taste.seen_artists if pk in serving.item_index]] = False
        allowed[scored.pick_items] = False
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
    chosen = plan.choose(scored.ranking, allowed, k)
    if not len(chosen):
        return [], chosen
    return explain_music(serving, snapshot, taste, scored, chosen), chosen


def explain_music(
    serving: ServingModel, snapshot: GraphSnapshot, taste: Taste, scored: MusicScores, chosen: np.ndarray
) -> list[Recommendation]:
    """The chosen artists as explained :class:`Recommendation` objects (paths from the picks and history first).

    A path is searched from the request, the most important history artists and the picks; an artist
    without one, or whose every path needs a noise tag, is explained by the co-listening link to one of
    the learner's *own* artists (never a graph seed they did not pick), else by what it is based on.
    """
    pks = [int(serving.item_ids[i]) for i in chosen]
    artists = model_artists(serving, pks)
    sources = (
        list(taste.request)
        + [e for _, e, _ in taste.artists[-MAX_EXPLANATION_SOURCES:]]
        + [e for e, _ in taste.interests]
    )
    targets = [artists[pk].entity_id for pk in pks]
    explanations = explain_paths(snapshot, sources=sources, targets=targets, roles=taste.roles)
    history_items = scored.evidence_items
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
                score=float(scored.scores[item]),
                kind="music",
                entity_id=artist.entity_id,
                artist=artist,
                course=None,
                explanation=explanation,
            )
        )
    return results


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

    The request's own ranking comes from :mod:`.request_steering` (instruments read through the tags
    about them); ``None`` when the request reaches no artist.
    """
    from recommender.serving import request_steering

    request_scores = request_steering.request_ranking(model, serving, graph, snapshot, taste, REQUEST_GRAPH_WEIGHT)
    if request_scores is None:
        return ranking
    return standardised(request_scores) + REQUEST_PERSONAL_WEIGHT * standardised(ranking)
