"""The Last.FM loader: parsing and validation, catalog + graph writes on both backends, the command.

The fixture folder ``fixtures/lastfm`` is a hand-made miniature of the real files (same formats, CRLF
endings in the KGCN files as upstream). What it holds, worked out by hand:

* artists 1, 2, 3 are KGCN items (entities 0, 1, 2); artists 4 and 5 are not;
* users 10 and 11 listened to items (3 listening pairs); user 12 only to non-items, so is left out;
* kg.txt: 10 triples over 10 predicates, 9 entities (3 items + Place 3, Genre 4, Film 5,
  Instrument 6, Game 7, Album 8); ``type.object.key`` points at item 1 (artist 2);
* tags: artist 1 has tag 1 from users 10 and 11 (count 2) and tag 2 from user 12 (count 1, counted
  although user 12 is not in the subset); artist 2 has tag 3 (count 1); tag 4 is only on artist 4;
  a row on unknown artist 999 is allowed (the real data has 1,538 such rows);
* tag assignments between subset users and items: 3; friendships between subset users: 2.

The load writes the whole catalogue (:func:`lastfm_catalogue_select`): 5 artists (only 1, 2, 3 with a
KGCN entity), users 10, 11, 12, 6 listens, 4 tags, 5 tag assignments (the row on artist 999 is skipped
and counted), 4 friendships, 4 HAS_TAG edges (artist 4 -> tag 4 too); the KGCN subset above is what the
report compares with the published numbers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from catalog.models import Artist, Friendship, Listen, Listener, Tag, TagAssignment
from core.errors import DataFileError, StoreUnavailableError
from ingestion.loaders.lastfm import (
    KGCN_PUBLISHED_COUNTS,
    LastfmPaths,
    kgcn_graph_records,
    kgcn_subset_select,
    lastfm_catalogue_select,
    lastfm_dataset_read,
    lastfm_load,
)
from kg.schema import FREEBASE_TAIL_TYPES, freebase_relation_types, infer_tail_entity_type
from recommender.data import InteractionDataset

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "lastfm"
CATALOG_MODELS = (Artist, Listener, Listen, Tag, TagAssignment, Friendship)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture folder, so a test can break one file."""
    target = tmp_path / "data"
    shutil.copytree(FIXTURE_DIR, target)
    return target


def catalog_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in CATALOG_MODELS}


def replace_line(path: Path, line_no: int, text: str) -> None:
    """Replace 1-based line ``line_no`` (keeping the file's line ending)."""
    lines = path.read_bytes().split(b"\n")
    ending = b"\r" if lines[line_no - 1].endswith(b"\r") else b""
    lines[line_no - 1] = text.encode("utf-8") + ending
    path.write_bytes(b"\n".join(lines))


# --- parsing and selection (no store needed) ---------------------------------------------------


def test_fixture_is_parsed_into_typed_rows():
    dataset = lastfm_dataset_read(data_dir=FIXTURE_DIR)
    assert len(dataset.artists) == 5
    assert dataset.artists[1].name == "Björk"
    assert dataset.artists[2].name == "Dustin O'Halloran" and dataset.artists[2].picture_url == ""
    assert dataset.tags[2].name == "tropicália"
    assert [(link.artist_id, link.kgcn_entity) for link in dataset.item_links] == [(1, 0), (2, 1), (3, 2)]
    assert len(dataset.listens) == 6 and dataset.listens[0].play_count == 100
    leap_day = next(row for row in dataset.tag_assignments if row.tag_id == 3)
    assert leap_day.tagged_on.isoformat() == "2008-02-29"
    assert len(dataset.kg_triples) == 10
    assert dataset.kg_triples[0].predicate == "music.artist.origin"  # the CRLF ending is gone


