"""The Udemy course loader: parsing and validation, title matching, catalog + graph writes, the command.

The fixture ``fixtures/courses/courses.csv`` is a hand-made miniature of the real file, worked out by hand:

* 6 records, 7 courses: record 103 has a quoted line break in its title (lines 4-5); the record on
  lines 7-8 is merged like four upstream records (course 105's row swallowed course 106's id and
  title; the other columns are 106's), so it yields courses 105 and 106;
* levels: beginner 101, 105; all 102, 106, 107; intermediate 103; expert 104;
* with the seeded tags below: 101 "Blues Rock Guitar Licks" covers only "blues rock", 103 "Keyboard
  Basics: Jazz Chords and Scales" covers "jazz" (and teaches piano, loosely), 105 "Learn 'Piano Blues'"
  covers "blues"; 102 "Fall in Love with the Trombone" and 107 "Seen Live: Hip Hop Love Songs" cover
  no tag ("love" and "seen live" are not genres, "hip-hop" has too few artists here).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Course
from core.errors import DataFileError, StoreUnavailableError
from ingestion.loaders.courses import (
    MATCHING_SOURCE,
    MIN_GENRE_TAG_ARTISTS,
    courses_load,
    read_courses,
    split_merged_record,
)
from kg.schema import (
    GENRES,
    HINT_CONFIDENCE,
    LOOSE_CONFIDENCE,
    concepts_in,
    genre_of_tag,
    genres_in,
    instrument_of_tag,
    instruments_in,
)
from kg.services import graph_upsert
from kg.stores.base import EntityRecord, RelationRecord

FIXTURE = Path(__file__).parent / "fixtures" / "courses" / "courses.csv"

#: tag id -> (name, number of artists carrying it)
SEED_TAGS = {
    1: ("blues", 3),
    2: ("blues rock", 3),
    3: ("rock", 3),
    4: ("love", 5),
    5: ("jazz", 3),
    6: ("piano", 1),
    7: ("seen live", 5),
    8: ("acoustic guitar", 1),
    9: ("female vocalists", 2),
    10: ("Hip-Hop", MIN_GENRE_TAG_ARTISTS - 1),
}


def seed_lastfm_tags(store) -> None:
    """Five artists and the tags above, as ``load_lastfm`` would have left them."""
    artists = [EntityRecord(id=f"lastfm:artist:{n}", type="Artist", name=f"Artist {n}") for n in range(1, 6)]
    tags = [EntityRecord(id=f"lastfm:tag:{i}", type="Tag", name=name) for i, (name, _) in SEED_TAGS.items()]
    has_tag = [
        RelationRecord(head=f"lastfm:artist:{n}", type="HAS_TAG", tail=f"lastfm:tag:{i}", source="lastfm-hetrec")
        for i, (_, artists_count) in SEED_TAGS.items()
        for n in range(1, artists_count + 1)
    ]
    graph_upsert(store=store, entities=[*artists, *tags], relations=has_tag)


@pytest.fixture
def csv_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture, so a test can break one line."""
    target = tmp_path / "courses.csv"
    shutil.copyfile(FIXTURE, target)
    return target


