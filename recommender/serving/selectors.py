"""Reads of the serving layer: a listener's recommendations (music or courses, each explained) and history.

**Music.** The published joint model (:mod:`.model_holder`) scores every artist for a representation
folded in from the listener's *current* history (:meth:`JointKGRecommender.score_history`): Listen rows
(Last.FM play counts and learners' listens), likes, and artists picked at onboarding; an artist whose
latest event is a skip leaves the history and never comes back as a result until a later listen/like.
So an event recorded by :func:`recommender.serving.services.interaction_record` changes the very next
call, with no retraining. Onboarding picks that are not artists (tags, instruments, genres) reach the
artists through the shared graph: a two-step spread over the graph snapshot gives each artist an
affinity that is added to the model score, and for a listener with no history yet the closest
artists seed the folded-in history.

**Courses** live only in the graph (Course -COVERS_TAG-> Tag, -TEACHES_INSTRUMENT-> Instrument,
-TEACHES_CONCEPT-> Concept, -HAS_LEVEL-> Level), so they are ranked by a personalised PageRank over
the graph snapshot, restarting at what the listener engaged with: their artists (weighted by play
count, likes count double), their onboarding picks and the courses they enrolled in or completed. A
small popularity prior (log subscribers) breaks ties and ranks courses for a listener with no
connecting evidence. The same graph gives the explanation (you listen to Jimi Hendrix → blues rock →
"Blues Guitar Improvisation").

**Explanations** come from :mod:`recommender.explanations` (paths of ≤ 3 edges from the listener's
sources to the item). When no path exists, an honest fallback names its basis: ``similar_listeners``
citing the listener's artist with the strongest co-listening link to the item (the very term the
model adds, see :mod:`recommender.models.neighbourhood`), ``similar_content`` for an artist nobody has
played yet (the known artist whose co-listening it borrows, and the listener's artist linked to that
one), or ``popularity``.

**Re-ranking and list scores** (:mod:`.learning`): ``rerank`` (``popularity``, ``diversity``, ``mood``,
``unit`` with a strength, see :mod:`recommender.reranking`), ``unit`` (curriculum concept ids) and
``mood`` (moods of the lexicon) reorder a pool of the best :func:`~recommender.reranking.pool_size`
allowed items; :func:`recommendation_list_for_listener` also returns the list's Educational Match Score
and Emotional Resonance Score (:mod:`recommender.evaluation.learning_metrics`).

Latency: the model's item table and fold-in statistics are computed once when a model is loaded, the
graph matrices once per graph snapshot, the course table (with its Course rows) once per change of the
Course table, the model's Artist rows once per model (re-validated every
:data:`SNAPSHOT_RECHECK_SECONDS`); a warm request does ONE query (the history, :func:`_history_sql`),
one fold-in (one user), a few sparse products and the vectorised path search for k targets
(``benchmarks/serving_latency.py`` measures it: single-digit milliseconds of CPU per call).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from django.db import connection

from catalog.models import Artist, Course, Interaction, Interest, Listen, Listener, Tag
from core.errors import RecommendationRequestError, UnknownEntityError
from recommender.serving.model_holder import ServingModel, model_holder

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import Explanation, GraphSnapshot

KINDS: tuple[str, ...] = ("music", "course")
LEVELS: tuple[str, ...] = tuple(str(v) for v in Course.Level.values)
#: Largest k one call may ask for (the API's limit too).
MAX_K = 100
#: A request's seeds against the personal ranking: the personal part is added at this weight (standardised).
REQUEST_PERSONAL_WEIGHT = 0.3
#: Weight (in standard deviations of the request's model scores) of the request's graph neighbourhood.
REQUEST_GRAPH_WEIGHT = 2.0
#: Share of the course random walk's restart mass given to a request's seeds, relative to the history's.
REQUEST_SEED_WEIGHT = 1.0
#: Artists of the listener used as explanation sources (the most important ones; more only slow the path search).
MAX_EXPLANATION_SOURCES = 12
#: Artists seeding the course spread (the most important ones).
MAX_COURSE_SEED_ARTISTS = 30
#: Weight of the graph affinity of non-artist onboarding picks, in standard deviations of the model's scores.
INTEREST_WEIGHT = 2.0
#: Artists that seed the folded-in history of a listener who has only non-artist picks.
INTEREST_SEED_ARTISTS = 5
#: Personalised PageRank: restart probability and power iterations (4 reach courses 3 edges away).
PPR_RESTART = 0.3
PPR_ITERATIONS = 4
#: Weight of the popularity prior (log subscribers, scaled to [0, 1]) against the graph evidence (scaled to [0, 1]).
COURSE_POPULARITY_WEIGHT = 0.05
#: Caps on the path search per recommended item (shorter paths are enumerated first, so the caps only
#: drop long alternatives): with the search's defaults (2,000 candidates, 20 per node) explaining ten
#: artists of a Last.FM listener took 30–50 ms, with these 10–20 ms, and the cited paths stayed the same
#: in the listeners we compared (``benchmarks/serving_latency.py``).
EXPLAIN_MAX_CANDIDATES = 100
EXPLAIN_PER_NODE_LIMIT = 10
#: Seconds a graph snapshot is reused before asking :func:`current_snapshot` again (its check reads
#: the store's counts, ~20 ms on SQLite; graph edits therefore reach serving within this delay).
SNAPSHOT_RECHECK_SECONDS = 10.0


@dataclass(frozen=True, eq=False)
class Recommendation:
    rank: int
    score: float
    kind: str  # "music" | "course"
    entity_id: str
    artist: Artist | None
    course: Course | None
    explanation: Explanation


@dataclass(frozen=True, eq=False)
class HistoryEntry:
    """One line of a listener's history: an aggregated listen (with play count) or an event."""

    kind: str  # listen | like | skip | enroll | complete
    when: datetime | None
    play_count: int | None
    artist: Artist | None
    course: Course | None


