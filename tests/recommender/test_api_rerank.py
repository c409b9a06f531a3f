"""``rerank``, ``unit`` and ``mood`` on the recommendation endpoints, and the list's ``scores`` (EMS, ERS).

Reuses the tiny catalog and the trained, published model of the API tests (``conftest.py``; blues / jazz / rock
artists) and adds a curriculum to its graph: ``blues-scale`` is associated with the blues tag,
``jazz-harmony`` with the jazz tag and taught by the jazz piano course. Some artists get mood tags.
"""

from __future__ import annotations

import pytest

from catalog.models import Listener, Tag, TagAssignment
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.recommender_api import assert_envelope, token_client

#: The catalog, account and ``served`` fixtures come from ``tests/recommender/conftest.py``.
pytestmark = pytest.mark.usefixtures("api_settings")

C = "leitmotif:concept:"
SAD = {"Zeta Blues", "Eta Blues", "Iota Jazz"}
HAPPY = {"Theta Blues", "Kappa Jazz"}


@pytest.fixture
def curriculum(served, sql_store):
    from recommender.explanations import invalidate_snapshots
    from recommender.serving.selectors import snapshot_forget

    tags = {t.name: t for t in Tag.objects.all()}
    tags["sad"] = Tag.objects.create(lastfm_id=90, name="sad", entity_id="lastfm:tag:90")
    tags["happy"] = Tag.objects.create(lastfm_id=91, name="Happy", entity_id="lastfm:tag:91")
    tagger = Listener.objects.filter(user__isnull=True).first()
    for artist in served["artists"]:
        mood = "sad" if artist.name in SAD else "happy" if artist.name in HAPPY else None
        if mood:
            TagAssignment.objects.create(listener=tagger, artist=artist, tag=tags[mood])
    sql_store.upsert_entities(
        [
            EntityRecord(id=f"{C}blues-scale", type="Concept", name="Blues scale"),
            EntityRecord(id=f"{C}jazz-harmony", type="Concept", name="Jazz harmony"),
            EntityRecord(id=tags["sad"].entity_id, type="Tag", name="sad"),
            EntityRecord(id=tags["happy"].entity_id, type="Tag", name="Happy"),
        ]
    )
    sql_store.upsert_relations(
        [
            RelationRecord(head=f"{C}blues-scale", type="ASSOCIATED_TAG", tail=tags["blues"].entity_id),
            RelationRecord(head=f"{C}jazz-harmony", type="ASSOCIATED_TAG", tail=tags["jazz"].entity_id),
            RelationRecord(head="udemy:course:2", type="TEACHES_CONCEPT", tail=f"{C}jazz-harmony"),
            RelationRecord(head=f"{C}blues-scale", type="PREREQUISITE_OF", tail=f"{C}jazz-harmony"),
        ]
    )
    invalidate_snapshots()
    snapshot_forget()
    return served


def _names(body: dict) -> list[str]:
    return [
        r["item"]["artist"]["name"] if r["item"]["type"] == "artist" else r["item"]["course"]["title"]
        for r in body["results"]
    ]


def _blues_fan(client, served) -> None:
    by_name = {a.name: a for a in served["artists"]}
    for name in ("Alpha Blues", "Beta Blues"):
        assert (
            client.post(
                "/api/v1/me/interactions/", {"kind": "listen", "artist": by_name[name].pk}, format="json"
            ).status_code
            == 201
        )


@pytest.mark.django_db
def test_plain_lists_report_their_scores_on_the_learners_own_unit(curriculum, as_alice):
    _blues_fan(as_alice, curriculum)
    body = as_alice.get("/api/v1/me/recommendations/?k=4").json()
    assert body["rerank"] == "none" and body["mood"] is None
    blank = as_alice.get(
        "/api/v1/me/recommendations/?k=4&rerank=&unit=&mood="
    ).json()  # empty means not given, as for tag
    assert blank["rerank"] == "none" and blank["unit_source"] == "learner" and _names(blank) == _names(body)
    assert (
        body["unit"] == [f"{C}blues-scale"] and body["unit_source"] == "learner"
    )  # blues is the fan's curriculum-linked tag
    assert set(body["scores"]) == {"ems", "ers"}
    assert 0 <= body["scores"]["ems"] <= 1
    assert body["scores"]["ers"] is None  # Alpha and Beta Blues carry no mood tag: no profile
    for result in body["results"]:
        assert set(result) == {"rank", "score", "kind", "entity_id", "item", "explanation"}


