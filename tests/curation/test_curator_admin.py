"""The curator admin of the graph, driven through the admin client on both graph backends.

The admin builds its store from settings (``KG_BACKEND``, ``NEO4J_*``) on every request; the
``admin_store`` fixture (tests/conftest.py) points those settings at the same backend the parametrised ``graph_store``
fixture gives the test, so every assertion reads the graph the admin just wrote — on ``sql`` and on Neo4j.
"""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.urls import reverse

import curation.admin.graph as kg_admin
from core.errors import StoreUnavailableError
from curation import services as curation
from ingestion.models import ExtractedFact, ExtractedMention, SourceDocument
from kg.models import CurationEvent
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.admin import PASSWORD, message_texts

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def graph(admin_store):
    """Two records of one musician (a duplicate to merge), a band and a tag, with relations in both directions."""
    admin_store.upsert_entities(
        [
            EntityRecord(id="a:1", type="Artist", name="Miles Davis", aliases=("Miles",), properties={"country": "US"}),
            EntityRecord(
                id="a:2", type="Artist", name="Miles Dewey Davis", properties={"born": 1926, "country": "USA"}
            ),
            EntityRecord(id="b:1", type="Band", name="Second Quintet"),
            EntityRecord(id="t:jazz", type="Tag", name="jazz"),
        ]
    )
    admin_store.upsert_relations(
        [
            RelationRecord(head="a:1", type="HAS_TAG", tail="t:jazz", source="lastfm", confidence=0.8),
            RelationRecord(head="a:2", type="HAS_TAG", tail="t:jazz", source="lastfm", confidence=0.9),
            RelationRecord(head="a:2", type="MEMBER_OF", tail="b:1", source="ingestion:abc", confidence=0.7),
            RelationRecord(head="a:2", type="ASSOCIATED_WITH", tail="a:1", source="curator", confidence=0.5),
            RelationRecord(head="b:1", type="HAS_TAG", tail="t:jazz", source="lastfm", confidence=1.0),
        ]
    )
    return admin_store


def make_fact(
    *, head_id: str, tail_id: str, relation_type: str, status: str = "pending", text: str | None = None
) -> ExtractedFact:
    text = text or "Intro. Miles Dewey Davis joined the Second Quintet in 1964."
    document, _ = SourceDocument.objects.get_or_create(
        sha256=hashlib.sha256(text.encode()).hexdigest(), defaults={"name": "bio.txt", "text": text}
    )
    sentence_start = text.index(". ") + 2
    head_text, tail_text = "Miles Dewey Davis", "Second Quintet"
    head, _ = ExtractedMention.objects.get_or_create(
        document=document,
        start=text.index(head_text),
        end=text.index(head_text) + len(head_text),
        defaults=dict(
            sentence_index=1,
            text=head_text,
            label="ARTIST",
            entity_id=head_id,
            entity_type="Artist",
            link_method="exact",
            link_score=1.0,
        ),
    )
    tail, _ = ExtractedMention.objects.get_or_create(
        document=document,
        start=text.index(tail_text),
        end=text.index(tail_text) + len(tail_text),
        defaults=dict(
            sentence_index=1,
            text=tail_text,
            label="BAND",
            entity_id=tail_id,
            entity_type="Band",
            link_method="exact",
            link_score=1.0,
        ),
    )
    return ExtractedFact.objects.create(
        document=document,
        sentence_index=1,
        sentence_start=sentence_start,
        sentence_end=len(text),
        head=head,
        tail=tail,
        relation_type=relation_type,
        head_entity_id=head_id,
        tail_entity_id=tail_id,
        confidence=0.7,
        model_versions={"relation": "re-test-1"},
        status=status,
    )


def entity_page(entity_id: str, view: str = "change") -> str:
    return reverse(f"admin:kg_entity_{view}", args=[quote(entity_id)])


# --- entity list, search, detail --------------------------------------------------------------------------


