"""Ranking courses for a listener: a personalised PageRank over the graph, restarting at their taste.

Courses live only in the graph (Course -COVERS_TAG-> Tag, -TEACHES_INSTRUMENT-> Instrument,
-TEACHES_CONCEPT-> Concept, -HAS_LEVEL-> Level), so the walk restarts at what the listener engaged with:
their artists (weighted by play count, likes count double), their onboarding picks and the courses they
enrolled in or completed. A small popularity prior (log subscribers) breaks ties and ranks courses for a
listener with no connecting evidence. The same graph gives the explanation (you listen to Jimi Hendrix →
blues rock → "Blues Guitar Improvisation").
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from recommender.serving.course_table import course_table
from recommender.serving.graph_index import graph_index
from recommender.serving.phrasing import MAX_EXPLANATION_SOURCES, explain_paths, popularity_explanation
from recommender.serving.ranking import ListPlan
from recommender.serving.results import Recommendation
from recommender.serving.taste import Taste

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot
    from recommender.serving.model_holder import ServingModel

#: Share of the course random walk's restart mass given to a request's seeds, relative to the history's.
REQUEST_SEED_WEIGHT = 1.0
#: Artists seeding the course spread (the most important ones).
MAX_COURSE_SEED_ARTISTS = 30
#: Weight of the popularity prior (log subscribers, scaled to [0, 1]) against the graph evidence (scaled to [0, 1]).
COURSE_POPULARITY_WEIGHT = 0.05


def rank_courses(
    serving: ServingModel,
    snapshot: GraphSnapshot,
    taste: Taste,
    *,
    k: int,
    exclude_seen: bool,
    tag_node: int | None,
    level: str | None,
    plan: ListPlan,
    near_nodes: Sequence[int] = (),
) -> tuple[list[Recommendation], np.ndarray]:
    """The top ``k`` courses for ``taste`` (explained) and their rows in the course table."""
    graph = graph_index(snapshot, serving)
    table = course_table(snapshot)
    if not len(table.pks):
        return [], np.zeros(0, dtype=np.int64)
    seeds: dict[int, float] = {}

    def add(entries: list[tuple[str, float]]) -> None:
        total = sum(w for _, w in entries)
        for entity_id, weight in entries:
            node = snapshot.node_index.get(entity_id)
            if node is not None and total > 0:
                seeds[node] = seeds.get(node, 0.0) + weight / total

    add([(e, w) for _, e, w in taste.artists[-MAX_COURSE_SEED_ARTISTS:]])
    add([(e, 1.0) for e, _ in taste.interests])
    add([(e, w) for _, e, w in taste.courses])
    if taste.request:
        # What this request names outweighs the whole history (REQUEST_SEED_WEIGHT shares of the restart mass).
        add([(e, REQUEST_SEED_WEIGHT * 3.0 / len(taste.request)) for e in taste.request])
    evidence = np.zeros(len(table.pks))
    if seeds:
        nodes = list(seeds)
        weights = np.asarray([seeds[n] for n in nodes])
        evidence = graph.personalised_pagerank(nodes, weights)[table.nodes]
    top = evidence.max()
    ranking = (evidence / top if top > 0 else evidence) + COURSE_POPULARITY_WEIGHT * table.popularity
    allowed = np.ones(len(table.pks), dtype=bool)
    if exclude_seen and taste.courses:
        taken = {pk for pk, _, _ in taste.courses}
        allowed &= ~np.isin(table.pks, list(taken))
    if level is not None:
        allowed &= table.levels == level
    if tag_node is not None:
        allowed &= graph.nodes_next_to(tag_node)[table.nodes]
    if near_nodes:
        allowed &= np.logical_or.reduce([graph.nodes_next_to(n)[table.nodes] for n in near_nodes])
    chosen = plan.choose(ranking, allowed, k)
    if not len(chosen):
        return [], chosen
    pks = [int(table.pks[i]) for i in chosen]
    courses = {pk: copy.copy(table.rows[pk]) for pk in pks}
    sources = (
        list(taste.request)
        + [e for _, e, _ in taste.artists[-MAX_EXPLANATION_SOURCES:]]
        + [e for e, _ in taste.interests]
        + [e for _, e, _ in taste.courses]
    )
    explanations = explain_paths(
        snapshot, sources=sources, targets=[courses[pk].entity_id for pk in pks], roles=taste.roles
    )
    results = []
    for rank, (row, pk) in enumerate(zip(chosen, pks), start=1):
        course = courses[pk]
        explanation = explanations.get(course.entity_id)
        if explanation is None or not explanation.paths:
            explanation = popularity_explanation(course.entity_id, course.title, course.subscribers, what="subscribers")
        results.append(
            Recommendation(
                rank=rank,
                score=float(ranking[row]),
                kind="course",
                entity_id=course.entity_id,
                artist=None,
                course=course,
                explanation=explanation,
            )
        )
    return results, chosen
