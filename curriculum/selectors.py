"""Reads of the curriculum: learner progress, adaptive next steps and learning paths, each with reasons.

Everything is recomputed from the learner's current progress on every call (mastery rows, completed
courses, listening) and from the graph as it is now, so a path adapts the moment a lesson is completed
or a concept marked as mastered, and a curator's new prerequisite shows up on the next page view.

**Mastery** of a concept is the larger of the learner's latest explicit evidence (self-assessment or
quiz, :class:`~.models.ConceptMastery`) and what completed courses give: a ``complete`` interaction
on a course counts ``lesson_mastery() × link confidence`` for every concept the course teaches, so a
course matched loosely ("jam" → improvisation, 0.7) counts less than one that names the concept.

**Next steps** are concepts not yet mastered whose prerequisites all are, at or below the learner's
level and for their instruments. Each comes with courses that teach it (only courses within reach:
every concept they teach has its prerequisites at least :data:`STRETCH_READINESS` of the way to
mastered, unless ``allow_stretch``), music that exercises it (artists carrying the concept's
associated tags — ones the learner already listens to, else ranked by the published recommender for
this learner, else by popularity) and a sentence built from those graph facts.

**Works to play** for a step are works of the catalogue whose score exercises the concept
(``Work -EXERCISES_CONCEPT-> Concept``, measured by :mod:`audio.works.concepts` when the works are
loaded): up to :data:`WORKS_PER_STEP`, scored for the learner's instrument first, then — for beginner
and intermediate learners — the easier ones first (fewer notes per beat in the busiest part), for
advanced learners the clearest examples first (the link's confidence). See :func:`concept_works`.

**Paths** lead to a goal — a concept, an instrument, a tag, a course, an artist or another entity
linked to artists — through the algorithms of :mod:`.paths`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count

from catalog.models import Artist, Course, Interaction, Interest, Listen, Listener, Work
from core.errors import (
    ConfigurationError,
    LearningPathError,
    LeitmotifError,
    StoreUnavailableError,
    UnknownEntityError,
)
from curriculum import paths
from curriculum.graph import ConceptNode, CurriculumGraph, TagLink, curriculum_graph
from curriculum.models import ConceptMastery, LearnerProfile
from curriculum.vocabulary import COURSE_LEVEL_RANK, LEVEL_NAMES, LEVEL_RANK, LEVELS
from kg.schema import (
    ARTIST_TYPE,
    CONCEPT_TYPE,
    COURSE_TYPE,
    EXERCISES_CONCEPT,
    HAS_TAG,
    INSTRUMENT_PREFIX,
    INSTRUMENT_TYPE,
    TAG_TYPE,
    fold,
)
from kg.stores.base import KnowledgeGraphStore

#: A concept counts as mastered from this mastery on (setting ``CURRICULUM_MASTERY_THRESHOLD``).
DEFAULT_MASTERY_THRESHOLD = 0.7
#: Mastery a completed course gives the concepts it names (setting ``CURRICULUM_LESSON_MASTERY``):
#: above the threshold, so finishing a course that names a concept masters it; a loose match (0.7
#: confidence) gives 0.56, "on the way" but not mastered.
DEFAULT_LESSON_MASTERY = 0.8
#: A course is within reach when every concept it teaches has readiness (see :func:`.paths.readiness`)
#: of at least this: its prerequisites are at least half-way to mastered.
STRETCH_READINESS = 0.5
DEFAULT_NEXT_STEPS = 5
MAX_NEXT_STEPS = 20
COURSES_PER_STEP = 3
ARTISTS_PER_STEP = 3
WORKS_PER_STEP = 3
#: Tags of a concept tried for music (the ones the learner's taste touches first).
TAGS_PER_STEP = 3
#: An artist goal uses the artist's most-given tags only: a tag given once is often noise ("seen live").
ARTIST_GOAL_TAGS = 8
#: Artists of an entity goal (an album, a track) followed to their tags.
ENTITY_GOAL_ARTISTS = 5

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def mastery_threshold() -> float:
    return _fraction_setting("CURRICULUM_MASTERY_THRESHOLD", DEFAULT_MASTERY_THRESHOLD, allow_zero=False)


def lesson_mastery() -> float:
    return _fraction_setting("CURRICULUM_LESSON_MASTERY", DEFAULT_LESSON_MASTERY, allow_zero=True)


def _fraction_setting(name: str, default: float, *, allow_zero: bool) -> float:
    value = getattr(settings, name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0 <= value <= 1)
        or (value == 0 and not allow_zero)
    ):
        raise ConfigurationError(
            f"settings.{name} must be a number {'from 0' if allow_zero else 'above 0'} up to 1, got {value!r}."
        )
    return float(value)


def check_threshold(threshold: float | None) -> float:
    if threshold is None:
        return mastery_threshold()
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise LearningPathError(f"threshold must be a number above 0 and at most 1, got {threshold!r}.")
    return float(threshold)


# --- the learner ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnerSettings:
    """Level and instruments used for matching. ``instruments_from`` says where the instruments came from."""

    level: str
    instruments: tuple[str, ...]
    instruments_from: str  # "profile" | "interests" | "tags" | "none"
    has_profile: bool

    @property
    def level_rank(self) -> int:
        return LEVEL_RANK[self.level]


def learner_settings(user: Any) -> LearnerSettings:
    """The learner's profile; without instruments there, the instruments picked at onboarding, else the ones
    a picked tag names exactly (the tag "piano" names Piano, see :func:`instruments_named_by_tags`).

    Why fall back to onboarding picks: a learner who picked "Guitar" as an interest should not see
    drum rudiments as a next step before they ever open the profile form. Onboarding also stores what a
    picked tag names in the profile (:func:`curriculum.services.profile_instruments_from_picks`), where
    the learner sees it and can change it; the read-time fallback covers picks made through the API.
    """
    require_learner(user)
    profile = LearnerProfile.objects.filter(user=user).first()
    if profile is not None and profile.instruments:
        return LearnerSettings(
            level=profile.level, instruments=tuple(profile.instruments), instruments_from="profile", has_profile=True
        )
    picks = list(
        Interest.objects.filter(listener__user=user, entity_type__in=[INSTRUMENT_TYPE, TAG_TYPE])
        .order_by("name", "entity_id")
        .values_list("entity_id", "entity_type", "name")
    )
    picked = tuple(entity_id for entity_id, kind, _ in picks if kind == INSTRUMENT_TYPE)
    source = "interests" if picked else "none"
    tag_names = [name for _, kind, name in picks if kind == TAG_TYPE]
    if not picked and tag_names:
        from kg.stores import get_store

        try:
            with get_store() as store:
                picked = tuple(instruments_named_by_tags(tag_names, store=store))
        except StoreUnavailableError:  # the profile page still shows; matching just has no instrument
            picked = ()
        source = "tags" if picked else "none"
    level = profile.level if profile is not None else LearnerProfile.Level.BEGINNER
    return LearnerSettings(
        level=str(level), instruments=picked, instruments_from=source, has_profile=profile is not None
    )


def instruments_named_by_tags(tag_names: Iterable[str], *, store: KnowledgeGraphStore) -> list[str]:
    """Ids of the platform's instruments (:func:`instrument_choices`) whose name is exactly one of ``tag_names``.

    Case- and accent-insensitive, whole name only: "piano" and "Violão"… name an instrument only when an
    instrument is called that; "piano rock" or "jazz guitar" name a genre, not the learner's instrument.
    """
    wanted = {fold(name).strip() for name in tag_names if name and name.strip()}
    if not wanted:
        return []
    return [entity_id for entity_id, name in instrument_choices(store) if fold(name).strip() in wanted]


def stated_instruments(listener: Listener) -> list[str]:
    """The instruments in a listener's learner profile (none for a listener without a user or a profile).

    Registered with :func:`recommender.serving.services.stated_instruments_reader_set` (see :mod:`.apps`), so
    course recommendations on every surface (pages, /ask/, the REST API) follow the profile.
    """
    if listener.user_id is None:
        return []
    found = LearnerProfile.objects.filter(user_id=listener.user_id).values_list("instruments", flat=True).first()
    return [i for i in found or [] if isinstance(i, str)]


def require_learner(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        raise ConfigurationError("Learning progress belongs to a signed-up user; sign in first.")


@dataclass(frozen=True)
class MasteryState:
    """A learner's effective mastery of one concept and its latest evidence."""

    concept_id: str
    mastery: float
    source: str  # "self" | "quiz" | "lesson"
    evidence: str
    #: Titles of the completed courses that count toward it (lesson evidence).
    courses: tuple[str, ...]
    updated_at: datetime | None


