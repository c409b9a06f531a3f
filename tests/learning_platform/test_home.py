"""The welcome page ``/`` (visitors and learners) and the curators' data dashboard ``/dashboard/``.

The two dashboard tests were the home page's tests before the counts moved to ``/dashboard/``: same
assertions, now asked of the dashboard by a staff account.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.services import CURATOR_GROUP
from catalog.models import Artist, Course
from kg.stores import EntityRecord, RelationRecord
from recommender.serving.services import learner_listener


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_user(username="cora", password="x", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def learner_client(client, db):
    user = get_user_model().objects.create_user(username="ada", password="x")
    learner_listener(user)
    client.force_login(user)
    return client


# --- the data dashboard -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_shows_counts_per_entity_and_relation_type(staff_client, sql_store, settings):
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
    response = staff_client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td>Tag</td><td class="num">2</td>' in html
    assert '<td>Artist</td><td class="num">1</td>' in html
    assert '<td>HAS_TAG</td><td class="num">2</td>' in html
    assert reverse("admin:index") in html


@pytest.mark.django_db
def test_home_explains_an_unreachable_neo4j_instead_of_failing(staff_client, settings):
    settings.KG_BACKEND = "neo4j"
    settings.NEO4J_URI = "bolt://127.0.0.1:1"
    response = staff_client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The graph store is unavailable" in html
    assert "bolt://127.0.0.1:1" in html


@pytest.mark.django_db
def test_a_curator_without_staff_status_sees_the_dashboard(client, settings):
    settings.KG_BACKEND = "sql"
    user = get_user_model().objects.create_user(username="cur", password="x")
    user.groups.add(Group.objects.get_or_create(name=CURATOR_GROUP)[0])
    client.force_login(user)
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.django_db
def test_learners_get_a_403_page_and_visitors_the_login(client, learner_client, settings):
    settings.KG_BACKEND = "sql"
    response = learner_client.get(reverse("dashboard"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "For curators only" in html and "Entities by type" not in html
    learner_client.logout()
    anonymous = client.get(reverse("dashboard"))
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("learn:login"))


# --- the welcome page -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_visitors_get_a_welcome_with_the_way_in_and_no_data_dashboard(client, settings):
    settings.KG_BACKEND = "sql"
    Artist.objects.create(lastfm_id=1, name="Muddy Waters", entity_id="lastfm:artist:1")
    Course.objects.create(title="Blues Guitar", entity_id="udemy:course:1", level="beginner")
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Learn music through the music you love" in html
    assert f'href="{reverse("learn:signup")}"' in html and f'href="{reverse("learn:login")}"' in html
    assert "1 artist and 1 course to explore" in html
    for dashboard_text in ("Entities by type", "Relations by type", "Knowledge-graph backend", "HAS_TAG"):
        assert dashboard_text not in html
    assert reverse("admin:index") not in html and reverse("dashboard") not in html


@pytest.mark.django_db
def test_learners_are_welcomed_back_with_where_to_continue(learner_client, settings):
    settings.KG_BACKEND = "sql"
    html = learner_client.get(reverse("home")).content.decode()
    assert "Welcome back, ada" in html
    for name in ("learn:for_you", "curriculum:my_learning", "learn:ask", "learn:onboarding"):
        assert f'href="{reverse(name)}"' in html
    assert "Entities by type" not in html
    # a learner's navigation has no curator links
    assert "Curator admin" not in html and reverse("admin:index") not in html and reverse("dashboard") not in html


@pytest.mark.django_db
def test_staff_see_the_dashboard_and_admin_links(staff_client, settings):
    settings.KG_BACKEND = "sql"
    html = staff_client.get(reverse("home")).content.decode()
    assert f'href="{reverse("dashboard")}"' in html and f'href="{reverse("admin:index")}"' in html
    assert "Curator admin" in html
