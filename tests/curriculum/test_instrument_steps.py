"""Learning steps and paths follow the learner's instrument, and completing a step's course moves that step.

The curriculum world of :mod:`tests.helpers.curriculum_world` (the real curriculum, a few courses) grown by
three courses on intervals for different instruments (guitar, piano, harmonica).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from catalog.models import Course
from curriculum import selectors
from curriculum.graph import curriculum_cache_clear, curriculum_graph
from curriculum.services import lesson_complete, profile_update
from kg.stores import EntityRecord, RelationRecord
from recommender.serving.services import learner_listener
from tests.helpers.curriculum_world import PASSWORD, C

GUITAR, PIANO, HARMONICA = (f"leitmotif:instrument:{i}" for i in ("guitar", "piano", "harmonica"))
#: title -> instrument of the extra interval courses
INTERVAL_COURSES = {
    "Guitar Intervals Workshop": GUITAR,
    "Piano Intervals Workshop": PIANO,
    "Harmonica Intervals": HARMONICA,
}


@pytest.fixture
def world(world, sql_store):
    """The shared curriculum world (``conftest.py``) plus interval courses for three instruments."""
    entities = [EntityRecord(id=HARMONICA, type="Instrument", name="Harmonica")]
    relations = []
    for number, (title, instrument) in enumerate(INTERVAL_COURSES.items(), start=1):
        course = Course.objects.create(
            udemy_id=900 + number,
            title=title,
            level="beginner",
            subscribers=10_000,
            entity_id=f"udemy:course:{900 + number}",
        )
        world.courses[title] = course
        entities.append(EntityRecord(id=course.entity_id, type="Course", name=title, properties={"level": "beginner"}))
        relations += [
            RelationRecord(head=course.entity_id, type="TEACHES_CONCEPT", tail=C("intervals"), source="test"),
            RelationRecord(head=course.entity_id, type="TEACHES_INSTRUMENT", tail=instrument, source="test"),
        ]
    sql_store.upsert_entities(entities)
    sql_store.upsert_relations(relations)
    curriculum_cache_clear()
    return world


def _user(name: str, *, instruments: list[str] | None = None, store=None):
    user = get_user_model().objects.create_user(username=name, password=PASSWORD)
    learner_listener(user)
    if instruments is not None:
        profile_update(user, store=store, instruments=instruments)
    return user


def _step_courses(path) -> dict[str, list[str]]:
    return {step.concept.id: [c.title for c in step.courses] for step in path.steps}


@pytest.mark.django_db
def test_a_step_lists_courses_of_the_learners_instrument_or_none_never_another_instruments(world, sql_store):
    guitarist = _user("gina", instruments=[GUITAR], store=sql_store)
    nobody = _user("noel")
    graph = curriculum_graph(sql_store)
    for_guitar = _step_courses(selectors.learning_path(guitarist, C("triads"), store=sql_store, graph=graph))
    for_anyone = _step_courses(selectors.learning_path(nobody, C("triads"), store=sql_store, graph=graph))
    assert "Harmonica Intervals" in for_anyone[C("intervals")]  # a learner with no instrument sees every course
    assert for_guitar[C("intervals")][0] == "Guitar Intervals Workshop", for_guitar[C("intervals")]
    listed = [title for titles in for_guitar.values() for title in titles]
    assert "Harmonica Intervals" not in listed and "Piano Intervals Workshop" not in listed
    for course_id in (world.courses[t].entity_id for t in listed):
        assert graph.course_fit(course_id, [GUITAR]) >= 0
    # an instrument goal follows that instrument, whatever the profile says
    pianist = _user("pia", instruments=[PIANO], store=sql_store)
    to_guitar = selectors.learning_path(pianist, GUITAR, store=sql_store, graph=graph)
    assert "Piano Intervals Workshop" not in [t for titles in _step_courses(to_guitar).values() for t in titles]


@pytest.mark.django_db
def test_next_steps_and_the_learning_page_follow_the_instrument(client, world, sql_store):
    guitarist = _user("gina", instruments=[GUITAR], store=sql_store)
    # intervals is a next step once its prerequisite, the major scale, is mastered
    for concept in ("notes-and-staff", "steps-and-accidentals", "major-scale"):
        client.force_login(guitarist)
        client.post(reverse("curriculum:mastery"), {"concept_id": C(concept), "action": "mastered"})
    steps = selectors.next_steps(guitarist, store=sql_store, limit=20)
    intervals = next(s for s in steps if s.concept.id == C("intervals"))
    titles = [c.title for c in intervals.courses]
    assert titles and titles[0] == "Guitar Intervals Workshop" and "Harmonica Intervals" not in titles
    page = client.get(reverse("curriculum:my_learning"))
    assert page.status_code == 200
    assert "Guitar Intervals Workshop" in page.content.decode()
    assert "Harmonica Intervals" not in page.content.decode()


@pytest.mark.django_db
def test_completing_any_course_listed_under_a_step_masters_that_step(world, sql_store):
    """Including a course listed through the step's umbrella ("Music Theory for Everyone" under "Notes, staff and clefs")."""
    graph = curriculum_graph(sql_store)
    learner = _user("ada", instruments=[GUITAR], store=sql_store)
    path = selectors.learning_path(learner, C("triads"), store=sql_store, graph=graph)
    listed = [(step.concept.id, course) for step in path.steps for course in step.courses]
    assert any(course.via for _, course in listed), "the world should list a course through an umbrella"
    threshold = selectors.mastery_threshold()
    for index, (concept_id, resource) in enumerate(listed):
        someone = _user(f"learner{index}", instruments=[GUITAR], store=sql_store)
        lesson_complete(someone, Course.objects.get(entity_id=resource.course_id), graph=graph)
        mastery = selectors.mastery_values(selectors.learner_mastery(someone, graph=graph))
        assert mastery.get(concept_id, 0.0) >= threshold, (concept_id, resource.title, resource.via)
        after = selectors.learning_path(someone, C("triads"), store=sql_store, graph=graph)
        assert concept_id not in {step.concept.id for step in after.steps}


@pytest.mark.django_db
def test_the_lesson_button_moves_the_step_on_the_path_page(client, world, sql_store):
    learner = _user("ada")
    client.force_login(learner)
    path_url = reverse("curriculum:path") + f"?goal={C('intervals')}"
    before = client.get(path_url)
    assert before.status_code == 200
    steps = before.context["path"].steps
    first = next(s for s in steps if any(c.via for c in s.courses))
    course = next(c for c in first.courses if c.via)
    done = client.post(reverse("curriculum:lesson_complete"), {"course": course.pk, "next": path_url})
    assert done.status_code == 302
    after = client.get(path_url)
    assert first.concept.id not in {s.concept.id for s in after.context["path"].steps}
    # bad input: an unknown course is a 404, a malformed one a message, never a 500
    assert client.post(reverse("curriculum:lesson_complete"), {"course": 999999}).status_code == 404
    assert client.post(reverse("curriculum:lesson_complete"), {"course": "guitar"}).status_code == 302
    # an unknown instrument as a goal is a 400 page that says what to pick
    assert client.get(reverse("curriculum:path"), {"goal": "leitmotif:instrument:kazoo"}).status_code == 400
