"""The review queue of extracted facts: approve, reject, correct (one by one and in bulk) on both graph backends.

Facts are made directly with the ORM (a document, two mentions, a fact), as ingestion would store them. The
admin builds its store from settings; ``admin_store`` points those at the backend of ``graph_store``.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.errors import CurationError, StoreUnavailableError
from curation import review
from curation import services as curation
from ingestion.graph_writes import put_facts_in_graph
from ingestion.models import ExtractedFact, ExtractedMention, IngestionJob, SourceDocument
from kg.models import CurationEvent
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.admin import PASSWORD, message_texts

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

QUEUE = "/admin/ingestion/extractedfact/"
#: Sentence 2 carries markup and an ampersand: the admin must show it as text, never as HTML.
TEXT = (
    "Liner notes. Tony Williams played drums in the Second Quintet. "
    'Herbie Hancock <script>alert("x")</script> & Ron Carter joined the Second Quintet too.'
)


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def admin_store(admin_store):
    """The shared ``admin_store`` (tests/conftest.py), holding the entities the facts below name."""
    admin_store.upsert_entities(
        [
            EntityRecord(id="p:tony", type="MusicalArtist", name="Tony Williams"),
            EntityRecord(id="p:herbie", type="MusicalArtist", name="Herbie Hancock"),
            EntityRecord(id="b:quintet", type="Band", name="Second Quintet"),
            EntityRecord(id="b:other", type="Band", name="Lifetime"),
            EntityRecord(id="i:drums", type="Instrument", name="drums"),
        ]
    )
    return admin_store


@pytest.fixture
def document(db):
    return SourceDocument.objects.create(
        sha256=hashlib.sha256(TEXT.encode()).hexdigest(),
        name="notes/quintet.txt",
        text=TEXT,
        sentences=3,
        model_versions={"relation": "re-2"},
    )


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence around a span: from after the previous ". " to the next ". " (or the end of the text)."""
    previous = text.rfind(". ", 0, start)
    following = text.find(". ", end)
    return (0 if previous < 0 else previous + 2, len(text) if following < 0 else following + 1)


def mention(
    document, surface: str, *, entity_id: str, label: str, entity_type: str, occurrence: int = 0
) -> ExtractedMention:
    start = -1
    for _ in range(occurrence + 1):
        start = document.text.index(surface, start + 1)
    found = ExtractedMention.objects.filter(document=document, start=start, end=start + len(surface)).first()
    return found or ExtractedMention.objects.create(
        document=document,
        sentence_index=document.text.count(". ", 0, start),
        start=start,
        end=start + len(surface),
        text=surface,
        label=label,
        entity_id=entity_id,
        entity_type=entity_type,
        entity_name=surface,
        link_method="exact",
        link_score=1.0,
    )


def fact(
    document,
    head_surface: str,
    head_id: str,
    relation_type: str,
    tail_surface: str,
    tail_id: str,
    *,
    confidence: float = 0.6,
    status: str = "pending",
    model: str = "re-2",
    tail_occurrence: int = 0,
) -> ExtractedFact:
    head = mention(document, head_surface, entity_id=head_id, label="ARTIST", entity_type="MusicalArtist")
    tail = mention(
        document, tail_surface, entity_id=tail_id, label="BAND", entity_type="Band", occurrence=tail_occurrence
    )
    start, end = sentence_bounds(document.text, min(head.start, tail.start), max(head.end, tail.end))
    return ExtractedFact.objects.create(
        document=document,
        sentence_index=head.sentence_index,
        sentence_start=start,
        sentence_end=end,
        head=head,
        tail=tail,
        relation_type=relation_type,
        head_entity_id=head_id,
        tail_entity_id=tail_id,
        confidence=confidence,
        model_versions={"ner": "ner-1", "relation": model},
        status=status,
    )


