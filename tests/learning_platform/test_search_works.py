"""Works on the learner search page: found by title or composer, ranked like the rest, linked with their instruments.

Catalogue rows and graph entities written directly (no rendering): a Bach chorale and organ fugue, Villa-Lobos'
"Bachianas Brasileiras" (the query only starts a word of its title), a Chopin mazurka, and a Dvořák work whose
composer the catalogue spells with accents, so only the graph's accent-free search finds it for "dvorak".
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from catalog.models import Work
from kg.stores import EntityRecord
from learning_platform.learn import selectors
from learning_platform.learn.pieces import WorkLink

# (slug, title, composer, instrumentation)
WORKS = [
    ("bach-bwv1-6", "Wie schön leuchtet der Morgenstern", "Johann Sebastian Bach", ["soprano", "organ"]),
    ("bach-bwv578", "Fugue in G minor", "Johann Sebastian Bach", ["organ"]),
    ("villa-lobos-bachianas-5", "Bachianas Brasileiras No. 5", "Heitor Villa-Lobos", ["soprano", "cello"]),
    ("chopin-mazurka-7-2", "Mazurka in A minor", "Frédéric Chopin", ["piano"]),
    ("dvorak-humoresque", "Humoresque", "Antonín Dvořák", ["violin", "piano"]),
]


@pytest.fixture
def works(sql_store, settings):
    settings.KG_BACKEND = "sql"
    cache.clear()
    rows = {}
    for slug, title, composer, instruments in WORKS:
        rows[slug] = Work.objects.create(
            slug=slug,
            title=title,
            composer_name=composer,
            instrumentation=instruments,
            corpus_path=f"{slug}.mxl",
            entity_id=f"leitmotif:work:{slug}",
        )
    sql_store.upsert_entities(
        [EntityRecord(id=w.entity_id, type="Work", name=w.title) for w in rows.values()]
        + [
            EntityRecord(id="leitmotif:person:antonin-dvorak", type="Person", name="Antonín Dvořák"),
            EntityRecord(id="leitmotif:person:js-bach", type="Person", name="Johann Sebastian Bach"),
        ]
    )
    yield rows
    cache.clear()


def _titles(results: selectors.SearchResults) -> list[str]:
    return [w.title for w in results.works]


@pytest.mark.django_db
def test_works_found_by_composer_rank_before_a_title_that_only_starts_with_the_query(works, sql_store):
    results = selectors.catalog_search("bach", store=sql_store)
    # Bach's works (the query is a whole word of the composer's name), by title; then the title prefix match.
    assert _titles(results) == ["Fugue in G minor", "Wie schön leuchtet der Morgenstern", "Bachianas Brasileiras No. 5"]
    fugue = results.works[0]
    assert isinstance(fugue, WorkLink)
    assert fugue.url == reverse("learn:work", args=[works["bach-bwv578"].pk])
    assert fugue.composer == "Johann Sebastian Bach" and fugue.instruments == ("Organ",)
    assert not results.empty


@pytest.mark.django_db
def test_works_found_by_title_and_by_accent_free_composer(works, sql_store):
    assert _titles(selectors.catalog_search("mazurka", store=sql_store)) == ["Mazurka in A minor"]
    assert _titles(selectors.catalog_search("humor", store=sql_store)) == ["Humoresque"]
    # SQL's icontains does not fold "ř": the graph's Person match finds the composer's works.
    assert _titles(selectors.catalog_search("dvorak", store=sql_store)) == ["Humoresque"]
    assert _titles(selectors.catalog_search("chopin", store=sql_store)) == ["Mazurka in A minor"]


@pytest.mark.django_db
def test_a_title_match_outranks_a_composer_match_of_the_same_rank(works, sql_store):
    Work.objects.create(
        slug="x-chopin-variations",
        title="Variations on a theme of Chopin",
        composer_name="Sergei Rachmaninoff",
        instrumentation=["piano"],
        corpus_path="x.mxl",
        entity_id="leitmotif:work:x-chopin-variations",
    )
    titles = _titles(selectors.catalog_search("chopin", store=sql_store))
    assert titles == ["Variations on a theme of Chopin", "Mazurka in A minor"]


@pytest.mark.django_db
def test_only_works_matching_is_not_empty(works, sql_store):
    results = selectors.catalog_search("humoresque", store=sql_store)
    assert results.works and not (results.artists or results.courses or results.tags)
    assert not results.empty
    assert selectors.SearchResults(query="q").empty
    assert selectors.catalog_search("zzzz", store=sql_store).empty


@pytest.mark.django_db
def test_search_page_shows_a_works_section_linking_to_the_work_with_its_instruments(client, works):
    html = client.get(reverse("learn:search"), {"q": "humoresque"}).content.decode()
    assert 'id="works"' in html and "<h2>Works</h2>" in html
    url = reverse("learn:work", args=[works["dvorak-humoresque"].pk])
    assert f'<a href="{url}">Humoresque</a>' in html
    assert "Antonín Dvořák" in html and "Violin, Piano" in html
    assert "Nothing matches" not in html
    nothing = client.get(reverse("learn:search"), {"q": "zzzz"}).content.decode()
    assert 'id="works"' not in nothing and "Nothing matches" in nothing
