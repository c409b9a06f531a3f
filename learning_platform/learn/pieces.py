"""Reads for the works catalogue on learner pages: recordings, composers' pages, works of an artist, pieces to play.

Why one selector module: the work page, the artist page and "For you" each need a few graph walks
(``Person -COMPOSED-> Work``, ``Person -SAME_AS-> Artist``) and catalogue look-ups; kept here, the
views stay thin and every page words a work the same way.

* :func:`recording_file` — the rendered recording of a work, only inside ``LEITMOTIF_CACHE_DIR/works/``
  and only of a known audio type (the path comes from the catalogue row, never from the request);
* :func:`composer_of_work` — the work's composer and, when linked, their Last.FM artist page;
* :func:`works_of_artist` — the catalogue works of the composer an artist page is about;
* :func:`pieces_to_play` — works scored for the learner's instrument(s) by composers, eras or forms
  their picks, likes or listening point to, or whose score exercises a concept that is a next step
  of their learning plan (``Work -EXERCISES_CONCEPT-> Concept``), each with one true reason.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse

from audio.works.tables import ERAS, EXTRA_INSTRUMENTS, FORMS
from catalog.models import Artist, Interaction, Interest, Listen, Listener, Work
from core.errors import LeitmotifError, UnknownEntityError
from kg.schema import COMPOSED, EXERCISES_CONCEPT, INSTRUMENTS, PERSON_TYPE, SAME_AS, TAG_TYPE, fold
from kg.stores.base import Direction, KnowledgeGraphStore, Neighbour

logger = logging.getLogger(__name__)

#: Audio types a work's recording may have (rendered works are FLAC; uploads keep their own type).
AUDIO_CONTENT_TYPES = {
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".mp3": "audio/mpeg",
}
#: The folder under ``LEITMOTIF_CACHE_DIR`` every work recording lives in.
RECORDINGS_SUBDIR = "works"
PIECES_K = 5
#: How many works of one composer an artist page lists.
ARTIST_WORKS_LIMIT = 30


def _neighbours(
    store: KnowledgeGraphStore, entity_id: str, direction: Direction, relation_type: str
) -> list[Neighbour]:
    """The entity's edges of one type; none when the entity is not in the graph (a catalogue row without one)."""
    try:
        return store.neighbours(entity_id, direction=direction, relation_types=[relation_type])
    except UnknownEntityError:
        return []


# --- recordings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    path: Path
    content_type: str


def recording_file(work: Work) -> Recording | None:
    """The work's recording on disk, or None (not rendered here, unknown type, or outside the recordings folder).

    Why the checks: ``audio_path`` is data; resolving it and requiring it under
    ``<LEITMOTIF_CACHE_DIR>/works/`` means even an edited row (``../../etc/passwd``) can serve nothing else.
    """
    if not work.audio_path:
        return None
    root = (Path(settings.LEITMOTIF_CACHE_DIR) / RECORDINGS_SUBDIR).resolve()
    try:
        path = (Path(settings.LEITMOTIF_CACHE_DIR) / work.audio_path).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    content_type = AUDIO_CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None or not path.is_relative_to(root) or not path.is_file():
        return None
    return Recording(path=path, content_type=content_type)


# --- display helpers --------------------------------------------------------------------------------


def instrument_name(slug: str) -> str:
    """An instrument's display name ("Piano", "Organ"): the shared vocabulary's, else the works tables', else the slug."""
    term = INSTRUMENTS.get(slug) or EXTRA_INSTRUMENTS.get(slug)
    return term.name if term is not None else slug.replace("-", " ").capitalize()


def instrument_names(work: Work) -> list[str]:
    return [instrument_name(slug) for slug in work.instrumentation or []]


@dataclass(frozen=True)
class WorkLink:
    """A work as a line on a page: its address, title and what a learner scans for."""

    pk: int
    title: str
    url: str
    composer: str
    instruments: tuple[str, ...]
    form: str
    era: str


