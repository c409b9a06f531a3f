"""Course ranking follows the learner's instrument: general courses and theirs first, other instruments last.

The learner world of :mod:`tests.helpers.learner_world` (blues guitar, classical piano; the tags "guitar"
and "piano") with a tiny model, grown by a general theory course, two classical guitar courses, a
harmonica course and an instrument no course teaches ("kazoo", with a tag of that name).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Course, Interest
from core.errors import RecommendationRequestError
from kg.stores import EntityRecord, RelationRecord
from recommender.serving.course_ranking import instruments_named_by_tags, learner_instrument_nodes
from recommender.serving.selectors import graph_snapshot, recommendations_for_listener, snapshot_forget
from recommender.serving.services import interaction_record, interests_set, learner_listener
from recommender.serving.taste import listener_taste, with_request_seeds
from tests.helpers.learner_world import COURSES, PASSWORD, World, build_world, train_and_publish

#: title, level, subscribers, instrument (None: no instrument), tag
EXTRA = [
    ("Music Theory for Everyone", "all", 90000, None, None),
    ("Classical Guitar Foundations", "beginner", 5000, "guitar", "classical"),
    ("Classical Guitar Repertoire", "intermediate", 4000, "guitar", "classical"),
    ("Blues Harmonica", "beginner", 3000, "harmonica", "blues"),
]
INSTRUMENT_OF = {title: instrument for title, _, instrument, _ in COURSES} | {t: i for t, _, _, i, _ in EXTRA}


@pytest.fixture
def world(sql_store, settings, tmp_path) -> World:
    settings.KG_BACKEND = "sql"
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    world = build_world(sql_store, listeners_per_group=3)
    entities = [
        EntityRecord(id="leitmotif:instrument:harmonica", type="Instrument", name="Harmonica"),
        EntityRecord(id="leitmotif:instrument:kazoo", type="Instrument", name="Kazoo"),
        EntityRecord(id="lastfm:tag:990", type="Tag", name="piano rock"),
        EntityRecord(id="lastfm:tag:991", type="Tag", name="Kazoo"),
        EntityRecord(id="lastfm:tag:992", type="Tag", name="PIANO"),
    ]
    relations = []
    for number, (title, level, subscribers, instrument, tag) in enumerate(EXTRA, start=1):
        course = Course.objects.create(
            udemy_id=5000 + number,
            title=title,
            level=level,
            subscribers=subscribers,
            entity_id=f"udemy:course:{5000 + number}",
        )
        world.courses[title] = course
        entities.append(EntityRecord(id=course.entity_id, type="Course", name=title))
        relations.append(RelationRecord(head=course.entity_id, type="HAS_LEVEL", tail=f"leitmotif:level:{level}"))
        if instrument:
            relations.append(
                RelationRecord(
                    head=course.entity_id, type="TEACHES_INSTRUMENT", tail=f"leitmotif:instrument:{instrument}"
                )
            )
        if tag:
            relations.append(RelationRecord(head=course.entity_id, type="COVERS_TAG", tail=world.tags[tag].entity_id))
    sql_store.upsert_entities(entities)
    sql_store.upsert_relations(relations)
    snapshot_forget()
    return world


@pytest.fixture
def served(world, sql_store, settings):
    from recommender.serving.model_holder import model_holder

    train_and_publish(world, sql_store, settings.LEITMOTIF_ARTIFACTS_DIR + "/recommender")
    yield world
    model_holder().reset()
    snapshot_forget()


def _learner(name: str):
    user = get_user_model().objects.create_user(username=name, password=PASSWORD)
    return learner_listener(user)


def _instruments(recs) -> list[tuple[str, str | None]]:
    return [(r.course.title, INSTRUMENT_OF[r.course.title]) for r in recs]


def _assert_tiers(listed: list[tuple[str, str | None]], mine: str) -> None:
    """Every course of another instrument comes after every course of ``mine`` or of none."""
    others = [i for i, (_, instrument) in enumerate(listed) if instrument not in (None, mine)]
    fitting = [i for i, (_, instrument) in enumerate(listed) if instrument in (None, mine)]
    assert not others or not fitting or max(fitting) < min(others), listed


@pytest.mark.django_db
def test_a_tag_names_an_instrument_only_by_its_whole_name_and_only_one_courses_teach(world):
    snapshot = graph_snapshot()
    piano = snapshot.node_index[world.instruments["piano"]]
    assert instruments_named_by_tags(snapshot, [world.tags["piano"].entity_id]) == [piano]
    assert instruments_named_by_tags(snapshot, ["lastfm:tag:992"]) == [piano]  # "PIANO": case does not matter
    assert instruments_named_by_tags(snapshot, ["lastfm:tag:990"]) == []  # "piano rock" is a genre
    assert instruments_named_by_tags(snapshot, ["lastfm:tag:991"]) == []  # no course teaches the kazoo
    assert instruments_named_by_tags(snapshot, ["lastfm:tag:unknown", world.instruments["piano"]]) == []


@pytest.mark.django_db
def test_which_instruments_count_stated_then_picked_then_enrolled_and_a_request_overrides(served):
    snapshot = graph_snapshot()
    node = {name: snapshot.node_index[served.instruments[name]] for name in ("guitar", "piano")}
    listener = _learner("ada")
    assert learner_instrument_nodes(snapshot, listener_taste(listener)) == []
    interaction_record(listener, kind="enroll", course=served.courses["Blues Guitar for Beginners"])
    assert learner_instrument_nodes(snapshot, listener_taste(listener)) == [node["guitar"]]
    interests_set(listener, [served.tags["piano"].entity_id])
    assert learner_instrument_nodes(snapshot, listener_taste(listener)) == [node["piano"]]
    assert learner_instrument_nodes(snapshot, listener_taste(listener), [served.instruments["guitar"]]) == [
        node["guitar"]
    ]
    # a stated id that is not an instrument (a tag, an unknown id) falls through to the picks
    assert learner_instrument_nodes(
        snapshot, listener_taste(listener), [served.tags["piano"].entity_id, "leitmotif:instrument:nope"]
    ) == [node["piano"]]
    asked = with_request_seeds(listener_taste(listener), snapshot, [served.instruments["guitar"]])
    recs = recommendations_for_listener(listener, kind="course", k=3, seeds=asked.request)
    assert INSTRUMENT_OF[recs[0].course.title] == "guitar", _instruments(recs)


@pytest.mark.django_db
def test_a_tag_pianist_gets_piano_and_general_courses_before_any_other_instrument(served):
    listener = _learner("clara")
    interests_set(
        listener,
        [
            served.tags["piano"].entity_id,
            served.tags["classical"].entity_id,
            served.artists["Glenn Gould"].entity_id,
        ],
    )
    recs = recommendations_for_listener(listener, kind="course", k=5)
    listed = _instruments(recs)
    _assert_tiers(listed, "piano")
    assert "Music Theory for Everyone" in [t for t, _ in listed]  # the popular general course still shows
    # the whole catalogue: other instruments fill the end of the list, nothing is dropped
    everything = _instruments(recommendations_for_listener(listener, kind="course", k=20))
    assert len(everything) == Course.objects.count()
    _assert_tiers(everything, "piano")
    # the caller's instruments win over the picks
    as_guitarist = _instruments(
        recommendations_for_listener(listener, kind="course", k=20, instruments=[served.instruments["guitar"]])
    )
    _assert_tiers(as_guitarist, "guitar")


@pytest.mark.django_db
def test_after_enrolling_in_a_guitar_course_other_instruments_come_last(served):
    listener = _learner("gus")
    interaction_record(listener, kind="enroll", course=served.courses["Blues Guitar for Beginners"])
    recs = recommendations_for_listener(listener, kind="course", k=5)
    listed = _instruments(recs)
    _assert_tiers(listed, "guitar")
    assert sum(1 for _, i in listed if i == "guitar") >= 4, listed


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["leitmotif:instrument:piano", [1, 2], b"piano", 5, {"piano": 1}])
def test_malformed_instruments_are_a_request_error_and_unknown_ones_are_ignored(served, bad):
    listener = _learner("ed")
    with pytest.raises(RecommendationRequestError, match="instruments must be a list"):
        recommendations_for_listener(listener, kind="course", k=3, instruments=bad)
    recs = recommendations_for_listener(listener, kind="course", k=3, instruments=["leitmotif:instrument:kazooo"])
    assert len(recs) == 3
    assert not Interest.objects.filter(listener=listener).exists()
