"""Reads of the serving layer: a listener's recommendations (music or courses, each explained) and history.

Why these are the only entry points: pages, the API, request understanding and the curriculum call
:func:`recommendations_for_listener`, :func:`recommendation_list_for_listener` and
:func:`listener_history`; this module checks the request, reads the listener's taste and hands the
ranking to the focused modules below.

* **Taste** (:mod:`.taste`, one raw-SQL query in :mod:`.queries`): Listen rows (Last.FM play counts
  and learners' listens), likes, enrolments and onboarding picks, read fresh on every request, so an
  event recorded by :func:`recommender.serving.services.interaction_record` changes the very next call,
  with no retraining; an artist whose latest event is a skip never comes back until a later listen/like.
* **Music** (:mod:`.music_ranking`): the published joint model (:mod:`.model_holder`) scores every
  artist for a representation folded in from that history; non-artist picks and request seeds reach
  artists through the graph snapshot.
* **Courses** (:mod:`.course_ranking`): a personalised PageRank over the graph (:mod:`.graph_index`),
  restarting at what the listener engaged with, plus a small popularity prior; courses that teach only
  instruments other than the learner's come after the rest. The learner's instruments are the ones a
  request names, else the ``instruments`` a caller gives, else the stated ones read by the reader the
  curriculum app registers (:func:`.services.stated_instruments_reader_set`: learner profiles live
  above this layer), else picks (:func:`.course_ranking.learner_instrument_nodes`).
* **Explanations** (:mod:`.phrasing`): graph paths of ≤ 3 edges, else an honest fallback naming its basis
  (``similar_listeners``, ``similar_content`` or ``popularity``).
* **Re-ranking and list scores** (:mod:`.learning`, :mod:`.ranking`): ``rerank`` (``popularity``,
  ``diversity``, ``mood``, ``unit`` with a strength, see :mod:`recommender.reranking`), ``unit``
  (curriculum concept ids) and ``mood`` reorder a pool of the best
  :func:`~recommender.reranking.pool_size` allowed items; :func:`recommendation_list_for_listener` also
  returns the list's Educational Match Score and Emotional Resonance Score
  (:mod:`recommender.evaluation.learning_metrics`).

Latency: the model's item table and fold-in statistics are computed once when a model is loaded, the
graph matrices once per graph snapshot, the course table (with its Course rows) once per change of the
Course table, the model's Artist rows once per model (re-validated every
:data:`SNAPSHOT_RECHECK_SECONDS`; all process caches are :class:`core.caches.ProcessCache`); a warm
request does ONE query (the history, :func:`.queries.history_sql`), one fold-in (one user), a few sparse
products and the vectorised path search for k targets (``benchmarks/serving_latency.py`` measures it:
single-digit milliseconds of CPU per call).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from catalog.models import Course, Interaction, Listen, Listener
from core.errors import RecommendationRequestError
from kg.schema.types import INSTRUMENT_TYPE
from recommender.serving.artist_rows import model_artists_forget
from recommender.serving.course_ranking import learner_instrument_nodes, rank_courses
from recommender.serving.course_table import course_table, course_table_expire
from recommender.serving.graph_index import (
    SNAPSHOT_RECHECK_SECONDS,
    graph_index,
    graph_snapshot,
    graph_snapshot_forget,
    tag_node_of,
)
from recommender.serving.model_holder import model_holder
from recommender.serving.music_ranking import rank_music
from recommender.serving.ranking import ListPlan
from recommender.serving.results import HistoryEntry, Recommendation, RecommendationList
from recommender.serving.services import stated_instruments_reader
from recommender.serving.taste import Taste, listener_taste, with_request_seeds

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot

__all__ = [
    "KINDS",
    "LEVELS",
    "MAX_K",
    "SNAPSHOT_RECHECK_SECONDS",
    "HistoryEntry",
    "Recommendation",
    "RecommendationList",
    "RecommendationRequestError",
    "graph_snapshot",
    "listener_history",
    "recommendation_list_for_listener",
    "recommendations_for_listener",
    "snapshot_forget",
]

KINDS: tuple[str, ...] = ("music", "course")
LEVELS: tuple[str, ...] = tuple(str(v) for v in Course.Level.values)
#: Largest k one call may ask for (the API's limit too).
MAX_K = 100


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
    instruments: Sequence[str] | None = None,
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
        instruments=instruments,
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
    instruments: Sequence[str] | None = None,
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

    ``instruments`` (instrument entity ids, courses only) are the learner's instruments; ``None`` reads
    them (see the module docstring). Courses that teach only other instruments come after the rest.
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
    if instruments is not None and (
        isinstance(instruments, (str, bytes))
        or not isinstance(instruments, Sequence)
        or not all(isinstance(i, str) for i in instruments)
    ):
        raise RecommendationRequestError(
            "instruments must be a list of instrument entity ids such as 'leitmotif:instrument:piano'."
        )
    request = learning.list_request(rerank, unit, mood)
    serving = model_holder().current()
    snapshot = graph_snapshot()
    taste = listener_taste(listener)
    tag_node = tag_node_of(snapshot, tag) if tag is not None else None
    taste = with_request_seeds(taste, snapshot, seeds)
    near_nodes = [snapshot.node_index[e] for e in dict.fromkeys(near) if e in snapshot.node_index]
    music = learning.music_facts(serving, snapshot)
    history = [serving.item_index[pk] for pk, _, _ in taste.artists if pk in serving.item_index]
    if kind == "music":
        facts = music
    else:
        table = course_table(snapshot)
        facts = learning.course_facts(table, snapshot, graph_index(snapshot, serving).adjacency)
    unit_indices, unit_ids, profile = learning.learner_targets(request, music, facts, history)
    plan = ListPlan(spec=request.rerank, facts=facts, unit=unit_indices, profile=profile)
    if kind == "music":
        results, items = rank_music(
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
        results, items = rank_courses(
            serving,
            snapshot,
            taste,
            k=int(k),
            exclude_seen=exclude_seen,
            tag_node=tag_node,
            level=level,
            plan=plan,
            near_nodes=near_nodes,
            instruments=learner_instrument_nodes(
                snapshot, taste, _course_instruments(listener, snapshot, taste, instruments)
            ),
        )
    return RecommendationList(
        results=results,
        rerank=str(request.rerank),
        unit=unit_ids,
        unit_source="request" if request.unit is not None else ("learner" if unit_ids else "none"),
        mood=request.mood,
        scores=facts.scores(items, unit=unit_indices, profile=profile),
    )


def snapshot_forget() -> None:
    """Make the next request re-validate the graph snapshot and the course table at once (tests, writers that need it now)."""
    from recommender.serving import learning

    graph_snapshot_forget()
    model_artists_forget()
    course_table_expire()
    learning.forget()


def _course_instruments(
    listener: Listener, snapshot: GraphSnapshot, taste: Taste, given: Sequence[str] | None
) -> list[str]:
    """The instruments courses are ranked for: a request's, else ``given``, else the stated ones (may be empty)."""
    named = [e for e in taste.request if snapshot.types[snapshot.node_index[e]] == INSTRUMENT_TYPE]
    if named:
        return named
    if given is not None:
        return list(given)
    reader = stated_instruments_reader()
    if reader is None or listener.user_id is None:
        return []
    return list(reader(listener))


def _check_listener(listener: Listener) -> None:
    if not isinstance(listener, Listener) or listener.pk is None:
        raise RecommendationRequestError("listener must be a saved Listener.")
