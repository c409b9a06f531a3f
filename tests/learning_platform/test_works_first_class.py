"""Composers and the works catalogue on learner pages: the Last.FM link, the player, the artist page, pieces to play.

Real works: a Chopin mazurka (piano) and a Mozart quartet movement (strings) from the music21 corpus,
rendered with FluidSynth (4 s each) into the test's own cache folder by the real loader. The Last.FM
artists are written as the Last.FM loader writes them (a catalog row and an ``Artist`` entity), before
or after the works.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from audio import render as audio_render
from audio import works
from catalog.models import Artist, Interest, Work
from kg.schema import SAME_AS, artist_entity_id
from kg.services import graph_upsert
from kg.stores.base import EntityRecord
from learning_platform.learn import pieces
from recommender.serving.services import learner_listener

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(audio_render.DEFAULT_SOUNDFONT).is_file(),
    reason="FluidSynth or FluidR3_GM missing: run scripts/install_system_deps.sh",
)

CHOPIN = "leitmotif:person:frederic-chopin"
MOZART = "leitmotif:person:wolfgang-amadeus-mozart"
PIANO = "leitmotif:instrument:piano"
GUITAR = "leitmotif:instrument:guitar"
#: What a learner page must never show: an operator's command.
COMMANDS = ("manage.py", "python ")


@pytest.fixture(autouse=True)
def _sql(settings):
    settings.KG_BACKEND = "sql"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def load(store, composer: str):
    return works.works_load(store=store, limit=1, composers=[composer], seconds=4.0, progress=False)


def add_lastfm_artist(store, lastfm_id: int, name: str) -> Artist:
    row = Artist.objects.create(lastfm_id=lastfm_id, name=name, entity_id=artist_entity_id(lastfm_id))
    graph_upsert(store=store, entities=[EntityRecord(id=row.entity_id, type="Artist", name=name)])
    return row


def same_as(store, person_id: str) -> list:
    return [n.relation for n in store.neighbours(person_id, direction="out", relation_types=[SAME_AS])]


def no_commands(html: str) -> None:
    for text in COMMANDS:
        assert text not in html, f"a learner page shows {text!r}"


@pytest.fixture
def chopin_world(sql_store):
    """Chopin on Last.FM, then his mazurka and a Mozart quartet loaded (Mozart has no Last.FM artist here)."""
    artist = add_lastfm_artist(sql_store, 1112, "Frédéric Chopin")
    load(sql_store, "chopin")
    load(sql_store, "mozart")
    return {
        "artist": artist,
        "mazurka": Work.objects.get(composer_name="Frédéric Chopin"),
        "quartet": Work.objects.get(composer_name="Wolfgang Amadeus Mozart"),
    }


def learner_with(client, *, username: str, picks: list[tuple[str, str, str]]):
    user = get_user_model().objects.create_user(username=username, password="a-long-learner-pass-42")
    listener = learner_listener(user)
    for entity_id, name, entity_type in picks:
        Interest.objects.create(listener=listener, entity_id=entity_id, name=name, entity_type=entity_type)
    client.force_login(user)
    return listener


# --- the link, in both load orders ----------------------------------------------------------------


def test_works_first_then_lastfm_links_on_the_next_run_and_stays_idempotent(sql_store):
    first = load(sql_store, "chopin")
    assert first.loaded == 1 and first.composer_links is not None
    assert "chopin" in first.composer_links.missing_artists and same_as(sql_store, CHOPIN) == []
    add_lastfm_artist(sql_store, 1112, "Frédéric Chopin")
    out = __import__("io").StringIO()
    call_command("load_works", "--link-composers-only", stdout=out)
    assert "Composers linked to their Last.FM artists: 1 (1 created" in out.getvalue()
    [link] = same_as(sql_store, CHOPIN)
    assert link.tail == "lastfm:artist:1112" and link.source == works.LASTFM_LINK_SOURCE and link.confidence == 1.0
    again = load(sql_store, "chopin")
    assert again.written == 0 and again.composer_links.sync.upserted.relations.unchanged == 1


def test_lastfm_first_links_during_the_load(chopin_world, sql_store):
    [link] = same_as(sql_store, CHOPIN)
    assert link.tail == chopin_world["artist"].entity_id and link.properties["lastfm_artist_id"] == 1112
    assert same_as(sql_store, MOZART) == []  # no Last.FM Mozart in this graph: nothing linked, nothing failed


# --- the work page and its recording --------------------------------------------------------------


def test_work_page_plays_the_recording_and_links_composer_instrument_form_and_era(client, chopin_world):
    mazurka = chopin_world["mazurka"]
    response = client.get(reverse("learn:work", args=[mazurka.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    src = reverse("learn:work_audio", args=[mazurka.pk])
    assert "<audio controls" in html and f'src="{src}"' in html
    assert f'href="{reverse("learn:artist", args=[chopin_world["artist"].pk])}">Frédéric Chopin</a>' in html
    assert f'href="{reverse("learn:search")}?q=Piano">Piano</a>' in html
    assert "Mazurka" in html and "Romantic" in html
    assert "Similar-sounding works are not available yet." in html  # no encoder trained in this test
    no_commands(html)
    audio = client.get(src)
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/flac"
    body = b"".join(audio.streaming_content)
    assert body[:4] == b"fLaC" and body == (Path(settings.LEITMOTIF_CACHE_DIR) / mazurka.audio_path).read_bytes()


def test_unlinked_composer_is_plain_text_and_related_works_are_listed(client, chopin_world):
    quartet = chopin_world["quartet"]
    html = client.get(reverse("learn:work", args=[quartet.pk])).content.decode()
    assert "Wolfgang Amadeus Mozart" in html and "/artists/" not in html.split("<h1>", 1)[1].split("Spectrogram")[0]
    assert "Violin" in html and "String quartet" in html
    no_commands(html)


def test_a_missing_recording_is_a_humane_page_and_a_404_for_the_file(client, chopin_world, caplog):
    mazurka = chopin_world["mazurka"]
    (Path(settings.LEITMOTIF_CACHE_DIR) / mazurka.audio_path).unlink()
    with caplog.at_level("WARNING", logger="learning_platform.learn.pieces"):
        response = client.get(reverse("learn:work", args=[mazurka.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The recording of this work is not available yet." in html and "<audio" not in html
    assert "Similar-sounding works are not available yet." in html
    no_commands(html)
    assert "load_works" in caplog.text  # the operator's hint goes to the log
    missing = client.get(reverse("learn:work_audio", args=[mazurka.pk]))
    assert missing.status_code == 404 and "not available yet" in missing.content.decode()


@pytest.mark.parametrize("audio_path", ["../outside.flac", "works/../outside.flac", "/etc/passwd", "works/x.txt"])
def test_the_recording_endpoint_serves_nothing_outside_the_recordings_folder(client, db, audio_path):
    cache_dir = Path(settings.LEITMOTIF_CACHE_DIR)
    (cache_dir / "works").mkdir(parents=True, exist_ok=True)
    (cache_dir / "outside.flac").write_bytes(b"fLaC secret")
    (cache_dir / "works" / "x.txt").write_text("not audio")
    work = Work.objects.create(
        slug="evil", title="Evil", corpus_path="", audio_path=audio_path, entity_id="leitmotif:work:evil"
    )
    assert client.get(reverse("learn:work_audio", args=[work.pk])).status_code == 404
    page = client.get(reverse("learn:work", args=[work.pk]))  # no graph entity, no recording: still a page
    assert page.status_code == 200 and "not available yet" in page.content.decode()


# --- the artist page of a composer ----------------------------------------------------------------


def test_artist_page_of_a_composer_lists_the_works_with_their_instruments(client, chopin_world):
    mazurka = chopin_world["mazurka"]
    html = client.get(reverse("learn:artist", args=[chopin_world["artist"].pk])).content.decode()
    assert "Works to play" in html and f'href="{reverse("learn:work", args=[mazurka.pk])}"' in html
    assert mazurka.title in html and "for piano" in html
    assert chopin_world["quartet"].title not in html
    no_commands(html)


def test_artist_page_of_a_non_composer_has_no_works_section(client, chopin_world, sql_store):
    rock = add_lastfm_artist(sql_store, 7117, "Sebastian Bach")
    html = client.get(reverse("learn:artist", args=[rock.pk])).content.decode()
    assert "Works to play" not in html


# --- pieces to play -------------------------------------------------------------------------------


def test_pieces_to_play_for_a_piano_learner_who_picked_chopin(client, chopin_world):
    mazurka = chopin_world["mazurka"]
    learner_with(
        client,
        username="pia",
        picks=[(chopin_world["artist"].entity_id, "Frédéric Chopin", "Artist"), (PIANO, "Piano", "Instrument")],
    )
    response = client.get(reverse("learn:for_you"))
    assert response.status_code == 503  # no recommender published here: pieces do not need one
    html = response.content.decode()
    assert "Pieces to play" in html and mazurka.title in html
    assert "Scored for piano · by Frédéric Chopin, whom you picked" in html
    assert f'href="{reverse("learn:work", args=[mazurka.pk])}"' in html
    assert chopin_world["quartet"].title not in html
    no_commands(html)


def test_no_chopin_for_a_guitar_learner_and_strings_only_by_a_fitting_taste(client, chopin_world, sql_store):
    listener = learner_with(
        client,
        username="gil",
        picks=[(chopin_world["artist"].entity_id, "Frédéric Chopin", "Artist"), (GUITAR, "Guitar", "Instrument")],
    )
    html = client.get(reverse("learn:for_you")).content.decode()
    assert chopin_world["mazurka"].title not in html and "Pieces to play" not in html
    no_commands(html)
    # a violinist: "classical" is every kind of art music on Last.FM, not the era, so it is no reason
    violin = ["leitmotif:instrument:violin"]
    Interest.objects.create(listener=listener, entity_id="lastfm:tag:1", name="classical", entity_type="Tag")
    assert pieces.pieces_to_play(listener, instruments=violin, store=sql_store) == []
    # a picked tag that names the quartet's form is
    Interest.objects.create(listener=listener, entity_id="lastfm:tag:2", name="String Quartet", entity_type="Tag")
    [piece] = pieces.pieces_to_play(listener, instruments=violin, store=sql_store)
    assert piece.work.pk == chopin_world["quartet"].pk
    assert piece.reason == "Scored for violin · a string quartet, from your tag “String Quartet”"
    assert pieces.pieces_to_play(listener, instruments=[GUITAR], store=sql_store) == []


def test_a_learner_without_an_instrument_is_told_how_to_get_pieces(client, chopin_world):
    learner_with(client, username="ned", picks=[(chopin_world["artist"].entity_id, "Frédéric Chopin", "Artist")])
    html = client.get(reverse("learn:for_you")).content.decode()
    assert "Pieces to play" not in html and "which instrument you play" in html
    no_commands(html)


def test_pages_without_a_recommender_speak_to_the_learner_not_the_operator(client, db, caplog):
    learner_with(client, username="ola", picks=[])
    with caplog.at_level("WARNING", logger="learning_platform.learn.pieces"):
        for_you = client.get(reverse("learn:for_you"))
        ask = client.get(reverse("learn:ask"), {"q": "calm piano music like Chopin"})
    for response in (for_you, ask):
        assert response.status_code == 503
        html = response.content.decode()
        assert "Recommendations will appear here as soon as the site has learned" in html
        no_commands(html)
    assert "train_recommender" in caplog.text
