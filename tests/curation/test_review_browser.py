"""The review queue in a real browser: Playwright driving Debian's Chromium against ``live_server``.

A curator logs in through the admin login form, sees one line per claim at 1,280 px (head, relation, tail,
confidence and the actions visible without horizontal scrolling), approves a fact with the keyboard only
(j/k to move, a to approve), opens a claim's sentences and link candidates (o), and batch-rejects every
pending fact of one relation through the confirmation page. Screenshots go to ``/tmp/h4-*.png``.

Same browser set-up as ``tests/learning_platform/test_browser.py``: Debian's ``chromium`` (never Playwright's
downloads), skipped with the reason when it is missing, except with ``CI=true``, where it fails.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from accounts.services import curator_group_ensure
from ingestion.models import ExtractedFact, ExtractedMention, SourceDocument
from kg.models import CurationEvent
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.browser import DESKTOP, chromium_page

PASSWORD = "a-long-test-password-123"
SCREENSHOTS = Path(os.environ.get("LEITMOTIF_SCREENSHOT_DIR", "/tmp"))
BB_PROPOSAL = "leitmotif:extracted:musicalartist:b-b-king"
#: Long names on purpose: a row must stay one line (ellipsis) instead of growing.
TEXT = (
    "B.B. King played guitar on every record of the Philharmonic Orchestra of the Very Long Name. "
    "Tony Williams played drums with Miles Davis. "
    "Tony Williams played drums in Paris. "
    "Tony Williams joined the Second Great Quintet of Miles Davis and Friends. "
    "Herbie Hancock joined the Second Great Quintet of Miles Davis and Friends. "
    "Miles Davis played trumpet. "
    "Herbie Hancock played piano with Miles Davis."
)


@pytest.fixture
def page(transactional_db, monkeypatch):
    """A headless Chromium page at the curator's 1,280 px (see ``tests/helpers/browser.py``)."""
    with chromium_page(monkeypatch, viewport=DESKTOP, timeout_ms=60_000) as page:
        yield page


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
            link_score=0.0 if method == "new" else 1.0,
        ),
    )
    return mention


def _fact(document, head, relation_type, tail, confidence):
    start = document.text.rfind(". ", 0, head.start)
    start = 0 if start < 0 else start + 2
    end = document.text.find(". ", max(head.end, tail.end))
    return ExtractedFact.objects.create(
        document=document,
        sentence_index=head.sentence_index,
        sentence_start=start,
        sentence_end=len(document.text) if end < 0 else end + 1,
        head=head,
        tail=tail,
        relation_type=relation_type,
        head_entity_id=head.entity_id,
        tail_entity_id=tail.entity_id,
        confidence=confidence,
        model_versions={"ner": "ner-1", "relation": "bilstm-test"},
        status="pending",
    )


@pytest.fixture
def queue(sql_store, settings, tmp_path):
    settings.KG_BACKEND = "sql"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    sql_store.upsert_entities(
        [
            EntityRecord(id="lastfm:artist:7056", type="Artist", name="B.B. King"),
            EntityRecord(id="lastfm:artist:1", type="Artist", name="Tony Williams"),
            EntityRecord(id="lastfm:artist:2", type="Artist", name="Herbie Hancock"),
            EntityRecord(id="fb:miles", type="MusicalArtist", name="Miles Davis"),
            EntityRecord(id="i:guitar", type="Instrument", name="guitar"),
            EntityRecord(id="i:drums", type="Instrument", name="drums"),
            EntityRecord(id="i:trumpet", type="Instrument", name="trumpet"),
            EntityRecord(id="i:piano", type="Instrument", name="piano"),
            EntityRecord(id="b:quintet", type="MusicalArtist", name="Second Great Quintet of Miles Davis and Friends"),
            EntityRecord(id="t:jazz", type="Tag", name="jazz"),
        ]
    )
    sql_store.upsert_relations(
        [
            RelationRecord(head=a, type="HAS_TAG", tail="t:jazz", source="test")
            for a in ("lastfm:artist:1", "lastfm:artist:2", "fb:miles", "lastfm:artist:7056")
        ]
    )
    d = SourceDocument.objects.create(
        sha256=hashlib.sha256(TEXT.encode()).hexdigest(), name="notes/players.txt", text=TEXT, sentences=7
    )

    def artist(surface, occurrence, entity_id):
        return _mention(d, surface, occurrence, entity_id=entity_id, label="ARTIST", entity_type="Artist")

    def instrument(surface, occurrence=0):
        return _mention(d, surface, occurrence, entity_id=f"i:{surface}", label="INSTRUMENT", entity_type="Instrument")

    quintet = [
        _mention(
            d,
            "Second Great Quintet of Miles Davis and Friends",
            i,
            entity_id="b:quintet",
            label="BAND",
            entity_type="MusicalArtist",
        )
        for i in range(2)
    ]
    bb = _mention(d, "B.B. King", 0, entity_id=BB_PROPOSAL, label="ARTIST", entity_type="MusicalArtist", method="new")
    orchestra = _mention(
        d,
        "Philharmonic Orchestra of the Very Long Name",
        0,
        entity_id="leitmotif:extracted:band:philharmonic-orchestra-of-the-very-long-name",
        label="BAND",
        entity_type="Band",
        method="new",
    )
    facts = {
        "bb": _fact(d, bb, "INSTRUMENTS_PLAYED", instrument("guitar"), 0.91),
        "bb_orchestra": _fact(d, bb, "MEMBER_OF", orchestra, 0.55),
        "drums1": _fact(
            d, artist("Tony Williams", 0, "lastfm:artist:1"), "INSTRUMENTS_PLAYED", instrument("drums"), 0.7
        ),
        "drums2": _fact(
            d, artist("Tony Williams", 1, "lastfm:artist:1"), "INSTRUMENTS_PLAYED", instrument("drums", 1), 0.86
        ),
        "tony_quintet": _fact(d, artist("Tony Williams", 2, "lastfm:artist:1"), "MEMBER_OF", quintet[0], 0.8),
        "herbie_quintet": _fact(d, artist("Herbie Hancock", 0, "lastfm:artist:2"), "MEMBER_OF", quintet[1], 0.75),
        "trumpet": _fact(
            d,
            _mention(d, "Miles Davis", 2, entity_id="fb:miles", label="ARTIST", entity_type="MusicalArtist"),
            "INSTRUMENTS_PLAYED",
            instrument("trumpet"),
            0.95,
        ),
        "piano": _fact(
            d, artist("Herbie Hancock", 1, "lastfm:artist:2"), "INSTRUMENTS_PLAYED", instrument("piano"), 0.6
        ),
    }
    user = get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)
    user.groups.add(curator_group_ensure())
    return facts