def test_kgcn_subset_keeps_only_what_touches_items():
    subset = kgcn_subset_select(dataset=lastfm_dataset_read(data_dir=FIXTURE_DIR))
    assert [a.artist.lastfm_id for a in subset.artists] == [1, 2, 3]
    assert subset.user_ids == [10, 11]
    assert {(r.user_id, r.artist_id) for r in subset.listens} == {(10, 1), (10, 2), (11, 2)}
    assert [t.lastfm_id for t in subset.tags] == [1, 2, 3]
    assert {(r.user_id, r.artist_id, r.tag_id) for r in subset.tag_assignments} == {(10, 1, 1), (11, 1, 1), (10, 2, 3)}
    assert {(r.user_id, r.friend_id) for r in subset.friendships} == {(10, 11), (11, 10)}
    assert subset.tag_counts == {(1, 1): 2, (1, 2): 1, (2, 3): 1}


def test_catalogue_keeps_every_artist_user_listen_tag_and_friendship():
    catalogue = lastfm_catalogue_select(dataset=lastfm_dataset_read(data_dir=FIXTURE_DIR))
    assert [(a.artist.lastfm_id, a.kgcn_entity) for a in catalogue.artists] == [
        (1, 0),
        (2, 1),
        (3, 2),
        (4, None),
        (5, None),
    ]
    assert catalogue.user_ids == [10, 11, 12]
    assert len(catalogue.listens) == 6
    assert [t.lastfm_id for t in catalogue.tags] == [1, 2, 3, 4]  # "unused tag" is on artist 4 only
    assert {(r.user_id, r.artist_id, r.tag_id) for r in catalogue.tag_assignments} == {
        (10, 1, 1),
        (11, 1, 1),
        (12, 1, 2),
        (10, 2, 3),
        (11, 4, 4),
    }
    assert catalogue.skipped_tag_assignments == 1  # user 12 on artist 999, not in artists.dat
    assert len(catalogue.friendships) == 4
    assert catalogue.tag_counts == {(1, 1): 2, (1, 2): 1, (2, 3): 1, (4, 4): 1}


def test_catalogue_graph_records_give_every_artist_an_entity_and_kgcn_only_to_items():
    records = kgcn_graph_records(subset=lastfm_catalogue_select(dataset=lastfm_dataset_read(data_dir=FIXTURE_DIR)))
    artists = {e.id: dict(e.properties) for e in records.entities if e.type == "Artist"}
    assert sorted(artists) == [f"lastfm:artist:{n}" for n in range(1, 6)]
    assert artists["lastfm:artist:1"]["kgcn_entity"] == 0
    assert artists["lastfm:artist:4"] == {"lastfm_id": 4, "url": "http://www.last.fm/music/Diary+of+Dreams"}
    has_tag = {(r.head, r.tail) for r in records.relations if r.type == "HAS_TAG"}
    assert ("lastfm:artist:4", "lastfm:tag:4") in has_tag and len(has_tag) == 4


def test_graph_records_name_and_type_anonymous_entities_honestly():
    records = kgcn_graph_records(subset=kgcn_subset_select(dataset=lastfm_dataset_read(data_dir=FIXTURE_DIR)))
    by_id = {e.id: e for e in records.entities}
    assert {eid: e.type for eid, e in by_id.items() if eid.startswith("kgcn:")} == {
        "kgcn:3": "Place",
        "kgcn:4": "Genre",
        "kgcn:5": "Film",
        "kgcn:6": "Instrument",
        "kgcn:7": "Game",
        "kgcn:8": "Album",
    }
    assert by_id["kgcn:4"].name == "Genre kgcn:4"
    assert dict(by_id["kgcn:4"].properties) == {"kgcn_entity": 4, "named": False}
    assert "kgcn:1" not in by_id  # an item is its artist, also when it is the tail of a triple
    key = next(r for r in records.relations if r.properties.get("freebase_predicate") == "type.object.key")
    assert (key.head, key.type, key.tail) == ("lastfm:artist:1", "KEY", "lastfm:artist:2")


def test_the_sixty_freebase_predicates_get_sixty_readable_relation_types():
    names = freebase_relation_types(FREEBASE_TAIL_TYPES)
    assert len(FREEBASE_TAIL_TYPES) == 60 and len(set(names.values())) == 60
    assert names["music.artist.origin"] == "ORIGIN"
    assert names["music.musician.instruments_played"] == "INSTRUMENTS_PLAYED"
    assert names["film.actor.film"] == "ACTOR_FILM"  # eleven predicates end in "film"
    assert names["games.publisher.games_published"] == "GAMES_PUBLISHER_GAMES_PUBLISHED"
    assert names["cvg.publisher.games_published"] == "CVG_PUBLISHER_GAMES_PUBLISHED"


