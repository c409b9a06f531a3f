"""``GET /api/v1/entities/?q=``: the store's matches re-ranked for a person, then by listeners.

The store ranks exact, prefix, word start, substring (ties by name), which with the whole HetRec
catalogue puts "Mozart Season" before Wolfgang Amadeus Mozart and "Bachelor Girl" before Johann
Sebastian Bach. The API re-ranks with :func:`kg.stores.search_match_rank` (the query as whole words of
a name right after an exact match) and breaks ties by the artist's listeners in the catalog. Runs on the
tiny API catalog (``tests/helpers/api_catalog.py``) plus a few artists added here.
"""

from __future__ import annotations

import pytest

from catalog.models import Artist, Listen, Listener
from kg.api import views
from kg.stores import EntityRecord
from tests.helpers.recommender_api import assert_envelope

pytestmark = [pytest.mark.usefixtures("api_settings"), pytest.mark.django_db]

#: name -> Last.FM listeners in the catalog. "Mozart Season" and "Camper Van Beethoven" hold the query as a
#: whole word too, so the composers' listeners decide; "Bachelor Girl" and "Jacques Offenbach" only start or
#: contain it, and lose however popular they are.
ARTISTS = {
    "Wolfgang Amadeus Mozart": 5,
    "Mozart Season": 1,
    "Ludwig van Beethoven": 6,
    "Camper Van Beethoven": 2,
    "Johann Sebastian Bach": 7,
    "Sebastian Bach": 3,
    "Bachelor Girl": 12,
    "Jacques Offenbach": 10,
}


@pytest.fixture
def composers(catalog, sql_store):
    listeners = [Listener.objects.create(lastfm_id=5000 + i) for i in range(max(ARTISTS.values()))]
    records = []
    for i, (name, count) in enumerate(ARTISTS.items()):
        artist = Artist.objects.create(lastfm_id=900 + i, name=name, entity_id=f"lastfm:artist:{900 + i}")
        Listen.objects.bulk_create(Listen(listener=lr, artist=artist, play_count=1) for lr in listeners[:count])
        records.append(EntityRecord(id=artist.entity_id, type="Artist", name=name))
    # A tag is no artist: it has no listeners and ranks on its match alone.
    records.append(EntityRecord(id="lastfm:tag:900", type="Tag", name="baroque bach"))
    sql_store.upsert_entities(records)


def _names(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return [e["name"] for e in response.json()["results"]]


@pytest.mark.usefixtures("composers")
def test_whole_word_matches_come_first_then_most_listened(as_alice):
    assert _names(as_alice, "/api/v1/entities/?q=mozart") == ["Wolfgang Amadeus Mozart", "Mozart Season"]
    assert _names(as_alice, "/api/v1/entities/?q=beethoven") == ["Ludwig van Beethoven", "Camper Van Beethoven"]
    assert _names(as_alice, "/api/v1/entities/?q=bach&type=Artist") == [
        "Johann Sebastian Bach",  # whole word, 7 listeners
        "Sebastian Bach",  # whole word, 3 listeners
        "Bachelor Girl",  # prefix, however popular
        "Jacques Offenbach",  # inside a word
    ]
    # Without a type filter the tag ranks by its match (whole word) and, with no listeners, after the artists.
    assert _names(as_alice, "/api/v1/entities/?q=bach") == [
        "Johann Sebastian Bach",
        "Sebastian Bach",
        "baroque bach",
        "Bachelor Girl",
        "Jacques Offenbach",
    ]


@pytest.mark.usefixtures("composers")
def test_exact_match_still_comes_first_and_accents_are_ignored(as_alice, sql_store):
    sql_store.upsert_entities([EntityRecord(id="t:bach", type="Person", name="BÁCH")])
    assert _names(as_alice, "/api/v1/entities/?q=bach")[0] == "BÁCH"


@pytest.mark.usefixtures("composers")
def test_pagination_walks_the_ranked_list(as_alice):
    first = as_alice.get("/api/v1/entities/?q=bach&type=Artist&page_size=2").json()
    assert first["count"] == 4
    assert [e["name"] for e in first["results"]] == ["Johann Sebastian Bach", "Sebastian Bach"]
    assert first["next"]
    second = as_alice.get(first["next"]).json()
    assert [e["name"] for e in second["results"]] == ["Bachelor Girl", "Jacques Offenbach"]
    assert second["next"] is None


@pytest.mark.usefixtures("composers")
@pytest.mark.parametrize(
    "url,status,mentions",
    [
        ("/api/v1/entities/?q=", 400, ("blank",)),
        ("/api/v1/entities/?q=bach&type=Wizard", 400, ("Wizard",)),
        ("/api/v1/entities/?q=bach&type=Artist&page=9", 404, ()),
    ],
)
def test_errors_keep_the_envelope(as_alice, url, status, mentions):
    assert_envelope(as_alice.get(url), status, mentions=mentions)


@pytest.mark.usefixtures("composers")
def test_candidates_read_from_the_store_are_bounded(as_alice, monkeypatch, sql_store):
    """The store is asked for a bounded number of candidates; at most MAX_SEARCH_RESULTS are ranked out."""
    limits: list[int] = []
    search = type(sql_store).search_entities

    def spy(self, query, *, types=None, limit=20):
        limits.append(limit)
        return search(self, query, types=types, limit=limit)

    monkeypatch.setattr(type(sql_store), "search_entities", spy)
    monkeypatch.setattr(views, "MAX_SEARCH_RESULTS", 2)
    monkeypatch.setattr(views, "SEARCH_CANDIDATES", 4)
    body = as_alice.get("/api/v1/entities/?q=bach&page_size=50").json()
    assert limits == [4]
    assert body["count"] == 2
    assert [e["name"] for e in body["results"]] == ["Johann Sebastian Bach", "Sebastian Bach"]
