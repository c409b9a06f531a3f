"""The Ask page's "how we understood your request" chips: one chip per mood, not a second one for its tag.

The parser links a mood word ("calm") to the mood (``chill``) and also to the Last.FM tag of the same word
(role ``genre``, source ``lexicon``, the mood's span), which the recommender reads as part of the mood. The
chips show the mood only, and removing it drops the tag as well. The real parser (lexicon and graph names,
no NER model) runs on a tiny graph; the page itself is covered in ``tests/recommender/test_understanding.py``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from ingestion.linking import EntityLinker
from kg.stores import EntityRecord
from learning_platform.learn import selectors
from recommender.understanding import service
from recommender.understanding.parse import ParsedRequest, RequestParser, Understood

CALM_TAG = "lastfm:tag:77"
PIANO = "leitmotif:instrument:piano"


@pytest.fixture
def parser(sql_store, settings, monkeypatch):
    settings.KG_BACKEND = "sql"
    sql_store.upsert_entities(
        [
            EntityRecord(id=CALM_TAG, type="Tag", name="calm"),
            EntityRecord(id="lastfm:tag:78", type="Tag", name="jazz"),
            EntityRecord(id=PIANO, type="Instrument", name="piano"),
        ]
    )
    request_parser = RequestParser(ner=None, linker=EntityLinker(sql_store))
    monkeypatch.setattr(service, "request_parser", lambda: request_parser)
    return request_parser


def _chips(text: str, drop: list[str] | None = None) -> list[selectors.UnderstandingChip]:
    parsed = service.parse_request(text, drop=drop or [])
    return selectors.understanding_chips(parsed, text=text, drop=drop or [], level=None, kind=None)


def _drops(url: str) -> list[str]:
    parts = urlsplit(url)
    assert parts.path == reverse("learn:ask")
    return parse_qs(parts.query).get("drop", [])


@pytest.mark.django_db
def test_the_parser_links_a_mood_word_to_its_tag_as_well(parser):
    parsed = service.parse_request("calm piano music")
    roles = {(u.role, u.value, u.source) for u in parsed.understood if u.text == "calm"}
    assert roles == {("mood", "chill", "lexicon"), ("genre", CALM_TAG, "lexicon")}


@pytest.mark.django_db
def test_one_chip_per_mood_not_a_genre_chip_for_its_tag(parser):
    chips = _chips("calm piano music")
    assert [(c.role, c.name, c.text) for c in chips] == [("mood", "chill", "calm"), ("instrument", "piano", "piano")]


@pytest.mark.django_db
def test_removing_the_mood_drops_its_tag_too(parser):
    mood = next(c for c in _chips("calm piano music") if c.role == "mood")
    drop = _drops(mood.remove_url)
    assert set(drop) == {"chill", CALM_TAG}
    after = service.parse_request("calm piano music", drop=drop)
    assert [(u.role, u.value) for u in after.understood if u.role != "kind"] == [("instrument", PIANO)]
    assert [c.role for c in _chips("calm piano music", drop)] == ["instrument"]
    # The other chips keep what was dropped before and add only their own value.
    piano = _chips("calm piano music", drop)[0]
    assert set(_drops(piano.remove_url)) == {"chill", CALM_TAG, PIANO}


@pytest.mark.django_db
def test_a_genre_of_its_own_keeps_its_chip(parser):
    chips = _chips("calm jazz")
    assert [(c.role, c.name) for c in chips] == [("mood", "chill"), ("genre", "jazz")]
    jazz = chips[1]
    assert _drops(jazz.remove_url) == ["lastfm:tag:78"]


def test_a_genre_on_another_span_or_from_another_source_is_not_folded_in():
    parsed = ParsedRequest(
        text="calm calm",
        understood=[
            Understood("mood", "calm", 0, 4, "chill", "chill", 1.0, "lexicon"),
            Understood("genre", "calm", 0, 4, CALM_TAG, "calm", 0.6, "lexicon"),
            Understood("genre", "calm", 5, 9, CALM_TAG, "calm", 0.9, "gazetteer"),
        ],
    )
    chips = selectors.understanding_chips(parsed, text="calm calm", drop=[], level=None, kind=None)
    assert [(c.role, c.source) for c in chips] == [("mood", "lexicon"), ("genre", "gazetteer")]
