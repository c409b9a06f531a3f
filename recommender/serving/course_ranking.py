"""Ranking courses for a listener: a personalised PageRank over the graph, restarting at their taste.

Courses live only in the graph (Course -COVERS_TAG-> Tag, -TEACHES_INSTRUMENT-> Instrument,
-TEACHES_CONCEPT-> Concept, -HAS_LEVEL-> Level), so the walk restarts at what the listener engaged with:
their artists (weighted by play count, likes count double), their onboarding picks and the courses they
enrolled in or completed. A small popularity prior (log subscribers) breaks ties and ranks courses for a
listener with no connecting evidence. The same graph gives the explanation (you listen to Jimi Hendrix →
blues rock → "Blues Guitar Improvisation").

Enrolments strengthen a learner's topic: a course the learner enrolled in or completed restarts the walk
at what it teaches — its instruments (most), genre tags and concepts (:data:`COURSE_TOPIC_SHARES`) —
not at the course node, whose restart mass would mostly stay on the (excluded) course itself. The walk
does not pass through levels (:data:`~.graph_index.WALK_CUT_TYPES`: "Beginner" links hundreds of courses
of every instrument); the level is a soft preference instead (:data:`LEVEL_PREFERENCE_WEIGHT`). Graph
evidence is scaled by the best course the listener can still be shown, so the top result scores ~1.

A learner's instruments (:func:`learner_instrument_nodes`: the ones they stated, else picked, else the
ones of courses they enrolled in) split the courses in two tiers: courses of their instrument and
courses of no instrument (theory, ear training) are ranked first; a course that teaches only *other*
instruments is shown only after all of them (:func:`course_instrument_fit`). A pianist is not offered
classical guitar before a popular theory course, yet a learner whose instrument has few courses still
gets a full list.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kg.schema import fold
from kg.schema.types import (
    COVERS_TAG,
    FOR_INSTRUMENT,
    INSTRUMENT_TYPE,
    TAG_TYPE,
    TEACHES_CONCEPT,
    TEACHES_INSTRUMENT,
)
from recommender.serving.course_table import CourseTable, course_table
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
#: How an enrolled/completed course's restart mass is shared among what it teaches (each share split
#: evenly among that relation's nodes; a relation the course lacks gives its share to the others).
COURSE_TOPIC_SHARES: dict[str, float] = {TEACHES_INSTRUMENT: 0.6, COVERS_TAG: 0.25, TEACHES_CONCEPT: 0.15}
#: Share of the [0, 1] evidence scale given to a course whose level continues the learner's (the level of
#: a course they enrolled in, the next one up, or "all levels"); the graph evidence keeps the rest.
LEVEL_PREFERENCE_WEIGHT = 0.1
#: Levels that continue each level (a learner of "all levels" courses has no level preference).
LEVEL_CONTINUATIONS: dict[str, frozenset[str]] = {
    "beginner": frozenset({"beginner", "intermediate", "all"}),
    "intermediate": frozenset({"intermediate", "expert", "all"}),
    "expert": frozenset({"expert", "all"}),
}


def course_topic_seeds(snapshot: GraphSnapshot, course_node: int) -> list[tuple[int, float]]:
    """Nodes an enrolled course restarts the walk at (instruments, tags, concepts), weights summing to 1.

    A course with none of these relations seeds itself.
    """
    start, end = snapshot.indptr[course_node], snapshot.indptr[course_node + 1]
    by_relation: dict[str, list[int]] = {name: [] for name in COURSE_TOPIC_SHARES}
    for neighbour, edge, forward in zip(
        snapshot.adj_nodes[start:end].tolist(),
        snapshot.adj_edges[start:end].tolist(),
        snapshot.adj_forward[start:end].tolist(),
    ):
        relation = snapshot.relation_types[snapshot.rels[edge]]
        if forward and relation in by_relation and neighbour not in by_relation[relation]:
            by_relation[relation].append(neighbour)
    total = sum(COURSE_TOPIC_SHARES[r] for r, nodes in by_relation.items() if nodes)
    if total <= 0:
        return [(course_node, 1.0)]
    return [
        (node, COURSE_TOPIC_SHARES[relation] / total / len(nodes))
        for relation, nodes in by_relation.items()
        for node in nodes
    ]


def known_instrument_nodes(snapshot: GraphSnapshot) -> dict[str, int]:
    """Folded name -> node of every instrument a course teaches or a curriculum concept is for.

    Derived from the graph (``TEACHES_INSTRUMENT`` and ``FOR_INSTRUMENT`` edges), so a new instrument in the
    course catalogue counts without a code change; placeholder instrument nodes with no course are left out.
    """
    relations = [
        snapshot.relation_index[r] for r in (TEACHES_INSTRUMENT, FOR_INSTRUMENT) if r in snapshot.relation_index
    ]
    if not relations:
        return {}
    tails = np.unique(snapshot.tails[np.isin(snapshot.rels, relations)])
    return {
        fold(snapshot.names[node]): int(node)
        for node in tails.tolist()
        if snapshot.types[node] == INSTRUMENT_TYPE and snapshot.names[node]
    }


def instruments_named_by_tags(snapshot: GraphSnapshot, tag_ids: Sequence[str]) -> list[int]:
    """Instrument nodes whose name is exactly (case- and accent-insensitively) the name of one of ``tag_ids``.

    The tag "piano" names Piano; "piano rock" or "jazz piano" name no instrument (a genre about it).
    """
    known = known_instrument_nodes(snapshot)
    found: list[int] = []
    for tag_id in tag_ids:
        node = snapshot.node_index.get(tag_id)
        if node is None or snapshot.types[node] != TAG_TYPE:
            continue
        instrument = known.get(fold(snapshot.names[node]).strip())
        if instrument is not None and instrument not in found:
            found.append(instrument)
    return found


def learner_instrument_nodes(snapshot: GraphSnapshot, taste: Taste, stated: Sequence[str] = ()) -> list[int]:
    """The instruments a learner's courses are ranked for (snapshot nodes), first non-empty of:

    1. ``stated`` instrument ids (their profile, or what a request names);
    2. picked instruments, and picked tags whose name is an instrument (:func:`instruments_named_by_tags`);
    3. the instruments of the courses they enrolled in or completed.
    """
    nodes = [snapshot.node_index[i] for i in dict.fromkeys(stated) if i in snapshot.node_index]
    nodes = [n for n in nodes if snapshot.types[n] == INSTRUMENT_TYPE]
    if nodes:
        return nodes
    picked = [
        snapshot.node_index[e] for e, kind in taste.interests if kind == INSTRUMENT_TYPE and e in snapshot.node_index
    ]
    named = instruments_named_by_tags(snapshot, [e for e, kind in taste.interests if kind == TAG_TYPE])
    nodes = list(dict.fromkeys(picked + named))
    if nodes:
        return nodes
    relation = snapshot.relation_index.get(TEACHES_INSTRUMENT)
    taken = [snapshot.node_index[e] for _, e, _ in taste.courses if e in snapshot.node_index]
    if relation is None or not taken:
        return []
    on = (snapshot.rels == relation) & np.isin(snapshot.heads, taken)
    return [int(n) for n in dict.fromkeys(snapshot.tails[on].tolist())]


def course_instrument_fit(snapshot: GraphSnapshot, table: CourseTable, instruments: Sequence[int]) -> np.ndarray:
    """Per course of ``table``: 1 teaches one of ``instruments``, 0 teaches no instrument, -1 only other ones."""
    fit = np.zeros(len(table.pks), dtype=np.int8)
    relation = snapshot.relation_index.get(TEACHES_INSTRUMENT)
    if relation is None or not len(table.pks):
        return fit
    on = snapshot.rels == relation
    heads, tails = snapshot.heads[on], snapshot.tails[on]
    teaches_any = np.isin(table.nodes, heads)
    teaches_mine = np.isin(table.nodes, heads[np.isin(tails, list(instruments))])
    fit[teaches_any] = -1
    fit[teaches_mine] = 1
    return fit


def _level_preference(table: CourseTable, taste: Taste) -> np.ndarray:
    """1.0 for courses whose level continues a course the listener enrolled in (see :data:`LEVEL_CONTINUATIONS`)."""
    if not taste.courses:
        return np.zeros(len(table.pks))
    taken = np.isin(table.pks, [pk for pk, _, _ in taste.courses])
    preferred: set[str] = set()
    for level in set(table.levels[taken].tolist()):
        preferred |= LEVEL_CONTINUATIONS.get(level, frozenset())  # "all levels" says nothing about the level
    if not preferred:
        return np.zeros(len(table.pks))
    return np.isin(table.levels, list(preferred)).astype(np.float64)


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
    instruments: Sequence[int] = (),
) -> tuple[list[Recommendation], np.ndarray]:
    """The top ``k`` courses for ``taste`` (explained) and their rows in the course table.

    ``instruments`` (snapshot nodes, see :func:`learner_instrument_nodes`): courses teaching only other
    instruments come after every allowed course of these instruments or of none.
    """
    graph = graph_index(snapshot, serving)
    table = course_table(snapshot)
    if not len(table.pks):
        return [], np.zeros(0, dtype=np.int64)
    seeds: dict[int, float] = {}

    def add_nodes(entries: list[tuple[int, float]]) -> None:
        total = sum(w for _, w in entries)
        for node, weight in entries:
            if total > 0:
                seeds[node] = seeds.get(node, 0.0) + weight / total

    def add(entries: list[tuple[str, float]]) -> None:
        add_nodes([(snapshot.node_index[e], w) for e, w in entries if e in snapshot.node_index])

    add([(e, w) for _, e, w in taste.artists[-MAX_COURSE_SEED_ARTISTS:]])
    add([(e, 1.0) for e, _ in taste.interests])
    # an enrolled/completed course seeds its topic (instruments, tags, concepts), weighted by the course's weight
    add_nodes(
        [
            (node, w * share)
            for _, e, w in taste.courses
            if e in snapshot.node_index
            for node, share in course_topic_seeds(snapshot, snapshot.node_index[e])
        ]
    )
    if taste.request:
        # What this request names outweighs the whole history (REQUEST_SEED_WEIGHT shares of the restart mass).
        add([(e, REQUEST_SEED_WEIGHT * 3.0 / len(taste.request)) for e in taste.request])
    evidence = np.zeros(len(table.pks))
    if seeds:
        nodes = list(seeds)
        weights = np.asarray([seeds[n] for n in nodes])
        evidence = graph.personalised_pagerank(nodes, weights)[table.nodes]
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
    # scaled by the best course that can be shown (not by an excluded enrolled course holding the restart mass)
    top = evidence[allowed].max() if allowed.any() else 0.0
    scaled = evidence / top if top > 0 else evidence
    preference = _level_preference(table, taste)
    if preference.any():  # the level as a soft preference, sharing the [0, 1] evidence scale with the graph
        scaled = (1.0 - LEVEL_PREFERENCE_WEIGHT) * scaled + LEVEL_PREFERENCE_WEIGHT * preference
    ranking = scaled + COURSE_POPULARITY_WEIGHT * table.popularity
    if instruments:
        # two tiers: the learner's instrument or none first; other instruments only fill what is left
        other = course_instrument_fit(snapshot, table, instruments) < 0
        chosen = plan.choose(ranking, allowed & ~other, k)
        if len(chosen) < k:
            chosen = np.concatenate([chosen, plan.choose(ranking, allowed & other, k - len(chosen))]).astype(np.int64)
    else:
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