@dataclass(frozen=True, eq=False)
class RecommendationList:
    """A ranked list with how it was re-ranked and what it scores for the learner's unit and mood.

    ``scores`` = ``{"ems": float | None, "ers": float | None}`` (``None`` when undefined: no unit, no
    mood information); ``unit`` is the unit EMS was measured on (asked for, or the learner's own).
    """

    results: list[Recommendation]
    rerank: str
    unit: tuple[str, ...]
    unit_source: str  # "request" | "learner" | "none"
    mood: tuple[str, ...] | None
    scores: dict[str, float | None]


# --- history ----------------------------------------------------------------------------------------


def listener_history(listener: Listener) -> list[HistoryEntry]:
    """Listens (one per artist, with the play count) and like/skip/enroll/complete events, newest first.

    Listen events recorded by a learner are already summed into their Listen row's play count, so
    they are not repeated as separate lines.
    """
    _check_listener(listener)
    entries = [
        HistoryEntry(kind="listen", when=row.updated_at, play_count=int(row.play_count), artist=row.artist, course=None)
        for row in Listen.objects.filter(listener=listener).select_related("artist")
    ]
    entries += [
        HistoryEntry(kind=event.kind, when=event.created_at, play_count=None, artist=event.artist, course=event.course)
        for event in Interaction.objects.filter(listener=listener)
        .exclude(kind=Interaction.Kind.LISTEN)
        .select_related("artist", "course")
    ]
    entries.sort(key=lambda e: (e.when is not None, e.when or datetime.min), reverse=True)
    return entries


@dataclass
class _Taste:
    """What the listener engaged with, read fresh on every request (so new events count at once)."""

    artists: list[
        tuple[int, str, float]
    ]  # (artist pk, entity id, importance) — positive history, least important first
    skipped: set[int]
    seen_artists: set[int]
    courses: list[tuple[int, str, float]]  # (course pk, entity id, weight)
    interests: list[tuple[str, str]]  # (entity id, entity type)
    roles: dict[str, str]  # entity id -> how the listener relates to it ("listen", "like", "interest" …), for sentences
    request: tuple[str, ...] = ()  # graph entities one request is about (seeds), in the graph snapshot