def replace_line(path: Path, line_no: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[line_no - 1] = text
    path.write_text("\n".join(lines), encoding="utf-8")


def out_links(store, course_id: int, relation_type: str) -> set[str]:
    return {
        n.entity.id
        for n in store.neighbours(f"udemy:course:{course_id}", direction="out", relation_types=[relation_type])
    }


# --- matching (pure functions) --------------------------------------------------------------------


def targets(matches) -> list[str]:
    return [m.target for m in matches]


def test_a_multi_word_genre_wins_over_its_parts():
    assert targets(genres_in("Blues Rock Guitar Licks")) == ["blues rock"]
    assert targets(genres_in("Blues and Rock Guitar")) == ["blues", "rock"]
    # A comma ends a phrase: "Blues, Rock" is two genres, not "blues rock".
    assert targets(genres_in("Learn How to Play Blues, Rock, & Boogie Woogie Piano")) == ["blues", "rock"]


def test_moods_and_labels_are_not_genres():
    assert genres_in("Fall in Love with the Trombone") == []
    assert genres_in("Seen Live: Songs I Love") == []
    for tag in ("love", "seen live", "fun", "amazing", "french", "female vocalists", "christmas", "acoustic"):
        assert genre_of_tag(tag) is None, tag
    assert genre_of_tag("Hip-Hop") == genre_of_tag("hip hop") == "hip hop"
    assert genre_of_tag("R&B") == genre_of_tag("rnb") == "rhythm and blues"


def test_matching_is_whole_word_and_case_insensitive():
    assert targets(genres_in("POP and JAZZ Keyboards")) == ["pop", "jazz"]
    assert genres_in("Playing Piano: Popular Pieces") == []  # "Popular" is not "pop"
    assert targets(instruments_in("Advanced Bassoon Studies")) == ["bassoon"]  # not "bass"
    assert targets(instruments_in("Guitarist's Guide")) == ["guitar"]


def test_plurals_and_synonyms_name_the_instrument():
    assert targets(instruments_in("Ukuleles and Guitars: Play by Ear")) == ["ukulele", "guitar"]
    assert targets(instruments_in("Play Violin and Fiddle for beginners")) == ["violin"]
    assert targets(instruments_in("Aprende a tocar el acordeón de botones")) == ["accordion"]  # accents folded
    assert targets(instruments_in("Aprende a tocar la batería")) == ["drums"]
    assert targets(instruments_in("ブルースギター入門")) == ["guitar"]


def test_keyboard_is_piano_with_lower_confidence_and_keys_is_not_an_instrument():
    [keyboard] = instruments_in("Keyboard Basics")
    assert (keyboard.target, keyboard.matched, keyboard.confidence) == ("piano", "keyboard", LOOSE_CONFIDENCE)
    [piano] = instruments_in("Learn Piano & Keyboard")
    assert (piano.target, piano.confidence) == ("piano", 1.0)  # the best evidence is kept
    assert instruments_in("Play A Song in 12 Keys") == []


def test_longer_instrument_phrases_and_blockers_win():
    assert targets(instruments_in("Pentatonic Scale Crash Course for Bass Guitar")) == ["bass"]
    assert targets(instruments_in("Take your double bass drum technique further")) == ["drums"]
    assert instruments_in("Drum and Bass Production") == []
    assert targets(instruments_in("Learn the French Horn")) == ["french-horn"]


def test_technique_words_hint_at_guitar_only_when_no_instrument_is_named():
    [hint] = instruments_in("Building Up To Barre Chords")
    assert (hint.target, hint.confidence) == ("guitar", HINT_CONFIDENCE)
    assert targets(instruments_in("Barre Chords on the Ukulele")) == ["ukulele"]


def test_concepts_and_their_negations():
    assert targets(concepts_in("Keyboard Basics: Jazz Chords and Scales")) == ["chords", "scales"]
    assert targets(concepts_in("Play Piano by Ear")) == ["ear-training"]
    assert "sight-reading" not in targets(concepts_in("Play Autumn Leaves on piano with no reading!"))
    assert "rhythm" not in targets(concepts_in("Piano Lessons for Rhythm and Blues"))


def test_instrument_named_tags():
    assert instrument_of_tag("piano").target == "piano"
    assert instrument_of_tag("Acoustic Guitar").target == "guitar"
    assert instrument_of_tag("jazz piano").target == "piano"
    for tag in ("female vocalists", "drum and bass", "drum machine", "piano led indie", "love"):
        assert instrument_of_tag(tag) is None, tag


def test_every_genre_names_itself():
    for key, term in GENRES.items():
        for phrase in term.phrases:
            assert genre_of_tag(phrase) == key, (key, phrase)


# --- parsing --------------------------------------------------------------------------------------


def test_fixture_is_parsed_with_line_breaks_and_merged_records():
    courses = {c.udemy_id: c for c in read_courses(FIXTURE)}
    assert sorted(courses) == [101, 102, 103, 104, 105, 106, 107]
    assert courses[103].title == "Keyboard Basics: Jazz Chords and Scales" and courses[103].line == 4
    assert courses[103].price == Decimal("0.00") and courses[103].is_paid is False
    first, second = courses[105], courses[106]
    assert (first.title, first.url, first.level, first.duration_hours) == (
        "Learn 'Piano Blues'",
        "https://www.udemy.com/piano-blues/",
        "beginner",
        0.72,
    )
    assert (first.subscribers, first.published_at.isoformat()) == (80, "2014-01-27T20:58:16+00:00")
    assert (second.title, second.url, second.level, second.subscribers) == (
        "Drum Set Grooves",
        "https://www.udemy.com/drum-set/",
        "all",
        400,
    )
    assert first.line == second.line == 7 and first.recovered and second.recovered
    assert courses[107].line == 9


def test_an_ordinary_title_is_not_split():
    assert split_merged_record('Learn to Play "Study in B minor", Part 2') is None


MALFORMED = [
    pytest.param(
        2,
        "101,Guitar,https://www.udemy.com/g/,True,50,12x,30,20,Beginner Level,2.5,2015-03-01T10:00:00Z,Musical Instruments",
        "column 'num_subscribers' must be a whole number, found '12x'",
        id="bad-number",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,True,20,-5,5,12,All Levels,1.0,2016-01-01T00:00:00Z,Musical Instruments",
        "column 'num_subscribers' must not be negative",
        id="negative-number",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,True,20,300,5,12,Master Level,1.0,2016-01-01T00:00:00Z,Musical Instruments",
        "column 'level' must be one of 'Beginner Level'",
        id="bad-level",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,True,cheap,300,5,12,All Levels,1.0,2016-01-01T00:00:00Z,Musical Instruments",
        "column 'price' must be a number",
        id="bad-price",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,Maybe,20,300,5,12,All Levels,1.0,2016-01-01T00:00:00Z,Musical Instruments",
        "column 'is_paid' must be True or False",
        id="bad-boolean",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,True,20,300,5,12,All Levels,1.0,yesterday,Musical Instruments",
        "column 'published_timestamp' must be an ISO 8601 time",
        id="bad-timestamp",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,True,20,300,5,12,All Levels,1.0,2016-01-01T00:00:00,Musical Instruments",
        "must carry a time zone",
        id="naive-timestamp",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,True,20,300,5,12,All Levels,long,2016-01-01T00:00:00Z,Musical Instruments",
        "column 'content_duration' must be a number of hours",
        id="bad-duration",
    ),
    pytest.param(
        3,
        "102,Excel for Bankers,https://www.udemy.com/x/,True,20,300,5,12,All Levels,1.0,2016-01-01T00:00:00Z,Business Finance",
        "column 'subject' is 'Business Finance', not 'Musical Instruments'",
        id="not-music",
    ),
    pytest.param(
        3,
        "101,Trombone,https://www.udemy.com/t/,True,20,300,5,12,All Levels,1.0,2016-01-01T00:00:00Z,Musical Instruments",
        "duplicate course_id 101 (first seen on line 2)",
        id="duplicate-id",
    ),
    pytest.param(
        3,
        "102,Trombone,https://www.udemy.com/t/,True,20,300",
        "expected 12 comma-separated columns, found 6",
        id="short-row",
    ),
    pytest.param(
        3,
        "102,  ,https://www.udemy.com/t/,True,20,300,5,12,All Levels,1.0,2016-01-01T00:00:00Z,Musical Instruments",
        "column 'course_title' is empty",
        id="empty-title",
    ),
    pytest.param(
        3,
        "102,Trombone,ftp://udemy/t,True,20,300,5,12,All Levels,1.0,2016-01-01T00:00:00Z,Musical Instruments",
        "column 'url' must be an http(s) address",
        id="bad-url",
    ),
    pytest.param(
        1,
        "course_id,course_title,url,is_paid,price,num_subscribers,num_reviews,num_lectures,content_duration,published_timestamp,subject",
        "the header lacks the column(s) level",
        id="missing-column",
    ),
    pytest.param(
        9,
        '107,"Seen Live,https://www.udemy.com/seen-live/,True,40,10,0,5,All Levels,1.0,2016-07-04T08:30:00Z,Musical Instruments',
        "not a well-formed CSV record",
        id="unterminated-quote",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("line_no, text, message", MALFORMED)
def test_malformed_row_names_file_and_line_and_writes_nothing(csv_copy, sql_store, line_no, text, message):
    seed_lastfm_tags(sql_store)
    before = sql_store.stats()
    replace_line(csv_copy, line_no, text)
    with pytest.raises(DataFileError) as caught:
        courses_load(csv_copy, store=sql_store, progress=False)
    error = caught.value
    assert (error.path, error.line) == (str(csv_copy), line_no)
    assert message in error.message
    assert f"courses.csv:{line_no}: " in str(error)
    assert Course.objects.count() == 0
    assert sql_store.stats() == before


@pytest.mark.django_db
def test_missing_file_and_empty_file(tmp_path, sql_store):
    with pytest.raises(DataFileError, match=r"nowhere\.csv: expected the course CSV here but it does not exist"):
        courses_load(tmp_path / "nowhere.csv", store=sql_store, progress=False)
    header_only = tmp_path / "header.csv"
    header_only.write_text(FIXTURE.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="has a header but no course rows"):
        courses_load(header_only, store=sql_store, progress=False)
    assert Course.objects.count() == 0 and sql_store.stats().entities == 0


@pytest.mark.django_db
def test_invalid_utf8_names_its_line(csv_copy, sql_store):
    csv_copy.write_bytes(csv_copy.read_bytes().replace(b"Trombone", "Trombón".encode("latin-1")))
    with pytest.raises(DataFileError, match=r"courses\.csv:3: not valid UTF-8"):
        courses_load(csv_copy, store=sql_store, progress=False)


# --- writes on both backends ----------------------------------------------------------------------


@pytest.mark.django_db
def test_fixture_load_writes_catalog_and_links_every_course(graph_store):
    seed_lastfm_tags(graph_store)
    report = courses_load(FIXTURE, store=graph_store, progress=False)

    assert Course.objects.count() == 7
    jazz = Course.objects.get(udemy_id=103)
    assert (jazz.title, jazz.level, jazz.is_paid, jazz.price, jazz.subscribers) == (
        "Keyboard Basics: Jazz Chords and Scales",
        "intermediate",
        False,
        Decimal("0.00"),
        5000,
    )
    assert jazz.entity_id == "udemy:course:103" and jazz.published_at.isoformat() == "2014-06-01T12:00:00+00:00"
    assert Course.objects.get(udemy_id=105).duration_hours == 0.72

    entity = graph_store.get_entity("udemy:course:101")
    assert (entity.type, entity.name) == ("Course", "Blues Rock Guitar Licks, Volume 1")
    assert (
        entity.properties["level"] == "beginner"
        and entity.properties["url"] == "https://www.udemy.com/blues-rock-guitar/"
    )
    assert entity.properties["subscribers"] == 1200 and entity.properties["price"] == 50.0

    for course_id, level in {
        101: "beginner",
        102: "all",
        103: "intermediate",
        104: "expert",
        105: "beginner",
        106: "all",
        107: "all",
    }.items():
        assert out_links(graph_store, course_id, "HAS_LEVEL") == {f"leitmotif:level:{level}"}
    assert out_links(graph_store, 101, "COVERS_TAG") == {"lastfm:tag:2"}  # blues rock, not blues, not rock
    assert out_links(graph_store, 103, "COVERS_TAG") == {"lastfm:tag:5"}
    assert out_links(graph_store, 105, "COVERS_TAG") == {"lastfm:tag:1"}
    assert out_links(graph_store, 102, "COVERS_TAG") == set()  # "love" is not linked
    assert out_links(graph_store, 107, "COVERS_TAG") == set()  # "seen live" is not a genre; hip-hop too rare here
    assert out_links(graph_store, 104, "TEACHES_INSTRUMENT") == {
        "leitmotif:instrument:ukulele",
        "leitmotif:instrument:guitar",
    }
    assert out_links(graph_store, 106, "TEACHES_INSTRUMENT") == {"leitmotif:instrument:drums"}
    assert out_links(graph_store, 103, "TEACHES_CONCEPT") == {"leitmotif:concept:chords", "leitmotif:concept:scales"}

    keyboard = graph_store.get_relation("udemy:course:103", "TEACHES_INSTRUMENT", "leitmotif:instrument:piano")
    assert (keyboard.source, keyboard.confidence, dict(keyboard.properties)) == (
        MATCHING_SOURCE,
        LOOSE_CONFIDENCE,
        {"matched": "keyboard"},
    )
    covers = graph_store.get_relation("udemy:course:101", "COVERS_TAG", "lastfm:tag:2")
    assert (covers.source, covers.confidence, dict(covers.properties)) == (
        MATCHING_SOURCE,
        1.0,
        {"matched": "blues rock"},
    )
    assert (
        graph_store.get_relation("udemy:course:101", "HAS_LEVEL", "leitmotif:level:beginner").source == "udemy-courses"
    )

    # Listeners reach courses through their artists' tags: tag -ABOUT_INSTRUMENT-> instrument <- course.
    about = {
        (n.relation.head, n.relation.tail)
        for n in graph_store.neighbours(
            "leitmotif:instrument:piano", direction="in", relation_types=["ABOUT_INSTRUMENT"]
        )
    }
    assert about == {("lastfm:tag:6", "leitmotif:instrument:piano")}
    assert graph_store.get_relation("lastfm:tag:8", "ABOUT_INSTRUMENT", "leitmotif:instrument:guitar") is not None
    assert graph_store.neighbours("lastfm:tag:9", direction="out") == []
    piano = graph_store.get_entity("leitmotif:instrument:piano")
    assert (piano.type, piano.name) == ("Instrument", "Piano") and "keyboard" in piano.aliases
    assert graph_store.get_entity("leitmotif:level:all").name == "All levels"
    assert graph_store.get_entity("leitmotif:concept:ear-training").type == "Concept"

    counts = report.counts
    assert (counts.records, counts.courses, counts.recovered) == (6, 7, 2)
    assert (counts.with_instrument, counts.with_tag, counts.with_concept, counts.with_any_link) == (6, 3, 5, 7)
    assert counts.entities_by_type == {"Concept": 6, "Course": 7, "Instrument": 5, "Level": 4}
    assert counts.relations_by_type == {
        "ABOUT_INSTRUMENT": 2,
        "COVERS_TAG": 3,
        "HAS_LEVEL": 7,
        "TEACHES_CONCEPT": 6,
        "TEACHES_INSTRUMENT": 7,
    }
    assert report.catalog.created == 7 and report.graph.entities.created == 22 and report.graph.relations.created == 25
    assert report.removed_relations == 0


@pytest.mark.django_db
def test_second_run_changes_nothing(graph_store):
    seed_lastfm_tags(graph_store)
    courses_load(FIXTURE, store=graph_store, progress=False)
    stats = graph_store.stats()
    stamp = Course.objects.get(udemy_id=101).updated_at

    again = courses_load(FIXTURE, store=graph_store, progress=False)

    assert (again.created, again.updated, again.removed_relations, again.written) == (0, 0, 0, 0)
    assert (
        again.catalog.unchanged == 7 and again.graph.entities.unchanged == 22 and again.graph.relations.unchanged == 25
    )
    assert graph_store.stats() == stats
    assert Course.objects.get(udemy_id=101).updated_at == stamp


@pytest.mark.django_db
def test_a_corrected_title_drops_its_old_links_but_keeps_a_curators(csv_copy, graph_store):
    seed_lastfm_tags(graph_store)
    courses_load(csv_copy, store=graph_store, progress=False)
    curated = RelationRecord(head="udemy:course:101", type="COVERS_TAG", tail="lastfm:tag:3", source="curator")
    graph_upsert(store=graph_store, relations=[curated])
    replace_line(
        csv_copy,
        2,
        "101,Jazz Guitar Licks,https://www.udemy.com/blues-rock-guitar/,True,50,1200,30,20,Beginner Level,2.5,2015-03-01T10:00:00Z,Musical Instruments",
    )

    report = courses_load(csv_copy, store=graph_store, progress=False)

    assert out_links(graph_store, 101, "COVERS_TAG") == {"lastfm:tag:5", "lastfm:tag:3"}  # jazz + the curator's rock
    assert report.removed_relations == 1 and report.catalog.updated == 1
    assert Course.objects.get(udemy_id=101).title == "Jazz Guitar Licks"
    assert graph_store.get_entity("udemy:course:101").name == "Jazz Guitar Licks"


@pytest.mark.django_db
def test_bad_file_after_a_good_load_loses_nothing(csv_copy, graph_store):
    seed_lastfm_tags(graph_store)
    courses_load(csv_copy, store=graph_store, progress=False)
    stats = graph_store.stats()
    replace_line(
        csv_copy,
        3,
        "102,Trombone,https://www.udemy.com/t/,True,20,300,5,12,Grand Master,1.0,2016-01-01T00:00:00Z,Musical Instruments",
    )

    with pytest.raises(DataFileError, match=r"courses\.csv:3: column 'level'"):
        courses_load(csv_copy, store=graph_store, progress=False)

    assert Course.objects.count() == 7 and Course.objects.get(udemy_id=102).level == "all"
    assert graph_store.stats() == stats


@pytest.mark.django_db
def test_courses_load_without_lastfm_tags_still_links_levels_and_instruments(sql_store):
    report = courses_load(FIXTURE, store=sql_store, progress=False)
    assert report.counts.with_tag == 0 and report.counts.relations_by_type["HAS_LEVEL"] == 7
    assert "COVERS_TAG" not in report.counts.relations_by_type


@pytest.mark.django_db
def test_unreachable_graph_store_fails_before_the_catalog_is_touched():
    from kg.stores.neo4j import Neo4jGraphStore

    with Neo4jGraphStore(uri="bolt://127.0.0.1:9", user="neo4j", password="wrong", connection_timeout=2.0) as down:
        with pytest.raises(StoreUnavailableError):
            courses_load(FIXTURE, store=down, progress=False)
    assert Course.objects.count() == 0


# --- the management command -----------------------------------------------------------------------


@pytest.mark.django_db
def test_command_loads_and_prints_counts(capsys):
    call_command("load_courses", file=str(FIXTURE), backend="sql", no_progress=True)
    out = capsys.readouterr().out
    assert "6 records, 7 courses (2 of them recovered from merged records)." in out
    assert "to an instrument" in out and "TEACHES_INSTRUMENT" in out and "HAS_LEVEL" in out
    assert Course.objects.count() == 7

    call_command("load_courses", file=str(FIXTURE), backend="sql", no_progress=True)
    assert "Total: 0 created, 0 updated, 0 removed" in capsys.readouterr().out


@pytest.mark.django_db
def test_command_reports_a_bad_row_in_one_line(csv_copy):
    replace_line(
        csv_copy,
        2,
        "101,Guitar,https://www.udemy.com/g/,True,50,lots,30,20,Beginner Level,2.5,2015-03-01T10:00:00Z,Musical Instruments",
    )
    with pytest.raises(CommandError) as caught:
        call_command("load_courses", file=str(csv_copy), backend="sql", no_progress=True)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("[E006] ") and f"{csv_copy}:2: column 'num_subscribers'" in message
    assert Course.objects.count() == 0


@pytest.mark.django_db
def test_command_names_a_missing_file(tmp_path):
    missing = tmp_path / "missing.csv"
    with pytest.raises(CommandError, match=rf"\[E006\] {missing}: expected the course CSV here but it does not exist"):
        call_command("load_courses", file=str(missing), backend="sql", no_progress=True)


# --- the admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_course_and_interaction_admin_are_browsable_but_read_only(admin_client, sql_store):
    courses_load(FIXTURE, store=sql_store, progress=False)
    listing = admin_client.get("/admin/catalog/course/", {"q": "trombone"})
    assert listing.status_code == 200 and b"Fall in Love with the Trombone" in listing.content
    assert b"Keyboard Basics" not in listing.content
    assert admin_client.get("/admin/catalog/course/add/").status_code == 403
    assert admin_client.get("/admin/catalog/interaction/").status_code == 200
    assert admin_client.get("/admin/catalog/interaction/add/").status_code == 403
    assert admin_client.get("/admin/catalog/interest/").status_code == 200
