"""Finding composers once the catalogue holds every HetRec artist: the learner search page, onboarding, the API.

A small fixture with the real names and listener counts (``artists.dat``, ``user_artists.dat``) of the
artists that compete for "bach", "mozart", "beethoven" and "chopin" in the full catalogue; only
Johann Sebastian Bach and Vladimir Horowitz are KGCN items, as in the real data.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import Artist, Listen, Listener, Tag, TagAssignment
from kg.stores import EntityRecord, RelationRecord
from learning_platform.learn import selectors
from tests.helpers.recommender_api import api_learner_create, token_client

# (lastfm id, name, listeners, KGCN entity or None, tags)
ARTISTS = [
    (1123, "Johann Sebastian Bach", 31, 1, ["classical", "baroque"]),
    (7117, "Sebastian Bach", 4, None, ["hard rock"]),
    (14361, "Carl Philipp Emanuel Bach", 2, None, ["classical"]),
    (5901, "Bachman-Turner Overdrive", 2, None, ["classic rock"]),
    (13155, "Bachelor Girl", 1, None, []),
    (4662, "The Flying Luttenbachers", 1, None, []),
    (1121, "Wolfgang Amadeus Mozart", 28, None, ["classical"]),
    (11462, "Mozart Season", 1, None, []),
    (17758, "Wulfgang Amadeus Mozart", 1, None, []),
    (1130, "Ludwig van Beethoven", 30, None, ["classical"]),
    (7144, "Camper Van Beethoven", 1, None, ["indie"]),
    (1112, "Frédéric Chopin", 19, None, ["classical", "piano"]),
    (17988, "Fryderyk Chopin", 1, None, []),
    (8852, "Vladimir Horowitz", 1, 2, ["piano"]),
]
TAGS = ["classical", "baroque", "hard rock", "classic rock", "indie", "piano", "bach", "beethoven"]


@pytest.fixture
def composers(sql_store, settings):
    settings.KG_BACKEND = "sql"
    listeners = [Listener.objects.create(lastfm_id=n) for n in range(1, 32)]
    tags = {
        name: Tag.objects.create(lastfm_id=i, name=name, entity_id=f"lastfm:tag:{i}") for i, name in enumerate(TAGS, 1)
    }
    artists = {}
    for lastfm_id, name, count, kgcn, artist_tags in ARTISTS:
        artist = Artist.objects.create(
            lastfm_id=lastfm_id, name=name, entity_id=f"lastfm:artist:{lastfm_id}", kgcn_entity=kgcn
        )
        Listen.objects.bulk_create(Listen(listener=li, artist=artist, play_count=10) for li in listeners[:count])
        TagAssignment.objects.bulk_create(
            TagAssignment(listener=listeners[0], artist=artist, tag=tags[t]) for t in artist_tags
        )
        artists[name] = artist
    sql_store.upsert_entities(
        [EntityRecord(id=a.entity_id, type="Artist", name=a.name) for a in artists.values()]
        + [EntityRecord(id=t.entity_id, type="Tag", name=t.name) for t in tags.values()]
    )
    sql_store.upsert_relations(
        [
            RelationRecord(head=artists[name].entity_id, type="HAS_TAG", tail=tags[t].entity_id, source="test")
            for _, name, _, _, artist_tags in ARTISTS
            for t in artist_tags
        ]
    )
    return artists


def artist_names(query: str, store) -> list[str]:
    return [a.name for a in selectors.catalog_search(query, store=store).artists]


@pytest.mark.django_db
def test_search_page_ranks_whole_words_then_listeners(composers, sql_store):
    assert artist_names("bach", sql_store)[:4] == [
        "Johann Sebastian Bach",
        "Sebastian Bach",
        "Carl Philipp Emanuel Bach",
        "Bachman-Turner Overdrive",
    ]
    assert artist_names("bach", sql_store)[-1] == "The Flying Luttenbachers"  # inside a word: last
    assert artist_names("Mozart", sql_store)[0] == "Wolfgang Amadeus Mozart"
    assert artist_names("beethoven", sql_store) == ["Ludwig van Beethoven", "Camper Van Beethoven"]
    assert artist_names("chopin", sql_store) == ["Frédéric Chopin", "Fryderyk Chopin"]
    assert artist_names("Chopin", sql_store) == artist_names("CHOPIN", sql_store)
    assert artist_names("frederic chopin", sql_store) == ["Frédéric Chopin"]  # accents folded
    assert artist_names("Horowitz", sql_store) == ["Vladimir Horowitz"]


@pytest.mark.django_db
def test_search_page_lists_and_links_non_kgcn_artists(composers, client):
    response = client.get(reverse("learn:search"), {"q": "chopin"})
    assert response.status_code == 200
    html = response.content.decode()
    chopin = composers["Frédéric Chopin"]
    assert html.index("Frédéric Chopin") < html.index("Fryderyk Chopin")
    assert reverse("learn:artist", args=[chopin.pk]) in html
    page = client.get(reverse("learn:artist", args=[chopin.pk]))
    assert page.status_code == 200 and "Frédéric Chopin" in page.content.decode()


@pytest.mark.django_db
def test_onboarding_search_offers_non_kgcn_artists_and_says_how_they_count(composers, sql_store):
    found = selectors.interest_candidates_search("chopin", store=sql_store)
    assert [c.name for c in found] == ["Frédéric Chopin", "Fryderyk Chopin"]
    assert found[0].detail == "19 listeners" + selectors.NOT_IN_MODEL_TAGGED
    assert found[1].detail == "1 listener" + selectors.NOT_IN_MODEL_UNTAGGED
    horowitz = selectors.interest_candidates_search("horowitz", store=sql_store)
    assert [(c.name, c.detail) for c in horowitz] == [("Vladimir Horowitz", "1 listener")]  # a KGCN item
    bach = [c.name for c in selectors.interest_candidates_search("bach", store=sql_store)]
    # The tag "bach" matches exactly but no artist carries it (as in the real data): it goes last.
    assert bach[:2] == ["Johann Sebastian Bach", "Sebastian Bach"] and bach[-1] == "bach"
    tags = [c.name for c in selectors.catalog_search("beethoven", store=sql_store).tags]
    assert tags == ["beethoven"]


@pytest.mark.django_db
def test_api_entity_search_finds_the_composers(composers, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    api = token_client(api_learner_create("ada"))

    def names(query: str) -> list[str]:
        response = api.get("/api/v1/entities/", {"q": query, "type": "Artist"})
        assert response.status_code == 200, response.content[:300]
        return [e["name"] for e in response.json()["results"]]

    assert names("chopin")[0] == "Frédéric Chopin"
    assert names("Horowitz") == ["Vladimir Horowitz"]
    bach = names("bach")
    assert bach.index("Johann Sebastian Bach") < bach.index("Sebastian Bach")
    assert "Wolfgang Amadeus Mozart" in names("mozart") and "Ludwig van Beethoven" in names("beethoven")


@pytest.mark.django_db
def test_tag_rules_are_judged_on_the_kgcn_artists_not_the_whole_catalogue(composers, sql_store):
    # A non-KGCN artist called "Electronic" must not turn the genre "electronic" into an artist's name.
    Artist.objects.create(lastfm_id=99999, name="Electronic", entity_id="lastfm:artist:99999")
    tag = Tag.objects.create(lastfm_id=99, name="electronic", entity_id="lastfm:tag:99")
    listener = Listener.objects.get(lastfm_id=1)
    for name in ("Johann Sebastian Bach", "Vladimir Horowitz"):  # the two KGCN items
        TagAssignment.objects.create(listener=listener, artist=composers[name], tag=tag)
    entity = EntityRecord(id=tag.entity_id, type="Tag", name="electronic")
    assert selectors.noise_tag_ids([entity]) == set()
    # Support counts KGCN artists only: "hard rock" is on one (non-KGCN) artist, so it is noise.
    hard_rock = Tag.objects.get(name="hard rock")
    assert selectors.noise_tag_ids([EntityRecord(id=hard_rock.entity_id, type="Tag", name="hard rock")]) == {
        hard_rock.entity_id
    }


@pytest.mark.django_db
def test_onboarding_suggests_the_models_popular_artists(composers, sql_store):
    from django.core.cache import cache

    cache.clear()
    suggested = [c.name for c in selectors.onboarding_suggestions(store=sql_store).artists]
    cache.clear()
    # Mozart (28 listeners) and Beethoven (30) are searchable and pickable, but not KGCN items.
    assert suggested == ["Johann Sebastian Bach", "Vladimir Horowitz"]
