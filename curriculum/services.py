"""Writes of the curriculum app: the learner's profile, self-assessed and quiz mastery, completed lessons.

Why every write validates against the graph first: a mastery row for a concept that does not exist, or
a profile naming an instrument that is not one, would silently never match anything; the learner gets
a :class:`~core.errors.LearningPathError` that says what to pick instead, and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from catalog.models import Course, Interest
from core.errors import LearningPathError
from curriculum.graph import CurriculumGraph
from curriculum.models import ConceptMastery, LearnerProfile
from curriculum.selectors import course_credits, instruments_named_by_tags, lesson_mastery, require_learner
from curriculum.vocabulary import LEVELS
from kg.schema import INSTRUMENT_TYPE, TAG_TYPE
from kg.stores.base import KnowledgeGraphStore

#: Instruments one profile may list (a learner plays a few; the list drives matching, not a census).
MAX_PROFILE_INSTRUMENTS = 10


def profile_update(
    user: Any, *, store: KnowledgeGraphStore, level: str | None = None, instruments: Sequence[str] | None = None
) -> LearnerProfile:
    """Set the learner's level and/or instruments (``None`` keeps the current value); instruments must be Instrument entities."""
    require_learner(user)
    if level is not None and level not in LEVELS:
        raise LearningPathError(f"level must be one of {', '.join(LEVELS)}, got {level!r}.")
    wanted: list[str] | None = None
    if instruments is not None:
        if isinstance(instruments, (str, bytes)) or not isinstance(instruments, Sequence):
            raise LearningPathError(
                "instruments must be a list of instrument ids such as 'leitmotif:instrument:guitar'."
            )
        wanted = []
        for instrument in instruments:
            if not isinstance(instrument, str) or not instrument.strip():
                raise LearningPathError(f"every instrument must be a non-empty id string, got {instrument!r}.")
            if instrument.strip() not in wanted:
                wanted.append(instrument.strip())
        if len(wanted) > MAX_PROFILE_INSTRUMENTS:
            raise LearningPathError(f"name at most {MAX_PROFILE_INSTRUMENTS} instruments, got {len(wanted)}.")
        found = store.get_entities(wanted) if wanted else {}
        bad = [i for i in wanted if i not in found or found[i].type != "Instrument"]
        if bad:
            raise LearningPathError(
                f"{', '.join(map(repr, bad))} {'is not an instrument' if len(bad) == 1 else 'are not instruments'} of the "
                "knowledge graph; use ids such as 'leitmotif:instrument:guitar' (GET /api/v1/entities/?q=NAME&type=Instrument)."
            )
    with transaction.atomic():
        profile, _ = LearnerProfile.objects.select_for_update().get_or_create(user=user)
        changed = []
        if level is not None and profile.level != level:
            profile.level = level
            changed.append("level")
        if wanted is not None and list(profile.instruments) != wanted:
            profile.instruments = wanted
            changed.append("instruments")
        if changed:
            profile.save(update_fields=[*changed, "updated_at"])
    return profile


def profile_instruments_from_picks(user: Any, *, store: KnowledgeGraphStore) -> list[str]:
    """Store the instruments the learner's picked tags name (the tag "piano" → Piano) when they have none.

    Only when the profile lists no instrument and no instrument was picked: a stated choice is never
    overridden. Returns the instrument ids stored (empty when nothing changed). The learner sees them on
    the learning page's profile form and can change them there.
    """
    require_learner(user)
    profile = LearnerProfile.objects.filter(user=user).first()
    if profile is not None and profile.instruments:
        return []
    picks = list(
        Interest.objects.filter(listener__user=user, entity_type__in=[INSTRUMENT_TYPE, TAG_TYPE]).values_list(
            "entity_type", "name"
        )
    )
    if any(kind == INSTRUMENT_TYPE for kind, _ in picks):
        return []
    named = instruments_named_by_tags([name for kind, name in picks if kind == TAG_TYPE], store=store)
    if not named:
        return []
    profile_update(user, store=store, instruments=named[:MAX_PROFILE_INSTRUMENTS])
    return named[:MAX_PROFILE_INSTRUMENTS]


