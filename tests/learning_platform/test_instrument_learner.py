"""A learner's instrument on the learner pages: a picked tag that names an instrument, For you, /ask/ and search.

The learner world of :mod:`tests.helpers.learner_world` (blues guitar and classical piano, the tags
"guitar" and "piano", six courses) grown by a general theory course (no instrument, the most
subscribers), a classical guitar course (the classical tag on another instrument) and a harmonica course.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from catalog.models import Course, Tag
from curriculum.models import LearnerProfile
from kg.stores import EntityRecord, RelationRecord
from recommender.serving.services import learner_listener
from tests.helpers.learner_world import PASSWORD, World, build_world, train_and_publish

#: title, level, subscribers, instrument (None: a course of no instrument), tag
EXTRA_COURSES = [
    ("Music Theory for Everyone", "all", 90000, None, None),
    ("Classical Guitar Foundations", "beginner", 5000, "guitar", "classical"),
    ("Classical Guitar Repertoire", "intermediate", 4000, "guitar", "classical"),
    ("Blues Harmonica", "beginner", 3000, "harmonica", "blues"),
]


@pytest.fixture(autouse=True)
def _fresh_caches(settings):
    from curriculum.graph import curriculum_cache_clear
    from recommender.serving.selectors import snapshot_forget

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    snapshot_forget()
    curriculum_cache_clear()
    yield
    cache.clear()
    snapshot_forget()
    curriculum_cache_clear()


def _grow(world: World, store) -> None:
    """The extra courses, the harmonica, and a "piano rock" tag (a genre, not an instrument)."""
    entities = [
        EntityRecord(id="leitmotif:instrument:harmonica", type="Instrument", name="harmonica"),
        EntityRecord(id="lastfm:tag:990", type="Tag", name="piano rock"),
    ]
    relations = [RelationRecord(head="lastfm:tag:990", type="ABOUT_INSTRUMENT", tail="leitmotif:instrument:piano")]
    world.tags["piano rock"] = Tag.objects.create(lastfm_id=990, name="piano rock", entity_id="lastfm:tag:990")
    for number, (title, level, subscribers, instrument, tag) in enumerate(EXTRA_COURSES, start=1):
        course = Course.objects.create(
            udemy_id=5000 + number,
            title=title,
            level=level,
            lectures=12,
            duration_hours=2.0,
            subscribers=subscribers,
            entity_id=f"udemy:course:{5000 + number}",
            subject="Musical Instruments",
        )
        world.courses[title] = course
        entities.append(EntityRecord(id=course.entity_id, type="Course", name=title, properties={"level": level}))
        relations.append(RelationRecord(head=course.entity_id, type="HAS_LEVEL", tail=f"leitmotif:level:{level}"))
        if instrument:
            relations.append(
                RelationRecord(
                    head=course.entity_id, type="TEACHES_INSTRUMENT", tail=f"leitmotif:instrument:{instrument}"
                )
            )
        if tag:
            relations.append(RelationRecord(head=course.entity_id, type="COVERS_TAG", tail=world.tags[tag].entity_id))
    store.upsert_entities(entities)
    store.upsert_relations(relations)


@pytest.fixture
def world(sql_store, settings, tmp_path) -> World:
    settings.KG_BACKEND = "sql"
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    world = build_world(sql_store, listeners_per_group=3)
    _grow(world, sql_store)
    return world


@pytest.fixture
def served(world, sql_store, settings):
    from recommender.serving.model_holder import model_holder

    train_and_publish(world, sql_store, settings.LEITMOTIF_ARTIFACTS_DIR + "/recommender")
    yield world
    model_holder().reset()


@pytest.fixture
def learner(db):
    user = get_user_model().objects.create_user(username="clara", password=PASSWORD)
    learner_listener(user)
    return user


@pytest.fixture
def learner_client(client, learner):
    client.force_login(learner)
    return client


def _instruments_of(course: Course, world: World) -> str | None:
    for title, _, _, instrument, _ in EXTRA_COURSES:
        if title == course.title:
            return instrument
    from tests.helpers.learner_world import COURSES

    return next(instrument for title, _, instrument, _ in COURSES if title == course.title)


def _pianist_picks(world: World) -> list[str]:
    """A classical listener who picks the tag "piano" (not the instrument Piano) and three pianists."""
    return [
        world.tags["piano"].entity_id,
        world.tags["classical"].entity_id,
        *(world.artists[n].entity_id for n in ("Glenn Gould", "Martha Argerich", "Lang Lang")),
    ]


def assert_no_other_instrument_first(titles_and_instruments: list[tuple[str, str | None]], mine: str) -> None:
    """No course of another instrument comes before a course of ``mine`` or of no instrument."""
    seen_other = False
    for title, instrument in titles_and_instruments:
        if instrument not in (None, mine):
            seen_other = True
        elif seen_other:
            raise AssertionError(
                f"{title} ({instrument}) comes after another instrument's course: {titles_and_instruments}"
            )


# --- 1. a picked tag that names an instrument ------------------------------------------------------


@pytest.mark.django_db
def test_picking_the_tag_piano_makes_piano_the_learners_instrument_and_says_so(learner_client, learner, world):
    response = learner_client.post(reverse("learn:onboarding"), {"entity_id": _pianist_picks(world)})
    assert response.status_code == 302
    assert LearnerProfile.objects.get(user=learner).instruments == [world.instruments["piano"]]
    # For you says so and no longer asks for an instrument (that section does not need the model; none is
    # published here, so the page is a 503 that still shows it)
    for_you = learner_client.get(reverse("learn:for_you"))
    assert "We set your instrument to piano" in for_you.content.decode()
    assert for_you.context["has_instrument"] is True
    assert 'id="pieces-hint"' not in for_you.content.decode()
    # the learning page shows it as the learner's own choice, ticked in the "I play" form
    learn = learner_client.get(reverse("curriculum:my_learning"))
    assert learn.context["learner"].instruments == (world.instruments["piano"],)
    assert learn.context["profile_form"].initial["instruments"] == [world.instruments["piano"]]


@pytest.mark.django_db
def test_a_stated_instrument_is_never_overridden_by_a_tag_and_a_genre_tag_names_no_instrument(
    learner_client, learner, world
):
    # "piano rock" is a genre about the piano (ABOUT_INSTRUMENT), not the instrument's name
    learner_client.post(reverse("learn:onboarding"), {"entity_id": [world.tags["piano rock"].entity_id]})
    assert not LearnerProfile.objects.filter(user=learner).exclude(instruments=[]).exists()
    response = learner_client.get(reverse("learn:for_you"))
    assert response.context["has_instrument"] is False
    # a guitarist (profile) who picks the tag "piano" stays a guitarist
    from curriculum.services import profile_update
    from kg.stores import get_store

    with get_store() as store:
        profile_update(learner, store=store, instruments=[world.instruments["guitar"]])
    learner_client.post(reverse("learn:interest_add"), {"entity_id": world.tags["piano"].entity_id})
    assert LearnerProfile.objects.get(user=learner).instruments == [world.instruments["guitar"]]


@pytest.mark.django_db
def test_a_learner_can_change_the_instrument_and_unknown_instruments_are_a_form_error(learner_client, learner, world):
    learner_client.post(reverse("learn:onboarding"), {"entity_id": _pianist_picks(world)})
    response = learner_client.post(
        reverse("curriculum:profile"), {"level": "beginner", "instruments": ["leitmotif:instrument:kazoo"]}, follow=True
    )
    assert response.status_code == 200
    assert "Your profile was not changed" in response.content.decode()
    assert LearnerProfile.objects.get(user=learner).instruments == [world.instruments["piano"]]
    response = learner_client.post(
        reverse("curriculum:profile"), {"level": "beginner", "instruments": ["not even an id <b>"]}, follow=True
    )
    assert response.status_code == 200 and "<b>" not in response.content.decode().split("Your profile")[0][-200:]
    learner_client.post(
        reverse("curriculum:profile"), {"level": "beginner", "instruments": [world.instruments["guitar"]]}
    )
    assert LearnerProfile.objects.get(user=learner).instruments == [world.instruments["guitar"]]
    # an unknown entity as a pick is a 400 page that says what to do, never a 500
    bad = learner_client.post(reverse("learn:onboarding"), {"entity_id": ["leitmotif:instrument:kazoo"]})
    assert bad.status_code == 400
    bad = learner_client.post(reverse("learn:interest_add"), {"entity_id": "leitmotif:instrument:kazoo"})
    assert bad.status_code == 400


# --- 2. course recommendations follow the instrument -------------------------------------------------


@pytest.mark.django_db
def test_for_you_courses_of_a_tag_pianist_put_no_guitar_course_before_piano_or_theory(learner_client, served):
    learner_client.post(reverse("learn:onboarding"), {"entity_id": _pianist_picks(served)})
    response = learner_client.get(reverse("learn:for_you"))
    assert response.status_code == 200
    courses = [card.course for card in response.context["courses"]]
    listed = [(c.title, _instruments_of(c, served)) for c in courses]
    assert listed[0][1] == "piano", listed
    assert_no_other_instrument_first(listed, "piano")
    top5 = listed[:5]
    assert not any(instrument == "guitar" for _, instrument in top5[:4]), top5


@pytest.mark.django_db
def test_the_rest_api_and_ask_follow_the_profile_instrument(learner, served):
    from rest_framework.test import APIClient

    from curriculum.services import profile_update
    from kg.stores import get_store

    with get_store() as store:
        profile_update(learner, store=store, instruments=[served.instruments["piano"]])
    # the learner's taste is classical: classical guitar courses are close in the graph
    from recommender.serving.services import interests_set

    interests_set(learner_listener(learner), [served.tags["classical"].entity_id])
    api = APIClient()
    api.force_authenticate(learner)
    response = api.get("/api/v1/me/recommendations/", {"kind": "course", "k": 8})
    assert response.status_code == 200, response.content
    titles = [item["item"]["course"]["title"] for item in response.json()["results"]]
    listed = [(t, _instruments_of(Course.objects.get(title=t), served)) for t in titles]
    assert_no_other_instrument_first(listed, "piano")
    assert {"piano", None} >= {i for _, i in listed[:4]}, listed
    # a request that names another instrument asks for that instrument's courses this time
    asked = api.get("/api/v1/me/ask/", {"q": "guitar lessons"})
    assert asked.status_code == 200, asked.content
    course_titles = [item["item"]["course"]["title"] for item in asked.json()["courses"]]
    if course_titles:
        assert _instruments_of(Course.objects.get(title=course_titles[0]), served) == "guitar"
    # bad input to the API is a 400 envelope
    bad = api.get("/api/v1/me/recommendations/", {"kind": "course", "level": "guru"})
    assert bad.status_code == 400


# --- 4. course search ranks like artist search -----------------------------------------------------


@pytest.mark.django_db
def test_course_search_ranks_exact_whole_word_prefix_word_start_then_inside(client, learner, world, sql_store):
    titles = ["Grandpiano Tricks", "Learn Pianoforte", "Pianoforte for Beginners", "Jazz Piano Chords", "Piano"]
    for number, title in enumerate(titles, start=1):
        course = Course.objects.create(
            udemy_id=7000 + number, title=title, level="all", subscribers=10, entity_id=f"udemy:course:{7000 + number}"
        )
        sql_store.upsert_entities([EntityRecord(id=course.entity_id, type="Course", name=title)])
    response = client.get(reverse("learn:search"), {"q": "piano"})
    assert response.status_code == 200
    found = [c.title for c in response.context["results"].courses]
    mine = [t for t in found if t in titles]
    assert mine == ["Piano", "Jazz Piano Chords", "Pianoforte for Beginners", "Learn Pianoforte", "Grandpiano Tricks"]
    # whole-word matches among the world's courses: the learner's instrument first, then subscribers
    client.force_login(learner)
    from curriculum.services import profile_update

    profile_update(learner, store=sql_store, instruments=[world.instruments["guitar"]])
    classical = [c.title for c in client.get(reverse("learn:search"), {"q": "classical"}).context["results"].courses]
    assert classical[:2] == ["Classical Guitar Foundations", "Classical Guitar Repertoire"], classical
    # accents are ignored through the graph's search
    Course.objects.create(udemy_id=7100, title="Violão Brasileiro", level="all", entity_id="udemy:course:7100")
    sql_store.upsert_entities([EntityRecord(id="udemy:course:7100", type="Course", name="Violão Brasileiro")])
    assert [c.title for c in client.get(reverse("learn:search"), {"q": "violao"}).context["results"].courses] == [
        "Violão Brasileiro"
    ]
    # a query too long is a 400 form error
    assert client.get(reverse("learn:search"), {"q": "x" * 500}).status_code == 400
