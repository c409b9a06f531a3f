"""Learner personas in a real browser: does what the pages show make sense to each of them?

Four new learners of different tastes — a classical pianist, a blues guitarist, an electronic music fan
and a metal drummer — sign up through the pages, pick artists, a tag and an instrument in onboarding
(by searching, as a learner does), then look at "For you", ask a question in plain English, open the
learning page, and check the pages on a 390 px phone. The assertions are what a demanding learner
expects: their top music is of their taste (the classical pianist gets no rock band), reasons cite
their own picks, no raw relation names (HAS_TAG) and no "unnamed" nodes reach the page, the courses
teach their instrument, the answer to their question honours it, and nothing scrolls sideways.

The catalogue is small but real-shaped: five taste groups of real artist names plus popular rock bands
(the distractors), tags, instrument tags linked to their instruments (as the course loader does),
courses per instrument and level; a tiny product model is trained on listeners of each group and
published. Playwright drives Debian's Chromium (``--headless --no-sandbox --disable-gpu``) against
``live_server``, as :mod:`tests.learning_platform.test_browser` does. Screenshots are kept as
``/tmp/h6-<persona>-<page>.png`` (``LEITMOTIF_PERSONA_SHOTS`` changes the folder).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from catalog.models import Artist, Course, Listen, Listener, Tag, TagAssignment
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.browser import DESKTOP, PHONE, chromium_page
from tests.helpers.recommender_data import TINY

PASSWORD = "a-long-persona-pass-42"
SHOTS = Path(os.environ.get("LEITMOTIF_PERSONA_SHOTS", "/tmp"))
RAW_RELATIONS = ("HAS_TAG", "TEACHES_INSTRUMENT", "COVERS_TAG", "ABOUT_INSTRUMENT", "HAS_LEVEL", "TEACHES_CONCEPT")

#: group -> (genre tag, instrument, instrument tag, artists)
GROUPS: dict[str, tuple[str, str, str, list[str]]] = {
    "classical": (
        "classical",
        "piano",
        "classical piano",
        ["Glenn Gould", "Martha Argerich", "Lang Lang", "Yuja Wang", "Alfred Brendel", "Ludovico Einaudi", "Yiruma"],
    ),
    "blues": (
        "blues",
        "guitar",
        "blues guitar",
        ["B.B. King", "Muddy Waters", "Buddy Guy", "Albert King", "Elmore James", "John Lee Hooker", "Freddie King"],
    ),
    "electronic": (
        "electronic",
        "synthesizer",
        "synth",
        ["Aphex Twin", "Boards of Canada", "Autechre", "Daft Punk", "Röyksopp", "Kraftwerk", "Four Tet"],
    ),
    "metal": (
        "heavy metal",
        "drums",
        "drums",
        ["Metallica", "Iron Maiden", "Slayer", "Megadeth", "Judas Priest", "Black Sabbath", "Pantera"],
    ),
    "rock": (
        "rock",
        "guitar",
        "guitar",
        ["Pink Floyd", "Linkin Park", "Coldplay", "Muse", "Radiohead", "Red Hot Chili Peppers", "The Killers"],
    ),
}
COURSES = [
    # title, level, instrument, genre tag
    ("Classical Piano for Beginners", "beginner", "piano", "classical"),
    ("Chopin Nocturnes: Interpretation", "expert", "piano", "classical"),
    ("Piano Technique and Scales", "intermediate", "piano", "classical"),
    ("Blues Guitar for Beginners", "beginner", "guitar", "blues"),
    ("Electric Blues Soloing", "intermediate", "guitar", "blues"),
    ("Slide Guitar Blues Masterclass", "expert", "guitar", "blues"),
    ("Synthesizer Sound Design Basics", "beginner", "synthesizer", "electronic"),
    ("Modular Synth Patching", "intermediate", "synthesizer", "electronic"),
    ("Metal Drumming for Beginners", "beginner", "drums", "heavy metal"),
    ("Double Bass Drum Speed", "expert", "drums", "heavy metal"),
    ("Rock Guitar Riffs", "beginner", "guitar", "rock"),
]


#: For-you ranking gaps (recommender/serving, outside this test's scope) seen when this test was written,
#: by persona group. A listed persona whose gap closes fails the test, like ``xfail(strict=True)``.
KNOWN_RANKING_GAPS: dict[str, str] = {
    "blues": (
        "rank_music (recommender/serving): the picked instrument (guitar) spreads through the shared 'guitar' "
        "tag to rock bands, so Coldplay outranks the remaining blues guitarists."
    ),
}


@dataclass(frozen=True)
class Persona:
    name: str
    group: str
    searches: tuple[tuple[str, str], ...]  # (search words, name of the result to tick)
    question: str


PERSONAS = [
    Persona(
        "clara",
        "classical",
        (("Glenn", "Glenn Gould"), ("Martha", "Martha Argerich"), ("classical", "classical"), ("piano", "piano")),
        "calm piano music for a beginner",
    ),
    Persona(
        "buddy",
        "blues",
        (("B.B.", "B.B. King"), ("blues", "blues"), ("guitar", "guitar")),
        "slow blues guitar lessons for beginners",
    ),
    Persona(
        "aphex",
        "electronic",
        (
            ("Boards", "Boards of Canada"),
            ("Autechre", "Autechre"),
            ("electronic", "electronic"),
            ("synth", "synthesizer"),
        ),
        "electronic music like Aphex Twin",
    ),
    Persona(
        "lars",
        "metal",
        (("Metallica", "Metallica"), ("Slayer", "Slayer"), ("heavy metal", "heavy metal"), ("drums", "drums")),
        "something like Iron Maiden for a drummer",
    ),
]


@pytest.fixture
def page(transactional_db, monkeypatch):
    """A headless Chromium page (set up after the database, closed before it is flushed; see tests/helpers/browser.py)."""
    with chromium_page(monkeypatch, viewport=DESKTOP, timeout_ms=20_000) as page:
        yield page


def build_persona_world(store) -> dict[str, dict[str, str]]:
    """Catalog rows and graph facts for the five taste groups; listeners of a group play most of its artists."""
    entities: list[EntityRecord] = []
    relations: list[RelationRecord] = []
    tags: dict[str, Tag] = {}

    def tag(name: str) -> Tag:
        if name not in tags:
            number = 900 + len(tags)
            tags[name] = Tag.objects.create(lastfm_id=number, name=name, entity_id=f"lastfm:tag:{number}")
            entities.append(EntityRecord(id=tags[name].entity_id, type="Tag", name=name))
        return tags[name]

    instruments = {g[1] for g in GROUPS.values()}
    for instrument in sorted(instruments):
        entities.append(EntityRecord(id=f"leitmotif:instrument:{instrument}", type="Instrument", name=instrument))
    for level in ("beginner", "intermediate", "expert", "all"):
        entities.append(EntityRecord(id=f"leitmotif:level:{level}", type="Level", name=level))
    artists: dict[str, Artist] = {}
    for genre, instrument, instrument_tag, names in GROUPS.values():
        about = tag(instrument_tag)
        relations.append(RelationRecord(about.entity_id, "ABOUT_INSTRUMENT", f"leitmotif:instrument:{instrument}"))
        for name in names:
            number = len(artists) + 1
            artist = Artist.objects.create(
                lastfm_id=number, name=name, entity_id=f"lastfm:artist:{number}", kgcn_entity=number
            )
            artists[name] = artist
            entities.append(EntityRecord(id=artist.entity_id, type="Artist", name=name))
            relations.append(RelationRecord(artist.entity_id, "HAS_TAG", tag(genre).entity_id, properties={"count": 5}))
            relations.append(RelationRecord(artist.entity_id, "HAS_TAG", about.entity_id, properties={"count": 2}))
    for number, (title, level, instrument, genre) in enumerate(COURSES, start=1):
        course = Course.objects.create(
            udemy_id=3000 + number,
            title=title,
            level=level,
            lectures=10 + number,
            duration_hours=1.0 + number,
            subscribers=50 * number,
            entity_id=f"udemy:course:{3000 + number}",
            subject="Musical Instruments",
        )
        entities.append(EntityRecord(id=course.entity_id, type="Course", name=title, properties={"level": level}))
        relations += [
            RelationRecord(course.entity_id, "TEACHES_INSTRUMENT", f"leitmotif:instrument:{instrument}"),
            RelationRecord(course.entity_id, "COVERS_TAG", tag(genre).entity_id),
            RelationRecord(course.entity_id, "HAS_LEVEL", f"leitmotif:level:{level}"),
        ]
    store.upsert_entities(entities)
    store.upsert_relations(relations)
    rng = np.random.default_rng(0)
    user = 1
    for genre, _, _, names in GROUPS.values():
        for i in range(10):
            listener = Listener.objects.create(lastfm_id=user)
            user += 1
            for name in rng.permutation(names)[:5]:
                Listen.objects.create(listener=listener, artist=artists[name], play_count=int(rng.integers(5, 60)))
                if i == 0:
                    TagAssignment.objects.create(listener=listener, artist=artists[name], tag=tags[genre])
    return {"group_of": {name: group for group, (_, _, _, names) in GROUPS.items() for name in names}}


@pytest.fixture
def persona_world(sql_store, settings, tmp_path):
    import torch
    from django.core.cache import cache
    from django.core.management import call_command

    from recommender.data import InteractionDataset
    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_holder, model_publish
    from recommender.serving.selectors import snapshot_forget
    from recommender.training import recommender_train
    from recommender.understanding.service import parser_forget

    torch.set_num_threads(1)
    settings.KG_BACKEND = "sql"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    cache.clear()
    snapshot_forget()
    parser_forget()
    world = build_persona_world(sql_store)
    # the real curriculum (concepts, prerequisites, instruments), so the learning page has steps to show
    call_command("load_curriculum", backend="sql", no_progress=True, verbosity=0)
    groups = list(GROUPS)
    dataset = InteractionDataset.from_catalog(store=sql_store)
    names = dict(Artist.objects.values_list("pk", "name"))
    content = np.stack(
        [np.eye(len(groups))[groups.index(world["group_of"][names[int(pk)]])] for pk in dataset.item_ids]
    )
    directory = tmp_path / "artifacts" / "recommender"
    trained = recommender_train(
        dataset=dataset, config=JointConfig(**TINY), seed=0, content_embeddings=content, output_dir=directory
    )
    model_publish(trained.path, directory=directory)
    model_holder().reset()
    snapshot_forget()
    yield world
    model_holder().reset()
    snapshot_forget()
    parser_forget()
    cache.clear()


def _sign_up_and_pick(page, base: str, persona: Persona) -> None:
    page.goto(f"{base}/")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("#id_username", persona.name)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/onboarding/")
    for words, name in persona.searches:
        page.fill('input[name="q"]', words)
        page.get_by_role("button", name="Search").click()
        # the result whose name is exactly the pick (searching "guitar" also finds the tag "blues guitar")
        labels = page.locator("#picks label.pick").filter(
            has=page.locator("span", has_text=re.compile(rf"^{re.escape(name)}$"))
        )
        kind = "instrument" if name == GROUPS[persona.group][1] else None
        if kind:
            labels = labels.filter(has=page.locator("small", has_text=kind))
        labels.locator("input[type=checkbox]").first.check()
        page.get_by_role("button", name="Save my interests").click()
        if page.url.rstrip("/").endswith("/for-you"):
            break
    page.wait_for_url(f"{base}/for-you/")


def _texts(page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def _shot(page, persona: Persona, what: str) -> None:
    page.screenshot(path=str(SHOTS / f"h6-{persona.name}-{what}.png"), full_page=True)


def _clean_text(page) -> None:
    text = page.inner_text("body")
    assert not [r for r in RAW_RELATIONS if r in text], [r for r in RAW_RELATIONS if r in text]
    assert "unnamed" not in text.lower()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", PERSONAS, ids=[p.group for p in PERSONAS])
def test_persona_sees_pages_that_make_sense(live_server, page, persona_world, persona):
    base = live_server.url
    group_of = persona_world["group_of"]
    genre, instrument, _, _ = GROUPS[persona.group]
    picked = {name for _, name in persona.searches}
    _sign_up_and_pick(page, base, persona)

    # --- For you: music of my taste, reasons that cite my picks, courses for my instrument -----
    music = _texts(page, "#music .rec .title")
    courses = _texts(page, "#courses .rec .title")
    reasons = _texts(page, "#music .rec .reason")
    _shot(page, persona, "for-you")
    assert len(music) >= 5 and courses, (music, courses)
    # What "For you" ranks is recommender/serving's (rank_music, rank_courses): these expectations are
    # collected and judged at the end, so the checks of the other pages still run (see KNOWN_RANKING_GAPS).
    top = music[:5]
    ranking_gaps = []
    if not all(group_of.get(name) == persona.group for name in top):
        ranking_gaps.append(f"top music not all {persona.group}: {top}")
    if [name for name in top if group_of.get(name) == "rock"]:
        ranking_gaps.append(f"a rock band in the top music of a {persona.group} learner: {top}")
    if not any(any(p in reason for p in picked) for reason in reasons[:5]):
        ranking_gaps.append(f"no reason of the top music cites a pick: {reasons[:5]}")
    if not all(_course_instrument(title) == instrument for title in courses[: _first(instrument)]):
        ranking_gaps.append(f"courses for the {instrument} do not come first: {courses}")
    _clean_text(page)

    # --- Ask: the answer honours the question ---------------------------------------------------
    page.goto(f"{base}/ask/")
    page.fill("#ask-q", persona.question)
    page.get_by_role("button", name="Ask").click()
    page.wait_for_load_state()
    ask_music = _texts(page, "#music .rec .title")
    ask_courses = _texts(page, "#courses .rec .title")
    _shot(page, persona, "ask")
    assert ask_music and ask_courses, page.inner_text("main")[:2000]
    assert all(group_of.get(name) == persona.group for name in ask_music[:5]), ask_music
    assert all(_course_instrument(title) == instrument for title in ask_courses[: _first(instrument)]), ask_courses
    _clean_text(page)

    # --- the learning page and the home page open and read as words -------------------------------
    response = page.goto(f"{base}/learn/")
    assert response is not None and response.status == 200
    _shot(page, persona, "learn")
    _clean_text(page)
    assert "not loaded" not in page.inner_text("main")
    response = page.goto(f"{base}/")
    assert response is not None and response.status == 200
    _clean_text(page)

    # --- a phone: nothing scrolls sideways ----------------------------------------------------------
    page.set_viewport_size(PHONE)
    widths = {}
    for url in ("/for-you/", f"/ask/?q={persona.question.replace(' ', '+')}", "/learn/", "/onboarding/"):
        page.goto(f"{base}{url}")
        widths[url] = page.evaluate("document.documentElement.scrollWidth")
    page.goto(f"{base}/for-you/")
    _shot(page, persona, "phone")
    assert all(width <= PHONE["width"] for width in widths.values()), widths

    # --- the For-you ranking expectations (strict: a known gap that closes must be unlisted) --------
    known = KNOWN_RANKING_GAPS.get(persona.group)
    if ranking_gaps and known:
        pytest.xfail(f"{known} Seen: {'; '.join(ranking_gaps)}")
    assert not ranking_gaps, ranking_gaps
    assert known is None, f"For-you ranking now meets the {persona.group} persona: remove it from KNOWN_RANKING_GAPS."


def _course_instrument(title: str) -> str:
    return next(instrument for t, _, instrument, _ in COURSES if t == title)


def _first(instrument: str) -> int:
    """How many courses must lead a list for a learner of ``instrument``: its courses, up to three."""
    return min(3, sum(1 for _, _, taught, _ in COURSES if taught == instrument))
