"""The grouped review queue: ordering by value, one row per claim, group/batch decisions, link candidates, audit.

A small graph (B.B. King as a Last.FM artist, Tony Williams, Miles Davis, instruments, a band) and one
document whose facts cover each case: a proposed entity that an existing artist matches ("B.B. King played
guitar"), one claim made by two sentences, a claim the graph already holds, a pair already joined by
another relation. Facts are made with the ORM, as ingestion stores them. Every test runs on both graph
backends (``admin_store``).
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.urls import reverse

from core.errors import CurationError, UnknownEntityError
from curation import review
from ingestion.models import ExtractedFact, ExtractedMention, SourceDocument
from kg.models import CurationEvent
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.admin import PASSWORD, message_texts

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

QUEUE = "/admin/ingestion/extractedfact/"
BB_PROPOSAL = "leitmotif:extracted:musicalartist:b-b-king"
TEXT = (
    "B.B. King played guitar on every record. "
    "Tony Williams played drums with Miles Davis. "
    "Tony Williams played drums in Paris. "
    "Tony Williams joined the Second Quintet. "
    "Miles Davis led the Second Quintet."
)


@pytest.fixture
def world(admin_store):
    admin_store.upsert_entities(
        [
            EntityRecord(id="lastfm:artist:7056", type="Artist", name="B.B. King"),
            EntityRecord(id="lastfm:artist:1", type="Artist", name="Tony Williams"),
            EntityRecord(id="fb:miles", type="MusicalArtist", name="Miles Davis"),
            EntityRecord(id="i:guitar", type="Instrument", name="guitar"),
            EntityRecord(id="i:drums", type="Instrument", name="drums"),
            EntityRecord(id="b:quintet", type="MusicalArtist", name="Second Quintet"),
            EntityRecord(id="t:jazz", type="Tag", name="jazz"),
            EntityRecord(id="t:blues", type="Tag", name="blues"),
        ]
    )
    admin_store.upsert_relations(
        [
            RelationRecord(head="lastfm:artist:7056", type="HAS_TAG", tail="t:blues", source="test"),
            RelationRecord(head="lastfm:artist:1", type="HAS_TAG", tail="t:jazz", source="test"),
            RelationRecord(head="fb:miles", type="HAS_TAG", tail="t:jazz", source="test"),
            RelationRecord(head="lastfm:artist:1", type="MEMBER_OF", tail="b:quintet", source="test"),
            RelationRecord(head="lastfm:artist:1", type="PERFORMED_WITH", tail="fb:miles", source="test"),
        ]
    )
    return admin_store


@pytest.fixture
def document(db):
    return SourceDocument.objects.create(
        sha256=hashlib.sha256(TEXT.encode()).hexdigest(), name="notes/players.txt", text=TEXT, sentences=5
    )


def _mention(document, surface, occurrence, *, entity_id, label, entity_type, method="exact"):
    start = -1
    for _ in range(occurrence + 1):
        start = document.text.index(surface, start + 1)
    mention, _ = ExtractedMention.objects.get_or_create(
        document=document,
        start=start,
        end=start + len(surface),
        defaults=dict(
            sentence_index=document.text.count(". ", 0, start),
            text=surface,
            label=label,
            entity_id=entity_id,
            entity_type=entity_type,
            entity_name=surface,
            link_method=method,
            link_score=1.0 if method != "new" else 0.0,
        ),
    )
    return mention


def _fact(document, head, relation_type, tail, confidence, *, status="pending", model="bilstm-x"):
    start = document.text.rfind(". ", 0, head.start)
    start = 0 if start < 0 else start + 2
    end = document.text.find(". ", max(head.end, tail.end))
    end = len(document.text) if end < 0 else end + 1
    return ExtractedFact.objects.create(
        document=document,
        sentence_index=head.sentence_index,
        sentence_start=start,
        sentence_end=end,
        head=head,
        tail=tail,
        relation_type=relation_type,
        head_entity_id=head.entity_id,
        tail_entity_id=tail.entity_id,
        confidence=confidence,
        model_versions={"ner": "ner-1", "relation": model},
        status=status,
    )


@pytest.fixture
def facts(world, document):
    d = document
    bb = _mention(d, "B.B. King", 0, entity_id=BB_PROPOSAL, label="ARTIST", entity_type="MusicalArtist", method="new")
    guitar = _mention(d, "guitar", 0, entity_id="i:guitar", label="INSTRUMENT", entity_type="Instrument")
    tony = [
        _mention(d, "Tony Williams", i, entity_id="lastfm:artist:1", label="ARTIST", entity_type="Artist")
        for i in range(3)
    ]
    drums = [
        _mention(d, "drums", i, entity_id="i:drums", label="INSTRUMENT", entity_type="Instrument") for i in range(2)
    ]
    miles = [
        _mention(d, "Miles Davis", i, entity_id="fb:miles", label="ARTIST", entity_type="MusicalArtist")
        for i in range(2)
    ]
    quintet = [
        _mention(d, "Second Quintet", i, entity_id="b:quintet", label="BAND", entity_type="MusicalArtist")
        for i in range(2)
    ]
    return {
        "bb": _fact(d, bb, "INSTRUMENTS_PLAYED", guitar, 0.9),
        "drums1": _fact(d, tony[0], "INSTRUMENTS_PLAYED", drums[0], 0.7),
        "drums2": _fact(d, tony[1], "INSTRUMENTS_PLAYED", drums[1], 0.8),
        "with_miles": _fact(d, tony[0], "ASSOCIATED_WITH", miles[0], 0.9),
        "tony_quintet": _fact(d, tony[2], "MEMBER_OF", quintet[0], 0.95),
        "miles_quintet": _fact(d, miles[1], "MEMBER_OF", quintet[1], 0.6),
    }


@pytest.fixture
def curator_user(curator):
    return curator


def pending() -> QuerySet:
    return ExtractedFact.objects.filter(status="pending")


# --- selectors: ordering, de-duplication, candidates --------------------------------------------------------


def test_one_group_per_claim_most_valuable_first(facts, world):
    groups = review.fact_groups(pending(), store=world)
    by_lead = {g.lead_id: g for g in groups}
    assert len(groups) == 5  # six rows, the two "Tony Williams plays drums" sentences are one claim
    drums = by_lead[facts["drums2"].pk]  # the more confident sentence leads
    assert drums.fact_ids == [facts["drums2"].pk, facts["drums1"].pk] and drums.sources == 2
    assert drums.confidence == pytest.approx(0.8) and drums.relation_words == "plays"

    in_graph = by_lead[facts["tony_quintet"].pk]
    assert in_graph.in_graph and in_graph.novelty == review.NOVELTY_IN_GRAPH
    assert groups[-1] is in_graph  # the most confident fact, but the graph already says it
    linked = by_lead[facts["with_miles"].pk]
    assert linked.pair_linked and linked.novelty == review.NOVELTY_PAIR_LINKED
    for group in groups:
        assert group.value == pytest.approx(group.confidence * group.novelty * (0.3 + 0.7 * group.reach), abs=1e-4)
    assert [g.value for g in groups] == sorted((g.value for g in groups), reverse=True)
    bb = by_lead[facts["bb"].pk]
    assert bb.head is None and bb.reach < drums.reach  # a name not in the graph reaches nobody yet


def test_the_page_carries_sentences_and_candidates_for_unlinked_names(facts, world):
    page = review.review_page(pending(), store=world, per_page=2)
    assert page.total_groups == 5 and page.total_facts == 6 and page.pages == 3
    everything = [g for n in (1, 2, 3) for g in review.review_page(pending(), store=world, page=n, per_page=2).groups]
    bb = next(g for g in everything if g.lead_id == facts["bb"].pk)
    assert bb.unlinked_ends == ["head"] and bb.end_text("head") == "B.B. King"
    best = bb.candidates["head"][0]
    assert best.entity.id == "lastfm:artist:7056" and best.strong
    assert "Band" not in bb.new_types["head"] and bb.new_types["head"][0] == "MusicalArtist"
    drums = next(g for g in everything if g.lead_id == facts["drums2"].pk)
    assert [f.pk for f in drums.facts] == drums.fact_ids and drums.candidates == {}


def test_link_candidates_rank_close_names_and_respect_types(world):
    found = review.link_candidates(world, text="B.B. King", types=("Artist", "MusicalArtist", "Person"))
    assert found[0].entity.id == "lastfm:artist:7056" and found[0].strong
    assert review.link_candidates(world, text="B.B. King", types=("Instrument",)) == []
    assert review.link_candidates(world, text="  ", types=None) == []
    reordered = review.link_candidates(world, text="Williams, Tony", types=None)  # found by its last word
    assert reordered[0].entity.id == "lastfm:artist:1" and reordered[0].strong
    weak = review.link_candidates(
        world, text="Miles", types=None
    )  # offered, but not close enough to block a new entity
    assert [c.entity.id for c in weak] == ["fb:miles"] and not weak[0].strong


def test_new_entity_types_come_from_the_graph_schema(facts):
    quintet = facts["miles_quintet"]  # tail mention labelled BAND: ingestion would propose the made-up "Band"
    types = review.new_entity_types(quintet, "tail")
    assert "Band" not in types and types[0] == "MusicalArtist"
    assert set(types) <= review.SCHEMA_ENTITY_TYPES and not set(types) & review.CATALOGUE_TYPES


# --- the B.B. King bug: approving never creates a look-alike entity of a made-up type ----------------------


def test_approving_a_name_an_existing_artist_matches_is_refused_with_the_candidate(facts, world, curator):
    report = review.approve_facts([facts["bb"].pk], store=world, actor=curator)
    assert report.decided == []
    assert "lastfm:artist:7056" in report.skipped[0][1] and "link it" in report.skipped[0][1]
    assert world.get_entity(BB_PROPOSAL) is None
    assert ExtractedFact.objects.get(pk=facts["bb"].pk).status == "pending"


def test_link_to_the_candidate_then_approve_writes_the_artist_relation(facts, world, curator):
    bb = facts["bb"]
    report = review.link_fact_end(bb.pk, end="head", store=world, actor=curator, entity_id="lastfm:artist:7056")
    assert report.facts == [bb.pk] and not report.created
    bb.refresh_from_db()
    assert bb.head_entity_id == "lastfm:artist:7056" and bb.status == "pending"
    assert bb.original["head_entity_id"] == BB_PROPOSAL
    event = CurationEvent.objects.get(action="fact.link")
    assert (
        event.actor == curator
        and event.target == BB_PROPOSAL
        and (event.after or {})["entity_id"] == "lastfm:artist:7056"
    )

    stats = world.stats()
    review.approve_facts([bb.pk], store=world, actor=curator)
    assert world.get_relation("lastfm:artist:7056", "INSTRUMENTS_PLAYED", "i:guitar") is not None
    assert world.get_entity(BB_PROPOSAL) is None and world.stats().entities == stats.entities


def test_creating_the_entity_explicitly_uses_a_schema_type(facts, world, curator):
    report = review.link_fact_end(
        facts["bb"].pk, end="head", store=world, actor=curator, new_type="MusicalArtist", new_name="B. B. King"
    )
    assert report.created and report.entity.id == "curated:b-b-king"
    assert world.get_entity("curated:b-b-king").type == "MusicalArtist"
    assert CurationEvent.objects.filter(action="entity.create", target="curated:b-b-king").count() == 1
    review.approve_facts([facts["bb"].pk], store=world, actor=curator)
    assert world.get_relation("curated:b-b-king", "INSTRUMENTS_PLAYED", "i:guitar") is not None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"entity_id": "i:drums"}, CurationError, "is of type Instrument, but the head of 'plays' must be"),
        ({"entity_id": "zz:404"}, UnknownEntityError, "does not exist"),
        ({"new_type": "Band"}, CurationError, "is not a type for the head"),
        ({"new_type": "Artist"}, CurationError, "is not a type for the head"),
        ({}, CurationError, "Pick a candidate"),
        ({"end": "middle", "entity_id": "lastfm:artist:7056"}, CurationError, "Unknown end"),
        ({"end": "tail", "entity_id": "i:guitar"}, CurationError, "already linked to i:guitar"),
    ],
)
def test_bad_links_are_refused_and_change_nothing(facts, world, curator, kwargs, error, message):
    kwargs = {"end": "head", **kwargs}
    with pytest.raises(error, match=message):
        review.link_fact_end(facts["bb"].pk, store=world, actor=curator, **kwargs)
    facts["bb"].refresh_from_db()
    assert facts["bb"].head_entity_id == BB_PROPOSAL and facts["bb"].original == {}
    assert not CurationEvent.objects.filter(action__in=["fact.link", "entity.create"]).exists()


def test_linking_a_decided_or_accepted_fact_is_refused(facts, world, curator):
    review.reject_facts([facts["bb"].pk], store=world, actor=curator)
    with pytest.raises(CurationError, match="already rejected"):
        review.link_fact_end(facts["bb"].pk, end="head", store=world, actor=curator, entity_id="lastfm:artist:7056")
    ExtractedFact.objects.filter(pk=facts["drums1"].pk).update(status="accepted")
    with pytest.raises(CurationError, match="use Correct"):
        review.link_fact_end(facts["drums1"].pk, end="tail", store=world, actor=curator, entity_id="i:guitar")


def test_a_new_name_without_any_candidate_is_created_with_a_schema_type_on_approval(facts, world, document, curator):
    d = document
    stranger = _mention(d, "Paris", 0, entity_id="leitmotif:extracted:band:paris", label="BAND", entity_type="Band")
    tony = ExtractedMention.objects.get(
        document=d, text="Tony Williams", start=d.text.index("Tony Williams played drums in")
    )
    fact = _fact(d, tony, "MEMBER_OF", stranger, 0.5)
    report = review.approve_facts([fact.pk], store=world, actor=curator)
    assert report.decided == [fact.pk]
    created = world.get_entity("leitmotif:extracted:band:paris")
    assert created.type == "MusicalArtist"  # never the made-up "Band"


# --- group and batch decisions, audit -----------------------------------------------------------------------


def test_a_decision_on_a_group_reaches_every_sentence(facts, world, curator):
    report = review.decide_groups([facts["drums2"].pk], decision="approve", store=world, actor=curator)
    assert sorted(report.decided) == sorted([facts["drums1"].pk, facts["drums2"].pk])
    assert world.get_relation("lastfm:artist:1", "INSTRUMENTS_PLAYED", "i:drums") is not None
    assert CurationEvent.objects.filter(action="fact.approve", actor=curator).count() == 2

    again = review.decide_groups([facts["drums2"].pk], decision="reject", store=world, actor=curator)
    assert again.decided == [] and "already approved by curator" in again.skipped[0][1]


@pytest.mark.parametrize(
    "leads, decision, message",
    [
        ([], "approve", "Select at least one fact"),
        (["12x"], "approve", "not a fact id"),
        (["1"], "keep", "approve or reject"),
    ],
)
def test_bad_group_decisions_are_refused(facts, world, curator, leads, decision, message):
    with pytest.raises(CurationError, match=message):
        review.decide_groups(leads, decision=decision, store=world, actor=curator)
    assert pending().count() == 6


def test_batch_reject_by_relation_is_confirmed_and_audited(facts, world, curator):
    preview = review.batch_preview(decision="reject", relation_type="MEMBER_OF", store=world)
    assert preview.facts == 2 and len(preview.groups) == 2

    with pytest.raises(CurationError, match="queue changed"):
        review.batch_decide(decision="reject", relation_type="MEMBER_OF", expected=3, store=world, actor=curator)
    assert pending().count() == 6

    report = review.batch_decide(decision="reject", relation_type="MEMBER_OF", expected=2, store=world, actor=curator)
    assert sorted(report.decided) == sorted([facts["tony_quintet"].pk, facts["miles_quintet"].pk])
    assert world.get_relation("lastfm:artist:1", "MEMBER_OF", "b:quintet") is not None  # another source's relation
    batch = CurationEvent.objects.get(action="fact.batch_reject")
    assert batch.actor == curator and batch.target == "relation:MEMBER_OF" and (batch.before or {})["confirmed"] == 2
    assert sorted((batch.after or {})["decided"]) == sorted(report.decided)
    assert CurationEvent.objects.filter(action="fact.reject").count() == 2

    with pytest.raises(CurationError, match="nothing to reject"):
        review.batch_preview(decision="reject", relation_type="MEMBER_OF", store=world)


def test_batch_approve_by_entity_never_creates_entities(facts, world, curator):
    report = review.batch_decide(
        decision="approve", relation_type="INSTRUMENTS_PLAYED", expected=3, store=world, actor=curator
    )
    assert sorted(report.decided) == sorted([facts["drums1"].pk, facts["drums2"].pk])
    assert [pk for pk, _ in report.skipped] == [facts["bb"].pk] and "not in the graph yet" in report.skipped[0][1]
    assert world.get_entity(BB_PROPOSAL) is None

    by_entity = review.batch_decide(decision="reject", entity_id="fb:miles", expected=2, store=world, actor=curator)
    assert sorted(by_entity.decided) == sorted([facts["with_miles"].pk, facts["miles_quintet"].pk])
    assert CurationEvent.objects.get(action="fact.batch_reject").target == "fb:miles"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "needs a relation or an entity"),
        ({"relation_type": "WON_AWARD"}, "nothing to approve"),
        ({"entity_id": "nobody"}, "nothing to approve"),
    ],
)
def test_empty_batches_are_refused(facts, world, curator, kwargs, message):
    with pytest.raises(CurationError, match=message):
        review.batch_decide(decision="approve", expected=None, store=world, actor=curator, **kwargs)
    with pytest.raises(CurationError, match=message):
        review.batch_preview(decision="approve", store=world, **kwargs)


# --- measured precision per model version -------------------------------------------------------------------


def test_precision_per_model_version_or_not_measured(settings, tmp_path):
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path)
    version = "bilstm-20261207T100000.000000Z-0123456789ab"
    folder = tmp_path / "relations" / version
    folder.mkdir(parents=True)
    table = {
        "crossre": [
            {"threshold": 0.5, "accepted": 40, "precision": 0.61},
            {"threshold": 0.6, "accepted": 30, "precision": 0.66},
            {"threshold": 0.9, "accepted": 10, "precision": 0.82},
        ]
    }
    (folder / "manifest.json").write_text(json.dumps({"precision_at_confidence": table}))
    found = {m.version: m for m in review.relation_model_precision([version, "re-2", "bilstm-old", ""])}
    assert set(found) == {version, "re-2", "bilstm-old"}
    assert found[version].rows == [("crossre", 0.5, 0.61), ("crossre", 0.9, 0.82)]  # the thresholds curators set
    assert not found["re-2"].measured and not found["bilstm-old"].measured  # shown as "not measured"


# --- the admin: the grouped page, decisions, links, batches, bad input --------------------------------------


def test_the_queue_page_shows_one_row_per_claim(curator_client, facts, world):
    page = curator_client.get(QUEUE)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="lm-row"') == 5
    assert "Measured precision" in html and "not measured" in html
    assert f'value="head|{facts["bb"].pk}|lastfm:artist:7056"' in html  # the candidate button
    assert 'id="lm-row-' in html and "curation/review.js" in html
    assert {row.pk for row in page.context["cl"].result_list} == set(pending().values_list("pk", flat=True))
    second = curator_client.get(QUEUE, {"relation_type__exact": "INSTRUMENTS_PLAYED"}).content.decode()
    assert second.count('class="lm-row"') == 2


def test_admin_decide_link_and_batch(curator_client, facts, world, curator):
    decide = reverse("admin:ingestion_extractedfact_review_decide")
    response = curator_client.post(decide, {"approve": facts["drums2"].pk, "next": QUEUE}, follow=True)
    assert any("Approved 2 fact(s)" in m for m in message_texts(response))
    again = curator_client.post(decide, {"reject": facts["drums2"].pk}, follow=True)
    assert any("already approved" in m for m in message_texts(again))
    empty = curator_client.post(decide, {"bulk": "reject"}, follow=True)
    assert any("Select at least one fact" in m for m in message_texts(empty))
    outside = curator_client.post(decide, {"approve": facts["bb"].pk, "next": "https://evil.example/"})
    assert outside["Location"] == QUEUE

    link = reverse("admin:ingestion_extractedfact_review_link")
    wrong = curator_client.post(link, {"pick": f"head|{facts['bb'].pk}|i:guitar"}, follow=True)
    assert any("Nothing was linked" in m and "must be a" in m for m in message_texts(wrong))
    bad_type = curator_client.post(
        link, {"create": f"head|{facts['bb'].pk}", f"new_type_{facts['bb'].pk}_head": "Band"}, follow=True
    )
    assert any("not a type for the head" in m for m in message_texts(bad_type))
    linked = curator_client.post(link, {"pick": f"head|{facts['bb'].pk}|lastfm:artist:7056"}, follow=True)
    assert any("Linked the head to B.B. King" in m for m in message_texts(linked))

    batch = reverse("admin:ingestion_extractedfact_review_batch")
    confirm = curator_client.get(batch, {"decision": "reject", "relation": "MEMBER_OF", "next": QUEUE})
    assert confirm.status_code == 200 and 'name="expected" value="2"' in confirm.content.decode()
    none = curator_client.get(batch, {"decision": "reject", "relation": "WON_AWARD"}, follow=True)
    assert any("nothing to reject" in m for m in message_texts(none))
    stale = curator_client.post(batch, {"decision": "reject", "relation": "MEMBER_OF", "expected": "5"}, follow=True)
    assert any("queue changed" in m for m in message_texts(stale))
    unconfirmed = curator_client.post(batch, {"decision": "reject", "relation": "MEMBER_OF"}, follow=True)
    assert any("confirm the batch" in m for m in message_texts(unconfirmed))
    done = curator_client.post(batch, {"decision": "reject", "relation": "MEMBER_OF", "expected": "2"}, follow=True)
    assert any("Rejected 2 fact(s)" in m for m in message_texts(done))
    assert CurationEvent.objects.filter(action="fact.batch_reject", actor=curator).count() == 1


def test_only_curators_decide_in_the_grouped_queue(client, facts, world):
    staff = get_user_model().objects.create_user("staff", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    page = client.get(QUEUE).content.decode()
    assert 'class="lm-row"' in page and "lm-approve" not in page and "lm-candidate" not in page
    for name in ("decide", "link", "batch"):
        url = reverse(f"admin:ingestion_extractedfact_review_{name}")
        assert client.post(url, {"approve": facts["drums2"].pk, "pick": "head|1|x"}).status_code == 403
    assert pending().count() == 6