def work_link(work: Work) -> WorkLink:
    return WorkLink(
        pk=work.pk,
        title=work.title,
        url=reverse("learn:work", args=[work.pk]),
        composer=work.composer_name,
        instruments=tuple(instrument_names(work)),
        form=work.form,
        era=work.era,
    )


# --- composers and their Last.FM artists ------------------------------------------------------------


@dataclass(frozen=True)
class ComposerLink:
    name: str
    person_id: str | None
    #: The composer's Last.FM artist page, when the graph links them (``Person -SAME_AS-> Artist``).
    artist_url: str | None


def _artists_of_persons(person_ids: Iterable[str], *, store: KnowledgeGraphStore) -> dict[str, str]:
    """``{person id: artist entity id}`` for the persons the graph links to a Last.FM artist."""
    found: dict[str, str] = {}
    for person_id in person_ids:
        for n in _neighbours(store, person_id, "out", SAME_AS):
            found.setdefault(person_id, n.entity.id)
    return found


def composer_of_work(work: Work, *, store: KnowledgeGraphStore) -> ComposerLink | None:
    """Who composed the work (from the graph's ``COMPOSED`` edge) and their artist page when linked."""
    persons = [n.entity for n in _neighbours(store, work.entity_id, "in", COMPOSED) if n.entity.type == PERSON_TYPE]
    if not persons:
        return ComposerLink(name=work.composer_name, person_id=None, artist_url=None) if work.composer_name else None
    person = persons[0]
    artist_id = _artists_of_persons([person.id], store=store).get(person.id)
    artist = Artist.objects.filter(entity_id=artist_id).only("pk").first() if artist_id else None
    return ComposerLink(
        name=work.composer_name or person.name,
        person_id=person.id,
        artist_url=reverse("learn:artist", args=[artist.pk]) if artist else None,
    )


def _works_of_persons(person_ids: Iterable[str], *, store: KnowledgeGraphStore) -> dict[str, set[str]]:
    """``{work entity id: {person ids who composed it}}``."""
    composed: dict[str, set[str]] = defaultdict(set)
    for person_id in person_ids:
        for n in _neighbours(store, person_id, "out", COMPOSED):
            composed[n.entity.id].add(person_id)
    return composed


def works_of_artist(artist: Artist, *, store: KnowledgeGraphStore, limit: int = ARTIST_WORKS_LIMIT) -> list[WorkLink]:
    """Catalogue works by the composer this Last.FM artist is (``Artist <-SAME_AS- Person -COMPOSED-> Work``)."""
    persons = [n.entity.id for n in _neighbours(store, artist.entity_id, "in", SAME_AS) if n.entity.type == PERSON_TYPE]
    if not persons:
        return []
    work_ids = list(_works_of_persons(persons, store=store))
    works = Work.objects.filter(entity_id__in=work_ids).order_by("title")[:limit]
    return [work_link(work) for work in works]


def related_works(work: Work, *, limit: int = 6) -> dict[str, list[WorkLink]]:
    """Other catalogue works sharing the composer, the form or the era of ``work`` (what the facts' links show)."""
    others = Work.objects.exclude(pk=work.pk).order_by("title")
    related: dict[str, list[WorkLink]] = {}
    for name, value in (("composer", work.composer_name), ("form", work.form), ("era", work.era)):
        field = "composer_name" if name == "composer" else name
        if value:
            related[name] = [work_link(w) for w in others.filter(**{field: value})[:limit]]
    return related


# --- pieces to play -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A work recommended to play, with the one-line reason (every part of it is a fact about the learner)."""

    work: WorkLink
    reason: str


def _slug_of(instrument_id: str) -> str:
    return instrument_id.rsplit(":", 1)[-1]