def test_entity_list_searches_filters_by_type_and_pages(curator_client, graph, monkeypatch):
    response = curator_client.get("/admin/kg/entity/")
    assert response.status_code == 200
    for name in ("Miles Davis", "Second Quintet", "jazz"):
        assert name in response.content.decode()

    found = curator_client.get("/admin/kg/entity/", {"q": "miles"}).content.decode()
    assert "Miles Davis" in found and "Miles Dewey Davis" in found and "Second Quintet" not in found

    by_alias = curator_client.get("/admin/kg/entity/", {"q": "Mil", "type": "Artist"}).content.decode()
    assert "a:1" in by_alias

    bands = curator_client.get("/admin/kg/entity/", {"type": "Band"}).content.decode()
    assert "Second Quintet" in bands and "Miles Davis" not in bands
    assert "Band (1)" in bands  # the type filter lists the graph's types with counts

    monkeypatch.setattr(kg_admin, "ENTITIES_PER_PAGE", 3)
    first = curator_client.get("/admin/kg/entity/").content.decode()
    second = curator_client.get("/admin/kg/entity/", {"page": 2}).content.decode()
    ids = ["a:1", "a:2", "b:1", "t:jazz"]  # iter_entities order: by id
    assert all(i in first for i in ids[:3]) and "t:jazz" not in first
    assert "t:jazz" in second and "Page 2 of 2" in second
    assert curator_client.get("/admin/kg/entity/", {"page": "not-a-number"}).status_code == 200


