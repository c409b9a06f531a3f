"""Composers linked to their Last.FM artists (``Person -SAME_AS-> Artist``) from the reviewed table.

No rendering here: the Person and Artist entities are written as the works and Last.FM loaders write
them, so these tests need neither FluidSynth nor the data set (except the table review, which reads
``artists.dat`` when it is there). The full load in both orders is in
``tests/learning_platform/test_works_first_class.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.conf import settings

from audio import works
from audio.works import lastfm_links
from kg.schema import SAME_AS, artist_entity_id
from kg.services import graph_upsert
from kg.stores.base import EntityRecord, RelationRecord

CHOPIN = "leitmotif:person:frederic-chopin"
BACH = "leitmotif:person:johann-sebastian-bach"


def person(person_id: str, name: str) -> EntityRecord:
    return EntityRecord(id=person_id, type="Person", name=name, properties={"occupation": "composer"})


def artist(lastfm_id: int, name: str) -> EntityRecord:
    return EntityRecord(id=artist_entity_id(lastfm_id), type="Artist", name=name)


def same_as(store) -> list[RelationRecord]:
    heads = [head for head in (CHOPIN, BACH) if store.get_entity(head) is not None]
    return [n.relation for head in heads for n in store.neighbours(head, direction="out", relation_types=[SAME_AS])]


# --- the reviewed table ---------------------------------------------------------------------------


def test_every_table_row_is_a_known_composer_with_its_reviewed_name():
    assert set(works.LASTFM_ARTIST_IDS) <= set(works.COMPOSERS)
    assert set(works.LASTFM_ARTIST_IDS.values()) == set(works.tables.LASTFM_ARTIST_NAMES)
    assert len(set(works.LASTFM_ARTIST_IDS.values())) == len(works.LASTFM_ARTIST_IDS)
    assert works.LASTFM_ARTIST_IDS["chopin"] == 1112 and works.LASTFM_ARTIST_IDS["mozart"] == 1121
    assert works.LASTFM_ARTIST_IDS["bach"] == 1123 and works.LASTFM_ARTIST_IDS["beethoven"] == 1130
    assert lastfm_links.composer_person_id("chopin") == CHOPIN


def test_table_ids_name_those_artists_in_the_hetrec_data():
    path = Path(settings.LEITMOTIF_DATA_DIR) / "lastfm-hetrec" / "artists.dat"
    if not path.is_file():
        pytest.skip(f"HetRec artists.dat missing at {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        names = {int(row["id"]): row["name"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)}
    for key, lastfm_id in works.LASTFM_ARTIST_IDS.items():
        assert names.get(lastfm_id) == works.tables.LASTFM_ARTIST_NAMES[lastfm_id], key


# --- the sync ---------------------------------------------------------------------------------------


def test_nothing_is_linked_and_nothing_fails_while_either_end_is_missing(sql_store):
    report = lastfm_links.composer_links_sync(store=sql_store)
    assert report.linked == () and report.written == 0
    assert set(report.missing_composers) == set(works.LASTFM_ARTIST_IDS)
    graph_upsert(store=sql_store, entities=[person(CHOPIN, "Frédéric Chopin")])
    report = lastfm_links.composer_links_sync(store=sql_store)
    assert report.linked == () and report.written == 0 and report.missing_artists == ("chopin",)
    assert same_as(sql_store) == []


@pytest.mark.parametrize("artists_first", [True, False], ids=["lastfm-first", "works-first"])
def test_link_is_made_once_both_ends_exist_in_either_order_and_is_idempotent(sql_store, artists_first):
    composers = [person(CHOPIN, "Frédéric Chopin"), person(BACH, "Johann Sebastian Bach")]
    artists = [artist(1112, "Frédéric Chopin"), artist(1123, "Johann Sebastian Bach"), artist(7117, "Sebastian Bach")]
    first, second = (artists, composers) if artists_first else (composers, artists)
    graph_upsert(store=sql_store, entities=first)
    lastfm_links.composer_links_sync(store=sql_store)
    graph_upsert(store=sql_store, entities=second)
    report = lastfm_links.composer_links_sync(store=sql_store)
    assert report.sync.upserted.relations.created == 2 and sorted(report.linked) == sorted([CHOPIN, BACH])
    links = {(r.head, r.tail): r for r in same_as(sql_store)}
    assert set(links) == {(CHOPIN, "lastfm:artist:1112"), (BACH, "lastfm:artist:1123")}  # never the rock singer
    chopin = links[(CHOPIN, "lastfm:artist:1112")]
    assert chopin.source == lastfm_links.LASTFM_LINK_SOURCE and chopin.confidence == 1.0
    assert chopin.properties["lastfm_artist_id"] == 1112
    again = lastfm_links.composer_links_sync(store=sql_store)
    assert again.written == 0 and again.sync.upserted.relations.unchanged == 2


def test_an_entity_of_another_type_is_never_linked(sql_store):
    graph_upsert(
        store=sql_store,
        entities=[person(CHOPIN, "Frédéric Chopin"), EntityRecord(id="lastfm:artist:1112", type="Tag", name="x")],
    )
    assert lastfm_links.composer_links_sync(store=sql_store).linked == ()


def test_a_changed_table_removes_its_own_stale_link_but_not_a_curators(sql_store, monkeypatch):
    graph_upsert(
        store=sql_store,
        entities=[person(CHOPIN, "Frédéric Chopin"), artist(1112, "Frédéric Chopin"), artist(17988, "Fryderyk Chopin")],
        relations=[RelationRecord(head=CHOPIN, type=SAME_AS, tail="lastfm:artist:17988", source="curator")],
    )
    lastfm_links.composer_links_sync(store=sql_store)
    monkeypatch.setattr(lastfm_links, "LASTFM_ARTIST_IDS", {"chopin": 17988})
    report = lastfm_links.composer_links_sync(store=sql_store)
    assert report.sync.removed_relations == 1
    assert {(r.tail, r.source) for r in same_as(sql_store)} == {
        ("lastfm:artist:17988", lastfm_links.LASTFM_LINK_SOURCE)
    }