def _history_sql() -> str:
    """One ``UNION ALL`` statement reading a listener's listens, events and onboarding picks.

    Why raw SQL: the three ORM queries it replaces cost more in query compilation (~1.3 ms of Python
    per request) than the database spent answering them. Table and column names come from the
    models' ``_meta``, so a renamed table or column still works; the SQL is plain SQL-92 (SQLite and
    PostgreSQL). Rows: ``(marker, artist pk, artist entity, play count, time, course pk, course entity
    or interest type, order id)``; ``marker`` is :data:`_LISTEN_ROW`, :data:`_INTEREST_ROW` or an
    Interaction kind.
    """
    q = connection.ops.quote_name

    def table(model: Any) -> str:
        return q(model._meta.db_table)

    def column(model: Any, field: str) -> str:
        return q(model._meta.get_field(field).column)

    listen, interaction, interest, artist, course = (table(m) for m in (Listen, Interaction, Interest, Artist, Course))
    artist_pk, artist_entity = column(Artist, "id"), column(Artist, "entity_id")
    course_pk, course_entity = column(Course, "id"), column(Course, "entity_id")
    return (
        f"SELECT '{_LISTEN_ROW}', l.{column(Listen, 'artist')}, a.{artist_entity}, l.{column(Listen, 'play_count')}, "
        f"l.{column(Listen, 'updated_at')}, NULL, NULL, l.{column(Listen, 'id')} "
        f"FROM {listen} l JOIN {artist} a ON a.{artist_pk} = l.{column(Listen, 'artist')} "
        f"WHERE l.{column(Listen, 'listener')} = %s AND l.{column(Listen, 'play_count')} > 0 "
        "UNION ALL "
        f"SELECT i.{column(Interaction, 'kind')}, i.{column(Interaction, 'artist')}, a.{artist_entity}, NULL, "
        f"i.{column(Interaction, 'created_at')}, i.{column(Interaction, 'course')}, c.{course_entity}, i.{column(Interaction, 'id')} "
        f"FROM {interaction} i LEFT JOIN {artist} a ON a.{artist_pk} = i.{column(Interaction, 'artist')} "
        f"LEFT JOIN {course} c ON c.{course_pk} = i.{column(Interaction, 'course')} "
        f"WHERE i.{column(Interaction, 'listener')} = %s "
        "UNION ALL "
        f"SELECT '{_INTEREST_ROW}', NULL, n.{column(Interest, 'entity_id')}, NULL, NULL, NULL, n.{column(Interest, 'entity_type')}, "
        f"n.{column(Interest, 'id')} FROM {interest} n WHERE n.{column(Interest, 'listener')} = %s"
    )


_LISTEN_ROW = "#listen"
_INTEREST_ROW = "#interest"
_HISTORY_SQL: dict[str, str] = {}