def _row_box(page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def test_a_curator_reviews_the_queue_with_the_keyboard(live_server, page, queue):
    base = live_server.url
    # the first request imports the URL configuration (every app, torch included): slow on a busy machine
    page.goto(f"{base}/admin/login/?next=/admin/ingestion/extractedfact/", timeout=180_000)
    page.fill("#id_username", "curator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#lm-queue tr.lm-row")
    page.screenshot(path=str(SCREENSHOTS / "h4-queue.png"), full_page=True)

    # one line per claim, everything visible at 1,280 px without horizontal scrolling
    rows = page.locator("#lm-queue tr.lm-row")
    assert rows.count() == 7  # eight facts; the two "Tony Williams plays drums" sentences are one claim
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    first = rows.nth(0)
    height = first.bounding_box()["height"]
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#lm-queue td')).lineHeight)")
    assert height < 2 * line + 12, (height, line)  # one text line plus padding, never a wrapped sentence
    cells = (
        "td:nth-child(2)",
        "td:nth-child(3)",
        "td:nth-child(4)",
        "td:nth-child(5)",
        "button.lm-approve",
        "button.lm-reject",
    )
    for cell in cells:
        element = first.locator(cell)
        assert element.is_visible(), cell
        box = element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"], (cell, box)
    actions = first.locator("td.lm-actions").bounding_box()
    reject = first.locator("button.lm-reject").bounding_box()
    assert reject["x"] + reject["width"] <= actions["x"] + actions["width"] + 1  # not cut off by its column
    assert first.locator("td:nth-child(3)").inner_text().strip() == "plays"  # the relation in words
    assert "Measured precision" in page.inner_text("#lm-precision") and "not measured" in page.inner_text(
        "#lm-precision"
    )

    # the keyboard: j/k move a visible focus, a approves the focused claim (every sentence of it)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    focused = page.evaluate("document.activeElement.getAttribute('data-lead')")
    assert focused == rows.nth(1).get_attribute("data-lead")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline
    lead = int(focused)
    claim = ExtractedFact.objects.get(pk=lead)
    with page.expect_navigation():
        page.keyboard.press("a")
    page.wait_for_selector("#lm-queue tr.lm-row")
    assert "Approved" in page.inner_text("ul.messagelist")
    same = ExtractedFact.objects.filter(
        head_entity_id=claim.head_entity_id, relation_type=claim.relation_type, tail_entity_id=claim.tail_entity_id
    )
    assert set(same.values_list("status", flat=True)) == {"approved"}
    assert page.locator(f"#lm-row-{lead}").count() == 0  # decided: out of the pending queue
    # the focus came back to the same position, i.e. the next claim
    assert page.evaluate("document.activeElement.classList.contains('lm-row')")

    # o opens a claim's sentences; an unlinked name offers the existing artist before any new entity
    bb_row = page.locator(f"#lm-row-{queue['bb'].pk}")
    bb_row.focus()
    page.keyboard.press("o")
    detail = page.locator(f"#lm-detail-{queue['bb'].pk}")
    assert detail.is_visible()
    assert "B.B. King played guitar" in detail.inner_text()
    candidate = detail.locator("button.lm-candidate").first
    assert "B.B. King" in candidate.inner_text() and "Artist" in candidate.inner_text()
    assert "Band" not in detail.locator("select").first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "h4-expanded.png"), full_page=True)
    with page.expect_navigation():
        candidate.click()
    assert "Linked the head to B.B. King" in page.inner_text("ul.messagelist")
    assert ExtractedFact.objects.get(pk=queue["bb"].pk).head_entity_id == "lastfm:artist:7056"

    # batch reject by relation: pick the relation, confirm on the confirmation page
    page.select_option("#lm-batch-relation", "MEMBER_OF")
    page.click("#lm-batch button[value=reject]")
    page.wait_for_selector("#lm-batch-confirm")
    assert page.inner_text("#lm-batch-count") == "3"
    page.screenshot(path=str(SCREENSHOTS / "h4-batch.png"), full_page=True)
    with page.expect_navigation():
        page.click("#lm-batch-confirm button[type=submit]")
    page.wait_for_selector("ul.messagelist")
    assert "Rejected 3 fact(s)" in page.inner_text("ul.messagelist")
    assert set(ExtractedFact.objects.filter(relation_type="MEMBER_OF").values_list("status", flat=True)) == {"rejected"}
    assert CurationEvent.objects.filter(action="fact.batch_reject", target="relation:MEMBER_OF").count() == 1
    assert page.locator("#lm-queue tr.lm-row[data-relation=MEMBER_OF]").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "h4-after.png"), full_page=True)