def _check_mastery(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise LearningPathError(f"mastery must be a number from 0 (not at all) to 1 (fully), got {value!r}.")
    return float(value)


def mastery_set(user: Any, concept_id: str, *, mastery: float, graph: CurriculumGraph) -> ConceptMastery:
    """Record the learner's self-assessment of a concept (the latest one replaces the previous explicit evidence).

    A completed course still counts at read time (see :func:`.selectors.learner_mastery`): saying
    "not yet" about a concept a finished course taught does not erase that course.
    """
    require_learner(user)
    node = graph.concept(concept_id)
    value = _check_mastery(mastery)
    row, _ = ConceptMastery.objects.update_or_create(
        user=user,
        concept_id=node.id,
        defaults={"mastery": value, "source": ConceptMastery.Source.SELF_ASSESSED, "evidence": ""},
    )
    return row


def mastery_from_practice(
    user: Any, concept_id: str, *, mastery: float, session_id: int, graph: CurriculumGraph
) -> ConceptMastery:
    """Record what a judged practice session says about a concept (the practice app computes the new value).

    Why a source of its own: a learner reading their progress, and the next-step ranking, must be able to
    tell "I said I know it" from "the recording showed it" (see ``ConceptMastery.Source``).
    """
    require_learner(user)
    node = graph.concept(concept_id)
    value = _check_mastery(mastery)
    row, _ = ConceptMastery.objects.update_or_create(
        user=user,
        concept_id=node.id,
        defaults={
            "mastery": value,
            "source": ConceptMastery.Source.PRACTICE,
            "evidence": f"practice session {int(session_id)}",
        },
    )
    return row


@dataclass(frozen=True)
class QuizResult:
    concept_id: str
    correct: int
    total: int
    mastery: float
    #: Per question: (the learner's choice, the right choice).
    answers: tuple[tuple[int, int], ...]


def quiz_grade(user: Any, concept_id: str, *, answers: Sequence[int], graph: CurriculumGraph) -> QuizResult:
    """Grade the concept's quiz; the score (correct / total) becomes the learner's mastery with source ``quiz``."""
    require_learner(user)
    node = graph.concept(concept_id)
    if not node.quiz:
        raise LearningPathError(
            f"{node.name} has no quiz; mark it as mastered yourself or complete a course that teaches it."
        )
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence) or len(answers) != len(node.quiz):
        raise LearningPathError(
            f"answer all {len(node.quiz)} questions of the {node.name} quiz (one choice index each)."
        )
    graded = []
    for number, (answer, question) in enumerate(zip(answers, node.quiz), start=1):
        choices = question.get("choices", [])
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise LearningPathError(
                f"question {number}: pick one of the {len(choices)} choices (index 0 to {len(choices) - 1}), got {answer!r}."
            )
        graded.append((answer, int(question.get("answer", -1))))
    correct = sum(1 for given, right in graded if given == right)
    score = round(correct / len(graded), 4)
    ConceptMastery.objects.update_or_create(
        user=user,
        concept_id=node.id,
        defaults={"mastery": score, "source": ConceptMastery.Source.QUIZ, "evidence": f"{correct}/{len(graded)}"},
    )
    return QuizResult(concept_id=node.id, correct=correct, total=len(graded), mastery=score, answers=tuple(graded))


@dataclass(frozen=True)
class LessonResult:
    course: Course
    #: (concept id, mastery now stored) for every concept the course raised.
    raised: tuple[tuple[str, float], ...]
    #: Concepts the course teaches according to the graph.
    taught: tuple[str, ...]


def lesson_complete(user: Any, course: Course, *, graph: CurriculumGraph) -> LessonResult:
    """Record that the learner completed ``course`` and raise the mastery of the concepts it counts toward.

    Those are the concepts it teaches and the parts of an umbrella it is listed under
    (:func:`curriculum.selectors.course_credits`), so the step a course was listed under moves forward.

    The ``complete`` event goes through :func:`recommender.serving.services.interaction_record` (the one
    event log the recommender reads too); the lesson rows only ever raise mastery, never lower it.
    """
    require_learner(user)
    if not isinstance(course, Course) or course.pk is None:
        raise LearningPathError("course must be a saved catalogue course.")
    from recommender.serving import services as serving_services

    taught = course_credits(graph, course.entity_id, course.level)
    gain = lesson_mastery()
    raised: list[tuple[str, float]] = []
    with transaction.atomic():
        listener = serving_services.learner_listener(user)
        serving_services.interaction_record(listener, kind="complete", course=course)
        existing = {
            row.concept_id: row
            for row in ConceptMastery.objects.select_for_update().filter(
                user=user, concept_id__in=[c for c, _ in taught]
            )
        }
        for concept_id, confidence in taught:
            value = round(gain * confidence, 4)
            row = existing.get(concept_id)
            if row is not None and row.mastery >= value:
                continue
            ConceptMastery.objects.update_or_create(
                user=user,
                concept_id=concept_id,
                defaults={"mastery": value, "source": ConceptMastery.Source.LESSON, "evidence": course.title[:255]},
            )
            raised.append((concept_id, value))
    return LessonResult(course=course, raised=tuple(raised), taught=tuple(c for c, _ in taught))