def _timestamp(value: Any) -> float:
    """Seconds since the epoch of a datetime column read with raw SQL (SQLite gives ISO text, naive = UTC)."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _taste(listener: Listener) -> _Taste:
    sql = _HISTORY_SQL.get(connection.vendor)
    if sql is None:
        sql = _HISTORY_SQL[connection.vendor] = _history_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [listener.pk, listener.pk, listener.pk])
        rows = cursor.fetchall()
    listens: dict[int, tuple[str, float, float]] = {}
    events: list[tuple[float, int, str, int | None, str | None, int | None, str | None]] = []
    interests: list[tuple[int, str, str]] = []
    for marker, artist_pk, entity_id, plays, when, course_pk, extra, order_id in rows:
        if marker == _LISTEN_ROW:
            listens[artist_pk] = (entity_id, float(plays), _timestamp(when))
        elif marker == _INTEREST_ROW:
            interests.append((order_id, entity_id, extra))
        else:
            events.append((_timestamp(when), order_id, marker, artist_pk, entity_id, course_pk, extra))
    events.sort(key=lambda row: (row[0], row[1]))  # oldest first: the last event per artist wins
    last_event: dict[int, str] = {}
    liked: set[int] = set()
    event_time: dict[int, float] = {}
    entity_of: dict[int, str] = {}
    course_weight: dict[int, tuple[str, float]] = {}
    course_role: dict[str, str] = {}
    for created, _, kind, artist_pk, artist_entity, course_pk, course_entity in events:
        if artist_pk is not None:
            last_event[artist_pk] = kind
            entity_of[artist_pk] = artist_entity
            event_time[artist_pk] = created
            if kind == Interaction.Kind.LIKE:
                liked.add(artist_pk)
        elif course_pk is not None:
            weight = 1.0 if kind == Interaction.Kind.COMPLETE else 0.7
            previous = course_weight.get(course_pk, (course_entity, 0.0))[1]
            course_weight[course_pk] = (course_entity, max(previous, weight))
            course_role[course_entity] = "complete" if max(previous, weight) == 1.0 else "enroll"
    skipped = {pk for pk, kind in last_event.items() if kind == Interaction.Kind.SKIP}
    positive: dict[int, tuple[str, float, float]] = {}
    for pk, (entity_id, plays, updated) in listens.items():
        positive[pk] = (entity_id, plays, max(updated, event_time.get(pk, 0.0)))
    for pk in liked:
        if pk not in positive:
            positive[pk] = (entity_of[pk], 1.0, event_time.get(pk, 0.0))
    for pk in skipped:
        positive.pop(pk, None)
    # importance: log plays, doubled by a like; ties (e.g. Last.FM's single load time) keep plays' order
    ranked = sorted(
        (
            (pk, entity_id, math.log1p(plays) * (2.0 if pk in liked else 1.0), when)
            for pk, (entity_id, plays, when) in positive.items()
        ),
        key=lambda row: (row[3], row[2], row[0]),
    )
    interests = [(entity_id, entity_type) for _, entity_id, entity_type in sorted(interests)]
    roles = {entity_id: "interest" for entity_id, _ in interests}
    roles.update(course_role)
    roles.update({entity_id: ("like" if pk in liked else "listen") for pk, (entity_id, _, _) in positive.items()})
    return _Taste(
        artists=[(pk, entity_id, importance) for pk, entity_id, importance, _ in ranked],
        skipped=skipped,
        seen_artists=set(positive),
        courses=[(pk, entity_id, weight) for pk, (entity_id, weight) in course_weight.items()],
        interests=interests,
        roles=roles,
    )


# --- recommendations --------------------------------------------------------------------------------


def recommendations_for_listener(
    listener: Listener,
    *,
    kind: str = "music",
    k: int = 10,
    exclude_seen: bool = True,
    tag: str | None = None,
    level: str | None = None,
    rerank: str | None = None,
    unit: str | Sequence[str] | None = None,
    mood: str | Sequence[str] | None = None,
    seeds: Sequence[str] = (),
    near: Sequence[str] = (),
) -> list[Recommendation]:
    """The top ``k`` artists (``kind="music"``) or courses (``kind="course"``) for ``listener``, explained.

    ``exclude_seen`` leaves out artists listened to/liked and artists picked at onboarding (music) or
    courses enrolled in/completed (course); skipped artists are always left out. ``tag`` (a tag name
    such as ``blues`` or its entity id) keeps items linked to that tag; ``level`` (courses only) keeps
    courses of that level. ``rerank``/``unit``/``mood`` re-rank the list (see
    :func:`recommendation_list_for_listener`). Bad values raise :class:`RecommendationRequestError`, an
    unknown tag ``UnknownEntityError``, and a process with no published model ``NoServingModelError``.
    """
    return recommendation_list_for_listener(
        listener,
        kind=kind,
        k=k,
        exclude_seen=exclude_seen,
        tag=tag,
        level=level,
        rerank=rerank,
        unit=unit,
        mood=mood,
        seeds=seeds,
        near=near,
    ).results


def recommendation_list_for_listener(
    listener: Listener,
    *,
    kind: str = "music",
    k: int = 10,
    exclude_seen: bool = True,
    tag: str | None = None,
    level: str | None = None,
    rerank: str | None = None,
    unit: str | Sequence[str] | None = None,
    mood: str | Sequence[str] | None = None,
    seeds: Sequence[str] = (),
    near: Sequence[str] = (),
) -> RecommendationList:
    """:func:`recommendations_for_listener` plus the list's EMS/ERS and the re-ranking applied.

    ``rerank`` is ``NAME[:STRENGTH]`` (``none``, ``popularity``, ``diversity``, ``mood``, ``unit``;
    strength 0–1), ``unit`` concept ids (a comma-separated string or a list), ``mood`` moods of the
    lexicon (``calm``, ``happy`` …). A unit without ``rerank`` means ``unit:0.5``, a mood without it
    ``mood:0.5`` (rules in :mod:`.learning`). Unknown concepts or moods and malformed values raise
    :class:`RecommendationRequestError` saying what to send instead.

    ``seeds`` are graph entity ids this one request is about (a plain-English request's artists, tags,
    instruments, concepts): they steer the list strongly, the listener's own history still counts. ``near``
    keeps only items next to at least one of those entities (e.g. courses teaching the instrument); ids
    not in the graph are ignored there, so a stale request never fails.
    """
    from recommender.serving import learning

    _check_listener(listener)
    if kind not in KINDS:
        raise RecommendationRequestError(f'kind must be "music" or "course", got {kind!r}.')
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_K:
        raise RecommendationRequestError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")
    if not isinstance(exclude_seen, bool):
        raise RecommendationRequestError(f"exclude_seen must be true or false, got {exclude_seen!r}.")
    if level is not None:
        if kind != "course":
            raise RecommendationRequestError("level applies to courses only: ask for kind='course' or drop level.")
        if level not in LEVELS:
            raise RecommendationRequestError(f"level must be one of {', '.join(LEVELS)}; got {level!r}.")
    if tag is not None and (not isinstance(tag, str) or not tag.strip()):
        raise RecommendationRequestError("tag must be a tag name such as 'blues' (or its entity id 'lastfm:tag:829').")
    request = learning.list_request(rerank, unit, mood)
    serving = model_holder().current()
    snapshot = graph_snapshot()
    taste = _taste(listener)
    tag_node = _tag_node(snapshot, tag) if tag is not None else None
    taste = _with_request_seeds(taste, snapshot, seeds)
    near_nodes = [snapshot.node_index[e] for e in dict.fromkeys(near) if e in snapshot.node_index]
    music = learning.music_facts(serving, snapshot)
    history = [serving.item_index[pk] for pk, _, _ in taste.artists if pk in serving.item_index]
    if kind == "music":
        facts = music
    else:
        table = _course_table(snapshot)
        facts = learning.course_facts(table, snapshot, _graph_index(snapshot, serving).adjacency)
    unit_indices, unit_ids, profile = learning.learner_targets(request, music, facts, history)
    plan = _ListPlan(spec=request.rerank, facts=facts, unit=unit_indices, profile=profile)
    if kind == "music":
        results, items = _music(
            listener,
            serving,
            snapshot,
            taste,
            k=int(k),
            exclude_seen=exclude_seen,
            tag_node=tag_node,
            plan=plan,
            near_nodes=near_nodes,
        )
    else:
        results, items = _courses(
            serving,
            snapshot,
            taste,
            k=int(k),
            exclude_seen=exclude_seen,
            tag_node=tag_node,
            level=level,
            plan=plan,
            near_nodes=near_nodes,
        )
    return RecommendationList(
        results=results,
        rerank=str(request.rerank),
        unit=unit_ids,
        unit_source="request" if request.unit is not None else ("learner" if unit_ids else "none"),
        mood=request.mood,
        scores=facts.scores(items, unit=unit_indices, profile=profile),
    )


@dataclass(frozen=True, eq=False)
class _ListPlan:
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
            return _top(ranking, allowed, k)
        pool = _top(ranking, allowed, pool_size(k))
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


def _music(
    listener: Listener,
    serving: ServingModel,
    snapshot: GraphSnapshot,
    taste: _Taste,
    *,
    k: int,
    exclude_seen: bool,
    tag_node: int | None,
    plan: _ListPlan,
    near_nodes: Sequence[int] = (),
) -> tuple[list[Recommendation], np.ndarray]:
    model = serving.model
    graph = _graph_index(snapshot, serving)
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
        ranking = _steer_by_request(ranking, model, serving, graph, snapshot, taste, user_index)
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
    artists = _artists(serving, pks)
    sources = (
        list(taste.request)
        + [e for _, e, _ in taste.artists[-MAX_EXPLANATION_SOURCES:]]
        + [e for e, _ in taste.interests]
    )
    targets = [artists[pk].entity_id for pk in pks]
    explanations = _explain(snapshot, sources=sources, targets=targets, roles=taste.roles)
    history_items = np.asarray(sorted(set(folded)), dtype=np.int64)
    results = []
    for rank, (item, pk) in enumerate(zip(chosen, pks), start=1):
        artist = artists[pk]
        explanation = explanations.get(artist.entity_id)
        if explanation is None or not explanation.paths:
            explanation = _music_fallback(serving, artist, int(item), history_items)
        elif explanation.evidence.get("weak"):
            # Every path needs a noise tag ("seen live", "none"): the co-listening link the model used
            # is a better reason; with none, the weak but true path stays (it beats "popular").
            similar = _music_fallback(serving, artist, int(item), history_items, similar_only=True)
            explanation = similar or explanation
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


def _courses(
    serving: ServingModel,
    snapshot: GraphSnapshot,
    taste: _Taste,
    *,
    k: int,
    exclude_seen: bool,
    tag_node: int | None,
    level: str | None,
    plan: _ListPlan,
    near_nodes: Sequence[int] = (),
) -> tuple[list[Recommendation], np.ndarray]:
    graph = _graph_index(snapshot, serving)
    table = _course_table(snapshot)
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
    explanations = _explain(snapshot, sources=sources, targets=[courses[pk].entity_id for pk in pks], roles=taste.roles)
    results = []
    for rank, (row, pk) in enumerate(zip(chosen, pks), start=1):
        course = courses[pk]
        explanation = explanations.get(course.entity_id)
        if explanation is None or not explanation.paths:
            explanation = _popularity_explanation(
                course.entity_id, course.title, course.subscribers, what="subscribers"
            )
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


def _with_request_seeds(taste: _Taste, snapshot: GraphSnapshot, seeds: Sequence[str]) -> _Taste:
    """The taste plus this request's seed entities (those in the graph), explained as "you asked for"."""
    if isinstance(seeds, str) or not all(isinstance(s, str) for s in seeds):
        raise RecommendationRequestError("seeds must be a list of graph entity ids.")
    present = tuple(e for e in dict.fromkeys(seeds) if e in snapshot.node_index)
    if not present:
        return taste
    roles = {**taste.roles, **dict.fromkeys(present, "request")}
    return dataclasses.replace(taste, request=present, roles=roles)