@pytest.fixture
def facts(document, admin_store):
    """Three pending facts (two sentences) and one fact ingestion accepted and wrote to the graph."""
    tony = fact(document, "Tony Williams", "p:tony", "MEMBER_OF", "Second Quintet", "b:quintet", confidence=0.62)
    herbie = fact(
        document,
        "Herbie Hancock",
        "p:herbie",
        "MEMBER_OF",
        "Second Quintet",
        "b:quintet",
        confidence=0.45,
        model="re-3",
        tail_occurrence=1,
    )
    proposed = fact(
        document,
        "Ron Carter",
        "new:ron-carter",
        "MEMBER_OF",
        "Second Quintet",
        "b:quintet",
        confidence=0.8,
        tail_occurrence=1,
    )
    accepted = fact(
        document,
        "Tony Williams",
        "p:tony",
        "ASSOCIATED_WITH",
        "Herbie Hancock",
        "p:herbie",
        confidence=0.95,
        status="accepted",
    )
    put_facts_in_graph([accepted], store=admin_store, action="fact.accept")
    return {"tony": tony, "herbie": herbie, "ron": proposed, "accepted": accepted}


def fact_url(f: ExtractedFact, view: str = "change") -> str:
    return reverse(f"admin:ingestion_extractedfact_{view}", args=[f.pk])


def result_ids(response) -> set[int]:
    return {f.pk for f in response.context["cl"].result_list}


# --- the queue list ---------------------------------------------------------------------------------------


def test_queue_lists_pending_facts_by_default_with_filters(curator_client, facts):
    response = curator_client.get(QUEUE)
    assert response.status_code == 200
    assert result_ids(response) == {facts["tony"].pk, facts["herbie"].pk, facts["ron"].pk}

    assert result_ids(curator_client.get(QUEUE, {"status": "all"})) == {f.pk for f in facts.values()}
    assert result_ids(curator_client.get(QUEUE, {"status": "accepted"})) == {facts["accepted"].pk}
    assert result_ids(curator_client.get(QUEUE, {"status": "all", "relation_type": "ASSOCIATED_WITH"})) == {
        facts["accepted"].pk
    }
    assert result_ids(curator_client.get(QUEUE, {"confidence": "lt50"})) == {facts["herbie"].pk}
    assert result_ids(curator_client.get(QUEUE, {"confidence": "50-70"})) == {facts["tony"].pk}
    assert result_ids(curator_client.get(QUEUE, {"model": "relation=re-3"})) == {facts["herbie"].pk}
    assert result_ids(curator_client.get(QUEUE, {"model": "relation=unknown"})) == set()
    assert result_ids(curator_client.get(QUEUE, {"document__id__exact": facts["tony"].document_id})) == {
        facts["tony"].pk,
        facts["herbie"].pk,
        facts["ron"].pk,
    }


def test_the_sentence_is_escaped_and_the_mentions_highlighted(curator_client, facts):
    herbie = facts["herbie"]
    html = str(review.sentence_html(ExtractedFact.objects.select_related("head", "tail", "document").get(pk=herbie.pk)))
    assert html.startswith(
        '<mark class="lm-head" title="head: p:herbie">Herbie Hancock</mark> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Ron Carter'
    )
    assert '<mark class="lm-tail" title="tail: b:quintet">Second Quintet</mark> too.' in html
    assert "<script>" not in html

    for url in (QUEUE, fact_url(herbie), fact_url(herbie, "correct")):
        page = curator_client.get(url).content.decode()
        assert '<script>alert("x")</script>' not in page, url
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page, url
        assert '<mark class="lm-head" title="head: p:herbie">Herbie Hancock</mark>' in page, url

    tony_page = curator_client.get(fact_url(facts["tony"])).content.decode()
    assert (
        '<mark class="lm-head" title="head: p:tony">Tony Williams</mark> played drums in the <mark class="lm-tail"'
        in tony_page
    )
    assert "Liner notes" not in tony_page  # only the fact's own sentence


# --- approve ----------------------------------------------------------------------------------------------


def test_approve_one_fact_writes_it_to_the_graph(curator_client, facts, admin_store, curator):
    tony = facts["tony"]
    response = curator_client.post(fact_url(tony, "approve"), {"note": "checked the liner notes"})
    assert response.status_code == 302 and response["Location"] == fact_url(tony)
    tony.refresh_from_db()
    assert (
        tony.status == "approved"
        and tony.decided_by == curator
        and tony.decided_at is not None
        and tony.note == "checked the liner notes"
    )
    relation = admin_store.get_relation("p:tony", "MEMBER_OF", "b:quintet")
    assert relation.source.startswith("ingestion:") and relation.properties["fact_id"] == tony.pk
    event = CurationEvent.objects.get(action="fact.approve")
    assert event.actor == curator and event.source == "admin" and event.target == "p:tony|MEMBER_OF|b:quintet"

    again = curator_client.post(fact_url(tony, "approve"), follow=True)
    assert again.status_code == 200
    assert any("already approved by curator" in m for m in message_texts(again))
    assert "already approved" in again.content.decode()


