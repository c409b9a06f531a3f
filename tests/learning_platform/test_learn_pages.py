"""The learner pages through Django's test client: every page, form errors, permissions and bad ids.

A tiny real world (two taste groups — blues guitar and classical piano — with artists, tags,
instruments, courses and listeners, in the catalog and in the sql graph store) is built by
:func:`tests.helpers.learner_world.build_world`; the browser test reuses it and adds a trained model.
Recommendations with a model are exercised end to end in ``test_browser.py`` and in :func:`test_for_you_lists_explained_recommendations`.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from catalog.models import Artist, Course, Interaction, Interest, Listen, Listener, Tag, TagAssignment
from kg.stores import EntityRecord, RelationRecord
from learning_platform.learn.graph_picture import PictureInput, layout_neighbourhood, short_label
from learning_platform.learn.selectors import choose_neighbours, path_chips
from recommender.serving.services import learner_listener
from tests.helpers.learner_world import COURSES, GROUPS, PASSWORD, World, build_world, train_and_publish


@pytest.fixture(autouse=True)
def _fresh_caches(settings):
    """Onboarding suggestions and serving's graph snapshot are cached per process; each test builds its own world.

    The fast hasher only keeps password hashing out of the test time (the real ones run in production).
    """
    from recommender.serving.selectors import snapshot_forget

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    snapshot_forget()
    yield
    cache.clear()
    snapshot_forget()


@pytest.fixture
def world(sql_store, settings, tmp_path) -> World:
    settings.KG_BACKEND = "sql"
    # No model is published in this empty artifacts folder unless a test publishes one.
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    return build_world(sql_store, listeners_per_group=3)


@pytest.fixture
def served(world, sql_store, settings):
    """The world with a tiny model trained on it and published."""
    from recommender.serving.model_holder import model_holder

    train_and_publish(world, sql_store, settings.LEITMOTIF_ARTIFACTS_DIR + "/recommender")
    yield world
    model_holder().reset()


@pytest.fixture
def learner(db):
    user = get_user_model().objects.create_user(username="ada", password=PASSWORD)
    learner_listener(user)
    return user


@pytest.fixture
def learner_client(client, learner):
    client.force_login(learner)
    return client


def _text(response) -> str:
    return response.content.decode()


# --- sign-up, log-in, log-out -----------------------------------------------------------------


@pytest.mark.django_db
def test_signup_creates_user_and_listener_logs_in_and_goes_to_onboarding(client, world):
    page = client.get(reverse("learn:signup"))
    assert page.status_code == 200 and "csrfmiddlewaretoken" in _text(page)
    response = client.post(reverse("learn:signup"), {"username": "grace", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("learn:onboarding")
    user = get_user_model().objects.get(username="grace")
    assert Listener.objects.get(user=user).lastfm_id is None
    onboarding = client.get(response.url)
    assert onboarding.status_code == 200
    assert "Welcome, grace" in _text(onboarding)


@pytest.mark.django_db
def test_signup_form_errors_say_what_to_fix_and_create_nothing(client, world):
    response = client.post(
        reverse("learn:signup"), {"username": "grace", "password1": PASSWORD, "password2": "other-pass-99"}
    )
    assert response.status_code == 400
    assert "password fields didn" in _text(response)
    response = client.post(reverse("learn:signup"), {"username": "grace", "password1": "123", "password2": "123"})
    assert response.status_code == 400 and "too short" in _text(response)
    assert not get_user_model().objects.filter(username="grace").exists()
    assert not Listener.objects.filter(user__isnull=False).exists()


@pytest.mark.django_db
def test_signup_refuses_a_taken_username(client, learner):
    response = client.post(reverse("learn:signup"), {"username": "ada", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 400 and "already exists" in _text(response)


@pytest.mark.django_db
def test_login_and_logout(client, learner, world):
    bad = client.post(reverse("learn:login"), {"username": "ada", "password": "wrong"})
    assert bad.status_code == 200 and "did not match" in _text(bad)
    good = client.post(reverse("learn:login"), {"username": "ada", "password": PASSWORD})
    assert good.status_code == 302 and good.url == reverse("learn:for_you")
    home = client.get(reverse("home"))
    assert "ada" in _text(home) and reverse("learn:logout") in _text(home)
    out = client.post(reverse("learn:logout"))
    assert out.status_code == 302
    assert client.get(reverse("learn:history")).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["onboarding", "for_you", "history"])
def test_learner_pages_send_anonymous_visitors_to_login(client, name):
    url = reverse(f"learn:{name}")
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("learn:login")) and "next=" in response.url


@pytest.mark.django_db
def test_posts_need_a_login_and_csrf(client, world, learner):
    artist = world.artists["B.B. King"]
    anonymous = client.post(reverse("learn:interaction"), {"kind": "like", "artist": artist.pk})
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("learn:login"))
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(learner)
    assert strict.post(reverse("learn:interaction"), {"kind": "like", "artist": artist.pk}).status_code == 403
    assert not Interaction.objects.exists()


def test_navigation_links_on_the_home_page(client, db, settings):
    settings.KG_BACKEND = "sql"
    html = _text(client.get(reverse("home")))
    for name in ("for_you", "search", "login", "signup"):
        assert reverse(f"learn:{name}") in html
    assert "learn/learn.css" in html


# --- onboarding -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_onboarding_suggests_popular_artists_tags_and_instruments(learner_client, world):
    html = _text(learner_client.get(reverse("learn:onboarding")))
    assert "Popular artists" in html and "Buddy Guy" in html and "3 listeners" in html
    assert "Popular tags" in html and 'value="lastfm:tag:801"' in html
    assert "Instruments" in html and 'value="leitmotif:instrument:guitar"' in html


@pytest.mark.django_db
def test_onboarding_search_finds_graph_entities_by_prefix(learner_client, world):
    html = _text(learner_client.get(reverse("learn:onboarding"), {"q": "pia"}))
    assert 'value="leitmotif:instrument:piano"' in html and f'value="{world.tags["piano"].entity_id}"' in html
    assert "B.B. King" not in html
    empty = _text(learner_client.get(reverse("learn:onboarding"), {"q": "zzzz"}))
    assert "Nothing in the catalogue matches “zzzz”" in empty and "starts with" not in empty


@pytest.mark.django_db
def test_onboarding_saves_picks_and_goes_to_for_you(learner_client, learner, world):
    picks = [world.tags["blues"].entity_id, world.instruments["guitar"], world.artists["Muddy Waters"].entity_id]
    response = learner_client.post(reverse("learn:onboarding"), {"entity_id": picks})
    assert response.status_code == 302 and response.url == reverse("learn:for_you")
    saved = Interest.objects.filter(listener__user=learner)
    assert sorted(saved.values_list("entity_id", flat=True)) == sorted(picks)
    assert {i.name for i in saved} == {"blues", "guitar", "Muddy Waters"}
    # the page lists current picks as ticked boxes; posting a smaller set removes the rest
    html = _text(learner_client.get(reverse("learn:onboarding")))
    assert html.count("checked") == 3
    response = learner_client.post(reverse("learn:onboarding"), {"entity_id": picks[:1]})
    assert response.status_code == 302 and response.url == reverse("learn:onboarding")
    assert "Pick at least 3" in _text(learner_client.get(response.url))
    assert Interest.objects.filter(listener__user=learner).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "picks, message",
    [
        (["lastfm:tag:999999"], "is not in the knowledge graph"),
        (["udemy:course:1001"], "is a Course; interests are"),
        ([f"lastfm:tag:{i}" for i in range(51)], "at most 50"),
        (["x" * 300], "too long"),
    ],
)
def test_onboarding_refuses_bad_picks_and_keeps_the_old_ones(learner_client, learner, world, picks, message):
    learner_client.post(reverse("learn:onboarding"), {"entity_id": [world.tags["blues"].entity_id]})
    response = learner_client.post(reverse("learn:onboarding"), {"entity_id": picks})
    assert response.status_code == 400
    assert message in _text(response)
    assert list(Interest.objects.filter(listener__user=learner).values_list("name", flat=True)) == ["blues"]


@pytest.mark.django_db
def test_interest_add_from_search_appends_one_pick(learner_client, learner, world):
    learner_client.post(reverse("learn:onboarding"), {"entity_id": [world.tags["blues"].entity_id]})
    response = learner_client.post(
        reverse("learn:interest_add"),
        {"entity_id": world.instruments["guitar"], "next": reverse("learn:search") + "?q=gui"},
    )
    assert response.status_code == 302 and response.url == reverse("learn:search") + "?q=gui"
    assert sorted(Interest.objects.filter(listener__user=learner).values_list("name", flat=True)) == ["blues", "guitar"]
    assert learner_client.post(reverse("learn:interest_add"), {"entity_id": "nope:1"}).status_code == 400
    assert learner_client.post(reverse("learn:interest_add"), {}).status_code == 400
    assert learner_client.get(reverse("learn:interest_add")).status_code == 405


# --- For you ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_for_you_without_a_published_model_explains_how_to_train(learner_client, world):
    response = learner_client.get(reverse("learn:for_you"))
    assert response.status_code == 503
    html = _text(response)
    assert "Recommendations are not available yet" in html and "Recommendations will appear here" in html
    assert "pick a few artists" in html.lower()


@pytest.mark.django_db
def test_for_you_lists_explained_recommendations(learner_client, learner, served):
    picks = [served.tags["blues"].entity_id, served.instruments["guitar"]]
    learner_client.post(reverse("learn:onboarding"), {"entity_id": picks})
    response = learner_client.get(reverse("learn:for_you"))
    assert response.status_code == 200, _text(response)[:2000]
    music, courses = response.context["music"], response.context["courses"]
    assert music and courses
    assert [card.rank for card in music] == list(range(1, len(music) + 1))
    assert all(card.sentence for card in music + courses)
    blues_artists = {a.pk for a in (served.artists[n] for n in GROUPS["blues"][1])}
    assert music[0].artist.pk in blues_artists, [c.title for c in music]
    assert courses[0].course.title in {c[0] for c in COURSES if c[3] == "blues"}, [c.title for c in courses]
    assert any(card.paths for card in courses), "course reasons should come with a graph path"
    html = _text(response)
    assert 'class="chip edge"' in html and 'value="like"' in html and 'value="enroll"' in html
    # the level filter narrows the courses
    beginner = learner_client.get(reverse("learn:for_you"), {"level": "beginner"}).context["courses"]
    assert beginner and all(card.course.level == "beginner" for card in beginner)
    # a like takes the artist out of the list at once (no retraining)
    first = music[0].artist
    learner_client.post(reverse("learn:interaction"), {"kind": "like", "artist": first.pk})
    after = learner_client.get(reverse("learn:for_you")).context["music"]
    assert first.pk not in {card.artist.pk for card in after}


@pytest.mark.django_db
def test_for_you_shows_no_scores_and_reads_relations_in_words(learner_client, served):
    learner_client.post(
        reverse("learn:onboarding"), {"entity_id": [served.tags["blues"].entity_id, served.instruments["guitar"]]}
    )
    response = learner_client.get(reverse("learn:for_you"))
    assert response.status_code == 200
    html = _text(response)
    assert not re.search(r"score", html, re.IGNORECASE), "no score may reach a learner page"
    assert not re.search(r"\b[A-Z]{2,}(?:_[A-Z]+)+\b", html), "raw relation types on the page"
    edges = re.findall(r'<span class="chip edge">([^<]*)</span>', html)
    assert edges and all(re.fullmatch(r"[a-z ]+", words) for words in edges), edges
    sources = set(re.findall(r'<span class="basis">([^<]*)</span>', html))
    assert sources and sources <= {
        "From your picks",
        "Linked to what you like",
        "Listeners like you",
        "Popular on Leitmotif",
        "Like artists you play",
    }, sources


@pytest.mark.django_db
def test_onboarding_does_not_suggest_noise_tags(learner_client, world, sql_store):
    seen_live = Tag.objects.create(lastfm_id=990, name="seen live", entity_id="lastfm:tag:990")
    sql_store.upsert_entities([EntityRecord(id=seen_live.entity_id, type="Tag", name=seen_live.name)])
    for listen in Listen.objects.select_related("listener", "artist")[:20]:
        TagAssignment.objects.get_or_create(listener=listen.listener, artist=listen.artist, tag=seen_live)
    html = _text(learner_client.get(reverse("learn:onboarding")))
    assert "Popular tags" in html and ">blues<" in html
    assert "seen live" not in html


@pytest.mark.django_db
def test_for_you_refuses_an_unknown_level(learner_client, world):
    response = learner_client.get(reverse("learn:for_you"), {"level": "guru"})
    assert response.status_code == 400
    assert "level must be one of beginner, intermediate, expert or all" in _text(response)


# --- interactions -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_like_skip_and_enroll_are_recorded_and_redirect_back(learner_client, learner, world):
    artist, course = world.artists["Buddy Guy"], world.courses["Electric Blues Soloing"]
    back = reverse("learn:artist", args=[artist.pk])
    response = learner_client.post(reverse("learn:interaction"), {"kind": "like", "artist": artist.pk, "next": back})
    assert response.status_code == 302 and response.url == back
    assert "You liked Buddy Guy" in _text(learner_client.get(back))
    learner_client.post(reverse("learn:interaction"), {"kind": "skip", "artist": world.artists["Albert King"].pk})
    response = learner_client.post(reverse("learn:interaction"), {"kind": "enroll", "course": course.pk})
    assert response.status_code == 302 and response.url == reverse("learn:for_you")
    kinds = list(Interaction.objects.filter(listener__user=learner).order_by("id").values_list("kind", flat=True))
    assert kinds == ["like", "skip", "enroll"]
    assert "Enrolled" in _text(learner_client.get(reverse("learn:course", args=[course.pk])))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "love", "artist": 1}, "kind must be one of like, skip or enroll"),
        ({"kind": "like"}, "like needs an artist id"),
        ({"kind": "enroll", "artist": 1}, "enroll needs a course id"),
        ({"kind": "like", "artist": "abc"}, "Enter a whole number"),
    ],
)
def test_bad_interactions_get_a_message_and_record_nothing(learner_client, world, data, message):
    response = learner_client.post(reverse("learn:interaction"), data)
    assert response.status_code == 400
    assert message in _text(response)
    assert not Interaction.objects.exists()


@pytest.mark.django_db
def test_interaction_on_a_missing_item_is_404_and_external_next_is_ignored(learner_client, world):
    assert learner_client.post(reverse("learn:interaction"), {"kind": "like", "artist": 999999}).status_code == 404
    assert learner_client.post(reverse("learn:interaction"), {"kind": "enroll", "course": 999999}).status_code == 404
    assert learner_client.get(reverse("learn:interaction")).status_code == 405
    artist = world.artists["Lang Lang"]
    response = learner_client.post(
        reverse("learn:interaction"), {"kind": "like", "artist": artist.pk, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response.url == reverse("learn:for_you")


# --- artist and course pages ------------------------------------------------------------------


@pytest.mark.django_db
def test_artist_page_draws_its_graph_neighbourhood(client, world):
    artist = world.artists["Glenn Gould"]
    response = client.get(reverse("learn:artist", args=[artist.pk]))
    assert response.status_code == 200
    html = _text(response)
    svg = html[html.index("<svg") : html.index("</svg>")]
    # the edge label is the relation's words ("tagged"), not its raw type (was ">HAS_TAG<")
    assert "Glenn Gould" in svg and ">classical<" in svg and ">piano<" in svg and ">tagged<" in svg
    assert svg.count("<circle") == 3  # the artist and its two tags
    assert "All 2 connections shown" in html
    assert "Log in</a> to like" in html


@pytest.mark.django_db
def test_course_page_links_graph_neighbours_and_shows_details(client, world):
    course = world.courses["Blues Guitar for Beginners"]
    html = _text(client.get(reverse("learn:course", args=[course.pk])))
    assert "Beginner" in html and "11" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    # relation words instead of the raw types (were "TEACHES_INSTRUMENT", "COVERS_TAG", "HAS_LEVEL")
    for label in (">teaches<", ">covers<", ">at level<", ">guitar<", ">blues<", ">beginner<"):
        assert label in svg


@pytest.mark.django_db
def test_names_are_escaped_in_pages_and_pictures(client, world, sql_store):
    evil = '<script>alert("x")</script>'
    artist = Artist.objects.create(lastfm_id=777, name=evil, entity_id="lastfm:artist:777")
    sql_store.upsert_entities([EntityRecord(id=artist.entity_id, type="Artist", name=evil)])
    sql_store.upsert_relations(
        [RelationRecord(head=artist.entity_id, type="HAS_TAG", tail=world.tags["blues"].entity_id)]
    )
    html = _text(client.get(reverse("learn:artist", args=[artist.pk])))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    blues = _text(client.get(reverse("learn:artist", args=[world.artists["B.B. King"].pk])))
    assert blues.count("<svg") == 1


@pytest.mark.django_db
def test_an_item_missing_from_the_graph_still_has_a_page(client, world):
    artist = Artist.objects.create(lastfm_id=778, name="Unlinked", entity_id="lastfm:artist:778")
    response = client.get(reverse("learn:artist", args=[artist.pk]))
    assert response.status_code == 200 and "not in the knowledge graph yet" in _text(response)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/artists/999999/", "/courses/999999/", "/artists/abc/", "/courses/-1/"])
def test_bad_ids_are_404(client, world, url):
    assert client.get(url).status_code == 404


# --- search and history -----------------------------------------------------------------------


@pytest.mark.django_db
def test_search_finds_artists_courses_and_tags(client, world):
    html = _text(client.get(reverse("learn:search"), {"q": "blues"}))
    assert 'id="courses"' in html and "Blues Guitar for Beginners" in html and "Slide Guitar Blues Masterclass" in html
    assert 'id="tags"' in html and ">blues<" in html
    assert _text(client.get(reverse("learn:search"), {"q": "gould"})).count("Glenn Gould") >= 1
    nothing = _text(client.get(reverse("learn:search"), {"q": "qwxz"}))
    assert "Nothing matches" in nothing
    assert client.get(reverse("learn:search")).status_code == 200
    too_long = client.get(reverse("learn:search"), {"q": "x" * 101})
    assert too_long.status_code == 400 and "at most 100 characters" in _text(too_long)


@pytest.mark.django_db
def test_exact_matches_come_first_in_search(client, world):
    Course.objects.create(title="Guitar", entity_id="udemy:course:1", level="all")
    html = _text(client.get(reverse("learn:search"), {"q": "guitar"}))
    courses = html[html.index('id="courses"') :]
    assert courses.index(">Guitar<") < courses.index("Blues Guitar for Beginners")


@pytest.mark.django_db
def test_history_shows_only_the_learners_own_events(client, world, learner):
    learner_listener(learner)
    other = get_user_model().objects.create_user(username="bob", password=PASSWORD)
    client.force_login(other)
    client.post(reverse("learn:interaction"), {"kind": "like", "artist": world.artists["Yuja Wang"].pk})
    client.post(
        reverse("learn:interaction"), {"kind": "enroll", "course": world.courses["Chopin Nocturnes: Interpretation"].pk}
    )
    bob_history = _text(client.get(reverse("learn:history")))
    assert "Yuja Wang" in bob_history and "Chopin Nocturnes" in bob_history
    client.force_login(learner)
    ada_history = _text(client.get(reverse("learn:history")))
    assert "Yuja Wang" not in ada_history and "Chopin Nocturnes" not in ada_history
    assert "Nothing yet" in ada_history
    # there is no way to ask for someone else's history
    assert client.get(reverse("learn:history"), {"user": other.pk}).content.decode().count("Yuja Wang") == 0


# --- the picture and the path chips (plain functions) -----------------------------------------


def test_layout_keeps_every_node_on_the_canvas_and_arrows_follow_direction():
    inputs = [
        PictureInput(
            entity_id=f"e:{i}",
            name=f"Neighbour {i} with a rather long name",
            type="Tag",
            relations=(("HAS_TAG", "out" if i % 2 else "in"),),
        )
        for i in range(14)
    ]
    picture = layout_neighbourhood(
        centre_id="c", centre_name="Centre", centre_type="Artist", neighbours=inputs, total_edges=40
    )
    assert picture.truncated and picture.shown == 14
    for node in [picture.centre, *picture.nodes]:
        assert node.r <= node.x <= picture.width - node.r and node.r <= node.y <= picture.height - node.r
    positions = {(n.x, n.y) for n in picture.nodes}
    assert len(positions) == 14
    assert [e.arrow_out for e in picture.edges] == [bool(i % 2) for i in range(14)]
    assert all(len(n.label) <= 24 for n in picture.nodes) and picture.nodes[0].label.endswith("…")
    assert short_label("  a   b ") == "a b"


def test_choose_neighbours_mixes_relation_types_and_merges_parallel_edges():
    from kg.stores import Neighbour

    centre = "a:1"

    def edge(rel, other, name, direction="out", named=True, count=None):
        entity = EntityRecord(id=other, type="Tag", name=name, properties={} if named else {"named": False})
        head, tail = (centre, other) if direction == "out" else (other, centre)
        properties = {} if count is None else {"count": count}
        return Neighbour(
            relation=RelationRecord(head=head, type=rel, tail=tail, properties=properties),
            direction=direction,
            entity=entity,
        )

    neighbours = [edge("HAS_TAG", f"t:{i}", f"tag {i:02d}") for i in range(30)]
    neighbours += [edge("ORIGIN", "p:1", "Place kgcn:1", named=False), edge("ORIGIN", "p:2", "Memphis")]
    neighbours += [edge("SIMILAR", "t:3", "tag 03", direction="in")]
    chosen = choose_neighbours(neighbours, 5)
    ids = [entity.id for entity, _ in chosen]
    assert len(ids) == 5 and "p:2" in ids and "p:1" in ids
    merged = {e.id: rels for e, rels in choose_neighbours(neighbours, 40)}
    assert merged["t:3"] == [("HAS_TAG", "out"), ("SIMILAR", "in")]
    # the most given tag wins a slot over alphabetical order
    neighbours.append(edge("HAS_TAG", "t:99", "zz most used", count=40))
    assert "t:99" in [e.id for e, _ in choose_neighbours(neighbours, 3)]


def test_path_chips_alternate_entities_and_relations_with_arrows():
    path = {
        "nodes": [
            {"id": "t:1", "name": "blues", "type": "Tag"},
            {"id": "a:1", "name": "B.B. King", "type": "Artist"},
            {"id": "c:1", "name": "Blues Guitar", "type": "Course"},
        ],
        "edges": [
            {"type": "HAS_TAG", "direction": "backward", "head": "a:1", "tail": "t:1"},
            {"type": "LIKED", "direction": "forward", "head": "a:1", "tail": "c:1"},
        ],
        "score": 1.0,
    }
    chips = path_chips(path)
    # labels are the relations' words read along the path (were "HAS_TAG" and "LIKED"); the raw type stays in .relation
    assert [(c.kind, c.label, c.arrow) for c in chips] == [
        ("node", "blues", ""),
        ("edge", "tag of", "←"),
        ("node", "B.B. King", ""),
        ("edge", "related to", "→"),
        ("node", "Blues Guitar", ""),
    ]
    assert [c.relation for c in chips if c.kind == "edge"] == ["HAS_TAG", "LIKED"]
    assert re.match(r"^Tag$", chips[0].type)