def learner_mastery(user: Any, *, graph: CurriculumGraph) -> dict[str, MasteryState]:
    """Effective mastery per concept: stored evidence merged with completed courses (see the module docstring)."""
    require_learner(user)
    states: dict[str, MasteryState] = {}
    for row in ConceptMastery.objects.filter(user=user).order_by("concept_id"):
        states[row.concept_id] = MasteryState(
            concept_id=row.concept_id,
            mastery=float(row.mastery),
            source=row.source,
            evidence=row.evidence,
            courses=(),
            updated_at=row.updated_at,
        )
    gain = lesson_mastery()
    completed = (
        Interaction.objects.filter(listener__user=user, kind=Interaction.Kind.COMPLETE, course__isnull=False)
        .order_by("created_at", "id")
        .values_list("course__entity_id", "course__title", "course__level", "created_at")
    )
    from_courses: dict[str, tuple[float, list[str], datetime]] = {}
    for course_id, title, course_level, when in completed:
        for concept_id, confidence in course_credits(graph, course_id, course_level):
            value = round(gain * confidence, 4)
            best, titles, _ = from_courses.get(concept_id, (0.0, [], when))
            if title not in titles:
                titles.append(title)
            from_courses[concept_id] = (max(best, value), titles, when)
    for concept_id, (value, titles, when) in from_courses.items():
        stored = states.get(concept_id)
        if stored is None or value > stored.mastery:
            states[concept_id] = MasteryState(
                concept_id=concept_id,
                mastery=value,
                source=ConceptMastery.Source.LESSON,
                evidence=titles[-1],
                courses=tuple(titles),
                updated_at=when,
            )
        else:
            states[concept_id] = MasteryState(
                concept_id=stored.concept_id,
                mastery=stored.mastery,
                source=stored.source,
                evidence=stored.evidence,
                courses=tuple(titles),
                updated_at=stored.updated_at,
            )
    return states


def mastery_values(states: Mapping[str, MasteryState]) -> dict[str, float]:
    return {concept_id: state.mastery for concept_id, state in states.items()}


@dataclass
class Taste:
    """What the learner listens to: artist entity ids with a weight (log plays, likes doubled) and picked tags."""

    artists: dict[str, float] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    listener: Listener | None = None


def learner_taste(user: Any) -> Taste:
    """Listens and likes (minus artists whose latest event is a skip) and onboarding picks; reads never create a listener."""
    listener = Listener.objects.filter(user=user).first()
    taste = Taste(listener=listener)
    if listener is None:
        return taste
    for entity_id, plays in Listen.objects.filter(listener=listener, play_count__gt=0).values_list(
        "artist__entity_id", "play_count"
    ):
        taste.artists[entity_id] = math.log1p(plays)
    latest: dict[str, str] = {}
    for entity_id, kind in (
        Interaction.objects.filter(listener=listener, artist__isnull=False)
        .order_by("created_at", "id")
        .values_list("artist__entity_id", "kind")
    ):
        latest[entity_id] = kind
        if kind == Interaction.Kind.LIKE:
            taste.artists[entity_id] = taste.artists.get(entity_id, math.log1p(1)) * 2
    for entity_id, kind in latest.items():
        if kind == Interaction.Kind.SKIP:
            taste.artists.pop(entity_id, None)
    for entity_id, entity_type in Interest.objects.filter(listener=listener).values_list("entity_id", "entity_type"):
        if entity_type == ARTIST_TYPE:
            taste.artists.setdefault(entity_id, math.log1p(1))
        elif entity_type == TAG_TYPE:
            taste.tags.add(entity_id)
    return taste


