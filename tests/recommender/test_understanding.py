"""Plain-English requests: parsing (lexicon, graph names, corrections), the labelled request sets, and the
``/ask/`` page and ``/api/v1/me/ask/`` endpoint answering with explained recommendations."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from ingestion.linking import EntityLinker
from kg.stores.base import EntityRecord
from recommender.understanding.evaluation import read_labelled_requests, score_requests
from recommender.understanding.parse import MAX_REQUEST_CHARS, RequestParser

DATA = Path(__file__).parent / "data"
#: The catalog, account and ``served`` fixtures of the ``/ask/`` tests come from ``tests/recommender/conftest.py``.
pytestmark = pytest.mark.usefixtures("api_settings")


@pytest.fixture
def small_graph(sql_store):
    sql_store.upsert_entities(
        [
            EntityRecord("lastfm:artist:1", "Artist", "Pink Floyd"),
            EntityRecord("lastfm:artist:2", "Artist", "Boards of Canada"),
            EntityRecord("lastfm:tag:1", "Tag", "pink floyd"),  # a tag about the artist, not a genre
            EntityRecord("lastfm:tag:2", "Tag", "rock"),
            EntityRecord("lastfm:tag:3", "Tag", "heavy metal"),
            EntityRecord("lastfm:tag:4", "Tag", "upbeat"),
            EntityRecord("lastfm:tag:5", "Tag", "blues guitar"),
            EntityRecord("lastfm:tag:6", "Tag", "blues"),
            EntityRecord("leitmotif:instrument:piano", "Instrument", "Piano"),
            EntityRecord("leitmotif:instrument:guitar", "Instrument", "Guitar"),
            EntityRecord("leitmotif:concept:chords", "Concept", "Chords", aliases=("power chords",)),
        ]
    )
    return sql_store


@pytest.fixture
def parser(small_graph):
    return RequestParser(ner=None, linker=EntityLinker(small_graph))


def roles(parsed) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in parsed.understood:
        found.setdefault(item.role, []).append(item.value)
    return found


def test_levels_players_moods_and_concepts_are_understood(parser):
    parsed = parser.parse("upbeat rock for a beginner pianist to practise power chords")
    found = roles(parsed)
    assert found["level"] == ["Beginner"]
    assert found["instrument"] == ["leitmotif:instrument:piano"]
    assert found["mood"] == ["happy"] and parsed.moods == ["happy"]
    assert set(found["genre"]) == {"lastfm:tag:4", "lastfm:tag:2"}  # "upbeat" names a tag too
    assert found["concept"] == ["leitmotif:concept:chords"]
    assert parsed.kind == "music" and parsed.unknown == []


def test_artist_names_win_over_tags_named_after_them_and_longer_phrases_win(parser):
    assert roles(parser.parse("more like pink floyd"))["artist"] == ["lastfm:artist:1"]
    heavy = parser.parse("heavy metal like Boards of Canada")
    assert roles(heavy) == {"genre": ["lastfm:tag:3"], "artist": ["lastfm:artist:2"]}  # not the mood "heavy"
    split = roles(parser.parse("blues guitar lessons"))
    assert split["genre"] == ["lastfm:tag:6"] and split["instrument"] == ["leitmotif:instrument:guitar"]


def test_course_cues_and_kind_rules(parser):
    assert parser.parse("piano lessons").kind == "course"
    assert parser.parse("I'm a beginner drummer").kind == "course"
    assert parser.parse("rock songs").kind == "music"
    assert parser.parse("teach me power chords").kind == "course"


@pytest.mark.parametrize("text", ["", "   ", "xyzzy plugh", "!!! ???", "12345"])
def test_nonsense_and_empty_requests_degrade_gracefully(parser, text):
    parsed = parser.parse(text)
    assert parsed.understood == [] and parsed.kind == "music"
    assert parsed.to_dict()["understood"] == []


def test_long_requests_are_truncated_and_say_so(parser):
    parsed = parser.parse("rock " * 100)
    assert parsed.truncated and len(parsed.text) <= MAX_REQUEST_CHARS


@pytest.mark.django_db
def test_labelled_request_files_are_well_formed():
    for name in ("nl_requests.jsonl", "nl_requests_heldout.jsonl"):
        rows = read_labelled_requests(DATA / name)
        assert rows and all(r.expected["kind"] <= {"music", "course"} for r in rows)
    assert (
        len(read_labelled_requests(DATA / "nl_requests.jsonl"))
        + len(read_labelled_requests(DATA / "nl_requests_heldout.jsonl"))
        >= 50
    )


@pytest.fixture
def real_names_graph(sql_store):
    """The names the labelled requests use, read from the real data files: catalogue artists, every
    Last.FM tag, and the courses loader's instruments and concepts (no relations needed to parse)."""
    from ingestion.loaders.lastfm import read_artists, read_tags
    from kg.schema import (
        CONCEPTS,
        INSTRUMENTS,
        artist_entity_id,
        concept_entity_id,
        instrument_entity_id,
        tag_entity_id,
        term_aliases,
    )

    data = Path(settings.LEITMOTIF_DATA_DIR)
    artists = read_artists(data / "lastfm-hetrec" / "artists.dat")
    catalogue = {
        int(line.split("\t")[0])
        for line in (data / "lastfm-kgcn" / "item_index2entity_id.txt").read_text().split("\n")
        if line.strip()
    }
    records = [EntityRecord(artist_entity_id(i), "Artist", row.name) for i, row in artists.items() if i in catalogue]
    records += [
        EntityRecord(tag_entity_id(i), "Tag", row.name)
        for i, row in read_tags(data / "lastfm-hetrec" / "tags.dat").items()
    ]
    records += [
        EntityRecord(instrument_entity_id(slug), "Instrument", term.name, aliases=term_aliases(term))
        for slug, term in INSTRUMENTS.items()
    ]
    records += [
        EntityRecord(concept_entity_id(slug), "Concept", term.name, aliases=term_aliases(term))
        for slug, term in CONCEPTS.items()
    ]
    sql_store.upsert_entities(records)
    return sql_store