def _taste_artists(listener: Listener) -> dict[str, str]:
    """``{artist entity id: how the learner knows them}``: picked first, then liked, then listened to."""
    taste: dict[str, str] = {}
    for entity_id in listener.interests.filter(entity_type="Artist").values_list("entity_id", flat=True):
        taste.setdefault(entity_id, "whom you picked")
    liked = Interaction.objects.filter(listener=listener, kind=Interaction.Kind.LIKE, artist__isnull=False)
    for entity_id in liked.values_list("artist__entity_id", flat=True):
        taste.setdefault(entity_id, "whom you liked")
    listened = Listen.objects.filter(listener=listener).order_by("-play_count")[:50]
    for entity_id in listened.values_list("artist__entity_id", flat=True):
        taste.setdefault(entity_id, "whom you listen to")
    return taste


#: Last.FM tags that name an era without doubt. "classical" (all art music), "romantic" (a mood) and
#: "modern" are left out on purpose: reading them as the Classical, Romantic or Modern era would be a
#: reason that is not true.
ERA_TAGS: dict[str, str] = {
    "medieval": "medieval",
    "early music": "medieval",
    "renaissance": "renaissance",
    "baroque": "baroque",
    "classical period": "classical",
    "classical era": "classical",
    "romantic era": "romantic",
    "romanticism": "romantic",
}
#: Forms a tag may name (by the form's name or one of its phrases). Words that are forms only sometimes
#: ("song", "air", "slide", "mass", "canon", "march") are left out for the same reason.
FORM_TAG_SLUGS = (
    "chorale",
    "madrigal",
    "motet",
    "string-quartet",
    "piano-trio",
    "sonata",
    "prelude",
    "lied",
    "hymn",
    "mazurka",
    "polonaise",
    "rag",
    "reel",
    "jig",
    "hornpipe",
    "strathspey",
    "polka",
    "waltz",
    "minuet",
    "gavotte",
)


def _taste_terms(interests: Sequence[Interest]) -> tuple[dict[str, str], dict[str, str]]:
    """Eras and forms the learner's picked tags name without doubt: ``{display name: the tag's name}``."""
    era_by_word = {fold(word): ERAS[slug].name for word, slug in ERA_TAGS.items()}
    form_by_word: dict[str, str] = {}
    for slug in FORM_TAG_SLUGS:
        term = FORMS[slug]
        for word in (term.name, *(p for p in term.phrases if p != "quartet")):
            form_by_word.setdefault(fold(word), term.name)
    eras: dict[str, str] = {}
    forms: dict[str, str] = {}
    for interest in interests:
        if interest.entity_type != TAG_TYPE:
            continue
        word = fold(" ".join(interest.name.split()))
        if word in era_by_word:
            eras.setdefault(era_by_word[word], interest.name)
        if word in form_by_word:
            forms.setdefault(form_by_word[word], interest.name)
    return eras, forms


def next_concepts(listener: Listener, *, store: KnowledgeGraphStore) -> dict[str, str]:
    """``{concept id: name}`` of the learner's next steps (prerequisites mastered, at their level); empty without a plan.

    Why only the candidates, not :func:`curriculum.selectors.next_steps`: the ranking there asks the
    recommender for music; a piece only needs to know which concepts are open to the learner now.
    """
    if listener.user_id is None:
        return {}
    from curriculum.graph import curriculum_graph
    from curriculum.selectors import (
        learner_mastery,
        learner_settings,
        mastery_threshold,
        mastery_values,
        next_step_candidates,
    )

    try:
        graph = curriculum_graph(store)
        if not graph.concepts:
            return {}
        user = listener.user
        learner = learner_settings(user)
        mastery = mastery_values(learner_mastery(user, graph=graph))
        found = next_step_candidates(graph, mastery=mastery, threshold=mastery_threshold(), learner=learner)
    except LeitmotifError:  # no plan yet (no curriculum, not a signed-up learner): pieces need none
        return {}
    return {concept_id: graph.concepts[concept_id].name for concept_id in found}


