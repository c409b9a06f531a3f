"""Artists named like request words: the full HetRec catalogue has acts called "Beginner" and "Electronic".

A phrase made only of request words ("a beginner") keeps its lexicon reading, and a word that is also a
genre tag reads as the genre unless the artist is a reference artist (the KGCN-linked ones the service
passes), as a well-known band's name ("pink floyd") still reads as the band.
"""

from __future__ import annotations

import pytest

from ingestion.linking import EntityLinker
from kg.stores import EntityRecord
from recommender.understanding.parse import RequestParser

ELECTRONIC_TAG = "lastfm:tag:18"
ELECTRONIC_BAND = "lastfm:artist:9001"
BEGINNER_BAND = "lastfm:artist:9002"
PINK_FLOYD = "lastfm:artist:163"


@pytest.fixture
def parser(sql_store):
    sql_store.upsert_entities(
        [
            EntityRecord(id=ELECTRONIC_TAG, type="Tag", name="electronic"),
            EntityRecord(id="lastfm:tag:19", type="Tag", name="pink floyd"),
            EntityRecord(id=ELECTRONIC_BAND, type="Artist", name="Electronic"),
            EntityRecord(id=BEGINNER_BAND, type="Artist", name="Beginner"),
            EntityRecord(id=PINK_FLOYD, type="Artist", name="Pink Floyd"),
        ]
    )
    return RequestParser(ner=None, linker=EntityLinker(sql_store), reference_artists=lambda: frozenset({PINK_FLOYD}))


def _read(parser: RequestParser, text: str) -> set[tuple[str, str]]:
    return {(u.role, u.value) for u in parser.parse(text).understood}


@pytest.mark.django_db
def test_a_genre_word_is_the_genre_not_an_obscure_act_of_that_name(parser):
    read = _read(parser, "electronic music")
    assert ("genre", ELECTRONIC_TAG) in read and ("artist", ELECTRONIC_BAND) not in read


@pytest.mark.django_db
def test_a_level_phrase_is_the_level_not_an_act_called_beginner(parser):
    read = _read(parser, "guitar songs for a beginner")
    assert ("level", "Beginner") in read and ("artist", BEGINNER_BAND) not in read


@pytest.mark.django_db
def test_a_reference_band_still_outranks_the_tag_of_its_name(parser):
    assert ("artist", PINK_FLOYD) in _read(parser, "pink floyd")


@pytest.mark.django_db
def test_without_reference_artists_every_artist_outranks_a_tag_as_before(sql_store, parser):
    plain = RequestParser(ner=None, linker=EntityLinker(sql_store))
    assert ("artist", ELECTRONIC_BAND) in _read(plain, "electronic music")