def test_entity_page_shows_properties_neighbours_provenance_and_history(curator_client, graph, curator):
    fact = make_fact(head_id="a:2", tail_id="b:1", relation_type="MEMBER_OF", status="accepted")
    CurationEvent.objects.create(
        action="entity.update", target="a:2", actor=curator, after={"name": "Miles Dewey Davis"}
    )

    response = curator_client.get(entity_page("a:2"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Miles Dewey Davis" in page and "&quot;born&quot;: 1926" in page
    # both directions, with provenance columns
    assert "Outgoing relations" in page and "Incoming relations" in page
    assert "MEMBER_OF" in page and "ingestion:abc" in page and "0.700" in page
    assert "ASSOCIATED_WITH" in page
    # the extracted fact behind MEMBER_OF, its sentence with the mentions marked, status and model version
    assert '<mark class="lm-head" title="head: a:2">Miles Dewey Davis</mark>' in page
    assert '<mark class="lm-tail" title="tail: b:1">Second Quintet</mark>' in page
    assert "relation=re-test-1" in page and fact.status in page and "bio.txt" in page
    # history
    assert "entity.update" in page

    incoming = curator_client.get(entity_page("t:jazz")).content.decode()
    assert incoming.count("HAS_TAG") >= 3  # three incoming edges


def test_missing_entity_page_says_so_instead_of_failing(curator_client, graph):
    response = curator_client.get(entity_page("nope:1"), follow=True)
    assert response.status_code == 200
    assert any("is not in the graph" in m for m in message_texts(response))


def test_store_down_is_a_message_not_a_server_error(curator_client, settings, db):
    settings.KG_BACKEND = "neo4j"
    settings.NEO4J_URI = "bolt://127.0.0.1:1"
    settings.NEO4J_CONNECTION_TIMEOUT = 1.0
    response = curator_client.get("/admin/kg/entity/")
    assert response.status_code == 200
    assert message_texts(response)  # the store's "cannot reach Neo4j" explanation
    assert curator_client.get("/admin/kg/relation/").status_code == 200


# --- create and edit --------------------------------------------------------------------------------------


def test_create_entity_through_the_store_with_audit(curator_client, graph, curator):
    response = curator_client.post(
        "/admin/kg/entity/add/",
        {
            "id": "c:1",
            "type": "Concept",
            "name": "Modal jazz",
            "aliases": "modal\nModal\n\nmodes",
            "properties": '{"era": "1950s"}',
        },
    )
    assert response.status_code == 302 and response["Location"] == entity_page("c:1")
    created = graph.get_entity("c:1")
    assert (
        created.name == "Modal jazz"
        and list(created.aliases) == ["modal", "modes"]
        and dict(created.properties) == {"era": "1950s"}
    )
    event = CurationEvent.objects.get(action="entity.create", target="c:1")
    assert event.actor == curator and event.source == "admin" and event.after["name"] == "Modal jazz"

    # no id given: one is made from the name
    curator_client.post("/admin/kg/entity/add/", {"type": "Concept", "name": "Hard Bop", "properties": ""})
    assert graph.get_entity("curated:hard-bop").name == "Hard Bop"


@pytest.mark.parametrize(
    "data, error",
    [
        ({"id": "c:2", "type": "Concept", "name": "X", "properties": "{not json"}, "Properties are not valid JSON"),
        ({"id": "c:2", "type": "Concept", "name": "X", "properties": "[1, 2]"}, "must be a JSON object"),
        ({"id": "c:2", "type": "concept", "name": "X", "properties": "{}"}, "capitalised word"),
        ({"id": "a:1", "type": "Artist", "name": "Other", "properties": "{}"}, "already exists"),
        ({"id": "c:2", "type": "Concept", "name": "X", "properties": '{"bad": NaN}'}, "JSON data"),
    ],
)
def test_create_entity_refuses_bad_input_with_form_errors(curator_client, graph, data, error):
    response = curator_client.post("/admin/kg/entity/add/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert graph.get_entity("c:2") is None
    assert graph.get_entity("a:1").name == "Miles Davis"


def test_edit_entity_replaces_fields_and_records_before_and_after(curator_client, graph):
    url = entity_page("a:1", "edit")
    form = curator_client.get(url)
    assert form.status_code == 200 and "Miles Davis" in form.content.decode()

    response = curator_client.post(
        url,
        {
            "id": "ignored:id",
            "type": "Person",
            "name": "Miles Davis III",
            "aliases": "Miles\nThe Prince of Darkness",
            "properties": '{"instrument": "trumpet"}',
        },
    )
    assert response.status_code == 302
    entity = graph.get_entity("a:1")
    assert (entity.type, entity.name, list(entity.aliases), dict(entity.properties)) == (
        "Person",
        "Miles Davis III",
        ["Miles", "The Prince of Darkness"],
        {"instrument": "trumpet"},
    )
    assert graph.get_entity("ignored:id") is None  # ids are not editable
    assert graph.get_relation("a:1", "HAS_TAG", "t:jazz") is not None  # relations untouched
    event = CurationEvent.objects.get(action="entity.update", target="a:1")
    assert event.before["name"] == "Miles Davis" and event.after["name"] == "Miles Davis III"

    bad = curator_client.post(url, {"type": "Person", "name": "Broken", "properties": '{"a": 1,}'})
    assert bad.status_code == 200 and "Properties are not valid JSON" in bad.content.decode()
    assert graph.get_entity("a:1").name == "Miles Davis III"


# --- merge ------------------------------------------------------------------------------------------------


def test_merge_previews_then_folds_duplicates_and_repoints_facts(curator_client, graph, curator):
    fact = make_fact(head_id="a:2", tail_id="b:1", relation_type="MEMBER_OF")
    url = entity_page("a:1", "merge")

    search = curator_client.get(url, {"q": "miles"}).content.decode()
    assert 'value="a:2"' in search and 'name="merge" value="a:1"' not in search

    preview = curator_client.get(url, {"merge": "a:2"})
    page = preview.content.decode()
    assert preview.status_code == 200 and "lm-merge-preview" in page
    assert "a:2 -[MEMBER_OF]-&gt; b:1" in page and "a:1 -[MEMBER_OF]-&gt; b:1" in page  # moves
    assert "joins an existing relation" in page  # a:2 HAS_TAG jazz folds into a:1's
    assert "dropped" in page  # a:2 ASSOCIATED_WITH a:1 would be a self-loop
    assert "Miles Dewey Davis" in page and "born=1926" in page
    assert graph.get_entity("a:2") is not None  # a preview changes nothing

    response = curator_client.post(url, {"merge": ["a:2"]})
    assert response.status_code == 302 and response["Location"] == entity_page("a:1")
    assert graph.get_entity("a:2") is None
    kept = graph.get_entity("a:1")
    assert "Miles Dewey Davis" in kept.aliases and "Miles" in kept.aliases
    assert kept.properties["born"] == 1926 and kept.properties["country"] == "US"
    assert graph.get_relation("a:1", "MEMBER_OF", "b:1") is not None
    assert graph.get_relation("a:1", "HAS_TAG", "t:jazz").confidence == pytest.approx(0.9)
    assert graph.get_relation("a:1", "ASSOCIATED_WITH", "a:1") is None
    fact.refresh_from_db()
    assert fact.head_entity_id == "a:1" and fact.head.entity_id == "a:1"
    events = CurationEvent.objects.filter(action="entity.merge")
    assert {e.target for e in events} == {"a:1", "a:2"}
    assert events.get(target="a:2").after == {"merged_into": "a:1"}
    assert events.get(target="a:1").after["facts_repointed"] == 1
    assert events.get(target="a:1").actor == curator

    # the merged-away id keeps a readable history
    gone = curator_client.get(entity_page("a:2"), follow=True).content.decode()
    assert "merged_into" in gone


def test_merging_an_entity_into_itself_or_a_missing_one_is_a_message(curator_client, graph):
    url = entity_page("a:1", "merge")
    response = curator_client.post(url, {"merge": ["a:1"]})
    assert response.status_code == 200
    assert any("into itself" in m for m in message_texts(response))
    nothing = curator_client.post(url, {})
    assert nothing.status_code == 200 and any("at least one duplicate" in m for m in message_texts(nothing))
    missing = curator_client.get(url, {"merge": "zz:9"})
    assert missing.status_code == 200 and any("zz:9" in m for m in message_texts(missing))
    assert graph.get_entity("a:1") is not None and graph.get_entity("a:2") is not None
    assert not CurationEvent.objects.filter(action="entity.merge").exists()


# --- delete -----------------------------------------------------------------------------------------------


def test_delete_confirms_what_goes_then_deletes(curator_client, graph):
    make_fact(head_id="a:2", tail_id="b:1", relation_type="MEMBER_OF")
    url = entity_page("b:1", "delete")
    confirm = curator_client.get(url)
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert "MEMBER_OF" in page and "HAS_TAG" in page and "<strong>2</strong> relations" in page
    assert "<strong>1</strong> extracted fact" in page
    assert graph.get_entity("b:1") is not None

    response = curator_client.post(url)
    assert response.status_code == 302
    assert graph.get_entity("b:1") is None and graph.get_relation("a:2", "MEMBER_OF", "b:1") is None
    event = CurationEvent.objects.get(action="entity.delete", target="b:1")
    assert sorted(event.before["relations_removed"]) == ["a:2|MEMBER_OF|b:1", "b:1|HAS_TAG|t:jazz"]
    assert ExtractedFact.objects.filter(tail_entity_id="b:1").exists()  # provenance rows stay


def test_deleting_a_missing_entity_is_a_message(curator_client, graph):
    for method in (curator_client.get, curator_client.post):
        response = method(entity_page("zz:404", "delete"))
        assert response.status_code == 302
        assert any("zz:404" in m for m in message_texts(response))
    assert not CurationEvent.objects.filter(action="entity.delete").exists()


# --- relations --------------------------------------------------------------------------------------------


def test_add_relation_picks_the_other_entity_by_search(curator_client, graph, curator):
    url = reverse("admin:kg_relation_add")
    picker = curator_client.get(url, {"entity": "a:1", "q": "second"}).content.decode()
    assert "Second Quintet" in picker and "other=b%3A1" in picker
    prefilled = curator_client.get(url, {"entity": "a:1", "other": "b:1"}).content.decode()
    assert 'value="b:1"' in prefilled

    response = curator_client.post(
        url,
        {
            "entity": "a:1",
            "type": "INFLUENCED",
            "direction": "in",
            "other": "b:1",
            "confidence": "0.6",
            "properties": '{"note": "liner notes"}',
        },
    )
    assert response.status_code == 302 and response["Location"] == entity_page("a:1")
    relation = graph.get_relation("b:1", "INFLUENCED", "a:1")
    assert (
        relation.source == "curator"
        and relation.confidence == pytest.approx(0.6)
        and dict(relation.properties) == {"note": "liner notes"}
    )
    assert CurationEvent.objects.get(action="relation.add").actor == curator


@pytest.mark.parametrize(
    "data, error",
    [
        ({"type": "influenced by", "other": "b:1"}, "upper snake case"),
        ({"type": "INFLUENCED", "other": "zz:404"}, "does not exist"),
        ({"type": "HAS_TAG", "other": "t:jazz"}, "already exists"),
        ({"type": "INFLUENCED", "other": "a:1"}, "to itself"),
        ({"type": "INFLUENCED", "other": "b:1", "properties": "{oops"}, "Properties are not valid JSON"),
        ({"type": "INFLUENCED", "other": "b:1", "confidence": "1.5"}, "less than or equal to 1"),
    ],
)
def test_add_relation_refuses_bad_input(curator_client, graph, data, error):
    payload = {"entity": "a:1", "direction": "out", "confidence": "1", "properties": "{}", **data}
    response = curator_client.post(reverse("admin:kg_relation_add"), payload)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert graph.get_relation("a:1", "INFLUENCED", "b:1") is None
    assert not CurationEvent.objects.filter(action="relation.add").exists()


def test_edit_relation_confidence_and_properties(curator_client, graph):
    url = reverse("admin:kg_relation_edit")
    key = {"head": "a:1", "relation": "HAS_TAG", "tail": "t:jazz", "entity": "a:1"}
    form = curator_client.get(url, key)
    assert form.status_code == 200 and "lastfm" in form.content.decode()
    response = curator_client.post(url, {**key, "type": "HAS_TAG", "confidence": "0.25", "properties": '{"weight": 3}'})
    assert response.status_code == 302 and response["Location"] == entity_page("a:1")
    relation = graph.get_relation("a:1", "HAS_TAG", "t:jazz")
    assert (
        relation.confidence == pytest.approx(0.25)
        and dict(relation.properties) == {"weight": 3}
        and relation.source == "lastfm"
    )
    event = CurationEvent.objects.get(action="relation.update")
    assert event.before["confidence"] == pytest.approx(0.8) and event.after["confidence"] == pytest.approx(0.25)


def test_changing_a_relation_type_replaces_it_in_one_step(curator_client, graph):
    url = reverse("admin:kg_relation_edit")
    key = {"head": "a:2", "relation": "MEMBER_OF", "tail": "b:1", "entity": "a:2"}
    response = curator_client.post(url, {**key, "type": "PLAYED_WITH", "confidence": "0.75", "properties": "{}"})
    assert response.status_code == 302
    assert graph.get_relation("a:2", "MEMBER_OF", "b:1") is None
    replaced = graph.get_relation("a:2", "PLAYED_WITH", "b:1")
    assert replaced.source == "ingestion:abc" and replaced.confidence == pytest.approx(0.75)
    event = CurationEvent.objects.get(action="relation.update")
    assert event.target == "a:2|PLAYED_WITH|b:1" and event.before["type"] == "MEMBER_OF"


@pytest.mark.parametrize(
    "data, error",
    [
        ({"type": "HAS_TAG"}, "already exists"),  # a:2 HAS_TAG t:jazz exists: retyping onto it is refused
        ({"type": "has tag"}, "upper snake case"),
        ({"type": "INFLUENCED", "properties": "[]"}, "must be a JSON object"),
        ({"type": "INFLUENCED", "confidence": "-1"}, "greater than or equal to 0"),
    ],
)
def test_edit_relation_refuses_bad_input(curator_client, graph, data, error):
    key = {"head": "a:2", "relation": "HAS_TAG", "tail": "t:jazz", "entity": "a:2"}
    graph.delete_relation("a:2", "HAS_TAG", "t:jazz")
    graph.upsert_relations(
        [
            RelationRecord(head="a:2", type="RELATED", tail="t:jazz"),
            RelationRecord(head="a:2", type="HAS_TAG", tail="t:jazz", source="lastfm"),
        ]
    )
    key["relation"] = "RELATED"
    response = curator_client.post(
        reverse("admin:kg_relation_edit"), {**key, "confidence": "0.5", "properties": "{}", **data}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert graph.get_relation("a:2", "RELATED", "t:jazz") is not None
    assert not CurationEvent.objects.filter(action="relation.update").exists()


class DeleteFails:
    """A store whose relation deletes fail (the backend going away half way through a change)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def delete_relation(self, head, type, tail):
        if type == "MEMBER_OF":
            raise StoreUnavailableError("graph went away (test)")
        return self.inner.delete_relation(head, type, tail)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_a_failed_retype_leaves_the_old_relation_and_nothing_else(graph, db):
    with pytest.raises(StoreUnavailableError):
        curation.update_relation(
            DeleteFails(graph),
            key=("a:2", "MEMBER_OF", "b:1"),
            new_type="PLAYED_WITH",
            confidence=0.7,
            properties={},
            actor=None,
        )
    assert graph.get_relation("a:2", "MEMBER_OF", "b:1") is not None
    assert graph.get_relation("a:2", "PLAYED_WITH", "b:1") is None
    assert not CurationEvent.objects.filter(action="relation.update").exists()


def test_remove_relation_confirms_then_removes(curator_client, graph):
    url = reverse("admin:kg_relation_remove")
    key = {"head": "b:1", "relation": "HAS_TAG", "tail": "t:jazz", "entity": "b:1"}
    confirm = curator_client.get(url, key)
    assert confirm.status_code == 200 and "Yes, remove it" in confirm.content.decode()
    response = curator_client.post(url, key)
    assert response.status_code == 302 and response["Location"] == entity_page("b:1")
    assert graph.get_relation("b:1", "HAS_TAG", "t:jazz") is None
    assert CurationEvent.objects.get(action="relation.remove").before["source"] == "lastfm"

    again = curator_client.post(url, key)
    assert again.status_code == 302 and any("does not exist" in m for m in message_texts(again))
    missing = curator_client.get(reverse("admin:kg_relation_edit"), {"head": "x", "relation": "bad type", "tail": "y"})
    assert missing.status_code == 302


# --- permissions ------------------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_admin_login(client, db):
    for url in ("/admin/kg/entity/", "/admin/kg/entity/add/", "/admin/kg/relation/", "/admin/kg/curationevent/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_learners_cannot_reach_the_admin(client, graph):
    learner = get_user_model().objects.create_user("learner", password=PASSWORD)
    client.force_login(learner)
    for url in ("/admin/", "/admin/kg/entity/", entity_page("a:1"), entity_page("a:1", "delete")):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.post(entity_page("a:1", "delete"))
    assert graph.get_entity("a:1") is not None


def test_staff_outside_the_curators_group_may_only_look(client, graph):
    staff = get_user_model().objects.create_user("staff", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/kg/entity/").status_code == 200
    page = client.get(entity_page("a:1"))
    assert page.status_code == 200 and "Merge duplicates" not in page.content.decode()
    assert client.get("/admin/kg/curationevent/").status_code == 200
    forbidden = [
        ("get", "/admin/kg/entity/add/", {}),
        ("post", "/admin/kg/entity/add/", {"id": "c:9", "type": "Concept", "name": "x"}),
        ("post", entity_page("a:1", "edit"), {"type": "Artist", "name": "Hacked"}),
        ("post", entity_page("a:1", "merge"), {"merge": "a:2"}),
        ("post", entity_page("b:1", "delete"), {}),
        (
            "post",
            reverse("admin:kg_relation_add"),
            {"entity": "a:1", "type": "X", "direction": "out", "other": "b:1", "confidence": "1"},
        ),
        ("post", reverse("admin:kg_relation_remove"), {"head": "a:1", "relation": "HAS_TAG", "tail": "t:jazz"}),
    ]
    for method, url, data in forbidden:
        assert getattr(client, method)(url, data).status_code == 403, url
    assert graph.get_entity("a:1").name == "Miles Davis" and graph.get_entity("b:1") is not None
    assert graph.get_entity("c:9") is None and graph.get_relation("a:1", "HAS_TAG", "t:jazz") is not None
    assert not CurationEvent.objects.exists()


def test_curators_and_superusers_get_the_full_admin(curator_client, client, graph):
    page = curator_client.get(entity_page("a:1")).content.decode()
    assert "Merge duplicates" in page and "Add relation" in page
    assert curator_client.get("/admin/kg/entity/add/").status_code == 200
    admin_user = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin_user)
    assert client.get(entity_page("a:1", "edit")).status_code == 200


# --- audit trail ------------------------------------------------------------------------------------------


def test_audit_trail_is_a_read_only_list_with_filters(curator_client, graph, curator):
    curator_client.post(entity_page("a:1", "edit"), {"type": "Artist", "name": "Miles", "properties": "{}"})
    curator_client.post(reverse("admin:kg_relation_remove"), {"head": "b:1", "relation": "HAS_TAG", "tail": "t:jazz"})
    listing = curator_client.get("/admin/kg/curationevent/")
    assert listing.status_code == 200 and "entity.update" in listing.content.decode()
    filtered = curator_client.get("/admin/kg/curationevent/", {"action": "relation.remove"}).content.decode()
    assert "b:1|HAS_TAG|t:jazz" in filtered
    assert (
        '<td class="field-action">relation.remove</td>' in filtered
        and '<td class="field-action">entity.update</td>' not in filtered
    )
    event = CurationEvent.objects.get(action="entity.update")
    detail = curator_client.get(reverse("admin:kg_curationevent_change", args=[event.pk]))
    assert detail.status_code == 200 and "Miles Davis" in detail.content.decode()
    assert curator_client.get("/admin/kg/curationevent/add/").status_code == 403
    assert (
        curator_client.post(reverse("admin:kg_curationevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert CurationEvent.objects.filter(pk=event.pk).exists()
