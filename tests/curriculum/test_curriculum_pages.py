"""The curriculum's learner pages and ``/api/v1/learning/``: login, rendering, buttons that adapt the path,
permissions (learners only ever see their own data) and bad input answered with what to fix.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from api.services import api_client_create
from curriculum.models import ConceptMastery, LearnerProfile
from recommender.serving.services import learner_listener
from tests.helpers.curriculum_world import PASSWORD, C

PAGES = ["/learn/", "/learn/goals/", f"/learn/path/?goal={C('triads')}", f"/learn/quiz/?concept={C('intervals')}"]


def _user(name: str):
    user = get_user_model().objects.create_user(username=name, password=PASSWORD)
    learner_listener(user)
    return user


@pytest.fixture
def ada(db):
    return _user("ada")


@pytest.fixture
def browser(client, ada):
    client.force_login(ada)
    return client


def _text(response) -> str:
    return response.content.decode()


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_envelope(response, status: int, *, code: str, mentions: tuple[str, ...] = ()) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    for text in mentions:
        assert text in error["message"], error["message"]
    return error


# --- pages ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/learn/profile/", "/learn/mastery/", "/learn/lessons/complete/"])
def test_buttons_need_a_login_and_a_post(client, ada, url):
    assert client.post(url, {})["Location"].startswith("/login/")
    client.force_login(ada)
    assert client.get(url).status_code == 405


def test_my_learning_shows_explained_next_steps(world, browser):
    response = browser.get("/learn/")
    html = _text(response)
    assert response.status_code == 200
    assert 'id="next-steps"' in html and "needs no other concept first" in html
    assert 'data-concept="leitmotif:concept:notes-and-staff"' in html
    assert "I know this" in html and 'name="level"' in html and "Guitar" in html


@pytest.mark.django_db
def test_my_learning_says_when_the_curriculum_is_not_loaded(browser, settings, caplog):
    settings.KG_BACKEND = "sql"
    html = _text(browser.get("/learn/"))
    assert 'id="no-curriculum"' in html and "not available yet" in html
    assert "manage.py" not in html and "load_curriculum" in caplog.text  # the operator's hint goes to the log


def test_goal_picker_lists_concepts_instruments_styles_and_finds_artists(world, browser):
    html = _text(browser.get("/learn/goals/?q=Ramo"))
    assert "Seventh chords" in html and "Guitar" in html and ">punk</a>" in html
    assert f"/learn/path/?goal={world.artists['Ramones'].entity_id.replace(':', '%3A')}" in html
    assert browser.get("/learn/goals/?q=" + "x" * 101).status_code == 400


def test_path_page_draws_the_path_and_adapts_when_a_concept_is_marked(world, browser):
    url = f"/learn/path/?goal={C('seventh-chords')}"
    html = _text(browser.get(url))
    assert "<svg" in html and html.count('class="node state-') == 6
    assert 'id="step-6"' in html and "Goal: Seventh chords." in html
    response = browser.post("/learn/mastery/", {"concept_id": C("triads"), "action": "mastered", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    html = _text(browser.get(url))
    assert (
        'id="step-2"' not in html and 'class="node state-mastered"' in html and "Builds on Triads (mastered)." in html
    )
    assert "Marked Triads as mastered" in html
    browser.post("/learn/mastery/", {"concept_id": C("seventh-chords"), "action": "mastered", "next": url})
    assert 'id="path-complete"' in _text(browser.get(url))


def test_path_page_explains_a_bad_goal_and_sends_an_empty_one_to_the_picker(world, browser):
    response = browser.get("/learn/path/?goal=leitmotif:concept:nope")
    assert (
        response.status_code == 400
        and "is not in the knowledge graph" in _text(response)
        and "Pick a concept" in _text(response)
    )
    response = browser.get("/learn/path/")
    assert response.status_code == 302 and response["Location"] == "/learn/goals/"


def test_completing_a_course_from_the_page_records_progress(world, browser, ada):
    browser.post("/learn/mastery/", {"concept_id": C("chords"), "action": "mastered"})
    course = world.courses["Getting Started with Power Chords"]
    response = browser.post("/learn/lessons/complete/", {"course": course.pk, "next": "/learn/"})
    assert response.status_code == 302 and response["Location"] == "/learn/"
    row = ConceptMastery.objects.get(user=ada, concept_id=C("power-chords"))
    assert row.source == "lesson" and row.mastery == 0.8
    assert "progress recorded for Power chords" in _text(browser.get("/learn/"))
    assert browser.post("/learn/lessons/complete/", {"course": 987654}).status_code == 404


def test_buttons_refuse_bad_input_and_foreign_redirects(world, browser):
    response = browser.post(
        "/learn/mastery/",
        {"concept_id": "leitmotif:concept:nope", "action": "mastered", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/learn/"
    assert "not a concept of the curriculum" in _text(browser.get("/learn/"))
    browser.post("/learn/mastery/", {"concept_id": C("triads"), "action": "explode"})
    assert "Nothing was recorded" in _text(browser.get("/learn/"))
    browser.post("/learn/profile/", {"level": "wizard"})
    assert "Your profile was not changed" in _text(browser.get("/learn/"))


def test_profile_form_saves_level_and_instruments(world, browser, ada):
    response = browser.post(
        "/learn/profile/", {"level": "intermediate", "instruments": ["leitmotif:instrument:guitar"]}
    )
    assert response.status_code == 302
    profile = LearnerProfile.objects.get(user=ada)
    assert profile.level == "intermediate" and profile.instruments == ["leitmotif:instrument:guitar"]


def test_quiz_page_grades_answers(world, browser, ada):
    html = _text(browser.get(f"/learn/quiz/?concept={C('major-scale')}"))
    assert "W W H W W W H" in html
    from curriculum.graph import curriculum_graph
    from kg.stores import get_store

    with get_store() as store:
        quiz = curriculum_graph(store).concepts[C("major-scale")].quiz
    answers = {f"q{i}": str(q["answer"]) for i, q in enumerate(quiz)}
    response = browser.post(f"/learn/quiz/?concept={C('major-scale')}", {"concept": C("major-scale"), **answers})
    assert response.status_code == 200 and 'id="quiz-result"' in _text(response)
    assert ConceptMastery.objects.get(user=ada, concept_id=C("major-scale")).mastery == 1.0
    assert browser.post(f"/learn/quiz/?concept={C('major-scale')}", {"concept": C("major-scale")}).status_code == 400
    assert browser.get(f"/learn/quiz/?concept={C('teaching')}").status_code == 404
    assert browser.get("/learn/quiz/?concept=nope").status_code == 404


# --- API ------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["profile/", "mastery/", "next-steps/", f"path/?goal={C('triads')}", "concepts/"])
def test_api_needs_authentication(url):
    assert_envelope(APIClient().get(f"/api/v1/learning/{url}"), 401, code="not_authenticated")


def test_api_profile_read_and_update(world, ada):
    client = api(ada)
    assert client.get("/api/v1/learning/profile/").json() == {
        "level": "beginner",
        "instruments": [],
        "instruments_from": "none",
    }
    response = client.put(
        "/api/v1/learning/profile/", {"level": "advanced", "instruments": ["leitmotif:instrument:piano"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "level": "advanced",
        "instruments": [{"id": "leitmotif:instrument:piano", "name": "Piano"}],
        "instruments_from": "profile",
    }
    assert_envelope(
        client.put("/api/v1/learning/profile/", {"level": "wizard"}, format="json"),
        400,
        code="invalid",
        mentions=("level must be one of",),
    )
    assert_envelope(
        client.put("/api/v1/learning/profile/", {}, format="json"),
        400,
        code="invalid",
        mentions=("send level and/or instruments",),
    )
    assert_envelope(
        client.put("/api/v1/learning/profile/", {"instruments": ["lastfm:tag:83"]}, format="json"),
        400,
        code="E050",
        mentions=("is not an instrument",),
    )


def test_api_mastery_is_per_learner(world, ada):
    bob = _user("bob")
    response = api(ada).post("/api/v1/learning/mastery/", {"concept_id": C("triads"), "mastery": 0.9}, format="json")
    assert response.status_code == 201
    assert response.json()["concept"]["name"] == "Triads" and response.json()["mastered"] is True
    assert [r["concept"]["id"] for r in api(ada).get("/api/v1/learning/mastery/").json()["results"]] == [C("triads")]
    assert api(bob).get("/api/v1/learning/mastery/").json()["results"] == []
    assert_envelope(
        api(ada).post("/api/v1/learning/mastery/", {"concept_id": C("triads"), "mastery": 2}, format="json"),
        400,
        code="invalid",
        mentions=("at most 1",),
    )
    assert_envelope(
        api(ada).post(
            "/api/v1/learning/mastery/", {"concept_id": "leitmotif:concept:nope", "mastery": 1}, format="json"
        ),
        400,
        code="E050",
        mentions=("not a concept of the curriculum",),
    )


def test_api_next_steps_and_path(world, ada):
    client = api(ada)
    body = client.get("/api/v1/learning/next-steps/?limit=3").json()
    assert body["level"] == "beginner" and len(body["results"]) == 3
    assert all(step["builds_on"] == [] and step["explanation"] for step in body["results"])
    assert_envelope(
        client.get("/api/v1/learning/next-steps/?limit=0"), 400, code="invalid", mentions=("limit must be at least 1",)
    )
    path = client.get(f"/api/v1/learning/path/?goal={C('seventh-chords')}").json()
    assert [s["concept"]["id"] for s in path["steps"]][-2:] == [C("triads"), C("seventh-chords")]
    assert path["goal"]["kind"] == "concept" and path["complete"] is False
    assert path["steps"][-1]["builds_on"] == [
        {"concept": {"id": C("triads"), "name": "Triads", "level": "beginner"}, "status": "5"}
    ]
    assert_envelope(client.get("/api/v1/learning/path/"), 400, code="invalid", mentions=("goal is required",))
    assert_envelope(
        client.get("/api/v1/learning/path/?goal=leitmotif:concept:nope"),
        400,
        code="E050",
        mentions=("is not in the knowledge graph", "Pick a concept"),
    )


def test_api_concept_list(world, ada):
    client = api(ada)
    body = client.get("/api/v1/learning/concepts/?level=advanced&page_size=100").json()
    assert body["count"] == len(body["results"]) and {c["level"] for c in body["results"]} == {"advanced"}
    counterpoint = next(c for c in body["results"] if c["id"] == C("counterpoint"))
    assert counterpoint["prerequisites"] == [C("voice-leading")] and counterpoint["sources"][0]["title"]
    guitar_only = client.get("/api/v1/learning/concepts/?instrument=leitmotif:instrument:drums&page_size=100").json()[
        "results"
    ]
    assert C("power-chords") not in [c["id"] for c in guitar_only] and C("drum-rudiments") in [
        c["id"] for c in guitar_only
    ]
    assert_envelope(
        client.get("/api/v1/learning/concepts/?level=expert"), 400, code="invalid", mentions=("level must be one of",)
    )


def test_read_only_clients_may_read_but_not_write(world):
    client = api_client_create(name="reporting", read_only=True)
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Token {client.token}")
    assert reader.get("/api/v1/learning/concepts/").status_code == 200
    assert_envelope(
        reader.put("/api/v1/learning/profile/", {"level": "advanced"}, format="json"),
        403,
        code="permission_denied",
        mentions=("read-only API client",),
    )
    assert_envelope(
        reader.post("/api/v1/learning/mastery/", {"concept_id": C("triads"), "mastery": 1}, format="json"),
        403,
        code="permission_denied",
    )


@pytest.mark.django_db
def test_openapi_schema_documents_the_learning_endpoints(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in ("profile", "mastery", "next-steps", "path", "concepts"):
        assert f"/api/v1/learning/{path}/:" in text
    assert re.search(r"LearningPath:\n", text)