def test_relation_type_names_do_not_depend_on_which_predicates_are_loaded():
    assert freebase_relation_types(["film.actor.film"]) == {"film.actor.film": "ACTOR_FILM"}
    assert freebase_relation_types(["music.album.genre"]) == {"music.album.genre": "ALBUM_GENRE"}


def test_an_unknown_predicate_gets_a_name_that_collides_with_no_known_one():
    names = freebase_relation_types(["music.artist.origin", "book.author.origin"])
    assert names == {"music.artist.origin": "ORIGIN", "book.author.origin": "AUTHOR_ORIGIN"}


def test_tail_type_is_the_majority_of_incoming_predicates():
    assert infer_tail_entity_type(["music.artist.origin", "people.person.place_of_birth", "film.actor.film"]) == "Place"
    assert infer_tail_entity_type(["type.object.key"]) == "Entity"
    assert infer_tail_entity_type(["some.unknown.predicate"]) == "Entity"
    assert infer_tail_entity_type(["type.object.key", "music.artist.genre"]) == "Genre"
    # A tie goes to the type listed first in the table (Person rows come before Work rows).
    assert infer_tail_entity_type(["tv.actor.starring_roles", "tv.program.regular_cast"]) == "Person"


# --- malformed input ---------------------------------------------------------------------------

