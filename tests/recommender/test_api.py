"""The REST API (``/api/v1/``): authentication, permissions, parameters, envelope, pagination, throttling, schema.

Runs on a tiny catalog (five artists, three tags, two courses) with its graph in the sql store of the
test database. Recommendation endpoints use a tiny model trained and published the way the serving
tests do it (see the ``served`` fixture). The catalog, account and ``served`` fixtures are in
``tests/recommender/conftest.py``; ``test_api_rerank`` and ``test_understanding`` use them too.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.exceptions import api_exception_handler
from api.permissions import READONLY_GROUP
from api.services import api_client_create
from catalog.models import Artist, Course, Interaction, Listener
from core.errors import ConfigurationError, NoServingModelError, UnknownEntityError
from tests.helpers.recommender_api import PASSWORD, assert_envelope, token_client

pytestmark = pytest.mark.usefixtures("api_settings")


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def readonly(catalog) -> APIClient:
    client = api_client_create(name="reporting", read_only=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {client.token}")
    return api


# --- public endpoints, authentication -------------------------------------------------------------


@pytest.mark.django_db
def test_health_is_public_and_trivial():
    response = APIClient().get("/api/v1/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/artists/",
        "/api/v1/courses/",
        "/api/v1/entities/?q=a",
        "/api/v1/me/",
        "/api/v1/me/history/",
        "/api/v1/me/recommendations/",
    ],
)
def test_authentication_is_required(catalog, url):
    response = APIClient().get(url)
    error = assert_envelope(response, 401, code="not_authenticated", mentions=("Authorization: Token",))
    assert error["details"] == {}
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_a_wrong_token_is_rejected_with_a_hint(catalog):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_envelope(client.get("/api/v1/artists/"), 401, code="authentication_failed", mentions=("create_api_client",))


@pytest.mark.django_db
def test_token_and_session_authentication_both_work(alice):
    assert token_client(alice).get("/api/v1/me/").json()["username"] == "alice"
    session = APIClient()
    assert session.login(username="alice", password=PASSWORD)
    me = session.get("/api/v1/me/").json()
    assert me["username"] == "alice" and me["listener_id"] == alice.listener.pk and me["read_only_client"] is False


@pytest.mark.django_db
def test_session_writes_need_a_csrf_token(alice):
    session = APIClient(enforce_csrf_checks=True)
    session.login(username="alice", password=PASSWORD)
    response = session.post(
        "/api/v1/me/interactions/", {"kind": "like", "artist": Artist.objects.first().pk}, format="json"
    )
    assert_envelope(response, 403, code="permission_denied", mentions=("CSRF",))


# --- catalog ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_artists_are_paginated_with_links(as_alice):
    first = as_alice.get("/api/v1/artists/?page_size=2").json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    assert first["next"].startswith("http://testserver/api/v1/artists/?") and "page=2" in first["next"]
    second = as_alice.get(first["next"]).json()
    assert [a["name"] for a in second["results"]] == ["Delta Jazz", "Epsilon Rock"]
    last = as_alice.get("/api/v1/artists/?page_size=2&page=3").json()
    assert last["next"] is None and len(last["results"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query,status,mentions",
    [
        ("page=99", 404, ("pages run from 1 to 1",)),
        ("page=abc", 404, ("'abc'",)),
        ("page_size=0", 400, ("page_size", "1 to 100")),
        ("page_size=1000", 400, ("page_size",)),
        ("page_size=x", 400, ("page_size",)),
    ],
)
def test_bad_pages_are_explained(as_alice, query, status, mentions):
    assert_envelope(as_alice.get(f"/api/v1/artists/?{query}"), status, mentions=mentions)


@pytest.mark.django_db
def test_artist_search_and_tag_filter(as_alice):
    assert [a["name"] for a in as_alice.get("/api/v1/artists/?q=blues").json()["results"]] == [
        "Alpha Blues",
        "Beta Blues",
    ]
    assert [a["name"] for a in as_alice.get("/api/v1/artists/?tag=JAZZ").json()["results"]] == [
        "Delta Jazz",
        "Gamma Jazz",
    ]
    error = assert_envelope(
        as_alice.get("/api/v1/artists/?tag=polka"), 400, code="invalid", mentions=("polka", "/api/v1/entities/")
    )
    assert "tag" in error["details"]["fields"]


@pytest.mark.django_db
def test_artist_detail_has_top_tags_and_unknown_ids_are_404(as_alice, catalog):
    artist = catalog["artists"][2]
    body = as_alice.get(f"/api/v1/artists/{artist.pk}/").json()
    assert body["name"] == "Gamma Jazz" and body["listeners"] == 2
    assert body["top_tags"] == [{"name": "jazz", "entity_id": "lastfm:tag:2", "count": 2}]
    assert_envelope(
        as_alice.get("/api/v1/artists/999999/"), 404, code="not_found", mentions=("999999", "/api/v1/artists/?q=")
    )


@pytest.mark.django_db
def test_courses_filter_by_level_and_instrument(as_alice):
    assert [c["title"] for c in as_alice.get("/api/v1/courses/?level=expert").json()["results"]] == [
        "Jazz Piano Masterclass"
    ]
    assert [c["title"] for c in as_alice.get("/api/v1/courses/?instrument=Guitar").json()["results"]] == [
        "Blues Guitar for Beginners"
    ]
    assert [c["title"] for c in as_alice.get("/api/v1/courses/?q=piano").json()["results"]] == [
        "Jazz Piano Masterclass"
    ]
    course = Course.objects.get(udemy_id=1)
    assert as_alice.get(f"/api/v1/courses/{course.pk}/").json()["entity_id"] == "udemy:course:1"


@pytest.mark.django_db
def test_bad_course_filters_are_explained(as_alice):
    error = assert_envelope(
        as_alice.get("/api/v1/courses/?level=wizard"), 400, code="invalid", mentions=("level", "beginner", "wizard")
    )
    assert "level" in error["details"]["fields"]
    assert_envelope(as_alice.get("/api/v1/courses/?instrument=theremin"), 400, mentions=("theremin", "guitar, piano"))
    assert_envelope(as_alice.get("/api/v1/courses/424242/"), 404, mentions=("424242",))


# --- envelope outside views -----------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_api_paths_and_methods_use_the_envelope(as_alice):
    assert_envelope(
        as_alice.get("/api/v1/nothing-here/"), 404, code="not_found", mentions=("/api/v1/nothing-here/", "/api/docs/")
    )
    assert_envelope(as_alice.get("/api/v1/me"), 404, mentions=("Did you mean /api/v1/me/",))
    assert_envelope(as_alice.delete("/api/v1/artists/"), 405, code="method_not_allowed", mentions=("DELETE",))
    response = as_alice.post("/api/v1/me/interactions/", data="{not json", content_type="application/json")
    assert_envelope(response, 400, code="parse_error", mentions=("JSON",))


def test_exception_handler_maps_catalogue_errors_and_crashes():
    cases = [
        (ConfigurationError("k must be positive."), 400, "E001"),
        (UnknownEntityError("No entity 'x'."), 404, "E004"),
        (NoServingModelError("No recommender model is published."), 503, "E020"),
        (RuntimeError("boom"), 500, "server_error"),
    ]
    for exc, status, code in cases:
        response = api_exception_handler(exc, {})
        assert response.status_code == status
        assert response.data["error"]["code"] == code
    message = api_exception_handler(NoServingModelError("No model."), {}).data["error"]["message"]
    assert "train_recommender" in message and "publish_model" in message
    assert "boom" not in api_exception_handler(RuntimeError("boom"), {}).data["error"]["message"]


# --- permissions ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_learner_cannot_read_another_learners_data(as_alice, bob):
    for what in ("history", "recommendations"):
        assert_envelope(
            as_alice.get(f"/api/v1/users/{bob.listener.pk}/{what}/"),
            403,
            code="permission_denied",
            mentions=("only read your own",),
        )
        # an id that does not exist gives a learner the same answer (ids are not probed)
        assert_envelope(as_alice.get(f"/api/v1/users/987654/{what}/"), 403, code="permission_denied")


@pytest.mark.django_db
def test_unknown_listener_is_404_for_staff(staff):
    client = token_client(staff)
    for what in ("history", "recommendations"):
        assert_envelope(client.get(f"/api/v1/users/987654/{what}/"), 404, code="not_found", mentions=("987654",))


@pytest.mark.django_db
def test_read_only_client_may_read_but_never_write(readonly, catalog, alice):
    assert readonly.get("/api/v1/artists/").status_code == 200
    me = readonly.get("/api/v1/me/").json()
    assert me["read_only_client"] is True and me["listener_id"] is None
    artist = catalog["artists"][0]
    assert_envelope(
        readonly.post("/api/v1/me/interactions/", {"kind": "like", "artist": artist.pk}, format="json"),
        403,
        code="permission_denied",
        mentions=("read-only", "GET"),
    )
    assert_envelope(
        readonly.put("/api/v1/me/interests/", {"entity_ids": []}, format="json"), 403, code="permission_denied"
    )
    assert_envelope(readonly.get("/api/v1/me/recommendations/"), 404, mentions=("/api/v1/users/",))
    assert not Interaction.objects.exists()
    assert not Listener.objects.filter(user__username="reporting").exists()


# --- recommendations: parameters (checked before any model is involved) ---------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query,field,mentions",
    [
        ("k=0", "k", ("at least 1",)),
        ("k=-1", "k", ("at least 1",)),
        ("k=abc", "k", ("whole number",)),
        ("k=101", "k", ("at most 100",)),
        ("k=2.5", "k", ("whole number",)),
        ("kind=video", "kind", ('"music" or "course"', "video")),
        ("kind=course&level=wizard", "level", ("beginner", "wizard")),
        ("kind=music&level=beginner", "level", ("courses only",)),
        ("exclude_seen=maybe", "exclude_seen", ("true or false",)),
    ],
)
def test_bad_recommendation_parameters_are_explained(as_alice, staff, bob, query, field, mentions):
    for client, url in [
        (as_alice, "/api/v1/me/recommendations/"),
        (token_client(staff), f"/api/v1/users/{bob.listener.pk}/recommendations/"),
    ]:
        error = assert_envelope(client.get(f"{url}?{query}"), 400, code="invalid", mentions=mentions)
        assert field in error["details"]["fields"], error


# --- interactions: validation ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,field,mentions",
    [
        ({"artist": 1}, "kind", ("kind is required",)),
        ({"kind": "hug", "artist": 1}, "kind", ("hug", "listen, like")),
        ({"kind": "like", "artist": 999999}, "artist", ("No artist with id 999999", "/api/v1/artists/")),
        ({"kind": "like", "artist": "abc"}, "artist", ("numeric id",)),
        ({"kind": "enroll", "course": 999999}, "course", ("No course with id 999999",)),
        ({"kind": "like"}, "artist", ('"like" is about an artist',)),
        ({"kind": "enroll", "artist": "ARTIST"}, "course", ('"enroll" is about a course',)),
        ({"kind": "like", "course": "COURSE"}, "artist", ('"like" is about an artist',)),
        ({"kind": "like", "artist": "ARTIST", "course": "COURSE"}, "non_field_errors", ("either artist or course",)),
    ],
)
def test_bad_interactions_are_explained(as_alice, catalog, body, field, mentions):
    ids = {"ARTIST": catalog["artists"][0].pk, "COURSE": catalog["courses"][0].pk}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    if body.get("artist") == 1:
        body["artist"] = ids["ARTIST"]
    error = assert_envelope(
        as_alice.post("/api/v1/me/interactions/", body, format="json"), 400, code="invalid", mentions=mentions
    )
    assert field in error["details"]["fields"], error
    assert not Interaction.objects.exists()


# --- throttling -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_throttling_answers_429_in_the_envelope(as_alice, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "2/minute", "interactions": "1/minute"},
    }
    statuses = [as_alice.get("/api/v1/artists/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = as_alice.get("/api/v1/artists/")
    error = assert_envelope(response, 429, code="throttled", mentions=("retry in",))
    assert error["details"]["retry_after"] > 0 and int(response["Retry-After"]) >= 1
    # anonymous callers have their own budget; the health probe is never throttled
    anon = APIClient()
    assert [anon.get("/api/docs/").status_code for _ in range(3)] == [200, 200, 429]
    assert all(anon.get("/api/v1/health/").status_code == 200 for _ in range(5))


# --- API clients ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_api_client_command(capsys):
    call_command("create_api_client", "reporting", "--read-only")
    out = capsys.readouterr().out
    token = re.search(r"token=(\w+)", out).group(1)
    user = get_user_model().objects.get(username="reporting")
    assert user.groups.filter(name=READONLY_GROUP).exists() and not user.has_usable_password()
    assert Token.objects.get(user=user).key == token
    call_command("create_api_client", "reporting", "--read-only")
    assert f"token={token}" in capsys.readouterr().out  # re-running keeps the token
    call_command("create_api_client", "reporting", "--rotate")
    out = capsys.readouterr().out
    assert f"token={token}" not in out and "read-write" in out
    assert not user.groups.filter(name=READONLY_GROUP).exists()


@pytest.mark.django_db
def test_create_api_client_refuses_blank_names_and_staff_accounts():
    get_user_model().objects.create_user(username="boss", password=PASSWORD, is_staff=True)
    with pytest.raises(CommandError, match="staff account"):
        call_command("create_api_client", "boss")
    with pytest.raises(CommandError, match="Give the API client a name"):
        call_command("create_api_client", "  ")


# --- schema and docs ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_openapi_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in (
        "/api/v1/me/recommendations/",
        "/api/v1/me/interactions/",
        "/api/v1/entities/{entity_id}/neighbours/",
        "/api/v1/users/{listener_id}/history/",
    ):
        assert f"{path}:" in text
    assert "ErrorEnvelope" in text


@pytest.mark.django_db
def test_interactive_docs_render_with_local_assets():
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Leitmotif API"
    docs = client.get("/api/docs/")
    html = docs.content.decode()
    assert docs.status_code == 200 and "swagger-ui" in html
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


# --- recommendations with a real (tiny) published model --------------------------------------------


def _names(body: dict) -> list[str]:
    return [
        r["item"]["artist"]["name"] if r["item"]["type"] == "artist" else r["item"]["course"]["title"]
        for r in body["results"]
    ]


@pytest.mark.django_db
def test_recommendations_are_explained_and_follow_the_next_like(served, as_alice, alice):
    by_name = {a.name: a for a in served["artists"]}
    response = as_alice.post(
        "/api/v1/me/interactions/", {"kind": "listen", "artist": by_name["Alpha Blues"].pk}, format="json"
    )
    assert response.status_code == 201 and response.json()["artist"]["name"] == "Alpha Blues"

    first = as_alice.get("/api/v1/me/recommendations/?k=5")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["listener_id"] == alice.listener.pk and body["kind"] == "music" and body["k"] == 5
    assert [r["rank"] for r in body["results"]] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in body["results"]]
    assert all(isinstance(s, float) for s in scores)
    assert "Alpha Blues" not in _names(body)  # already seen
    for result in body["results"]:
        assert set(result) == {"rank", "score", "kind", "entity_id", "item", "explanation"}
        assert result["explanation"]["target"] == result["entity_id"] and result["explanation"]["sentence"]
    graph_explained = [r for r in body["results"] if r["explanation"]["basis"] == "graph"]
    assert graph_explained, body  # Alpha Blues -HAS_TAG-> blues <-HAS_TAG- another blues artist
    path = graph_explained[0]["explanation"]["paths"][0]
    assert path["nodes"][0]["id"] == "lastfm:artist:1" and path["edges"][0]["type"] == "HAS_TAG"

    top = body["results"][0]["item"]["artist"]
    assert (
        as_alice.post("/api/v1/me/interactions/", {"kind": "like", "artist": top["id"]}, format="json").status_code
        == 201
    )
    after = as_alice.get("/api/v1/me/recommendations/?k=5").json()
    assert top["name"] not in _names(after) and _names(after) != _names(body)
    seen = as_alice.get("/api/v1/me/recommendations/?k=5&exclude_seen=false").json()
    assert "Alpha Blues" in _names(seen) or top["name"] in _names(seen)

    history = as_alice.get("/api/v1/me/history/").json()
    # a like also keeps a Listen row (so a retrain counts it): two listen lines and one like line
    assert history["count"] == 3 and sorted(e["kind"] for e in history["results"]) == ["like", "listen", "listen"]
    assert history["results"][0]["artist"]["name"] in {"Alpha Blues", top["name"]}
    events = as_alice.get("/api/v1/me/interactions/").json()
    assert [e["kind"] for e in events["results"]] == ["like", "listen"]


@pytest.mark.django_db
def test_tag_filter_and_course_recommendations(served, as_alice):
    by_name = {a.name: a for a in served["artists"]}
    as_alice.post("/api/v1/me/interactions/", {"kind": "like", "artist": by_name["Alpha Blues"].pk}, format="json")
    jazz = as_alice.get("/api/v1/me/recommendations/?k=3&tag=jazz").json()
    assert jazz["results"] and all(served["genre"][r["item"]["artist"]["id"]] == "jazz" for r in jazz["results"])
    courses = as_alice.get("/api/v1/me/recommendations/?kind=course&k=2").json()
    assert courses["kind"] == "course" and _names(courses)[0] == "Blues Guitar for Beginners"
    assert all(r["item"]["type"] == "course" and r["item"]["artist"] is None for r in courses["results"])
    expert = as_alice.get("/api/v1/me/recommendations/?kind=course&level=expert").json()
    assert _names(expert) == ["Jazz Piano Masterclass"]
    assert_envelope(as_alice.get("/api/v1/me/recommendations/?tag=polka"), 404, mentions=("polka",))
    course = served["courses"][0]
    enrolled = as_alice.post("/api/v1/me/interactions/", {"kind": "enroll", "course": course.pk}, format="json")
    assert enrolled.status_code == 201 and enrolled.json()["course"]["title"] == course.title
    assert course.title not in _names(as_alice.get("/api/v1/me/recommendations/?kind=course").json())


@pytest.mark.django_db
def test_staff_and_read_only_clients_read_any_listener(served, readonly, staff):
    listener = Listener.objects.filter(lastfm_id=2000).get()
    for client in (readonly, token_client(staff)):
        recs = client.get(f"/api/v1/users/{listener.pk}/recommendations/?k=3")
        assert recs.status_code == 200 and len(recs.json()["results"]) == 3
        assert all(served["genre"][r["item"]["artist"]["id"]] == "blues" for r in recs.json()["results"][:1])
        history = client.get(f"/api/v1/users/{listener.pk}/history/?page_size=2").json()
        assert history["count"] == 4 and len(history["results"]) == 2 and history["next"]


@pytest.mark.django_db
def test_learner_reads_own_data_through_users_url(catalog, as_alice, alice):
    as_alice.post("/api/v1/me/interactions/", {"kind": "listen", "artist": catalog["artists"][0].pk}, format="json")
    assert as_alice.get(f"/api/v1/users/{alice.listener.pk}/history/").json()["count"] == 1


@pytest.mark.django_db
def test_interests_round_trip_and_unknown_entities(as_alice):
    assert as_alice.get("/api/v1/me/interests/").json() == []
    picked = as_alice.put(
        "/api/v1/me/interests/", {"entity_ids": ["lastfm:tag:1", "leitmotif:instrument:guitar"]}, format="json"
    )
    assert picked.status_code == 200
    assert {i["entity_id"] for i in as_alice.get("/api/v1/me/interests/").json()} == {
        "lastfm:tag:1",
        "leitmotif:instrument:guitar",
    }
    assert_envelope(
        as_alice.put("/api/v1/me/interests/", {"entity_ids": ["lastfm:tag:1", "nope:1"]}, format="json"),
        404,
        code="E004",
        mentions=("nope:1",),
    )
    assert_envelope(
        as_alice.put("/api/v1/me/interests/", {"entity_ids": "lastfm:tag:1"}, format="json"),
        400,
        mentions=("must be a list",),
    )
    assert_envelope(as_alice.put("/api/v1/me/interests/", {}, format="json"), 400, mentions=("entity_ids is required",))
    assert len(as_alice.get("/api/v1/me/interests/").json()) == 2  # nothing changed by the bad requests


@pytest.mark.django_db
def test_no_published_model_is_503_with_what_to_run(as_alice, settings, tmp_path):
    from recommender.serving.model_holder import model_holder

    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "empty")
    model_holder().reset()
    try:
        error = assert_envelope(
            as_alice.get("/api/v1/me/recommendations/"),
            503,
            code="E020",
            mentions=("train_recommender", "publish_model"),
        )
        assert error["details"]["error_class"] == "NoServingModelError"
    finally:
        model_holder().reset()


@pytest.mark.django_db
def test_a_new_learner_gets_a_listener_on_first_write(catalog):
    newbie = get_user_model().objects.create_user(username="newbie", password=PASSWORD)
    client = token_client(newbie)
    assert client.get("/api/v1/me/").json()["listener_id"] is None
    assert client.get("/api/v1/me/history/").json()["count"] == 0
    response = client.post(
        "/api/v1/me/interactions/", {"kind": "like", "artist": catalog["artists"][0].pk}, format="json"
    )
    assert response.status_code == 201
    assert client.get("/api/v1/me/").json()["listener_id"] == Listener.objects.get(user=newbie).pk