def completed_courses(user: Any) -> set[str]:
    return set(
        Interaction.objects.filter(
            listener__user=user, kind=Interaction.Kind.COMPLETE, course__isnull=False
        ).values_list("course__entity_id", flat=True)
    )


# --- resources ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConceptRef:
    id: str
    name: str
    level: str | None

    @classmethod
    def of(cls, node: ConceptNode) -> ConceptRef:
        return cls(id=node.id, name=node.name, level=node.level)


@dataclass(frozen=True)
class CourseResource:
    course_id: str
    title: str
    pk: int | None
    level: str
    confidence: float
    matched: str
    #: Readiness of the course's weakest concept (1.0: every prerequisite of everything it teaches is mastered).
    readiness: float
    within_reach: bool
    subscribers: int
    url: str
    #: Empty when the course names the concept; else the umbrella concept the course names instead.
    via: str = ""


@dataclass(frozen=True)
class ArtistResource:
    entity_id: str
    name: str
    pk: int | None
    tag: str
    basis: str  # "history" | "recommender" | "popularity"
    score: float
    reason: str


@dataclass(frozen=True)
class WorkResource:
    """A work of the catalogue whose score exercises a concept, with the measurement that says so."""

    entity_id: str
    title: str
    composer: str
    pk: int
    #: The detector's sentence ("arpeggio figures: 34% of notes (25 figures)").
    how: str
    confidence: float
    #: Scored for one of the learner's instruments.
    for_instrument: bool
    instrument_names: tuple[str, ...]
    #: Onsets per quarter note in the busiest part (None when not measured): the difficulty signal.
    notes_per_beat: float | None


def concept_works(
    concept_id: str,
    *,
    store: KnowledgeGraphStore,
    instruments: Sequence[str] = (),
    level_rank: int = 0,
    limit: int = WORKS_PER_STEP,
) -> list[WorkResource]:
    """Up to ``limit`` works exercising ``concept_id``: the learner's instruments first, then by difficulty.

    Order and why: a piece for the instrument the learner plays is one they can actually play; among
    those, beginner and intermediate learners (``level_rank`` below the advanced rank) get the easier
    pieces first (fewer notes per beat), advanced learners the clearest examples first (the link's
    confidence); ties by title. Works missing from the catalogue (no page to link to) are left out.
    """
    try:
        links = store.neighbours(concept_id, direction="in", relation_types=[EXERCISES_CONCEPT])
    except UnknownEntityError:  # deleted by a curator since the curriculum was read: nothing to offer
        return []
    if not links:
        return []
    rows = {w.entity_id: w for w in Work.objects.filter(entity_id__in={n.entity.id for n in links})}
    wanted = {i.removeprefix(INSTRUMENT_PREFIX) for i in instruments}
    advanced = level_rank >= LEVEL_RANK.get("advanced", 2)
    found: list[WorkResource] = []
    for link in links:
        row = rows.get(link.entity.id)
        if row is None:
            continue
        density = link.entity.properties.get("notes_per_beat")
        found.append(
            WorkResource(
                entity_id=row.entity_id,
                title=row.title,
                composer=row.composer_name,
                pk=row.pk,
                how=str(link.relation.properties.get("how", "")),
                confidence=float(link.relation.confidence),
                for_instrument=bool(wanted & set(row.instrumentation or [])),
                instrument_names=tuple(str(slug).replace("-", " ") for slug in row.instrumentation or []),
                notes_per_beat=float(density) if isinstance(density, int | float) else None,
            )
        )

    def order(work: WorkResource) -> tuple:
        difficulty = work.notes_per_beat if work.notes_per_beat is not None else math.inf
        return (
            not work.for_instrument,
            -work.confidence if advanced else difficulty,
            difficulty if advanced else -work.confidence,
            work.title,
            work.entity_id,
        )

    return sorted(found, key=order)[:limit]


class _Resources:
    """Per-request memo of the reads resources need (tag members, catalog rows, recommender calls)."""

    def __init__(self, store: KnowledgeGraphStore, graph: CurriculumGraph):
        self.store = store
        self.graph = graph
        self._recommended: dict[str, list[ArtistResource] | None] = {}

    def tag_artists(self, tag_id: str) -> tuple[str, ...]:
        return self.graph.tag_artists(tag_id, self.store)

    def course_rows(self, course_ids: Iterable[str]) -> dict[str, Course]:
        return {c.entity_id: c for c in Course.objects.filter(entity_id__in=set(course_ids))}

    def recommended(self, listener: Listener | None, tag: TagLink, exclude: set[str]) -> list[ArtistResource] | None:
        """Artists of ``tag`` ranked for ``listener`` by the published model; ``None`` when no model can rank them."""
        if listener is None:
            return None
        if tag.tag_id not in self._recommended:
            from recommender.serving import selectors as serving

            try:
                recs = serving.recommendations_for_listener(
                    listener, kind="music", k=ARTISTS_PER_STEP + 3, exclude_seen=True, tag=tag.tag_id
                )
            except (
                LeitmotifError
            ):  # no published model, or the tag is not in the served snapshot: popularity ranks instead
                self._recommended[tag.tag_id] = None
            else:
                self._recommended[tag.tag_id] = [
                    ArtistResource(
                        entity_id=r.entity_id,
                        name=r.artist.name if r.artist else r.entity_id,
                        pk=r.artist.pk if r.artist else None,
                        tag=tag.name,
                        basis="recommender",
                        score=float(r.score),
                        reason=r.explanation.sentence,
                    )
                    for r in recs
                ]
        found = self._recommended[tag.tag_id]
        return None if found is None else [a for a in found if a.entity_id not in exclude]


def _course_level_rank(level: str) -> int | None:
    return COURSE_LEVEL_RANK.get(level)


