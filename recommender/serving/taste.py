"""A listener's taste as serving reads it: positive artists by importance, skips, courses, onboarding picks.

Why read fresh on every request (one query, :func:`.queries.history_rows`): an event recorded by
:func:`recommender.serving.services.interaction_record` must change the very next list, with no
retraining. An artist whose latest event is a skip leaves the history until a later listen or like.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from catalog.models import Interaction, Listener
from core.errors import RecommendationRequestError
from recommender.serving.queries import INTEREST_ROW, LISTEN_ROW, history_rows, timestamp

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot


@dataclass
class Taste:
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


def listener_taste(listener: Listener) -> Taste:
    """The listener's :class:`Taste` from their listens, events and onboarding picks (one query)."""
    listens: dict[int, tuple[str, float, float]] = {}
    events: list[tuple[float, int, str, int | None, str | None, int | None, str | None]] = []
    interests: list[tuple[int, str, str]] = []
    for marker, artist_pk, entity_id, plays, when, course_pk, extra, order_id in history_rows(listener.pk):
        if marker == LISTEN_ROW:
            assert artist_pk is not None and entity_id is not None  # inner join on the listen's artist
            listens[artist_pk] = (entity_id, float(plays), timestamp(when))
        elif marker == INTEREST_ROW:
            assert entity_id is not None and extra is not None  # NOT NULL columns of Interest
            interests.append((order_id, entity_id, extra))
        else:
            events.append((timestamp(when), order_id, marker, artist_pk, entity_id, course_pk, extra))
    events.sort(key=lambda row: (row[0], row[1]))  # oldest first: the last event per artist wins
    last_event: dict[int, str] = {}
    liked: set[int] = set()
    event_time: dict[int, float] = {}
    entity_of: dict[int, str] = {}
    course_weight: dict[int, tuple[str, float]] = {}
    course_role: dict[str, str] = {}
    for created, _, kind, artist_pk, artist_entity, course_pk, course_entity in events:
        if artist_pk is not None:
            assert artist_entity is not None  # the event's artist row exists (foreign key), entity_id NOT NULL
            last_event[artist_pk] = kind
            entity_of[artist_pk] = artist_entity
            event_time[artist_pk] = created
            if kind == Interaction.Kind.LIKE:
                liked.add(artist_pk)
        elif course_pk is not None:
            assert course_entity is not None  # the event's course row exists (foreign key), entity_id NOT NULL
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
    picks = [(entity_id, entity_type) for _, entity_id, entity_type in sorted(interests)]
    roles = {entity_id: "interest" for entity_id, _ in picks}
    roles.update(course_role)
    roles.update({entity_id: ("like" if pk in liked else "listen") for pk, (entity_id, _, _) in positive.items()})
    return Taste(
        artists=[(pk, entity_id, importance) for pk, entity_id, importance, _ in ranked],
        skipped=skipped,
        seen_artists=set(positive),
        courses=[(pk, entity_id, weight) for pk, (entity_id, weight) in course_weight.items()],
        interests=picks,
        roles=roles,
    )


def with_request_seeds(taste: Taste, snapshot: GraphSnapshot, seeds: Sequence[str]) -> Taste:
    """The taste plus this request's seed entities (those in the graph), explained as "you asked for"."""
    if isinstance(seeds, str) or not all(isinstance(s, str) for s in seeds):
        raise RecommendationRequestError("seeds must be a list of graph entity ids.")
    present = tuple(e for e in dict.fromkeys(seeds) if e in snapshot.node_index)
    if not present:
        return taste
    roles = {**taste.roles, **dict.fromkeys(present, "request")}
    return dataclasses.replace(taste, request=present, roles=roles)