MALFORMED = [
    pytest.param(
        "lastfm-kgcn/user_artists.dat", 3, "10\t2", "expected 3 tab-separated columns", id="wrong-column-count"
    ),
    pytest.param("lastfm-kgcn/user_artists.dat", 4, "11\tx2\t7", "'artistID' must be an integer", id="non-integer-id"),
    pytest.param(
        "lastfm-kgcn/user_artists.dat",
        2,
        "10\t1\t-100",
        "play count (weight) must not be negative",
        id="negative-play-count",
    ),
    pytest.param(
        "lastfm-kgcn/user_artists.dat",
        5,
        "11\t42\t3",
        "artist id 42 is not in lastfm-hetrec/artists.dat",
        id="unknown-artist-listened",
    ),
    pytest.param(
        "lastfm-kgcn/user_artists.dat",
        6,
        "10\t1\t9",
        "duplicate (user 10, artist 1) pair (first seen on line 2)",
        id="duplicate-listen",
    ),
    pytest.param("lastfm-kgcn/user_artists.dat", 1, "user\tartist\tweight", "expected the header", id="wrong-header"),
    pytest.param(
        "lastfm-kgcn/item_index2entity_id.txt",
        2,
        "77\t1",
        "artist id 77 is not in lastfm-hetrec/artists.dat",
        id="unknown-item-artist",
    ),
    pytest.param(
        "lastfm-kgcn/item_index2entity_id.txt",
        3,
        "3\t1",
        "duplicate entity id 1 (first seen on line 2)",
        id="duplicate-item-entity",
    ),
    pytest.param("lastfm-kgcn/kg.txt", 4, "2\tfilm.actor.film", "expected 3 tab-separated columns", id="kg-short-row"),
    pytest.param(
        "lastfm-kgcn/kg.txt", 7, "0\ttype object key\t1", "is not a Freebase predicate", id="kg-bad-predicate"
    ),
    pytest.param(
        "lastfm-kgcn/kg.txt", 1, "zero\tmusic.artist.origin\t3", "'head' must be an integer", id="kg-non-integer-head"
    ),
    pytest.param(
        "lastfm-hetrec/artists.dat",
        3,
        "2\t\thttp://www.last.fm/music/x\t",
        "column 'name' is empty",
        id="empty-artist-name",
    ),
    pytest.param(
        "lastfm-hetrec/artists.dat",
        5,
        "1\tBjörk again\t\t",
        "duplicate artist id 1 (first seen on line 2)",
        id="duplicate-artist",
    ),
    pytest.param("lastfm-hetrec/tags.dat", 3, "2", "expected 2 tab-separated columns", id="tag-short-row"),
    pytest.param(
        "lastfm-hetrec/tags.dat", 4, "3\tdie \x00rzte", "column 'tagValue' contains a NUL character", id="nul-in-tag"
    ),
    pytest.param(
        "lastfm-hetrec/user_taggedartists.dat",
        3,
        "11\t1\t99\t15\t5\t2010",
        "tag id 99 is not in lastfm-hetrec/tags.dat",
        id="unknown-tag",
    ),
    pytest.param(
        "lastfm-hetrec/user_taggedartists.dat", 5, "10\t2\t3\t30\t2\t2008", "is not a date", id="impossible-date"
    ),
    pytest.param(
        "lastfm-hetrec/user_friends.dat", 4, "10\t10", "user 10 is listed as their own friend", id="self-friendship"
    ),
    pytest.param(
        "lastfm-hetrec/user_friends.dat", 2, "10\t1.5", "'friendID' must be an integer", id="non-integer-friend"
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("relative, line_no, text, message", MALFORMED)
def test_malformed_row_names_file_and_line_and_writes_nothing(data_dir, sql_store, relative, line_no, text, message):
    replace_line(data_dir / relative, line_no, text)
    with pytest.raises(DataFileError) as caught:
        lastfm_load(data_dir=data_dir, store=sql_store, progress=False)
    error = caught.value
    assert error.path == str(data_dir / relative) and error.line == line_no
    assert message in error.message
    assert f"{relative}:{line_no}: " in str(error)
    assert set(catalog_counts().values()) == {0}
    assert sql_store.stats().entities == 0 and sql_store.stats().relations == 0


@pytest.mark.django_db
def test_invalid_utf8_names_its_line(data_dir, sql_store):
    path = data_dir / "lastfm-hetrec" / "tags.dat"
    path.write_bytes(path.read_bytes().replace("tropicália".encode(), "tropicália".encode("latin-1")))
    with pytest.raises(DataFileError, match=r"tags\.dat:3: .*not valid UTF-8"):
        lastfm_load(data_dir=data_dir, store=sql_store, progress=False)


@pytest.mark.django_db
def test_missing_file_is_named(data_dir, sql_store):
    (data_dir / "lastfm-kgcn" / "kg.txt").unlink()
    with pytest.raises(DataFileError, match=r"kg\.txt: expected the data file here but it does not exist") as caught:
        lastfm_load(data_dir=data_dir, store=sql_store, progress=False)
    assert caught.value.line is None
    assert set(catalog_counts().values()) == {0}


@pytest.mark.django_db
@pytest.mark.parametrize("relative", ["lastfm-kgcn/kg.txt", "lastfm-hetrec/user_friends.dat"])
def test_file_without_data_rows_is_an_error(data_dir, sql_store, relative):
    path = data_dir / relative
    path.write_text("userID\tfriendID\n" if relative.endswith(".dat") else "\n")
    with pytest.raises(DataFileError, match="the file has no data rows") as caught:
        lastfm_load(data_dir=data_dir, store=sql_store, progress=False)
    assert caught.value.path == str(path)
    assert set(catalog_counts().values()) == {0}


@pytest.mark.django_db
def test_missing_data_directory_says_what_to_pass(tmp_path, sql_store):
    with pytest.raises(DataFileError, match="the data directory does not exist; pass --data-dir"):
        lastfm_load(data_dir=tmp_path / "nowhere", store=sql_store, progress=False)


@pytest.mark.django_db
def test_missing_subfolder_is_named(data_dir, sql_store):
    shutil.rmtree(data_dir / "lastfm-hetrec")
    with pytest.raises(DataFileError, match=r"lastfm-hetrec: missing folder"):
        lastfm_load(data_dir=data_dir, store=sql_store, progress=False)


# --- writes on both backends -------------------------------------------------------------------


@pytest.mark.django_db
def test_fixture_load_writes_catalog_and_graph(graph_store):
    report = lastfm_load(data_dir=FIXTURE_DIR, store=graph_store, progress=False)

    assert catalog_counts() == {"Artist": 5, "Listener": 3, "Listen": 6, "Tag": 4, "TagAssignment": 5, "Friendship": 4}
    assert sorted(Artist.objects.filter(kgcn_entity__isnull=False).values_list("lastfm_id", flat=True)) == [1, 2, 3]
    diary = Artist.objects.get(lastfm_id=4)
    assert (diary.name, diary.entity_id, diary.kgcn_entity) == ("Diary of Dreams", "lastfm:artist:4", None)
    bjork = Artist.objects.get(lastfm_id=1)
    assert (bjork.name, bjork.entity_id, bjork.kgcn_entity) == ("Björk", "lastfm:artist:1", 0)
    assert bjork.picture_url == "http://userserve-ak.last.fm/serve/252/1.jpg"
    assert Listen.objects.get(listener__lastfm_id=10, artist__lastfm_id=1).play_count == 100
    assert str(TagAssignment.objects.get(tag__lastfm_id=3).tagged_on) == "2008-02-29"
    assert Tag.objects.get(lastfm_id=3).entity_id == "lastfm:tag:3"

    stats = graph_store.stats()
    assert stats.entities_by_type == {
        "Artist": 5,
        "Place": 1,
        "Genre": 1,
        "Film": 1,
        "Instrument": 1,
        "Game": 1,
        "Album": 1,
        "Tag": 4,
    }
    assert stats.relations == 14 and stats.relations_by_type["HAS_TAG"] == 4
    assert len(stats.relations_by_type) == 11  # 10 KGCN relation types + HAS_TAG

    artist = graph_store.get_entity("lastfm:artist:1")
    assert (artist.type, artist.name, artist.aliases) == ("Artist", "Björk", ())
    assert dict(artist.properties) == {"lastfm_id": 1, "kgcn_entity": 0, "url": "http://www.last.fm/music/Bj%C3%B6rk"}
    place = graph_store.get_entity("kgcn:3")
    assert (place.type, place.name, dict(place.properties)) == (
        "Place",
        "Place kgcn:3",
        {"kgcn_entity": 3, "named": False},
    )
    assert graph_store.get_entity("lastfm:tag:2").name == "tropicália"
    assert dict(graph_store.get_entity("lastfm:artist:4").properties) == {
        "lastfm_id": 4,
        "url": "http://www.last.fm/music/Diary+of+Dreams",
    }

    origin = graph_store.get_relation("lastfm:artist:1", "ORIGIN", "kgcn:3")
    assert (origin.source, origin.confidence) == ("lastfm-kgcn", 1.0)
    assert dict(origin.properties) == {"freebase_predicate": "music.artist.origin"}
    has_tag = graph_store.get_relation("lastfm:artist:1", "HAS_TAG", "lastfm:tag:1")
    assert (has_tag.source, dict(has_tag.properties)) == ("lastfm-hetrec", {"count": 2})
    assert dict(graph_store.get_relation("lastfm:artist:1", "HAS_TAG", "lastfm:tag:2").properties) == {"count": 1}

    counts = report.counts
    assert (counts.users, counts.artists, counts.listens, counts.tags, counts.tag_assignments, counts.friendships) == (
        3,
        5,
        6,
        4,
        5,
        4,
    )
    assert (counts.kgcn_entities, counts.kgcn_triples, counts.kgcn_relation_types, counts.tag_relations) == (
        9,
        10,
        10,
        4,
    )
    assert counts.skipped_tag_assignments == 1 and counts.entities_by_type["Artist"] == 5
    kgcn = report.kgcn
    assert (kgcn.users, kgcn.artists, kgcn.listens, kgcn.tags, kgcn.tag_assignments, kgcn.friendships) == (
        2,
        3,
        3,
        3,
        3,
        2,
    )
    assert (kgcn.kgcn_entities, kgcn.kgcn_triples, kgcn.kgcn_relation_types, kgcn.tag_relations) == (9, 10, 10, 3)
    assert report.graph.entities.created == 15 and report.graph.relations.created == 14
    assert not report.matches_kgcn


@pytest.mark.django_db
def test_second_run_changes_nothing(graph_store):
    lastfm_load(data_dir=FIXTURE_DIR, store=graph_store, progress=False)
    catalog_before = catalog_counts()
    stats_before = graph_store.stats()
    stamp = Listen.objects.get(listener__lastfm_id=10, artist__lastfm_id=1).updated_at
    entity_stamp = graph_store.get_entity("kgcn:5").updated_at

    again = lastfm_load(data_dir=FIXTURE_DIR, store=graph_store, progress=False)

    assert (again.created, again.updated) == (0, 0)
    assert again.graph.entities.unchanged == 15 and again.graph.relations.unchanged == 14
    assert all(result.unchanged > 0 for result in again.catalog.values())
    assert catalog_counts() == catalog_before
    assert graph_store.stats() == stats_before
    assert Listen.objects.get(listener__lastfm_id=10, artist__lastfm_id=1).updated_at == stamp
    assert graph_store.get_entity("kgcn:5").updated_at == entity_stamp


@pytest.mark.django_db
def test_rerun_with_corrected_data_updates_only_what_changed(data_dir, sql_store):
    lastfm_load(data_dir=data_dir, store=sql_store, progress=False)
    replace_line(data_dir / "lastfm-kgcn" / "user_artists.dat", 2, "10\t1\t101")
    replace_line(
        data_dir / "lastfm-hetrec" / "artists.dat", 2, "1\tBjörk Guðmundsdóttir\thttp://www.last.fm/music/Bj%C3%B6rk\t"
    )

    report = lastfm_load(data_dir=data_dir, store=sql_store, progress=False)

    assert report.catalog["listens"].updated == 1 and report.catalog["artists"].updated == 1
    assert report.created == 0 and report.updated == 3  # listen, catalog artist, graph artist
    assert Listen.objects.get(listener__lastfm_id=10, artist__lastfm_id=1).play_count == 101
    assert sql_store.get_entity("lastfm:artist:1").name == "Björk Guðmundsdóttir"


@pytest.mark.django_db
def test_bad_file_after_a_good_load_loses_nothing(data_dir, graph_store):
    lastfm_load(data_dir=data_dir, store=graph_store, progress=False)
    catalog_before, stats_before = catalog_counts(), graph_store.stats()
    replace_line(data_dir / "lastfm-kgcn" / "user_artists.dat", 3, "10\t2\t-1")

    with pytest.raises(DataFileError, match=r"user_artists\.dat:3: "):
        lastfm_load(data_dir=data_dir, store=graph_store, progress=False)

    assert catalog_counts() == catalog_before and graph_store.stats() == stats_before
    assert Listen.objects.get(listener__lastfm_id=10, artist__lastfm_id=2).play_count == 50


# --- the management command --------------------------------------------------------------------


@pytest.mark.django_db
def test_command_loads_and_prints_counts(capsys):
    call_command("load_lastfm", data_dir=str(FIXTURE_DIR), backend="sql", no_progress=True)
    out = capsys.readouterr().out
    assert "listening pairs" in out and "KGCN triples" in out and "HAS_TAG" in out
    assert "Does NOT match the published KGCN numbers" in out  # the fixture is tiny
    assert "Skipped 1 tag assignments whose artist id is not in artists.dat" in out
    assert "KGCN benchmark subset" in out and "2 users, 3 artists, 3 listening pairs" in out
    assert Listen.objects.count() == 6

    call_command("load_lastfm", data_dir=str(FIXTURE_DIR), backend="sql", no_progress=True)
    assert "Total: 0 created, 0 updated." in capsys.readouterr().out


@pytest.mark.django_db
def test_command_reports_a_bad_row_in_one_line(data_dir):
    replace_line(data_dir / "lastfm-kgcn" / "kg.txt", 2, "1\tpeople.person.place_of_birth")
    with pytest.raises(CommandError) as caught:
        call_command("load_lastfm", data_dir=str(data_dir), backend="sql", no_progress=True)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("[E006] ") and "kg.txt:2: expected 3 tab-separated columns" in message
    assert Artist.objects.count() == 0


@pytest.mark.django_db
def test_command_reports_a_missing_data_directory(tmp_path):
    with pytest.raises(CommandError, match="data directory does not exist"):
        call_command("load_lastfm", data_dir=str(tmp_path / "missing"), backend="sql", no_progress=True)


@pytest.mark.django_db
def test_command_rejects_an_unknown_backend():
    with pytest.raises(CommandError, match=r"\[E002\] Unknown knowledge-graph backend 'oracle'"):
        call_command("load_lastfm", data_dir=str(FIXTURE_DIR), backend="oracle", no_progress=True)
    assert Artist.objects.count() == 0


# --- the real data -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_full_lastfm_load_reproduces_the_published_kgcn_numbers(sql_store):
    data_dir = Path(settings.LEITMOTIF_DATA_DIR)
    assert LastfmPaths.in_data_dir(data_dir).kg_triples.is_file(), f"real data missing under {data_dir}"

    report = lastfm_load(data_dir=data_dir, store=sql_store, progress=False)

    assert report.matches_kgcn, report.kgcn_comparison()
    # The catalogue holds every HetRec artist, user, listen, tag and friendship ...
    assert Listener.objects.count() == 1_892
    assert Artist.objects.count() == 17_632 and Listen.objects.count() == 92_834
    assert TagAssignment.objects.count() == 186_478 - 1_538 and report.counts.skipped_tag_assignments == 1_538
    assert Friendship.objects.count() == 25_434
    # ... and marks the KGCN items, whose listens are the published population.
    assert Artist.objects.filter(kgcn_entity__isnull=False).count() == KGCN_PUBLISHED_COUNTS["artists"] == 3_846
    linked = Listen.objects.filter(artist__kgcn_entity__isnull=False)
    assert linked.count() == 21_173 and linked.values("listener").distinct().count() == 1_872
    stats = sql_store.stats()
    kgcn_types = {t: n for t, n in stats.relations_by_type.items() if t != "HAS_TAG"}
    assert len(kgcn_types) == 60 and sum(kgcn_types.values()) == 15_518
    assert stats.entities_by_type["Artist"] == 17_632
    assert stats.entities - stats.entities_by_type["Tag"] - (17_632 - 3_846) == 9_366
    assert stats.relations_by_type["HAS_TAG"] == report.counts.tag_relations
    assert Tag.objects.count() == stats.entities_by_type["Tag"] == report.counts.tags == 11_946
    chopin = Artist.objects.get(lastfm_id=1112)
    assert (chopin.name, chopin.kgcn_entity) == ("Frédéric Chopin", None)
    assert sql_store.neighbours(chopin.entity_id, direction="out", relation_types=["HAS_TAG"])
    # Training and the offline protocols see exactly the KGCN population, as before the full catalogue.
    dataset = InteractionDataset.from_catalog(store=sql_store)
    assert (len(dataset.user_ids), len(dataset.item_ids), dataset.matrix.nnz) == (1_872, 3_846, 21_173)
    assert dataset.side_info is not None and dataset.side_info.item_tags.nnz == 27_017


@pytest.mark.django_db
def test_conflict_with_existing_catalog_rows_is_reported_and_rolled_back(sql_store):
    Artist.objects.create(lastfm_id=999, name="Someone else", entity_id="lastfm:artist:999", kgcn_entity=0)
    with pytest.raises(DataFileError, match="conflicts with rows already in the catalog"):
        lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False)
    assert catalog_counts() == {"Artist": 1, "Listener": 0, "Listen": 0, "Tag": 0, "TagAssignment": 0, "Friendship": 0}
    assert sql_store.stats().entities == 0


@pytest.mark.django_db
def test_unreachable_graph_store_fails_before_the_catalog_is_touched():
    from kg.stores.neo4j import Neo4jGraphStore

    with Neo4jGraphStore(uri="bolt://127.0.0.1:9", user="neo4j", password="wrong", connection_timeout=2.0) as down:
        with pytest.raises(StoreUnavailableError):
            lastfm_load(data_dir=FIXTURE_DIR, store=down, progress=False)
    assert set(catalog_counts().values()) == {0}