def _umbrella_course_fits(course_level_rank: int | None, part: ConceptNode) -> bool:
    """Whether a course teaching an umbrella also serves its part ``part``: its level is within one step of it.

    One rule for both sides: :func:`concept_courses` lists such a course under the part, and
    :func:`course_credits` credits the part when the course is completed.
    """
    rank = course_level_rank if course_level_rank is not None else part.level_rank
    return abs(rank - part.level_rank) <= 1


def course_credits(graph: CurriculumGraph, course_id: str, course_level: str) -> list[tuple[str, float]]:
    """``(concept id, confidence)`` a completed course counts toward: what it teaches, and the parts of an
    umbrella it teaches that it is listed under (:func:`_umbrella_course_fits`).

    Why the parts: a "Music theory" course is listed under the step "Intervals" (via its umbrella); completing
    the course listed under a step must move that step forward, not only the umbrella.
    """
    credits = dict(graph.concepts_for_course(course_id))
    rank = _course_level_rank(course_level)
    for concept_id, confidence in list(credits.items()):
        umbrella = graph.concepts.get(concept_id)
        if umbrella is None:
            continue
        for part_id in umbrella.narrower:
            part = graph.concepts.get(part_id)
            if part is not None and _umbrella_course_fits(rank, part) and credits.get(part_id, 0.0) < confidence:
                credits[part_id] = confidence
    return sorted(credits.items(), key=lambda item: (-item[1], item[0]))


def _course_links(graph: CurriculumGraph, node: ConceptNode) -> list[tuple[Any, str]]:
    """Courses teaching ``node`` directly, then courses teaching an umbrella it is part of (``via`` = umbrella name).

    Why umbrellas: few course titles name a fine concept ("Intervals"), many name its umbrella ("Music
    theory"); such a course is a real resource for the part, and the page says it comes via the umbrella.
    """
    links: list[tuple[Any, str]] = [(link, "") for link in node.courses]
    seen = {link.course_id for link in node.courses}
    for broader in node.broader:
        umbrella = graph.concepts.get(broader)
        if umbrella is None:
            continue
        for link in umbrella.courses:
            if link.course_id not in seen:
                seen.add(link.course_id)
                links.append((link, umbrella.name))
    return links


def concept_courses(
    graph: CurriculumGraph,
    concept_id: str,
    *,
    mastery: Mapping[str, float],
    threshold: float,
    learner_level_rank: int,
    completed: set[str],
    allow_stretch: bool,
    rows: Mapping[str, Course],
    limit: int = COURSES_PER_STEP,
    instruments: Sequence[str] = (),
) -> list[CourseResource]:
    """Courses that teach ``concept_id``, best first, within reach unless ``allow_stretch``.

    For a learner with ``instruments``, a course that teaches only other instruments is never listed (a
    guitarist's step on scales does not offer a harmonica course); courses of their instrument come
    before courses of no instrument (theory).

    Within reach: every concept the course teaches has readiness ≥ :data:`STRETCH_READINESS` (counting the
    concepts the course itself teaches as covered), and the course's level is not above the learner's
    ("all levels" fits everyone). Order: within reach first,
    then closest to the concept's level, most confident link, most subscribers, title.
    """
    node = graph.concepts[concept_id]
    found: list[tuple[tuple, CourseResource]] = []
    for link, via in _course_links(graph, node):
        if link.course_id in completed:
            continue
        fit = graph.course_fit(link.course_id, instruments)
        if fit < 0:
            continue
        row = rows.get(link.course_id)
        taught = graph.concepts_for_course(link.course_id) or ((concept_id, link.confidence),)
        # a prerequisite the course teaches itself is not missing: the course covers it on the way
        covered = {**mastery, **{other: 1.0 for other, _ in taught if other in graph.concepts}}
        course_readiness = min(
            paths.readiness(graph, other, covered, threshold) for other, _ in taught if other in graph.concepts
        )
        level = row.level if row is not None else "all"
        level_rank = _course_level_rank(level)
        too_hard = level_rank is not None and level_rank > learner_level_rank
        within = course_readiness >= STRETCH_READINESS and not too_hard
        if not within and not allow_stretch:
            continue
        distance = abs((level_rank if level_rank is not None else node.level_rank) - node.level_rank)
        if via and not _umbrella_course_fits(level_rank, node):
            continue  # an umbrella course far from this concept's level teaches other parts of the umbrella
        resource = CourseResource(
            course_id=link.course_id,
            title=row.title if row is not None else link.name,
            pk=row.pk if row is not None else None,
            level=level,
            confidence=link.confidence,
            matched=link.matched,
            readiness=round(course_readiness, 3),
            within_reach=within,
            subscribers=row.subscribers if row is not None else 0,
            url=row.url if row is not None else "",
            via=via,
        )
        found.append(
            (
                (
                    not within,
                    bool(via),
                    -fit,
                    distance,
                    -link.confidence,
                    -resource.subscribers,
                    resource.title.casefold(),
                ),
                resource,
            )
        )
    found.sort(key=lambda item: item[0])
    return [resource for _, resource in found[:limit]]


def _popular_artists(entity_ids: Sequence[str], *, exclude: set[str], tag: str, limit: int) -> list[ArtistResource]:
    """Artists among ``entity_ids`` with the most listeners in the catalog (the fallback when no model ranks them)."""
    rows = (
        Artist.objects.filter(entity_id__in=[e for e in entity_ids if e not in exclude])
        .annotate(listeners=Count("listens"))
        .order_by("-listeners", "name", "pk")[:limit]
    )
    return [
        ArtistResource(
            entity_id=a.entity_id,
            name=a.name,
            pk=a.pk,
            tag=tag,
            basis="popularity",
            score=float(a.listeners),
            reason=f"{a.listeners} listener{'s' if a.listeners != 1 else ''} in the catalog",
        )
        for a in rows
    ]