def _steer_by_request(
    ranking: np.ndarray,
    model: Any,
    serving: ServingModel,
    graph: _GraphIndex,
    snapshot: GraphSnapshot,
    taste: _Taste,
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
    request_scores = _standardised(request_scores)
    if affinity.max() > 0:
        request_scores += REQUEST_GRAPH_WEIGHT * affinity / affinity.max()
    return _standardised(request_scores) + REQUEST_PERSONAL_WEIGHT * _standardised(ranking)


def _standardised(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / (spread if spread > 0 else 1.0)


def _top(ranking: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
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


# --- explanations -----------------------------------------------------------------------------------


def _explain(
    snapshot: GraphSnapshot, *, sources: Sequence[str], targets: Sequence[str], roles: dict[str, str]
) -> dict[str, Explanation]:
    from recommender.explanations import explain_many

    known_sources = list(dict.fromkeys(s for s in sources if s in snapshot.node_index))
    known_targets = [t for t in targets if t in snapshot.node_index]
    if not known_sources or not known_targets:
        return {}
    return explain_many(
        snapshot,
        sources=known_sources,
        targets=known_targets,
        source_roles={s: roles[s] for s in known_sources if s in roles},
        max_candidates=EXPLAIN_MAX_CANDIDATES,
        per_node_limit=EXPLAIN_PER_NODE_LIMIT,
    )


# --- artist rows (cached per model, re-checked like the course table) -------------------------------


@dataclass
class _ArtistRows:
    model_key: int
    stamp: tuple
    checked: float
    rows: dict[int, Artist]


_ARTISTS: _ArtistRows | None = None
_ARTISTS_LOCK = threading.Lock()


def _artists(serving: ServingModel, pks: Sequence[int]) -> dict[int, Artist]:
    """``pk -> Artist`` for ``pks`` from an in-memory copy of the model's artists (copies: callers may edit them).

    Why: loading ten Artist rows through the ORM cost ~2.5 ms per request, more than the model's
    scoring. The copy is made once per published model and re-validated against the Artist table's
    (count, last update) at most every :data:`SNAPSHOT_RECHECK_SECONDS` (a rename reaches serving
    within that delay, like a graph edit); an artist not in it (added after training) is read directly.
    """
    global _ARTISTS
    from django.db.models import Count, Max

    now = time.monotonic()
    cached = _ARTISTS
    if cached is None or cached.model_key != id(serving) or now - cached.checked >= SNAPSHOT_RECHECK_SECONDS:
        with _ARTISTS_LOCK:
            cached = _ARTISTS
            if cached is None or cached.model_key != id(serving) or now - cached.checked >= SNAPSHOT_RECHECK_SECONDS:
                aggregate = Artist.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
                stamp = (aggregate["n"], aggregate["changed"])
                if cached is not None and cached.model_key == id(serving) and cached.stamp == stamp:
                    cached.checked = time.monotonic()
                else:
                    rows = Artist.objects.in_bulk([int(pk) for pk in serving.item_ids])
                    cached = _ArtistRows(model_key=id(serving), stamp=stamp, checked=time.monotonic(), rows=rows)
                    _ARTISTS = cached
    out = {pk: copy.copy(cached.rows[pk]) for pk in pks if pk in cached.rows}
    missing = [pk for pk in pks if pk not in out]
    if missing:
        out.update(Artist.objects.in_bulk(missing))
    return out


def _music_fallback(
    serving: ServingModel, artist: Artist, item: int, history: np.ndarray, *, similar_only: bool = False
) -> Explanation | None:
    """No graph path: cite the listener's artist most co-listened with this one, else the artist's popularity.

    ``similar_only`` returns None instead of the popularity fallback (a weak graph path is kept then).
    """
    from recommender.explanations import Explanation

    model = serving.model
    ((source_index, strength),) = model.strongest_co_listeners(history, [item])
    if source_index is not None:
        source_pk = int(serving.item_ids[source_index])
        source = _artists(serving, [source_pk]).get(source_pk)
        if source is not None:
            return Explanation.fallback(
                artist.entity_id,
                "similar_listeners",
                f"Listeners who play {source.name} also play {artist.name}.",
                evidence={"artist": {"id": source.entity_id, "name": source.name}, "similarity": round(strength, 4)},
            )
    if similar_only:
        return None
    listeners = 0
    if model.inputs.item_popularity.shape == (model.n_items,):
        listeners = int(model.inputs.item_popularity[item])
        if listeners == 0:
            return _new_artist_explanation(serving, artist, item, history)
    return _popularity_explanation(artist.entity_id, artist.name, listeners, what="listeners")


def _new_artist_explanation(serving: ServingModel, artist: Artist, item: int, history: np.ndarray) -> Explanation:
    """An artist no training listener played: name the known artist it resembles (whose co-listening it borrows)."""
    from recommender.explanations import Explanation

    lenders = serving.model.cold_item_lenders(item, history)
    new_here = f"{artist.name} is new to Leitmotif listeners"
    lender = source = None
    if lenders:
        lender_index, weight, source_index = lenders[0]
        pks = [int(serving.item_ids[i]) for i in (lender_index, source_index) if i is not None]
        rows = _artists(serving, pks)
        lender, source = rows.get(pks[0]), rows.get(pks[1]) if len(pks) > 1 else None
    if lender is None:
        return Explanation.fallback(
            artist.entity_id, "similar_content", f"{new_here}; it is suggested from its tags and graph links."
        )
    evidence: dict[str, Any] = {"resembles": {"id": lender.entity_id, "name": lender.name}, "weight": round(weight, 4)}
    if source is None:
        sentence = f"{new_here}; it resembles {lender.name} in tags and graph links."
    else:
        sentence = (
            f"{new_here}; it resembles {lender.name}, and listeners who play {source.name} also play {lender.name}."
        )
        evidence["artist"] = {"id": source.entity_id, "name": source.name}
    return Explanation.fallback(artist.entity_id, "similar_content", sentence, evidence=evidence)


def _popularity_explanation(entity_id: str, name: str, count: int, *, what: str) -> Explanation:
    from recommender.explanations import Explanation

    if what == "subscribers":
        sentence = f"{name} is one of the most taken courses ({count:,} subscribers)."
    else:
        sentence = f"{name} is popular with Leitmotif listeners ({count:,} {what})."
    return Explanation.fallback(entity_id, "popularity", sentence, evidence={what: int(count)})


# --- graph side (cached per snapshot) ---------------------------------------------------------------


_SNAPSHOT_LOCK = threading.Lock()
_SNAPSHOT: tuple[Any, float] | None = None


def graph_snapshot() -> GraphSnapshot:
    """The explanation snapshot, re-validated with :func:`current_snapshot` at most every :data:`SNAPSHOT_RECHECK_SECONDS`."""
    global _SNAPSHOT
    cached = _SNAPSHOT
    now = time.monotonic()
    if cached is not None and now - cached[1] < SNAPSHOT_RECHECK_SECONDS:
        return cached[0]
    from recommender.explanations import current_snapshot

    with _SNAPSHOT_LOCK:
        snapshot = current_snapshot()
        _SNAPSHOT = (snapshot, time.monotonic())
    return snapshot


def snapshot_forget() -> None:
    """Make the next request re-validate the graph snapshot and the course table at once (tests, writers that need it now)."""
    global _SNAPSHOT, _ARTISTS
    from recommender.serving import learning

    _SNAPSHOT = None
    _ARTISTS = None
    _COURSE_CHECKED.clear()
    learning.forget()


class _GraphIndex:
    """Sparse matrices over one snapshot, plus the model's item ↔ node maps (built once per snapshot and model)."""

    def __init__(self, snapshot: GraphSnapshot, serving: ServingModel) -> None:
        n = snapshot.n_nodes
        self.n = n
        data = np.ones(len(snapshot.adj_nodes), dtype=np.float64)
        #: Symmetric adjacency (an edge counted once per direction; parallel edges add up).
        self.adjacency = sp.csr_matrix((data, snapshot.adj_nodes.astype(np.int64), snapshot.indptr), shape=(n, n))
        degree = np.asarray(self.adjacency.sum(axis=1)).ravel()
        self.inverse_degree = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
        from catalog.models import Artist as ArtistModel

        entity_of = dict(
            ArtistModel.objects.filter(pk__in=[int(x) for x in serving.item_ids]).values_list("pk", "entity_id")
        )
        item_nodes = np.asarray(
            [snapshot.node_index.get(entity_of.get(int(pk), ""), -1) for pk in serving.item_ids], dtype=np.int64
        )
        self.item_has_node = item_nodes >= 0
        self.item_nodes_safe = np.where(self.item_has_node, item_nodes, 0)
        self.item_of_node = {int(node): i for i, node in enumerate(item_nodes) if node >= 0}

    def step(self, vector: np.ndarray) -> np.ndarray:
        """One random-walk step: each node passes its mass equally to its neighbours."""
        return self.adjacency @ (vector * self.inverse_degree)

    def spread(self, nodes: Sequence[int], *, steps: int) -> np.ndarray:
        vector = np.zeros(self.n)
        vector[list(nodes)] = 1.0 / len(nodes)
        total = np.zeros(self.n)
        for _ in range(steps):
            vector = self.step(vector)
            total += vector
        return total

    def personalised_pagerank(self, nodes: Sequence[int], weights: np.ndarray) -> np.ndarray:
        restart = np.zeros(self.n)
        np.add.at(restart, np.asarray(nodes, dtype=np.int64), weights / weights.sum())
        vector = restart.copy()
        for _ in range(PPR_ITERATIONS):
            vector = PPR_RESTART * restart + (1.0 - PPR_RESTART) * self.step(vector)
        return vector

    def nodes_next_to(self, node: int) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        mask[self.adjacency.indices[self.adjacency.indptr[node] : self.adjacency.indptr[node + 1]]] = True
        return mask

    def items_next_to(self, node: int) -> np.ndarray:
        return self.nodes_next_to(node)[self.item_nodes_safe] & self.item_has_node


_GRAPH_CACHE: dict[tuple[str, str, int], _GraphIndex] = {}
_GRAPH_LOCK = threading.Lock()


def _graph_index(snapshot: GraphSnapshot, serving: ServingModel) -> _GraphIndex:
    key = (snapshot.version, serving.name, id(serving))
    index = _GRAPH_CACHE.get(key)
    if index is None:
        with _GRAPH_LOCK:
            index = _GRAPH_CACHE.get(key)
            if index is None:
                index = _GraphIndex(snapshot, serving)
                _GRAPH_CACHE.clear()  # one model and one graph serve at a time
                _GRAPH_CACHE[key] = index
    return index


@dataclass(frozen=True)
class _CourseTable:
    pks: np.ndarray
    nodes: np.ndarray  # snapshot node of each course (courses not in the graph are left out)
    levels: np.ndarray
    popularity: np.ndarray  # log1p(subscribers) scaled to [0, 1]
    rows: dict[int, Course]  # every course of the table, read once (a request copies the ones it returns)


_COURSE_CACHE: dict[tuple, _CourseTable] = {}
_COURSE_CHECKED: dict[str, tuple[tuple, float]] = {}


def _course_table(snapshot: GraphSnapshot) -> _CourseTable:
    """Every course that is in the graph, cached until the Course table or the snapshot changes.

    The Course table's (count, last update) is re-read at most every :data:`SNAPSHOT_RECHECK_SECONDS`
    (the aggregate costs more than the rest of a course request), so a course edit reaches serving
    within that delay, like a graph edit.
    """
    from django.db.models import Count, Max

    checked = _COURSE_CHECKED.get(snapshot.version)
    if checked is not None and time.monotonic() - checked[1] < SNAPSHOT_RECHECK_SECONDS and checked[0] in _COURSE_CACHE:
        return _COURSE_CACHE[checked[0]]
    stamp = Course.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    key = (snapshot.version, stamp["n"], stamp["changed"])
    _COURSE_CHECKED.clear()
    _COURSE_CHECKED[snapshot.version] = (key, time.monotonic())
    table = _COURSE_CACHE.get(key)
    if table is not None:
        return table
    courses = {course.pk: course for course in Course.objects.order_by("pk") if course.entity_id in snapshot.node_index}
    rows = [(c.pk, snapshot.node_index[c.entity_id], c.level, c.subscribers) for c in courses.values()]
    popularity = np.log1p(np.asarray([r[3] for r in rows], dtype=np.float64))
    if len(popularity) and popularity.max() > 0:
        popularity = popularity / popularity.max()
    table = _CourseTable(
        pks=np.asarray([r[0] for r in rows], dtype=np.int64),
        nodes=np.asarray([r[1] for r in rows], dtype=np.int64),
        levels=np.asarray([r[2] for r in rows], dtype=object),
        popularity=popularity,
        rows=courses,
    )
    _COURSE_CACHE.clear()
    _COURSE_CACHE[key] = table
    return table


def _tag_node(snapshot: GraphSnapshot, tag: str) -> int:
    """Snapshot node of a tag given by entity id (``lastfm:tag:829``) or by name (``blues``, any case)."""
    value = tag.strip()
    node = snapshot.node_index.get(value)
    if node is not None and snapshot.types[node] == "Tag":
        return node
    entity_ids = list(Tag.objects.filter(name__iexact=value).order_by("pk").values_list("entity_id", flat=True))
    for entity_id in entity_ids:
        node = snapshot.node_index.get(entity_id)
        if node is not None:
            return node
    raise UnknownEntityError(
        f"No tag named {value!r} in the knowledge graph; use a Last.FM tag name such as 'blues' or 'jazz'."
    )


def _check_listener(listener: Listener) -> None:
    if not isinstance(listener, Listener) or listener.pk is None:
        raise RecommendationRequestError("listener must be a saved Listener.")
