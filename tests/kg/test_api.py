"""The knowledge-graph API (``/api/v1/entities/``): search, one entity, neighbours, and the errors that say what to fix.

Runs on the tiny API catalog (five artists, three tags, two courses, two instruments) with its graph in the
sql store of the test database; the fixtures are in ``tests/kg/conftest.py``. Authentication, throttling and
the schema of the whole API are tested in ``tests/recommender/test_api.py`` and ``tests/api/``.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers.recommender_api import assert_envelope

pytestmark = pytest.mark.usefixtures("api_settings")


# --- knowledge graph ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_entity_search_detail_and_neighbours(as_alice):
    hits = as_alice.get("/api/v1/entities/?q=ja").json()
    assert [e["id"] for e in hits["results"]] == ["lastfm:tag:2", "udemy:course:2"] or {
        e["id"] for e in hits["results"]
    } >= {"lastfm:tag:2"}
    only_tags = as_alice.get("/api/v1/entities/?q=j&type=Tag").json()["results"]
    assert [e["id"] for e in only_tags] == ["lastfm:tag:2"]
    entity = as_alice.get("/api/v1/entities/lastfm:tag:2/").json()
    assert entity == {"id": "lastfm:tag:2", "type": "Tag", "name": "jazz", "aliases": [], "properties": {}}
    incoming = as_alice.get("/api/v1/entities/lastfm:tag:2/neighbours/?direction=in&relation_type=HAS_TAG").json()
    assert {n["entity"]["name"] for n in incoming["results"]} == {"Gamma Jazz", "Delta Jazz"}
    assert all(n["direction"] == "in" and n["relation"]["type"] == "HAS_TAG" for n in incoming["results"])
    both = as_alice.get("/api/v1/entities/lastfm:tag:2/neighbours/?page_size=1").json()
    assert both["count"] == 3 and both["next"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,status,mentions",
    [
        ("/api/v1/entities/", 400, ("?q=",)),
        ("/api/v1/entities/?q=", 400, ("blank",)),
        ("/api/v1/entities/?q=a&type=Wizard", 400, ("Wizard", "Artist, Course")),
        ("/api/v1/entities/?q=a&type=not-a-type", 400, ("capitalised",)),
        ("/api/v1/entities/lastfm:artist:0/", 404, ("lastfm:artist:0", "/api/v1/entities/?q=")),
        ("/api/v1/entities/lastfm:artist:0/neighbours/", 404, ("lastfm:artist:0",)),
        ("/api/v1/entities/lastfm:tag:2/neighbours/?direction=sideways", 400, ("direction", "sideways")),
        ("/api/v1/entities/lastfm:tag:2/neighbours/?relation_type=has_tag", 400, ("upper snake case",)),
        ("/api/v1/entities/lastfm:tag:2/neighbours/?relation_type=MARRIED_TO", 400, ("MARRIED_TO", "HAS_TAG")),
    ],
)
def test_bad_graph_requests_are_explained(as_alice, url, status, mentions):
    assert_envelope(as_alice.get(url), status, mentions=mentions)


def test_graph_routes_keep_their_names_and_urls():
    assert reverse("api:entity-list") == "/api/v1/entities/"
    assert reverse("api:entity-detail", kwargs={"entity_id": "lastfm:tag:2"}) == "/api/v1/entities/lastfm:tag:2/"
    assert (
        reverse("api:entity-neighbours", kwargs={"entity_id": "lastfm:tag:2"})
        == "/api/v1/entities/lastfm:tag:2/neighbours/"
    )


@pytest.mark.django_db
def test_entity_search_finds_words_inside_names_word_starts_first(as_alice, sql_store):
    from kg.stores import EntityRecord

    sql_store.upsert_entities(
        [
            EntityRecord(id="t:offenbach", type="Artist", name="Jacques Offenbach"),
            EntityRecord(id="t:bach", type="Artist", name="Johann Sebastian Bach"),
            EntityRecord(id="t:chopin", type="Artist", name="Frédéric Chopin"),
        ]
    )
    hits = as_alice.get("/api/v1/entities/?q=bach").json()["results"]
    assert [e["name"] for e in hits] == ["Johann Sebastian Bach", "Jacques Offenbach"]
    assert [e["name"] for e in as_alice.get("/api/v1/entities/?q=frederic").json()["results"]] == ["Frédéric Chopin"]