def concept_music(
    node: ConceptNode, *, taste: Taste, resources: _Resources, limit: int = ARTISTS_PER_STEP
) -> tuple[list[ArtistResource], list[TagLink]]:
    """Artists that exercise ``node`` (through its associated tags) and the tags used, for this learner.

    Artists the learner already listens to come first (the strongest "you will enjoy it" there is);
    the rest are new artists ranked by the published recommender, or by listeners without one.
    """
    if not node.tags:
        return [], []
    scored_tags = []
    for tag in node.tags:
        members = resources.tag_artists(tag.tag_id)
        familiar = sum(1 for a in members if a in taste.artists)
        scored_tags.append(((-familiar, tag.tag_id not in taste.tags, -len(members), tag.name.casefold()), tag))
    tags = [tag for _, tag in sorted(scored_tags, key=lambda item: item[0])[:TAGS_PER_STEP]]
    chosen: list[ArtistResource] = []
    seen: set[str] = set()
    familiar_rows = {
        a.entity_id: a
        for a in Artist.objects.filter(
            entity_id__in=[a for t in tags for a in resources.tag_artists(t.tag_id) if a in taste.artists]
        )
    }
    for tag in tags:
        familiar_members = [a for a in resources.tag_artists(tag.tag_id) if a in familiar_rows and a not in seen]
        for entity_id in sorted(familiar_members, key=lambda e: (-taste.artists[e], familiar_rows[e].name)):
            if len(chosen) >= limit:
                break
            artist = familiar_rows[entity_id]
            chosen.append(
                ArtistResource(
                    entity_id=entity_id,
                    name=artist.name,
                    pk=artist.pk,
                    tag=tag.name,
                    basis="history",
                    score=round(taste.artists[entity_id], 3),
                    reason=f"you listen to {artist.name}",
                )
            )
            seen.add(entity_id)
    for tag in tags:
        if len(chosen) >= limit:
            break
        ranked = resources.recommended(taste.listener, tag, exclude=seen | set(taste.artists))
        if ranked is None:
            ranked = _popular_artists(
                resources.tag_artists(tag.tag_id), exclude=seen | set(taste.artists), tag=tag.name, limit=limit
            )
        for resource in ranked:
            if len(chosen) >= limit:
                break
            if resource.entity_id not in seen:
                chosen.append(resource)
                seen.add(resource.entity_id)
    return chosen, tags


# --- sentences -----------------------------------------------------------------------------------------


def _count_word(n: int) -> str:
    return NUMBER_WORDS.get(n, str(n))