def test_approving_a_fact_about_a_new_entity_proposes_the_entity(curator_client, facts, admin_store):
    curator_client.post(fact_url(facts["ron"], "approve"))
    assert admin_store.get_entity("new:ron-carter").name == "Ron Carter"
    assert admin_store.get_relation("new:ron-carter", "MEMBER_OF", "b:quintet") is not None


def test_bulk_approve_skips_decided_facts_with_a_message(curator_client, facts, admin_store):
    facts["herbie"].status = "rejected"
    facts["herbie"].save()
    ids = [facts["tony"].pk, facts["herbie"].pk, facts["ron"].pk]
    response = curator_client.post(
        QUEUE + "?status=all", {"action": "approve_selected", "_selected_action": ids}, follow=True
    )
    assert response.status_code == 200
    texts = message_texts(response)
    assert any("Approved 2 fact(s)" in m for m in texts) and any("already rejected" in m for m in texts)
    statuses = dict(ExtractedFact.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {facts["tony"].pk: "approved", facts["herbie"].pk: "rejected", facts["ron"].pk: "approved"}
    assert admin_store.get_relation("p:herbie", "MEMBER_OF", "b:quintet") is None


# --- reject -----------------------------------------------------------------------------------------------


def test_reject_keeps_the_row_and_writes_nothing(curator_client, facts, admin_store):
    herbie = facts["herbie"]
    curator_client.post(fact_url(herbie, "reject"), {"note": "he joined later"})
    herbie.refresh_from_db()
    assert herbie.status == "rejected" and herbie.note == "he joined later"
    assert admin_store.get_relation("p:herbie", "MEMBER_OF", "b:quintet") is None
    assert CurationEvent.objects.get(action="fact.reject").after["status"] == "rejected"


def test_rejecting_an_auto_accepted_fact_removes_the_relation_only_ingestion_wrote(curator_client, facts, admin_store):
    accepted = facts["accepted"]
    assert admin_store.get_relation(*accepted.triple) is not None
    response = curator_client.post(
        QUEUE + "?status=accepted", {"action": "reject_selected", "_selected_action": [accepted.pk]}, follow=True
    )
    assert any("were removed from the graph" in m for m in message_texts(response))
    accepted.refresh_from_db()
    assert accepted.status == "rejected"
    assert admin_store.get_relation(*accepted.triple) is None
    assert CurationEvent.objects.filter(action="relation.remove", target="p:tony|ASSOCIATED_WITH|p:herbie").exists()


def test_rejection_keeps_a_relation_another_source_or_fact_supports(facts, admin_store, document, curator):
    accepted = facts["accepted"]
    # an accepted fact from another document states the same triple
    text = "Tony Williams toured with Herbie Hancock."
    other = SourceDocument.objects.create(sha256=hashlib.sha256(text.encode()).hexdigest(), name="tour.txt", text=text)
    fact(other, "Tony Williams", "p:tony", "ASSOCIATED_WITH", "Herbie Hancock", "p:herbie", status="accepted")
    review.reject_facts([accepted.pk], store=admin_store, actor=curator)
    assert admin_store.get_relation(*accepted.triple) is not None

    # a relation a loader wrote is never removed by a rejection
    admin_store.upsert_relations([RelationRecord(head="p:tony", type="PLAYS", tail="i:drums", source="lastfm")])
    loader_fact = fact(document, "Tony Williams", "p:tony", "PLAYS", "drums", "i:drums", status="accepted")
    review.reject_facts([loader_fact.pk], store=admin_store, actor=curator)
    assert admin_store.get_relation("p:tony", "PLAYS", "i:drums").source == "lastfm"


# --- correct ----------------------------------------------------------------------------------------------


def test_correct_the_relation_type_keeps_the_original(curator_client, facts, admin_store, curator):
    tony = facts["tony"]
    page = curator_client.get(fact_url(tony, "correct"))
    assert page.status_code == 200 and 'value="MEMBER_OF"' in page.content.decode()
    response = curator_client.post(
        fact_url(tony, "correct"),
        {"relation_type": "PLAYED_IN", "head_entity_id": "p:tony", "tail_entity_id": "b:quintet", "note": "sideman"},
    )
    assert response.status_code == 302 and response["Location"] == fact_url(tony)
    tony.refresh_from_db()
    assert tony.status == "corrected" and tony.relation_type == "PLAYED_IN" and tony.decided_by == curator
    assert tony.original["relation_type"] == "MEMBER_OF" and tony.original["status"] == "pending"
    assert admin_store.get_relation("p:tony", "PLAYED_IN", "b:quintet") is not None
    assert admin_store.get_relation("p:tony", "MEMBER_OF", "b:quintet") is None
    assert {e.action for e in CurationEvent.objects.all()} >= {"fact.correct"}
    detail = curator_client.get(fact_url(tony)).content.decode()
    assert "As extracted" in detail and "already corrected" in detail


def test_correct_the_tail_by_search_or_as_a_new_entity(curator_client, facts, admin_store):
    herbie, ron = facts["herbie"], facts["ron"]
    picker = curator_client.get(fact_url(herbie, "correct"), {"q": "lifet"}).content.decode()
    assert "Lifetime" in picker and "tail=b%3Aother" in picker
    prefilled = curator_client.get(fact_url(herbie, "correct"), {"tail": "b:other"}).content.decode()
    assert 'value="b:other"' in prefilled

    curator_client.post(
        fact_url(herbie, "correct"),
        {"relation_type": "MEMBER_OF", "head_entity_id": "p:herbie", "tail_entity_id": "b:other"},
    )
    herbie.refresh_from_db()
    assert (
        herbie.status == "corrected"
        and herbie.tail_entity_id == "b:other"
        and herbie.original["tail_entity_id"] == "b:quintet"
    )
    assert admin_store.get_relation("p:herbie", "MEMBER_OF", "b:other") is not None

    curator_client.post(
        fact_url(ron, "correct"),
        {
            "relation_type": "MEMBER_OF",
            "head_entity_id": "new:ron-carter",
            "new_head_name": "Ron Carter",
            "new_head_type": "MusicalArtist",
            "tail_entity_id": "b:quintet",
        },
    )
    ron.refresh_from_db()
    assert ron.status == "corrected" and ron.head_entity_id == "curated:ron-carter"
    assert admin_store.get_entity("curated:ron-carter").type == "MusicalArtist"
    assert admin_store.get_relation("curated:ron-carter", "MEMBER_OF", "b:quintet") is not None
    assert admin_store.get_entity("new:ron-carter") is None


@pytest.mark.parametrize(
    "data, error",
    [
        ({"relation_type": "member of"}, "upper snake case"),
        ({"relation_type": "NONE"}, "reject the fact instead"),
        ({"relation_type": "MEMBER_OF"}, "Nothing was changed"),
        ({"relation_type": "MEMBER_OF", "tail_entity_id": "zz:404"}, "does not exist"),
        ({"relation_type": "MEMBER_OF", "tail_entity_id": "p:tony"}, "same entity"),
        ({"relation_type": "MEMBER_OF", "tail_entity_id": ""}, "Pick the tail entity"),
        ({"relation_type": "MEMBER_OF", "new_tail_name": "Lifetime II"}, "Give the new tail entity a type"),
        ({"relation_type": "MEMBER_OF", "new_tail_name": "Lifetime II", "new_tail_type": "band"}, "capitalised word"),
    ],
)
def test_bad_corrections_are_form_errors_and_leave_the_fact_pending(curator_client, facts, admin_store, data, error):
    tony = facts["tony"]
    payload = {"head_entity_id": "p:tony", "tail_entity_id": "b:quintet", **data}
    response = curator_client.post(fact_url(tony, "correct"), payload)
    assert response.status_code == 200
    assert error in response.content.decode()
    tony.refresh_from_db()
    assert tony.status == "pending" and tony.relation_type == "MEMBER_OF" and tony.original == {}
    assert not CurationEvent.objects.filter(action__in=["fact.correct", "entity.create"]).exists()


def test_correcting_a_decided_fact_is_refused(curator_client, facts, admin_store, curator):
    review.reject_facts([facts["tony"].pk], store=admin_store, actor=curator)
    response = curator_client.get(fact_url(facts["tony"], "correct"), follow=True)
    assert any("already rejected" in m for m in message_texts(response))
    with pytest.raises(CurationError, match="already rejected"):
        review.correct_fact(
            facts["tony"].pk,
            store=admin_store,
            actor=curator,
            relation_type="PLAYED_IN",
            head_entity_id="p:tony",
            tail_entity_id="b:quintet",
        )


def test_correcting_an_auto_accepted_fact_moves_its_relation(facts, admin_store, curator):
    accepted = facts["accepted"]
    review.correct_fact(
        accepted.pk,
        store=admin_store,
        actor=curator,
        relation_type="PLAYED_WITH",
        head_entity_id="p:tony",
        tail_entity_id="p:herbie",
    )
    assert admin_store.get_relation("p:tony", "ASSOCIATED_WITH", "p:herbie") is None
    assert admin_store.get_relation("p:tony", "PLAYED_WITH", "p:herbie") is not None
    accepted.refresh_from_db()
    assert accepted.status == "corrected" and accepted.original["status"] == "accepted"


# --- graph failures ---------------------------------------------------------------------------------------


class UpsertFails:
    """The configured store, except that writing relations fails (the backend going away mid-decision)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def upsert_relations(self, *args, **kwargs):
        raise StoreUnavailableError("The graph store went away (test).")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_a_graph_failure_leaves_the_fact_pending(facts, admin_store, curator):
    failing = UpsertFails(admin_store)
    with pytest.raises(StoreUnavailableError):
        review.approve_facts([facts["ron"].pk], store=failing, actor=curator)
    with pytest.raises(StoreUnavailableError):
        review.correct_fact(
            facts["ron"].pk,
            store=failing,
            actor=curator,
            relation_type="MEMBER_OF",
            head_entity_id="",
            new_head=review.NewEntity(type="MusicalArtist", name="Ron Carter"),
            tail_entity_id="b:quintet",
        )
    ron = ExtractedFact.objects.get(pk=facts["ron"].pk)
    assert ron.status == "pending" and ron.decided_by is None and ron.original == {}
    assert admin_store.get_entity("new:ron-carter") is None  # the proposed entity was taken back
    assert admin_store.get_entity("curated:ron-carter") is None  # so was the curator's new entity
    assert not CurationEvent.objects.filter(action__in=["fact.approve", "fact.correct", "entity.create"]).exists()


def test_a_graph_failure_in_the_admin_is_a_message(curator_client, facts, admin_store, monkeypatch):
    monkeypatch.setattr(curation, "curator_store", lambda: UpsertFails(admin_store))
    response = curator_client.post(fact_url(facts["tony"], "approve"), follow=True)
    assert response.status_code == 200
    assert any("Nothing was decided" in m and "went away" in m for m in message_texts(response))
    bulk = curator_client.post(
        QUEUE, {"action": "approve_selected", "_selected_action": [facts["tony"].pk, facts["herbie"].pk]}, follow=True
    )
    assert bulk.status_code == 200
    assert ExtractedFact.objects.filter(status="pending").count() == 3
    assert admin_store.get_relation("p:tony", "MEMBER_OF", "b:quintet") is None


# --- permissions ------------------------------------------------------------------------------------------


def test_staff_outside_the_group_can_read_the_queue_but_not_decide(client, facts, admin_store):
    staff = get_user_model().objects.create_user("staff", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    queue = client.get(QUEUE)
    assert queue.status_code == 200 and "approve_selected" not in queue.content.decode()
    detail = client.get(fact_url(facts["tony"]))
    assert detail.status_code == 200 and "Approve</button>" not in detail.content.decode()
    for view in ("approve", "reject", "correct"):
        assert client.post(fact_url(facts["tony"], view), {"relation_type": "X"}).status_code == 403
    client.post(QUEUE, {"action": "approve_selected", "_selected_action": [facts["tony"].pk]})
    assert ExtractedFact.objects.get(pk=facts["tony"].pk).status == "pending"


def test_anonymous_and_learners_never_reach_the_queue(client, facts):
    assert "/admin/login/" in client.get(QUEUE)["Location"]
    learner = get_user_model().objects.create_user("learner", password=PASSWORD)
    client.force_login(learner)
    response = client.post(fact_url(facts["tony"], "approve"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert ExtractedFact.objects.get(pk=facts["tony"].pk).status == "pending"


def test_a_missing_fact_is_a_message(curator_client, facts):
    response = curator_client.post(reverse("admin:ingestion_extractedfact_approve", args=[999999]), follow=True)
    assert response.status_code == 200 and any("does not exist" in m for m in message_texts(response))
    assert curator_client.get(reverse("admin:ingestion_extractedfact_correct", args=[999999])).status_code == 302


# --- documents and jobs -----------------------------------------------------------------------------------


def test_documents_and_jobs_are_read_only(curator_client, facts, document):
    job = IngestionJob.objects.create(origin="cli", summary={"documents": 1})
    document.job = job
    document.save()
    listing = curator_client.get("/admin/ingestion/sourcedocument/")
    assert listing.status_code == 200 and "notes/quintet.txt" in listing.content.decode()
    detail = curator_client.get(reverse("admin:ingestion_sourcedocument_change", args=[document.pk]))
    page = detail.content.decode()
    assert detail.status_code == 200 and "Herbie Hancock" in page and "p:herbie" in page and "&lt;script&gt;" in page
    assert '<script>alert("x")</script>' not in page
    assert curator_client.get("/admin/ingestion/ingestionjob/").status_code == 200
    assert curator_client.get(reverse("admin:ingestion_ingestionjob_change", args=[job.pk])).status_code == 200
    for url in (
        "/admin/ingestion/sourcedocument/add/",
        "/admin/ingestion/ingestionjob/add/",
        "/admin/ingestion/extractedfact/add/",
    ):
        assert curator_client.get(url).status_code == 403
    assert (
        curator_client.post(
            reverse("admin:ingestion_sourcedocument_delete", args=[document.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


# --- training export --------------------------------------------------------------------------------------


def test_export_review_decisions_writes_training_examples(facts, admin_store, curator, tmp_path):
    review.approve_facts([facts["tony"].pk], store=admin_store, actor=curator)
    review.reject_facts([facts["herbie"].pk], store=admin_store, actor=curator, note="joined later")
    review.correct_fact(
        facts["ron"].pk,
        store=admin_store,
        actor=curator,
        relation_type="MEMBER_OF",
        head_entity_id="p:herbie",
        tail_entity_id="b:quintet",
    )
    out = tmp_path / "decisions.jsonl"
    call_command("export_review_decisions", str(out), "--no-progress")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["fact_id"] for r in rows] == sorted([facts["tony"].pk, facts["herbie"].pk, facts["ron"].pk])
    by_decision = {r["decision"]: r for r in rows}
    tony = by_decision["approved"]
    assert tony["sentence"] == "Tony Williams played drums in the Second Quintet."
    assert tony["sentence"][tony["head"]["start"] : tony["head"]["end"]] == "Tony Williams"
    assert tony["sentence"][tony["tail"]["start"] : tony["tail"]["end"]] == "Second Quintet"
    assert tony["label"] == "MEMBER_OF" and tony["positive"] is True and tony["decided_by"] == "curator"
    rejected = by_decision["rejected"]
    assert (
        rejected["positive"] is False
        and rejected["note"] == "joined later"
        and rejected["sentence"].startswith("Herbie Hancock <script>")
    )
    corrected = by_decision["corrected"]
    assert corrected["head"]["entity_id"] == "p:herbie" and corrected["original"]["head_entity_id"] == "new:ron-carter"

    only_rejected = tmp_path / "neg.jsonl"
    call_command("export_review_decisions", str(only_rejected), "--status", "rejected", "--no-progress")
    assert len(only_rejected.read_text().splitlines()) == 1

    with pytest.raises(CommandError, match="is not a directory"):
        call_command("export_review_decisions", str(tmp_path / "missing" / "x.jsonl"), "--no-progress")