@pytest.mark.django_db
def test_a_unit_ranks_music_and_courses_that_cover_it(curriculum, as_alice):
    _blues_fan(as_alice, curriculum)
    unit = f"{C}jazz-harmony"
    plain = as_alice.get(f"/api/v1/me/recommendations/?k=3&unit={unit}&rerank=none").json()
    assert plain["unit_source"] == "request" and plain["unit"] == [unit] and plain["rerank"] == "none"
    focused = as_alice.get(f"/api/v1/me/recommendations/?k=3&unit={unit}").json()
    assert focused["rerank"] == "unit:0.5"
    full = as_alice.get(f"/api/v1/me/recommendations/?k=3&unit={unit}&rerank=unit:1").json()
    assert all(curriculum["genre"][r["item"]["artist"]["id"]] == "jazz" for r in full["results"])
    assert full["scores"]["ems"] == 1.0  # every item on the unit, the unit's one concept covered
    assert plain["scores"]["ems"] <= focused["scores"]["ems"] <= full["scores"]["ems"]
    courses = as_alice.get(f"/api/v1/me/recommendations/?kind=course&k=2&unit={unit}&rerank=unit:1").json()
    assert _names(courses)[0] == "Jazz Piano Masterclass" and courses["scores"]["ems"] == 0.75  # ½·1 + ½·½
    unknown = as_alice.get(f"/api/v1/me/recommendations/?unit={unit},{C}nope")
    assert_envelope(unknown, 400, code="E021", mentions=("'leitmotif:concept:nope' is not a concept", "type=Concept"))


@pytest.mark.django_db
def test_a_stated_mood_reorders_and_scores_the_list(curriculum, as_alice):
    _blues_fan(as_alice, curriculum)
    body = as_alice.get("/api/v1/me/recommendations/?k=3&mood=sad&rerank=mood:1").json()
    assert body["mood"] == ["sad"] and body["rerank"] == "mood:1"
    assert set(_names(body)) == SAD
    assert body["scores"]["ers"] == 1.0
    default = as_alice.get("/api/v1/me/recommendations/?k=3&mood=Happy").json()
    assert default["rerank"] == "mood:0.5" and default["mood"] == ["happy"]
    popular = as_alice.get("/api/v1/me/recommendations/?k=3&rerank=popularity:0.5").json()
    diverse = as_alice.get("/api/v1/me/recommendations/?k=3&rerank=diversity").json()
    assert popular["rerank"] == "popularity:0.5" and diverse["rerank"] == "diversity:0.3"
    assert len(popular["results"]) == len(diverse["results"]) == 3


@pytest.mark.django_db
def test_staff_pass_the_same_parameters_for_any_listener(curriculum, staff):
    listener = Listener.objects.filter(lastfm_id=2001).get()  # a jazz listener
    body = (
        token_client(staff)
        .get(f"/api/v1/users/{listener.pk}/recommendations/?k=2&unit={C}blues-scale&rerank=unit:1")
        .json()
    )
    assert body["unit"] == [f"{C}blues-scale"] and body["scores"]["ems"] == 1.0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, status, code, mentions",
    [
        ("rerank=magic", 400, "E021", ("unknown re-ranker 'magic'", "popularity")),
        ("rerank=popularity:2", 400, "E021", ("from 0 to 1",)),
        ("rerank=none:0.5", 400, "E021", ("takes no strength",)),
        ("unit=scales", 400, "E021", ("concept ids", "leitmotif:concept:scales")),
        ("unit=,,", 400, "E021", ("unit is empty",)),
        ("mood=angsty", 400, "E021", ("angsty", "happy, sad, calm")),
    ],
)
def test_bad_rerank_unit_and_mood_are_explained(catalog, as_alice, staff, bob, query, status, code, mentions):
    """Checked before any model is involved (no model is published here)."""
    for client, url in [
        (as_alice, "/api/v1/me/recommendations/"),
        (token_client(staff), f"/api/v1/users/{bob.listener.pk}/recommendations/"),
    ]:
        assert_envelope(client.get(f"{url}?{query}"), status, code=code, mentions=mentions)


@pytest.mark.django_db
def test_schema_documents_the_new_parameters_and_scores(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for name in ("name: rerank", "name: unit", "name: mood", "ListScores:", "unit_source:"):
        assert name in text, name