def _works_exercising(concepts: dict[str, str], *, store: KnowledgeGraphStore) -> dict[str, tuple[str, str]]:
    """``{work entity id: (concept name, how it was measured)}`` for works exercising one of ``concepts``."""
    found: dict[str, tuple[str, str, float]] = {}
    for concept_id, name in sorted(concepts.items()):
        for n in _neighbours(store, concept_id, "in", EXERCISES_CONCEPT):
            confidence = float(n.relation.confidence)
            if n.entity.id not in found or confidence > found[n.entity.id][2]:
                found[n.entity.id] = (name, str(n.relation.properties.get("how", "")), confidence)
    return {work_id: (name, how) for work_id, (name, how, _) in found.items()}


def pieces_to_play(
    listener: Listener,
    *,
    instruments: Sequence[str],
    store: KnowledgeGraphStore,
    k: int = PIECES_K,
    concepts: dict[str, str] | None = None,
) -> list[Piece]:
    """Works scored for one of ``instruments`` (entity ids) whose composer, era or form the learner's taste
    names, or that exercise one of the learner's next concepts.

    Taste: artists the learner picked, liked or listens to that the graph links to a composer
    (``Person -SAME_AS-> Artist``), and picked tags that name an era or a form. Next concepts:
    ``concepts`` (``{concept id: name}``), by default the learner's next steps (:func:`next_concepts`);
    a work exercising one says which and how it was measured ("exercises Arpeggios, a next step for
    you: arpeggio figures: 34% of notes"). Order: works with more reasons first, then fewer parts
    (easier to play alone), then title. Nothing is guessed: with no instrument or no matching taste or
    concept the list is empty, and every reason is true ("Scored for piano · by Frédéric Chopin, whom you picked").
    """
    slugs = {_slug_of(i) for i in instruments}
    if not slugs:
        return []
    exercising = _works_exercising(
        concepts if concepts is not None else next_concepts(listener, store=store), store=store
    )
    taste_artists = _taste_artists(listener)
    interests = list(listener.interests.all())
    eras, forms = _taste_terms(interests)
    # composers: Person -SAME_AS-> Artist for the artists of the learner's taste
    composer_reason: dict[str, str] = {}
    for artist_id, how in taste_artists.items():
        for n in _neighbours(store, artist_id, "in", SAME_AS):
            if n.entity.type == PERSON_TYPE:
                composer_reason.setdefault(n.entity.id, how)
    work_persons = _works_of_persons(composer_reason, store=store)
    candidates = Work.objects.exclude(audio_path="").order_by("title")
    scored: list[tuple[tuple[int, int, str], Piece]] = []
    for work in candidates.iterator():
        played = [slug for slug in work.instrumentation or [] if slug in slugs]
        if not played:
            continue
        because: list[str] = []
        for person_id in sorted(work_persons.get(work.entity_id, ())):
            because.append(f"by {work.composer_name or 'its composer'}, {composer_reason[person_id]}")
            break
        if work.era and work.era in eras:
            because.append(f"{work.era} era, from your tag “{eras[work.era]}”")
        if work.form and work.form in forms:
            because.append(f"a {work.form.lower()}, from your tag “{forms[work.form]}”")
        if work.entity_id in exercising:
            concept_name, how = exercising[work.entity_id]
            because.append(f"exercises {concept_name}, a next step for you" + (f": {how}" if how else ""))
        if not because:
            continue
        reason = " · ".join([f"Scored for {instrument_name(played[0]).lower()}", *because])
        rank = (-len(because), max(len(work.voices or []), 1), work.title)
        scored.append((rank, Piece(work=work_link(work), reason=reason)))
    scored.sort(key=lambda item: item[0])
    return [piece for _, piece in scored[:k]]


def log_operator_hint(what: str, hint: str, **context: Any) -> None:
    """Tell the operator (the log, not the learner) what would make a page complete."""
    logger.warning("%s: %s", what, hint, extra={"leitmotif_" + key: value for key, value in context.items()})
