"""Learner pages speak to learners: relation words instead of relation types, no scores, no placeholder
or non-music nodes, a source in words, durations and mastery as a learner reads them.

The words come from one table (:mod:`learning_platform.learn.labels`); these tests check the table is
complete for every relation type the graph can hold, and that each page reads through it.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.urls import reverse

from catalog.models import Tag, TagAssignment
from ingestion.relations.schema import RELATION_TYPES
from kg.schema import KNOWN_RELATION_TYPES
from kg.schema import types as schema_types
from kg.stores import EntityRecord, RelationRecord
from learning_platform.learn import labels
from learning_platform.learn.selectors import (
    PICTURE_NEIGHBOURS,
    duration_text,
    neighbourhood_picture,
    path_chips,
    recommendation_cards,
)
from learning_platform.learn.templatetags.learner import percent
from tests.helpers.learner_world import build_world

#: What a raw relation type looks like on a page (``HAS_TAG``, ``TEACHES_INSTRUMENT``).
RAW_TYPE = re.compile(r"\b[A-Z]{2,}(?:_[A-Z]+)+\b")


def _schema_relation_types() -> set[str]:
    return {
        value
        for name, value in vars(schema_types).items()
        if name.isupper() and not name.endswith("_TYPE") and isinstance(value, str)
    }


# --- the label table ------------------------------------------------------------------------------


def test_every_relation_type_the_graph_can_hold_has_words_both_ways():
    known = _schema_relation_types() | set(KNOWN_RELATION_TYPES.values()) | {r.name for r in RELATION_TYPES}
    assert {"HAS_TAG", "TEACHES_INSTRUMENT", "PREREQUISITE_OF", "ACTOR_FILM", "MEMBER_OF"} <= known
    missing = sorted(known - set(labels.RELATION_LABELS))
    assert not missing, f"relation types without learner words: {missing}"
    for relation_type, label in labels.RELATION_LABELS.items():
        for words in (label.forward, label.backward):
            assert words and words == words.lower() and "_" not in words, (relation_type, words)


def test_relation_words_read_in_the_walked_direction_and_unknown_types_stay_humane():
    assert labels.relation_label("HAS_TAG") == "tagged"
    assert labels.relation_label("HAS_TAG", "backward") == labels.relation_label("HAS_TAG", "in") == "tag of"
    assert labels.relation_label("TEACHES_INSTRUMENT", "out") == "teaches"
    assert labels.relation_label("PREREQUISITE_OF") == "leads to"
    assert labels.relation_label("SOME_NEW_TYPE") == labels.relation_label("SOME_NEW_TYPE", "backward") == "related to"


def test_placeholder_names_and_non_music_types_are_recognised():
    assert labels.is_placeholder_name("Film kgcn:3847") and labels.is_placeholder_name("Genre kgcn:99")
    assert labels.is_placeholder_name("kgcn:12", "kgcn:12") and labels.is_placeholder_name("  ")
    assert not labels.is_placeholder_name("Muddy Waters", "lastfm:artist:1")
    assert {"Artist", "Tag", "Course", "Instrument", "Concept", "Work"} <= labels.LEARNER_ENTITY_TYPES
    assert not {"Film", "Game", "Award", "AwardNomination", "Rating", "TimeZone"} & labels.LEARNER_ENTITY_TYPES
    assert labels.anonymous_mention("Album") == "an album" and labels.entity_type_label("MusicalArtist") == "Musician"


def test_path_chips_name_anonymous_nodes_by_kind_and_never_by_placeholder():
    path = {
        "nodes": [
            {"id": "a:1", "name": "Isaac Hayes", "type": "Artist"},
            {"id": "kgcn:3847", "name": "Film kgcn:3847", "type": "Film"},
            {"id": "a:2", "name": "Barry White", "type": "Artist"},
        ],
        "edges": [
            {"type": "ACTOR_FILM", "direction": "forward", "head": "a:1", "tail": "kgcn:3847"},
            {"type": "ACTOR_FILM", "direction": "backward", "head": "a:2", "tail": "kgcn:3847"},
        ],
    }
    assert [c.label for c in path_chips(path)] == ["Isaac Hayes", "acted in", "a film", "starring", "Barry White"]


def test_cards_carry_no_score_and_say_where_they_come_from():
    def rec(basis: str, sentence: str):
        explanation = {"basis": basis, "sentence": sentence, "paths": []}
        return SimpleNamespace(
            rank=1, score=5.764, kind="music", entity_id="a:1", explanation=explanation, course=None, artist=None
        )

    picks, asked, listeners, unknown = recommendation_cards(
        [
            rec("graph", 'You picked blues → B.B. King has tag "blues".'),
            rec("graph", 'You asked for "blues" → B.B. King has tag "blues".'),
            rec("similar_listeners", "12 listeners with tastes like yours also listen to this."),
            rec("no_path", ""),
        ]
    )
    assert not hasattr(picks, "score")
    assert picks.source == "From your picks" and asked.source == "From what you asked for"
    assert listeners.source == "Listeners like you" and unknown.source == ""


def test_durations_and_shares_read_like_a_person_wrote_them():
    assert duration_text(0.683333) == "41 min" and duration_text(1.5) == "1.5 h" and duration_text(12.25) == "12.2 h"
    assert percent(0.8) == "80%" and percent("n/a") == "n/a"


# --- pictures and neighbour lists -----------------------------------------------------------------


@pytest.fixture
def noisy_artist(sql_store, settings):
    """An artist whose graph neighbourhood has everything a learner should not see, and more good tags than fit."""
    settings.KG_BACKEND = "sql"
    world = build_world(sql_store, listeners_per_group=1)
    artist = world.artists["Muddy Waters"]
    entities = [
        EntityRecord(id=f"kgcn:{i}", type="Film", name=f"Film kgcn:{i}", properties={"named": False})
        for i in range(1, 8)
    ]
    entities += [
        EntityRecord(id="kgcn:50", type="Place", name="Place kgcn:50", properties={"named": False}),
        EntityRecord(id="kgcn:99", type="Genre", name="Genre kgcn:99"),  # a placeholder name without the flag
        EntityRecord(id="x:7", type="Album", name="x:7"),  # an id as its name
        EntityRecord(id="f:1", type="Film", name="Mississippi Blues (the film)"),  # named, but not music
        EntityRecord(id="g:1", type="Game", name="Guitar Hero"),
        EntityRecord(id="lastfm:tag:9001", type="Tag", name="seen live"),  # stoplist
        EntityRecord(id="lastfm:tag:9002", type="Tag", name="my favourite blues"),  # personal
        EntityRecord(id="lastfm:tag:9003", type="Tag", name="muddy waters"),  # the artist's own name
        EntityRecord(id="lastfm:tag:9004", type="Tag", name="chicago blues"),  # descriptive but on one artist
    ]
    entities += [EntityRecord(id=f"lastfm:tag:95{i:02d}", type="Tag", name=f"delta style {i:02d}") for i in range(20)]
    sql_store.upsert_entities(entities)
    relations = [RelationRecord(head=artist.entity_id, type="ACTOR_FILM", tail=f"kgcn:{i}") for i in range(1, 8)]
    relations += [
        RelationRecord(head=artist.entity_id, type="ORIGIN", tail="kgcn:50"),
        RelationRecord(head=artist.entity_id, type="ARTIST_GENRE", tail="kgcn:99"),
        RelationRecord(head=artist.entity_id, type="ALBUM", tail="x:7"),
        RelationRecord(head=artist.entity_id, type="PERSON_OR_ENTITY_APPEARING_IN_FILM_FILM", tail="f:1"),
        RelationRecord(head="g:1", type="SOME_GAME_LINK", tail=artist.entity_id),
    ]
    relations += [
        # the noise tags are the most given ones, so only filtering keeps them out of the picture
        RelationRecord(head=artist.entity_id, type="HAS_TAG", tail=e.id, properties={"count": 50})
        for e in entities
        if e.type == "Tag" and not e.name.startswith("delta")
    ]
    relations += [RelationRecord(head=artist.entity_id, type="HAS_TAG", tail=e.id) for e in entities[-20:]]
    sql_store.upsert_relations(relations)
    # "chicago blues" is in the catalogue, given to this artist only: one listener's tag, not a shared style
    listener = artist.listens.first().listener
    tag = Tag.objects.create(lastfm_id=9004, name="chicago blues", entity_id="lastfm:tag:9004")
    TagAssignment.objects.create(listener=listener, artist=artist, tag=tag)
    return artist


HIDDEN = (
    "kgcn:",
    "unnamed",
    "x:7",
    "Mississippi Blues",
    "Guitar Hero",
    "seen live",
    "my favourite blues",
    ">muddy waters<",
    "chicago blues",
)


@pytest.mark.django_db
def test_the_picture_leaves_out_placeholders_non_music_nodes_and_noise_tags(noisy_artist, sql_store):
    picture = neighbourhood_picture(noisy_artist.entity_id, store=sql_store)
    assert picture is not None
    names = {node.name for node in picture.nodes}
    assert len(picture.nodes) == PICTURE_NEIGHBOURS  # the slots go to the real neighbours
    assert {"blues", "guitar"} <= names
    assert all(node.type in {"Tag"} for node in picture.nodes), names
    assert picture.total_edges == 22  # blues, guitar and the 20 style tags: what could be shown
    assert {edge.full_label for edge in picture.edges} == {"tagged"}


@pytest.mark.django_db
def test_film_edges_do_not_crowd_the_music_out_of_the_fetch(noisy_artist, sql_store, monkeypatch):
    """The store orders edges by type and ``ACTOR_FILM`` sorts first: an artist with many films kept no tags."""
    from learning_platform.learn import selectors

    monkeypatch.setattr(selectors, "PICTURE_FETCH_LIMIT", 8)
    picture = neighbourhood_picture(noisy_artist.entity_id, store=sql_store)
    assert picture is not None and "blues" in {node.name for node in picture.nodes}
    assert not labels.LEARNER_RELATION_TYPES & labels.NON_MUSIC_RELATION_TYPES
    assert {"HAS_TAG", "TEACHES_INSTRUMENT", "ORIGIN"} <= labels.LEARNER_RELATION_TYPES


@pytest.mark.django_db
def test_the_artist_page_shows_neither_internal_names_nor_noise(client, noisy_artist):
    html = client.get(reverse("learn:artist", args=[noisy_artist.pk])).content.decode()
    assert html.count("<circle") == PICTURE_NEIGHBOURS + 1
    for hidden in HIDDEN:
        assert hidden not in html, hidden
    assert not RAW_TYPE.search(html), RAW_TYPE.search(html)
    assert "Graph id" not in html and noisy_artist.entity_id not in html
    connections = html[html.index('id="connections"') :]
    assert "<dt>Tagged</dt>" in connections and "blues" in connections and "delta style 00" in connections
    assert "Read each line from the middle outwards" in html


@pytest.mark.django_db
def test_the_course_page_reads_its_relations_in_words(client, sql_store, settings):
    settings.KG_BACKEND = "sql"
    world = build_world(sql_store, listeners_per_group=1)
    course = world.courses["Blues Guitar for Beginners"]
    html = client.get(reverse("learn:course", args=[course.pk])).content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    for words in (">teaches<", ">covers<", ">at level<"):
        assert words in svg
    assert not RAW_TYPE.search(html), RAW_TYPE.search(html)
    assert "<dt>Teaches</dt>" in html and "<dt>Covers</dt>" in html
    assert "1.5 h" in html