def test_labelled_requests_are_understood_from_lexicon_and_graph_names(real_names_graph):
    """A regression guard on the hand-labelled requests, without the NER model (the benchmark
    ``benchmarks/nl_requests.py`` reports the figures with it)."""
    parser = RequestParser(ner=None, linker=EntityLinker(real_names_graph))
    tuning = score_requests(parser, read_labelled_requests(DATA / "nl_requests.jsonl"))
    heldout = score_requests(parser, read_labelled_requests(DATA / "nl_requests_heldout.jsonl"))
    assert tuning["micro"]["f1"] >= 0.95, tuning["mistakes"]
    assert heldout["micro"]["f1"] >= 0.9, heldout["mistakes"]


# --- answering: page and API --------------------------------------------------------------------


@pytest.fixture
def ask_ready(served, settings):
    from recommender.understanding.service import parser_forget

    parser_forget()
    yield served
    parser_forget()


@pytest.mark.django_db
def test_api_answers_with_understanding_and_explained_lists(ask_ready, as_alice):
    response = as_alice.get("/api/v1/me/ask/", {"q": "something like Alpha Blues for a beginner guitarist"})
    assert response.status_code == 200, response.content
    body = response.json()
    understood = {(u["role"], u["value"]) for u in body["understood"]["understood"]}
    assert ("artist", "lastfm:artist:1") in understood and ("instrument", "leitmotif:instrument:guitar") in understood
    assert body["understood"]["level"] == "Beginner" and body["understood"]["kind"] == "music"
    names = [r["item"]["artist"]["name"] for r in body["music"]]
    assert names and "Alpha Blues" not in names  # "like X" asks for others than X
    assert sum("Blues" in n for n in names[:3]) >= 2, names  # the request steers towards Alpha Blues' neighbourhood
    asked = [r for r in body["music"] if r["explanation"]["sentence"].startswith("You asked for")]
    assert asked, [r["explanation"]["sentence"] for r in body["music"]]
    assert [c["item"]["course"]["title"] for c in body["courses"]][0] == "Blues Guitar for Beginners"


@pytest.mark.django_db
def test_api_corrections_and_unknown_words(ask_ready, as_alice):
    body = as_alice.get(
        "/api/v1/me/ask/",
        {
            "q": "jazz for a beginner pianist blorptastic",
            "drop": "leitmotif:instrument:piano",
            "level": "",
            "kind": "course",
        },
    ).json()
    values = {u["value"] for u in body["understood"]["understood"]}
    assert "leitmotif:instrument:piano" not in values and body["understood"]["level"] is None
    assert body["understood"]["kind"] == "course" and body["understood"]["unknown"] == ["blorptastic"]
    assert any("blorptastic" in note for note in body["notes"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, fragment",
    [
        ({}, "q"),
        ({"q": "x" * (MAX_REQUEST_CHARS + 1)}, "q"),
        ({"q": "rock", "k": "0"}, "k"),
        ({"q": "rock", "kind": "films"}, "kind"),
    ],
)
def test_api_rejects_malformed_queries_with_a_message(ask_ready, as_alice, query, fragment):
    response = as_alice.get("/api/v1/me/ask/", query)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


@pytest.mark.django_db
def test_ask_page_shows_understanding_chips_and_answers(ask_ready, alice, client):
    client.force_login(alice)
    empty = client.get("/ask/")
    assert empty.status_code == 200 and b"For example" in empty.content
    page = client.get("/ask/", {"q": "jazz like Gamma Jazz zzqx"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="understood"' in html and "Gamma Jazz" in html and "Not understood: zzqx" in html
    assert "drop=lastfm%3Aartist%3A3" in html  # each chip links to the request without it
    assert 'id="music"' in html and "You asked for" in html


@pytest.mark.django_db
def test_ask_page_needs_login(client):
    response = client.get("/ask/", {"q": "rock"})
    assert response.status_code == 302 and "/login/" in response["Location"]
