"""Writes of the serving layer: a learner's listener, their events and their onboarding interests.

Why the recommendation side needs no write of its own: :mod:`.selectors` reads the learner's Listen
rows, Interaction events and Interests on every call and folds them into the user representation
(:meth:`recommender.models.joint.JointKGRecommender.score_history`), so the next call reflects an event
recorded here without retraining. ``listen``/``like`` also keep :class:`~catalog.models.Listen`
in step — the table the retrain job (``python manage.py retrain_recommender``) reads — so learners'
taste reaches the next trained model too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F

from accounts.services import is_learner
from catalog.models import Artist, Course, Interaction, Interest, Listen, Listener
from core.errors import ConfigurationError, InteractionInputError, NotALearnerError, UnknownEntityError

#: Most onboarding picks one listener may keep (enough to seed taste; bounds the per-request graph spread).
MAX_INTERESTS = 50

StatedInstruments = Callable[[Listener], Sequence[str]]
#: Reads a listener's stated instruments (entity ids); set by the app that keeps learner profiles.
_stated_instruments: StatedInstruments | None = None


def stated_instruments_reader_set(reader: StatedInstruments | None) -> None:
    """Register how to read a listener's stated instruments (``curriculum`` registers its learner profile).

    Why a registration and not an import: learner profiles belong to ``curriculum``, a layer above this
    one. Course ranking (:mod:`.selectors`) asks the reader on every course request; without one, a
    learner's instruments come from their picks. Kept here, in a module that imports no model code, so
    registering it at start-up costs nothing.
    """
    global _stated_instruments
    _stated_instruments = reader


def stated_instruments_reader() -> StatedInstruments | None:
    return _stated_instruments


def learner_listener(user: Any) -> Listener:
    """The Listener of a signed-up user, created on first use (a learner starts with no listening)."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        raise ConfigurationError("Only a signed-up, saved user has a listener; sign in first.")
    if not is_learner(user):
        raise NotALearnerError(
            "This is a staff, curator or API-client account: it has no listening history of its own, so its "
            "clicks never train the recommender. Sign up as a learner for personal recommendations, or read a "
            "listener's with /api/v1/users/{listener_id}/recommendations/."
        )
    listener, _ = Listener.objects.get_or_create(user=user)
    return listener


def interaction_record(
    listener: Listener, *, kind: str, artist: Artist | None = None, course: Course | None = None
) -> Interaction:
    """Append one event to the learner's log (atomic) and keep ``Listen`` in step for listen/like.

    * ``listen``: ``Listen.play_count`` += 1 (the row is created with 1);
    * ``like``: a ``Listen`` row exists afterwards (created with play count 1 if the learner never
      listened), so a retrain counts the like as an interaction;
    * ``skip``: nothing is removed from the log; serving leaves the artist out of results and out of
      the learner's history until a later listen/like;
    * ``enroll`` / ``complete``: courses only.
    """
    if not isinstance(listener, Listener) or listener.pk is None:
        raise InteractionInputError("listener must be a saved Listener.")
    kinds = [str(k) for k in Interaction.Kind.values]
    if kind not in kinds:
        raise InteractionInputError(f"kind must be one of {', '.join(kinds)}; got {kind!r}.")
    if kind in {str(k) for k in Interaction.ARTIST_KINDS}:
        if artist is None or course is not None:
            raise InteractionInputError(f"{kind!r} is about an artist: give artist and no course.")
        if not isinstance(artist, Artist) or artist.pk is None:
            raise InteractionInputError("artist must be a saved Artist.")
    else:
        if course is None or artist is not None:
            raise InteractionInputError(f"{kind!r} is about a course: give course and no artist.")
        if not isinstance(course, Course) or course.pk is None:
            raise InteractionInputError("course must be a saved Course.")
    with transaction.atomic():
        interaction = Interaction.objects.create(listener=listener, kind=kind, artist=artist, course=course)
        if kind == Interaction.Kind.LISTEN:
            assert artist is not None  # listen is an artist kind: checked above
            updated = Listen.objects.filter(listener=listener, artist=artist).update(play_count=F("play_count") + 1)
            if not updated:
                Listen.objects.create(listener=listener, artist=artist, play_count=1)
        elif kind == Interaction.Kind.LIKE:
            Listen.objects.get_or_create(listener=listener, artist=artist, defaults={"play_count": 1})
    return interaction


def interests_set(listener: Listener, entity_ids: Sequence[str]) -> list[Interest]:
    """Replace the learner's onboarding picks with ``entity_ids`` (artists, tags, instruments … in the graph).

    Every id must exist in the knowledge graph (``UnknownEntityError`` names the missing ones, and
    nothing changes); names and types are copied from the graph so the picks read well without it.
    An empty list clears the picks.
    """
    if not isinstance(listener, Listener) or listener.pk is None:
        raise ConfigurationError("listener must be a saved Listener.")
    if isinstance(entity_ids, (str, bytes)) or not isinstance(entity_ids, Sequence):
        raise ConfigurationError("entity_ids must be a list of graph entity ids such as 'lastfm:tag:829'.")
    wanted: list[str] = []
    for entity_id in entity_ids:
        if not isinstance(entity_id, str) or not entity_id.strip():
            raise ConfigurationError(f"every interest must be a non-empty entity id string, got {entity_id!r}.")
        if entity_id not in wanted:
            wanted.append(entity_id)
    if len(wanted) > MAX_INTERESTS:
        raise ConfigurationError(f"at most {MAX_INTERESTS} interests may be picked, got {len(wanted)}.")
    from kg.stores import get_store

    with get_store() as store:
        found = store.get_entities(wanted) if wanted else {}
    missing = [entity_id for entity_id in wanted if entity_id not in found]
    if missing:
        raise UnknownEntityError(
            f"{', '.join(map(repr, missing))} {'is' if len(missing) == 1 else 'are'} not in the knowledge graph; "
            "pick artists, tags or instruments found with the entity search."
        )
    with transaction.atomic():
        Interest.objects.filter(listener=listener).delete()
        Interest.objects.bulk_create(
            [
                Interest(
                    listener=listener,
                    entity_id=entity_id,
                    name=found[entity_id].name[:255],
                    entity_type=found[entity_id].type[:64],
                )
                for entity_id in wanted
            ]
        )
    return list(Interest.objects.filter(listener=listener).order_by("name", "entity_id"))