def _join(items: Sequence[str], limit: int = 3) -> str:
    items = list(items)
    if len(items) > limit:
        items = items[:limit] + [f"{len(items) - limit} more"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def evidence_phrase(names: Sequence[str], states: Sequence[MasteryState]) -> list[str]:
    """How the learner came to master these concepts, grouped by evidence ("marked A and B as mastered")."""
    self_assessed = [n for n, s in zip(names, states) if s.source == ConceptMastery.Source.SELF_ASSESSED]
    practised = [n for n, s in zip(names, states) if s.source == ConceptMastery.Source.PRACTICE]
    by_course: dict[str, list[str]] = {}
    phrases: list[str] = []
    for name, state in zip(names, states):
        if state.source == ConceptMastery.Source.LESSON:
            course = state.evidence or (state.courses[-1] if state.courses else "")
            by_course.setdefault(course, []).append(name)
        elif state.source == ConceptMastery.Source.QUIZ:
            phrases.append(
                f"passed the {name} quiz ({state.evidence})" if state.evidence else f"passed the {name} quiz"
            )
    for course, finished in by_course.items():
        phrases.append(f"finished {_join(finished)} in the course “{course}”")
    if practised:
        phrases.append(f"showed {_join(practised)} in your practice recordings")
    if self_assessed:
        phrases.append(f"marked {_join(self_assessed)} as mastered")
    return phrases


def next_step_sentence(
    node: ConceptNode,
    *,
    graph: CurriculumGraph,
    states: Mapping[str, MasteryState],
    artists: Sequence[ArtistResource],
    tags: Sequence[TagLink],
    learner: LearnerSettings,
) -> str:
    """ "You finished Intervals …; Triads builds on it. …" from the prerequisite edges, the evidence and the music found."""
    parts: list[str] = []
    if node.prerequisites:
        known = [p for p in node.prerequisites if p in states]
        phrases = evidence_phrase([graph.concepts[p].name for p in known], [states[p] for p in known])
        pronoun = "it" if len(node.prerequisites) == 1 else ("both" if len(node.prerequisites) == 2 else "them")
        parts.append(f"You {_join(phrases, limit=4)}; {node.name} builds on {pronoun}.")
    else:
        level = f" for a {node.level} learner" if node.level else ""
        parts.append(f"{node.name} needs no other concept first: a starting point{level}.")
    specific = [graph.instrument_names.get(i, i) for i in node.instruments if i in learner.instruments]
    if specific:
        parts.append(f"It is a {_join(specific)} skill.")
    familiar = [a for a in artists if a.basis == "history"]
    others = [a for a in artists if a.basis != "history"]
    if familiar:
        count = _count_word(len(familiar))
        parts.append(
            f"{'Here is one artist' if len(familiar) == 1 else f'Here are {count} artists'} you listen to, tagged "
            f"{_join(list(dict.fromkeys(a.tag for a in familiar)))} — music where {node.name} is prominent: "
            f"{_join([a.name for a in familiar], limit=len(familiar))}."
        )
    if others:
        names = _join([a.name for a in others], limit=len(others))
        tag_names = _join(list(dict.fromkeys(a.tag for a in others)))
        if others[0].basis == "recommender":
            lead = (
                "The recommender also expects you to enjoy"
                if familiar
                else f"Music tagged {tag_names} exercises it; the recommender expects you to enjoy"
            )
            parts.append(f"{lead} {names}{f' (tagged {tag_names})' if familiar else ''}.")
        else:
            parts.append(
                f"{'Also' if familiar else f'Music tagged {tag_names} exercises it;'} the most-listened artists tagged {tag_names} are {names}."
            )
    if not artists and tags:
        parts.append(f"Music tagged {_join([t.name for t in tags])} exercises it.")
    return " ".join(parts)


# --- next steps ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    concept: ConceptNode
    score: float
    builds_on: tuple[ConceptRef, ...]
    courses: list[CourseResource]
    artists: list[ArtistResource]
    tags: list[TagLink]
    explanation: str
    #: The graph facts behind the explanation, for the API (kind + ids).
    facts: list[dict[str, Any]]
    #: Works of the catalogue whose score exercises the concept (:func:`concept_works`).
    works: list[WorkResource] = field(default_factory=list)


def next_step_candidates(
    graph: CurriculumGraph,
    *,
    mastery: Mapping[str, float],
    threshold: float,
    learner: LearnerSettings,
) -> list[str]:
    """Concepts not yet mastered whose prerequisites all are, at or below the learner's level and for their instruments."""
    mastered = paths.mastered_set(mastery, threshold)
    found = []
    for concept_id, node in graph.concepts.items():
        if concept_id in mastered:
            continue
        if any(p not in mastered for p in node.prerequisites):
            continue
        if node.level is not None and node.level_rank > learner.level_rank:
            continue
        if not graph.fits_instruments(concept_id, learner.instruments):
            continue
        found.append(concept_id)
    return found


def _step_score(
    node: ConceptNode, *, graph: CurriculumGraph, learner: LearnerSettings, taste: Taste, resources: _Resources
) -> float:
    """Rank of a candidate: built on the learner's progress, at their level, close to their taste, specific to their instrument, unlocking more."""
    score = 1.0 if node.prerequisites else 0.0
    if node.level is not None and node.level_rank == learner.level_rank:
        score += 0.5
    if node.tags and (taste.artists or taste.tags):
        familiar = len({a for t in node.tags for a in resources.tag_artists(t.tag_id) if a in taste.artists})
        picked = any(t.tag_id in taste.tags for t in node.tags)
        score += 0.5 * min(1.0, familiar / 3) + (0.3 if picked else 0.0)
    if node.instruments and set(node.instruments) & set(learner.instruments):
        score += 0.3
    score += 0.2 * min(1.0, len(node.dependents) / 5)
    return round(score, 4)


def next_steps(
    user: Any,
    *,
    store: KnowledgeGraphStore,
    graph: CurriculumGraph | None = None,
    limit: int = DEFAULT_NEXT_STEPS,
    allow_stretch: bool = False,
    threshold: float | None = None,
) -> list[NextStep]:
    """The learner's best next concepts, each with courses, music and an explanation (see the module docstring)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_NEXT_STEPS:
        raise LearningPathError(f"limit must be a whole number from 1 to {MAX_NEXT_STEPS}, got {limit!r}.")
    if not isinstance(allow_stretch, bool):
        raise LearningPathError(f"allow_stretch must be true or false, got {allow_stretch!r}.")
    threshold = check_threshold(threshold)
    graph = graph if graph is not None else curriculum_graph(store)
    learner = learner_settings(user)
    states = learner_mastery(user, graph=graph)
    mastery = mastery_values(states)
    taste = learner_taste(user)
    resources = _Resources(store, graph)
    candidates = next_step_candidates(graph, mastery=mastery, threshold=threshold, learner=learner)
    scored = sorted(
        (
            (
                _step_score(graph.concepts[c], graph=graph, learner=learner, taste=taste, resources=resources),
                graph.concepts[c],
            )
            for c in candidates
        ),
        key=lambda item: (-item[0], item[1].sort_key),
    )[:limit]
    completed = completed_courses(user)
    rows = resources.course_rows(link.course_id for _, node in scored for link, _ in _course_links(graph, node))
    steps = []
    for score, node in scored:
        courses = concept_courses(
            graph,
            node.id,
            mastery=mastery,
            threshold=threshold,
            learner_level_rank=learner.level_rank,
            completed=completed,
            allow_stretch=allow_stretch,
            rows=rows,
            instruments=learner.instruments,
        )
        artists, tags = concept_music(node, taste=taste, resources=resources)
        works = concept_works(node.id, store=store, instruments=learner.instruments, level_rank=learner.level_rank)
        builds_on = tuple(ConceptRef.of(graph.concepts[p]) for p in node.prerequisites)
        facts: list[dict[str, Any]] = [
            {"kind": "prerequisite_mastered", "concept": p, "source": states[p].source, "evidence": states[p].evidence}
            for p in node.prerequisites
            if p in states
        ]
        facts += [{"kind": "associated_tag", "tag": t.tag_id, "name": t.name} for t in tags]
        facts += [{"kind": "artist", "artist": a.entity_id, "tag": a.tag, "basis": a.basis} for a in artists]
        facts += [{"kind": "teaches", "course": c.course_id, "confidence": c.confidence} for c in courses]
        facts += [{"kind": "exercised_by", "work": w.entity_id, "how": w.how} for w in works]
        steps.append(
            NextStep(
                concept=node,
                score=score,
                builds_on=builds_on,
                courses=courses,
                artists=artists,
                tags=tags,
                explanation=next_step_sentence(
                    node, graph=graph, states=states, artists=artists, tags=tags, learner=learner
                ),
                facts=facts,
                works=works,
            )
        )
    return steps


# --- goals and paths ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """What the learner aims at, resolved to target concepts; ``reason`` says how the graph connects them."""

    kind: str  # concept | instrument | tag | course | artist | entity
    entity_id: str
    name: str
    type: str
    targets: tuple[str, ...]
    reason: str


GOAL_HINT = (
    "Pick a concept (ids from GET /api/v1/learning/concepts/, e.g. 'leitmotif:concept:seventh-chords'), an instrument "
    "(e.g. 'leitmotif:instrument:guitar'), a Last.FM tag, a course or an artist ('lastfm:artist:<id>', found with GET /api/v1/artists/?q=NAME)."
)


def _concepts_of_tags(graph: CurriculumGraph, tag_ids: Iterable[str]) -> list[str]:
    return sorted({c for tag_id in tag_ids for c in graph.concepts_for_tag(tag_id)})


def goal_resolve(goal: str, *, graph: CurriculumGraph, store: KnowledgeGraphStore, learner: LearnerSettings) -> Goal:
    """Turn a goal entity id into target concepts, or raise :class:`LearningPathError` saying what to pick."""
    if not isinstance(goal, str) or not goal.strip():
        raise LearningPathError(f"No goal given. {GOAL_HINT}")
    goal = goal.strip()
    if goal in graph.concepts:
        node = graph.concepts[goal]
        parts = [
            n
            for n in node.narrower
            if graph.concepts[n].level is None or graph.concepts[n].level_rank <= learner.level_rank
        ]
        reason = f"{node.name}" + (
            f" and its parts up to your level ({_join([graph.concepts[n].name for n in sorted(parts)])})"
            if parts
            else ""
        )
        return Goal(
            kind="concept",
            entity_id=goal,
            name=node.name,
            type=CONCEPT_TYPE,
            targets=(goal, *parts),
            reason=reason,
        )
    entity = store.get_entity(goal)
    if entity is None:
        raise LearningPathError(f"{goal!r} is not in the knowledge graph. {GOAL_HINT}")
    if entity.type == INSTRUMENT_TYPE:
        specific = list(graph.concepts_for_instrument(goal))
        at_level = [
            c for c in specific if graph.concepts[c].level is None or graph.concepts[c].level_rank <= learner.level_rank
        ]
        targets = at_level or specific
        reason = f"the {entity.name} skills of the curriculum" + (
            " up to your level" if at_level and len(at_level) < len(specific) else ""
        )
        return _goal(entity, "instrument", targets, reason)
    if entity.type == TAG_TYPE:
        targets = _for_instruments(graph, _concepts_of_tags(graph, [goal]), learner)
        return _goal(entity, "tag", targets, f"concepts prominent in music tagged {entity.name}")
    if entity.type == COURSE_TYPE:
        targets = [c for c, _ in graph.concepts_for_course(goal)]
        return _goal(entity, "course", targets, f"what the course “{entity.name}” teaches")
    if entity.type == ARTIST_TYPE:
        tags = _artist_tags(store, goal)
        targets = _for_instruments(graph, _concepts_of_tags(graph, [t.tag_id for t in tags]), learner)
        used = [t.name for t in tags if graph.concepts_for_tag(t.tag_id)]
        return _goal(
            entity, "artist", targets, f"{entity.name} is tagged {_join(used, limit=4)}" if used else entity.name
        )
    artists = [n.entity for n in store.neighbours(goal, direction="both", limit=200) if n.entity.type == ARTIST_TYPE][
        :ENTITY_GOAL_ARTISTS
    ]
    tag_ids: dict[str, str] = {}
    for artist in artists:
        for tag in _artist_tags(store, artist.id):
            tag_ids.setdefault(tag.tag_id, tag.name)
    targets = _for_instruments(graph, _concepts_of_tags(graph, tag_ids), learner)
    used = [name for tag_id, name in tag_ids.items() if graph.concepts_for_tag(tag_id)]
    reason = (
        f"{entity.name} is linked to {_join([a.name for a in artists])}, tagged {_join(used, limit=4)}"
        if used
        else entity.name
    )
    return _goal(entity, "entity", targets, reason)


def _for_instruments(graph: CurriculumGraph, concept_ids: Sequence[str], learner: LearnerSettings) -> list[str]:
    """The concepts that fit the learner's instruments; all of them when none fits (the goal still deserves a path)."""
    fitting = [c for c in concept_ids if graph.fits_instruments(c, learner.instruments)]
    return fitting or list(concept_ids)


def _goal(entity: Any, kind: str, targets: Sequence[str], reason: str) -> Goal:
    if not targets:
        raise LearningPathError(
            f"{entity.name!r} ({entity.type} {entity.id}) has no link to the curriculum yet, so no path leads there. {GOAL_HINT}"
        )
    return Goal(
        kind=kind,
        entity_id=entity.id,
        name=entity.name,
        type=entity.type,
        targets=tuple(sorted(set(targets))),
        reason=reason,
    )


def _artist_tags(store: KnowledgeGraphStore, artist_id: str) -> list[TagLink]:
    """The artist's most-given tags (the HAS_TAG edge keeps how often), at most :data:`ARTIST_GOAL_TAGS`."""
    edges = store.neighbours(artist_id, direction="out", relation_types=[HAS_TAG])
    ranked = sorted(
        edges, key=lambda n: (-float(n.relation.properties.get("count", 1) or 1), n.entity.name.casefold(), n.entity.id)
    )
    return [TagLink(tag_id=n.entity.id, name=n.entity.name) for n in ranked[:ARTIST_GOAL_TAGS]]


@dataclass(frozen=True)
class StepLink:
    concept: ConceptRef
    #: "mastered" or the 1-based position of the step on the path.
    status: str


@dataclass(frozen=True)
class PathStep:
    position: int
    concept: ConceptNode
    is_target: bool
    #: Every prerequisite mastered already: the learner can start it today.
    ready_now: bool
    builds_on: tuple[StepLink, ...]
    needed_for: tuple[StepLink, ...]
    why: str
    courses: list[CourseResource]
    #: Works of the catalogue whose score exercises the concept (:func:`concept_works`; filled by :func:`learning_path`).
    works: list[WorkResource] = field(default_factory=list)


@dataclass(frozen=True)
class LearningPath:
    goal: Goal
    steps: list[PathStep]
    #: Mastered prerequisites of the steps (the path's starting points, drawn as done in the picture).
    mastered_prerequisites: tuple[ConceptRef, ...]
    #: Targets the learner has mastered already.
    mastered_targets: tuple[ConceptRef, ...]
    threshold: float

    @property
    def complete(self) -> bool:
        return not self.steps


def _step_why(
    node: ConceptNode, *, is_target: bool, goal: Goal, builds_on: Sequence[StepLink], needed_for: Sequence[StepLink]
) -> str:
    parts = []
    if is_target:
        parts.append(
            f"Goal: {goal.name}"
            + ("" if goal.kind == "concept" and goal.entity_id == node.id else f" ({goal.reason})")
            + "."
        )
    if needed_for:
        parts.append(f"Prerequisite of {_join([f'{s.concept.name} (step {s.status})' for s in needed_for])}.")
    if builds_on:
        labels = [
            f"{s.concept.name} ({'mastered' if s.status == 'mastered' else 'step ' + s.status})" for s in builds_on
        ]
        parts.append(f"Builds on {_join(labels)}.")
    else:
        parts.append("Needs no other concept first.")
    return " ".join(parts)


def learning_path_for(
    graph: CurriculumGraph,
    goal: Goal,
    *,
    mastery: Mapping[str, float],
    threshold: float,
    learner_level_rank: int,
    completed: set[str] | None = None,
    allow_stretch: bool = False,
    rows: Mapping[str, Course] | None = None,
    instruments: Sequence[str] = (),
) -> LearningPath:
    """The path to ``goal`` for a learner with ``mastery`` (no database access except through ``rows``).

    Each step's courses follow ``instruments`` (see :func:`concept_courses`); :func:`learning_path` passes
    the goal's instrument for an instrument goal, else the learner's.
    """
    mastered = paths.mastered_set(mastery, threshold)
    order = paths.learning_order(graph, goal.targets, mastered)
    problems = paths.path_violations(graph, order, mastered)
    if problems:  # cannot happen with a correct order; a loud failure beats a silently wrong plan
        raise LearningPathError(f"internal check failed for the path to {goal.name}: {'; '.join(problems[:3])}.")
    position = {concept_id: index + 1 for index, concept_id in enumerate(order)}
    targets = set(goal.targets)
    completed = completed or set()
    rows = rows or {}
    steps: list[PathStep] = []
    projected = dict(mastery)
    for concept_id in order:
        node = graph.concepts[concept_id]
        builds_on = tuple(
            StepLink(ConceptRef.of(graph.concepts[p]), "mastered" if p in mastered else str(position[p]))
            for p in node.prerequisites
            if p in mastered or p in position
        )
        needed_for = tuple(
            StepLink(ConceptRef.of(graph.concepts[d]), str(position[d])) for d in node.dependents if d in position
        )
        # resources are judged as if the earlier steps were done: that is the premise of the path
        courses = concept_courses(
            graph,
            concept_id,
            mastery=projected,
            threshold=threshold,
            learner_level_rank=learner_level_rank,
            completed=completed,
            allow_stretch=allow_stretch,
            rows=rows,
            instruments=instruments,
        )
        steps.append(
            PathStep(
                position=position[concept_id],
                concept=node,
                is_target=concept_id in targets,
                ready_now=all(p in mastered for p in node.prerequisites),
                builds_on=builds_on,
                needed_for=tuple(sorted(needed_for, key=lambda s: int(s.status))),
                why=_step_why(
                    node, is_target=concept_id in targets, goal=goal, builds_on=builds_on, needed_for=needed_for
                ),
                courses=courses,
            )
        )
        projected[concept_id] = max(projected.get(concept_id, 0.0), 1.0)
    on_path = set(order)
    mastered_prerequisites = sorted(
        {p for c in order for p in graph.concepts[c].prerequisites if p in mastered},
        key=lambda c: graph.concepts[c].sort_key,
    )
    return LearningPath(
        goal=goal,
        steps=steps,
        mastered_prerequisites=tuple(
            ConceptRef.of(graph.concepts[c]) for c in mastered_prerequisites if c not in on_path
        ),
        mastered_targets=tuple(ConceptRef.of(n) for n in graph.ordered(t for t in goal.targets if t in mastered)),
        threshold=threshold,
    )


def learning_path(
    user: Any,
    goal: str,
    *,
    store: KnowledgeGraphStore,
    graph: CurriculumGraph | None = None,
    allow_stretch: bool = False,
    threshold: float | None = None,
) -> LearningPath:
    """The learner's path to ``goal`` (an entity id), recomputed from their current progress."""
    if not isinstance(allow_stretch, bool):
        raise LearningPathError(f"allow_stretch must be true or false, got {allow_stretch!r}.")
    threshold = check_threshold(threshold)
    graph = graph if graph is not None else curriculum_graph(store)
    learner = learner_settings(user)
    resolved = goal_resolve(goal, graph=graph, store=store, learner=learner)
    mastery = mastery_values(learner_mastery(user, graph=graph))
    course_ids = {link.course_id for c in graph.concepts.values() for link in c.courses}
    rows = {c.entity_id: c for c in Course.objects.filter(entity_id__in=course_ids)}
    instruments = (resolved.entity_id,) if resolved.kind == "instrument" else learner.instruments
    path = learning_path_for(
        graph,
        resolved,
        mastery=mastery,
        threshold=threshold,
        learner_level_rank=learner.level_rank,
        completed=completed_courses(user),
        allow_stretch=allow_stretch,
        rows=rows,
        instruments=instruments,
    )
    steps = [
        replace(
            step,
            works=concept_works(step.concept.id, store=store, instruments=instruments, level_rank=learner.level_rank),
        )
        for step in path.steps
    ]
    return replace(path, steps=steps)


# --- lists -----------------------------------------------------------------------------------------------------


def concept_list(
    graph: CurriculumGraph, *, level: str | None = None, instrument: str | None = None
) -> list[ConceptNode]:
    """Concepts easiest first; ``level`` keeps one level, ``instrument`` keeps those that fit an instrument."""
    if level is not None and level not in LEVELS:
        raise LearningPathError(f"level must be one of {', '.join(LEVELS)}, got {level!r}.")
    nodes = graph.ordered()
    if level is not None:
        nodes = [n for n in nodes if n.level == level]
    if instrument is not None:
        nodes = [n for n in nodes if graph.fits_instruments(n.id, [instrument])]
    return nodes


def instrument_choices(store: KnowledgeGraphStore) -> list[tuple[str, str]]:
    """(entity id, name) of the platform's instruments (the course loader's ``leitmotif:instrument:*`` entities)."""
    found = [(e.id, e.name) for e in store.iter_entities(types=[INSTRUMENT_TYPE]) if e.id.startswith(INSTRUMENT_PREFIX)]
    return sorted(found, key=lambda item: (item[1].casefold(), item[0]))


def level_choices() -> list[tuple[str, str]]:
    return [(level, LEVEL_NAMES[level]) for level in LEVELS]
