import pytest
from django.urls import reverse

from kg.stores import EntityRecord, RelationRecord


@pytest.mark.django_db
def test_home_shows_counts_per_entity_and_relation_type(client, sql_store, settings):
    settings.KG_BACKEND = "sql"
    sql_store.upsert_entities(
        [
            EntityRecord(id="a:1", type="Artist", name="Radiohead"),
            EntityRecord(id="t:1", type="Tag", name="alternative"),
            EntityRecord(id="t:2", type="Tag", name="rock"),
        ]
    )
    sql_store.upsert_relations(
        [RelationRecord(head="a:1", type="HAS_TAG", tail="t:1"), RelationRecord(head="a:1", type="HAS_TAG", tail="t:2")]
    )
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td>Tag</td><td class="num">2</td>' in html
    assert '<td>Artist</td><td class="num">1</td>' in html
    assert '<td>HAS_TAG</td><td class="num">2</td>' in html
    assert reverse("admin:index") in html


@pytest.mark.django_db
def test_home_explains_an_unreachable_neo4j_instead_of_failing(client, settings):
    settings.KG_BACKEND = "neo4j"
    settings.NEO4J_URI = "bolt://127.0.0.1:1"
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The graph store is unavailable" in html
    assert "bolt://127.0.0.1:1" in html
